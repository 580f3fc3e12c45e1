"""Scaffolding for editors: a new article bundle with its front matter filled in, and a new site folder.

Editors are journalists, not programmers: they should never copy front matter by hand or guess a field name.
Everything written here builds as is. Nothing existing is ever overwritten: folders are created with
`exist_ok=False` and files with exclusive create, so two editors racing for one title cannot clobber each
other. Problems are raised as `BuildFailed` with diagnostics, like every other editor-facing error.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import unicodedata
import zlib
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

from .config import CONFIG_NAME, NOT_OPTIONS, SiteConfig
from .diagnostics import BuildFailed, Diagnostic, ERROR
from .content.model import PLACEHOLDER_BODY  # the body `new` writes; the model refuses to publish it
from .content.near import nearest
from .content.slugs import slugify

# Used when site.toml declares no categories: a first article still needs a folder and a menu entry.
FALLBACK_CATEGORY = ("Tin tức", "tin-tuc")
# NEW002 lists every category after its suggestions up to this many; a longer list would bury them.
LIST_ALL_UP_TO = 12


@dataclass(frozen=True)
class NewArticle:
    path: Path  # the index.md written
    category_name: str
    category_slug: str
    category_defaulted: bool  # no --category given: the first category of site.toml was used


def new_article(config: SiteConfig, title: str, category: str | None = None,
                now: dt.datetime | None = None) -> NewArticle:
    """Create content/<category>/<year>/<slug>/index.md for `title`; refuse to touch anything existing."""
    title = unicodedata.normalize("NFC", " ".join(title.split()))
    slug = slugify(title)
    if not slug:
        _fail("ROUTE003", "", f"không tạo được đường dẫn từ tiêu đề '{title}' (không có chữ cái hoặc chữ số)",
              'viết tiêu đề có chữ, ví dụ: sitegen new "Hội nghị tổng kết năm 2024"')
    name, cat_slug, defaulted = _resolve_category(config, category)
    now = (now or dt.datetime.now(config.tz)).astimezone(config.tz)
    folder = config.content_dir / cat_slug / f"{now.year:04d}" / slug
    rel = _rel(folder / "index.md", config.root)
    same = _same_slug(config.content_dir / cat_slug, slug)
    if same is not None:
        _fail("NEW001", _rel(same, config.root), f"đã có bài với đường dẫn '{slug}' trong chuyên mục '{name}'; "
              f"không ghi đè bài cũ", "mở bài cũ để sửa, hoặc đặt tiêu đề khác cho bài mới")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir()  # exist_ok=False: another editor may have created it a moment ago
        with open(folder / "index.md", "x", encoding="utf-8", newline="\n") as out:
            out.write(article_text(title, now, name, draft=True))
    except FileExistsError:
        _fail("NEW001", rel, "bài viết này đã tồn tại; không ghi đè bài cũ", "mở bài cũ để sửa, hoặc đặt tiêu đề khác")
    except OSError as exc:
        _fail("NEW003", rel, f"không tạo được tệp: {exc.strerror}", "kiểm tra quyền ghi vào thư mục content/")
    return NewArticle(folder / "index.md", name, cat_slug, defaulted)


_PHOTO_EXAMPLE = """\
#  - src: "anh-01.jpg"
#    caption: "Chú thích ảnh: ai, ở đâu, làm gì."
#    alt: "Mô tả ảnh cho người không xem được ảnh"
"""


DRAFT_LINES = """\
# Bài nháp: chỉ hiện khi xem thử (sitegen serve), chưa đăng.
# Viết xong, xóa dòng draft: true (hoặc sửa thành draft: false) để đăng.
draft: true
"""


def article_text(title: str, now: dt.datetime, category: str, summary: str = "", body: str = PLACEHOLDER_BODY,
                 photo: tuple[str, str, str] | None = None, draft: bool = False) -> str:
    """Front matter with every field an editor usually fills, then the body. Builds as is.

    `photo` is (src, caption, alt); without it the photos list holds one commented-out example. A `draft`
    (what `sitegen new` writes) is published only once the editor removes its `draft: true` line: a new
    article must never go live at the next cron run, dated when it was created, with the placeholder body."""
    photos = (f"  - src: {_yaml_str(photo[0])}\n    caption: {_yaml_str(photo[1])}\n    alt: {_yaml_str(photo[2])}\n"
              if photo else _PHOTO_EXAMPLE)
    return f"""---
{DRAFT_LINES if draft else ""}title: {_yaml_str(title)}
date: "{now:%Y-%m-%d %H:%M}"
category: {_yaml_str(category)}
# Từ khóa, ví dụ: tags: ["nông thôn mới", "giao thông"]
tags: []
# Sapo: một hai câu tóm tắt, in đậm dưới tiêu đề. Để trống thì lấy đoạn đầu của bài.
summary: {_yaml_str(summary)}
source: ""
# Ảnh: chép tệp ảnh vào thư mục này, rồi bỏ dấu # ở đầu các dòng dưới "photos:".
photos:
{photos}# Hẹn giờ: bài chỉ lên trang khi đến giờ ghi ở date. Tự gỡ bài sau một ngày: bỏ dấu # dòng dưới.
# expires: "2030-12-31 23:59"
---

{body}"""


def _yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: quotes, colons and '#' in titles stay safe. JSON leaves
    # DEL, C1 controls and U+FFFE/U+FFFF raw, which YAML refuses to read, and NEL, U+2028, U+2029, which YAML
    # reads as line breaks: those are escaped too.
    return "".join(c if _yaml_printable(c) else f"\\u{ord(c):04x}" for c in json.dumps(text, ensure_ascii=False))


def _yaml_printable(c: str) -> bool:
    o = ord(c)
    if o in (0x2028, 0x2029):
        return False
    return o in (0x9, 0xA, 0xD) or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000


def _resolve_category(config: SiteConfig, given: str | None) -> tuple[str, str, bool]:
    cats = config.categories
    if given is None or not given.strip():
        if cats:
            return cats[0].name, cats[0].slug, True
        return (*FALLBACK_CATEGORY, True)
    given = unicodedata.normalize("NFC", given.strip())
    for c in cats:  # the name in any case, the slug, or the name typed without accents ("van hoa xa hoi")
        if given.casefold() in (c.name.casefold(), c.slug) or slugify(given) == c.slug:
            return c.name, c.slug, False
    if not cats:  # no list to check against: the build creates the category from the name
        slug = slugify(given)
        if not slug:
            _fail("META005", "", f"chuyên mục '{given}' không có chữ cái hoặc chữ số", "sửa tên chuyên mục")
        return given, slug, False
    # A typo would silently add a new menu entry, so an unknown name is refused: the nearest categories first
    # (ranked as META004 ranks them), then the whole list when it is short enough to read.
    guesses = nearest(given, [c.name for c in cats], slugs={c.name: c.slug for c in cats})
    slug_of = {c.name: c.slug for c in cats}
    message = f"chuyên mục '{given}' không có trong site.toml."
    if guesses:
        message += " Có phải: " + ", ".join(f"{g} ({slug_of[g]})" for g in guesses) + "?"
    if not guesses or len(cats) <= LIST_ALL_UP_TO:
        message += " Các chuyên mục: " + "; ".join(f"{c.name} ({c.slug})" for c in cats)
    else:
        message += f" Còn {len(cats) - len(guesses)} chuyên mục khác trong site.toml"
    ask = f'thêm [[categories]] name = "{given}" vào site.toml'
    if guesses:
        # Typed as a slug, answered with a slug; typed as a name, with the name (quoted: it has spaces).
        shown = [slug_of[g] if given == slugify(given) else f'"{g}"' for g in guesses]
        hint = f"dùng --category {shown[0]}" + (f" (hoặc {', '.join(shown[1:])})" if shown[1:] else "")
        hint += f"; cần chuyên mục mới thì {ask}"
    else:
        hint = f"dùng --category với một tên hoặc slug ở trên, hoặc {ask}"
    _fail("NEW002", CONFIG_NAME, message, hint)


def _same_slug(category_dir: Path, slug: str) -> Path | None:
    """An existing article in the category whose URL would be the same as the new one's."""
    if not category_dir.is_dir():
        return None
    for path in category_dir.rglob("*"):
        if path.is_dir() and path.name == slug:
            return path / "index.md" if (path / "index.md").exists() else path
        if path.is_file() and path.suffix == ".md" and path.stem == slug:
            return path
    return None


# ---------------------------------------------------------------------------------------------- new site

# Every SiteConfig option with its comment (Vietnamese, then English). Options not listed here (paths,
# computed values) are not something a site.toml sets.
OPTION_DOCS: dict[str, str] = {
    "title": "Tên trang, hiện ở đầu mọi trang / Site name, shown in every page header",
    "description": "Mô tả ngắn cho máy tìm kiếm / Short description for search engines",
    "base_url": "Địa chỉ công khai của trang, có thể có đường dẫn con / Public address, may include a path",
    "language": "Mã ngôn ngữ của trang (thuộc tính lang) / Language code of the pages (lang attribute)",
    "locale": "Ngôn ngữ định dạng ngày, số (Babel) / Locale for dates and numbers (Babel)",
    "timezone": "Múi giờ của ngày giờ trong bài / Time zone of the dates editors write",
    "author": "Tác giả mặc định / Default author",
    "copyright": "Dòng bản quyền ở chân trang / Copyright line in the footer",
    "per_page": "Số bài mỗi trang danh sách / Items per listing page",
    "home_latest": "Số tin mới nhất trên trang chủ / Latest items on the home page",
    "home_per_category": "Số bài mỗi khối chuyên mục trên trang chủ / Items per category block on the home page",
    "home_featured": "Số bài nổi bật (featured: true) trên trang chủ / Featured items on the home page",
    "most_read": "Số bài trong khối Đọc nhiều nhất / Items in the most-read block",
    "related": "Số tin liên quan dưới mỗi bài / Related items under each article",
    "feed_items": "Số bài trong nguồn tin Atom / Items in the Atom feeds",
    "summary_words": "Số chữ của đoạn tóm tắt trong danh sách / Words of the summary in listings",
    "permalink": "Mẫu địa chỉ bài: {category}, {slug}, {year}, {month}, {day} / Article URL pattern",
    "tag_base": "Thư mục các trang từ khóa / Folder of tag pages",
    "archive_base": "Thư mục trang lưu trữ theo tháng / Folder of the date archive",
    "page_segment": "Chữ trong địa chỉ trang 2, 3... (/trang/2/) / URL segment of listing pages",
    "max_file_bytes": "Cỡ tối đa một tệp bài viết (byte) / Largest article file accepted (bytes)",
    "max_image_pixels": "Số điểm ảnh tối đa một ảnh / Largest photo accepted (pixels)",
    "image_widths": "Các bề ngang (px) của bản ảnh thu nhỏ, không phóng to / Widths of photo variants, never upscaled",
    "image_quality": "Chất lượng JPEG và WebP của ảnh, 1-100 / JPEG and WebP quality of photo variants, 1-100",
    "raw_html": '"allow": giữ HTML trong bài; "safe": lọc bỏ script / "allow" keeps raw HTML; "safe" strips scripts',
    "search": "Tạo chỉ mục tìm kiếm (Pagefind) / Build the Pagefind search index",
    "stats_url": 'Máy thu số liệu bạn đọc (sitegen stats serve), để trống nếu không dùng / Readers\' figures collector; empty = none',
}


def site_toml() -> str:
    """site.toml for a new site: every option with its default value and a comment in Vietnamese and English."""
    lines = [
        "# Cấu hình trang / Site configuration.",
        "# Dòng bắt đầu bằng # là chú thích. Sửa giá trị bên phải dấu =, giữ nguyên dấu ngoặc kép.",
        "# Lines starting with # are comments. Edit the values right of =, keep the quotes.",
        "",
    ]
    for f in fields(SiteConfig):
        if f.name in NOT_OPTIONS or f.default is MISSING:
            continue
        lines.append(f"# {OPTION_DOCS.get(f.name, f.name)}")
        lines.append(f"{f.name} = {_toml_value(f.default)}")
    lines += [
        "",
        "# Giá trị tự do cho giao diện: params.tagline, params.address... / Free values for templates",
        "# Chân trang chỉ hiện địa chỉ và liên hệ khi bạn điền: bỏ dấu # và ghi thông tin thật của cơ quan.",
        "# The footer shows address and contact only once set here: remove the # and write the real details.",
        "[params]",
        'tagline = "Trang thông tin điện tử"',
        '# address = "Địa chỉ: số nhà, đường, phường/xã, tỉnh"',
        '# contact = "Điện thoại: ... · Thư điện tử: ..."',
        "",
        "# Chuyên mục, theo thứ tự trên thanh menu. slug là tên thư mục trong content/ và trong địa chỉ.",
        "# Categories, in menu order. slug is the folder name under content/ and in URLs.",
    ]
    for name, slug, description in _CATEGORIES:
        lines += ["[[categories]]", f"name = {_toml_value(name)}", f"slug = {_toml_value(slug)}"]
        if description:
            lines.append(f"description = {_toml_value(description)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, int):
        return f"{value:_}" if value >= 100_000 else str(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


# The new site's categories and sample articles: (name, slug, description).
_CATEGORIES = [("Thời sự", "thoi-su", "Tin thời sự trong tỉnh"), ("Văn hóa - Xã hội", "van-hoa-xa-hoi", "")]
_SAMPLES = [  # (category, folder, title, hours before now, summary, body, photo)
    ("Thời sự", "khai-truong-trang-tin", "Khai trương trang thông tin điện tử", 2,
     "Trang tin chính thức đi vào hoạt động từ hôm nay.", """\
Sáng nay, trang thông tin điện tử chính thức đi vào hoạt động, đăng tải tin tức, sự kiện của địa phương
đến bạn đọc trong và ngoài tỉnh.

![Giao diện trang tin trên điện thoại.](anh-01.png)

## Bạn đọc tìm thấy gì

Tin thời sự, văn hóa - xã hội được cập nhật hằng ngày; mỗi bài có ảnh, chú thích và nguồn tin.
""", ("anh-01.png", "Giao diện trang tin trên điện thoại.", "Hình minh họa: dải màu đỏ trên nền vàng")),
    ("Văn hóa - Xã hội", "huong-dan-viet-bai", "Hướng dẫn viết bài đầu tiên", 26, "", """\
Bài mẫu này cho biên tập viên thấy một bài viết trông như thế nào. Mở tệp `index.md` cạnh bài này để xem
phần đầu (giữa hai dòng `---`) và phần nội dung.

Để tạo bài mới, chạy `sitegen new "Tiêu đề bài viết"`. Xem thêm *Hướng dẫn biên tập* của sitegen.
""", None),
]


# What a new site's templates/ says: the theme comes from the installed sitegen; a file here overrides one file.
THEME_README = """\
# Giao diện của trang / The site's theme

Giao diện mặc định đi kèm sitegen đã cài (xem bằng lệnh `sitegen theme`), nên khi nâng cấp sitegen, trang
nhận luôn các sửa lỗi của giao diện. Muốn đổi một tệp, chép tệp đó vào trang rồi sửa bản chép:

    sitegen theme copy base.html          # -> templates/base.html
    sitegen theme copy css/site.css       # -> assets/css/site.css

Tệp cùng tên trong `templates/` hoặc `assets/` của trang thay cho tệp của giao diện mặc định; các tệp khác vẫn
lấy từ sitegen. Tệp này (README.md) không được đăng lên trang.

The default theme ships with the installed sitegen (list it with `sitegen theme`), so upgrading sitegen brings
its fixes. To change one file, copy it here with `sitegen theme copy NAME` and edit the copy: a file of the same
name in the site's `templates/` or `assets/` overrides the theme's; every other file still comes from sitegen.
"""


def new_site(target: Path, now: dt.datetime | None = None) -> list[Path]:
    """Create a ready-to-serve site in `target` (absent or empty): site.toml, two sample articles, and empty
    `templates/` and `assets/` for the files it overrides. The theme itself stays in the installed package, so
    theme fixes reach the site (theme.py copies one file when the site wants to change it)."""
    rel = target.as_posix()  # as the editor typed it
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        _fail("INIT001", rel, f"thư mục {target} đã có nội dung; không ghi đè trang đang có",
              "chọn một thư mục mới hoặc thư mục trống, ví dụ: sitegen init tin-tuc-moi")
    tz = ZoneInfo(SiteConfig.timezone)  # the new site.toml keeps the default time zone
    now = (now or dt.datetime.now(tz)).astimezone(tz)
    created: list[Path] = []
    try:
        target.mkdir(parents=True, exist_ok=True)
        created.append(_write_new(target / CONFIG_NAME, site_toml()))
        created.append(_write_new(target / "templates" / "README.md", THEME_README))
        # Every file of assets/ is published, so this folder gets no README; a hidden file keeps it in git.
        created.append(_write_new(target / "assets" / ".gitkeep", ""))
        slugs = {name: slug for name, slug, _ in _CATEGORIES}
        for category, folder_name, title, hours_ago, summary, body, photo in _SAMPLES:
            folder = target / "content" / slugs[category] / f"{now.year:04d}" / folder_name
            folder.mkdir(parents=True)
            if photo:
                (folder / photo[0]).write_bytes(_sample_png(480, 270))
            text = article_text(title, now - dt.timedelta(hours=hours_ago), category, summary, body, photo)
            created.append(_write_new(folder / "index.md", text))
    except OSError as exc:
        _fail("NEW003", rel, f"không tạo được trang mới: {exc.strerror or exc}",
              f"kiểm tra quyền ghi và chỗ trống trên đĩa, xóa thư mục {rel} đã tạo dở rồi chạy lại")
    return created


def _write_new(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8", newline="\n") as out:
        out.write(text)
    return path


def _sample_png(width: int, height: int) -> bytes:
    """A tiny PNG (red band over yellow), written by hand: only images.py may import Pillow."""
    red, yellow = b"\xda\x25\x1d", b"\xff\xcd\x00"
    rows = b"".join(b"\x00" + (red if y < height * 2 // 3 else yellow) * width for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _fail(code: str, path: str, message: str, hint: str) -> NoReturn:
    raise BuildFailed([Diagnostic(path, 0, 0, code, ERROR, message, hint)])
