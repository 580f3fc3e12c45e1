"""Characters no text of the site may carry: control characters and Unicode noncharacters.

XML 1.0 forbids C0 controls other than tab, newline and carriage return (one "\\x1b" in a title makes an Atom feed
ill-formed, and feed readers drop the whole feed), HTML calls C0/C1 controls and noncharacters parse errors,
and a terminal shows an escape sequence instead of the title. None of them is ever typed on purpose: they come
from a YAML or TOML escape ("\\x1b", "\\u001b", "\\v"), a paste from a word processor (vertical tab for a line
break) or a file decoded with the wrong code page (C1 controls). So they are refused where text enters the
build, with the place and the character named, rather than removed behind the editor's back.
Imports nothing from the rest of sitegen (site.toml and article files both use it).
"""

from __future__ import annotations

import re
import unicodedata

_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # tab, newline and carriage return stay: whitespace everywhere
_BMP_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff"
_ASTRAL_NONCHARACTERS = "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0x10000, 0x110000, 0x10000))
FORBIDDEN = re.compile(f"[{_CONTROLS}\ud800-\udfff{_BMP_NONCHARACTERS}{_ASTRAL_NONCHARACTERS}]")
# Each part alone, for whole files: a small class searches many times faster than the whole one.
_CONTROL = re.compile(f"[{_CONTROLS}]")
_BMP_NONCHARACTER = re.compile(f"[{_BMP_NONCHARACTERS}]")
_ASTRAL_NONCHARACTER = re.compile(f"[{_ASTRAL_NONCHARACTERS}]")
# The bytes that can begin a forbidden character in UTF-8: C0 controls (tab, newline, carriage return aside) and
# DEL, C2 (C1 controls are C2 80..9F), EF (BMP noncharacters are EF B7 xx and EF BF BE/BF) and F0..F4 (the other
# planes' noncharacters). `bytes.translate` deleting every other byte keeps just these, in one pass in C.
_LEADS = {*range(0x20), 0x7F, 0xC2, 0xEF, *range(0xF0, 0xF5)} - set(b"\t\n\r")
_NOT_LEADS = bytes(b for b in range(256) if b not in _LEADS)

_NAMES = {0x00: "NUL", 0x08: "BS, lùi một ký tự", 0x0B: "VT, ngắt dòng của Word", 0x0C: "FF, ngắt trang",
          0x1B: "ESC, mã màu của cửa sổ lệnh", 0x7F: "DEL"}


def describe(ch: str) -> str:
    """'U+001B (ESC, mã màu của cửa sổ lệnh)': the code point, which editors can search for, and what it usually is."""
    code = ord(ch)
    if code in _NAMES:
        name = _NAMES[code]
    elif code < 0x20:
        name = "ký tự điều khiển"
    elif 0x80 <= code <= 0x9F:
        name = "ký tự điều khiển C1, thường do đọc sai bảng mã Windows-1252"
    elif 0xD800 <= code <= 0xDFFF:
        name = "nửa cặp UTF-16 đứng một mình"
    else:
        name = unicodedata.name(ch, "ký tự không dùng được (noncharacter)")
    return f"U+{code:04X} ({name})"


def first_forbidden(text: str) -> re.Match[str] | None:
    if text.isprintable():  # titles and other one-line values, in C
        return None
    return FORBIDDEN.search(text)


def first_forbidden_in_file(raw: bytes, text: str) -> re.Match[str] | None:
    """`first_forbidden` for a whole file: `text` is `raw` decoded as UTF-8. Byte tests in C rule out nearly
    every file before any regular expression runs (searching 10 000 articles costs milliseconds, not seconds)."""
    leads = raw.translate(None, _NOT_LEADS)  # empty for nearly every file
    if not leads:
        return None
    searches = []
    if leads.translate(None, b"\xef\xf0\xf1\xf2\xf3\xf4"):  # a control, or C2 (NBSP, «, © also start with it)
        searches.append(_CONTROL)
    if b"\xef" in leads:
        searches.append(_BMP_NONCHARACTER)
    if leads.translate(None, bytes(range(0xF0))):
        searches.append(_ASTRAL_NONCHARACTER)
    found = [m for m in (r.search(text) for r in searches) if m]
    return min(found, key=lambda m: m.start()) if found else None
