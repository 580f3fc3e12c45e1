"""Search in a real browser (Debian's chromium through Playwright) against the example site, built with its
Pagefind index and served over HTTP: queries with and without Vietnamese diacritics, filters, opening a result,
the header's search box, a site under a base path; and, without a browser, what the index holds."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from pathlib import Path

import pytest

from conftest import QuietHandler, ROOT, serving
from sitegen import config as config_mod
from sitegen.build.pipeline import build

THI_DUA = "Hội nghị tổng kết công tác thi đua, khen thưởng năm 2023"
DONG_DA = "Lễ hội Đống Đa – Tây Sơn thu hút hàng vạn du khách"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("search") / "public"
    result = build(config_mod.load(ROOT, out), use_cache=False)
    assert not result.diagnostics, [d.format() for d in result.diagnostics]
    return out


@pytest.fixture(scope="module")
def served(example):
    with serving(example) as url:
        yield url


def _watch(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: errors.append("external request: " + req.url)
            if not req.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    return errors


def search(page, base: str, query: str = "", **params: str) -> list[dict]:
    """Open the search page for `query` (as the header's GET form does) and return the results shown."""
    page.goto(base + "tim-kiem/?" + urllib.parse.urlencode({"q": query, **params}))
    page.wait_for_selector(".search[data-searched], .search[data-ready='error']")
    assert page.get_attribute(".search", "data-ready") == "true"
    return page.eval_on_selector_all(".search-result", """els => els.map(li => ({
        title: li.querySelector('.result-title a').textContent,
        href: li.querySelector('.result-title a').getAttribute('href'),
        category: (li.querySelector('.result-category') || {}).textContent,
        date: (li.querySelector('.result-date') || {}).textContent,
        marks: [...li.querySelectorAll('.result-excerpt mark')].map(m => m.textContent),
        img: li.querySelector('img') && [li.querySelector('img').getAttribute('width'),
                                         li.querySelector('img').getAttribute('height'),
                                         li.querySelector('img').getAttribute('src')],
    }))""")


# --- the index itself, no browser ------------------------------------------------------------------------------

def _page_counts(public: Path) -> dict[str, int]:
    """Shard -> articles it indexes, as Pagefind's own entry file of each shard says."""
    listing = json.loads((public / "pagefind/shards.json").read_text(encoding="utf-8"))
    counts = {}
    for shard in listing["shards"]:
        entry = json.loads((public / "pagefind" / shard["id"] / "pagefind-entry.json").read_text(encoding="utf-8"))
        counts[shard["id"]] = entry["languages"]["vi"]["page_count"]
        assert counts[shard["id"]] == shard["pages"]
    return counts


def test_index_holds_articles_only(example):
    articles = sum(1 for p in example.rglob("index.html") if b"data-pagefind-body" in p.read_bytes())
    assert articles == 15  # the example's 16 articles less its draft
    counts = _page_counts(example)
    assert sum(counts.values()) == articles  # listings, tags, home, 404 are no results
    # Shards by period, newest first: the newest month alone, then each older year.
    assert list(counts) == ["2026-06-1", "2025-1", "2024-1"]
    assert (example / "tim-kiem/index.html").is_file()
    assert not list((example / "pagefind").glob("pagefind-ui*"))  # the theme has its own search page


def test_index_is_reproducible(example, tmp_path):
    # Pagefind writes filter values in hash-map order; sitegen.build.search sorts them so the bytes never depend on luck.
    again = tmp_path / "again"
    build(config_mod.load(ROOT, again), use_cache=False)
    first = {p.relative_to(example).as_posix(): p.read_bytes() for p in (example / "pagefind").rglob("*") if p.is_file()}
    second = {p.relative_to(again).as_posix(): p.read_bytes() for p in (again / "pagefind").rglob("*") if p.is_file()}
    assert first == second
    assert any(k.startswith("pagefind/2025-1/filter/") for k in first)


def test_unchanged_rebuild_reuses_the_index(site):
    from conftest import article

    site.write("content/thoi-su/bai-mot/index.md", article("Bài một", body="Nội dung thứ nhất."))
    site.build()
    stamps = {p: p.stat().st_ino for p in (site.public / "pagefind").rglob("*") if p.is_file()}
    result = site.build()
    assert result.stats.written == 0
    assert {p: p.stat().st_ino for p in (site.public / "pagefind").rglob("*") if p.is_file()} == stamps
    # A theme change rewrites every page but not what Pagefind reads: the index files stay as they were.
    css = (ROOT / "assets/css/site.css").read_text(encoding="utf-8")
    site.write("assets/css/site.css", css + "\n.brand-name { letter-spacing: .01em; }\n")
    result = site.build()
    assert result.stats.written > 2
    kept = {p: p.stat().st_ino for p in (site.public / "pagefind").rglob("*") if p.is_file() and p.suffix != ".json"}
    assert kept == {p: i for p, i in stamps.items() if p.suffix != ".json"}
    site.write("content/thoi-su/bai-hai/index.md", article("Bài hai", body="Nội dung thứ hai."))
    site.build()
    assert _page_counts(site.public) == {"2024-03-1": 2}
    (site.root / "content/thoi-su/bai-hai/index.md").unlink()
    site.build()  # the spare tree still holds the deleted page until publish: it must not be indexed
    assert _page_counts(site.public) == {"2024-03-1": 1}


def test_missing_pagefind_is_a_warning_naming_the_fix(site, monkeypatch):
    from conftest import article
    from sitegen.build import search as search_mod
    from sitegen.diagnostics import BuildFailed

    site.write("content/thoi-su/bai/index.md", article("Bài", body="Nội dung."))
    monkeypatch.setattr(search_mod, "_binary", lambda: None)
    result = site.build()
    [warning] = [d for d in result.diagnostics if d.code == "SEARCH001"]
    assert warning.severity == "warning" and "pagefind" in warning.hint and "Pagefind" in warning.message
    assert (site.public / "thoi-su/bai/index.html").is_file()  # the pages still publish
    site.write("content/thoi-su/bai/index.md", article("Bài", body="Nội dung đã sửa."))
    with pytest.raises(BuildFailed) as failed:
        site.build(strict=True)
    assert [d.code for d in failed.value.diagnostics] == ["SEARCH001"]


# --- in the browser --------------------------------------------------------------------------------------------

@pytest.mark.browser
def test_with_and_without_diacritics_find_the_same_article(served, browser):
    page = browser.new_page()
    errors = _watch(page)
    relevance = {"sap-xep": "lien-quan"}  # the best match first, whatever its date
    plain = search(page, served, "hoi nghi thi dua", **relevance)
    accented = search(page, served, "Hội nghị thi đua", **relevance)
    assert page.input_value("#search-order") == "lien-quan"
    # Each shard ranks by its own statistics (as Pagefind's merged indexes do): the best match is near the top.
    assert THI_DUA in [r["title"] for r in accented[:3]]
    [best] = [r for r in plain[:3] if r["title"] == THI_DUA]
    assert best["category"] == "Thi đua - Khen thưởng" and best["date"] == "29/03/2024"
    assert any(m.lower() in ("hội", "nghị", "thi", "đua", "hội nghị") for m in best["marks"])
    width, height, src = best["img"]
    assert (width, height) == ("160", "107") and src.startswith("/thi-dua-khen-thuong/")
    assert page.text_content(".search-status").startswith("Tìm thấy")
    # Đ/đ is a letter of its own, not d with a mark: it must still match a plain d.
    found = search(page, served, "dong da", **relevance)
    assert found and found[0]["title"] == DONG_DA
    assert DONG_DA in [r["title"] for r in search(page, served, "Đống Đa", **relevance)[:3]]
    # By default the newest come first (across shards, each a period); the same articles either way.
    for query in ("hoi nghi thi dua", "dong da"):
        newest = search(page, served, query)
        assert len(newest) < 10  # one screenful: every result is shown in both orders
        assert sorted(r["title"] for r in newest) == sorted(r["title"] for r in search(page, served, query, **relevance))
        days = [tuple(reversed(r["date"].split("/"))) for r in newest]
        assert days == sorted(days, reverse=True) and len({d[0] for d in days}) > 1, days
    assert not errors, errors
    page.close()


@pytest.mark.browser
def test_no_results_message(served, browser):
    page = browser.new_page()
    assert search(page, served, "xyzzyqwv") == []
    # What to try next: heard with the status (a visually hidden part of it), seen in the list under it.
    assert page.text_content(".search-status") == ("Không tìm thấy kết quả cho “xyzzyqwv”. "
                                                   "Hãy thử từ khóa khác hoặc bỏ bớt bộ lọc.")
    box = page.eval_on_selector(".search-status .visually-hidden", "e => [e.getBoundingClientRect().width, "
                                "e.getBoundingClientRect().height]")
    assert box[0] <= 1 and box[1] <= 1
    assert page.text_content(".search-results") == "Hãy thử từ khóa khác hoặc bỏ bớt bộ lọc."
    assert page.get_attribute(".search-hint", "aria-hidden") == "true"
    page.close()


# Every fetch made by the page answers 400 ms late, as on a phone far from the server, so the index's answers
# always come after the first paint; the status box's heights and the layout shifts (as Lighthouse's CLS counts
# them) are recorded from the start.
SLOW_AND_WATCHED = """
const fetchNow = window.fetch.bind(window);
window.fetch = (...args) => new Promise(done => setTimeout(done, 400)).then(() => fetchNow(...args));
window.__shifts = [];
new PerformanceObserver(list => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shifts.push(e.value);
}).observe({type: 'layout-shift', buffered: true});
window.__heights = [];
document.addEventListener('DOMContentLoaded', () => {
  const status = document.querySelector('.search-status');
  const note = () => window.__heights.push([status.offsetHeight, status.textContent]);  // laid out anew
  note();
  new MutationObserver(note).observe(status, {childList: true, characterData: true, subtree: true});
});
"""


@pytest.mark.browser
@pytest.mark.parametrize("query", ["hoi nghi", "hội nghị tổng kết công tác thi đua khen thưởng", "xyzzyqwv"])
def test_answers_arriving_late_on_a_phone_move_nothing(served, browser, query):
    """The status line says nothing, "loading", then the count, then the final count, in a box of one height: on a slow
    phone every message comes after the first paint and a taller one would push the results down the screen (the
    layout shift CI once measured at 0.028 on this page)."""
    context = browser.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    errors = _watch(page)
    page.add_init_script(SLOW_AND_WATCHED)
    page.goto(served + "tim-kiem/?" + urllib.parse.urlencode({"q": query}))
    page.wait_for_selector(".search[data-searched]", timeout=30_000)
    page.wait_for_timeout(500)
    heights = page.evaluate("window.__heights")
    said = [text for _, text in heights]
    assert said[-1].startswith("Tìm thấy" if query != "xyzzyqwv" else "Không tìm thấy") and query in said[-1], said
    assert len({h for h, _ in heights}) == 1, heights  # the first height is the one the page was painted with
    assert page.evaluate("window.__shifts.reduce((a, b) => a + b, 0)") < 0.01, page.evaluate("window.__shifts")
    assert not errors, errors
    context.close()


@pytest.mark.browser
def test_filters_by_category_and_year(served, browser):
    page = browser.new_page()
    errors = _watch(page)
    everything = search(page, served, "tinh")
    cats = {r["category"] for r in everything}
    assert len(cats) > 1
    only = search(page, served, "tinh", **{"chuyen-muc": "Kinh tế"})
    assert only and {r["category"] for r in only} == {"Kinh tế"} and len(only) < len(everything)
    # The filter lists are read from the index, with counts, and the chosen one is kept from the address.
    assert page.input_value("#search-category") == "Kinh tế"
    options = page.eval_on_selector_all("#search-year option", "os => os.map(o => o.value)")
    assert options[0] == "" and options[1:] == sorted(options[1:], reverse=True) and "2024" in options
    page.select_option("#search-year", "2024")
    page.wait_for_function("() => new URL(location).searchParams.get('nam') === '2024'")
    page.wait_for_timeout(300)
    dates = page.eval_on_selector_all(".result-date", "els => els.map(e => e.textContent)")
    assert all(d.endswith("/2024") for d in dates)
    assert not errors, errors
    page.close()


@pytest.mark.browser
def test_header_box_then_open_a_result(served, browser):
    page = browser.new_page()
    errors = _watch(page)
    page.goto(served)
    page.fill("#header-q", "hoi nghi thi dua")
    page.press("#header-q", "Enter")  # a plain GET form: the search page reads ?q=
    page.wait_for_selector(".search[data-searched]")
    assert page.input_value("#search-q") == "hoi nghi thi dua"
    page.click(f".search-result .result-title a:text-is('{THI_DUA}')")
    page.wait_for_load_state()
    assert page.url.startswith(served + "thi-dua-khen-thuong/")
    assert page.text_content("h1") == THI_DUA
    assert not errors, errors
    page.close()


@pytest.mark.browser
def test_typing_searches_as_you_type_and_measures_query_time(served, browser, capsys):
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(served + "tim-kiem/")
    page.wait_for_load_state("networkidle")
    assert not [u for u in requests if "/pagefind/" in u]  # the engine waits for the reader: a light empty page
    times = []
    for query in ["hoi nghi", "du lich bien", "nong thon moi", "chuyen doi so", "ca ngu"]:
        page.fill("#search-q", "")
        page.fill("#search-q", query)
        page.wait_for_function("q => document.querySelector('.search-status').textContent.includes(q)", arg=query)
        assert page.query_selector(".search-result"), query
        times.append(int(page.get_attribute(".search", "data-ms")))
        assert query in page.url.replace("+", " ")
    with capsys.disabled():
        print(f"\nsearch query time (ms, in the browser; the first includes loading the engine): {times}")
    assert max(times[1:]) < 500
    page.close()


@pytest.mark.browser
def test_works_under_a_base_path(tmp_path, browser):
    cfg = config_mod.load(ROOT, tmp_path / "www" / "tin-tuc")
    cfg = dataclasses.replace(cfg, base_url="https://tinh.example/tin-tuc/")
    build(cfg, use_cache=False)
    with serving(tmp_path / "www") as url:
        page = browser.new_page()
        errors = _watch(page)
        page.goto(url + "tin-tuc/")
        page.fill("#header-q", "dong da")
        page.press("#header-q", "Enter")
        page.wait_for_selector(".search[data-searched]")
        assert page.url.startswith(url + "tin-tuc/tim-kiem/?q=dong")
        first = page.query_selector(f".search-result .result-title a:text-is('{DONG_DA}')")
        href = first.get_attribute("href")
        assert href.startswith("/tin-tuc/") and not href.startswith("/tin-tuc/tin-tuc/")
        assert first.text_content() == DONG_DA
        first.click()
        page.wait_for_load_state()
        assert page.text_content("h1") == DONG_DA
        assert not errors, errors
        page.close()


@pytest.mark.browser
def test_under_the_documented_content_security_policy(example, browser):
    # Pagefind compiles WebAssembly: a strict CSP needs 'wasm-unsafe-eval' (not 'unsafe-eval') in script-src.
    policy = ("default-src 'self'; img-src 'self' data:; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
              "object-src 'none'; base-uri 'self'")

    class Strict(QuietHandler):
        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", policy)
            super().end_headers()

    with serving(example, Strict) as url:
        page = browser.new_page()
        errors = _watch(page)
        found = search(page, url, "hoi nghi thi dua")
        assert THI_DUA in [r["title"] for r in found]
        assert not errors, errors
        page.close()
