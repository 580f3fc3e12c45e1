"""What each page's template receives: the site-wide view (menu, most read) plus the page's own data.

Kept apart from `render` (Jinja mechanics). Nothing here says what a page depends on: what its template reads
of these values is recorded while it renders (see tracking and dependencies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..config import SiteConfig
from ..content.model import Category, Site, Tag
from .templates import Entry
from ..structure.routes import Page, Pagination, Urls
from .tracking import Shared, digest, fold


@dataclass(frozen=True)
class MenuItem:
    TRACK = "m"
    name: str
    url: str
    slug: str

    @property
    def track_id(self) -> str:
        return self.slug


@dataclass(frozen=True)
class SiteView:
    """Site-wide data every template may use."""

    TRACK = "s"
    PURE_METHODS = ("category_url", "tag_url")  # they read the configuration only
    track_id = ""

    config: SiteConfig
    entries: Sequence[Entry]  # newest first (an edit build's are fetched from the cache as pages ask for them)
    menu: tuple[MenuItem, ...]
    categories: dict[str, Category]
    tags: dict[str, Tag]
    most_read: tuple[int, ...]
    related: tuple[tuple[int, ...], ...]
    home: "Home"
    sources: Sequence[str] = ()  # each entry's source file, if known without fetching the entries

    @property
    def title(self) -> str:
        return self.config.title

    def position(self, source: str) -> int:
        """Where the article from `source` is in `entries` (from `sources` when given: an edit build's entries
        are fetched from the cache one by one)."""
        found = self.__dict__.get("_positions")
        if found is None:
            found = {s: i for i, s in enumerate(self.sources or (e.article.source for e in self.entries))}
            object.__setattr__(self, "_positions", found)
        return found[source]

    def page_urls(self, urls: tuple[str, ...]) -> tuple[str, ...]:
        """A listing's page URLs under the base path: made once for all the pages of the listing, which share
        `urls` (routes.Urls), and folded once too (not 1 250 times over for a category of 1 250 pages)."""
        made = self.__dict__.setdefault("_page_urls", {})
        found = made.get(id(urls))
        if found is None or found[0] is not urls:  # (the listing is kept with its answer: its id is not reused)
            found = made[id(urls)] = (urls, Urls(self.config.url(u) for u in urls))
        return found[1]

    def category_url(self, slug: str) -> str:
        return self.config.url(f"{slug}/")

    def tag_url(self, slug: str) -> str:
        return self.config.url(f"{self.config.tag_base}/{slug}/")


@dataclass(frozen=True)
class Home:
    """Which articles the home page shows, by index: its featured block, the latest list, and each menu
    category's block."""

    featured: tuple[int, ...]
    latest: tuple[int, ...]
    blocks: tuple[tuple[int, tuple[int, ...]], ...]  # (menu position, articles)

    @property
    def shown(self) -> list[int]:
        return [*self.featured, *self.latest, *(i for _, members in self.blocks for i in members)]


def site_view(site: Site, entries: tuple[Entry, ...], most_read: tuple[int, ...],
              related: tuple[tuple[int, ...], ...]) -> SiteView:
    cfg = site.config
    menu = tuple(MenuItem(c.name, cfg.url(f"{c.slug}/"), c.slug) for c in site.categories)
    return SiteView(cfg, entries, menu, {c.slug: c for c in site.categories}, dict(site.tags), most_read, related,
                    home_of(cfg, [(e.featured, e.image is not None, e.category.slug) for e in entries], menu),
                    tuple(a.source for a in site.articles))


def home_of(cfg: SiteConfig, facts: Sequence[tuple[bool, bool, str]], menu: tuple[MenuItem, ...]) -> Home:
    """The home page's blocks from what they choose by: each article's (featured, has a photo, category slug), in
    site order (a shift's build has these without the articles' entries: see delta.Shape)."""
    featured = [i for i, (chosen, _, _) in enumerate(facts) if chosen][: cfg.home_featured]
    if not featured:
        featured = [i for i, (_, pictured, _) in enumerate(facts) if pictured][:1] or list(range(min(1, len(facts))))
    shown = set(featured)
    latest = [i for i in range(len(facts)) if i not in shown][: cfg.home_latest]
    # Each menu category's first articles, in one pass that ends once every block is full (not one pass over every
    # article per category: a fifth of a shift's home page at 10 000 articles).
    wanted, per = {item.slug: [] for item in menu}, cfg.home_per_category
    open_ = len(wanted) if per > 0 else 0
    for i, (_, _, slug) in enumerate(facts):
        if not open_:
            break
        members = wanted.get(slug)
        if members is not None and len(members) < per:
            members.append(i)
            open_ -= len(members) == per
    blocks = [(n, tuple(wanted[item.slug])) for n, item in enumerate(menu) if wanted[item.slug]]
    return Home(tuple(featured), tuple(latest), tuple(blocks))


def home_blocks(home: Home, menu: Sequence[MenuItem]) -> tuple[str, ...]:
    """The menu categories (by slug) the home page has a block for, in its order (page_signature)."""
    return tuple(menu[n].slug for n, _ in home.blocks)


def site_list(view: SiteView, name: str, position: int | None = None) -> tuple[int, ...]:
    """The articles (by position) of the site-wide list called `name` (the most-read block, an article's related
    articles, the home page's blocks): the one description of each list, for `page_context` and for the
    dependencies' check in the next build. `position`: where the article of a `related:` list is, if known."""
    kind, _, arg = name.partition(":")
    if kind == "most_read":
        return view.most_read
    if kind == "related":
        return view.related[view.position(arg) if position is None else position]
    if kind == "featured":
        return view.home.featured
    if kind == "latest":
        return view.home.latest
    if kind == "block":
        return next((members for n, members in view.home.blocks if view.menu[n].slug == arg), ())
    raise KeyError(name)


# Page-local reads (tracking.Recorder.local names) whose value holds article positions (indices into
# site.articles) instead of the articles: positions shift whenever an article is added or removed before them.
POSITIONAL = frozenset({"p.data", "q.items"})  # (the page and its pagination fold to their kind alone)


# Pages whose variables come from their own article alone (its position read as its source): while that article
# keeps its address, its pages keep their signature, wherever the article moves in site order.
OWN_ARTICLE = frozenset({"article", "alias"})


def page_signature(page: Page, sources: Sequence[str], blocks: Sequence[str] = ()) -> str:
    """A digest of everything `page_context` makes this page's variables from, with article positions read as
    the articles' source files (`sources[i]`): an equal signature means equal page-local reads, except reads
    named in POSITIONAL. `blocks`: which menu categories the home page has a block for (`home_blocks`), which
    come from the site view, not from its page (what each block lists is a site-wide list, recorded as such).
    The configuration is not in it: a build cache holds the records of one configuration."""
    parts = [page.kind, page.url, page.path, page.template]
    if page.kind == "home":
        parts.append(f"blocks={list(blocks)!r}")
    for name, value in sorted(page.data.items()):
        if name == "pagination":
            value = (value.number, value.total, [sources[i] for i in value.items], fold(value.urls))
        elif name == "index":
            value = sources[value]
        elif name == "items":
            value = [sources[i] for i in value]
        parts.append(f"{name}={value!r}")
    return digest("\x1e".join(parts))


def page_context(page: Page, view: SiteView) -> dict[str, Any]:
    """The variables one page's template is rendered with."""
    cfg = view.config
    entries = view.entries

    def listed(name: str, position: int | None = None) -> Shared:
        """A site-wide list: what the template does with it is recorded under its name (tracking.Shared)."""
        return Shared(("l", name, ""), tuple(entries[i] for i in site_list(view, name, position)))

    ctx: dict[str, Any] = {
        "site": view,
        "config": cfg,
        "page": page,
        "canonical": cfg.absolute_url(page.url),
        "most_read": listed("most_read"),
        "params": Shared(("g", "", "extra"), cfg.extra),
    }
    data = page.data
    pagination: Pagination | None = data.get("pagination")
    if pagination is not None:
        ctx["pagination"] = pagination
        ctx["items"] = [entries[i] for i in pagination.items]
        ctx["page_urls"] = view.page_urls(pagination.urls)
    kind = page.kind
    if kind == "article":
        entry = entries[data["index"]]
        ctx["entry"] = entry
        ctx["related"] = listed("related:" + entry.article.source, data["index"])
    elif kind == "home":
        ctx["featured"] = listed("featured")
        ctx["latest"] = listed("latest")
        ctx["category_blocks"] = [(view.menu[n], listed("block:" + view.menu[n].slug)) for n, _ in view.home.blocks]
    elif kind == "category":
        ctx["category"] = view.categories[data["category"]]
    elif kind == "tag":
        ctx["tag"] = view.tags[data["tag"]]
    elif kind == "tags":
        counts = data["counts"]
        ctx["tag_counts"] = sorted(((view.tags[s], n) for s, n in counts.items()), key=lambda x: (-x[1], x[0].slug))
    elif kind == "archive":
        ctx["months"] = data["months"]
    elif kind == "archive_month":
        ctx["year"], ctx["month"] = data["year"], data["month"]
    elif kind == "alias":
        ctx["entry"] = entries[data["index"]]
        ctx["target"] = cfg.absolute_url(data["target"])
    elif kind == "feed":
        ctx["category"] = view.categories.get(data.get("category", ""))
        ctx["items"] = [entries[i] for i in data["items"]]
    elif kind == "sitemap":
        ctx["sitemap_pages"] = data["urls"]
    elif kind == "sitemap_index":
        ctx["sitemaps"] = data["maps"]
    return ctx
