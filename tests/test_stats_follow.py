"""Readers' figures follow an article through slug and permalink changes (issue 17, item 11): the old URL goes
into `aliases`, and the votes, views and comments collected under it stay the article's, in the collector's
answers (so the widgets show them), for one-vote-per-reader, and in `sitegen build --stats`. End to end, over
HTTP on 127.0.0.1, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import article, text_of
from pgserver import new_store, postgres, store_kind  # noqa: F401 (fixtures)

from sitegen.content import model
from sitegen.diagnostics import Reporter
from sitegen.readers.collector import KnownArticles, site_articles
from sitegen.readers.figures import Comment, Figures, alias_id, apply, former_ids
from sitegen.readers.server import make_server

ORIGIN = "https://tintuc.example"


def call(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                 headers={"Content-Type": "application/json"} if body is not None else {})
    resp = conn.getresponse()
    data = json.loads(resp.read() or b"null")
    conn.close()
    return resp.status, data


def page_figures(site, url):
    doc = site.html(url + ("index.html" if url.endswith("/") else ""))
    return (text_of(doc.find(".//p[@class='rating-score']")), text_of(doc.find(".//span[@class='views-count']")),
            [text_of(p) for p in doc.findall(".//ol[@class='comment-list']/li//p[@class='comment-text']")])


@pytest.mark.parametrize("change", ["slug", "permalink"])
def test_figures_follow_the_article_to_its_new_url(site, new_store, change):
    site.write("site.toml", 'base_url = "https://tintuc.example/"\n')
    site.write("content/thoi-su/hoi-nghi/index.md", article("Hội nghị tổng kết", views="500", slug="hoi-nghi-cu",
                                                             rating="{total: 12, count: 3}"))
    site.write("content/thoi-su/khac/index.md", article("Bài khác", date="2024-03-28 08:00"))
    old = "thoi-su/hoi-nghi-cu/"
    store = new_store()
    known = KnownArticles(site_articles(site.config()), every=0)
    server = make_server(store, known, ORIGIN)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        # Readers at the old address.
        assert call(port, "POST", "/api/vote", {"article": old, "score": 5, "client": "reader-a"})[0] == 200
        for _ in range(3):
            assert call(port, "POST", "/api/view", {"article": old, "client": "reader-a"})[0] == 200
        assert call(port, "POST", "/api/comment", {"article": old, "name": "An", "text": "Ý kiến cũ",
                                                   "client": "reader-a"})[0] == 202
        (pending,) = store.comments()
        assert store.moderate(pending["id"], "approved")

        # The editor changes the address and keeps the old one as an alias (old links redirect).
        if change == "slug":
            new = "thoi-su/hoi-nghi/"
            site.write("content/thoi-su/hoi-nghi/index.md", article(
                "Hội nghị tổng kết", views="500", slug="hoi-nghi", rating="{total: 12, count: 3}",
                aliases='["/thoi-su/hoi-nghi-cu/"]'))
        else:
            new = "2024/hoi-nghi-cu.html"
            site.write("site.toml", 'base_url = "https://tintuc.example/"\npermalink = "{year}/{slug}.html"\n')
            site.write("content/thoi-su/hoi-nghi/index.md", article(
                "Hội nghị tổng kết", views="500", slug="hoi-nghi-cu", rating="{total: 12, count: 3}",
                aliases='["/thoi-su/hoi-nghi-cu/"]'))
            known = KnownArticles(site_articles(site.config()), every=0)  # a new site.toml: the collector restarts
            server.shutdown()
            server.server_close()
            server = make_server(store, known, ORIGIN)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            port = server.server_address[1]

        status, data = call(port, "GET", f"/api/stats?article={new}")
        assert status == 200, data
        assert (data["rating_total"], data["rating_count"], data["views"], data["comments"]) == (5, 1, 3, 1)
        assert call(port, "GET", f"/api/stats?article={old}")[0] == 404  # the old id is no article any more
        status, data = call(port, "POST", "/api/vote", {"article": new, "score": 1, "client": "reader-a"})
        assert status == 409 and data["rating_count"] == 1  # reader A voted already, under the old address
        status, data = call(port, "POST", "/api/vote", {"article": new, "score": 3, "client": "reader-b"})
        assert status == 200 and (data["rating_total"], data["rating_count"]) == (8, 2)
        status, data = call(port, "POST", "/api/view", {"article": new, "client": "reader-b"})
        assert status == 200 and data["views"] == 4

        # The build, from the collector's URL and from the database itself.
        for source in (f"http://127.0.0.1:{port}/", new_store.target):
            result = site.cli("build", "--stats", source)
            assert result.returncode == 0 and "STATS001" not in result.stderr, result.stderr
            assert page_figures(site, new) == ("Tổng số điểm của bài viết là: 20 trong 5 đánh giá", "504",
                                               ["Ý kiến cũ"])
    finally:
        server.shutdown()
        server.server_close()


def test_an_alias_that_is_another_articles_address_is_not_merged(site):
    """A slug given up and then given to a new article: the figures at that address are the new article's."""
    site.write("content/thoi-su/moi/index.md", article("Bài mới", aliases='["/thoi-su/cu/", "/tin-cu/bai.html"]'))
    site.write("content/thoi-su/cu/index.md", article("Bài đang dùng địa chỉ cũ", date="2024-03-28 08:00"))
    site.write("content/thoi-su/hai/index.md", article("Bài thứ hai", date="2024-03-27 08:00",
                                                       aliases='["/tin-cu/chung/"]'))
    site.write("content/thoi-su/ba/index.md", article("Bài thứ ba", date="2024-03-26 08:00",
                                                      aliases='["/tin-cu/chung"]'))
    cfg = site.config()
    from sitegen.content import read

    report = Reporter()
    docs = [f.value for f in read.load_all(cfg.root, cfg.content_dir, cfg.max_file_bytes, report)]
    former = former_ids(model.build_site(docs, cfg, report).articles, cfg)
    assert former["thoi-su/moi/"] == ("tin-cu/bai.html",)  # not thoi-su/cu/: that is an article today
    assert former["thoi-su/cu/"] == ()
    assert former["thoi-su/hai/"] == former["thoi-su/ba/"] == ()  # claimed twice: nobody's


@pytest.mark.parametrize("alias, expected", [
    ("/thoi-su/cu/", "thoi-su/cu/"), ("/thoi-su/cu", "thoi-su/cu/"), ("thoi-su/cu/", "thoi-su/cu/"),
    ("/tin-cu/bai.html", "tin-cu/bai.html"), ("/a/./b//c/", "a/b/c/"), (" /tin-cu/x.htm ", "tin-cu/x.htm"),
])
def test_alias_ids_are_the_urls_the_redirects_are_published_at(alias, expected):
    assert alias_id(alias) == expected


def test_alias_ids_match_the_redirect_pages_the_build_plans(site):
    aliases = ["/thoi-su/cu/", "/tin-cu/bai.html", "/a/./b//c", "tin-cu/khong-gach"]
    site.write("content/thoi-su/moi/index.md", article("Bài mới", aliases=json.dumps(aliases)))
    cfg = site.config()
    from sitegen.content import read
    from sitegen.structure.routes import plan

    report = Reporter()
    docs = [f.value for f in read.load_all(cfg.root, cfg.content_dir, cfg.max_file_bytes, report)]
    built = model.build_site(docs, cfg, report)
    redirects = sorted(p.url for p in plan(built, report) if p.kind == "alias")
    assert redirects == sorted(alias_id(a) for a in aliases)


_figures = st.builds(lambda v, n, extra, k: Figures(v, n + extra, n, tuple(
    Comment(i, "A", "B", dt.datetime(2024, 1, 1 + i % 28, tzinfo=dt.timezone.utc)) for i in range(k))),
    st.integers(0, 10**6), st.integers(0, 1000), st.integers(0, 4000), st.integers(0, 3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(now=st.one_of(st.none(), _figures), olds=st.lists(st.one_of(st.none(), _figures), min_size=2, max_size=2),
       other=st.one_of(st.none(), _figures))
def test_apply_adds_the_figures_of_every_former_id_and_nothing_else(site, now, olds, other):
    """Whatever was collected where: the article gets its own figures plus those of its aliases; the article that
    holds an address today keeps what is collected there, even if another article lists it as an alias."""
    site.write("content/thoi-su/moi/index.md", article(
        "Bài mới", views="10", aliases='["/thoi-su/cu-1/", "/tin-cu/cu-2.html", "/thoi-su/khac/"]'))
    site.write("content/thoi-su/khac/index.md", article("Bài khác", date="2024-03-28 08:00"))
    cfg = site.config()
    from sitegen.content import read

    report = Reporter()
    docs = [f.value for f in read.load_all(cfg.root, cfg.content_dir, cfg.max_file_bytes, report)]
    built = model.build_site(docs, cfg, report)
    totals = {k: v for k, v in {"thoi-su/moi/": now, "thoi-su/cu-1/": olds[0], "tin-cu/cu-2.html": olds[1],
                                "thoi-su/khac/": other}.items() if v is not None}
    mine = [f for f in (now, *olds) if f is not None]
    moi, khac = (next(a for a in apply(built, totals).articles if a.title == t) for t in ("Bài mới", "Bài khác"))
    assert moi.views == 10 + sum(f.views for f in mine)
    assert (moi.rating_total, moi.rating_count) == (sum(f.rating_total for f in mine), sum(f.rating_count for f in mine))
    assert moi.comments == sum(len(f.comments) for f in mine)
    if mine:
        assert [c.at for c in moi.collected.comments] == sorted(c.at for f in mine for c in f.comments)
    assert khac.views == (other.views if other else 0) and khac.collected == other
