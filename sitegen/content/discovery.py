"""Stage 1, load: which files under content/ are articles (a file `index.md` makes its folder a bundle: the
article with its photos beside it), from the folders the walk listed (inputs.scan), leaving out editors' temporary
files and refusing symlinks that leave the site or loop.

Apart from reading the files (read) so that it imports no parser: a command-line build runs it in the walk's own
process, beside this one's imports (pipeline._walk)."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..build.inputs import entry_at
from ..diagnostics import Diagnostic, Reporter

# Files editors' tools leave beside the real ones (vim swap, emacs lock/backup, Office/LibreOffice locks).
TEMP = re.compile(r"(^\.|^#.*#$|~$|\.sw[a-p]$|\.tmp$|^\.~lock\.|^~\$)")
# Discovery asks TEMP only of a name it could match: one that starts with "#" or "~", or ends with "~", "p" (.tmp,
# .swp) or ".sw" and a letter (a name starting with "." always matches): 20 000 names at 10 000 articles, a
# third of its time spent in the regular expression.


# folder -> (name, path, is_dir, is_link, where): `where` is inputs.entry_at's answer for the entry's stat, None when
# it could not be stat'ed. Not the stat itself: a live preview keeps the listing, and at 100 000 articles 200 000 stat
# results were some 120 MB of its memory.
Listing = dict[str, list[tuple[str, str, bool, bool, tuple[int, int] | None]]]


@dataclass(frozen=True)
class Discovered:
    """What `discover` answered from a walk's listing, found where the walk ran: the article files, and the
    problems it reported (given to `discover` in place of that listing, it answers the same again)."""

    files: list[tuple[str, bool]]
    diagnostics: list[Diagnostic]


class Pending:
    """Discovery made elsewhere (in the walk's own process, see pipeline._Walk), its answer read when first asked
    for (`answer()`: None when it gave none). `discover` given it answers with what was found there, or else reads
    every folder itself."""

    def __init__(self, answer: Callable[[], Discovered | None]):
        self._answer: Callable[[], Discovered | None] | None = answer
        self._found: Discovered | None = None

    def result(self) -> Discovered | None:
        if self._answer is not None:
            self._found, self._answer = self._answer(), None
        return self._found


def discover(config_root: Path, content_dir: Path, report: Reporter,
             listing: Listing | Discovered | Pending | None = None) -> list[tuple[str, bool]]:
    """All article files under content_dir, sorted, as (path, is_bundle). Symlinks must stay in the site.
    Works on strings and os.scandir: pathlib objects for every entry cost half a second at 10 000 articles.
    `listing` is the same folders as already read by inputs.scan (a folder missing from it is read here), or
    what discovery already found from them (`Discovered`, or `Pending`)."""
    if isinstance(listing, Pending):
        listing = listing.result()
    if isinstance(listing, Discovered):
        report.extend(listing.diagnostics)
        return list(listing.files)
    found: list[tuple[str, bool]] = []
    if not content_dir.is_dir():
        return found
    root = config_root.resolve()
    top = str(content_dir)
    visited: set[tuple[int, int]] = set()

    def walk(folder: str, where: tuple[int, int]) -> None:
        if where in visited:
            report.error("READ004", relative_name(Path(folder), root), 0, "thư mục lặp lại qua liên kết tượng trưng (symlink)",
                         "xóa liên kết tạo vòng lặp")
            return
        visited.add(where)
        entries = listing.get(folder) if listing is not None else None
        if entries is None:
            try:
                entries = _list(folder)
            except OSError as exc:
                report.error("READ001", relative_name(Path(folder), root), 0, f"không đọc được thư mục: {exc.strerror}",
                             "kiểm tra quyền truy cập")
                return
        is_bundle = folder != top and any(e[0] == "index.md" for e in entries)
        for name, entry_path, is_dir, is_link, entry_where in entries:
            if name[0] in "_." or ((name[0] in "#~" or name[-1] in "~p" or name[-4:-1] == ".sw")
                                   and TEMP.search(name)):
                continue
            if is_link:
                path = Path(entry_path)
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    report.error("READ004", relative_name(path, root), 0, "liên kết tượng trưng hỏng hoặc lặp vô hạn", "xóa hoặc sửa liên kết")
                    continue
                if not target.is_relative_to(root):
                    report.error("READ003", relative_name(path, root), 0, f"liên kết tượng trưng trỏ ra ngoài thư mục trang ({target})",
                                 "sao chép tệp vào trong content/ thay vì dùng liên kết")
                    continue
            if is_dir and entry_where is not None:
                if not is_bundle:  # a bundle's subfolders hold its resources, not more articles
                    walk(entry_path, entry_where)
            elif name.endswith(".md"):
                if is_bundle and name != "index.md":
                    continue
                found.append((entry_path, is_bundle))

    walk(top, entry_at(content_dir.stat()))
    return found


def _list(folder: str) -> list[tuple[str, str, bool, bool, tuple[int, int] | None]]:
    """A folder's entries as discovery reads them (the shape of `Listing`), sorted by name."""
    out = []
    with os.scandir(folder) as it:
        for e in sorted(it, key=lambda e: e.name):
            try:
                where: tuple[int, int] | None = entry_at(e.stat())
            except OSError:
                where = None
            out.append((e.name, e.path, where is not None and e.is_dir(), e.is_symlink(), where))
    return out


def relative_name(path: Path, root: Path) -> str:
    """The name editors know a file by, NFC like everything we output (macOS writes names in NFD)."""
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.as_posix()
    return unicodedata.normalize("NFC", rel)
