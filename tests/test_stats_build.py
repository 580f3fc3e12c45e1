"""`sitegen build --stats`: collected figures add to the front matter baseline on every page, from the SQLite
file or the collector's URL; approved comments only; the most-read block follows; incremental builds notice."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading

import pytest

from conftest import article, serving, text_of, tree_snapshot

from sitegen.readers.figures import Figures, _parse_export, apply
from sitegen.readers.server import make_server
from sitegen.readers.store import Store
from sitegen.diagnostics import Reporter

HOI_NGHI = "thoi-su/hoi-nghi/"
GIA_LUA = "kinh-te/gia-lua/"


@pytest.fixture
def news(site):
    site.write("site.toml", 'base_url = "https://tintuc.example/"\nmost_read = 2\n')
    site.write("content/thoi-su/hoi-nghi/index.md", article(
        "Hội nghị tổng kết", date="2024-03-29 17:58", views="500", comments="2", rating="{total: 12, count: 3}"))
    site.write("content/kinh-te/gia-lua/index.md", article("Giá lúa tăng", date="2024-03-28 08:00", views="100"))
    return site


def collect(path, votes=(), views=None, comments=()):
    store = Store(path)
    for i, (article_id, score) in enumerate(votes):
        assert store.vote(article_id, score, f"client{i}")
    for article_id, n in (views or {}).items():
        for _ in range(n):
            store.view(article_id)
    for article_id, name, text, approve in comments:
        cid = store.comment(article_id, name, text, "c")
        if approve:
            store.moderate(cid, "approved")
    store.close()
    return path


def figures(doc):
    art = doc.find(".//article[@class='article']")
    return {
        "score": text_of(doc.find(".//p[@class='rating-score']")),
        "views": text_of(doc.find(".//span[@class='views-count']")),
        "comments": text_of(doc.find(".//span[@class='comments-count']")),
        "base": [art.get(k) for k in ("data-base-views", "data-base-comments", "data-base-rating-total",
                                      "data-base-rating-count")],
        "listed": [text_of(li.find(".//strong[@class='comment-name']")) + ": " + text_of(li.find(".//p[@class='comment-text']"))
                   for li in doc.findall(".//ol[@class='comment-list']/li")],
    }


def most_read(doc):
    return [text_of(li.find("a")) for li in doc.findall(".//section[@class='box most-read']//li")]


def test_without_stats_pages_show_front_matter(news):
    news.build()
    f = figures(news.html(HOI_NGHI + "index.html"))
    assert f["score"] == "Tổng số điểm của bài viết là: 12 trong 3 đánh giá"
    assert (f["views"], f["comments"], f["listed"]) == ("500", "2", [])
    assert most_read(news.html("index.html")) == ["Hội nghị tổng kết", "Giá lúa tăng"]


def test_collected_figures_add_to_the_baseline(news, tmp_path):
    db = collect(tmp_path / "stats.sqlite3", votes=[(HOI_NGHI, 5), (HOI_NGHI, 4), (GIA_LUA, 2)],
                 views={HOI_NGHI: 1032, GIA_LUA: 7},
                 comments=[(HOI_NGHI, "Nguyễn Văn A", "Rất bổ ích.\n<script>alert(1)</script>", True),
                           (HOI_NGHI, "Kẻ chờ", "Chưa duyệt", False)])
    result = news.build(stats_from=str(db))
    assert not result.diagnostics
    doc = news.html(HOI_NGHI + "index.html")  # strict HTML parse: the baked comment is escaped
    f = figures(doc)
    assert f["score"] == "Tổng số điểm của bài viết là: 21 trong 5 đánh giá"
    assert (f["views"], f["comments"]) == ("1.532", "3")  # 500 + 1 032 with Vietnamese grouping; 2 + 1 approved
    assert f["base"] == ["500", "2", "12", "3"]  # the widgets add fresh collector figures to these
    assert f["listed"] == ["Nguyễn Văn A: Rất bổ ích. <script>alert(1)</script>"]
    raw = (news.public / HOI_NGHI / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw and "Chưa duyệt" not in raw
    g = figures(news.html(GIA_LUA + "index.html"))
    assert g["score"] == "Tổng số điểm của bài viết là: 2 trong 1 đánh giá" and g["views"] == "107"


def test_most_read_follows_collected_views(news, tmp_path):
    db = collect(tmp_path / "stats.sqlite3", views={GIA_LUA: 401})
    news.build(stats_from=str(db))
    assert most_read(news.html("index.html")) == ["Giá lúa tăng", "Hội nghị tổng kết"]
    assert "501 lượt xem" in text_of(news.html(HOI_NGHI + "index.html").find(".//section[@class='box most-read']"))


def test_stats_from_the_collector_url(news, tmp_path):
    store = Store(tmp_path / "stats.sqlite3")
    store.vote(HOI_NGHI, 3, "x")
    server = make_server(store, {HOI_NGHI, GIA_LUA}, "https://tintuc.example")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = news.cli("build", "--stats", f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()
        store.close()
    assert result.returncode == 0, result.stderr
    assert figures(news.html(HOI_NGHI + "index.html"))["score"] == "Tổng số điểm của bài viết là: 15 trong 4 đánh giá"


def test_absurd_collected_figures_are_a_stats_warning_not_a_template_error(news, tmp_path):
    """An export (from a damaged or impostor collector) with views = 10**25, which the pages' number formatting
    cannot show: the build names the figures (STATS001), publishes with the front matter ones, blames no template."""
    served = tmp_path / "collector"
    (served / "api").mkdir(parents=True)
    (served / "api" / "export").write_text(json.dumps({"version": 1, "articles": {
        HOI_NGHI: {"views": 10**25, "rating_total": 0, "rating_count": 0, "comments": []}}}))
    with serving(served) as url:
        result = news.cli("build", "--stats", url)
    assert result.returncode == 0 and "cảnh báo[STATS001]" in result.stderr and "TPL001" not in result.stderr
    assert "không hợp lệ" in result.stderr and "Traceback" not in result.stderr
    assert figures(news.html(HOI_NGHI + "index.html"))["views"] == "500"


def test_unreadable_stats_warn_and_keep_front_matter(news, tmp_path):
    missing = tmp_path / "khong-co.sqlite3"
    result = news.cli("build", "--stats", str(missing))
    assert result.returncode == 0 and "cảnh báo[STATS001]" in result.stderr and "Traceback" not in result.stderr
    assert figures(news.html(HOI_NGHI + "index.html"))["views"] == "500"
    strict = news.cli("build", "--strict", "--stats", "http://127.0.0.1:9/")  # nothing listens on port 9
    assert strict.returncode == 1 and "lỗi[STATS001]" in strict.stderr


@pytest.mark.parametrize("data", [[], {"articles": {HOI_NGHI: {"views": -1, "rating_total": 0, "rating_count": 0}}},
                                  {"articles": {HOI_NGHI: {"views": 1, "rating_total": 0, "rating_count": 0,
                                                           "comments": [{"id": 1}]}}},
                                  {"articles": {HOI_NGHI: {"views": 10**25, "rating_total": 0, "rating_count": 0}}},
                                  {"articles": {HOI_NGHI: {"views": 1, "rating_total": 999999, "rating_count": 1}}},
                                  {"articles": {HOI_NGHI: {"views": 1, "rating_total": 1, "rating_count": 2}}}])
def test_malformed_export_is_refused(data):
    with pytest.raises(ValueError):
        _parse_export(data)


def test_new_figures_rerender_the_pages_that_show_them(news, tmp_path):
    db = tmp_path / "stats.sqlite3"
    collect(db, views={HOI_NGHI: 1})
    news.build(stats_from=str(db))
    collect(db, votes=[(GIA_LUA, 5)], comments=[(GIA_LUA, "Bạn đọc", "Giá tốt quá.", True)])
    again = news.build(stats_from=str(db))
    assert again.rendered >= 1
    assert figures(news.html(GIA_LUA + "index.html"))["listed"] == ["Bạn đọc: Giá tốt quá."]
    clean_dir = tmp_path / "clean"
    shutil.copytree(news.root, clean_dir, ignore=shutil.ignore_patterns(".sitegen", "public", ".public*"))
    from sitegen import config as config_mod
    from sitegen.build.pipeline import build

    build(config_mod.load(clean_dir), stats_from=str(db), use_cache=False)
    # The search index (pagefind/) belongs to the search feature and is checked by its own tests.
    pages = {k: v for k, v in tree_snapshot(news.public).items() if not k.startswith("pagefind/")}
    assert pages == {k: v for k, v in tree_snapshot(clean_dir / "public").items() if not k.startswith("pagefind/")}


def test_apply_is_pure_and_keeps_order(news, tmp_path):
    from sitegen.content import model, read

    cfg = news.config()
    report = Reporter()
    docs = [f.value for f in read.load_all(cfg.root, cfg.content_dir, cfg.max_file_bytes, report)]
    site = model.build_site(docs, cfg, report)
    added = apply(site, {GIA_LUA: Figures(views=5, rating_total=4, rating_count=1)})
    assert [a.source for a in added.articles] == [a.source for a in site.articles]
    before, after = site.articles[1], added.articles[1]
    assert (before.views, after.views, after.rating_total, after.rating_count) == (100, 105, 4, 1)
    assert site.articles[1].collected is None and apply(site, {}) is site


def test_page_with_a_collector_has_the_form_and_stays_valid_html(news, tmp_path):
    news.write("site.toml", 'base_url = "https://tintuc.example/"\nstats_url = "https://tk.tintuc.example/"\n')
    db = collect(tmp_path / "stats.sqlite3", comments=[(HOI_NGHI, "A & B", 'Dòng một\n"Dòng hai" <i>', True)])
    news.build(stats_from=str(db))
    doc = news.html(HOI_NGHI + "index.html")  # strict parse
    art = doc.find(".//article[@class='article']")
    assert art.get("data-stats-url") == "https://tk.tintuc.example/" and art.get("data-article-id") == HOI_NGHI
    form = doc.find(".//form[@class='comment-form']")
    labels = {l.get("for"): text_of(l) for l in form.iter("label")}
    assert labels == {"comment-name": "Họ và tên", "comment-text": "Ý kiến của bạn"}
    assert form.find(".//input[@id='comment-name']").get("maxlength") == "80"
    assert figures(doc)["listed"] == ['A & B: Dòng một "Dòng hai" <i>']


def test_stats_url_must_be_a_full_address(news):
    news.write("site.toml", 'stats_url = "tk.example"\n')
    result = news.cli("build")
    assert result.returncode == 2 and "CFG002" in result.stderr and "stats_url" in result.stderr
