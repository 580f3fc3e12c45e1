"""What an article body may ask of Python-Markdown, checked before the build converts it: how deeply it nests
lists and quotes, and whether it is shaped like the bodies that make Python-Markdown slow.

Python-Markdown parses nested lists recursively: about 300 levels exhaust Python's recursion limit (a traceback,
and the converter object is left broken for the next article) and 200 already take seconds. No article nests
more than a handful of levels, so a body nesting more than MAX_NESTING is refused with the line that does it.

The count is an upper bound read from each line's start, without parsing: every list marker ("-", "*", "+",
"1.") or quote marker (">") in the leading run counts one level, and each run of whitespace before or between
them one level per four columns (Python-Markdown nests a list four columns deeper per level; the single space
after a marker is no level). Lines that open no list or quote
(indented poems, code) count nothing, whatever their indentation.
"""

from __future__ import annotations

import re

MAX_NESTING = 40
_PREFIX = re.compile(r"(?:[ \t]*(?:>|[-*+](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$)))+[ \t]*")
_MARKER = re.compile(r">|[-*+]|\d{1,9}[.)]")


def too_deep(body: str) -> tuple[int, int] | None:
    """(0-based line of the body, its nesting) of the first line nesting more than MAX_NESTING, else None."""
    # A line needs a prefix of more than MAX_NESTING characters to be too deep (each level takes at least one).
    # Bytes mapped to "p" (prefix character), "x" or newline tell in one C pass whether any line has one;
    # only then does a regular expression find those lines, and only they are counted.
    mapped = b"\n" + body.encode("utf-8", "surrogatepass").translate(_PREFIX_BYTES)
    if _LONG_RUN not in mapped:
        return None
    for candidate in _LONG_PREFIX.finditer(body):
        m = _PREFIX.match(body, candidate.start())
        if m is None or m.end() - m.start() <= MAX_NESTING:
            continue
        prefix = m.group()
        depth = len(_MARKER.findall(prefix)) + sum(_columns(run) // 4 for run in _SPACE.findall(prefix))
        if depth > MAX_NESTING:
            return body.count("\n", 0, m.start()), depth
    return None


_PREFIX_BYTES = bytes(ord("p") if chr(b) in " \t>*+-0123456789.)" else 10 if b == 10 else ord("x") for b in range(256))
_LONG_RUN = b"\n" + b"p" * (MAX_NESTING + 1)
_LONG_PREFIX = re.compile(rf"^[ \t>*+\-0-9.)]{{{MAX_NESTING + 1},}}", re.MULTILINE)


_SPACE = re.compile(r"[ \t]+")


def _columns(whitespace: str) -> int:
    cols = 0
    for ch in whitespace:
        cols = cols + 4 - cols % 4 if ch == "\t" else cols + 1
    return cols


# Python-Markdown works block by block (lines between blank lines), and several of its block parsers take time in
# the square of a block's lines (4 000 list items in one block: 2.4 s; 10 000 "-" lines: 12 s), its raw HTML
# parser in the square of unclosed tags. Real articles have blocks of a few lines and a few dozen tags; a body
# beyond these is converted once on trial, under a time limit, before it is accepted (see read.load_one).
TRIAL_BLOCK_LINES = 300
TRIAL_TAGS = 1000
TRIAL_CHARS = 256_000


def worth_a_trial(body: str) -> bool:
    if len(body) > TRIAL_CHARS or body.count("<") > TRIAL_TAGS:
        return True
    if body.count("\n") <= TRIAL_BLOCK_LINES:
        return False  # most articles: too few lines for any block to be long
    return any(block.count("\n") >= TRIAL_BLOCK_LINES for block in _BLANK_LINE.split(body))


_BLANK_LINE = re.compile(r"\n[ \t]*\n")
