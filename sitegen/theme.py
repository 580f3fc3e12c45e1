"""The built-in theme as a site sees it: which files it has, and copying one into the site to change it.

A site gets its theme from the installed sitegen (config.default_theme_dirs), so a fixed or improved theme
reaches every site with `pip install --upgrade`. A site changes the theme one file at a time, as with Hugo or
Pelican: a file of the same name in the site's own `templates/` or `assets/` wins over the theme's (config.load
puts the site's folders first). `sitegen theme copy NAME` puts the theme's file there to start from.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

from .config import default_theme_dirs
from .diagnostics import BuildFailed, Diagnostic, ERROR

KINDS = ("templates", "assets")


def files() -> list[str]:
    """Every file of the built-in theme, as `templates/base.html`, `assets/css/site.css`."""
    found = []
    for kind, folder in zip(KINDS, default_theme_dirs()):
        found += sorted(f"{kind}/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*")
                        if p.is_file() and not p.name.startswith("."))
    return found


def resolve(name: str) -> str | list[str]:
    """The theme file meant by `name` (`base.html`, `partials/listing.html`, `css/site.css`, or with the
    `templates/`/`assets/` prefix), or the nearest names when there is none."""
    name = name.strip().replace("\\", "/").lstrip("./")
    available = files()
    if name in available:
        return name
    for kind in KINDS:
        if f"{kind}/{name}" in available:
            return f"{kind}/{name}"
    by_base = [f for f in available if f.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1]]
    return by_base or difflib.get_close_matches(name, available, n=3, cutoff=0.4)


def source_of(rel: str) -> Path:
    kind, _, inner = rel.partition("/")
    return default_theme_dirs()[KINDS.index(kind)] / inner


def copy(site: Path, name: str) -> Path:
    """Copy one theme file into the site (same relative path), never over a file the site already has."""
    found = resolve(name)
    if isinstance(found, list):
        nearest = f"; có phải: {', '.join(found)}?" if found else ""
        _fail("THEME001", name, f"giao diện mặc định không có tệp '{name}'{nearest}",
              "xem danh sách tệp bằng lệnh sitegen theme")
    target = site / found
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as out, open(source_of(found), "rb") as src:
            shutil.copyfileobj(src, out)
    except FileExistsError:
        _fail("THEME002", found, f"trang đã có tệp {found}; không ghi đè bản đã sửa",
              f"sửa thẳng tệp {found}, hoặc đổi tên nó rồi chép lại để bắt đầu từ bản của giao diện mặc định")
    except OSError as exc:
        _fail("NEW003", found, f"không chép được tệp giao diện: {exc.strerror or exc}",
              "kiểm tra quyền ghi vào thư mục trang")
    return target


def _fail(code: str, path: str, message: str, hint: str) -> None:
    raise BuildFailed([Diagnostic(path, 0, 0, code, ERROR, message, hint)])
