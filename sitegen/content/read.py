"""Stage 1, load: find article files under content/, turn their bytes into text and front matter.

Owns every encoding trap (BOM, CRLF, invalid UTF-8, NUL bytes, size caps) and every filesystem trap
(symlinks leaving the site, loops, editors' temporary files), so later stages see only clean `SourceDoc`s
whose line numbers still point into the file the editor has open.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
import threading
import tomllib
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import frontmatter
import yaml

from ..build import workers
from ..diagnostics import Reporter
from ..structure import nesting
from . import chars
from .discovery import discover, relative_name as _rel

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FENCE = re.compile(r"^---[ \t]*$")
_CLOSE = re.compile(r"^(---|\.\.\.)[ \t]*$")
# `![caption](src)`; a name with spaces is written `(<Ảnh hội nghị.jpg>)`, as Markdown wants it.
IMAGE_REF = re.compile(r"!\[(?P<alt>[^\]]*)\]\(\s*(?:<(?P<angled>[^>\n]+)>|(?P<src>[^)\s>]+))"
                       r"(?:\s+[\"'][^)]*[\"'])?\s*\)")
# Front matter is a few dozen values; these bounds are far above any real one and far below what hurts. Deeper
# values cannot be constructed or pickled into the cache (RecursionError); aliases (`*a`) share a value, and ten
# nested levels of nine references each would make 387 million values for anything that walks the data.
MAX_DEPTH = 32
MAX_VALUES = 100_000


@dataclass(frozen=True)
class SourceDoc:
    """One article file, decoded: its front matter as plain data, its body and where each came from."""

    path: str  # relative to the site folder, forward slashes
    abspath: Path
    bundle: bool  # index.md inside its own folder, with its photos beside it
    digest: str  # sha256 of the raw bytes: the cache key of everything derived from this file
    meta: dict[str, Any]
    lines: dict[str, int]  # "title" -> 3, "photos.1.src" -> 14: file lines of front matter values
    body: str
    body_line: int  # file line of the body's first line


def image_refs(body: str, body_line: int) -> list[tuple[str, str, int]]:
    """(src, caption, file line) of every Markdown image in the body."""
    out = []
    for m in IMAGE_REF.finditer(body):
        out.append((m.group("angled") or m.group("src"), m.group("alt"), body_line + body.count("\n", 0, m.start())))
    return out


Stamp = tuple[int, int]  # (mtime_ns, size): a file whose stamp is unchanged need not be read again


@dataclass(frozen=True)
class Loaded:
    """One article file as this run knows it."""

    path: str  # relative to the site folder
    stamp: Stamp
    bundle: bool
    value: Any  # the SourceDoc, what `convert` made of it, or (not fresh) what `known` remembered of the file
    fresh: bool  # read this run


def load_all(config_root: Path, content_dir: Path, max_bytes: int, report: Reporter,
             known: Mapping[str, tuple[Stamp, bool, Any]] | None = None, jobs: int = 1,
             found: list[tuple[str, bool]] | None = None, convert: Callable[[SourceDoc], Any] | None = None,
             progress: Callable[[int], Callable[[int], None] | None] | None = None) -> list[Loaded]:
    """Read and split every article file (in discovery order), except those whose stamp and kind match an entry
    of `known`: their remembered value is taken instead of reading them.

    `convert` runs in the worker that read the file, so what comes back (and is remembered) can be much smaller
    than the text: the build keeps validated articles, not bodies. Problems go to `report`; bad files are left
    out of the result (and so never remembered: they are read again next time). `progress(total)`: given how
    many files are to be read, what hears how many more are read as each slice is done (or None).
    """
    known = known or {}
    if found is None:
        found = discover(config_root, content_dir, report)
    slots: list[Loaded | None] = [None] * len(found)
    todo: list[tuple[int, str, str, bool, Stamp]] = []
    prefix = str(config_root) + os.sep  # slicing the common prefix: pathlib's relative_to cost 0.15 s per 10 000
    named: dict[str, str] = {}  # NFC name -> the name on disk it was first seen as
    for i, (name, bundle) in enumerate(found):
        rel = (unicodedata.normalize("NFC", name[len(prefix):]).replace(os.sep, "/") if name.startswith(prefix)
               else _rel(Path(name), config_root))
        if rel in named:  # Linux keeps "bài.md" typed on Windows and "bài.md" copied from a Mac as two files
            first, second = (os.path.relpath(n, config_root).encode("unicode_escape").decode("ascii")
                             for n in (named[rel], name))
            report.error("READ006", rel, 0, f"hai tệp mang cùng một tên, chỉ khác cách ghi dấu tiếng Việt "
                         f"(chữ dựng sẵn và chữ tổ hợp): {first} và {second}",
                         "xóa hoặc đổi tên một trong hai tệp (thường là bản chép từ máy Mac)")
            continue
        named[rel] = name
        try:
            st = os.stat(name)
        except OSError:
            st = None
        stamp = (st.st_mtime_ns, st.st_size) if st else (0, -1)
        old = known.get(rel)
        if old is not None and old[0] == stamp and old[1] == bundle:
            slots[i] = Loaded(rel, stamp, bundle, old[2], False)
        else:
            todo.append((i, name, rel, bundle, stamp))

    def parse(start: int, stop: int) -> tuple[list[Any], list]:
        local = Reporter()
        out = []
        for _, p, rel, b, _ in todo[start:stop]:
            doc = load_one(Path(p), rel, b, max_bytes, local)
            out.append(convert(doc) if doc is not None and convert is not None else doc)
        return out, local.diagnostics

    step = progress(len(todo)) if progress is not None else None
    for chunk_start, (values, diagnostics) in zip(_starts(len(todo), jobs),
                                                   workers.run(parse, len(todo), jobs, progress=step)):
        report.extend(diagnostics)
        for offset, value in enumerate(values):
            i, _, rel, bundle, stamp = todo[chunk_start + offset]
            if value is not None:
                slots[i] = Loaded(rel, stamp, bundle, value, True)
    return [d for d in slots if d is not None]


def body_of(path: Path, digest: str, body_line: int) -> str | None:
    """The body of an article file read earlier in this build (the build keeps no bodies: a 100 000-article
    archive would not fit in memory), or None when the file has changed since (its digest no longer matches)."""
    try:
        raw = _read_regular(path)
    except (OSError, _NotAFile):
        return None
    if hashlib.sha256(raw).hexdigest() != digest:
        return None
    text = decode(raw, "", Reporter())
    if text is None:
        return None
    return text.split("\n", body_line - 1)[-1] if body_line > 1 else text


def _starts(count: int, jobs: int) -> list[int]:
    """Start index of each slice workers.run hands out (it slices [0, count) the same way)."""
    return [b[0] for b in workers.slices(count, jobs)]


def load_one(path: Path, rel: str, bundle: bool, max_bytes: int, report: Reporter) -> SourceDoc | None:
    try:
        raw = _read_regular(path, max_bytes)
    except _TooLarge as big:
        report.error("READ002", rel, 0, f"tệp {big.size // 1024} KB, vượt giới hạn {max_bytes // 1024} KB",
                     "chia bài thành nhiều bài hoặc tăng max_file_bytes trong site.toml")
        return None
    except _NotAFile:
        report.error("READ001", rel, 0, "đây không phải tệp văn bản thường (mà là ống FIFO, ổ cắm hay thiết bị)",
                     "xóa nó khỏi content/ hoặc đổi tên để không kết thúc bằng .md")
        return None
    except OSError as exc:
        report.error("READ001", rel, 0, f"không đọc được tệp: {exc.strerror}", "kiểm tra quyền truy cập tệp")
        return None
    text = decode(raw, rel, report)
    if text is None:
        return None
    found = Reporter(strict=report.strict)
    split = split_front_matter(text, rel, found)
    # Nothing else of a file whose front matter cannot be read is checked (its fields, photos and links are
    # unknown): each FM error says so, so that `check`'s "every problem in one run" does not mislead.
    report.extend(replace(d, hint=f"{d.hint}; {CHECKED_LATER}" if d.hint else CHECKED_LATER)
                  if split is None and d.code.startswith("FM") and d.severity == "error" else d
                  for d in found.diagnostics)
    if split is None:
        return None
    meta, lines, body, body_line = split
    if deep := nesting.too_deep(body):
        report.error("MD001", rel, body_line + deep[0],
                     f"danh sách hoặc trích dẫn lồng {deep[1]} tầng, quá giới hạn {nesting.MAX_NESTING} tầng",
                     "bớt tầng danh sách: mỗi dấu '-', '*', '1.', '>' ở đầu dòng và mỗi 4 dấu cách thụt lề "
                     "trước chúng là một tầng")
        return None
    if nesting.worth_a_trial(body) and _too_slow(body):
        start = body_line + len(body) - len(body.lstrip("\n"))  # the body's first written line
        report.error("MD002", rel, start,
                     f"nội dung bài cần hơn {MARKDOWN_SECONDS:g} giây để chuyển thành trang (bài bình thường cần "
                     "vài phần trăm giây)",
                     "chia bài thành nhiều bài; bỏ các dòng lặp lại hàng nghìn lần (dấu '-', thẻ '<' chưa đóng); "
                     "bảng rất dài hãy đưa thành tệp đính kèm")
        return None
    return SourceDoc(rel, path, bundle, hashlib.sha256(raw).hexdigest(), meta, lines, body, body_line)


# Ends the hint of every error that stops a file's front matter being read (FM001-FM007).
CHECKED_LATER = "phần còn lại của bài (các trường, ảnh, liên kết) chỉ được kiểm tra sau khi sửa xong lỗi này"

MARKDOWN_SECONDS = 10.0  # a 4 000-row table takes 2 s; bodies built to be slow take minutes


def _too_slow(body: str) -> bool:
    """Convert the body once, as the build will, under MARKDOWN_SECONDS (the conversion itself is discarded: this
    runs only for the rare bodies `nesting.worth_a_trial` picks out). Off the main thread (the preview's rebuilds)
    no timer signal can stop it, so the trial runs in a forked process that is killed when time is up."""
    from ..structure import markup  # Python-Markdown and Pillow: only for the bodies that need it

    import multiprocessing
    if threading.current_thread() is not threading.main_thread() and "fork" in multiprocessing.get_all_start_methods():
        trial = multiprocessing.get_context("fork").Process(target=_convert_once, args=(body,), daemon=True)
        trial.start()
        trial.join(MARKDOWN_SECONDS)
        if trial.is_alive():
            trial.kill()
            trial.join()
            return True
        return False
    try:
        markup.Renderer(time_limit=MARKDOWN_SECONDS).render(body, {}, {}, markup.MarkupOptions(False, False))
    except markup.TooSlow:
        return True
    return False


def _convert_once(body: str) -> None:
    from ..structure import markup

    markup.Renderer().render(body, {}, {}, markup.MarkupOptions(False, False))


class _TooLarge(Exception):
    def __init__(self, size: int):
        self.size = size


class _NotAFile(Exception):
    pass


def _read_regular(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file. Opened without blocking and checked on the open descriptor: a FIFO named
    `*.md` would otherwise hang the build until something writes to it (and a device would never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _NotAFile()
        if max_bytes is not None and st.st_size > max_bytes:
            raise _TooLarge(st.st_size)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _line_of(raw: bytes, at: int) -> int:
    """The line of byte `at`, counting line ends as `decode` makes them: CRLF, LF, and a lone CR (old Mac files)."""
    before = raw[:at]
    return before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1


def decode(raw: bytes, rel: str, report: Reporter) -> str | None:
    """Bytes to NFC text with LF line endings; strict UTF-8 (a BOM is fine), never silently replaced."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        report.error("ENC002", rel, 1, "tệp được lưu dạng UTF-16", "mở tệp và lưu lại với mã hóa UTF-8")
        return None
    if b"\x00" in raw:
        line = _line_of(raw, raw.index(b"\x00"))
        report.error("ENC003", rel, line, "tệp chứa byte NUL: đây là tệp nhị phân, không phải văn bản Markdown",
                     "kiểm tra lại tệp, có thể đã lưu nhầm định dạng")
        return None
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = _line_of(raw, exc.start)
        col = exc.start - (max(raw.rfind(b"\n", 0, exc.start), raw.rfind(b"\r", 0, exc.start)) + 1) + 1
        report.error("ENC001", rel, line, f"byte 0x{raw[exc.start]:02x} không hợp lệ trong UTF-8 (vị trí byte {exc.start})",
                     "lưu tệp với mã hóa UTF-8 (trong Notepad: Save As → Encoding: UTF-8)", col=col)
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if bad := chars.first_forbidden_in_file(raw, text):
        line = text.count("\n", 0, bad.start()) + 1
        col = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        report.error("ENC004", rel, line, f"tệp chứa ký tự điều khiển vô hình {chars.describe(bad.group())}",
                     "xóa ký tự ở vị trí này (thường lẫn vào khi dán từ Word hay từ cửa sổ lệnh) rồi lưu lại",
                     col=col)
        return None
    return unicodedata.normalize("NFC", text)


class _LineLoader(_Loader):  # type: ignore[misc, valid-type]
    """Safe YAML loader that refuses duplicate keys instead of keeping the last one silently."""


def _construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "khóa không hợp lệ", key_node.start_mark) from None
        if key in seen:
            raise _Duplicate(str(key), seen[key], key_node.start_mark.line + 1)
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Duplicate(Exception):
    def __init__(self, key: str, first: int, second: int):
        self.key, self.first, self.second = key, first, second


class _TomlFrontMatter(frontmatter.default_handlers.BaseHandler):
    """`+++` TOML front matter, as Hugo writes it, read with the standard library's tomllib."""

    FM_BOUNDARY = re.compile(r"^\+{3}[ \t]*$", re.MULTILINE)
    START_DELIMITER = END_DELIMITER = "+++"

    def load(self, fm: str, **kwargs: Any) -> dict:
        return tomllib.loads(fm)


_FORMATS = (frontmatter.default_handlers.YAMLHandler(), _TomlFrontMatter())


def split_front_matter(text: str, rel: str, report: Reporter) -> tuple[dict, dict[str, int], str, int] | None:
    """Split `---` YAML (or `+++` TOML) front matter from the body. Lines in the result are absolute file lines."""
    lines = text.split("\n")
    if isinstance(frontmatter.detect_format(text, _FORMATS), _TomlFrontMatter):
        return _split_toml(lines, rel, report)
    if not lines or not _FENCE.match(lines[0]):
        # No front matter at all: the body is the whole file; the model reports the missing title.
        return {}, {}, text, 1
    end = next((i for i in range(1, len(lines)) if _CLOSE.match(lines[i])), None)
    if end is None:
        report.error("FM001", rel, 1, "phần đầu (front matter) mở bằng '---' nhưng không có dòng '---' đóng lại",
                     "thêm một dòng '---' sau trường cuối cùng của phần đầu")
        return None
    yaml_text = "\n".join(lines[1:end])
    meta, key_lines = parse_yaml(yaml_text, rel, 2, report)
    if meta is None:
        return None
    body = "\n".join(lines[end + 1:])
    return meta, key_lines, body, end + 2


def _split_toml(lines: list[str], rel: str, report: Reporter) -> tuple[dict, dict[str, int], str, int] | None:
    end = next((i for i in range(1, len(lines)) if _TomlFrontMatter.FM_BOUNDARY.match(lines[i])), None)
    if end is None:
        report.error("FM001", rel, 1, "phần đầu (front matter) mở bằng '+++' nhưng không có dòng '+++' đóng lại",
                     "thêm một dòng '+++' sau trường cuối cùng của phần đầu")
        return None
    try:
        meta = _TomlFrontMatter().load("\n".join(lines[1:end]))
    except RecursionError:  # tomllib parses nested arrays and tables recursively, with no limit of its own
        deepest = max(range(1, end), key=lambda i: lines[i].count("[") + lines[i].count("{"))
        report.error("FM006", rel, deepest + 1, _DEPTH_MESSAGE, _DEPTH_HINT)
        return None
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # tomllib raises ValueError for some impossible dates
        found = re.search(r"line (\d+), column (\d+)", str(exc))
        line, col = (int(found.group(1)) + 1, int(found.group(2))) if found else (2, 0)
        report.error("FM002", rel, line, f"lỗi cú pháp TOML: {str(exc).split(' (at')[0]}",
                     _toml_hint(lines[line - 1] if 0 < line <= len(lines) else ""), col=col)
        return None
    # tomllib keeps no positions: a top-level key's line is where it is written, a table's where it opens.
    key_lines: dict[str, int] = {}
    for n, line in enumerate(lines[1:end], 2):
        if m := re.match(r"^\s*\[{1,2}\s*([A-Za-z0-9_-]+)", line) or re.match(r"^([A-Za-z0-9_-]+)\s*=", line):
            key_lines.setdefault(m.group(1), n)
    if not _check_toml_values(meta, key_lines, rel, report):
        return None
    return meta, key_lines, "\n".join(lines[end + 1:]), end + 2


def _check_toml_values(meta: dict, key_lines: dict[str, int], rel: str, report: Reporter) -> bool:
    """TOML has no aliases, but a dotted key (`[a.a.a...]`) nests without limit and any string may hold an
    escaped control character: the same bounds as YAML. Lines are those of the top-level keys (all tomllib
    keeps)."""
    count = 0
    stack: list[tuple[Any, int, str]] = [(meta, 1, "")]
    while stack:
        value, depth, top = stack.pop()
        count += 1
        if depth > MAX_DEPTH or count > MAX_VALUES:
            report.error("FM006", rel, key_lines.get(top, 2), _DEPTH_MESSAGE if depth > MAX_DEPTH else _SIZE_MESSAGE,
                         _DEPTH_HINT)
            return False
        if isinstance(value, dict):
            for k, v in value.items():
                stack.append((k, depth + 1, top or k))
                stack.append((v, depth + 1, top or k))
        elif isinstance(value, list):
            stack.extend((v, depth + 1, top) for v in value)
        elif isinstance(value, str) and (bad := chars.first_forbidden(value)):
            report.error("FM007", rel, key_lines.get(top, 2), _control_message(top, bad.group()), _CONTROL_HINT)
            return False
    return True


def parse_yaml(yaml_text: str, rel: str, first_line: int, report: Reporter) -> tuple[dict | None, dict[str, int]]:
    """Parse YAML safely; record the file line of every value so later errors can point at it."""
    if not yaml_text.strip():
        return {}, {}
    loader = _LineLoader(yaml_text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {}
        if not isinstance(node, yaml.MappingNode):
            report.error("FM003", rel, first_line + node.start_mark.line,
                         "phần đầu phải là các dòng 'khóa: giá trị' (ví dụ title: \"...\")",
                         "viết mỗi trường trên một dòng dạng ten_truong: gia_tri")
            return None, {}
        # Measured on the composed nodes, where an alias is one shared node and not yet a copy: construction
        # and everything after it only ever see a value of bounded depth and size.
        if (problem := _measure(node)) is not None:
            message, where = problem
            report.error("FM006", rel, first_line + where.start_mark.line, message, _DEPTH_HINT,
                         col=where.start_mark.column + 1)
            return None, {}
        if (control := _first_control(node)) is not None:
            where, key, ch = control
            report.error("FM007", rel, first_line + where.start_mark.line, _control_message(key, ch), _CONTROL_HINT,
                         col=where.start_mark.column + 1)
            return None, {}
        data = loader.construct_document(node)
    except RecursionError:  # only PyYAML's pure-Python parser (no libyaml) recurses while composing
        report.error("FM006", rel, first_line, _DEPTH_MESSAGE, _DEPTH_HINT)
        return None, {}
    except _Duplicate as dup:
        report.error("FM004", rel, first_line + dup.second - 1,
                     f"khóa '{dup.key}' xuất hiện hai lần (dòng {first_line + dup.first - 1} và {first_line + dup.second - 1})",
                     "xóa một trong hai dòng")
        return None, {}
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = first_line + mark.line if mark else first_line
        report.error("FM005", rel, line, f"giá trị YAML không được phép: {exc.problem}",
                     "bỏ thẻ bắt đầu bằng '!!' hoặc '!', chỉ dùng chữ, số, danh sách", col=(mark.column + 1) if mark else 0)
        return None, {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark else first_line
        problem = getattr(exc, "problem", None) or str(exc)
        if "maximum nesting depth" in problem:  # libyaml's own limit (1000 levels), far beyond ours
            report.error("FM006", rel, line, _DEPTH_MESSAGE, _DEPTH_HINT)
            return None, {}
        hint = _syntax_hint(yaml_text, [m for m in (getattr(exc, "context_mark", None), mark) if m])
        report.error("FM002", rel, line, f"lỗi cú pháp YAML: {problem}", hint, col=(mark.column + 1) if mark else 0)
        return None, {}
    except (AttributeError, KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
        # PyYAML's own constructors fail like this on explicit tags it cannot honour (`!!timestamp 'hôm qua'`,
        # `!!int x`); they carry no position, so point at the first tagged line.
        tagged = next((n for n, text in enumerate(yaml_text.split("\n")) if "!" in text), 0)
        report.error("FM005", rel, first_line + tagged, f"giá trị YAML không đọc được ({type(exc).__name__})",
                     "bỏ thẻ bắt đầu bằng '!!', viết giá trị trong dấu ngoặc kép")
        return None, {}
    finally:
        loader.dispose()
    key_lines: dict[str, int] = {}
    _record_lines(node, first_line, key_lines)
    return data, key_lines


_KEY_VALUE = re.compile(r"^(?P<lead>\s*(?:-\s+)?)(?P<key>[^\s:#\"'][^:#]*?):[ \t]+(?P<value>\S.*?)\s*$")
_CURLY = "“”„‟"


def _syntax_hint(yaml_text: str, marks: list) -> str:
    """The fix for the line the YAML reader stopped at. Quoting the value fixes most mistakes, but not those of
    a value already quoted: a quote inside it, or Word's curly quotes, which YAML does not take for quotes."""
    lines = yaml_text.split("\n")
    if "\t" in yaml_text:
        return "không dùng phím Tab để thụt lề trong phần đầu, hãy dùng dấu cách"
    # From where the reader stopped up to where the value it was reading began (nearest first).
    rows = range(marks[-1].line, min(m.line for m in marks) - 1, -1) if marks else range(0)
    for n in rows:
        found = _KEY_VALUE.match(lines[n]) if n < len(lines) else None
        if not found:
            continue
        key, value = found.group("key", "value")
        if value[0] in _CURLY:  # Word turned "..." into “...”: a plain value, so a ': ' inside it breaks it
            inner = value.strip(_CURLY).replace('"', "“")
            return (f"thay dấu ngoặc cong “ ” (Word tự đổi) ở hai đầu bằng dấu ngoặc kép thẳng \" \": "
                    f'{key}: "{inner}"')
        if value[0] == '"' and value.count('"') > 2:
            inner = value[1:-1] if value.endswith('"') else value[1:]
            return ("giá trị đã có ngoặc kép nhưng bên trong còn dấu ngoặc kép: đổi dấu ngoặc bên trong thành “ ” "
                    f"hoặc đặt cả giá trị trong dấu nháy đơn: {key}: '{inner.replace(chr(39), chr(39) * 2)}'")
        if value[0] == "'" and value.count("'") > 2:
            inner = value[1:-1] if value.endswith("'") else value[1:]
            if '"' not in inner:
                return (f"giá trị trong dấu nháy đơn có dấu nháy đơn bên trong: đặt cả giá trị trong ngoặc kép: "
                        f'{key}: "{inner}"')
            return ("giá trị trong dấu nháy đơn có dấu nháy đơn bên trong: viết mỗi dấu nháy đơn bên trong hai lần: "
                    f"{key}: '{inner.replace(chr(39), chr(39) * 2)}'")
        if value[0] not in "\"'[{|>&*!":
            return f'đặt giá trị trong dấu ngoặc kép: {key}: "{value}"'
    return "đặt giá trị trong dấu ngoặc kép, ví dụ title: \"Hội nghị: tổng kết\"; đủ cặp ngoặc [ ] và { }"


def _toml_hint(text: str) -> str:
    """`_syntax_hint` for a `+++` TOML line: there a string in single quotes takes no quote of its kind at all."""
    found = re.match(r"^\s*(?P<key>[A-Za-z0-9_-]+)\s*=\s*(?P<value>\S.*?)\s*$", text)
    value = found.group("value") if found else ""
    if value and value[0] in _CURLY:
        inner = value.strip(_CURLY).replace('"', "“")
        return f'thay dấu ngoặc cong “ ” (Word tự đổi) bằng dấu ngoặc kép thẳng " ": {found["key"]} = "{inner}"'
    if value[:1] == '"' and value.count('"') > 2:
        inner = value[1:-1] if value.endswith('"') else value[1:]
        fixed = f"'{inner}'" if "'" not in inner else '"' + inner.replace('"', '\\"') + '"'
        return ("giá trị đã có ngoặc kép nhưng bên trong còn dấu ngoặc kép: đổi dấu ngoặc bên trong thành “ ”, hoặc "
                f"viết: {found['key']} = {fixed}")
    return "đặt chuỗi trong dấu ngoặc kép, ví dụ title = \"Hội nghị\""


def _record_lines(root: yaml.Node, first_line: int, out: dict[str, int]) -> None:
    """The file line of each value by its path ("photos.1.src"). A value reached again through an alias is not
    walked again: its own lines are where the anchor (&) wrote it."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, prefix = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        children: list[tuple[yaml.Node, str]] = []
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = f"{prefix}{key.value}"
                out[path] = first_line + key.start_mark.line
                children.append((value, path + "."))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                path = f"{prefix}{i}"
                out[path] = first_line + item.start_mark.line
                children.append((item, path + "."))
        stack.extend(reversed(children))  # in file order: an anchor (&) is walked where it is written, not at *


_DEPTH_MESSAGE = f"giá trị lồng nhau quá {MAX_DEPTH} tầng"
_SIZE_MESSAGE = f"phần đầu có hơn {MAX_VALUES:,} giá trị (kể cả các giá trị lặp lại qua bí danh *)".replace(",", ".")
_DEPTH_HINT = "phần đầu chỉ cần vài trường đơn giản: bỏ các danh sách lồng nhau và các bí danh YAML (&ten, *ten)"
_CONTROL_HINT = ("xóa mã thoát (\\x.., \\u00.., \\v, \\b, \\f, \\e) khỏi giá trị; nếu cần xuống dòng hãy "
                 "viết hai giá trị riêng")


def _control_message(key: str, ch: str) -> str:
    where = f"'{key}'" if key else "một khóa"
    return f"giá trị {where} chứa ký tự điều khiển {chars.describe(ch)}: nguồn tin và trình duyệt sẽ hỏng"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _measure(root: yaml.Node) -> tuple[str, yaml.Node] | None:
    """(message, node) when the value, with every alias followed, would be deeper than MAX_DEPTH, hold more
    than MAX_VALUES values or contain itself; None when it is fine. Each node is visited once (sizes and
    depths of shared nodes are remembered), iteratively, so the check costs what the text costs."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()  # nodes on the current path: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if leaving:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            open_.discard(key)
            if depth[key] > MAX_DEPTH:
                return _DEPTH_MESSAGE, node
            if size[key] > MAX_VALUES:
                return _SIZE_MESSAGE, node
            continue
        if key in size:
            continue
        if key in open_:
            return "giá trị chứa chính nó qua bí danh (ví dụ &a [*a]): không thể đọc hết", node
        open_.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node))
    return None


def _first_control(root: yaml.Node) -> tuple[yaml.Node, str, str] | None:
    """(node, top-level key, character) of the first key or value holding a forbidden character."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, top = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if isinstance(node.value, str) and (bad := chars.first_forbidden(node.value)):
                return node, top, bad.group()
        elif isinstance(node, yaml.MappingNode):
            for k, v in reversed(node.value):  # in file order: the first bad value is the one reported
                name = top or (k.value if isinstance(k, yaml.ScalarNode) else "")
                stack += [(v, name), (k, name)]
        else:
            stack.extend((item, top) for item in reversed(_children(node)))
    return None
