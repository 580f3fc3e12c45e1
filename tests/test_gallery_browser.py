"""The photo gallery in a real browser (Debian's chromium through Playwright), served over HTTP from a built
site: the lightbox by mouse, keyboard and swipe, focus restored, the no-JavaScript fallback, and which photo
variant a phone actually downloads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from conftest import CHROMIUM, article, serving

pytestmark = pytest.mark.browser
CAPTIONS = ["Quang cảnh hội nghị.", "Đại biểu phát biểu tham luận.", "Trao Bằng khen cho các tập thể."]
ARTICLE = "thi-dua/hoi-nghi/index.html"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A site with one article (a body photo and a three-photo gallery), built and served on 127.0.0.1."""
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (./dev.sh test installs it)")
    from conftest import Site

    site = Site(tmp_path_factory.mktemp("gallery") / "site")
    folder = site.root / "content/thi-dua/hoi-nghi"
    folder.mkdir(parents=True)
    for i, color in enumerate([(200, 40, 40), (40, 160, 60), (40, 60, 200)], 1):
        Image.new("RGB", (2000, 1333), color).save(folder / f"anh-0{i}.jpg", quality=85)
    Image.new("RGB", (2400, 1600), (120, 120, 40)).save(folder / "than-bai.jpg", quality=85)
    photos = "\n" + "\n".join(f'  - src: "anh-0{i}.jpg"\n    caption: "{c}"' for i, c in enumerate(CAPTIONS, 1))
    site.write("content/thi-dua/hoi-nghi/index.md", article(
        "Hội nghị tổng kết", photos=photos,
        body="Đoạn mở đầu của bài viết.\n\n![Toàn cảnh hội trường](than-bai.jpg)\n\n" + "Đoạn tiếp theo. " * 80))
    site.build()
    with serving(site.public) as url:
        yield url


def _errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_lightbox_keyboard_caption_counter_and_focus(served, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _errors(page)
    page.goto(served + ARTICLE)
    thumbs = page.locator(".gallery .gallery-link")
    assert thumbs.count() == 3
    thumbs.first.click()
    dialog = page.locator("dialog.lightbox")
    assert dialog.evaluate("d => d.open")
    assert page.locator(".lightbox-caption").inner_text() == CAPTIONS[0]
    assert page.locator(".lightbox-counter").inner_text() == "1/3"
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Đóng"
    page.wait_for_function("document.querySelector('.lightbox-img').complete")
    big = page.evaluate("document.querySelector('.lightbox-img').currentSrc")
    assert re.search(r"/anh-01-\d+\.webp$", big), big

    page.keyboard.press("ArrowRight")
    assert page.locator(".lightbox-caption").inner_text() == CAPTIONS[1]
    assert page.locator(".lightbox-counter").inner_text() == "2/3"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # wraps round to the last photo
    assert page.locator(".lightbox-counter").inner_text() == "3/3"
    assert page.locator(".lightbox-caption").inner_text() == CAPTIONS[2]
    page.get_by_role("button", name="Ảnh sau").click()
    assert page.locator(".lightbox-counter").inner_text() == "1/3"

    page.keyboard.press("Escape")
    assert not dialog.evaluate("d => d.open")
    assert page.evaluate("document.activeElement === document.querySelectorAll('.gallery-link')[0]")

    # Open the second photo from the keyboard, close with the "Đóng" button: focus returns to that thumbnail.
    thumbs.nth(1).focus()
    page.keyboard.press("Enter")
    assert page.locator(".lightbox-caption").inner_text() == CAPTIONS[1]
    page.get_by_role("button", name="Đóng").click()
    assert page.evaluate("document.activeElement === document.querySelectorAll('.gallery-link')[1]")
    assert not errors, errors


def test_swipe_turns_the_photo_on_a_touch_screen(served, browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(served + ARTICLE)
    page.locator(".gallery .gallery-link").first.tap()
    figure = page.locator(".lightbox-figure")
    for kind, x in (("pointerdown", 300), ("pointerup", 120)):  # a finger moving right to left: next photo
        figure.dispatch_event(kind, {"pointerType": "touch", "clientX": x, "clientY": 300, "isPrimary": True})
    assert page.locator(".lightbox-counter").inner_text() == "2/3"
    for kind, x in (("pointerdown", 100), ("pointerup", 320)):  # left to right: back
        figure.dispatch_event(kind, {"pointerType": "touch", "clientX": x, "clientY": 300, "isPrimary": True})
    assert page.locator(".lightbox-caption").inner_text() == CAPTIONS[0]
    context.close()


def test_without_javascript_thumbnails_link_to_the_full_jpeg(served, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served + ARTICLE)
    link = page.locator(".gallery .gallery-link").first
    href = link.get_attribute("href")
    assert href.endswith("/anh-01-1600.jpg")
    with page.expect_response(lambda r: r.url.endswith(href)) as info:
        link.click()
    response = info.value
    assert response.ok and response.headers["content-type"] == "image/jpeg"
    assert response.body()[:3] == b"\xff\xd8\xff"
    assert page.url.endswith(href)
    context.close()


def test_phone_downloads_a_webp_that_fits_the_screen(served, browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    loaded: list[tuple[str, str]] = []
    page.on("response", lambda r: loaded.append((r.url, r.headers.get("content-type", ""))))
    page.goto(served + ARTICLE, wait_until="load")
    body_img = page.locator(".article-body figure img")
    page.wait_for_function("document.querySelector('.article-body figure img').complete")
    current = body_img.evaluate("img => img.currentSrc")
    match = re.search(r"/than-bai-(\d+)\.webp$", current)
    assert match, current
    assert int(match.group(1)) <= 960  # 360 CSS px at 2x: the 960 variant, not the 1600
    photos = [(url, kind) for url, kind in loaded if re.search(r"-\d+\.(webp|jpg)$", url)]
    assert (current, "image/webp") in photos
    assert not [url for url, _ in photos if url.endswith((".jpg", "-1600.webp"))], photos
    context.close()
