"""Stage 2b, routes: every page the site will have, with its URL and output path, before anything is written.

Computing all paths first is what lets two articles claiming one URL be a clear error naming both files, and
lets every path be checked to stay inside the output folder.
"""

from __future__ import annotations

import collections
import functools
import posixpath
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Collection, Iterable, Mapping, Sequence

from ..diagnostics import Reporter
from ..pickling import by_fields
if TYPE_CHECKING:  # (types only: writing the output needs routes' path rules, not the model)
    from ..content.model import Article, Site

_DRIVE = re.compile(r"^[A-Za-z]:")
_BAD_CHARS = re.compile(r'[\x00-\x1f<>:"|?*\\]')  # what some host refuses in a file name


@by_fields
@dataclass(frozen=True, slots=True)
class Page:
    """One output file: what kind of page, where it goes, which template renders it, and its own data."""

    TRACK = "p"  # page-local: what a template reads of it is compared with the same page's next build
    track_id = ""
    kind: str
    url: str  # site-relative URL ('thoi-su/hoi-nghi/'); prefix with config.base_path for links
    path: str  # output file, relative to the output folder ('thoi-su/hoi-nghi/index.html')
    template: str
    data: Mapping = field(default_factory=dict, compare=False, hash=False)


@by_fields
@dataclass(frozen=True, slots=True)
class Pagination:
    """Which slice of a listing one page shows and where its neighbours are."""

    TRACK = "q"  # page-local, as Page
    track_id = ""
    number: int
    total: int
    items: tuple[int, ...]  # indices into site.articles
    urls: tuple[str, ...]  # URL of every page of the listing, first page first


def article_url(article: Article, permalink: str) -> str:
    if _dateless(permalink):  # (the usual '{category}/{slug}/': no date parts to format, 10 000 times a plan)
        return permalink.format(category=article.category, slug=article.slug)
    d = article.date
    return permalink.format(category=article.category, slug=article.slug, year=f"{d.year:04d}",
                            month=f"{d.month:02d}", day=f"{d.day:02d}")


@functools.lru_cache(maxsize=16)
def _dateless(permalink: str) -> bool:
    """Whether a permalink names no date part, only {category} and {slug} (then those two are all it needs)."""
    return all(name in (None, "category", "slug") for _, name, _, _ in string.Formatter().parse(permalink))


def url_to_path(url: str) -> str:
    """'a/b/' -> 'a/b/index.html'; 'a/b.html' stays."""
    if url == "" or url.endswith("/"):
        return url + "index.html"
    return url


class Urls(tuple):
    """Every page URL of one listing, one tuple shared by all its pages. Its canonical text (tracking.fold,
    page signatures) is made once, not once a page: at 100 000 articles a category has 1 250 pages, and each
    page folding all 1 250 URLs was most of the cost of finding which pages changed."""

    FOLD_ONCE = True


def paginate(kind: str, base_url: str, items: list[int], per_page: int, template: str, segment: str,
             data: Mapping) -> list[Page]:
    """Pages of a listing: base_url, then base_url + 'trang/2/', ..."""
    chunks = [tuple(items[i:i + per_page]) for i in range(0, len(items), per_page)] or [()]
    urls = Urls(base_url if n == 1 else f"{base_url}{segment}/{n}/" for n in range(1, len(chunks) + 1))
    return [Page(kind, urls[n - 1], url_to_path(urls[n - 1]), template,
                 {**data, "pagination": Pagination(n, len(chunks), chunk, urls)})
            for n, chunk in enumerate(chunks, 1)]


def plan(site: Site, report: Reporter, known: Collection[str] = frozenset()) -> list[Page]:
    """All pages of the site. URL collisions and unsafe paths are reported; colliding pages are dropped. `known`:
    output paths (case-folded) of a plan made before, of this site but for a few articles, all of which passed
    these checks (a shift's, see build.stages): only the paths it does not hold are asked about."""
    cfg = site.config
    pages: list[Page] = [
        Page("home", "", "index.html", "home.html"),
        Page("404", "404.html", "404.html", "404.html"),
        Page("search", "tim-kiem/", "tim-kiem/index.html", "search.html"),  # results come from the Pagefind index
        Page("feed", "feed.xml", "feed.xml", "feed.xml", {"items": tuple(range(min(cfg.feed_items, len(site.articles))))}),
        Page("robots", "robots.txt", "robots.txt", "robots.txt"),
    ]
    # Each listing's articles (see `listings`): by category, tag and month.
    by_category: dict[str, list[int]] = collections.defaultdict(list)
    tagged: dict[str, list[int]] = collections.defaultdict(list)
    by_month: dict[tuple[int, int], list[int]] = collections.defaultdict(list)
    permalink, article = cfg.permalink, pages.append
    # (The loop runs once per article of the site, 10 000s of times a plan: a dateless permalink is formatted here,
    # and each listing's key is not made as a tuple of tuples per article, as `listings` gives it.)
    dateless = _dateless(permalink)
    urls: list[str] = []
    for i, a in enumerate(site.articles):
        url = permalink.format(category=a.category, slug=a.slug) if dateless else article_url(a, permalink)
        urls.append(url)
        article(Page("article", url, url + "index.html" if url == "" or url[-1] == "/" else url,
                     a.template or "article.html", {"index": i}))
        by_category[a.category].append(i)
        for t in a.tags:
            tagged[t].append(i)
        d = a.date
        by_month[(d.year, d.month)].append(i)
    by_tag = {t: tagged.get(t, []) for t in site.tags}
    seg = cfg.page_segment
    for c in site.categories:
        items = by_category.get(c.slug, [])
        pages += paginate("category", f"{c.slug}/", items, cfg.per_page, "category.html", seg, {"category": c.slug})
        pages.append(Page("feed", f"{c.slug}/feed.xml", f"{c.slug}/feed.xml", "feed.xml",
                          {"category": c.slug, "items": tuple(items[:cfg.feed_items])}))
    for slug, items in by_tag.items():
        pages += paginate("tag", f"{cfg.tag_base}/{slug}/", items, cfg.per_page, "tag.html", seg, {"tag": slug})
    pages.append(Page("tags", f"{cfg.tag_base}/", f"{cfg.tag_base}/index.html", "tags.html",
                      {"counts": {s: len(v) for s, v in by_tag.items()}}))
    months = sorted(by_month, reverse=True)
    pages.append(Page("archive", f"{cfg.archive_base}/", f"{cfg.archive_base}/index.html", "archive.html",
                      {"months": tuple((y, m, len(by_month[(y, m)])) for y, m in months)}))
    for y, m in months:
        pages += paginate("archive_month", f"{cfg.archive_base}/{y:04d}/{m:02d}/", by_month[(y, m)], cfg.per_page,
                          "archive_month.html", seg, {"year": y, "month": m})
    planned = pages + _aliases(site, pages)
    pages = _dedupe(planned, site, report, known)
    # (Every article's page kept, as most plans: each month's sitemap file is made from its listing, not by looking
    # at every page again.)
    return pages + _sitemaps(site, pages, (urls, by_month) if pages is planned else None)


def listings(article: Article) -> tuple[tuple, ...]:
    """The listings `plan` puts an article on (its category's, with that category's feed; each tag's; its month's),
    by the key `listing_of` gives their pages. A listing none of whose articles came or went keeps its pages as
    they were, but for the positions they name."""
    d = article.date
    return (("category", article.category), *[("tag", t) for t in article.tags], ("month", d.year, d.month))


def listing_of(page: Page) -> tuple | None:
    """The listing (see `listings`) a page of `plan` shows, None for a page made from the whole site or from one
    article (home, site feed, tag and month indexes, the sitemap index and its file of the site's own pages; an
    article's own pages). A month's sitemap file is its month's: it lists that month's articles alone."""
    d = page.data
    if page.kind in ("category", "feed") and "category" in d:
        return ("category", d["category"])
    if page.kind == "tag":
        return ("tag", d["tag"])
    if page.kind == "archive_month":
        return ("month", d["year"], d["month"])
    if page.kind == "sitemap" and "month" in d:
        return ("month", *d["month"])
    return None


# A sitemap file holds at most 50 000 addresses (sitemaps.org): search engines refuse a bigger one.
SITEMAP_MAX = 50_000


def _sitemaps(site: Site, pages: list[Page],
              every: tuple[list[str], Mapping[tuple[int, int], list[int]]] | None = None) -> list[Page]:
    """The sitemap: canonical HTML pages (articles, first pages of listings) with the time their content last
    changed, in files of one month of articles each (sitemaps/2024-03.xml, newest first) and one of the site's
    own pages (sitemaps/trang.xml), listed by the index at sitemap.xml. One file at 100 000 articles would be twice
    what search engines read; and an article added or removed changes its month's file and the index only, not a
    file listing every address of the site. `every`: when `pages` hold every article's page, each article's URL
    and each month's articles (in site order, as `plan` lists them)."""
    articles = site.articles
    newest = articles[0].date if articles else None
    own: list[tuple[str, object]] = []
    months: dict[tuple[int, int], list[tuple[str, object]]] = {}
    if every is not None:
        urls, by_month = every
        for month, items in by_month.items():
            months[month] = [(urls[i], articles[i].updated or articles[i].date) for i in items]
    for p in pages:
        if p.kind == "article":
            if every is None:
                a = articles[p.data["index"]]
                months.setdefault((a.date.year, a.date.month), []).append((p.url, a.updated or a.date))
        elif p.kind in ("home", "tags", "archive") or (p.kind in ("category", "tag", "archive_month")
                                                         and p.data["pagination"].number == 1):
            items = p.data["pagination"].items if "pagination" in p.data else ()
            own.append((p.url, articles[items[0]].date if items else newest))
    files = [("sitemaps/trang", own, {})] + [(f"sitemaps/{y:04d}-{m:02d}", urls, {"month": (y, m)})
                                             for (y, m), urls in months.items()]
    out = []
    for name, urls, month in files:
        for n in range(0, max(len(urls), 1), SITEMAP_MAX):
            url = f"{name}{'' if n == 0 else f'-{n // SITEMAP_MAX + 1}'}.xml"
            out.append(Page("sitemap", url, url, "sitemap.xml", {"urls": tuple(urls[n:n + SITEMAP_MAX]), **month}))
    listed = tuple((p.url, max((t for _, t in p.data["urls"] if t is not None), default=None)) for p in out)
    return out + [Page("sitemap_index", "sitemap.xml", "sitemap.xml", "sitemap_index.xml", {"maps": listed})]


def _aliases(site: Site, pages: list[Page]) -> list[Page]:
    having = [i for i, a in enumerate(site.articles) if a.aliases]
    if not having:
        return []  # (most sites: no article keeps an old address, and no page need be looked up)
    targets = {p.data["index"]: p.url for p in pages if p.kind == "article"}
    return [Page("alias", url, url_to_path(url), "redirect.html", {"index": i, "target": targets[i]})
            for i in having for url in map(alias_url, site.articles[i].aliases)]


def alias_url(alias: str) -> str:
    """An old address as written in `aliases` to the site-relative URL its redirect page is published at."""
    clean = posixpath.normpath("/" + alias.strip()).lstrip("/")
    url = clean + ("/" if alias.endswith("/") else "")
    if not posixpath.splitext(clean)[1] and not url.endswith("/"):
        url += "/"
    return url


def article_pages(article: Article, i: int, permalink: str) -> list[Page]:
    """Article number `i`'s own page and its redirect pages, as `plan` makes them."""
    url = article_url(article, permalink)
    return [Page("article", url, url_to_path(url), article.template or "article.html", {"index": i}),
            *(Page("alias", u, url_to_path(u), "redirect.html", {"index": i, "target": url})
              for u in map(alias_url, article.aliases))]


def claim(pages: list[Page], article: Article, owners: dict[str, str], report: Reporter) -> list[Page]:
    """The pages of one article joining a site whose outputs `owners` names (case-folded output path
    -> who has it): those that are unsafe, reserved or taken are reported as `plan` reports them, and left out.
    What they take is added to `owners`."""
    source = article.source
    kept = []
    for page in pages:
        if unsafe(page.path):
            _unsafe(report, page, source, _line(page, article))
        elif page.kind == "alias" and _reserved(page.path):
            _reserved_alias(report, page, source, _line(page, article))
        elif (other := owners.get(page.path.casefold())) is not None:
            _taken(report, page, source, other, _line(page, article))
        else:
            owners[page.path.casefold()] = source
            kept.append(page)
    return kept


def owners(pages: Sequence[Page], source_of: Callable[[int], str]) -> dict[str, str]:
    """Who has each output path (case-folded): an article's file (`source_of` its number), or the kind of a site
    page."""
    return {p.path.casefold(): owner_of(p, source_of) for p in pages}


# Outputs no article's alias may take: folders the build fills with other files (the theme's assets, the search
# index, the preview's own pages), and names web servers read as their configuration or keep private.
_RESERVED_DIRS = ("assets", "pagefind", "_sitegen", "sitemaps")
_SERVER_NAMES = {"web.config", "robots.txt", "favicon.ico"}


def unsafe(path: str) -> bool:
    """Whether an output path may not be written: not `safe_relative`, or with a character that some host refuses
    in a file name (control characters, <>:"|?* and the backslash)."""
    return not safe_relative(path) or _BAD_CHARS.search(path) is not None


def _all_safe(paths: list[str]) -> bool:
    """Whether no path is `unsafe`, asked of them all at once (one search over the joined paths, not two calls per
    page). False may be wrong (a doubled slash, which `unsafe` allows): the pages are then asked one by one."""
    joined = "/" + "/\0/".join(paths) + "/"  # every path between slashes, as safe_relative bounds one
    # (A '.' or '..' part, an empty part (an empty or absolute path, or a doubled slash) by substring, then a bad
    # character: one pattern of both took 24 ms over 15 700 paths, as it tries each branch at every character.)
    return joined.count("\0") == len(paths) - 1 and "/./" not in joined and "/../" not in joined \
        and "//" not in joined and _BAD_IN_JOINED.search(joined) is None


# What `unsafe` refuses, in paths joined by `_all_safe`, but for the parts it tests by substring: a bad character
# (not the NUL joining them; ':' covers a drive).
_BAD_IN_JOINED = re.compile(r'[\x01-\x1f<>:"|?*\\]')


def _dedupe(pages: list[Page], site: Site, report: Reporter, known: Collection[str] = frozenset()) -> list[Page]:
    keys = [p.path.casefold() for p in pages]  # case-insensitive: hosting on Windows or macOS would merge them
    if known and _only_known_clash(pages, keys, known):
        return pages
    if _all_safe([p.path for p in pages]) and len(set(keys)) == len(keys) and all(p.kind != "alias" for p in pages):
        # (The usual plan, asked of all its pages at once: every path safe and its own, no old address to check.)
        return _no_file_over_folder(pages, keys, site, report)
    owners: dict[str, Page] = {}
    kept = []
    for page in pages:
        if unsafe(page.path):
            _unsafe(report, page, _owner(page, site), _line_in(page, site))
            continue
        if page.kind == "alias" and _reserved(page.path):
            _reserved_alias(report, page, _owner(page, site), _line_in(page, site))
            continue
        key = page.path.casefold()
        first = owners.get(key)
        if first is not None:
            # The site's own pages (home, listings, feeds, sitemap) always keep their address; between two
            # articles the older one does (articles come newest first): it is the one readers already know, and
            # the error (which holds an article back) falls on the newcomer.
            if "index" in first.data and ("index" not in page.data or page.data["index"] > first.data["index"]):
                kept[kept.index(first)] = owners[key] = page
                first, page = page, first
            _taken(report, page, _owner(page, site), _owner(first, site), _line_in(page, site))
            continue
        owners[key] = page
        kept.append(page)
    return _no_file_over_folder(kept, owners.keys(), site, report)


# More paths than this not `known` to `_dedupe`, and it asks about them all (the usual way is as quick then).
_FRESH_MAX = 64


def _only_known_clash(pages: list[Page], keys: list[str], known: Collection[str]) -> bool:
    """Whether `_dedupe` has nothing to say of these pages, asked only of the paths not `known` (`keys`: their
    paths case-folded): the others passed every check together before, so a problem needs one of the new. False
    when it cannot tell so (then every page is asked about, as usual)."""
    fresh = [n for n, key in enumerate(keys) if key not in known]
    # A redirect is asked about wherever it is: what an alias may not take depends on its kind (`plan` puts them
    # last). And the last plan had the sitemaps' addresses from `_sitemaps`, made after this check: another page
    # there is asked about as usual.
    n = len(pages)
    while n and pages[n - 1].kind == "alias":
        n -= 1
        fresh.append(n)
    joined = "\0" + "\0".join(keys) + "\0"
    if len(fresh) > _FRESH_MAX or "\0sitemaps/" in joined or "\0sitemap.xml\0" in joined:
        return False
    every = set(keys)
    if len(every) != len(keys):
        return False
    for n in fresh:
        page, key = pages[n], keys[n]
        if unsafe(page.path) or (page.kind == "alias" and _reserved(page.path)):
            return False
        folder = key.rpartition("/")[0]
        while folder:  # (a file named as one of its own folders)
            if folder in every:
                return False
            folder = folder.rpartition("/")[0]
    under = tuple(keys[n] + "/" for n in fresh)  # (a new file named as a folder: a path under it)
    return not under or not any(key.startswith(under) for key in keys)


def _no_file_over_folder(pages: list[Page], paths: Iterable[str], site: Site, report: Reporter) -> list[Page]:
    """A file and a folder cannot share a name ('/tin-cu/bai.html' as a page and as the folder of
    '/tin-cu/bai.html/'). The article's page loses, with an error; the site's own pages always keep theirs.
    `paths`: the pages' paths, case-folded."""
    folders: set[str] = set()
    for path in paths:
        folder = path.rpartition("/")[0]
        while folder and folder not in folders:  # (one found: its own folders are there already)
            folders.add(folder)
            folder = folder.rpartition("/")[0]
    if folders.isdisjoint(paths):
        return pages
    clashes = [p for p in pages if p.path.casefold() in folders]
    if not clashes:
        return pages
    losers: set[int] = set()

    def refuse(loser: Page, other: Page) -> None:
        losers.add(id(loser))
        report.error("ROUTE001", _owner(loser, site), _line_in(loser, site),
                     f"địa chỉ /{loser.url} vừa là tệp vừa là thư mục của /{other.url} ({_owner(other, site)})",
                     "đổi hoặc bỏ một trong hai địa chỉ (trong aliases, '/a.html' và '/a.html/' là hai dạng khác nhau)")

    for page in clashes:  # rare: the walk over every page below happens only for a clash
        prefix = page.path.casefold() + "/"
        inside = [q for q in pages if q.path.casefold().startswith(prefix)]
        if "index" in page.data or all("index" not in q.data for q in inside):
            refuse(page, inside[0])
        else:
            for q in inside:
                if "index" in q.data:
                    refuse(q, page)
    return [p for p in pages if id(p) not in losers]


def _line(page: Page, article: Article) -> int:
    """The front matter line an article's page comes from: `aliases` for a redirect, `slug` for its own page
    (0 when the address comes from the folder's name, which no line holds)."""
    return article.aliases_line if page.kind == "alias" else article.slug_line


def _line_in(page: Page, site: Site) -> int:
    return _line(page, site.articles[page.data["index"]]) if "index" in page.data else 0


def _unsafe(report: Reporter, page: Page, owner: str, line: int) -> None:
    report.error("ROUTE004" if ".." in page.path else "ROUTE005", owner, line,
                 f"địa chỉ '{page.url}' không hợp lệ hoặc ra ngoài thư mục xuất", "sửa slug hoặc aliases")


def _reserved_alias(report: Reporter, page: Page, owner: str, line: int) -> None:
    report.error("ROUTE005", owner, line, f"địa chỉ cũ '/{page.url}' trùng với tệp của giao diện, chỉ mục tìm kiếm hoặc "
                 "tệp cấu hình của máy chủ web", "bỏ địa chỉ này khỏi aliases (chỉ ghi địa chỉ cũ của chính bài)")


def _taken(report: Reporter, page: Page, owner: str, other: str, line: int) -> None:
    report.error("ROUTE001", owner, line, f"địa chỉ /{page.url} trùng với trang của {other}",
                 "đặt slug: khác cho một trong hai bài (hoặc sửa aliases)")


def _reserved(path: str) -> bool:
    parts = path.split("/")
    return parts[0] in _RESERVED_DIRS or any(p.startswith(".") for p in parts) or parts[-1].casefold() in _SERVER_NAMES \
        or path.casefold() == "sitemap.xml"  # made after the other pages, from them


def _owner(page: Page, site: Site) -> str:
    return owner_of(page, lambda i: site.articles[i].source)


def owner_of(page: Page, source_of: Callable[[int], str]) -> str:
    """Who has a page, as a diagnostic names it: its article's file (`source_of` its number), or its kind."""
    if "index" in page.data:
        return source_of(page.data["index"])
    return f"({page.kind})"


def safe_relative(path: str) -> bool:
    """True if `path` is a relative POSIX path that stays inside its root."""
    if not path or path.startswith("/") or "\\" in path or _DRIVE.match(path):
        return False
    bounded = f"/{path}/"  # (a part that is '.' or '..': the same test as splitting, without the list)
    return "/../" not in bounded and "/./" not in bounded


def safe_join(root: Path, rel: str) -> Path:
    """root/rel, refusing anything that resolves outside root (also through '..' or symlinks)."""
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"{rel!r} leaves {root}")
    return target
