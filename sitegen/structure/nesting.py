"""How deeply an article body nests lists and quotes, checked before Python-Markdown sees it.

Python-Markdown parses nested lists recursively: about 300 levels exhaust Python's recursion limit (a traceback,
and the converter object is left broken for the next article) and 200 already take seconds. No article nests
more than a handful of levels, so a body nesting more than MAX_NESTING is refused with the line that does it.

The count is an upper bound read from each line's start, without parsing: every list marker ("-", "*", "+",
"1.") or quote marker (">") in the leading run counts one level, and the whitespace around them one level per
four columns (Python-Markdown nests a list four columns deeper per level). Lines that open no list or quote
(indented poems, code) count nothing, whatever their indentation.
"""

from __future__ import annotations

import re

MAX_NESTING = 40
_PREFIX = re.compile(r"(?:[ \t]*(?:>|[-*+](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$)))+[ \t]*")
_MARKER = re.compile(r">|[-*+]|\d{1,9}[.)]")


def too_deep(body: str) -> tuple[int, int] | None:
    """(0-based line of the body, its nesting) of the first line nesting more than MAX_NESTING, else None."""
    # A line needs at least MAX_NESTING markers or 4 * MAX_NESTING columns of indentation to be too deep: test
    # each line cheaply for that before counting.
    for n, line in enumerate(body.split("\n")):
        m = _PREFIX.match(line)
        if m is None or m.end() < MAX_NESTING:
            continue
        prefix = m.group()
        markers = len(_MARKER.findall(prefix))
        spaces = _PREFIX_SPACE.sub("", prefix)
        depth = markers + _columns(spaces) // 4
        if depth > MAX_NESTING:
            return n, depth
    return None


_PREFIX_SPACE = re.compile(r"[^ \t]")


def _columns(whitespace: str) -> int:
    cols = 0
    for ch in whitespace:
        cols = cols + 4 - cols % 4 if ch == "\t" else cols + 1
    return cols
