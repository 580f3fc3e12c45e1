"""Stage 3b, render pages: the Jinja environment, what templates see, and template errors as diagnostics.

Templates are autoescaped (HTML and XML alike) and use StrictUndefined, so a misspelt variable is an error that
names the template line and the page instead of an empty spot on the front page. The site's own `templates/`
override the built-in theme file by file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import os
import pickle
import sys
import traceback
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jinja2
import jinja2.meta
from babel.dates import format_datetime
from babel.numbers import format_decimal
from markupsafe import Markup

from . import tracking
from ..build.cache import digest, digest_text
from ..config import SiteConfig
from ..diagnostics import Reporter
from ..structure.images import ImageInfo
from ..structure.markup import BodyInfo
from ..content.model import Article, Category, Site, Tag, article_digest
from ..structure.routes import Page
from ..pickling import by_fields


@by_fields
@dataclass(frozen=True, slots=True)
class Photo:
    """A photo as templates use it: where it is published, its size and words."""

    url: str  # the <img src> fallback
    width: int
    height: int
    caption: str
    alt: str
    srcset: str = ""  # JPEG variants for <img srcset>
    webp_srcset: str = ""  # WebP variants for <source type="image/webp">
    full: str = ""  # the largest JPEG: the gallery's link target without JavaScript
    og: str = ""  # the 1200x630 social card (featured photo only)
    og_width: int = 0
    og_height: int = 0


class Unreadable(LookupError):
    """An article's HTML could not be read back from the build cache (a damaged row)."""

    def __init__(self, key: str, source: str):
        super().__init__(f"HTML của bài {source} không đọc được từ bộ nhớ đệm .sitegen/")
        self.key, self.source = key, source


@by_fields
@dataclass(frozen=True, slots=True)
class Entry:
    """An article as templates see it: front matter plus everything derived (URL, HTML, photos, lead). What a
    template reads of it is recorded by its source file (see tracking)."""

    TRACK = "e"
    article: Article
    url: str  # root-relative, with the base path
    abs_url: str
    body_key: str  # names the body's HTML in `bodies`
    bodies: Any = field(compare=False, repr=False)  # cache.Reader of the markup table (or anything with .get)
    lead: str = ""  # the lead text (summary, or derived from the first paragraph)
    lead_in_body: bool = False
    has_source_line: bool = False
    image: Photo | None = None  # featured photo: `image`, else the first gallery photo
    gallery: tuple[Photo, ...] = ()
    category: Category | None = None
    tags: tuple[Tag, ...] = ()
    words: int = 0
    pending: bool = False  # scheduled after the build's moment (shown only in preview)
    expired: bool = False  # expired at the build's moment (shown only in preview)

    @property
    def track_id(self) -> str:
        return self.article.source

    @property
    def html(self) -> Markup:
        """The body, fetched when a page shows it: a build holds no article's HTML for long (see pipeline)."""
        found = self.bodies.get(self.body_key)
        if found is None:  # the build made sure it was there: a damaged cache row, never an empty article
            raise Unreadable(self.body_key, self.article.source)
        return Markup(found)

    def __getattr__(self, name: str) -> Any:
        # Front matter fields (and unknown ones editors add) read straight through: entry.title, entry.views...
        article = object.__getattribute__(self, "article")
        if hasattr(article, name):
            return getattr(article, name)
        if name in article.extra:
            return article.extra[name]
        raise AttributeError(name)


def make_entries(site: Site, urls: Mapping[int, str], bodies: list[BodyInfo], body_keys: list[str], html: Any,
                 photos: list[Mapping[str, ImageInfo | None]], now: dt.datetime,
                 memo: dict | None = None) -> tuple[Entry, ...]:
    """What templates see of each article. `memo` (the preview's, between builds) returns the same Entry for the
    same arguments of `entry_maker`'s function, which spares making thousands of unchanged entries on every save."""
    cats = {c.slug: c for c in site.categories}
    make = entry_maker(site.config, cats, site.tags, now)
    out = []
    for i, a in enumerate(site.articles):
        body, infos = bodies[i], photos[i]
        inputs = None
        if memo is not None:
            # Every argument of `make`, and what it reads of the site (its category and tags); of `now`, only what
            # it decides (pending, expired), checked on the entry found: with the moment itself in the key, no
            # entry was ever found again by the next build.
            try:
                inputs = (a, repr(a.extra), urls[i], tuple(sorted(infos.items())), cats[a.category],
                          tuple(site.tags[t] for t in a.tags if t in site.tags), body, body_keys[i])
                hit = memo.get(inputs)
            except TypeError:  # an unhashable value: no memo for this one
                inputs = hit = None
            if hit is not None and hit.pending == (a.date > now) and hit.expired == bool(a.expires and a.expires <= now):
                out.append(hit)
                continue
        entry = make(a, urls[i], body, body_keys[i], html, infos)
        if inputs is not None:
            memo[inputs] = entry
        out.append(entry)
    return tuple(out)


def entry_maker(cfg: SiteConfig, cats: Mapping[str, Category], site_tags: Mapping[str, Tag], now: dt.datetime,
                ) -> Callable[[Article, str, BodyInfo, str, Any, Mapping[str, ImageInfo | None]], Entry]:
    """make(article, url, body summary, body key, html reader, photo infos) -> its Entry, for one site's
    categories and tags at the build's moment."""

    def make(a: Article, url: str, body: BodyInfo, body_key: str, html: Any,
             infos: Mapping[str, ImageInfo | None]) -> Entry:
        tags = tuple(site_tags[t] for t in a.tags if t in site_tags)

        def photo(src: str, caption: str, alt: str) -> Photo | None:
            info = infos.get(src)
            return Photo(info.url, info.width, info.height, caption, alt or caption, info.srcset, info.webp_srcset,
                         info.full, info.og, info.og_width, info.og_height) if info else None

        gallery = tuple(p for ref in a.photos if (p := photo(ref.src, ref.caption, ref.alt)))
        image = photo(a.image.src, a.image.caption, a.image.alt) if a.image else None
        if image is None and gallery:
            image = gallery[0]
        if image is not None and not image.alt:
            image = replace(image, alt=a.title)
        lead = a.summary or body.lead_text
        return Entry(a, cfg.url(url), cfg.absolute_url(url), body_key, html, lead, body.lead_in_body and not a.summary,
                     body.has_source_line, image, gallery, cats[a.category], tags, body.words, a.date > now,
                     bool(a.expires and a.expires <= now))

    return make


_OWN_FIELDS = tuple(f.name for f in fields(Entry) if f.name not in ("article", "bodies", "category", "tags"))


def entry_digest(entry: Entry, article: str = "", shared: dict[int, tuple[Any, str]] | None = None) -> str:
    """A digest of everything a template can read of `entry` (all its fields but the HTML reader; the HTML is
    named by `body_key`, which changes with it): equal digests, equal reads. `article`: model.article_digest of
    entry.article when already known (model.Checked.digest), which spares pickling the article again; `shared`
    keeps the digests of the category and tags, which thousands of entries share, between calls."""
    memo = {} if shared is None else shared
    values = tuple(getattr(entry, name) for name in _OWN_FIELDS)
    parts = (article or article_digest(entry.article), values, _shared_digest(entry.category, memo),
             tuple(_shared_digest(t, memo) for t in entry.tags))
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.fast = True  # no memo: equal values give equal bytes whether or not they share objects
    pickler.dump(parts)
    return hashlib.blake2b(out.getvalue(), digest_size=16).hexdigest()


def _shared_digest(obj: Any, memo: dict[int, tuple[Any, str]]) -> str:
    found = memo.get(id(obj))
    if found is None or found[0] is not obj:  # (the object is kept with its digest: its id is not reused)
        found = memo[id(obj)] = (obj, hashlib.blake2b(pickle.dumps(obj, protocol=5), digest_size=16).hexdigest())
    return found[1]


class Templates:
    """The Jinja environment plus the filters a Vietnamese portal needs."""

    def __init__(self, config: SiteConfig, bytecode_dir: Path | None = None):
        """`bytecode_dir` keeps compiled templates between runs (Jinja checks each against its source)."""
        self.config = config
        loader = jinja2.FileSystemLoader([str(p) for p in config.templates_dirs])
        self._bytecode = _Bytecode(str(bytecode_dir)) if bytecode_dir else None
        self.env = tracking.TrackingEnvironment(
            loader=loader,
            bytecode_cache=self._bytecode,
            autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True, default=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        tz, loc = config.tz, config.locale
        self.env.filters.update(
            datetime_vi=lambda d: _format_dt(d.astimezone(tz), "EEEE - dd/MM/yyyy HH:mm", loc),
            date_vi=lambda d: _format_dt(d.astimezone(tz), "dd/MM/yyyy", loc),
            weekday_vi=lambda d: _format_dt(d.astimezone(tz), "EEEE", loc),
            month_vi=lambda ym: f"Tháng {ym[1]:02d}/{ym[0]}",
            iso=lambda d: d.astimezone(tz).isoformat(timespec="seconds"),
            number=lambda n: _format_number(n, loc),
            truncate_words=_truncate_words,
            json_ld=_json_ld,
            eager=_eager,
        )
        self.env.globals.update(url=config.url, absolute_url=config.absolute_url, asset=self.asset,
                                absolute_image=lambda root_relative: config.origin + root_relative)
        self._asset_urls: dict[str, str] = {}
        # memo key -> its variants: (page-local reads they depend on, output, group name)
        self._memo: dict[str, list[tuple[dict[str, str], Any, str]]] = {}
        self.env.globals["memo"] = self.memo
        # Filters and globals read nothing but their arguments and the configuration, except Jinja's `random`
        # and `lipsum`, which make a page opaque (rendered on every build).
        self.env.pure = {id(f) for name, f in {**self.env.filters, **self.env.globals}.items()
                         if name not in ("random", "lipsum") and callable(f)}
        self.groups: dict[str, tracking.Frame] = {}  # memoised fragments made in this process since taken
        self._template_keys: dict[str, str] = {}
        self._refs_file = bytecode_dir / "references.json" if bytecode_dir else None
        self._refs: dict[str, list[str] | None] = {}
        if self._refs_file is not None:
            try:
                loaded = json.loads(self._refs_file.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self._refs = loaded
            except (OSError, ValueError):
                pass
        self._problems: dict[tuple[str, str, int], tuple[str, str, str, list[str]]] = {}
        self._names = ""
        # Fragments kept by earlier builds (`keep_fragments`): where, and whether a fragment's output still holds.
        self._kept: Any = None
        self._usable: Callable[[str], bool] = lambda group: False
        self._used: Callable[[Sequence[str]], list[str]] | None = None
        self._ahead: dict[str, Any] = {}  # kept fragments read ahead for the pages about to render (prefetch_kept)
        self.fresh: dict[str, Any] = {}  # fragment rows made here since taken (see take_groups)

    def begin_build(self, names: str = "") -> None:
        """Forget what depends on files that may have changed since the last build (assets, templates). `names`
        says which files exist: when it changes, a compiled template may now be overridden by a new file."""
        if names != self._names and self.env.cache is not None:
            self.env.cache.clear()
        elif self.env.cache is not None:
            # Templates whose file changed since (a preview keeps this environment between its builds) are
            # checked here, once a build, and not again while its pages render: with Jinja's auto_reload every
            # get_template stats the template's file (four a page: 4 % of an addition's render at 10 000
            # articles). A build sees one version of each template either way.
            for key in [key for key, template in self.env.cache.items() if not template.is_up_to_date]:
                del self.env.cache[key]
        self.env.auto_reload = False
        self._names = names
        self._asset_urls.clear()
        self._template_keys.clear()
        self._memo.clear()
        self._problems.clear()
        self.groups.clear()
        self.fresh.clear()
        self._kept, self._usable, self._used, self._ahead = None, lambda group: False, None, {}

    def sources_key(self) -> str:
        """A digest of every template this environment can load (the site's own and the theme's), by content."""
        loader = self.env.loader
        assert loader is not None
        return digest(sorted((name, loader.get_source(self.env, name)[0]) for name in self.env.list_templates()))

    def keep_fragments(self, kept: Any, usable: Callable[[str], bool],
                       used: Callable[[Sequence[str]], list[str]] | None = None) -> None:
        """Take memoised fragments from earlier builds too: `kept` reads their rows (dependencies.Deps keeps them:
        "v:<memo key>", the variants made for those arguments, and "o:<group>", a variant's output), and
        `usable(group)` says whether a variant's output still holds (nothing it read has changed since it was
        made). An article's teaser is then made once, not again on every listing page that shifts when an article
        is added (at 100 000 articles, 30 000 teasers an addition). `used(paths)` names the fragments still
        holding that the pages at `paths` used when last rendered (see prefetch_kept)."""
        self._kept, self._usable, self._used = kept, usable, used

    def prefetch_kept(self, paths: Sequence[str]) -> None:
        """Before rendering the pages at `paths`: read at once the kept fragments they used when last rendered
        (see keep_fragments), what they most likely take again, in one query instead of one a fragment as they
        come (an addition's listing pages take some 2 300 teasers at 10 000 articles)."""
        self._ahead = {}
        if self._kept is not None and self._used is not None and paths:
            self._ahead = self._kept.get_many(["o:" + name for name in self._used(paths)])  # ({}: read as they come)

    def end_render(self) -> None:
        """Forget the memoised fragments once every page is rendered (the next build starts without them
        anyway, see begin_build): at 100 000 articles the remembering that follows needs the memory more."""
        self._memo.clear()
        self._kept, self._ahead = None, {}

    def memo(self, macro: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a macro once per distinct arguments in this build: an article's teaser appears on many listing
        pages and the most-read block on every page, always with the same HTML.

        The key is the macro itself (its template, line and the template variables it closes over: two macros
        named alike never share output) and its arguments, tracked objects counting by identity. What the call
        read is kept as a named group and added to every page that uses its output (Hugo's partialCached
        does the same). A macro that reads the page it is on (`page.url`, a page's own variable) keeps one
        variant per distinct value of what it read; one that calls something opaque is never shared."""
        if not isinstance(macro, jinja2.runtime.Macro):
            raise TypeError(f"memo() nhận một macro, không phải {type(macro).__name__}")
        rec = self.env.recorder
        key = tracking.digest("\0".join((tracking.macro_identity(macro), tracking.fold(args),
                                         tracking.fold(sorted(kwargs.items())))))
        variants = self._memo.get(key, ())
        for local, output, group in variants:
            if rec is None or all(rec.current(name) == d for name, d in local.items()):
                if rec is not None:
                    rec.use(group, local)
                return output
        if rec is None:
            return macro(*args, **kwargs)
        kept = None
        if self._kept is not None:
            # A variant that read nothing of its page (a teaser) is valid on any page: its name is known without
            # reading the key's variants (one query of the cache instead of two, 2 300 fewer an addition).
            output = self._take_kept(key, {}, _group_of(key, {}), rec)
            if output is not None:
                return output
            kept = self._kept.get("v:" + key)
            for local, group in kept or ():
                output = self._take_kept(key, local, group, rec)
                if output is not None:
                    return output
        rec.push()
        try:
            output = macro(*args, **kwargs)
        finally:
            frame = rec.pop()
        if frame.opaque:
            rec.opaque(frame.opaque)
            rec.frames[-1].keys |= frame.keys
            rec.frames[-1].groups |= frame.groups
            for k, v in frame.local.items():
                rec.frames[-1].local.setdefault(k, v)
            return output
        group = _group_of(key, frame.local)
        self.groups[group] = frame
        self._remember(key, frame.local, output, group)
        rec.use(group, frame.local)
        if self._kept is not None and isinstance(output, str):  # (for the next builds: see keep_fragments)
            self.fresh["v:" + key] = ((frame.local, group),) + tuple(v for v in kept or () if v[1] != group)
            self.fresh["o:" + group] = output
        return output

    def _take_kept(self, key: str, local: Mapping[str, str], group: str, rec: tracking.Recorder) -> Any:
        """A kept variant's output (see keep_fragments), used here, when what it read still holds on this page;
        else None."""
        if not self._usable(group) or any(rec.current(name) != d for name, d in local.items()):
            return None
        output = self._ahead.get("o:" + group)
        if output is None:
            output = self._kept.get("o:" + group)
        if not isinstance(output, str):  # (Markup, or text from a template that does not escape; None: not kept)
            return None
        self._remember(key, local, output, group)
        rec.use(group, local)
        return output

    def _remember(self, key: str, local: Mapping[str, str], output: Any, group: str) -> None:
        if len(self._memo) >= _MEMO_MAX:  # forget the older half: pages render in order, listings in a row
            for old in list(itertools.islice(self._memo, _MEMO_MAX // 2)):
                del self._memo[old]
        self._memo.setdefault(key, []).append((local, output, group))

    def template_key(self, name: str) -> str:
        """Hash of a template and every template it extends, includes or imports (its page's look)."""
        if name not in self._template_keys:
            seen: dict[str, str] = {}
            todo = [name]
            while todo:
                current = todo.pop()
                if current in seen:
                    continue
                try:
                    source, filename, _ = self.env.loader.get_source(self.env, current)  # type: ignore[union-attr]
                except jinja2.TemplateError:
                    seen[current] = "missing"  # rendering reports it properly
                    continue
                refs = self._remembered_references(source)
                if refs is None:  # a template chosen at run time: depend on all of them
                    refs = tuple(self.env.list_templates())
                seen[current] = digest(filename, source)
                todo += refs
            self._template_keys[name] = digest(sorted(seen.items()))
        return self._template_keys[name]

    def _remembered_references(self, source: str) -> tuple[str, ...] | None:
        """_references, remembered by source beside the compiled templates: parsing every template on every
        build cost a tenth of a second."""
        key = digest_text(source)
        if key not in self._refs:
            found = _references(self.env, source)
            self._refs[key] = None if found is None else list(found)
            if self._refs_file is not None:
                try:
                    tmp = self._refs_file.with_name(f".{self._refs_file.name}.{os.getpid()}")
                    tmp.write_text(json.dumps(self._refs), encoding="utf-8")
                    os.replace(tmp, self._refs_file)
                except OSError:
                    pass
        refs = self._refs[key]
        return None if refs is None else tuple(refs)

    def assets_key(self) -> str:
        """Hash of every theme asset: pages link them with content hashes, so any change shows in the HTML."""
        items = []
        for folder in self.config.assets_dirs:
            for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
                if path.is_file():
                    st = path.stat()
                    items.append((str(path), st.st_size, st.st_mtime_ns))
        return digest(items)

    def asset(self, name: str) -> str:
        """URL of a theme asset with a content hash, so browsers may cache it for a year and still see changes."""
        rec = self.env.recorder
        if rec is not None:
            rec.read(("f", str(name), ""))
        if name not in self._asset_urls:
            digest = ""
            for folder in reversed(self.config.assets_dirs):  # the site's own assets override the theme's
                if (folder / name).is_file():
                    digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()[:10]
                    break
            self._asset_urls[name] = self.config.url("assets/" + name) + (f"?v={digest}" if digest else "")
        return self._asset_urls[name]

    def render(self, page: Page, context: Mapping[str, Any], source: str) -> tuple[bytes, tracking.Frame] | None:
        """Render one page, with what its template read; a template problem is remembered (see `report_errors`)
        and None returned."""
        context = tracking.bind(context, self.env)
        self.env.recorder = recorder = tracking.Recorder(page, context)
        try:
            template = self.env.get_template(page.template)
            data = template.render(context).encode("utf-8")
            return data, recorder.result
        except Unreadable as exc:  # not the template's fault: the build converts that body again (pipeline)
            self._problem("CACHE002", exc.key, 0, exc.source, "", page)  # the pipeline takes these out (see there)
        except jinja2.TemplateNotFound as exc:
            self._problem("TPL003", source, 0, f"không tìm thấy giao diện '{exc.name}'",
                          f"tạo tệp templates/{exc.name} hoặc sửa trường template", page)
        except jinja2.TemplateSyntaxError as exc:
            self._problem("TPL002", _template_rel(exc.filename, self.config), exc.lineno or 0,
                          f"lỗi cú pháp giao diện: {exc.message}", "kiểm tra các cặp {% %} và {{ }}", page)
        except Exception as exc:  # any error raised while a template runs is the template's error
            where, line = _template_frame(exc, self.config)
            self._problem("TPL001", where or page.template, line, f"{type(exc).__name__}: {exc} (bài: {source})",
                          "sửa giao diện ở dòng này, hoặc kiểm tra dữ liệu của bài viết", page)
        finally:
            self.env.recorder = None
            if self._bytecode is not None and self._bytecode.failed:
                self._problem("CACHE001", ".sitegen/cache/jinja", 0, "không ghi được bộ nhớ đệm giao diện "
                              f"({self._bytecode.failed}): giao diện được biên dịch lại ở mỗi lần dựng",
                              "giải phóng dung lượng đĩa, hoặc cấp quyền ghi cho .sitegen/cache", page)
                self._bytecode.failed = ""
        return None

    def take_groups(self) -> tuple[dict[str, tracking.Frame], dict[str, Any]]:
        """The memoised fragments made here since last asked (to send from a worker process to the parent): what
        each read, and the rows that keep their output for the next builds (see keep_fragments)."""
        groups, self.groups = self.groups, {}
        fresh, self.fresh = self.fresh, {}
        return groups, fresh

    def _problem(self, code: str, path: str, line: int, message: str, hint: str, page: Page) -> None:
        key = (code, path, line)
        if key in self._problems:
            self._problems[key][3].append(page.url)
        else:
            self._problems[key] = (message, hint, page.url, [])

    def take_problems(self) -> dict:
        """Problems found so far (to send from a worker process to the parent), forgetting them here."""
        problems, self._problems = self._problems, {}
        return problems

    def add_problems(self, problems: dict) -> None:
        for key, (message, hint, url, more) in problems.items():
            if key in self._problems:
                self._problems[key][3].extend([url, *more])
            else:
                self._problems[key] = (message, hint, url, list(more))

    def report_errors(self, report: Reporter) -> None:
        """One diagnostic per broken template line, naming the first page and how many others failed there."""
        for (code, path, line), (message, hint, url, more) in self._problems.items():
            if code == "CACHE001":  # the cache's, not a page's: never fatal
                report.warning(code, path, line, message, hint)
                continue
            extra = f" và {len(more)} trang khác" if more else ""
            report.error(code, path, line, f"lỗi khi dựng trang /{url}{extra}: {message}", hint)
        self._problems.clear()


class _Bytecode(jinja2.FileSystemBytecodeCache):
    """Jinja's cache of compiled templates, which a full or read-only disk cannot fail: a template it cannot
    keep is compiled again next time (`failed` says why, for a CACHE001 warning). Jinja's own raises, and the
    page whose template was compiled failed with TPL001, "fix the template"."""

    failed = ""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()  # unreadable: compiled from its source

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError as exc:
            self.failed = exc.strerror or str(exc)


# Teasers remembered at once: a build rendering 155 000 pages in one process kept 100s of MB of them otherwise.
_MEMO_MAX = 20_000


@lru_cache(maxsize=512)
def _references(env: jinja2.Environment, source: str) -> tuple[str, ...] | None:
    """Templates a template source names; None if one is chosen at run time (slow: a full parse, so
    Templates remembers the answer by source)."""
    try:
        refs = list(jinja2.meta.find_referenced_templates(env.parse(source)))
    except jinja2.TemplateSyntaxError:
        return ()
    return None if None in refs else tuple(refs)


@lru_cache(maxsize=64)
def _weekdays(locale: str) -> tuple[str, ...]:
    """The locale's names of the days, Monday first, as Babel writes them for `EEEE` (capitalised, as pages show
    them at the start of a date line): asked of Babel once, not once a date."""
    monday = dt.datetime(2024, 1, 1)
    names = (format_datetime(monday + dt.timedelta(days=n), "EEEE", locale=locale) for n in range(7))
    return tuple(name[:1].upper() + name[1:] for name in names)


def _format_dt(stamp: dt.datetime, pattern: str, locale: str) -> str:
    """`stamp` written by one of the theme's CLDR patterns, as Babel's format_datetime writes it (its first letter
    capitalised): the weekday's name is the locale's, the numbers are ASCII digits zero-padded to the pattern's
    width in every locale. Made here, not by Babel, which parses the locale and the pattern again on every call:
    an eighth of a cold build's render time at 10 000 articles, each article's date written on its pages."""
    if pattern == "dd/MM/yyyy":
        return f"{stamp.day:02d}/{stamp.month:02d}/{stamp.year:04d}"
    weekday = _weekdays(locale)[stamp.weekday()]
    if pattern == "EEEE":
        return weekday
    if pattern == "EEEE - dd/MM/yyyy HH:mm":
        return f"{weekday} - {stamp.day:02d}/{stamp.month:02d}/{stamp.year:04d} {stamp.hour:02d}:{stamp.minute:02d}"
    text = format_datetime(stamp, pattern, locale=locale)
    return text[:1].upper() + text[1:]


def _format_number(n: Any, locale: str) -> str:
    """`n` as Babel's format_decimal writes it in `locale`; a whole number of up to 19 digits (views, comments)
    without Babel, where the locale groups digits as Python's `,` does, by its own separator (`_grouping`)."""
    if type(n) is int and 0 <= n < _PLAIN_MAX:
        separator = _grouping(locale)
        if separator is not None:
            return f"{n:,}".replace(",", separator)
    return _format_decimal(n, locale)


_PLAIN_MAX = 10 ** 19


@lru_cache(maxsize=64)
def _grouping(locale: str) -> str | None:
    """The digit separator by which `locale` writes every whole number of 1 to 19 digits as Python's `,` format
    does, by threes, or None when it writes them otherwise (India's lakh grouping; locales that leave four digits
    ungrouped). Grouping depends on the number of digits alone, so one number of each length settles it."""
    million = format_decimal(1_000_000, locale=locale)
    separator = million[1:million.find("0", 1)] if million.startswith("1") else ""
    if not separator:
        return None
    for digits in range(1, 20):
        n = int(("9876543210" * 2)[:digits])
        if f"{n:,}".replace(",", separator) != format_decimal(n, locale=locale):
            return None
    return separator


@lru_cache(maxsize=65536)
def _format_decimal(n: Any, locale: str) -> str:
    return format_decimal(n, locale=locale)


def _truncate_words(text: str, count: int) -> str:
    words = text.split()
    return text if len(words) <= count else " ".join(words[:count]).rstrip(",.;:") + "…"


def _eager(html: Any) -> Any:
    """A fragment's first photo loaded at once (its `loading="lazy"` dropped): the default listing's first teaser, a
    likely Largest Contentful Paint. Applied to a memoised teaser's output rather than passed to it as an argument,
    so that one kept teaser serves the article on any page: an addition moves an article to the top of the next
    listing page, and that teaser's own variant, no page rendered now having used it, was read from the cache one
    query at a time (450 an addition at 10 000 articles), or made again. An attribute's value never holds the
    text (its quotes are escaped), so the first match is the photo's own attribute."""
    if isinstance(html, Markup):
        return Markup(str(html).replace(' loading="lazy"', "", 1))
    return html.replace(' loading="lazy"', "", 1) if isinstance(html, str) else html


def _json_ld(data: Any) -> Markup:
    """JSON for a <script type="application/ld+json"> block; '<' escaped so no text can close the script."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _template_rel(filename: str | None, config: SiteConfig) -> str:
    if not filename:
        return ""
    path = Path(filename)
    for base in (config.root, *[d.parent for d in config.templates_dirs]):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.as_posix()


def _template_frame(exc: BaseException, config: SiteConfig) -> tuple[str, int]:
    """The innermost template file and line in the traceback (Jinja maps compiled code back to templates)."""
    found = ("", 0)
    for frame in traceback.extract_tb(exc.__traceback__ or sys.exc_info()[2]):
        if frame.filename.endswith((".html", ".xml", ".txt")):
            found = (_template_rel(frame.filename, config), frame.lineno or 0)
    return found


def _group_of(key: str, local: Mapping[str, str]) -> str:
    """The name of a memoised fragment's variant: its memo key and what it read of its page (Templates.memo)."""
    return tracking.digest(key + "\0" + repr(sorted(local.items())))
