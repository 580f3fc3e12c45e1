"""Text from readers made safe to print: the collector's log lines and `sitegen stats comments`.

A request path, a proxy header or a comment is chosen by whoever sent it. Printed raw, an escape sequence
(`\\x1b[2J`, a C1 `\\x9b`) drives the operator's terminal, a newline forges a second log line or a fake comment
entry, and a bidi override (`\\u202e`) shows text in another order than it is stored. Everything here is written
as JSON, whose string escapes make newlines visible; what JSON itself leaves raw (DEL, C1 controls, format
characters, line and paragraph separators) is escaped too, so one record is always one visible line.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from typing import Any

_SUSPECT = re.compile(r"[^\x20-\x7e]")  # only these can be unsafe; Vietnamese letters are checked one by one
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if unicodedata.category(ch) not in _UNSAFE:
        return ch
    # JSON's own escape, so the result stays valid JSON; astral format characters become a surrogate pair.
    return json.dumps(ch)[1:-1] if ord(ch) > 0xFFFF else f"\\u{ord(ch):04x}"


def visible(text: str) -> str:
    """`text` with every control or invisible format character written as a JSON escape (`\\u001b`)."""
    return _SUSPECT.sub(_escape, text)


def quote(text: str) -> str:
    """`text` as a JSON string literal with every control or invisible format character escaped."""
    return visible(json.dumps(text, ensure_ascii=False))


def record(**fields: Any) -> str:
    """One log line: a JSON object (time first), safe to print whatever the fields hold."""
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    return visible(json.dumps({"time": now, **fields}, ensure_ascii=False, default=str))


def wire_text(raw: str, limit: int = 500) -> str:
    """A request target or header as the server decoded it (Latin-1, one character per byte) back to the
    UTF-8 the client most likely meant, bytes that are not UTF-8 kept as `\\xNN`, cut at `limit` characters."""
    try:
        text = raw.encode("latin-1").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        text = raw
    return text if len(text) <= limit else text[:limit] + "…"
