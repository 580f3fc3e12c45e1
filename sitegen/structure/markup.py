"""Stage 3a, render bodies: article Markdown to an HTML fragment with Python-Markdown.

A pure function of (body, photo map, options), so results can be cached by content and computed in worker
processes. What provincial portals need on top of Markdown lives in one tree processor: a photo alone in a
paragraph becomes <figure> with its caption below, the first paragraph can serve as the lead, and a closing
"Nguồn: …" paragraph is recognised as the source line.
"""

from __future__ import annotations

import re
import signal
import threading
import unicodedata
from contextlib import contextmanager
import xml.etree.ElementTree as etree
from dataclasses import dataclass
from typing import Iterator, Mapping

import markdown
from markdown.extensions import Extension
from markdown.extensions.abbr import AbbrExtension
from markdown.extensions.attr_list import AttrListExtension
from markdown.extensions.def_list import DefListExtension
from markdown.extensions.fenced_code import FencedCodeExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.md_in_html import MarkdownInHtmlExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension
from markdown.inlinepatterns import LinkInlineProcessor
from markdown.treeprocessors import Treeprocessor

from .images import ImageInfo
from ..content.slugs import slugify

_STASH = re.compile("\x02wzxhzdk:\\d+\x03")
_SOURCE = re.compile(r"^\s*(nguồn|theo)\s*:", re.IGNORECASE)
# Markdown image references, to find the line of a photo the editor wrote (Python-Markdown keeps no lines).
# The body column: full width on phones, about 46rem beside the sidebar on wider screens (assets/css/site.css).
BODY_SIZES = "(min-width: 48em) 46rem, 100vw"


@dataclass(frozen=True)
class Rendered:
    html: str
    lead_text: str  # plain text of the first paragraph, the lead when front matter gives no summary
    lead_in_body: bool  # the first paragraph was marked as the lead (class="lead")
    has_source_line: bool  # the body ends with its own "Nguồn: …" line
    words: int


@dataclass(frozen=True)
class BodyInfo:
    """What listings, feeds and the link check need of a rendered body, without the HTML itself: the build
    keeps these for every article and fetches the HTML only for the pages it renders."""

    lead_text: str
    lead_in_body: bool
    has_source_line: bool
    words: int
    ids: frozenset[str]  # ids an #anchor may name
    links: bool = True  # it has an <a href>: its link check depends on the rest of the site (links.Index)


@dataclass(frozen=True)
class MarkupOptions:
    mark_lead: bool  # no summary in front matter: style the first paragraph as the lead
    safe: bool  # sanitize raw HTML (site.toml raw_html = "safe")
    lazy_from: int = 1  # photos from this index on load lazily (the first may be above the fold)


class _PortalTree(Treeprocessor):
    def __init__(self, md: markdown.Markdown):
        super().__init__(md)
        self.photos: Mapping[str, ImageInfo | None] = {}
        self.alts: Mapping[str, str] = {}
        self.options = MarkupOptions(False, False)
        self.lead_text = ""
        self.lead_in_body = False
        self.has_source = False

    def run(self, root: etree.Element) -> None:
        figures = 0
        blocks = list(root)
        for i, el in enumerate(blocks):
            if el.tag == "p" and _only_image(el):
                img = el[0]
                caption = img.get("alt", "")
                src = img.get("src", "")
                if self._dropped(src):
                    root.remove(el)
                    continue
                el.tag = "figure"
                el.text = None
                el.attrib.clear()
                el.set("class", "photo")
                img.tail = None
                self._image(el, img, src, self.alts.get(src) or caption, figures)
                if caption:
                    cap = etree.SubElement(el, "figcaption")
                    cap.text = caption
                figures += 1
        for parent in list(root.iter()):
            for img in [child for child in parent if child.tag == "img" and child.get("data-done") is None]:
                src = img.get("src", "")
                if self._dropped(src):
                    _remove_keeping_tail(parent, img)
                    continue
                self._image(parent, img, src, img.get("alt", ""), figures)
                figures += 1
        for img in root.iter("img"):
            img.attrib.pop("data-done", None)
        self._lead_and_source(root)

    def _dropped(self, src: str) -> bool:
        """A local photo that could not be published (already reported): its figure is left out."""
        return src in self.photos and self.photos[src] is None

    def _image(self, parent: etree.Element, img: etree.Element, src: str, alt: str, index: int) -> None:
        info = self.photos.get(src)
        img.set("alt", alt)
        if info is not None:
            img.set("src", info.url)
            if info.srcset:
                img.set("srcset", info.srcset)
                img.set("sizes", BODY_SIZES)
            img.set("width", str(info.width))
            img.set("height", str(info.height))
            if info.webp_srcset:
                # <picture>: browsers that read WebP take it (a third smaller), the rest fall back to the JPEGs.
                picture = etree.Element("picture")
                etree.SubElement(picture, "source", {"type": "image/webp", "srcset": info.webp_srcset,
                                                     "sizes": BODY_SIZES})
                at = list(parent).index(img)
                parent.remove(img)
                picture.tail, img.tail = img.tail, None
                picture.append(img)
                parent.insert(at, picture)
        if index >= self.options.lazy_from:
            img.set("loading", "lazy")
        img.set("decoding", "async")
        img.set("data-done", "1")

    def _lead_and_source(self, root: etree.Element) -> None:
        # A raw HTML block sits in a placeholder <p> that Python-Markdown unwraps only if it has no attributes:
        # marking it would publish <p class="lead"><div>…</div></p>, which is invalid HTML.
        paragraphs = [el for el in root
                      if el.tag == "p" and not (len(el) == 0 and _STASH.fullmatch((el.text or "").strip()))]
        if paragraphs:
            first = paragraphs[0]
            self.lead_text = _plain(first)
            if self.options.mark_lead and root[0] is first:
                first.set("class", "lead")
                self.lead_in_body = True
            last = root[len(root) - 1]
            if last.tag == "p" and _SOURCE.match(_plain(last)):
                last.set("class", "source")
                self.has_source = True


def _remove_keeping_tail(parent: etree.Element, child: etree.Element) -> None:
    at = list(parent).index(child)
    if child.tail:
        if at:
            parent[at - 1].tail = (parent[at - 1].tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def _only_image(p: etree.Element) -> bool:
    return (len(p) == 1 and p[0].tag == "img" and not (p.text or "").strip() and not (p[0].tail or "").strip())


def _plain(el: etree.Element) -> str:
    text = _STASH.sub("", "".join(el.itertext()))
    return unicodedata.normalize("NFC", " ".join(text.split()))


class _Brackets:
    """`LinkInlineProcessor.getText` in linear time, for one Markdown instance's link and image patterns.

    Python-Markdown's own scans from each "[" to the "]" that closes it, or to the end of the paragraph when none
    does, and tries again from the next "[": 20 000 unclosed "[" in a 20 KB paragraph took 51 s. This returns
    exactly what that scan returns (the text up to the closing "]", the index after it, whether one was found),
    and when a scan would be long it answers from a table of every bracket's match in that text, built once per
    text (the text changes only when a link is made, and a link whose own scan is long needs as many brackets)."""

    _SHORT = 64  # brackets scanned before building the table: ordinary links close long before that
    _BRACKET = re.compile(r"[\[\]]")

    def __init__(self) -> None:
        self._data: str | None = None
        self._close: dict[int, int] = {}  # index just after a "[" (or any start) -> its closing "]", -1 for none

    def get_text(self, data: str, index: int) -> tuple[str, int, bool]:
        if data is not self._data:
            count = 1
            for n, m in enumerate(self._BRACKET.finditer(data, index)):
                count += 1 if m.group() == "[" else -1
                if count == 0:
                    return data[index:m.start()], m.end(), True
                if n >= self._SHORT:
                    self._index(data)
                    break
            else:
                return data[index:], len(data), False
        close = self._close.get(index)
        if close is None:
            close = self._scan(data, index)
        if close < 0:
            return data[index:], len(data), False
        return data[index:close], close + 1, True

    def _index(self, data: str) -> None:
        """For each position just after a "[", the "]" closing it: the first later "]" that takes the bracket
        depth below the depth at that position (one pass from the end, remembering for each depth the nearest "]"
        that leaves it)."""
        marks = [(m.start(), m.group()) for m in self._BRACKET.finditer(data)]
        depth_after: list[int] = []
        depth = 0
        for _, ch in marks:
            depth += 1 if ch == "[" else -1
            depth_after.append(depth)
        nearest: dict[int, int] = {}  # depth reached just after a "]" -> position of the nearest such "]"
        close: dict[int, int] = {}
        for (pos, ch), after in zip(reversed(marks), reversed(depth_after)):
            if ch == "]":
                nearest[after] = pos
            else:  # the depth before this "[" is after - 1; its "]" is the first to bring the depth back there
                close[pos + 1] = nearest.get(after - 1, -1)
        self._data, self._close = data, close

    def _scan(self, data: str, index: int) -> int:
        """A start the table does not hold (not just after a "["): Python-Markdown's own scan."""
        count = 1
        for m in self._BRACKET.finditer(data, index):
            count += 1 if m.group() == "[" else -1
            if count == 0:
                return m.start()
        return -1


class _LinkBudget:
    """A bound on `LinkInlineProcessor.getLink`'s work in one conversion. Its scan for the ")" closing a link's
    destination runs to the end of the paragraph when there is none (it tracks quotes and nesting, so it cannot
    be answered from a table like the brackets), and "[a](" 5 000 times took 18 s. Each call is Python-Markdown's
    own, on the whole text, as long as the characters it may scan fit in what is left of BUDGET; past that, "[…]("
    stays plain text. Real articles scan a few thousand characters in all (a link's destination and title), so
    their output is Python-Markdown's, byte for byte; only a body built to be slow renders differently."""

    BUDGET = 1_000_000  # characters scanned; a few tenths of a second of Python at worst

    def __init__(self) -> None:
        self.left = self.BUDGET

    def wrap(self, original):  # type: ignore[no-untyped-def]
        def get_link(data: str, index: int) -> tuple[str, str | None, int, bool]:
            if not data.startswith("(", index):
                # No destination: Python-Markdown answers at once, scanning nothing, so nothing is charged. (Charging
                # the whole rest of the text for such a call, "[x]" after "[x]", spent the budget on a few hundred
                # of them in an 11 KB paragraph, and real images after them stayed text.)
                return original(data, index)
            reach = len(data) - index  # the most this call can scan
            if reach > self.left:
                return "", None, index, False
            href, title, end, handled = original(data, index)
            self.left -= (end - index) if handled and end > index else reach
            return href, title, end, handled

        return get_link


class _PortalExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_PortalTree(md), "portal", -1)
        md.registerExtension(self)  # for reset(), called before every conversion
        self.budget = _LinkBudget()
        brackets = _Brackets()
        for pattern in md.inlinePatterns:
            if isinstance(pattern, LinkInlineProcessor):  # links, images and references, all the same scans
                pattern.getText = brackets.get_text  # type: ignore[method-assign]
                pattern.getLink = self.budget.wrap(pattern.getLink)  # type: ignore[method-assign]

    def reset(self) -> None:
        self.budget.left = _LinkBudget.BUDGET


def _new_markdown() -> markdown.Markdown:
    # "extra" (its seven extensions, in its order), sane lists, toc. Instances, not names: a name (also the ones
    # "extra" registers) makes Python-Markdown look up entry points, importing importlib.metadata, email...: 35 ms
    # of a one-article edit build, and of each worker's start.
    return markdown.Markdown(
        extensions=[FencedCodeExtension(), FootnoteExtension(), AttrListExtension(), DefListExtension(),
                    TableExtension(), AbbrExtension(), MarkdownInHtmlExtension(), SaneListExtension(),
                    TocExtension(slugify=lambda value, sep: slugify(value) or "muc", permalink=False), _PortalExtension()],
        output_format="html",
    )


class TooSlow(Exception):
    """A conversion stopped at the Renderer's time limit."""


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TooSlow in the code inside once `seconds` have passed. Python-Markdown has more quadratic corners
    than can be patched one by one (20 KB of "-\n" lines: 12 s, unclosed "<a " tags: 12 s), so a body is given a
    time, not a shape. A timer signal is the only way to stop pure Python code from outside; signals reach the
    main thread only, so elsewhere (the preview's rebuild thread) the conversion runs without a limit."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise TooSlow()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Renderer:
    """One reusable Markdown converter (building one costs more than converting a short article).
    With `time_limit` (seconds), a conversion taking longer raises TooSlow (in the main thread only)."""

    def __init__(self, time_limit: float | None = None) -> None:
        self._md = _new_markdown()
        self._tree: _PortalTree = self._md.treeprocessors["portal"]  # type: ignore[assignment]
        self.time_limit = time_limit

    def render(self, body: str, photos: Mapping[str, ImageInfo | None], alts: Mapping[str, str],
               options: MarkupOptions) -> Rendered:
        tree = self._tree
        tree.photos, tree.alts, tree.options = photos, alts, options
        tree.lead_text, tree.lead_in_body, tree.has_source = "", False, False
        self._md.reset()
        try:
            with _time_limit(self.time_limit):
                html = self._md.convert(body)
        except BaseException:
            # A conversion cut short (TooSlow, a RecursionError, an interrupt) leaves Python-Markdown's state half
            # changed, and the next article would come out wrong: start the next one on a new converter.
            self.__init__(self.time_limit)  # type: ignore[misc]
            raise
        if options.safe:
            html = sanitize(html)
        words = len(_STASH.sub("", body).split())
        return Rendered(html, tree.lead_text, tree.lead_in_body, tree.has_source, words)


_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "dfn", "div", "dl",
    "dt", "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
    "mark", "ol", "p", "picture", "pre", "q", "s", "small", "source", "span", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
}
_ALLOWED_ATTRS = {
    "*": {"class", "id", "title", "lang"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "loading", "decoding", "srcset", "sizes"},
    "source": {"srcset", "sizes", "type", "media", "width", "height"},
    "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan", "scope"}, "time": {"datetime"},
}


def sanitize(html: str) -> str:
    """Keep formatting, drop everything that can run script (nh3, a Rust HTML sanitizer)."""
    import nh3

    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRS,
                     url_schemes={"http", "https", "mailto", "tel"}, link_rel="noopener noreferrer")
