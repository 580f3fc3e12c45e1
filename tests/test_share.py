"""Share bar of article pages: plain Facebook and Zalo links, copy-link and print buttons, no third-party code."""

from __future__ import annotations

import http.server
import threading
from functools import partial
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import article

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
ABS = "https://tinh.example/tin-tuc/thoi-su/hoi-nghi/"


@pytest.fixture
def built(site):
    site.write("site.toml", 'base_url = "https://tinh.example/tin-tuc/"\n')
    site.write("content/thoi-su/hoi-nghi/index.md", article("Hội nghị & tổng kết <2024>"))
    site.build()
    return site


def _share(doc):
    navs = [n for n in doc.iter("nav") if n.get("class") == "share"]
    assert len(navs) == 1
    return navs[0]


def test_share_links_are_plain_links_with_the_encoded_address(built):
    doc = built.html("thoi-su/hoi-nghi/index.html")
    nav = _share(doc)
    assert nav.get("aria-label") == "Chia sẻ"
    links = {a.get("class").split()[-1]: a for a in nav.iter("a")}
    fb, zalo = urlsplit(links["share-facebook"].get("href")), urlsplit(links["share-zalo"].get("href"))
    assert (fb.scheme, fb.netloc, fb.path) == ("https", "www.facebook.com", "/sharer/sharer.php")
    assert parse_qs(fb.query) == {"u": [ABS]} and "%2F" in fb.query  # fully encoded, not just spliced in
    assert (zalo.netloc, zalo.path) == ("sp.zalo.me", "/share_to_zalo") and parse_qs(zalo.query) == {"url": [ABS]}
    for a in links.values():
        assert a.get("rel") == "noopener" and a.get("target") == "_blank"
    buttons = {b.get("class").split()[-1]: b for b in nav.iter("button")}
    assert buttons["share-copy"].get("data-url") == ABS and buttons["share-copy"].get("type") == "button"
    assert "share-print" in buttons
    # Without JS these buttons would do nothing, so they start hidden.
    hidden = [li for li in nav.iter("li") if li.get("class") == "share-js"]
    assert len(hidden) == 2 and all(li.get("hidden") is not None for li in hidden)


def test_no_third_party_script_and_no_inline_handlers(built):
    doc = built.html("thoi-su/hoi-nghi/index.html")
    scripts = [s.get("src") for s in doc.iter("script") if s.get("src")]
    assert scripts and all(s.startswith("/tin-tuc/assets/") for s in scripts), scripts
    share_js = next(s for s in scripts if "share.js" in s)
    assert next(s for s in doc.iter("script") if s.get("src") == share_js).get("defer") is not None
    assert (built.public / "assets/js/share.js").is_file()
    for el in doc.iter():
        assert not [k for k in el.attrib if k.lower().startswith("on")], el.tag
    assert not [i for i in doc.iter("iframe")]


@pytest.fixture
def served(built):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(built.public))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/thoi-su/hoi-nghi/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, url, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    # Assets are linked under the site's base path /tin-tuc/; the test server serves public/ at its root.
    page.route("**/tin-tuc/**", lambda route: route.continue_(url=route.request.url.replace("/tin-tuc/", "/", 1)))
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(url)
    return context, page, requested


@pytest.mark.browser
def test_copy_link_and_print_in_a_real_browser(served, browser):
    context, page, requested = _open(browser, served)
    origin = served.split("/thoi-su/")[0]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    copy = page.get_by_role("button", name="Sao chép liên kết")
    copy.wait_for(state="visible")
    copy.click()
    status = page.locator(".share-status")
    status.filter(has_text="Đã sao chép liên kết.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == ABS
    assert status.get_attribute("role") == "status"

    page.evaluate("() => { window.print = () => { window.__printed = (window.__printed || 0) + 1; }; }")
    page.get_by_role("button", name="In bài").click()
    assert page.evaluate("window.__printed") == 1
    assert all(u.startswith(origin) for u in requested), requested  # nothing fetched from anyone else
    context.close()


@pytest.mark.browser
def test_copy_falls_back_to_a_selected_field_without_clipboard(served, browser):
    context, page, _ = _open(browser, served)
    page.evaluate("() => { Object.defineProperty(navigator, 'clipboard', {value: undefined}); }")
    page.get_by_role("button", name="Sao chép liên kết").click()
    field = page.get_by_role("textbox", name="Địa chỉ bài viết")
    field.wait_for(state="visible")
    assert field.input_value() == ABS
    assert page.evaluate("document.activeElement.className") == "share-url"
    assert page.evaluate("getSelection().toString() || (document.activeElement.selectionEnd - document.activeElement.selectionStart)") in (ABS, len(ABS))
    assert "Ctrl+C" in page.locator(".share-status").inner_text()
    context.close()


@pytest.mark.browser
def test_without_javascript_only_the_links_show(served, browser):
    context, page, _ = _open(browser, served, java_script_enabled=False)
    assert page.get_by_role("link", name="Facebook (mở cửa sổ mới)").is_visible()
    assert page.get_by_role("link", name="Zalo (mở cửa sổ mới)").is_visible()
    assert not page.locator(".share-copy").is_visible() and not page.locator(".share-print").is_visible()
    context.close()
