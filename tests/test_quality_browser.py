"""Web quality of every page type of the example site, in a real browser (Debian's chromium via Playwright) over
HTTP: axe-core finds nothing serious or critical (light and dark theme), a phone (360 px) needs no sideways
scrolling nor zoom, photos and fonts cause no layout shift, print hides the navigation, the dark-mode and
larger-text buttons work and are remembered; and the Nu HTML Checker (vnu.jar) finds no error.

Screenshots at 360 and 1280 px are saved under tests/artifacts/ (ignored by git). axe-core and vnu.jar come from
npm into .cache/npm (`./dev.sh test` installs them)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import ROOT, serving

pytestmark = pytest.mark.browser
NPM = ROOT / ".cache/npm/node_modules"
AXE = NPM / "axe-core/axe.min.js"
VNU = NPM / "vnu-jar/build/dist/vnu.jar"
INSTALL = "npm install --prefix .cache/npm axe-core@4 vnu-jar@26 (./dev.sh test does it)"
ARTIFACTS = ROOT / "tests/artifacts"
PAGES = {
    "home": "",
    "category": "thoi-su/",
    "article": "thi-dua-khen-thuong/hoi-nghi-tong-ket-cong-tac-thi-dua/",
    "tag": "chu-de/thi-dua-yeu-nuoc/",
    "search": "tim-kiem/?q=hoi+nghi",
    "404": "404.html",
}
# Collects layout shifts from the first paint on (buffered), as Lighthouse's CLS does.
CLS_OBSERVER = """
window.__shifts = [];
new PerformanceObserver(list => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shifts.push(e.value);
}).observe({type: 'layout-shift', buffered: true});
"""


@pytest.fixture(scope="module")
def served(example_build):
    with serving(example_build) as url:
        yield url


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed at {AXE.relative_to(ROOT)}: run {INSTALL}")
    return AXE.read_text(encoding="utf-8")


def _open(browser, url: str, width: int, theme: str | None = None):
    context = browser.new_context(viewport={"width": width, "height": 800})
    if theme:  # as if the reader had pressed the button on an earlier visit
        context.add_init_script(f"localStorage.setItem('sitegen-theme', {json.dumps(theme)})")
    page = context.new_page()
    page.add_init_script(CLS_OBSERVER)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: errors.append("external request: " + req.url)
            if not req.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if "tim-kiem" in url:
        page.wait_for_selector(".search[data-searched]")
    return page, errors


def _axe(page, source: str) -> list[str]:
    page.add_script_tag(content=source)
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("kind", list(PAGES))
def test_page_type_quality(kind, served, browser, axe_source):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = served + PAGES[kind]
    # Wide screen, light theme: axe, screenshot.
    page, errors = _open(browser, url, 1280, "light")
    page.screenshot(path=str(ARTIFACTS / f"{kind}-1280.png"), full_page=True)
    found = _axe(page, axe_source)
    assert not found, f"{kind}: " + "\n".join(found)
    assert page.evaluate("document.documentElement.lang") == "vi"
    page.context.close()
    # Dark theme: contrast must hold there too.
    page, _ = _open(browser, url, 1280, "dark")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.screenshot(path=str(ARTIFACTS / f"{kind}-1280-dark.png"), full_page=True)
    found = _axe(page, axe_source)
    assert not found, f"{kind} (dark): " + "\n".join(found)
    page.context.close()
    # A phone: no sideways scrolling, text readable without zoom, no layout shift, every photo sized.
    page, more = _open(browser, url, 360)
    page.screenshot(path=str(ARTIFACTS / f"{kind}-360.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, f"{kind}: wider than a 360 px phone"
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 16
    # Photos in the page's flow; the lightbox's photo (added by gallery.js) lives in a closed overlay.
    unsized = page.eval_on_selector_all("img", "els => els.filter(i => i.getClientRects().length && "
                                               "(!i.getAttribute('width') || !i.getAttribute('height')))"
                                               ".map(i => i.outerHTML)")
    assert not unsized, unsized
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # lazy photos load too
    page.wait_for_timeout(300)
    shift = page.evaluate("window.__shifts.reduce((a, b) => a + b, 0)")
    assert shift < 0.01, f"{kind}: cumulative layout shift {shift}"
    # Print: the article without navigation.
    page.emulate_media(media="print")
    hidden = page.evaluate("""() => ['.site-nav', '.header-tools', '.skip-link', '.sidebar', '.breadcrumb']
        .map(s => [...document.querySelectorAll(s)]).flat()
        .filter(el => getComputedStyle(el).display !== 'none').map(el => el.className)""")
    assert not hidden, f"{kind}: printed {hidden}"
    page.context.close()
    assert not errors + more, errors + more


def test_theme_and_text_size_buttons_are_remembered(served, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light")
    page = context.new_page()
    page.goto(served)
    dark = page.get_by_role("button", name="Chế độ tối")
    large = page.get_by_role("button", name="Cỡ chữ lớn")
    assert dark.get_attribute("aria-pressed") == "false" and large.get_attribute("aria-pressed") == "false"
    light_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    dark.click()
    large.click()
    assert dark.get_attribute("aria-pressed") == "true" and large.get_attribute("aria-pressed") == "true"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != light_bg
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") > size * 1.1
    # Another page of the same site: the choice is applied before the first paint (prefs-early.js in <head>).
    seen = []
    page.expose_function("seen", lambda value: seen.append(value))
    page.add_init_script("document.addEventListener('readystatechange', () => { if (document.readyState === "
                         "'interactive') window.seen(document.documentElement.dataset.theme || ''); }, {once: true})")
    page.goto(served + "thoi-su/")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("document.documentElement.dataset.textSize") == "large"
    assert page.get_by_role("button", name="Chế độ tối").get_attribute("aria-pressed") == "true"
    page.wait_for_timeout(100)
    assert seen == ["dark"]
    page.get_by_role("button", name="Chế độ tối").click()
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    context.close()
    # A reader whose system is dark sees the button pressed without having touched it.
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    page.goto(served)
    assert page.get_by_role("button", name="Chế độ tối").get_attribute("aria-pressed") == "true"
    context.close()


def test_no_preference_buttons_without_javascript(served, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served)
    assert not page.get_by_role("button", name="Chế độ tối").is_visible()  # they could not work
    assert page.get_by_role("searchbox", name="Tìm kiếm").is_visible()  # a plain form: it still goes to the page
    context.close()


def test_nu_html_checker_finds_no_error(example_build):
    if not VNU.is_file():
        pytest.fail(f"vnu.jar is not installed at {VNU.relative_to(ROOT)}: run {INSTALL}")
    if shutil.which("java") is None:
        pytest.skip("the Nu HTML Checker needs Java, which is not installed here (html5lib strict parsing "
                    "still checks every page in the other tests)")
    files = [example_build / (path.split("?")[0] or "") for path in PAGES.values()]
    files = [f / "index.html" if f.is_dir() else f for f in files]
    files += [example_build / "chu-de/index.html", example_build / "luu-tru/index.html"]
    done = subprocess.run(["java", "-jar", str(VNU), "--errors-only", "--format", "gnu", *map(str, files)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr
