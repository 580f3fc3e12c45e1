"""XSS: hostile article bodies are inert in safe mode (`raw_html = "safe"`), hostile front matter is inert in every
mode, and the theme runs under the sample Content-Security-Policy of docs/security.md.

Static checks read the built HTML; the browser checks load every built page in headless Chromium over HTTP with a
`window.__xss` sentinel (every payload pushes to it) and a dialog listener (for the `alert()` payloads), and assert
that no script ran. A positive control (trusted mode keeps a raw <script>, and the sentinel sees it) proves the
detector works.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ROOT, PageServer, Site

PUSH = "window.__xss.push"

# (name, Markdown/HTML body payload). Each would run script in a browser if it survived.
BODY_PAYLOADS = [
    ("script", f"<script>{PUSH}('script')</script>"),
    ("img-onerror", f'<img src="x" onerror="{PUSH}(\'img\')">'),
    ("svg-onload", f'<svg onload="{PUSH}(\'svg\')"><circle r="4"></circle></svg>'),
    ("svg-script", f"<svg><script>{PUSH}('svg-script')</script></svg>"),
    ("js-link-html", f'<a id="jslink" href="javascript:{PUSH}(\'js-href\')">bấm</a>'),
    ("js-link-md", f"[bấm vào](javascript:{PUSH}('md-href'))"),
    ("js-link-obfuscated", f'<a href="jav&#x09;ascript:{PUSH}(\'obf\')">bấm</a>'),
    ("js-image-html", '<img src="javascript:alert(1)" alt="x">'),
    ("iframe-srcdoc", f"<iframe srcdoc=\"<script>parent.{PUSH[7:]}('iframe')</script>\"></iframe>"),
    ("iframe-js", "<iframe src=\"javascript:alert('iframe-js')\"></iframe>"),
    ("math-mxss", f'<math><mtext><table><mglyph><style><img src=x onerror="{PUSH}(\'math\')">'),
    ("style-tag", f'<style>@import "javascript:{PUSH}(1)"; body {{ background: red }}</style>'),
    ("style-attr", '<p style="background:url(javascript:alert(1))">đoạn</p>'),
    ("data-url", "<a href=\"data:text/html,<script>alert('data')</script>\">dữ liệu</a>"),
    ("object-embed", "<object data=\"javascript:alert('obj')\"></object><embed src=\"javascript:alert('embed')\">"),
    ("form-action", f'<form action="javascript:{PUSH}(\'form\')"><button id="btn">Gửi</button></form>'),
    ("details-ontoggle", f'<details open ontoggle="{PUSH}(\'toggle\')"><summary>x</summary>y</details>'),
    ("autofocus-onfocus", f'<input autofocus onfocus="{PUSH}(\'focus\')">'),
    ("video-source", f'<video><source onerror="{PUSH}(\'video\')"></video>'),
    ("meta-refresh", "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('meta')\">"),
    ("base-href", '<base href="https://ke-xau.example/">'),
    ("unclosed-div", "<div><p>mở mà không đóng"),
    ("comment-break", f"<!--><script>{PUSH}('comment')</script>-->"),
]

# Front matter fields that reach templates, with payloads that would run if not escaped.
FIELD_PAYLOAD = f"</title></script><script>{PUSH}('FIELD')</script><img src=x onerror={PUSH}('FIELD-img')>\""


def _fm(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hostile_front_matter(field_name: str) -> str:
    payload = FIELD_PAYLOAD.replace("FIELD", field_name)
    fields = {
        "title": _fm(payload.replace("FIELD", "title")),
        "date": '"2024-03-29 17:58"',
        "summary": _fm(payload.replace("FIELD", "summary")),
        "author": _fm(payload.replace("FIELD", "author")),
        "source": _fm(payload.replace("FIELD", "source")),
        "category": _fm("Thời sự <svg onload=" + PUSH + "('category')>"),
        "tags": "[" + _fm(f"<script>{PUSH}('tag')</script>") + ", " + _fm("thẻ \" onmouseover=\"x") + "]",
        "slug": _fm('"><script>alert(1)</script>'),
        "image": '"anh.png"',
        "photos": "\n  - src: \"anh.png\"\n    caption: " + _fm(payload.replace("FIELD", "caption"))
                  + "\n    alt: " + _fm('" onerror="' + PUSH + "('alt')"),
        "aliases": '["/tin-cu/bai.html"]',
        "ghi_chu": _fm(payload.replace("FIELD", "extra")),
    }
    return "---\n" + "\n".join(f"{k}: {v}" for k, v in fields.items()) + "\n---\n\nĐoạn mở đầu bình thường.\n"


def png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 10), (10, 120, 60)).save(out, "PNG")
    return out.getvalue()


def xss_site(root: Path, mode: str, with_body: bool = True) -> Site:
    site = Site(root)
    site.write("site.toml", f'raw_html = "{mode}"\n')
    if with_body:
        for i, (name, payload) in enumerate(BODY_PAYLOADS):
            site.write(f"content/thoi-su/{name}/index.md",
                       f'---\ntitle: "Bài {name}"\ndate: "2024-03-{1 + i:02d} 08:00"\n---\n\nĐoạn đầu.\n\n{payload}\n\nĐoạn cuối.\n')
    site.write("content/thoi-su/truong/index.md", hostile_front_matter("fm"))
    site.write("content/thoi-su/truong/anh.png", png())
    result = site.build()
    assert all(d.severity != "error" for d in result.diagnostics)
    return site


@pytest.fixture(scope="module")
def safe_site(tmp_path_factory) -> Site:
    return xss_site(tmp_path_factory.mktemp("xss-safe") / "site", "safe")


@pytest.fixture(scope="module")
def trusted_site(tmp_path_factory) -> Site:
    return xss_site(tmp_path_factory.mktemp("xss-allow") / "site", "allow", with_body=False)


def html_pages(public: Path) -> list[str]:
    return sorted(p.relative_to(public).as_posix() for p in public.rglob("*.html"))


# --- static checks -------------------------------------------------------------------------------------------

_URL_ATTRS = {"href", "src", "action", "formaction", "srcdoc", "data", "xlink:href", "poster", "background"}
_DANGEROUS_TAGS = {"iframe", "object", "embed", "base", "form", "input", "style", "math", "svg"}


def assert_inert(doc, page: str, body_only: bool) -> None:
    scope = doc.find(".//div[@class='article-body']") if body_only else doc
    if scope is None:
        return
    for el in scope.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.split("}")[-1]
        if tag == "script":
            assert el.get("type") == "application/ld+json" or (el.get("src") and not (el.text or "").strip()), \
                f"{page}: executable <script>"
        if body_only:
            assert tag not in _DANGEROUS_TAGS, f"{page}: <{tag}> survived"
            if tag == "meta":
                raise AssertionError(f"{page}: <meta> in body")
        for attr, value in el.attrib.items():
            name = attr.split("}")[-1].lower()
            assert not name.startswith("on"), f"{page}: event handler {name}={value!r}"
            if name == "style":
                assert not body_only, f"{page}: style attribute in body"
            if name in _URL_ATTRS:
                compact = re.sub(r"[\x00-\x20]", "", value).lower()
                assert not compact.startswith(("javascript:", "vbscript:", "data:text")), f"{page}: {name}={value!r}"


@pytest.mark.parametrize("name", [n for n, _ in BODY_PAYLOADS])
def test_body_payload_is_inert_in_safe_mode(safe_site, name):
    page = f"thoi-su/{name}/index.html"
    doc = safe_site.html(page)  # strict parse: the sanitizer left balanced, valid HTML
    assert_inert(doc, page, body_only=True)
    assert doc.find(".//footer") is not None  # an unclosed tag in the body did not swallow the layout
    if name != "math-mxss":  # its unclosed <style> legitimately swallows the rest of the body
        assert "Đoạn cuối." in "".join(doc.find(".//div[@class='article-body']").itertext())


def test_front_matter_payloads_are_escaped_everywhere(safe_site, trusted_site):
    for site in (safe_site, trusted_site):
        for page in html_pages(site.public):
            doc = site.html(page)
            assert_inert(doc, page, body_only=False)
            raw = (site.public / page).read_text(encoding="utf-8")
            assert "<script>window" not in raw and "<img src=x" not in raw and "<svg onload" not in raw, page
        for feed in site.public.rglob("*.xml"):
            text = feed.read_text(encoding="utf-8")
            assert "<script>" not in text and "<img src=x" not in text, feed


def test_json_ld_cannot_be_closed_by_a_title(trusted_site):
    pages = [p for p in trusted_site.public.rglob("index.html") if "application/ld+json" in p.read_text("utf-8")]
    assert pages
    for p in pages:
        text = p.read_text(encoding="utf-8")
        block = text.split('<script type="application/ld+json">')[1].split("</script>")[0]
        assert "<" not in block and ">" not in block, p


def test_hostile_slug_and_category_give_safe_paths(trusted_site):
    for path in trusted_site.public.rglob("*"):
        rel = path.relative_to(trusted_site.public).as_posix()
        assert re.fullmatch(r"[a-z0-9./_-]+", rel), rel


def test_alias_with_markup_is_refused(site):
    site.write("content/thoi-su/a/index.md",
               '---\ntitle: "A"\ndate: "2024-03-29"\naliases: ["/x\\"><script>alert(1)</script>.html"]\n---\nx\n')
    result = site.cli("build")
    assert result.returncode == 3  # the article is held back
    assert "[ROUTE005]" in result.stderr or "[ROUTE004]" in result.stderr
    assert not any("script" in p.name for p in site.public.rglob("*"))
    assert not (site.public / "thoi-su/a").exists()


def test_trusted_mode_keeps_raw_html(site):
    site.write("content/thoi-su/a/index.md",
               '---\ntitle: "A"\ndate: "2024-03-29"\n---\n\n<div class="khung"><iframe src="/ban-do/"></iframe></div>\n')
    site.build()
    doc = site.html("thoi-su/a/index.html")
    assert doc.find(".//div[@class='khung']/iframe") is not None


def test_safe_mode_keeps_ordinary_formatting(site):
    site.write("site.toml", 'raw_html = "safe"\n')
    site.write("content/thoi-su/a/index.md",
               '---\ntitle: "A"\ndate: "2024-03-29"\n---\n\n## Mục một\n\n**đậm** *nghiêng* [liên kết](https://example.org/)'
               '\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<abbr title="Ủy ban nhân dân">UBND</abbr>\n')
    site.build()
    body = site.html("thoi-su/a/index.html").find(".//div[@class='article-body']")
    assert body.find(".//h2[@id='muc-mot']") is not None
    assert body.find(".//strong").text == "đậm" and body.find(".//table") is not None
    assert body.find(".//a").get("href") == "https://example.org/"
    assert body.find(".//abbr").get("title") == "Ủy ban nhân dân"


# --- templates: CSP-friendly ----------------------------------------------------------------------------------

def theme_files() -> list[Path]:
    return sorted(p for p in (ROOT / "templates").rglob("*") if p.is_file())


def test_templates_have_no_inline_handlers_or_inline_script():
    for path in theme_files():
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT).as_posix()
        assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), f"{rel}: inline event handler"
        assert "javascript:" not in text.lower(), f"{rel}: javascript: URL"
        assert not re.search(r"\sstyle\s*=", text, re.IGNORECASE), f"{rel}: inline style (CSP style-src 'self')"
        assert "<style" not in text.lower(), f"{rel}: <style> element (CSP style-src 'self')"
        for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", text, re.IGNORECASE | re.DOTALL):
            attrs, code = m.groups()
            if 'type="application/ld+json"' in attrs:
                continue  # data, never executed, allowed by script-src 'self'
            assert "src=" in attrs and not code.strip(), f"{rel}: inline script code"


# --- browser ------------------------------------------------------------------------------------------------

CSP = ("default-src 'self'; img-src 'self' data:; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; object-src 'none'; "
       "base-uri 'self'; frame-ancestors 'self'")

# Reports go straight to Python through exposed functions, so a redirect page that navigates away cannot lose them.
SENTINEL = """
window.__xss = { push: (v) => { window.__report_xss(String(v)); return 0; } };
document.addEventListener('securitypolicyviolation',
  e => window.__report_csp(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));
"""


@contextmanager
def serve(folder: Path, csp: str | None = None):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self):
            if csp:
                self.send_header("Content-Security-Policy", csp)
            super().end_headers()

        def log_message(self, *args):
            pass

    httpd = PageServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def browser(reports: dict[str, list[str]]):
    """A Chromium page whose sentinel, dialogs and CSP violations are appended to reports['xss'|'dialog'|'csp']."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"])
        try:
            context = chromium.new_context()
            context.expose_function("__report_xss", lambda v: reports["xss"].append(v))
            context.expose_function("__report_csp", lambda v: reports["csp"].append(v))
            context.add_init_script(SENTINEL)

            def route(r):  # nothing may leave 127.0.0.1: a payload fetching an outside URL is blocked and recorded
                if r.request.url.startswith("http://127.0.0.1:"):
                    r.continue_()
                elif r.request.is_navigation_request():  # redirect pages navigate to base_url (absolute): a blank
                    # page stands in (an aborted navigation becomes an error page that may land during the next goto)
                    r.fulfill(status=200, content_type="text/html", body="<!DOCTYPE html><title>ngoài</title>")
                else:  # anything else fetched from outside is a leak
                    reports["outside"].append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on("dialog", lambda d: (reports["dialog"].append(d.message), d.dismiss()))
            yield page
        finally:
            chromium.close()


def run_pages(public: Path, pages: list[str], csp: str | None = None, click_js_links: bool = True):
    """Load each page; return {page: (pushed, dialogs, csp violations)} for pages where anything happened."""
    from playwright.sync_api import Error as PlaywrightError

    found = {}
    reports: dict[str, list[str]] = {"xss": [], "dialog": [], "csp": [], "outside": []}
    with serve(public, csp) as base, browser(reports) as page:
        for rel in pages:
            for kind in ("xss", "dialog", "csp"):
                reports[kind].clear()
            url = base + (rel[:-len("index.html")] if rel.endswith("index.html") else rel)
            page.goto(url, wait_until="load")
            if b'http-equiv="refresh"' in (public / rel).read_bytes():
                # A redirect page navigates on its own: wait until it has, or it interrupts the next goto.
                page.wait_for_url(lambda now: now != url, timeout=15_000)
            page.wait_for_timeout(150)
            page.wait_for_load_state("load")  # a redirect page's own navigation, finished before the next goto
            if click_js_links:  # a javascript: link needs a click; a surviving one would run here
                try:
                    page.evaluate("""() => { for (const a of document.querySelectorAll('a[href]'))
                                       if (a.href.trim().toLowerCase().startsWith('javascript:')) a.click(); }""")
                except PlaywrightError:  # a redirect page navigated away meanwhile: it has no links to click
                    pass
                page.wait_for_timeout(50)
            if reports["xss"] or reports["dialog"] or reports["csp"]:
                found[rel] = (list(reports["xss"]), list(reports["dialog"]), list(reports["csp"]))
        assert not [u for u in reports["outside"] if not u.startswith("data:")], reports["outside"]
    return found


@pytest.mark.browser
def test_no_script_runs_in_safe_mode(safe_site):
    pages = html_pages(safe_site.public)
    assert len(pages) > len(BODY_PAYLOADS)
    found = run_pages(safe_site.public, pages)
    ran = {p: (pushed, dialogs) for p, (pushed, dialogs, _) in found.items() if pushed or dialogs}
    assert ran == {}


@pytest.mark.browser
def test_front_matter_is_inert_in_trusted_mode_and_the_detector_works(tmp_path):
    site = xss_site(tmp_path / "site", "allow", with_body=False)
    # Positive control: a raw <script> written by a trusted editor does run, and the sentinel sees it.
    site.write("content/thoi-su/kiem-chung/index.md",
               f'---\ntitle: "Kiểm chứng"\ndate: "2024-03-29"\n---\n\n<script>{PUSH}("control")</script>\n')
    site.build()
    found = run_pages(site.public, html_pages(site.public))
    ran = {p: (pushed, dialogs) for p, (pushed, dialogs, _) in found.items() if pushed or dialogs}
    assert ran == {"thoi-su/kiem-chung/index.html": (["control"], [])}


@pytest.mark.browser
def test_theme_runs_under_the_sample_csp(example_build):
    """Every page of the example site, served with the CSP of docs/security.md: no violation, so the theme's own
    scripts, styles and images all load under it."""
    found = run_pages(example_build, html_pages(example_build), csp=CSP, click_js_links=False)
    assert {p: v for p, (_, _, v) in found.items() if v} == {}


@pytest.mark.browser
def test_csp_listener_sees_a_violation(site):
    """Positive control for the test above: an inline style written by a trusted editor is reported."""
    site.write("content/thoi-su/a/index.md", '---\ntitle: "A"\ndate: "2024-03-29"\n---\n\n<p style="color:red">đỏ</p>\n')
    site.build()
    found = run_pages(site.public, ["thoi-su/a/index.html"], csp=CSP, click_js_links=False)
    assert any("style-src" in v for v in found["thoi-su/a/index.html"][2])


def test_docs_show_the_csp_the_tests_enforce():
    doc = (ROOT / "docs/security.md").read_text(encoding="utf-8")
    assert CSP in " ".join(doc.split()), "docs/security.md must show the CSP this test enforces"
    assert "security.md" in (ROOT / "README.md").read_text(encoding="utf-8")
