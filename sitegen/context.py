"""What each page's template receives: the site-wide view (menu, most read) plus the page's own data.

Kept apart from `render` (Jinja mechanics) so the data a page depends on is visible in one place; the
incremental build fingerprints exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .cache import digest, digest_text
from .config import SiteConfig
from .model import Category, Site, Tag
from .render import Entry
from .routes import Page, Pagination


@dataclass(frozen=True)
class MenuItem:
    name: str
    url: str
    slug: str


@dataclass(frozen=True)
class SiteView:
    """Site-wide data every template may use."""

    config: SiteConfig
    entries: Sequence[Entry]  # newest first (an edit build's are fetched from the cache as pages ask for them)
    menu: tuple[MenuItem, ...]
    categories: dict[str, Category]
    tags: dict[str, Tag]
    most_read: tuple[int, ...]
    related: tuple[tuple[int, ...], ...]
    home: "Home"

    @property
    def title(self) -> str:
        return self.config.title

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
                    _home(cfg, entries, menu))


def _home(cfg: SiteConfig, entries: Sequence[Entry], menu: tuple[MenuItem, ...]) -> Home:
    featured = [i for i, e in enumerate(entries) if e.featured][: cfg.home_featured]
    if not featured:
        featured = [i for i, e in enumerate(entries) if e.image][:1] or list(range(min(1, len(entries))))
    shown = set(featured)
    latest = [i for i in range(len(entries)) if i not in shown][: cfg.home_latest]
    blocks = []
    for n, item in enumerate(menu):
        members = [i for i, e in enumerate(entries) if e.category.slug == item.slug][: cfg.home_per_category]
        if members:
            blocks.append((n, tuple(members)))
    return Home(tuple(featured), tuple(latest), tuple(blocks))


def page_context(page: Page, view: SiteView) -> dict[str, Any]:
    """The variables one page's template is rendered with."""
    cfg = view.config
    entries = view.entries
    ctx: dict[str, Any] = {
        "site": view,
        "config": cfg,
        "page": page,
        "canonical": cfg.absolute_url(page.url),
        "most_read": [entries[i] for i in view.most_read],
        "params": cfg.extra,
    }
    data = page.data
    pagination: Pagination | None = data.get("pagination")
    if pagination is not None:
        ctx["pagination"] = pagination
        ctx["items"] = [entries[i] for i in pagination.items]
        ctx["page_urls"] = [cfg.url(u) for u in pagination.urls]
    kind = page.kind
    if kind == "article":
        entry = entries[data["index"]]
        ctx["entry"] = entry
        ctx["related"] = [entries[i] for i in view.related[data["index"]]]
    elif kind == "home":
        home = view.home
        ctx["featured"] = [entries[i] for i in home.featured]
        ctx["latest"] = [entries[i] for i in home.latest]
        ctx["category_blocks"] = [(view.menu[n], [entries[i] for i in members]) for n, members in home.blocks]
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
    return ctx


def global_key(view: SiteView, assets_key: str) -> str:
    """What every page shows besides its own data: config, menu, the most-read block, the theme's assets."""
    most = [(e.url, e.title, e.views, e.date, e.image) for e in (view.entries[i] for i in view.most_read)]
    cats = [(c.slug, c.name, c.description) for c in view.categories.values()]
    return digest(view.config.fingerprint, view.menu, most, cats, assets_key)


def uses(page: Page, view: SiteView) -> tuple[list[int], tuple]:
    """Which articles' entries `page_context` gives this page's template, and what else of its own data."""
    data, kind = page.data, page.kind
    used: list[int] = []
    extra: tuple = ()
    pagination: Pagination | None = data.get("pagination")
    if pagination is not None:
        used += pagination.items
        extra = (pagination.number, pagination.total, pagination.urls)
    if kind == "article":
        used += [data["index"], *view.related[data["index"]]]
    elif kind == "home":
        used += view.home.shown
        extra = (view.home,)
    elif kind in ("feed", "alias"):
        used += list(data.get("items", ())) + ([data["index"]] if "index" in data else [])
        extra = (data.get("category"), data.get("target"))
    elif kind == "404":
        used += list(range(min(5, len(view.entries))))
    elif kind == "tag":
        extra += (view.tags[data["tag"]].name,)
    if kind in ("category", "tag", "archive_month"):
        extra += (data.get("category"), data.get("tag"), data.get("year"), data.get("month"))
    if kind in ("sitemap", "archive", "tags"):
        extra = (data.get("urls"), data.get("months"), sorted(data.get("counts", {}).items()),
                 [(s, t.name) for s, t in view.tags.items()] if kind == "tags" else None)
    return used, extra


def fingerprint(page: Page, view: SiteView, template_key: str, site_key: str,
                used: tuple[list[int], tuple] | None = None) -> str:
    """A hash of everything `page_context` gives this page's template: equal fingerprints, equal bytes.

    Entries count by `Entry.key` (their source file, URL and photos), never by their position in the site,
    so adding an article changes only the pages that show it. `used` is `uses(page, view)` if already known.
    """
    indices, extra = used or uses(page, view)
    entries = view.entries
    return digest_text("\0".join((template_key, site_key, page.kind, page.url, page.path,
                                  repr(extra) if extra else "", *[entries[i].key for i in indices])))
