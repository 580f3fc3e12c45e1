"""The editor's guide (docs/huong-dan-bien-tap.md) as sitegen ships it: found, cut into sections, rendered.

Every printed diagnostic ends with `[xem: sitegen help CODE]`, and a site made by `sitegen init` has no docs/
folder: the guide travels inside the package (the wheel carries it as sitegen/_guide/, see pyproject.toml), so
`sitegen help CODE` and the preview's error box can show it from any site folder.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

NAME = "huong-dan-bien-tap.md"
_PACKAGED = Path(__file__).parent / "_guide" / NAME
_SOURCE = Path(__file__).parent.parent / "docs" / NAME
# Where the preview serves the guide (preview/server.py); outside any site's own paths (slugs never start with _).
PREVIEW_PATH = "/_sitegen/huong-dan/"

_ANCHOR = re.compile(r'^<a id="([^"]+)"></a>\s*$', re.M)
_HEADING = re.compile(r"^(#{1,6}) ", re.M)


def path() -> Path:
    """The guide file: inside the installed package, else in the source tree (an editable install)."""
    return _PACKAGED if _PACKAGED.is_file() else _SOURCE


def text() -> str:
    return path().read_text(encoding="utf-8")


@dataclass(frozen=True)
class Section:
    anchor: str  # "fm002", "xem-thu"
    title: str  # the heading's text, "FM002 — Lỗi cú pháp YAML"
    body: str  # Markdown from the heading to the next heading of the same or a higher level


def sections(source: str) -> dict[str, Section]:
    """Every `<a id="...">` directly followed by a heading, with that heading's part of the guide."""
    found: dict[str, Section] = {}
    for m in _ANCHOR.finditer(source):
        heading = _HEADING.match(source, m.end() + 1)
        if heading is None:
            continue
        level = len(heading.group(1))
        line_end = source.find("\n", heading.start())
        title = source[heading.end():line_end if line_end >= 0 else len(source)].strip()
        end = len(source)
        for nxt in _HEADING.finditer(source, line_end if line_end >= 0 else len(source)):
            if len(nxt.group(1)) <= level:
                end = nxt.start()
                break
        body = source[heading.start():end]
        body = _ANCHOR.sub("", body).strip() + "\n"  # the next section's anchor belongs to it
        found[m.group(1)] = Section(m.group(1), title, body)
    return found


def find(name: str, source: str | None = None) -> Section | list[str]:
    """The section for a code or anchor in any case (`FM002`, `fm002`, `xem-thu`), or the nearest names when
    there is none."""
    all_sections = sections(text() if source is None else source)
    key = name.strip().lower().lstrip("#")
    if key in all_sections:
        return all_sections[key]
    return [a.upper() if re.fullmatch(r"[a-z]+\d{3}", a) else a
            for a in difflib.get_close_matches(key, list(all_sections), n=3, cutoff=0.5)]


def as_html(source: str | None = None) -> bytes:
    """The whole guide as one HTML page (Python-Markdown, as article bodies): the anchors stay, so the preview
    can link to `…/huong-dan/#fm002`."""
    import markdown

    body = markdown.markdown(text() if source is None else source, extensions=["extra"])
    return ('<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Hướng dẫn biên tập (sitegen)</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            '<body style="font:16px/1.6 system-ui,sans-serif;max-width:48rem;margin:1rem auto;padding:0 1rem">'
            f"{body}</body></html>").encode("utf-8")
