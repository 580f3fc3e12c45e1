"""Reader widgets in a real browser (Debian's chromium through Playwright), pages served over HTTP on 127.0.0.1:
voting by mouse and keyboard, a second vote refused, with and without a collector; without one nothing goes
over the network; a comment waits for moderation and shows after approval and a rebuild; no-JS fallback."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from conftest import Site, article, run_cli, serving

from sitegen.readers.server import make_server
from sitegen.readers.store import Store

pytestmark = pytest.mark.browser
ARTICLE = "thoi-su/hoi-nghi/"
FRONT = dict(views="1532", comments="2", rating="{total: 12, count: 3}")


def _site(root: Path, stats_url: str = "") -> Site:
    site = Site(root)
    site.write("site.toml", 'base_url = "https://tintuc.example/"\n' + (f'stats_url = "{stats_url}"\n' if stats_url else ""))
    site.write("content/thoi-su/hoi-nghi/index.md", article("Hội nghị tổng kết thi đua", **FRONT))
    site.build()
    return site


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """The site built without a collector, served on 127.0.0.1."""
    site = _site(tmp_path_factory.mktemp("offline") / "site")
    with serving(site.public) as url:
        yield url


@pytest.fixture(scope="module")
def online(tmp_path_factory):
    """A collector (the real service) and the site built with stats_url pointing at it, both on 127.0.0.1."""
    root = tmp_path_factory.mktemp("online")
    store = Store(root / "stats.sqlite3")
    collector = make_server(store, {ARTICLE}, "https://tintuc.example")
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    site = _site(root / "site", f"http://127.0.0.1:{collector.server_address[1]}/")
    with serving(site.public) as url:
        yield {"url": url, "site": site, "store": store, "db": root / "stats.sqlite3"}
    collector.shutdown()
    collector.server_close()
    store.close()


def _watch(page) -> tuple[list[str], list[str]]:
    """(console errors and page errors, URLs of every request) of a page."""
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: requests.append(req.url))
    return errors, requests


def _score(page) -> tuple[str, str]:
    return page.inner_text(".rating-total"), page.inner_text(".rating-count")


def _open(context, url: str):
    page = context.new_page()
    errors, requests = _watch(page)
    page.goto(url + ARTICLE)
    page.wait_for_selector(".rating-widget:not([hidden])")
    return page, errors, requests


def test_mouse_vote_without_collector_is_local_and_remembered(browser, offline):
    context = browser.new_context()
    page, errors, requests = _open(context, offline)
    assert page.inner_text(".rating-prompt") == "Click để đánh giá bài viết"
    assert page.get_attribute(".rating-stars", "aria-label") == "Đánh giá bài viết"
    assert [page.get_attribute(f".rating-star[data-score='{n}']", "aria-label") for n in range(1, 6)] == [
        f"{n} sao" for n in range(1, 6)]
    assert _score(page) == ("12", "3")
    page.click(".rating-star[data-score='4']")
    assert _score(page) == ("16", "4")
    assert page.inner_text(".rating-status") == "Cảm ơn bạn đã đánh giá 4 sao."
    assert page.get_attribute(".rating-star[data-score='4']", "aria-pressed") == "true"
    page.click(".rating-star[data-score='5']")
    assert page.inner_text(".rating-status") == "Bạn đã đánh giá bài viết này."
    assert _score(page) == ("16", "4")
    page.reload()
    page.wait_for_selector(".rating-widget:not([hidden])")
    assert _score(page) == ("16", "4")  # the vote is remembered in this browser
    page.click(".rating-star[data-score='1']")
    assert page.inner_text(".rating-status") == "Bạn đã đánh giá bài viết này." and _score(page) == ("16", "4")
    assert all(u.startswith(offline) for u in requests), [u for u in requests if not u.startswith(offline)]
    assert not any("/api/" in u for u in requests)
    assert errors == []
    # No collector: comments are closed, and the page says so instead of showing a form that cannot work.
    assert page.text_content(".comments .box-title") == "Ý kiến bạn đọc"  # shown in capitals by the theme
    assert page.locator(".comment-form").count() == 0 and page.is_visible(".comments-closed")
    context.close()


def test_keyboard_vote_without_collector(browser, offline):
    context = browser.new_context()
    page, errors, requests = _open(context, offline)
    page.focus(".rating-star[data-score='1']")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "3 sao"
    # Only one star is in the tab order (roving tabindex): Tab leaves the group in one step.
    assert page.evaluate("[...document.querySelectorAll('.rating-star')].map(s => s.tabIndex)") == [-1, -1, 0, -1, -1]
    page.keyboard.press("Enter")
    assert _score(page) == ("15", "4")
    page.keyboard.press("End")
    page.keyboard.press("Space")
    assert page.inner_text(".rating-status") == "Bạn đã đánh giá bài viết này." and _score(page) == ("15", "4")
    assert not any("/api/" in u or not u.startswith(offline) for u in requests) and errors == []
    context.close()


def test_without_javascript_the_score_still_shows(browser, offline):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(offline + ARTICLE)
    assert page.inner_text(".rating-score") == "Tổng số điểm của bài viết là: 12 trong 3 đánh giá"
    assert not page.is_visible(".rating-widget")
    assert page.inner_text(".views-count") == "1.532"
    context.close()


def test_votes_with_collector_by_mouse_and_keyboard(browser, online):
    url, store = online["url"], online["store"]
    first = browser.new_context()
    page, errors, requests = _open(first, url)
    page.wait_for_function("document.querySelector('.views-count').textContent === '1.533'")  # this page view
    page.click(".rating-star[data-score='4']")
    page.wait_for_function("document.querySelector('.rating-status').textContent.startsWith('Cảm ơn')")
    assert _score(page) == ("16", "4")
    page.click(".rating-star[data-score='2']")
    assert page.inner_text(".rating-status") == "Bạn đã đánh giá bài viết này." and _score(page) == ("16", "4")
    assert store.totals(ARTICLE)["rating_count"] == 1
    assert any(u.endswith("/api/vote") for u in requests) and errors == []

    second = browser.new_context()  # another reader (its own browser storage)
    page2, errors2, _ = _open(second, url)
    page2.wait_for_function("document.querySelector('.views-count').textContent === '1.534'")
    assert _score(page2) == ("16", "4")  # fresh totals from the collector, not the baked 12 / 3
    page2.focus(".rating-star[data-score='1']")
    page2.keyboard.press("ArrowRight")
    page2.keyboard.press("Space")
    page2.wait_for_function("document.querySelector('.rating-total').textContent === '18'")
    assert _score(page2) == ("18", "5") and errors2 == []
    assert (store.totals(ARTICLE)["rating_total"], store.totals(ARTICLE)["rating_count"]) == (6, 2)

    # Storage cleared of the vote but the same browser token: the collector itself refuses the second vote.
    page2.evaluate(f"localStorage.removeItem('sitegen-vote:{ARTICLE}')")
    page2.reload()
    page2.wait_for_selector(".rating-widget:not([hidden])")
    page2.click(".rating-star[data-score='5']")
    page2.wait_for_function("document.querySelector('.rating-status').textContent === 'Bạn đã đánh giá bài viết này.'")
    assert store.totals(ARTICLE)["rating_count"] == 2
    first.close()
    second.close()


def test_comment_waits_for_approval_then_shows_after_rebuild(browser, online):
    url, site, db = online["url"], online["site"], online["db"]
    context = browser.new_context()
    page, errors, _ = _open(context, url)
    assert page.is_visible(".comment-form") and not page.is_visible(".comments-nojs")
    page.fill("#comment-name", "Nguyễn Thị Bình")
    page.fill("#comment-text", "Cảm ơn tòa soạn.\nMong có thêm tin về thi đua <b>khen thưởng</b>.")
    page.click(".comment-submit")
    page.wait_for_function("document.querySelector('.comment-status').textContent === 'Ý kiến của bạn đang chờ duyệt.'")
    assert page.input_value("#comment-name") == ""
    page.reload()
    assert "Nguyễn Thị Bình" not in page.inner_text(".comments")
    assert page.is_visible(".comments-empty")

    listed = run_cli("stats", "comments", "list", "--db", str(db))
    comment_id = re.search(r"#(\d+) \[pending\].*Nguyễn Thị Bình", listed.stdout).group(1)
    assert run_cli("stats", "comments", "approve", comment_id, "--db", str(db)).returncode == 0
    page.reload()
    assert "Nguyễn Thị Bình" not in page.inner_text(".comments")  # approved, but the page is static until rebuilt
    rebuilt = site.cli("build", "--stats", str(db))
    assert rebuilt.returncode == 0, rebuilt.stderr
    page.reload()
    page.wait_for_selector(".comment-list")
    assert page.inner_text(".comment-list .comment-name") == "Nguyễn Thị Bình"
    assert page.inner_text(".comment-list .comment-text") == (
        "Cảm ơn tòa soạn.\nMong có thêm tin về thi đua <b>khen thưởng</b>.")  # text, never HTML
    page.wait_for_function("document.querySelector('.comments-count').textContent === '3'")  # 2 + 1 approved
    assert errors == []
    context.close()
