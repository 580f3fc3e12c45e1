"""Page weight budget: on every page type of the example site, the HTML plus the CSS and JavaScript it loads
up front stays under 100 KB (uncompressed bytes, photos not counted; Lighthouse would count compressed bytes,
which are about a quarter of these). The figures are printed for the report.

The search engine (pagefind.js and its WebAssembly) is not loaded up front: search.js imports it when the reader
searches or reaches for the form, so it is counted separately, with the index chunks a query fetches."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import parse_html

BUDGET = 100_000


def _pages(public: Path) -> dict[str, Path]:
    """One page of each type; the heaviest article (its HTML carries the body and the gallery)."""
    articles = [p for p in public.rglob("index.html") if b"data-pagefind-body" in p.read_bytes()]
    return {
        "home": public / "index.html",
        "category": public / "thoi-su/index.html",
        "article": max(articles, key=lambda p: p.stat().st_size),
        "tag": next(p for p in sorted((public / "chu-de").glob("*/index.html"))),
        "tags": public / "chu-de/index.html",
        "archive": public / "luu-tru/index.html",
        "search": public / "tim-kiem/index.html",
        "404": public / "404.html",
    }


def _weight(public: Path, page: Path) -> tuple[int, int, list[str]]:
    """Bytes and gzip'd bytes of the page and every stylesheet and script it references."""
    tree = parse_html(page.read_bytes())
    refs = [el.get("href") for el in tree.iter("link") if "stylesheet" in (el.get("rel") or "").split()]
    refs += [el.get("src") for el in tree.iter("script") if el.get("src")]
    files = [page]
    for ref in refs:
        path = urlsplit(ref).path
        assert path.startswith("/") and not urlsplit(ref).netloc, f"{page}: external or relative {ref}"
        files.append(public / path.lstrip("/"))
    data = [f.read_bytes() for f in files]
    return sum(map(len, data)), sum(len(gzip.compress(d)) for d in data), refs


def test_every_page_type_is_under_budget(example_build, capsys):
    rows, over = [], []
    for kind, page in _pages(example_build).items():
        raw, packed, refs = _weight(example_build, page)
        rows.append(f"{kind:9} {raw / 1000:6.1f} KB  (gzip {packed / 1000:5.1f} KB)  "
                    f"{page.relative_to(example_build).as_posix()} + {len(refs)} files")
        if raw >= BUDGET:
            over.append(kind)
    with capsys.disabled():
        print("\npage weight, HTML + CSS + JS loaded up front (photos not counted):\n  " + "\n  ".join(rows))
    assert not over, f"over {BUDGET} bytes: {over}"


def test_search_engine_is_counted_when_a_search_runs(example_build, capsys):
    bundle = example_build / "pagefind"
    newest = bundle / json.loads((bundle / "shards.json").read_text(encoding="utf-8"))["shards"][0]["id"]
    engine = [bundle / "pagefind.js", bundle / "shards.json", *bundle.glob("wasm.*"),
              newest / "pagefind-entry.json", *newest.glob("*.pf_meta")]  # the index is in shards (search.py)
    size = sum(p.stat().st_size for p in engine)
    index = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    with capsys.disabled():
        print(f"\nsearch engine loaded on the first search: {size / 1000:.1f} KB; "
              f"whole index of the example ({len(list(bundle.glob('*/fragment/*')))} pages): {index / 1000:.1f} KB")
    assert size < 150_000


@pytest.mark.parametrize("kind", ["article", "home"])
def test_every_photo_has_its_size(example_build, kind):
    # No layout shift from photos: the browser reserves their box before they arrive.
    tree = parse_html(_pages(example_build)[kind].read_bytes())
    imgs = list(tree.iter("img"))
    assert imgs
    for img in imgs:
        assert img.get("width") and img.get("height"), img.attrib
