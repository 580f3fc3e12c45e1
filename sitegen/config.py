"""Read `site.toml` into one frozen, typed `SiteConfig`, the only configuration object a build passes around.

A folder without `site.toml` builds with defaults (Vietnamese, Asia/Ho_Chi_Minh). Errors name the file and line
and are raised as `BuildFailed` so the CLI can print them like any other diagnostic.
"""

from __future__ import annotations

import functools

import hashlib
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .diagnostics import BuildFailed, Diagnostic, ERROR, Reporter

CONFIG_NAME = "site.toml"
# Where the default theme lives: packaged inside sitegen/ when installed from a wheel, else the source tree.
_PACKAGED_THEME = Path(__file__).parent / "_theme"
_SOURCE_THEME = Path(__file__).parent.parent


def default_theme_dirs() -> tuple[Path, Path]:
    """(templates, assets) of the built-in theme."""
    base = _PACKAGED_THEME if (_PACKAGED_THEME / "templates").is_dir() else _SOURCE_THEME
    return base / "templates", base / "assets"


@dataclass(frozen=True)
class CategoryConfig:
    name: str
    slug: str
    description: str = ""


@dataclass(frozen=True)
class SiteConfig:
    """Everything a build needs to know about the site, read once from site.toml."""

    TRACK = "g"  # templates' reads are recorded (see tracking); a change of an option of SHOWN relies on it
    PURE_METHODS = ("url", "absolute_url")
    track_id = ""
    root: Path
    title: str = "Cổng thông tin điện tử"
    description: str = "Tin tức, sự kiện của tỉnh"
    base_url: str = "http://localhost:8000/"
    language: str = "vi"
    locale: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    author: str = "Ban biên tập"
    copyright: str = ""
    per_page: int = 10
    home_latest: int = 10
    home_per_category: int = 4
    home_featured: int = 5
    most_read: int = 5
    related: int = 5
    feed_items: int = 20
    summary_words: int = 55
    permalink: str = "{category}/{slug}/"
    tag_base: str = "chu-de"
    archive_base: str = "luu-tru"
    page_segment: str = "trang"
    max_file_bytes: int = 2_000_000
    max_image_pixels: int = 60_000_000
    image_widths: tuple[int, ...] = (480, 960, 1600)  # responsive photo widths, px (never upscaled)
    image_quality: int = 75  # JPEG and WebP quality of photo variants
    raw_html: str = "allow"  # "allow" (trusted editors) or "safe" (sanitized)
    search: bool = True  # build the Pagefind search index
    stats_url: str = ""  # the readers' figures collector (`sitegen stats serve`); "" = widgets work locally only
    categories: tuple[CategoryConfig, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)  # [params] for templates
    content_dir: Path = Path()
    output_dir: Path = Path()
    templates_dirs: tuple[Path, ...] = ()
    assets_dirs: tuple[Path, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @functools.cached_property  # (every URL of every page goes through it: parsed once, not millions of times)
    def base_path(self) -> str:
        """The URL path the site lives under, always starting and ending with '/': '/' or '/tin-tuc/'."""
        path = urlsplit(self.base_url).path or "/"
        return path if path.endswith("/") else path + "/"

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def url(self, path: str) -> str:
        """Site-relative path ('thoi-su/abc/') to a root-relative URL under the base path."""
        return self.base_path + path.lstrip("/")

    def absolute_url(self, path: str) -> str:
        return self.origin + self.url(path)

    @property
    def fingerprint(self) -> str:
        """Hash of every option the build itself reads (addresses, listings, photos, bodies, the index): caches
        key on it, and a change starts them afresh. Not the options only templates read (`SHOWN`, see `shown_key`)."""
        skip = {"root", "content_dir", "output_dir", *SHOWN}
        return _hash(self, [f.name for f in fields(self) if f.name not in skip])

    @property
    def shown_key(self) -> str:
        """Hash of the options only templates read (`SHOWN`): a change is a build of the whole model that keeps
        every cache and renders the pages whose recorded reads of them changed (see build.delta)."""
        return _hash(self, SHOWN)


# The options no code of the build reads, only templates, and every template read of them is recorded (tracking:
# kind "g", and `params` as a list of its own): the site's name, its line, the footer's author and copyright,
# the collector's address and [params]. An editor changes these most; a change to them keeps every cache (the
# bodies, photos, teasers, what pages read) and renders again only the pages that show them.
SHOWN = ("title", "description", "author", "copyright", "stats_url", "extra")


def _hash(config: SiteConfig, names) -> str:
    items = [(name, repr(getattr(config, name))) for name in names]
    return hashlib.sha256(repr(items).encode()).hexdigest()[:16]


_INT_FIELDS = {f.name for f in fields(SiteConfig) if f.type == "int"}
_STR_FIELDS = {f.name for f in fields(SiteConfig) if f.type == "str"}
_BOOL_FIELDS = {f.name for f in fields(SiteConfig) if f.type == "bool"}
_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def load(root: Path, output: Path | None = None) -> SiteConfig:
    """Read ROOT/site.toml (if present) and return the validated config."""
    root = root.resolve()
    if not root.is_dir():
        # A mistyped --source (a cron line, a script) would otherwise "build" an empty site there, which an upload
        # that follows would publish in place of the portal.
        _fail("CFG006", 0, f"không có thư mục trang {root}",
              "kiểm tra đường dẫn sau --source: thư mục chứa site.toml và content/ (tạo trang mới bằng sitegen init)")
    path = root / CONFIG_NAME
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError as exc:
            _fail("CFG001", 0, f"site.toml không phải UTF-8 ({exc.reason})", "lưu tệp dạng UTF-8")
        except tomllib.TOMLDecodeError as exc:
            line = int(m.group(1)) if (m := re.search(r"line (\d+)", str(exc))) else 0
            _fail("CFG001", line, *_toml_problem(str(exc), line, path))
        except RecursionError:  # tomllib has no nesting limit of its own
            _fail("CFG001", 0, "site.toml có mảng hoặc bảng lồng nhau quá sâu", "viết các giá trị thẳng, không lồng nhau")
        _refuse_control_characters(data, path)
        _refuse_unknown_keys(data, path)
    site = dict(data.pop("site", {})) if isinstance(data.get("site"), dict) else {}
    site.update({k: v for k, v in data.items() if not isinstance(v, (dict, list))})
    values: dict[str, Any] = {}
    for key, value in site.items():
        if key in _INT_FIELDS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                _fail("CFG002", _line_of(path, key), f"'{key}' phải là số nguyên không âm", f"ví dụ: {key} = 10")
            values[key] = value
        elif key in _BOOL_FIELDS:
            if not isinstance(value, bool):
                _fail("CFG002", _line_of(path, key), f"'{key}' chỉ nhận true hoặc false", f"ví dụ: {key} = true")
            values[key] = value
        elif key in _STR_FIELDS:
            if not isinstance(value, str):
                _fail("CFG002", _line_of(path, key), f"'{key}' phải là chuỗi", f'ví dụ: {key} = "..."')
            values[key] = value
    if "image_widths" in site or "image_widths" in data:
        values["image_widths"] = _image_widths(site.get("image_widths", data.get("image_widths")), path)
    _validate(values, path)
    cats = _categories(data.get("categories", []), path)
    if not isinstance(data.get("params", {}), dict):
        _fail("CFG002", _key_line(path, "params"), "params phải là bảng [params]", '[params]\ntagline = "..."')
    templates_default, assets_default = default_theme_dirs()
    out = (output if output is not None else root / "public").resolve()
    cfg = SiteConfig(
        root=root,
        categories=cats,
        extra=dict(data.get("params", {})),
        content_dir=root / "content",
        output_dir=out,
        templates_dirs=_unique(root / "templates", templates_default),
        assets_dirs=_unique(assets_default, root / "assets"),
        **values,
    )
    _check_output(cfg)
    return cfg


def _refuse_control_characters(data: dict[str, Any], path: Path) -> None:
    """Every string of site.toml may reach a page or a feed ([params] through templates): a control character
    written as an escape ("\\u001b", "\\b", "\\f") would make the Atom feeds ill-formed XML on every build."""
    from .content import chars  # no dependencies, like slugs

    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, key = stack.pop()
        if isinstance(value, dict):
            for k, v in reversed(value.items()):  # in file order: the first bad string is the one reported
                name = f"{key}.{k}" if key else k
                stack += [(v, name), (k, name)]
        elif isinstance(value, list):
            stack.extend((v, key) for v in reversed(value))
        elif isinstance(value, str) and (bad := chars.first_forbidden(value)):
            leaf = key.rsplit(".", 1)[-1]
            _fail("CFG002", _key_line(path, leaf), f"'{key}' chứa ký tự điều khiển {chars.describe(bad.group())}",
                  "xóa mã thoát (\\u00.., \\b, \\f) khỏi chuỗi; các ký tự này làm hỏng nguồn tin Atom")


# Fields of SiteConfig that are not options written in site.toml (tables, or computed by `load`).
NOT_OPTIONS = {"root", "categories", "extra", "content_dir", "output_dir", "templates_dirs", "assets_dirs"}
OPTIONS = tuple(f.name for f in fields(SiteConfig) if f.name not in NOT_OPTIONS)
_TABLES = ("site", "params", "categories")  # [site] holds options too; [params] is free-form, for templates
_CATEGORY_KEYS = ("name", "slug", "description")


def _refuse_unknown_keys(data: dict[str, Any], path: Path) -> None:
    """A mistyped option (`base_ulr`) would otherwise be ignored and its default used without a word: every
    unknown key is an error, all of them in one run, each with the nearest known names."""
    from .content.near import nearest  # no dependencies, like slugs

    found: list[Diagnostic] = []

    def unknown(key: str, known: tuple[str, ...], where: str) -> None:
        message = f"sitegen không biết khóa '{key}'" + (f" trong bảng {where}" if where else "")
        guesses = nearest(key, known, cutoff=0.7)
        if where and key in OPTIONS:  # TOML puts every line below a [table] header into that table
            message = f"tùy chọn '{key}' nằm trong bảng {where} nên không có tác dụng"
            hint = (f"'{key}' là tùy chọn chung: chuyển dòng này lên trên mọi bảng [..] và [[..]] "
                    "(các dòng đứng sau tên bảng thuộc về bảng đó)")
        elif guesses:
            hint = "có phải ý bạn là " + " hoặc ".join(f"'{g}'" for g in guesses) + "? Sửa tên cho đúng"
        elif not where and isinstance(data.get(key), dict):
            hint = "bảng này không có trong sitegen; giá trị tự do cho giao diện đặt trong [params]"
        else:
            hint = "xóa dòng này, hoặc xem các tùy chọn có chú thích trong site.toml do `sitegen init` tạo"
        found.append(Diagnostic(CONFIG_NAME, _key_line(path, key), 0, "CFG004", ERROR, message, hint))

    for key, value in data.items():
        if key in ("params", "categories") or (key in OPTIONS and not isinstance(value, dict)):
            continue
        if key == "site" and isinstance(value, dict):
            for inner in value:
                if inner not in OPTIONS:
                    unknown(inner, OPTIONS, "[site]")
            continue
        unknown(key, OPTIONS + _TABLES, "")
    params = data.get("params")
    for key in params if isinstance(params, dict) else ():
        # [params] is free-form, but an option written below [params] is read as a param and silently lost;
        # only the words a theme could well want as params of its own (a tagline's title...) are let through.
        if key in OPTIONS and key not in ("title", "description", "author", "copyright"):
            unknown(key, OPTIONS, "[params]")
    cats = data.get("categories")
    if isinstance(cats, list):
        reported: set[str] = set()
        for item in cats:
            for key in item if isinstance(item, dict) else ():
                if key not in _CATEGORY_KEYS and key not in reported:
                    reported.add(key)
                    unknown(key, _CATEGORY_KEYS, "[[categories]]")
    if found:
        raise BuildFailed(found)


def _toml_problem(problem: str, line: int, path: Path) -> tuple[str, str]:
    """(message, hint) in Vietnamese for what tomllib said; the two mistakes of duplicated names get their
    own words, anything else keeps tomllib's English words after a Vietnamese lead."""
    detail = problem.split(" (at line")[0]
    if detail == "Cannot overwrite a value":
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except OSError:
            lines = []
        written = re.match(r'^\s*"?([^"=\s]+)"?\s*=', lines[line - 1]) if 0 < line <= len(lines) else None
        if written:
            key = written.group(1)
            first = _earlier_in_table(lines, line, key)
            where = f" (dòng {first} và dòng {line})" if first else ""
            return (f"khóa '{key}' được ghi hai lần{where}",
                    "giữ một dòng với giá trị đúng, xóa dòng còn lại (mỗi khóa chỉ có một giá trị)")
        return ("một khóa được ghi hai lần, hoặc vừa là giá trị vừa là bảng [..]",
                "giữ một dòng với giá trị đúng, xóa dòng còn lại")
    if declared := re.match(r"^Cannot declare \('([^']+)',?.*\) twice$", detail):
        name = declared.group(1)
        header = re.compile(rf"^\s*\[\s*{re.escape(name)}\s*\]")
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except OSError:
            lines = []
        first = next((n for n, text in enumerate(lines[:line - 1], 1) if header.match(text)), 0)
        where = f" (dòng {first} và dòng {line})" if first else ""
        hint = f"gộp các dòng của hai bảng [{name}] vào một bảng"
        if name == "categories":
            hint = "mỗi chuyên mục mở bằng [[categories]] (hai cặp ngoặc vuông), không phải [categories]"
        return f"bảng [{name}] được khai báo hai lần{where}", hint
    return f"site.toml sai cú pháp TOML: {problem}", "kiểm tra dấu ngoặc kép và dấu ="


def _earlier_in_table(lines: list[str], line: int, key: str) -> int:
    """The line, above `line` and in the same [table], where `key = ...` is first written; 0 if none."""
    start = 0
    for n in range(line - 2, -1, -1):
        if re.match(r"^\s*\[", lines[n]):
            start = n
            break
    pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
    return next((n + 1 for n in range(start, line - 1) if pattern.match(lines[n])), 0)


PLACEHOLDER_BASE_URL = "http://localhost:8000/"  # SiteConfig's default, written by `sitegen init`


def check_placeholders(cfg: SiteConfig, report: Reporter) -> None:
    """Warn (CFG005, an error under --strict) when site.toml still says the base_url `init` wrote: every
    canonical address, feed, sitemap and share link would point at the editor's own machine."""
    path = cfg.root / CONFIG_NAME
    if cfg.base_url != PLACEHOLDER_BASE_URL or not path.is_file():
        return
    pattern = re.compile(r'^\s*"?base_url"?\s*=')
    try:
        line = next((n for n, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1)
                     if pattern.match(text)), 0)
    except OSError:
        return
    if line:  # a site.toml that does not name base_url was written by hand, for tests or a first try
        report.warning("CFG005", CONFIG_NAME, line,
                       f"base_url vẫn là địa chỉ mẫu {PLACEHOLDER_BASE_URL} do sitegen init ghi: địa chỉ chuẩn "
                       "(canonical), nguồn tin, sơ đồ trang và nút chia sẻ sẽ trỏ về máy đang dựng trang",
                       'ghi địa chỉ thật của trang, ví dụ: base_url = "https://tinhxyz.gov.vn/"')


def _key_line(path: Path, key: str) -> int:
    """The line where `key = ...` is written (the first such), else where the key's name first appears."""
    pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
    try:
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if pattern.match(line):
                return n
    except OSError:
        pass
    return _line_of(path, key)


def _validate(values: dict[str, Any], path: Path) -> None:
    tz = values.get("timezone", "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        _fail("CFG002", _line_of(path, "timezone"), f"múi giờ '{tz}' không tồn tại", 'ví dụ: timezone = "Asia/Ho_Chi_Minh"')
    base = values.get("base_url", "http://localhost:8000/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _fail("CFG002", _line_of(path, "base_url"), f"base_url '{base}' phải là địa chỉ đầy đủ", 'ví dụ: base_url = "https://tinhxyz.gov.vn/"')
    if values.get("raw_html", "allow") not in ("allow", "safe"):
        _fail("CFG002", _line_of(path, "raw_html"), "raw_html chỉ nhận 'allow' hoặc 'safe'", 'raw_html = "safe"')
    stats = values.get("stats_url", "")
    if stats and (urlsplit(stats).scheme not in ("http", "https") or not urlsplit(stats).netloc):
        _fail("CFG002", _line_of(path, "stats_url"), f"stats_url '{stats}' phải là địa chỉ đầy đủ hoặc để trống",
              'stats_url = "https://tk.tinhxyz.gov.vn/"')
    for key in ("tag_base", "archive_base", "page_segment"):
        if key in values and not _SEGMENT.match(values[key]):
            _fail("CFG002", _line_of(path, key), f"'{key}' chỉ gồm chữ thường không dấu, số và '-'", f'{key} = "chu-de"')
    if values.get("per_page", 10) < 1:
        _fail("CFG002", _line_of(path, "per_page"), "per_page phải lớn hơn 0", "per_page = 10")
    if not 1 <= values.get("image_quality", 75) <= 100:
        _fail("CFG002", _line_of(path, "image_quality"), "image_quality phải từ 1 đến 100", "image_quality = 75")
    link = values.get("permalink", "{category}/{slug}/")
    if "{slug}" not in link or ".." in link or link.startswith("/"):
        _fail("CFG002", _line_of(path, "permalink"), "permalink phải chứa {slug} và không bắt đầu bằng '/'", 'permalink = "{category}/{slug}/"')


def _image_widths(raw: Any, path: Path) -> tuple[int, ...]:
    ok = isinstance(raw, list) and raw and all(isinstance(w, int) and not isinstance(w, bool) and 16 <= w <= 8000
                                               for w in raw)
    if not ok:
        _fail("CFG002", _line_of(path, "image_widths"), "image_widths phải là danh sách số nguyên từ 16 đến 8000",
              "image_widths = [480, 960, 1600]")
    return tuple(sorted(set(raw)))


def _categories(raw: Any, path: Path) -> tuple[CategoryConfig, ...]:
    from .content.slugs import slugify  # slugs has no dependencies; imported here to keep config importable alone

    if not isinstance(raw, list):
        _fail("CFG002", _line_of(path, "categories"), "categories phải là danh sách [[categories]]", "xem site.toml mẫu")
    cats: list[CategoryConfig] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            _fail("CFG002", _line_of(path, "[[categories]]"), "mỗi chuyên mục cần name = \"...\"", 'name = "Thời sự"')
        slug = item.get("slug") or slugify(item["name"])
        if not isinstance(slug, str) or not _SEGMENT.match(slug):
            _fail("CFG002", _line_of(path, str(item.get("slug"))), f"slug chuyên mục '{slug}' không hợp lệ", 'slug = "thoi-su"')
        if slug in seen:
            _fail("CFG002", _line_of(path, slug), f"chuyên mục '{slug}' khai báo hai lần", "xóa một khai báo")
        seen.add(slug)
        cats.append(CategoryConfig(item["name"], slug, str(item.get("description", ""))))
    return tuple(cats)


def _check_output(cfg: SiteConfig) -> None:
    """Refuse an output folder whose replacement would destroy what editors wrote."""
    out = cfg.output_dir
    protected = [cfg.root, cfg.content_dir, *cfg.templates_dirs, *cfg.assets_dirs]
    for p in protected:
        if out == p or p.is_relative_to(out) or out.is_relative_to(cfg.content_dir):
            _fail("CFG003", 0, f"thư mục xuất {out} trùng hoặc chứa thư mục nguồn {p}; bản dựng sẽ xóa nó",
                  "chọn thư mục xuất khác, ví dụ public/")


def _unique(*paths: Path) -> tuple[Path, ...]:
    out: list[Path] = []
    for p in paths:
        p = p.resolve()
        if p not in out:
            out.append(p)
    return tuple(out)


def _line_of(path: Path, needle: str) -> int:
    try:
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if needle in line:
                return n
    except OSError:
        pass
    return 0


def _fail(code: str, line: int, message: str, hint: str) -> None:
    raise BuildFailed([Diagnostic(CONFIG_NAME, line, 0, code, ERROR, message, hint)])
