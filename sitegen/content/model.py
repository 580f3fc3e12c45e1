"""Stage 2, model: validate front matter into frozen `Article`s and assemble the `Site` (categories, tags).

Everything here is plain data. Validation names the file and the line of the offending field; an article
with errors is reported and left out, so all mistakes of a run are shown at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import io
import pickle
import posixpath
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from ..config import SiteConfig
from ..diagnostics import Diagnostic, Reporter
from .near import nearest
from .read import SourceDoc, image_refs
from .slugs import slugify
from ..pickling import by_fields

KNOWN_FIELDS = {
    "title", "date", "updated", "category", "tags", "summary", "author", "source", "views", "comments",
    "rating", "image", "photos", "slug", "draft", "featured", "aliases", "expires", "template",
}
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_REMOTE = ("http://", "https://", "//")


@by_fields
@dataclass(frozen=True, slots=True)
class PhotoRef:
    """A photo an article uses: `src` as the editor wrote it, `file` the checked file on disk (None if remote)."""

    src: str
    file: Path | None
    caption: str = ""
    alt: str = ""
    line: int = 0


@by_fields
@dataclass(frozen=True, slots=True)
class Article:
    TRACK = "a"  # read by templates as entry.article: recorded by source file, as its entry
    source: str  # path relative to the site folder: the name editors know the article by
    file: str  # the file as it is named on disk (which may not be NFC)
    bundle: bool
    digest: str
    title: str
    slug: str
    date: dt.datetime  # aware, in the site's time zone
    updated: dt.datetime | None
    category: str  # category slug
    tags: tuple[str, ...]  # tag slugs
    summary: str  # "" when the lead is to be taken from the body
    author: str
    source_name: str
    views: int
    comments: int
    rating_total: int
    rating_count: int
    image: PhotoRef | None
    photos: tuple[PhotoRef, ...]
    draft: bool
    featured: bool
    expires: dt.datetime | None
    aliases: tuple[str, ...]
    template: str
    body_line: int  # file line where the body starts (the body itself is read again when needed: read.body_of)
    body_images: tuple[tuple[str, str, int], ...]  # Markdown images in the body: (src, caption, file line)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # What readers added (readers.figures.Figures: views, votes, approved comments), already summed into views, comments
    # and rating_*; kept apart so the page widgets can add fresher collector figures to the front matter baseline.
    collected: Any = None
    title_line: int = 1  # file line of the title, for diagnostics that concern several articles
    slug_line: int = 0  # file lines of `slug` and `aliases` (0: not written), for the address diagnostics (ROUTE)
    aliases_line: int = 0

    @property
    def track_id(self) -> str:
        return self.source

    @property
    def folder(self) -> Path:
        """Where relative photo paths and links start."""
        return Path(self.file).parent


@dataclass(frozen=True)
class Category:
    TRACK = "c"  # templates' reads of it are recorded by slug (see tracking)
    name: str
    slug: str
    description: str = ""
    declared: bool = True  # listed in site.toml (else created from an article's front matter)

    @property
    def track_id(self) -> str:
        return self.slug


@dataclass(frozen=True)
class Tag:
    TRACK = "t"
    name: str
    slug: str

    @property
    def track_id(self) -> str:
        return self.slug


@dataclass(frozen=True)
class Site:
    config: SiteConfig
    articles: tuple[Article, ...]  # newest first
    categories: tuple[Category, ...]  # menu order: site.toml order, then new ones by name
    tags: Mapping[str, Tag]
    # The first moment after the build's `now` when an article's schedule or expiry changes what is published.
    next_change: dt.datetime | None = None


class _Invalid(Exception):
    """One field is wrong; the article is skipped after reporting it."""


class _Fields:
    """Typed access to one document's front matter that reports errors with the field's line."""

    def __init__(self, doc: SourceDoc, report: Reporter):
        self.doc, self.report = doc, report
        self.ok = True

    def line(self, key: str) -> int:
        return self.doc.lines.get(key, self.doc.lines.get(key.split(".")[0], 1))

    def fail(self, code: str, key: str, message: str, hint: str) -> None:
        self.report.error(code, self.doc.path, self.line(key), message, hint)
        self.ok = False

    def text(self, key: str, required: bool = False, default: str = "") -> str:
        value = self.doc.meta.get(key)
        if value is None:
            if required:
                self.report.error("META001", self.doc.path, 1 if not self.doc.lines else self.line(key),
                                  f"thiếu trường bắt buộc '{key}'",
                                  f"thêm dòng {key}: \"...\" vào phần đầu (giữa hai dòng ---, ngay dòng đầu tệp)")
                self.ok = False
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key in ("author", "source"):
            return str(value)
        if not isinstance(value, str):
            self.fail("META002", key, f"'{key}' phải là chuỗi chữ, nhưng đang là {_kind(value)}",
                      f"đặt giá trị trong dấu ngoặc kép: {key}: \"{value}\"")
            return default
        return unicodedata.normalize("NFC", value.strip())

    def count(self, key: str) -> int:
        value = self.doc.meta.get(key, 0)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail("META002", key, f"'{key}' phải là số nguyên không âm, nhưng đang là {_kind(value)} {value!r}",
                      f"ví dụ: {key}: 120")
            return 0
        return value

    def flag(self, key: str) -> bool:
        value = self.doc.meta.get(key, False)
        if not isinstance(value, bool):
            self.fail("META002", key, f"'{key}' chỉ nhận true hoặc false, nhưng đang là {value!r}", f"{key}: true")
            return False
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.doc.meta.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("META002", key, f"'{key}' phải là danh sách, nhưng đang là {_kind(value)}",
                      f"viết mỗi mục trên một dòng bắt đầu bằng '- ', hoặc {key}: [\"a\", \"b\"]")
            return ()
        out = []
        for i, item in enumerate(value):
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                item = str(item)
            if not isinstance(item, str) or not item.strip():
                self.fail("META002", f"{key}.{i}", f"mục {i + 1} của '{key}' phải là chuỗi chữ không rỗng",
                          "đặt mỗi mục trong dấu ngoặc kép")
                continue
            out.append(unicodedata.normalize("NFC", item.strip()))
        return tuple(out)

    def date(self, key: str, tz: dt.tzinfo, required: bool = False) -> dt.datetime | None:
        value = self.doc.meta.get(key)
        if value is None:
            if required:
                self.report.error("META001", self.doc.path, 1 if not self.doc.lines else self.line(key),
                                  f"thiếu trường bắt buộc '{key}'", f"thêm dòng {key}: \"2024-03-29 17:58\"")
                self.ok = False
            return None
        result = parse_date(value, tz)
        if isinstance(result, str):
            self.fail("META003" if result != "gap" else "DATE002", key,
                      f"'{key}' không hợp lệ: {value!r}" if result != "gap"
                      else f"giờ {value} không tồn tại ở múi giờ của trang (chuyển giờ mùa hè)",
                      "viết dạng \"YYYY-MM-DD HH:MM\", ví dụ \"2024-03-29 17:58\"")
            return None
        return result


def parse_date(value: Any, tz: dt.tzinfo) -> dt.datetime | str:
    """Front matter date to an aware datetime in `tz`; a string describing the problem when invalid."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        s = value.strip()
        m = _DATE_RE.match(s)
        try:
            if m:
                y, mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
                moment = dt.datetime(y, mo, d, h, mi, sec)
            else:
                moment = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            return "invalid"
    else:
        return "invalid"
    try:
        if moment.tzinfo is None:
            local = moment.replace(tzinfo=tz)
            # A wall time skipped by a DST change does not survive a round trip through UTC.
            if local.astimezone(dt.timezone.utc).astimezone(tz).replace(tzinfo=None) != moment:
                return "gap"
            return local
        return moment.astimezone(tz)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by the time zone
        return "invalid"


@by_fields
@dataclass(frozen=True, slots=True)
class Checked:
    """One file's validation, everything about it that depends on the file and the configuration alone: the
    build cache keeps these, so an unchanged file is never parsed or validated again."""

    source: str
    article: Article | None  # None when invalid
    tag_names: tuple[tuple[str, str], ...]  # (slug, name) as the file writes them
    new_category: tuple[str, str, int] | None  # (name, slug, line) of a category site.toml does not declare
    diagnostics: tuple[Diagnostic, ...]
    strict: bool
    # article_digest(article), made once per version of the file (where it is validated, in the workers of a
    # cold build) instead of in every build that compares what templates read (templates.entry_digest).
    digest: str = ""
    # An invalid file's article as far as its front matter could be read (`article` is None): never published,
    # but its photos and links are checked all the same (build.ahead), so that one run lists every problem.
    provisional: Article | None = None


def check(doc: SourceDoc, config: SiteConfig, strict: bool = False) -> Checked:
    by_name = {_fold(c.name): c.slug for c in config.categories}
    local = Reporter(strict=strict)
    article, tag_names, new_category, provisional = _article(doc, config, by_name, local)
    return Checked(doc.path, article, tag_names, new_category, tuple(local.diagnostics), strict,
                   article_digest(article) if article is not None else "",
                   provisional if article is None else None)


def article_digest(article: Article) -> str:
    """A digest of every field of `article` (equal digests, equal articles), as templates.entry_digest uses it."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.fast = True  # no memo: equal values give equal bytes whether or not they share objects
    pickler.dump(article)
    return hashlib.blake2b(out.getvalue(), digest_size=16).hexdigest()


def reusable(checked: Checked, strict: bool) -> bool:
    """Whether a remembered validation still holds: same strictness, and the photos it found are still there
    (a photo is checked when the article is validated, and deleting it does not touch the article file)."""
    a = checked.article
    if checked.strict != strict or (a is not None and not getattr(checked, "digest", "")):
        return False  # (a row from a version that did not keep the article's digest: validated once more)
    return a is None or all(p.file is None or p.file.is_file() for p in ([a.image] if a.image else []) + list(a.photos))


# What an article shows only on the pages that show it (its own page, listings, feeds, related blocks). A change
# confined to these leaves every route, order, listing, related block and photo of the site where it was.
CONTENT_FIELDS = ("digest", "title", "summary", "author", "source_name", "comments", "rating_total", "rating_count",
                  "body_line", "extra", "collected", "title_line", "slug_line", "aliases_line")


def shape(checked: Checked) -> tuple:
    """Everything of a validated file but its CONTENT_FIELDS, photo words and line numbers: two files of the
    same shape put the same article in the same places (an edit build re-renders only the pages that show it).
    Of a photo only its file decides anything beyond the article's own entry; line numbers move with every
    edit above them and only ever appear in diagnostics, which the edit build compares."""
    a = checked.article
    if a is not None:
        a = replace(a, **{f: None for f in CONTENT_FIELDS},
                    image=replace(a.image, line=0, caption="", alt="") if a.image else None,
                    photos=tuple(replace(p, line=0, caption="", alt="") for p in a.photos),
                    body_images=tuple((src, "", 0) for src, _, _ in a.body_images))
    category = checked.new_category[:2] if checked.new_category else None
    return checked.source, a, checked.tag_names, category, checked.strict


def build_site(docs: list[SourceDoc], config: SiteConfig, report: Reporter, *, drafts: bool = False,
               now: dt.datetime | None = None) -> Site:
    """Validate every document and assemble the site (see `assemble`)."""
    return assemble([check(doc, config, report.strict) for doc in docs], config, report, drafts=drafts, now=now)


def assemble(checked: list[Checked], config: SiteConfig, report: Reporter, *, drafts: bool = False,
             now: dt.datetime | None = None) -> Site:
    """The site from validated files (in discovery order). Drafts, future and expired articles are left out
    unless `drafts` (preview) is set."""
    tz = config.tz
    now = now or dt.datetime.now(tz)
    categories = {c.slug: Category(c.name, c.slug, c.description) for c in config.categories}
    tags: dict[str, Tag] = {}
    articles: list[Article] = []
    moments: list[dt.datetime] = []
    for tslug, name in tag_names(checked).items():
        tags[tslug] = Tag(name, tslug)
    for c in checked:
        article = c.article
        report.extend(c.diagnostics)
        if c.new_category is not None and c.new_category[1] not in categories:
            # Only when site.toml lists no categories (else an unknown one is an error of its article: META004).
            name, slug, line = c.new_category
            categories[slug] = Category(name, slug, declared=False)
        if article is None:
            continue
        if drafts or not article.draft:
            moments += [m for m in (article.date, article.expires) if m is not None and m > now]
        if not drafts and (article.draft or article.date > now or (article.expires and article.expires <= now)):
            continue
        articles.append(article)
    articles.sort(key=lambda a: (a.date, a.source), reverse=True)
    _same_titles(articles, report)
    used = {a.category for a in articles}
    declared = [categories[c.slug] for c in config.categories]
    created = sorted((c for s, c in categories.items() if not c.declared and s in used), key=lambda c: c.name)
    used_tags = {t for a in articles for t in a.tags}
    return Site(config, tuple(articles), tuple(declared + created),
                {s: t for s, t in sorted(tags.items()) if s in used_tags}, min(moments, default=None))


def tag_names(checked: Iterable[Checked]) -> dict[str, str]:
    """Each tag's name by its slug: as the first file (in discovery order) that names it writes it, unpublished
    files included (a draft may name a tag before an article publishes it)."""
    return {slug: next(iter(names)) for slug, names in tag_spellings(checked).items()}


def tag_spellings(checked: Iterable[Checked]) -> dict[str, dict[str, int]]:
    """Each tag's spellings by its slug, first written first (the tag's name), with how many files write each."""
    return _spellings((slug, name) for c in checked for slug, name in c.tag_names)


def category_spellings(checked: Iterable[Checked]) -> dict[str, dict[str, int]]:
    """Likewise for the categories articles make (site.toml declaring none): the first file naming one names it."""
    return _spellings((c.new_category[1], c.new_category[0]) for c in checked if c.new_category is not None)


def _spellings(named: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    spellings: dict[str, dict[str, int]] = {}
    for slug, name in named:
        names = spellings.setdefault(slug, {})
        names[name] = names.get(name, 0) + 1
    return spellings


def title_key(title: str) -> str:
    """What makes two headlines the same (META006). Titles are NFC already (_Fields.text): case and spacing are
    what may differ; lower() and `in` tests cost a third of casefold() and split()."""
    t = title.lower()
    return " ".join(t.split()) if "  " in t or "\t" in t or "\n" in t else t


def _same_titles(articles: list[Article], report: Reporter) -> None:
    """META006: two published articles with one headline confuse readers, listings and search results; each
    is warned about, naming the others."""
    keys = [title_key(a.title) for a in articles]  # a Counter before any grouping: 0.15 s at 100 000 articles
    twice = {k for k, n in Counter(keys).items() if n > 1}
    if not twice:
        return
    by_title: dict[str, list[Article]] = {}
    for key, a in zip(keys, articles):
        if key in twice:
            by_title.setdefault(key, []).append(a)
    for same in by_title.values():
        for a in same:
            others = ", ".join(o.source for o in sorted(same, key=lambda o: o.source) if o is not a)
            report.warning("META006", a.source, a.title_line, f"tiêu đề '{a.title}' trùng với tiêu đề của {others}",
                           "đặt tiêu đề khác cho một trong các bài (thêm địa danh, thời gian...), hoặc xóa bài đăng trùng")


def _article(doc: SourceDoc, config: SiteConfig, by_name: dict[str, str], report: Reporter,
             ) -> tuple[Article | None, tuple[tuple[str, str], ...], tuple[str, str, int] | None, Article | None]:
    """One document's article (None if invalid), its tags as (slug, name), the category it names that
    site.toml does not declare, as (name, slug, line), and the article as far as it could be read (see
    Checked.provisional). Depends on nothing but its arguments."""
    f = _Fields(doc, report)
    if not doc.lines and not doc.meta:
        report.error("META001", doc.path, 1, "bài viết không có phần đầu (front matter) với tiêu đề và ngày",
                     "dòng đầu tiên của tệp phải là '---', rồi title: \"...\", date: \"...\", rồi '---'")
        return None, (), None, None
    title = f.text("title", required=True)
    if f.ok and not title:
        f.fail("META001", "title", "tiêu đề đang để trống", "viết tiêu đề bài: title: \"...\"")
    tz = config.tz
    date = f.date("date", tz, required=True)
    updated = f.date("updated", tz)
    expires = f.date("expires", tz)
    folder = doc.abspath.parent
    name = folder.name if doc.bundle else doc.abspath.stem
    slug_field = f.text("slug")
    slug = slugify(slug_field or name)
    if not slug:
        f.fail("ROUTE003", "slug" if slug_field else "title",
               f"không tạo được đường dẫn từ '{slug_field or name}' (không có chữ cái hoặc chữ số)",
               "thêm trường slug: \"ten-bai-khong-dau\"")
    category, new_category = _category(f, doc, config, by_name)
    tag_slugs: list[str] = []
    tag_names: list[tuple[str, str]] = []
    for i, name in enumerate(f.strings("tags")):
        tslug = slugify(name)
        if not tslug:
            f.fail("META005", f"tags.{i}", f"thẻ '{name}' không có chữ cái hoặc chữ số", "xóa hoặc sửa thẻ")
            continue
        if tslug not in tag_slugs:
            tag_slugs.append(tslug)
            tag_names.append((tslug, name))
    rating_total, rating_count = _rating(f)
    image = _photo(f, doc, "image", doc.meta.get("image"), config)
    photos = tuple(p for i, item in enumerate(_list(f, "photos"))
                   if (p := _photo(f, doc, f"photos.{i}", item, config)) is not None)
    aliases = tuple(a for i, a in enumerate(f.strings("aliases")) if _alias_ok(f, i, a))
    template = f.text("template")
    if template and (not re.fullmatch(r"[a-z0-9_\-][a-z0-9_\-/]*\.html", template) or ".." in template):
        f.fail("META005", "template", f"giao diện '{template}' không hợp lệ", "ví dụ: template: \"article.html\"")
    article = Article(
        source=doc.path, file=str(doc.abspath), bundle=doc.bundle, digest=doc.digest, title=title, slug=slug,
        date=date or dt.datetime(1970, 1, 1, tzinfo=tz), updated=updated, category=category or "",
        tags=tuple(tag_slugs), summary=f.text("summary"), author=f.text("author"), source_name=f.text("source"),
        views=f.count("views"), comments=f.count("comments"), rating_total=rating_total, rating_count=rating_count,
        image=image, photos=photos, draft=f.flag("draft"), featured=f.flag("featured"), expires=expires,
        aliases=aliases, template=template, body_line=doc.body_line,
        body_images=tuple(image_refs(doc.body, doc.body_line)),
        extra={k: v for k, v in doc.meta.items() if k not in KNOWN_FIELDS}, title_line=f.line("title"),
        slug_line=doc.lines.get("slug", 0), aliases_line=doc.lines.get("aliases", 0),
    )
    _captions(doc, article, report)
    if doc.meta.get("draft") is not True:
        _placeholder(doc, f)
    return (article if f.ok and category else None), tuple(tag_names), new_category, article


# The body `sitegen new` writes (scaffold): never published; compared with all spacing folded.
PLACEHOLDER_BODY = "Viết nội dung bài ở đây. Mỗi đoạn cách nhau một dòng trống.\n"
_PLACEHOLDER = " ".join(PLACEHOLDER_BODY.split())


def _placeholder(doc: SourceDoc, f: _Fields) -> None:
    """BODY001: the body `sitegen new` writes is never published; left inside a real body, it is a warning."""
    body = doc.body
    if len(body) < 20 * len(_PLACEHOLDER) and " ".join(body.split()) == _PLACEHOLDER:  # however spaced or broken
        first = len(body) - len(body.lstrip())
        f.report.error("BODY001", doc.path, doc.body_line + body.count("\n", 0, first),
                       f"nội dung bài vẫn là câu mẫu của sitegen new ('{_PLACEHOLDER}'): bài này không được đăng",
                       "viết nội dung bài thay cho câu mẫu; chưa viết xong thì ghi lại dòng draft: true ở phần đầu")
        f.ok = False
    elif (at := body.find(_PLACEHOLDER)) >= 0:  # the line as `new` wrote it, kept above or below real text
        f.report.warning("BODY001", doc.path, doc.body_line + body.count("\n", 0, at),
                         f"câu mẫu của sitegen new ('{_PLACEHOLDER}') vẫn còn trong nội dung bài", "xóa dòng này")


def _captions(doc: SourceDoc, article: Article, report: Reporter) -> None:
    """IMG007: a photo of the album also placed in the body with another caption. Both are shown, each where it
    is written (the body's words under the photo in the text, `caption` under it in the album): said, so that
    an edit made in one place only is noticed."""
    album = {p.src: p for p in article.photos if p.caption}
    for src, caption, line in article.body_images:
        p = album.get(unicodedata.normalize("NFC", src))
        said = " ".join(caption.split())
        if p is None or not said or said == " ".join(p.caption.split()):
            continue
        report.warning("IMG007", doc.path, line,
                       f"ảnh '{src}' có hai chú thích khác nhau: trong bài hiện '{said}', ở album ảnh cuối bài "
                       f"hiện '{p.caption}' (ảnh khai báo trong photos ở dòng {p.line})",
                       "chép một chú thích sang chỗ kia cho giống nhau; hoặc để trống ngoặc vuông "
                       f"![]({f'<{src}>' if ' ' in src else src}) thì ảnh trong bài không có chú thích")


def _category(f: _Fields, doc: SourceDoc, config: SiteConfig,
              by_name: dict[str, str]) -> tuple[str | None, tuple[str, str, int] | None]:
    """The category slug, and (name, slug, line) when it is not declared in site.toml."""
    name = f.text("category")
    if not name:
        parts = PurePosixPath(doc.path).parts  # content/<category>/...
        if len(parts) < 3:
            f.fail("META001", "category", "bài nằm ngay trong content/ nên cần trường 'category'",
                   "thêm category: \"Thời sự\" hoặc chuyển bài vào thư mục của chuyên mục")
            return None, None
        name = unicodedata.normalize("NFC", parts[1])
    key = _fold(name)
    if key in by_name:
        return by_name[key], None
    slug = slugify(name)
    if not slug:
        f.fail("META005", "category", f"chuyên mục '{name}' không có chữ cái hoặc chữ số", "sửa tên chuyên mục")
        return None, None
    if any(c.slug == slug for c in config.categories):
        return slug, None
    if config.categories:  # a typo would silently add a menu entry on every page: refused, with the nearest
        _unknown_category(f, name, "category" in doc.meta, config)
        return None, None
    return slug, (name, slug, f.line("category"))


def _unknown_category(f: _Fields, name: str, written: bool, config: SiteConfig) -> None:
    cats = config.categories
    guesses = nearest(name, [c.name for c in cats], slugs={c.name: c.slug for c in cats})
    ask = f"thêm [[categories]] name = \"{name}\" vào site.toml"
    if written:
        message = f"chuyên mục '{name}' không có trong site.toml"
        if guesses:
            hint = f"sửa thành category: \"{guesses[0]}\""
            if guesses[1:]:
                hint += " (hoặc " + ", ".join(f'"{g}"' for g in guesses[1:]) + ")"
        else:
            hint = "ghi một trong các chuyên mục: " + ", ".join(f'"{c.name}"' for c in cats)
        hint += f"; cần chuyên mục mới thì nhờ quản trị {ask}"
    else:
        message = f"bài nằm trong thư mục '{name}', không phải thư mục của một chuyên mục trong site.toml"
        best = [c for g in guesses for c in cats if c.name == g][:1] or [cats[0]]
        hint = (f"thêm category: \"{best[0].name}\" vào phần đầu, hoặc chuyển bài vào thư mục "
                f"content/{best[0].slug}/")
    f.fail("META004", "category", message, hint)


def _rating(f: _Fields) -> tuple[int, int]:
    raw = f.doc.meta.get("rating")
    if raw is None:
        return 0, 0
    if not isinstance(raw, dict):
        f.fail("META002", "rating", "'rating' phải có dạng total: và count:", "rating:\n  total: 12\n  count: 3")
        return 0, 0
    total, count = raw.get("total", 0), raw.get("count", 0)
    for key, value in (("total", total), ("count", count)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            f.fail("META002", f"rating.{key}", f"rating.{key} phải là số nguyên không âm", f"{key}: 0")
            return 0, 0
    if not count <= total <= 5 * count:
        f.fail("META005", "rating", f"tổng điểm {total} không khớp {count} lượt đánh giá (mỗi lượt 1-5 điểm)",
               "total phải nằm giữa count và 5 × count")
        return 0, 0
    return total, count


def _list(f: _Fields, key: str) -> list:
    value = f.doc.meta.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        f.fail("META002", key, f"'{key}' phải là danh sách", f"{key}:\n  - src: \"anh-01.jpg\"\n    caption: \"...\"")
        return []
    return value


def _photo(f: _Fields, doc: SourceDoc, key: str, item: Any, config: SiteConfig) -> PhotoRef | None:
    if item is None:
        return None
    if isinstance(item, str):
        item = {"src": item}
    if not isinstance(item, dict) or not isinstance(item.get("src"), str) or not item["src"].strip():
        f.fail("META002", key, "mỗi ảnh cần src: \"ten-anh.jpg\"", "  - src: \"anh-01.jpg\"\n    caption: \"...\"")
        return None
    caption, alt = item.get("caption", ""), item.get("alt", "")
    if not isinstance(caption, str) or not isinstance(alt, str):
        f.fail("META002", key, "caption và alt của ảnh phải là chuỗi chữ", "đặt chúng trong dấu ngoặc kép")
        return None
    line = f.line(f"{key}.src") if not key == "image" else f.line(key)
    src = unicodedata.normalize("NFC", item["src"].strip())
    ref = resolve_photo(src, doc.abspath.parent, config.content_dir)
    if isinstance(ref, str):
        code = "IMG002" if ref == "escape" else "IMG001"
        message = (f"ảnh '{src}' nằm ngoài thư mục content/" if ref == "escape"
                   else f"không tìm thấy ảnh '{src}' bên cạnh bài viết")
        f.fail(code, f"{key}.src" if key != "image" else key, message,
               "đặt ảnh vào cùng thư mục với index.md và ghi đúng tên tệp (phân biệt chữ hoa, chữ thường)")
        return None
    return PhotoRef(src, ref, unicodedata.normalize("NFC", caption.strip()), unicodedata.normalize("NFC", alt.strip()), line)


def resolve_photo(src: str, folder: Path, content_dir: Path) -> Path | None | str:
    """The file a photo reference names: a Path, None for a remote URL, 'escape' or 'missing' when unusable."""
    if src.startswith(_REMOTE):
        return None
    parts = urlsplit(src)
    path = unquote(parts.path).replace("\\", "/")
    if not path or parts.scheme or path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "escape"
    normal = posixpath.normpath(path)
    target = (folder / normal).resolve()
    if not target.is_relative_to(content_dir.resolve()):
        return "escape"
    if not target.is_file():
        found = _same_name_on_disk(folder, normal)
        if found is None:
            return "missing"
        return found if found.is_relative_to(content_dir.resolve()) else "escape"
    return target


def _same_name_on_disk(folder: Path, relative: str) -> Path | None:
    """The file `relative` names, when the disk writes its name with other Unicode code points: a photo copied
    from a Mac has its Vietnamese letters decomposed (NFD), the front matter composed (NFC) like all text we
    read, and Linux compares names byte by byte. Each folder on the way is listed, names compared in NFC."""
    at = folder
    for part in relative.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            at = at.parent
            continue
        want = unicodedata.normalize("NFC", part)
        try:
            match = next((e for e in at.iterdir() if unicodedata.normalize("NFC", e.name) == want), None)
        except OSError:
            return None
        if match is None:
            return None
        at = match
    return at.resolve() if at.is_file() else None


def _alias_ok(f: _Fields, i: int, alias: str) -> bool:
    clean = posixpath.normpath("/" + alias.lstrip("/"))
    if ".." in alias.split("/") or "\\" in alias or "%" in alias or clean in ("/", "."):
        f.fail("ROUTE004", f"aliases.{i}", f"địa chỉ cũ '{alias}' không hợp lệ", "ví dụ: aliases: [\"/tin-cu/bai-viet.html\"]")
        return False
    return True


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold().strip()


def _kind(value: Any) -> str:
    return {bool: "đúng/sai (true/false)", int: "số", float: "số", list: "danh sách", dict: "bảng",
            dt.date: "ngày", dt.datetime: "ngày giờ"}.get(type(value), type(value).__name__)


def most_read(site: Site, count: int) -> tuple[int, ...]:
    """Indices of the most-viewed articles; newer first among equals."""
    order = sorted(range(len(site.articles)), key=lambda i: (-site.articles[i].views, i))
    return tuple(order[:count])


@dataclass(frozen=True)
class Related:
    """Every article's related articles (`lists`, by position in site order), and what they were made from (`rows`:
    each article's source, time, category and tags, one line each in site order), which lets the next build redo
    only the articles whose neighbourhood changed. One string, not a structure of 100 000s of small objects: at
    100 000 articles those would stay in the build's memory after the stage (the build must fit 2 GiB)."""

    count: int
    window: int
    lists: tuple[tuple[int, ...], ...]
    rows: str


def related_lines(articles: Sequence[Article]) -> list[str]:
    """What each article's related articles are made from, one line each (source, time, category, tags): the
    lines of Related.rows, and what a build keys the answer by."""
    return [f"{a.source}\t{a.date.timestamp()!r}\t{a.category}\t{','.join(a.tags)}" for a in articles]


def related(site: Site, count: int, window: int = 12, previous: Related | None = None,
            lines: Sequence[str] | None = None) -> Related:
    """For every article, its related articles: see `related_changes`."""
    return related_changes(site, count, window, previous, lines)[0]


def related_changes(site: Site, count: int, window: int = 12, previous: Related | None = None,
                    lines: Sequence[str] | None = None) -> tuple[Related, frozenset[int] | None]:
    """`related`, and the positions of the articles that were scored anew (None: all were): every other
    article's list holds the articles it held in `previous`.

    For every article, the articles that share most tags with it (then its category), nearest in time first
    (then the newest).

    Only the `window` neighbours in time within each shared tag or category are scored: related news is
    recent news, and it keeps this linear in the number of articles instead of quadratic. What an article gets
    depends only on those neighbourhoods (and their times), so given the `previous` build's answer only the
    articles near a change in some tag or category are scored again: an addition rescores a few dozen, not the
    whole site. (Scores are kept negative and ranked as plain tuples: a third faster than a Counter and a key
    function, at 10 000 articles.)
    """
    arts = site.articles
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(arts):  # arts is newest first, so every group list is too
        for t in a.tags:
            groups.setdefault("t:" + t, []).append(i)
        groups.setdefault("c:" + a.category, []).append(i)
    stamps = [a.date.timestamp() for a in arts]
    sources = [a.source for a in arts]
    lines = related_lines(arts) if lines is None else lines  # (`lines`: the caller's, of these very articles)
    rows = "\n".join(lines)
    if previous is not None and (previous.count, previous.window, previous.rows) == (count, window, rows):
        return previous, frozenset()
    todo: Iterable[int] = range(len(arts))
    changes = _changed_rows(previous.rows, lines) \
        if previous is not None and (previous.count, previous.window) == (count, window) else None
    if previous is not None and changes is not None:
        old_sources, came, went = changes
        place = {s: i for i, s in enumerate(sources)}
        redo: set[int] = set()
        for key in {k for _, keys in (*came, *went) for k in keys}:
            # The group as it is and as it was (its members as (time, source), in site order: newest first).
            now = [(stamps[i], sources[i]) for i in groups.get(key, ())]
            left = {member for member, keys in came if key in keys}
            before = sorted([*(m for m in now if m not in left), *(m for m, keys in went if key in keys)],
                            reverse=True)
            # The members whose window [n - window, n + window] meets the part of the list that changed, and
            # the articles that left that part (they lost this group).
            short = min(len(now), len(before))
            head = next((n for n in range(short) if now[n] != before[n]), short)
            tail = next((n for n in range(short - head) if now[-1 - n] != before[-1 - n]), short - head)
            redo.update(groups.get(key, ())[max(0, head - window - 1): len(now) - tail + window + 1])
            redo.update(place[s] for _, s in before[head: len(before) - tail] if s in place)
        old_at = {s: j for j, s in enumerate(old_sources)}
        moved = [place.get(s, -1) for s in old_sources]  # an article's position now, by its position then
        todo = sorted(i for i, s in enumerate(sources) if i in redo or s not in old_at)
    result: dict[int, tuple[int, ...]] = {}
    position: dict[str, dict[int, int]] = {}
    for i in todo:
        a = arts[i]
        scores: dict[int, int] = {}
        get = scores.get
        for key, weight in [*(("t:" + t, 2) for t in a.tags), ("c:" + a.category, 1)]:
            found = groups[key]
            at = position.get(key)
            if at is None:
                at = position[key] = {j: n for n, j in enumerate(found)}
            n = at[i]
            for j in found[max(0, n - window): n + window + 1]:
                scores[j] = get(j, 0) - weight
        del scores[i]
        mine = stamps[i]
        best = heapq.nsmallest(count, [(s, abs(stamps[j] - mine), j) for j, s in scores.items()])
        result[i] = tuple(b[2] for b in best)
    if len(result) < len(arts):  # the rest keep what they had: the same articles, at their new positions
        lists = tuple(result[i] if i in result else tuple(moved[j] for j in previous.lists[old_at[sources[i]]])
                      for i in range(len(arts)))
        return Related(count, window, lists, rows), frozenset(result)
    return Related(count, window, tuple(result[i] for i in range(len(arts))), rows), None


def _changed_rows(before: str, lines: Sequence[str]) -> tuple[list[str], list, list] | None:
    """What changed between the last answer's rows (Related.rows) and these `lines`: the sources then, in site
    order, and the articles whose line is new (`came`) or gone (`went`), each as ((time, source), the groups it
    is in). None if a file name holds a tab or a line break: then every article is scored again."""
    old = before.split("\n") if before else []
    old_set, now_set = set(old), set(lines)
    if len(old_set) != len(old) or len(now_set) != len(lines) or any("\n" in x for x in lines):
        return None

    def parsed(line: str) -> tuple[tuple[float, str], set[str]] | None:
        parts = line.split("\t")
        if len(parts) != 4:
            return None
        source, stamp, category, tags = parts
        return (float(stamp), source), {"c:" + category, *("t:" + t for t in tags.split(",") if tags)}

    came = [parsed(x) for x in lines if x not in old_set]
    went = [parsed(x) for x in old if x not in now_set]
    if None in came or None in went or any(x.count("\t") != 3 for x in old):
        return None
    return [x.split("\t", 1)[0] for x in old], came, went
