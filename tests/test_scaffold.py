"""`sitegen new` and `sitegen init`: what they write builds as is, and they never overwrite anything."""

from __future__ import annotations

import datetime as dt
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from dataclasses import MISSING, fields
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from conftest import ROOT, interrupt, parse_html, run_cli, text_of, tree_snapshot

from sitegen import config as config_mod
from sitegen.config import SiteConfig
from sitegen.diagnostics import Reporter
from sitegen.content.read import split_front_matter
from sitegen.scaffold import NOT_OPTIONS, OPTION_DOCS, PLACEHOLDER_BODY, article_text

CATEGORIES = '[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n\n[[categories]]\nname = "Văn hóa - Xã hội"\nslug = "van-hoa-xa-hoi"\n'


def printed(result) -> Path:
    """The file `sitegen new` printed (relative to the directory it ran in, this test's)."""
    return (Path.cwd() / result.stdout.strip()).resolve()


def front_matter(path: Path) -> dict:
    meta, _, _, _ = split_front_matter(path.read_text(encoding="utf-8"), "x", Reporter())
    return meta


def test_new_article_builds_as_is_with_slug_year_and_site_time_zone(site):
    site.write("site.toml", 'timezone = "Asia/Ho_Chi_Minh"\n' + CATEGORIES)
    # The machine's own zone must not leak into the article's date.
    result = site.cli("new", "Hội nghị tổng kết Đắk Lắk: năm 2024", "--category", "Văn hóa - Xã hội",
                      env={"TZ": "America/Los_Angeles"})
    assert result.returncode == 0, result.stderr
    now = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    rel = f"content/van-hoa-xa-hoi/{now.year}/hoi-nghi-tong-ket-dak-lak-nam-2024/index.md"
    assert printed(result) == (site.root / rel).resolve()
    meta = front_matter(site.root / rel)
    assert meta["title"] == "Hội nghị tổng kết Đắk Lắk: năm 2024"
    assert meta["category"] == "Văn hóa - Xã hội"
    assert meta["tags"] == [] and meta["summary"] == "" and meta["source"] == "" and meta["photos"] is None
    written = dt.datetime.strptime(meta["date"], "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert abs(written - now) < dt.timedelta(minutes=2)
    text = (site.root / rel).read_text(encoding="utf-8")
    assert '#  - src: "anh-01.jpg"' in text and "#    caption:" in text  # one commented photo example
    assert meta["draft"] is True and "xóa dòng 'draft: true'" in result.stderr  # published only when told to

    built = site.cli("build", "--strict")  # as is: no error, not even a warning, and not published
    assert built.returncode == 0, built.stderr
    assert not (site.public / "van-hoa-xa-hoi/hoi-nghi-tong-ket-dak-lak-nam-2024/index.html").exists()
    (site.root / rel).write_text(text.replace("draft: true\n", "").replace(PLACEHOLDER_BODY, "Nội dung thật.\n"),
                                 encoding="utf-8")
    built = site.cli("build", "--strict")
    assert built.returncode == 0, built.stderr
    doc = site.html("van-hoa-xa-hoi/hoi-nghi-tong-ket-dak-lak-nam-2024/index.html")
    assert text_of(doc.find(".//h1")) == "Hội nghị tổng kết Đắk Lắk: năm 2024"
    assert doc.find(".//time").get("datetime").endswith("+07:00")


def test_new_uses_the_site_time_zone_not_the_default(site):
    site.write("site.toml", 'timezone = "America/New_York"\n' + CATEGORIES)
    result = site.cli("new", "Tin giờ New York", env={"TZ": "Asia/Tokyo"})
    assert result.returncode == 0, result.stderr
    meta = front_matter(printed(result))
    written = dt.datetime.strptime(meta["date"], "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("America/New_York"))
    assert abs(written - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=2)
    assert "Chuyên mục: Thời sự" in result.stderr  # no --category: the first one, and the editor is told


def test_new_refuses_to_overwrite(site):
    site.write("site.toml", CATEGORIES)
    first = site.cli("new", "Họp báo quý I", "-c", "thoi-su")
    assert first.returncode == 0, first.stderr
    path = printed(first)
    path.write_text(path.read_text(encoding="utf-8") + "\nĐoạn biên tập viên đã viết.\n", encoding="utf-8")
    before = tree_snapshot(site.root)
    second = site.cli("new", "Họp báo quý I", "-c", "thoi-su")
    assert second.returncode == 1
    assert "lỗi[NEW001]" in second.stderr and "không ghi đè" in second.stderr
    assert "Traceback" not in second.stderr
    assert tree_snapshot(site.root) == before


def test_new_refuses_a_slug_already_used_in_the_category_in_another_year(site):
    site.write("site.toml", CATEGORIES)
    site.write("content/thoi-su/2019/hop-bao/index.md", '---\ntitle: "Họp báo"\ndate: "2019-01-01"\n---\nx\n')
    site.write("content/thoi-su/tong-ket.md", '---\ntitle: "Tổng kết"\ndate: "2019-01-01"\n---\nx\n')
    before = tree_snapshot(site.root)
    for title in ("Họp báo", "Tổng kết"):
        result = site.cli("new", title, "-c", "Thời sự")
        assert result.returncode == 1 and "lỗi[NEW001]" in result.stderr, result.stderr
    assert tree_snapshot(site.root) == before


def test_new_unknown_category_lists_the_valid_ones_and_writes_nothing(site):
    site.write("site.toml", CATEGORIES)
    result = site.cli("new", "Bài thể thao", "--category", "Thể thao")
    assert result.returncode == 1
    assert "lỗi[NEW002]" in result.stderr
    assert "Thời sự (thoi-su)" in result.stderr and "Văn hóa - Xã hội (van-hoa-xa-hoi)" in result.stderr
    assert not (site.root / "content").exists()


def test_new_category_by_slug_or_name_in_any_case(site):
    site.write("site.toml", CATEGORIES)
    for category, title in (("van-hoa-xa-hoi", "Bài một"), ("VĂN HÓA - XÃ HỘI", "Bài hai"), ("van hoa xa hoi", "Bài ba")):
        result = site.cli("new", title, "-c", category)
        assert result.returncode == 0, result.stderr
        assert "content/van-hoa-xa-hoi/" in result.stdout


def test_new_without_site_toml_and_title_without_letters(site):
    site.root.mkdir(parents=True, exist_ok=True)
    ok = site.cli("new", "Bài đầu tiên")
    assert ok.returncode == 0, ok.stderr
    assert "content/tin-tuc/" in ok.stdout
    written = printed(ok)
    written.write_text(written.read_text(encoding="utf-8").replace("draft: true\n", "")
                       .replace(PLACEHOLDER_BODY, "Nội dung thật.\n"), encoding="utf-8")
    assert site.cli("build").returncode == 0
    assert (site.public / "tin-tuc/bai-dau-tien/index.html").is_file()
    bad = site.cli("new", "!!! ???")
    assert bad.returncode == 1 and "lỗi[ROUTE003]" in bad.stderr


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60).filter(lambda s: s.strip()))
def test_any_title_survives_the_written_front_matter(title):
    # Quotes, colons, '#', 'no', a leading '-' or '!', control characters are all YAML traps: the title must
    # come back unchanged.
    clean = " ".join(title.split())
    text = article_text(clean, dt.datetime(2024, 3, 29, 17, 58), title, summary=title)  # raw: line breaks too
    meta = yaml.safe_load(text.split("\n---\n")[0].removeprefix("---\n"))
    assert meta["title"] == clean and meta["category"] == title and meta["summary"] == title


def test_init_writes_every_option_commented_in_two_languages(tmp_path):
    result = run_cli("init", str(tmp_path / "moi"))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "moi/site.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    options = [f for f in fields(SiteConfig) if f.name not in NOT_OPTIONS]
    lines = text.splitlines()
    for f in options:
        assert f.name in data, f"site.toml from init lacks option {f.name}"
        assert f.name in OPTION_DOCS, f"scaffold.OPTION_DOCS has no comment for new option {f.name}"
        where = next(i for i, l in enumerate(lines) if l.startswith(f"{f.name} = "))
        comment = lines[where - 1]
        assert comment.startswith("# ") and " / " in comment, comment  # Vietnamese / English
    cfg = config_mod.load(tmp_path / "moi")
    for f in options:  # the written values are the defaults, read back unchanged
        default = f.default if f.default is not MISSING else None
        assert getattr(cfg, f.name) == default, f.name
    assert [c.slug for c in cfg.categories] == ["thoi-su", "van-hoa-xa-hoi"]


def test_init_output_builds_strictly_and_serves(tmp_path):
    root = tmp_path / "tin-tuc-huyen"
    assert run_cli("init", str(root)).returncode == 0
    # Only what the site overrides: the theme itself comes from the installed sitegen (test_init_theme.py).
    assert not (root / "templates/article.html").exists() and not (root / "assets/css/site.css").exists()
    samples = sorted(p.relative_to(root).as_posix() for p in (root / "content").rglob("index.md"))
    assert len(samples) == 2
    toml = root / "site.toml"  # as the guide says: base_url first (the placeholder is a CFG005 warning)
    toml.write_text(toml.read_text(encoding="utf-8").replace('"http://localhost:8000/"', '"https://huyen.example/"'),
                    encoding="utf-8")
    result = run_cli("build", "--source", str(root), "--strict")
    assert result.returncode == 0, result.stderr
    public = root / "public"
    for page in public.rglob("*.html"):
        doc = parse_html(page.read_bytes())
        assert doc.get("lang") == "vi"
    article = next(public.glob("thoi-su/*/index.html"))
    doc = parse_html(article.read_bytes())
    img = doc.find(".//figure//img")
    assert img is not None and img.get("width") == "480" and img.get("height") == "270"

    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(public))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        home = urllib.request.urlopen(base, timeout=10).read().decode("utf-8")
        assert "Khai trương trang thông tin điện tử" in home and "Hướng dẫn viết bài đầu tiên" in home
        art = article.relative_to(public).parent.as_posix()
        page = urllib.request.urlopen(base + art + "/", timeout=10).read()
        for src in [i.get("src") for i in parse_html(page).iter("img")]:
            assert urllib.request.urlopen(base.rstrip("/") + src, timeout=10).status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_init_refuses_a_non_empty_folder(tmp_path):
    target = tmp_path / "dang-dung"
    target.mkdir()
    (target / "ghi-chu.txt").write_text("đừng xóa", encoding="utf-8")
    result = run_cli("init", str(target))
    assert result.returncode == 1
    assert "lỗi[INIT001]" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["ghi-chu.txt"]
    assert (target / "ghi-chu.txt").read_text(encoding="utf-8") == "đừng xóa"


def test_init_into_an_empty_existing_folder(tmp_path):
    (tmp_path / "trong").mkdir()
    assert run_cli("init", str(tmp_path / "trong")).returncode == 0
    assert (tmp_path / "trong/site.toml").is_file()


@pytest.mark.skipif(not (ROOT / "sitegen/preview/server.py").is_file(), reason="sitegen serve is not there yet")
def test_init_output_is_ready_for_sitegen_serve(tmp_path):
    root = tmp_path / "xem-thu"
    assert run_cli("init", str(root)).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "sitegen", "serve", "--source", str(root), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline, home = time.monotonic() + 30, ""
        while time.monotonic() < deadline and "Khai trương" not in home:
            try:
                home = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode("utf-8")
            except OSError:
                time.sleep(0.1)
        assert "Khai trương trang thông tin điện tử" in home and "Hướng dẫn viết bài đầu tiên" in home
    finally:
        interrupt(proc)
