"""The live preview, through a real server process on 127.0.0.1 and (for the reload) a real browser."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, article, fetch, free_port, interrupt, wait_for

ARTICLE = "content/thoi-su/hoi-nghi/index.md"


@pytest.fixture
def server(site):
    site.write(ARTICLE, article("Hội nghị đầu năm", body="Nội dung ban đầu."))
    site.write("content/thoi-su/nhap/index.md", article("Bài nháp chưa đăng", draft="true"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sitegen", "serve", "--source", str(site.root), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), what="server start")
        yield site, base, proc
    finally:
        server.output = interrupt(proc)


def _up(base: str) -> bool:
    try:
        return fetch(base + "/")[0] == 200
    except OSError:
        return False


def title_of(base: str) -> str:
    status, body = fetch(base + "/thoi-su/hoi-nghi/")
    if status != 200:
        return f"HTTP {status}"
    return re.search(r'<h1 class="article-title"[^>]*>([^<]*)<', body).group(1)


def test_edit_break_fix_cycle(server):
    site, base, proc = server
    assert title_of(base) == "Hội nghị đầu năm"
    status, home = fetch(base + "/")
    assert "livereload.js" in home and 'id="sitegen-error"' not in home

    site.write(ARTICLE, article("Hội nghị đã sửa tiêu đề", body="Nội dung mới."))
    wait_for(lambda: title_of(base) == "Hội nghị đã sửa tiêu đề", what="edited title")

    site.write(ARTICLE, '---\ntitle: Hỏng: thiếu ngoặc kép\ndate: "2024-03-29 17:58"\n---\nx\n')
    status, body = wait_for(lambda: (lambda r: r if 'id="sitegen-error"' in r[1] else None)(fetch(base + "/thoi-su/")),
                            what="error overlay")
    assert status == 200
    overlay = body.split('id="sitegen-error"', 1)[1].split("</div>", 1)[0]
    assert "content/thoi-su/hoi-nghi/index.md:2" in overlay and "FM002" in overlay
    # In the HTML as sent (no script needed to show it), first thing in <body>, before any of the page's scripts.
    body_start = body.index("<body")
    assert body.index('id="sitegen-error"') == body.index(">", body_start) + 1 + len('<div ')
    assert body.find("<script", body_start) in (-1,) or body.find("<script", body_start) > body.index('id="sitegen-error"')
    assert title_of(base) == "Hội nghị đã sửa tiêu đề"  # last good content still served

    site.write(ARTICLE, article("Hội nghị đã sửa xong", body="Nội dung."))
    wait_for(lambda: title_of(base) == "Hội nghị đã sửa xong", what="fixed title")
    assert 'id="sitegen-error"' not in fetch(base + "/")[1]
    assert proc.poll() is None


def test_drafts_shown_and_marked_in_preview_only(server):
    site, base, _ = server
    status, body = fetch(base + "/thoi-su/nhap/")
    assert status == 200 and "draft-flag" in body
    assert site.cli("build").returncode == 0
    assert not (site.public / "thoi-su/nhap").exists()


def test_paths_outside_preview_are_not_served(server):
    _, base, _ = server
    for evil in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd", "/%5c..%5c..%5cetc/passwd"]:
        req = urllib.request.Request(base + evil)
        status, body = fetch(req.full_url)
        assert status == 404 and "root:" not in body, evil


def test_listens_on_loopback_only_by_default(server):
    _, base, proc = server
    port = int(base.rsplit(":", 1)[1])
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    if out.strip():
        assert all("127.0.0.1:" in line for line in out.strip().splitlines()), out


def test_editor_temp_files_do_not_trigger_rebuilds_or_crash(server):
    site, base, proc = server
    for name in [".index.md.swp", "index.md~", "#index.md#", ".~lock.index.md#"]:
        site.write(f"content/thoi-su/hoi-nghi/{name}", "rác")
    # An editor that saves by writing a temp file and renaming it over the original.
    tmp = site.write("content/thoi-su/hoi-nghi/index.md.tmp", article("Lưu kiểu thay tệp"))
    os.replace(tmp, site.root / ARTICLE)
    wait_for(lambda: title_of(base) == "Lưu kiểu thay tệp", what="replaced file")
    assert proc.poll() is None


@pytest.mark.browser
def test_browser_reloads_by_itself(server):
    from playwright.sync_api import sync_playwright

    site, base, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"])
        page = browser.new_page()
        page.goto(base + "/thoi-su/hoi-nghi/")
        page.wait_for_function("() => window.LiveReload !== undefined", timeout=10_000)
        assert page.inner_text("h1") == "Hội nghị đầu năm"
        started = time.monotonic()
        site.write(ARTICLE, article("Tiêu đề mới tự tải lại", body="Nội dung."))
        page.wait_for_function("() => document.querySelector('h1').textContent === 'Tiêu đề mới tự tải lại'",
                               timeout=10_000)
        assert time.monotonic() - started < 10
        browser.close()


def test_ctrl_c_stops_cleanly(site):
    site.write(ARTICLE, article("Hội nghị"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sitegen", "serve", "--source", str(site.root), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    wait_for(lambda: _up(f"http://127.0.0.1:{port}"), what="server start")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert "Đã dừng xem thử." in out and "Traceback" not in out


def test_a_templates_folder_made_while_running_is_watched(server):
    """The site had no templates/ when the preview started: making one, with an override, shows at once (found
    in review: the folder was never watched)."""
    site, base, proc = server
    from sitegen.config import default_theme_dirs

    theme = (default_theme_dirs()[0] / "article.html").read_text(encoding="utf-8")
    assert not (site.root / "templates").exists()
    site.write("templates/article.html", theme.replace("{% block main %}", "{% block main %}<!-- ban-rieng -->", 1))
    wait_for(lambda: "ban-rieng" in fetch(base + "/thoi-su/hoi-nghi/")[1], what="the new override")
    site.write("templates/article.html", theme.replace("{% block main %}", "{% block main %}<!-- lan-hai -->", 1))
    wait_for(lambda: "lan-hai" in fetch(base + "/thoi-su/hoi-nghi/")[1], what="an edit inside the new folder")
    assert proc.poll() is None
