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

_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0, 0x110000, 0x10000))
# Tab, newline and carriage return stay: they are whitespace everywhere text goes.
FORBIDDEN = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")

_NAMES = {0x00: "NUL", 0x08: "BS, lùi một ký tự", 0x0B: "VT, ngắt dòng của Word", 0x0C: "FF, ngắt trang", 0x1B: "ESC, mã màu của cửa sổ lệnh", 0x7F: "DEL"}


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
    return FORBIDDEN.search(text)
