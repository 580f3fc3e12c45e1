"""The search index's word map: which shards may hold a word, known before the search page opens any shard.

A search asks the shards newest first (see search), so a word only old articles hold made it ask every shard,
each for its own metadata and index chunks: 1.8-2.2 s and ~5 MB on a throttled phone at 10 000 articles, for
the name of an old event's place. With the map, the page asks only the shards that may hold every word of the
query, and one small file per word tells it which.

The map must never hide a shard Pagefind would answer from, so it is built to say "maybe" whenever Pagefind
could match, never less:
- words are folded more coarsely than Pagefind normalizes them (lower case, diacritics dropped, đ -> d), one
  character at a time, so that a word Pagefind matches by prefix still has the query as a prefix here;
- a page's words include every way Pagefind may cut them: at punctuation and markup (and joined across them),
  at digits, and at every capital inside a word (Pagefind indexes "CloudCannon" as cloud and cannon too);
- a word holding a letter the folding does not know (another script, "ß", "ø") is kept only up to that
  letter, and matches any query word that starts with that part, or that it starts with;
- the page's words are read from all of the element Pagefind indexes (and <title>, and the attributes of an
  element marked data-pagefind-index-attrs; Pagefind 1.5 reads no other attribute, alt text included);
- a query word that is not plain letters after folding, or shorter than two letters, is not looked up: every
  shard may answer it.
Pagefind stems words in some languages (a query "running" finds "runs"), which prefixes cannot follow: the map
is made only for languages Pagefind does not stem (Vietnamese).

Files: each shard keeps its own folded words in BUNDLE/<shard>/FILE (carried over with the shard, read by the
next build instead of the pages); BUNDLE/FOLDER/<first two letters>.json maps each word (and each cut-short
word) to the shards that hold it, as a bit mask over the shards in shards.json's order (hexadecimal, bit 0 for
the newest shard). shards.json says which files exist and which shards match any word ("open"), so a missing
file means no shard holds such a word, and names the map's version ("v", a hash of all its files): the page
asks for FOLDER/<key>.json?v=<version>. The files keep their names from build to build, and a static host lets
a browser keep a file it has seen for a while (a tenth of its age, with no Cache-Control); shards.json is always
asked anew, so a new version is a new address and a published word is found at once.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
import unicodedata
from typing import Iterable

FILE = "words.gz"  # in each shard's folder
FOLDER = "words"  # under the bundle: the map, one file per first two letters
LANGUAGES = frozenset({"vi"})  # Pagefind has no stemmer for these (rust-stemmers and its own have none)

# The combining marks dropped: the same ranges as the search page's fold (assets/js/search.js), so that both
# sides fold a word alike.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_RUN = re.compile(r"[^\W_]+")  # letters and digits
_LETTERS = re.compile(r"[^\W\d_]+")
_UNKNOWN = re.compile(r"[^a-z]")
_TAG = re.compile(r"<[^>]*>")
_VALUE = re.compile(r"""=\s*(?:"([^"]*)"|'([^']*)')""")
_INDEXED_ATTRS = "data-pagefind-index-attrs"
_ATTRS_TAG = re.compile(r"<[^>]*data-pagefind-index-attrs[^>]*>")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.S | re.I)


def fold(text: str) -> str:
    """Lower case, diacritics dropped, đ -> d: "Đầm Thị Nại" -> "dam thi nai"."""
    return _MARKS.sub("", unicodedata.normalize("NFD", text.lower())).replace("đ", "d")


def enabled(language: str) -> bool:
    return language.lower().split("-")[0] in LANGUAGES


def chunks(region: bytes, page: bytes) -> set[str]:
    """The whitespace-separated pieces of text Pagefind may read in a page's indexed element (`region`): with
    markup as a space and as nothing (an inline tag inside a word), the attributes it is told to index
    (`data-pagefind-index-attrs`: every attribute of such an element), and the page's title."""
    found: set[str] = set()
    text = region.decode("utf-8", "replace")
    # Markup as a space, and as nothing: a tag inside a word ("Hội<b>nghị</b>") leaves the word whole.
    for plain in (_TAG.sub(" ", text), _TAG.sub("", text)):
        found.update((html.unescape(plain) if "&" in plain else plain).split())
    if _INDEXED_ATTRS in text:  # only attributes an element names this way are read (not alt text, not links)
        for tag in _ATTRS_TAG.finditer(text):
            for quoted in _VALUE.finditer(tag.group(0)):
                value = quoted.group(1) or quoted.group(2) or ""
                found.update((html.unescape(value) if "&" in value else value).split())
    title = title_of(page)
    if title:
        found.update(html.unescape(title.decode("utf-8", "replace")).split())
    return found


def title_of(page: bytes) -> bytes:
    """The text of a page's <title> (b"" without one)."""
    found = _TITLE.search(page)
    return found.group(1) if found else b""


def words(pieces: Iterable[str]) -> set[str]:
    """The folded words (and cut-short words, ending in "*") that stand for these pieces of text."""
    out: set[str] = set()
    for piece in pieces:
        runs = _RUN.findall(piece)
        if not runs:
            continue
        parts = set(runs)
        if len(runs) > 1:
            parts.add("".join(runs))
        for part in list(parts):
            if not part[1:].islower():  # a capital inside: Pagefind also indexes from there on
                parts.update(part[i:] for i in range(1, len(part)) if part[i].isupper())
        for part in parts:
            for letters in _LETTERS.findall(fold(part)):
                unknown = _UNKNOWN.search(letters)
                out.add(letters if unknown is None else letters[:unknown.start()] + "*")
    return out


def pack(found: set[str]) -> bytes:
    """A shard's FILE: its words, sorted, gzip with no timestamp (the same words, the same bytes)."""
    return gzip.compress("\n".join(sorted(found)).encode("utf-8"), mtime=0)


def unpack(data: bytes) -> list[str]:
    text = gzip.decompress(data).decode("utf-8")
    return text.split("\n") if text else []


def word_map(shards: list[list[str]]) -> tuple[dict, dict[str, bytes]]:
    """From each shard's words (in shards.json's order): what shards.json says of the map, and its files by name."""
    masks: dict[str, int] = {}
    open_: list[int] = []
    for n, found in enumerate(shards):
        bit = 1 << n
        for word in found:
            if word.endswith("*") and len(word) < 3:
                open_.append(n)  # cut short within its first two letters: it may match any word
            elif len(word) > 1:  # (the search page looks up words of two letters or more)
                masks[word] = masks.get(word, 0) | bit
    files: dict[str, dict[str, dict[str, str]]] = {}
    for word, mask in masks.items():
        kind = "p" if word.endswith("*") else "w"
        files.setdefault(word[:2], {"w": {}, "p": {}})[kind][word.rstrip("*")] = format(mask, "x")
    made = {f"{key}.json": json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")
            for key, value in files.items()}
    version = hashlib.sha256()
    for name, data in sorted(made.items()):
        version.update(b"%s %d\n" % (name.encode("utf-8"), len(data)))
        version.update(data)
    return {"keys": sorted(files), "open": sorted(set(open_)), "v": version.hexdigest()[:12]}, made
