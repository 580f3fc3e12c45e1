"""Stage 3a', references: what article bodies point at — other articles, anchors, pages, photos — checked and
made to work once published.

Editors link articles the way their editor shows them: `[..](../bai-khac/index.md)` or `../bai-khac/`. Those
are content paths, but readers follow permalinks (`{category}/{slug}/`), so such links are rewritten to the
target article's URL. Every internal link must land on a page the build plans (LINK001, an error: readers
would get a 404), every `#anchor` on an id of the target article (LINK002, a warning: see `_ANCHOR_SEVERITY`).
Body photos without alt text or caption get IMG006 here too, because this is the one place that reads what a
body refers to. Pure: one body and the build's `Index` in, the rewritten body and diagnostics out, so the
result can be kept for as long as the body and the index key stay the same.
"""

from __future__ import annotations

import bisect
import hashlib
import html
import operator
import os
import posixpath
import re
import unicodedata
from array import array
from pathlib import Path
from typing import Collection, Iterable, Iterator, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from ..config import SiteConfig
from ..diagnostics import Reporter
from ..content.read import body_of
from ..content.model import Article
from .routes import Page

# Python-Markdown writes double quotes; raw HTML from editors may use single ones.
_HREF = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_ID = re.compile(r"""<[a-z][^>]*?\s(?:id|name)\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
# A missing anchor still lands the reader on the right article (at its top), so it must not stop an urgent
# publication; a broken link (404) must. `--strict` (CI) turns the warning into an error.
_ANCHOR_SEVERITY = "warning"
_UNPUBLISHED = "bài này chưa được xuất bản (nháp, hẹn giờ, hết hạn hoặc đang có lỗi)"
_NOT_PUBLISHED_FILE = "tệp này không được xuất bản (chỉ ảnh mà bài dùng mới được đưa lên trang)"


_URL, _PATH = operator.attrgetter("url"), operator.attrgetter("path")


def has_links(body_html: str) -> bool:
    """Whether a body has any link to check (without one, its check depends on the article alone)."""
    return _HREF.search(body_html) is not None


def lands_on(targets: Iterable[str], page_url: str, config: SiteConfig, urls: set[str]) -> bool:
    """Whether a link of an article's checked body, published at `page_url` (`targets`: its links' `hrefs`), leads
    to one of `urls` (site-relative addresses, as Index.urls holds them), as `_Links._resolve` and
    `Index.page_exists` read an address: absolute on this site, from the root, or relative to the page (a link by
    content path was rewritten to the address it led to)."""
    for href in targets:
        parts = urlsplit(href)
        path = unquote(parts.path)
        if parts.scheme or parts.netloc or path.startswith("/"):
            url = _on_site(href, parts.scheme, parts.netloc, path, config)
        else:
            url = _relative(page_url, path) if path else None
        if url is None:
            continue
        url = url.split("?", 1)[0]
        if url in urls or (url + "/") in urls:
            return True
    return False


def _resorted(before: tuple[set[str], list[str]] | None, urls: set[str]) -> list[str]:
    """`urls` sorted, from `before` (a set, and its members sorted) when few differ: a shift's index adds or drops
    a few addresses among 30 000 (sorted anew, they were a third of its making at 10 000 articles)."""
    if before is None:
        return sorted(urls)
    made_from, ordered = before
    came, went = urls - made_from, made_from - urls
    if len(came) + len(went) > 256:
        return sorted(urls)
    ordered = list(ordered)
    for url in went:
        del ordered[bisect.bisect_left(ordered, url)]
    for url in came:
        bisect.insort(ordered, url)
    return ordered


def names_file(targets: Iterable[str], names: Collection[str]) -> bool:
    """Whether a link of a body (`targets`: its links' `hrefs`) names one of `names` (file or folder names, NFC and
    case-folded) anywhere in its path, as written: read by content path (`_Links._content_target`), such a link may
    lead to that file, or into that folder. Loose on purpose (a name inside another counts): a yes costs a full
    build, a wrong no a stale page."""
    return bool(names) and any(name in unicodedata.normalize("NFC", unquote(href)).casefold()
                               for href in targets for name in names)


def file_names(paths: Iterable[str]) -> set[str]:
    """The names `names_file` looks for: each path's last part, NFC and case-folded."""
    return {unicodedata.normalize("NFC", os.path.basename(path)).casefold() for path in paths}


def hrefs(body_html: str) -> Iterator[str]:
    """Every link's target in a rendered body, as written (character references read)."""
    if "<a" not in body_html and "<A" not in body_html:
        return  # (most bodies: no link at all, and no pattern run over them)
    for m in _HREF.finditer(body_html):
        yield html.unescape(m.group(3)).strip()


def anchor_ids(body_html: str) -> frozenset[str]:
    """Ids an `#anchor` may name in a rendered body (headings, footnotes, editors' own ids)."""
    return frozenset(_norm(html.unescape(m.group(2))) for m in _ID.finditer(body_html))


Going = tuple[Collection[str], Collection[str]]  # photo files (Index.key) and copy stems that go (Index.rebuilt)


class Index:
    """Everything a link may point at, computed once per build. `key` changes whenever the outcome of checking
    an unchanged body could: any page, article address, anchor, published file, or file name under content/
    and the assets (`names`, from inputs.names). Built from strings only; symlinks are resolved lazily, for
    links that need it. It pickles without its configuration and path memo (`attach` gives them back), so an
    edit build can check one body against the last full build's index.

    Photos (`published`: photos.PhotoPlan.published): a link to a photo file leads to one copy (`files`), and
    every variant of every copy is a published file a link may name by its address (`copies`: each copy's stem
    with the endings of its variants, not every name: a photo has up to seven). `shared`: the photo files (keys)
    and copy stems more than one article publishes: an article's photos may go with it by a shift build only when
    none is (stages.shifted), else where a link to the file leads, or whether the copy stays, is another's."""

    def __init__(self, config: SiteConfig, articles: Sequence[Article], ids: Sequence[frozenset[str]],
                 pages: list[Page], published: Iterable[tuple[Path, str, int, tuple[str, ...]]], names: str,
                 real_paths: "_RealPaths | None" = None):
        self.attach(config, real_paths)
        self.content_dir = config.content_dir.resolve()
        published = tuple(published)
        self.files, self.shared = self._first_copies(published)
        self._copies, self._packed = _with_copies({}, published), None
        self.photos_key = _photos_key(self.files, self.copies)
        self._articles(tuple((a.source, a.file, a.bundle) for a in articles), ids, pages, names)

    def _articles(self, refs: tuple[tuple[str, str, bool], ...], ids: Sequence[frozenset[str]], pages: list[Page],
                  names: str) -> None:
        """The articles' part: their (source, file, bundle) in site order, anchors, pages, and the key."""
        self.refs = refs
        self.gone: frozenset[int] = frozenset()  # numbers no longer published (`without`)
        self.ids = ids
        urls = {*map(_URL, pages), *map(_PATH, pages)}  # (not two set comprehensions: 40 % quicker)
        self._ordered = (urls, _resorted(getattr(self, "_ordered", None), urls))  # (for the key and the pickled form)
        self.urls = urls
        self.article_url = {p.data["index"]: p.url for p in pages if p.kind == "article"}
        self.url_article = {u: i for i, u in self.article_url.items()}
        self.key_text = "\0".join((
            names, "\x1f".join(self._ordered[1]), self.photos_key,  # (no page's address holds a control character)
            *(f"{file}\0{self.article_url.get(i)}\0{','.join(sorted(ids[i])) if ids[i] else ''}"
              for i, (_, file, _) in enumerate(refs))))

    def rebuilt(self, refs: tuple[tuple[str, str, bool], ...], ids: Sequence[frozenset[str]], pages: list[Page],
                names: str, published: Iterable[tuple[Path, str, int, tuple[str, ...]]] = (),
                dropped: Going = ((), ())) -> "Index":
        """The index a full build would make of these articles (`refs`, `ids`, in site order) and `pages`, where
        the photos are this one's, those `published` (photos.PhotoPlan.published) added and those `dropped` taken
        away (the photo files and copy stems of articles that go): a shift's build (stages.shifted), whose articles
        that come show only their own photos, and whose articles that go share none."""
        new = object.__new__(Index)
        new.__dict__.update(self.__dict__)
        published = tuple(published)
        gone_files, gone_stems = dropped
        if published or gone_files or gone_stems:
            files, shared = self._first_copies(published)
            kept = {k: out for k, out in self.files.items() if k not in gone_files} if gone_files else self.files
            copies = {s: e for s, e in self.copies.items() if s not in gone_stems} if gone_stems else self.copies
            if self.shared is not None:  # (None: not known, as in an index kept by an older sitegen)
                new.shared = self.shared | shared | {k for k in files if k in kept} \
                    | {copy_stem(out) for _, out, _, _ in published if copy_stem(out) in copies}
            new.files = {**kept, **files}
            new._copies, new._packed = _with_copies(copies, published), None
            new.photos_key = _photos_key(new.files, new.copies)
        new._articles(refs, ids, pages, names)
        new._by_path = None
        return new

    def extended(self, articles: Sequence[Article], ids: Sequence[frozenset[str]], pages: list[Page],
                 published: Sequence[tuple[Path, str, int, tuple[str, ...]]]) -> "Index":
        """This index with more articles (numbered after its own; `pages` carry those numbers), their pages and
        photos: what links may point at once those are published too. It has no key (nothing remembers its
        checks), and shares nothing it changes with this one."""
        new = object.__new__(Index)  # not copy.copy: that goes through the compact pickled form
        new.__dict__.update(self.__dict__)
        new.refs = self.refs + tuple((a.source, a.file, a.bundle) for a in articles)
        new.ids = [*self.ids, *ids]
        new.urls = self.urls | {p.url for p in pages} | {p.path for p in pages}
        new.article_url = {**self.article_url, **{p.data["index"]: p.url for p in pages if p.kind == "article"}}
        new.url_article = {**self.url_article, **{p.url: p.data["index"] for p in pages if p.kind == "article"}}
        new.files = {**self.files, **self._first_copies(published)[0]}
        new._copies, new._packed = _with_copies(self.copies, published), None
        new.key_text, new._by_path = "", None
        return new

    def without(self, numbers: Iterable[int], pages: Iterable[Page], photos: Mapping[Path, str | None],
                copies: Iterable[str]) -> "Index":
        """This index once articles `numbers` are gone (expired by then), `pages` being theirs: a link to one by
        its address lands on no page, by its file on an unpublished article, as in the build after they expire.
        `photos`: each photo file they published, with the copy a link to it leads to then (another article's),
        or None when no article publishes it any more; `copies`: their copies (output path of the largest JPEG,
        as in photos.PhotoPlan.published). Their copies go with their pages, so a link to any variant of one
        lands on no page, and a link to a photo file no one publishes on a file not published.
        Their numbers stay (later ones keep theirs); like `extended`, no key and nothing shared that changes."""
        gone = set(numbers)
        new = object.__new__(Index)
        new.__dict__.update(self.__dict__)
        new.gone = frozenset(self.gone | gone)
        dropped = {u for p in pages for u in (p.url, p.path)}
        new.urls = self.urls - dropped
        new.article_url = {i: u for i, u in self.article_url.items() if i not in gone}
        new.url_article = {u: i for u, i in self.url_article.items() if i not in gone}
        new.files = dict(self.files) if photos else self.files  # (a copy only when it changes: 100 000s of rows)
        for file, copy in photos.items():
            if copy is None:
                new.files.pop(self.key(file), None)
            else:
                new.files[self.key(file)] = copy
        ended = {copy_stem(out) for out in copies}
        new._copies = {s: e for s, e in self.copies.items() if s not in ended} if ended else self.copies
        new._packed = None
        new.key_text, new._by_path = "", None
        return new

    def _first_copies(self, published: Iterable[tuple[Path, str, int, tuple[str, ...]]]
                      ) -> tuple[dict[str, str], frozenset[str]]:
        """Where a link to each photo file leads: the copy of the first article that publishes it (photos.plan
        lists them in article order), as the build at any time does with the articles it publishes then; and the
        files and copy stems that more than one of these articles publishes (`shared`)."""
        files: dict[str, str] = {}
        by: dict[str, int] = {}  # file or stem -> the first article publishing it
        shared = set()
        for src, out, i, _ in published:
            key = self.key(src)
            files.setdefault(key, out)
            for name in (key, copy_stem(out)):
                if by.setdefault(name, i) != i:
                    shared.add(name)
        return files, frozenset(shared)

    def attach(self, config: SiteConfig, real_paths: "_RealPaths | None" = None) -> "Index":
        self.config = config
        self.real = real_paths if real_paths is not None else _RealPaths()
        self._by_path: dict[str, int] | None = None
        return self

    @property
    def copies(self) -> dict[str, tuple[str, ...]]:
        """Each published photo copy's stem -> the endings of its variants. An unpickled index unpacks them on the
        first link that may name one: an edit build checks a few bodies, seldom with such a link (unpacking took
        0.15 s for 300 000 copies, 100 000 articles with three photos each)."""
        if self._copies is None:
            self._copies = _unpack_copies(*self._packed)
        return self._copies

    @property
    def files_of_articles(self) -> list[str]:
        return [file for _, file, _ in self.refs]

    def _sorted_urls(self) -> list[str]:
        """`urls` sorted: the list `_articles` made, if these are still the addresses it sorted (an index made
        from this one by `extended` or `without` has a set of its own)."""
        made_from, ordered = self._ordered
        return ordered if made_from is self.urls else sorted(self.urls)

    def __getstate__(self) -> dict:
        """Strings joined by NUL (which no path contains) instead of 100 000s of small objects: pickling those
        for a 100 000-article site took 100s of MB of pickle memo."""
        n = len(self.refs)
        return {"sources": "\0".join(r[0] for r in self.refs), "files_": "\0".join(r[1] for r in self.refs),
                "bundles": bytes(r[2] for r in self.refs), "ids": {i: s for i, s in enumerate(self.ids) if s},
                "count": n, "urls": "\0".join(self._sorted_urls()),
                "article_url": "\0".join(self.article_url.get(i, "\1") for i in range(n)),
                "files": self.files, "content_dir": self.content_dir, "photos_key": self.photos_key,
                "shared": self.shared,
                "copies": self._packed if self._copies is None else _pack_copies(self._copies)}

    def __setstate__(self, state: dict) -> None:
        n = state["count"]
        split = (lambda text: text.split("\0") if n else [])
        self.refs = tuple(zip(split(state["sources"]), split(state["files_"]), map(bool, state["bundles"])))
        empty: frozenset[str] = frozenset()
        ids = [empty] * n
        for i, found in state["ids"].items():
            ids[i] = found
        self.ids = ids
        ordered = state["urls"].split("\0") if state["urls"] else []  # (pickled sorted: see __getstate__)
        self.urls = set(ordered)
        self._ordered = (self.urls, ordered)
        self.article_url = {i: u for i, u in enumerate(split(state["article_url"])) if u != "\1"}
        self.url_article = {u: i for i, u in self.article_url.items()}
        self.files, self.content_dir = state["files"], state["content_dir"]
        self.photos_key = state.get("photos_key", "")
        self.shared = state.get("shared")  # (None in an index from before it was kept: not known)
        self._copies, self._packed = None, state["copies"]  # (see `copies`)
        self.gone = frozenset()  # only indexes made by `without` have any, and those are never pickled
        self.config, self.real, self._by_path = None, _RealPaths(), None  # `attach` gives the configuration

    @property
    def by_path(self) -> dict[str, int]:
        """Article files and bundle folders by real path: built on the first link that names a content file."""
        if self._by_path is None:
            self._by_path = {}
            for i, (_, file, bundle) in enumerate(self.refs):
                if i in self.gone:
                    continue
                self._by_path[self.key(file)] = i
                if bundle:
                    self._by_path[self.key(os.path.dirname(file))] = i
        return self._by_path

    def key(self, path: Path | str) -> str:
        """A file's identity for matching links: symlinks resolved, NFC (macOS names on disk may be NFD)."""
        return unicodedata.normalize("NFC", self.real(path))

    def _variant(self, url: str) -> bool:
        """Whether `url` names a variant of a published photo copy. An unpickled index (an edit build) looks at the
        endings its photo sizes have before unpacking the stems: a link to an asset, a page or nothing at all
        never costs the unpacking."""
        ending = url.rpartition("-")[2]
        if self._copies is None and not any(ending in shape for shape in self._packed[1]):
            return False
        return ending in self.copies.get(copy_stem(url), ())

    def page_exists(self, url: str) -> bool:
        url = url.split("?", 1)[0]
        if url in self.urls or (url + "/") in self.urls or url == "":
            return True
        if self._variant(url):
            return True
        if url.startswith("assets/"):
            name = url[len("assets/"):]
            return any((d / name).is_file() for d in self.config.assets_dirs) and ".." not in name.split("/")
        return False


def _on_site(href: str, scheme: str, netloc: str, path: str, config: SiteConfig) -> str | None:
    """The site-relative address an absolute link (`scheme`, `netloc`) or a link from the root names on this site;
    None when it leads elsewhere (another site, outside the base path). `path` is unquoted."""
    if scheme or netloc:
        if scheme not in ("http", "https") or not href.startswith(f"{config.origin}{config.base_path}"):
            return None
    elif not path.startswith(config.base_path):
        return None
    return path[len(config.base_path):]


def _relative(page_url: str, path: str) -> str:
    """The site-relative address a relative link `path` names from the page at `page_url` ('../x' when it leaves
    the site, '' for the home page)."""
    here = page_url if page_url.endswith("/") else posixpath.dirname(page_url) + "/"
    url = posixpath.normpath(posixpath.join(here.lstrip("/"), path))
    if url == "." or url == ".." or url.startswith("../"):
        return "" if url == "." else url
    return url + ("/" if path.endswith("/") else "")


def _photos_key(files: Mapping[str, str], copies: Mapping[str, tuple[str, ...]]) -> str:
    """What an index's photos are, for its key: where a link to each photo file leads, and every copy."""
    return hashlib.blake2b(f"{sorted(files.items())!r}\0{sorted(copies.items())!r}".encode(
        "utf-8", "surrogatepass"), digest_size=16).hexdigest()


def copy_stem(name: str) -> str:
    """A photo variant's name up to its ending (photos._ending: '960.webp', 'og.jpg', never with a '-' in it)."""
    return name.rpartition("-")[0]


def _with_copies(copies: dict[str, tuple[str, ...]], published: Iterable[tuple[Path, str, int, tuple[str, ...]]],
                 ) -> dict[str, tuple[str, ...]]:
    """`copies` (not changed) and the copies `published`, by stem. Two rows of one stem are one file name
    (permalinks without a folder of their own, such as '{year}/{slug}.html'): whichever publishes it, it is there."""
    found = dict(copies)
    for _, out, _, endings in published:
        stem = copy_stem(out)
        had = found.get(stem, endings)
        found[stem] = endings if had == endings else tuple(sorted({*had, *endings}))
    return found


def _pack_copies(copies: dict[str, tuple[str, ...]]) -> tuple[str, tuple[tuple[str, ...], ...], bytes]:
    """`Index.copies` for pickling: the stems joined by NUL, the endings each distinct photo size has, and which
    of those each stem has (4 bytes each): not a dict of 100 000s of keys (see Index.__getstate__)."""
    shapes: dict[tuple[str, ...], int] = {}
    which = array("I", (shapes.setdefault(endings, len(shapes)) for endings in copies.values()))
    return "\0".join(copies), tuple(shapes), which.tobytes()


def _unpack_copies(stems: str, shapes: tuple[tuple[str, ...], ...], which: bytes) -> dict[str, tuple[str, ...]]:
    numbers = array("I")
    numbers.frombytes(which)
    return dict(zip(stems.split("\0"), (shapes[n] for n in numbers))) if stems else {}


def check(index: Index, i: int, article: Article, body_html: str, report: Reporter) -> str:
    """Article i's body with content-path links rewritten to URLs; broken links, anchors and missing alt text
    reported. Depends on nothing but the body, the article and `index` (whose key says when it changed)."""
    _check_alt(article, report)
    if i not in index.article_url:  # dropped by a route collision, already reported
        return body_html
    return _Links(index, i, article, report).rewrite(body_html)


class _Links:
    """The links of one article body."""

    def __init__(self, index: Index, i: int, article: Article, report: Reporter):
        self.index, self.i, self.article, self.report = index, i, article, report
        self.page_url = index.article_url[i]
        self._searched: dict[str, int] = {}
        self._body: str | None = None

    def rewrite(self, body_html: str) -> str:
        return _HREF.sub(self._one, body_html)

    def _one(self, m: re.Match) -> str:
        written = html.unescape(m.group(3)).strip()
        new = self._resolve(written)
        if new is None or new == written:
            return m.group(0)
        return f"{m.group(1)}{m.group(2)}{html.escape(new, quote=True)}{m.group(2)}"

    def _resolve(self, href: str) -> str | None:
        """The URL the link must have (None: leave it), reporting it when it cannot work."""
        if not href:
            return None
        parts = urlsplit(href)
        cfg = self.index.config
        path, frag = unquote(parts.path), unquote(parts.fragment)
        if parts.scheme or parts.netloc or path.startswith("/"):
            url = _on_site(href, parts.scheme, parts.netloc, path, cfg)
            if url is not None:
                self._check_url(href, url, frag)
            return None
        if not path:  # '#muc' on this page
            if frag:
                self._check_anchor(href, self.i, frag)
            return None
        target = self._content_target(path)
        if target is not None:
            kind, value = target
            if kind == "article":
                if frag:
                    self._check_anchor(href, value, frag)
                return cfg.url(self.index.article_url[value]) + (f"#{parts.fragment}" if parts.fragment else "")
            if kind == "file":
                return cfg.url(value)
            self._broken(href, value)
            return None
        url = _relative(self.page_url, path)
        if url == ".." or url.startswith("../"):
            self._broken(href, "đường dẫn đi ra ngoài trang")
            return None
        self._check_url(href, url, frag)
        return None

    def _content_target(self, path: str) -> tuple[str, object] | None:
        """What a relative path means in content/: ('article', i), ('file', output path), ('problem', why)."""
        folder = self.article.folder
        normal = posixpath.normpath(unicodedata.normalize("NFC", path.replace("\\", "/")))
        target = (folder / normal).resolve()
        index = self.index
        if not target.is_relative_to(index.content_dir):
            return None
        key = index.key(target)
        if key in index.by_path and index.by_path[key] in index.article_url:
            return "article", index.by_path[key]
        if key in index.by_path:  # (validated ahead beside a draft whose address another page has: it has none)
            return "problem", _UNPUBLISHED
        if key in index.files:
            return "file", index.files[key]
        if target.suffix == ".md" or (target / "index.md").is_file():
            if target.exists() or (target / "index.md").is_file():
                return "problem", _UNPUBLISHED
            return "problem", "không có bài viết ở đường dẫn này trong content/"
        if target.is_file():
            return "problem", _NOT_PUBLISHED_FILE
        return None

    def _check_url(self, href: str, url: str, frag: str) -> None:
        index = self.index
        if not index.page_exists(url):
            self._broken(href, "không có trang nào ở địa chỉ này")
            return
        if frag:
            target = index.url_article.get(url, index.url_article.get(url + "/"))
            if target is not None:
                self._check_anchor(href, target, frag)

    def _check_anchor(self, href: str, target: int, frag: str) -> None:
        if _norm(frag) in self.index.ids[target]:
            return
        where = "bài này" if target == self.i else self.index.refs[target][0]
        line = self._line(href)
        message = f"liên kết '{href}' trỏ tới mục '#{frag}' không có trong {where}"
        hint = "sửa phần sau dấu # cho khớp id của tiêu đề (chữ thường không dấu, nối bằng '-')"
        if _ANCHOR_SEVERITY == "warning":
            self.report.warning("LINK002", self.article.source, line, message, hint)
        else:
            self.report.error("LINK002", self.article.source, line, message, hint)

    def _broken(self, href: str, why: str) -> None:
        code = "LINK003" if why == _UNPUBLISHED else "LINK001"
        message = f"liên kết '{href}' hỏng: {why}"
        hint = ("liên kết tới bài khác bằng đường dẫn tệp, ví dụ [..](../bai-khac/index.md), hoặc địa chỉ "
                "bắt đầu bằng '/'; kiểm tra tên thư mục và chính tả")
        if code == "LINK003":
            self.report.warning(code, self.article.source, self._line(href), message,
                                "xuất bản bài đích trước, hoặc bỏ liên kết")
        else:
            self.report.error(code, self.article.source, self._line(href), message, hint)

    def _line(self, href: str) -> int:
        """File line of the n-th occurrence of `href` in the Markdown (Python-Markdown keeps no lines)."""
        a = self.article
        if self._body is None:  # read again only to point at a problem: bodies are not kept in memory
            self._body = body_of(Path(a.file), a.digest, a.body_line) or ""
        body = self._body
        start = self._searched.get(href, 0)
        for needle in (href, html.escape(href, quote=False), unquote(href)):
            pos = body.find(needle, start)
            if pos >= 0:
                self._searched[href] = pos + 1
                return a.body_line + body.count("\n", 0, pos)
        return a.body_line


def _check_alt(article: Article, report: Reporter) -> None:
    """IMG006: a photo that blind readers would hear as nothing — no alt text and no caption."""
    alts = {p.src: p.alt for p in article.photos if p.alt}
    for p in article.photos:
        if not p.alt and not p.caption:
            report.warning("IMG006", article.source, p.line, f"ảnh '{p.src}' không có mô tả (alt) hay chú thích",
                           f"thêm alt: \"mô tả nội dung ảnh\" hoặc caption: \"...\" cho ảnh {p.src}")
    for src, caption, line in article.body_images:
        if not caption.strip() and not alts.get(src):
            report.warning("IMG006", article.source, line, f"ảnh '{src}' không có mô tả (alt) hay chú thích",
                           f"viết chú thích trong ngoặc vuông: ![Mô tả ảnh]({src})")


def real_paths() -> "_RealPaths":
    """A memo of symlink-free paths that a long-running preview may keep between builds (a folder that becomes
    a symlink while it runs is seen at its restart)."""
    return _RealPaths()


class _RealPaths:
    """Symlink-free absolute paths, one lstat per folder: resolving every article's path from the root up
    cost a third of a second per build on a 2 000-article site."""

    def __init__(self) -> None:
        self.memo: dict[str, str] = {}

    def __call__(self, path: Path | str) -> str:
        return self._real(os.path.abspath(path))

    def _real(self, path: str) -> str:
        hit = self.memo.get(path)
        if hit is None:
            parent, name = os.path.split(path)
            if not name or parent == path:
                hit = path
            else:
                joined = os.path.join(self._real(parent), name)
                hit = os.path.realpath(joined) if os.path.islink(joined) else joined
            self.memo[path] = hit
        return hit


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text)
