"""Golden checks on the example site, parsed with a strict HTML parser: what a reader and a crawler see."""

from __future__ import annotations

import json
import unicodedata
import xml.etree.ElementTree as ET

from conftest import ROOT, parse_html, text_of

ARTICLE = "thi-dua-khen-thuong/hoi-nghi-tong-ket-cong-tac-thi-dua/index.html"
ATOM = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def test_every_html_page_parses_strictly_and_is_vietnamese(example_build):
    pages = sorted(example_build.rglob("*.html"))
    assert len(pages) > 60
    for path in pages:
        data = path.read_bytes()
        doc = parse_html(data)  # raises on any parse error
        text = data.decode("utf-8")
        assert unicodedata.is_normalized("NFC", text), path
        assert doc.get("lang") == "vi", path
        assert "http://" not in text.replace("http://www.w3.org", "") or "localhost" in text, path


def test_article_date_line_counts_and_lead(example_build):
    doc = parse_html((example_build / ARTICLE).read_bytes())
    h1 = doc.find(".//h1")
    assert text_of(h1) == "Hội nghị tổng kết công tác thi đua, khen thưởng năm 2023"
    dateline = doc.find(".//p[@class='dateline']")
    time = dateline.find("time")
    assert text_of(time) == "Thứ Sáu - 29/03/2024 17:58"
    assert time.get("datetime") == "2024-03-29T17:58:00+07:00"
    assert "Lượt xem: 1.532" in text_of(dateline)
    assert "Bình luận: 3" in text_of(dateline)
    lead = doc.find(".//p[@class='lead']")
    assert text_of(lead).startswith("Chiều 29/3, UBND tỉnh tổ chức Hội nghị")


def test_photos_in_body_are_figures_with_caption_below(example_build):
    doc = parse_html((example_build / ARTICLE).read_bytes())
    figures = doc.findall(".//div[@class='article-body']/figure")
    assert len(figures) == 2
    first = figures[0]
    assert [child.tag for child in first] == ["picture", "figcaption"]  # caption under the photo
    assert text_of(first.find("figcaption")) == "Quang cảnh Hội nghị."
    img = first.find("picture/img")
    assert first.find("picture/source").get("type") == "image/webp"
    assert img.get("width") == "1600" and img.get("height") == "1067"
    assert img.get("alt") == "Đại biểu ngồi trong hội trường lớn nghe báo cáo"  # front-matter alt wins
    assert img.get("loading") is None  # the first photo may be above the fold
    assert figures[1].find("picture/img").get("loading") == "lazy"
    assert (example_build / img.get("src").lstrip("/")).is_file()
    for candidate in img.get("srcset").split(","):
        assert (example_build / candidate.split()[0].lstrip("/")).is_file()


def test_source_line_author_tags_rating_gallery(example_build):
    doc = parse_html((example_build / ARTICLE).read_bytes())
    assert text_of(doc.find(".//p[@class='source']")) == "Nguồn: Ban Thi đua - Khen thưởng tỉnh."
    assert text_of(doc.find(".//p[@class='author']")) == "Nguyễn Văn An"
    tags = [text_of(a) for a in doc.findall(".//p[@class='tags']/a")]
    assert tags == ["thi đua yêu nước", "khen thưởng", "chuyển đổi số"]
    rating = text_of(doc.find(".//p[@class='rating-score']"))
    assert rating == "Tổng số điểm của bài viết là: 12 trong 3 đánh giá"
    gallery = doc.findall(".//section[@class='gallery']//figure")
    assert [text_of(f.find("figcaption")) for f in gallery][0] == "Quang cảnh Hội nghị."
    assert len(gallery) == 3
    crumbs = [text_of(a) for a in doc.findall(".//nav[@class='breadcrumb']//a")]
    assert crumbs == ["Trang chủ", "Thi đua - Khen thưởng"]
    assert doc.findall(".//section[@class='box related']//article")


def test_body_source_line_is_not_repeated(example_build):
    for path in example_build.glob("*/*/index.html"):
        doc = parse_html(path.read_bytes())
        sources = doc.findall(".//p[@class='source']")
        if doc.find(".//article[@class='article']") is not None:
            assert len(sources) <= 1, path


def test_derived_lead_when_summary_absent(example_build):
    doc = parse_html((example_build / "du-lich/ky-co-eo-gio-dong-nghit-du-khach/index.html").read_bytes())
    body_first = doc.find(".//div[@class='article-body']/p")
    assert body_first.get("class") == "lead"
    meta = doc.find(".//meta[@name='description']").get("content")
    assert meta and meta.split()[0] in text_of(body_first)


def test_social_meta_json_ld_and_canonical(example_build):
    doc = parse_html((example_build / ARTICLE).read_bytes())
    head = doc.find("head")
    metas = {m.get("property") or m.get("name"): m.get("content") for m in head.findall("meta")}
    url = "https://tintuc.binhdinh.example/thi-dua-khen-thuong/hoi-nghi-tong-ket-cong-tac-thi-dua/"
    assert metas["og:type"] == "article"
    assert metas["og:url"] == url
    assert metas["og:image"].startswith("https://tintuc.binhdinh.example/")
    assert metas["twitter:card"] == "summary_large_image"
    assert head.find("link[@rel='canonical']").get("href") == url
    ld = json.loads(head.find("script[@type='application/ld+json']").text)
    assert ld["@type"] == "NewsArticle"
    assert ld["headline"] == "Hội nghị tổng kết công tác thi đua, khen thưởng năm 2023"
    assert ld["datePublished"] == "2024-03-29T17:58:00+07:00"
    assert ld["dateModified"] == "2024-03-30T08:15:00+07:00"


def test_home_has_featured_latest_category_blocks_and_most_read(example_build):
    doc = parse_html((example_build / "index.html").read_bytes())
    featured = doc.findall(".//section[@class='featured']//article")
    assert len(featured) == 3
    assert doc.find(".//section[@class='box latest']") is not None
    blocks = [text_of(h) for h in doc.findall(".//section[@class='box category-block']/h2")]
    assert blocks[:2] == ["Thời sự", "Kinh tế"]  # site.toml menu order
    ranked = doc.findall(".//section[@class='box most-read']//li")
    views = [int(text_of(li).rsplit(" ", 3)[-3].replace(".", "")) for li in ranked]
    assert views == sorted(views, reverse=True) and len(views) == 5


def test_draft_is_not_published(example_build):
    assert not (example_build / "giao-duc/chuan-bi-san-sang-cho-nam-hoc-moi").exists()
    assert "chuan-bi-san-sang" not in (example_build / "sitemap.xml").read_text(encoding="utf-8")


def test_alias_redirects_to_article(example_build):
    doc = parse_html((example_build / "tin-cu/hoi-nghi-thi-dua-2023.html").read_bytes())
    refresh = doc.find(".//meta[@http-equiv='refresh']").get("content")
    assert refresh.endswith("/thi-dua-khen-thuong/hoi-nghi-tong-ket-cong-tac-thi-dua/")


def test_feeds_are_valid_atom(example_build):
    for rel in ["feed.xml", "du-lich/feed.xml"]:
        root = ET.parse(example_build / rel).getroot()
        assert root.tag == f"{ATOM}feed"
        entries = root.findall(f"{ATOM}entry")
        assert entries, rel
        for e in entries:
            for child in ("title", "id", "updated", "published", "summary"):
                assert e.find(f"{ATOM}{child}") is not None
            assert e.find(f"{ATOM}link").get("href").startswith("https://tintuc.binhdinh.example/")
    root = ET.parse(example_build / "du-lich/feed.xml").getroot()
    assert {e.find(f"{ATOM}category").get("term") for e in root.findall(f"{ATOM}entry")} == {"du-lich"}


def test_sitemap_and_robots(example_build):
    # An index of files (a month of articles each, and the site's own pages), none over the protocol's 50 000.
    index = ET.parse(example_build / "sitemap.xml").getroot()
    assert index.tag == f"{SM}sitemapindex"
    files = [(m.find(f"{SM}loc").text, m.find(f"{SM}lastmod").text) for m in index.findall(f"{SM}sitemap")]
    base = "https://tintuc.binhdinh.example/"
    assert files[0][0] == base + "sitemaps/trang.xml" and len(files) >= 2, files
    locs, lastmods = [], {}
    for url, lastmod in files:
        root = ET.parse(example_build / url.removeprefix(base)).getroot()
        assert root.tag == f"{SM}urlset"
        urls = root.findall(f"{SM}url")
        assert 0 < len(urls) <= 50_000
        locs += [u.find(f"{SM}loc").text for u in urls]
        lastmods[url] = max(u.find(f"{SM}lastmod").text for u in urls)
        assert lastmod == lastmods[url]  # (the index's date for a file is its newest address's)
        if url != base + "sitemaps/trang.xml":  # a month's file lists that month's articles: its archive's
            year, month = url.removeprefix(base + "sitemaps/").removesuffix(".xml").split("-")
            listed = set()
            for page in (example_build / "luu-tru" / year / month).rglob("index.html"):
                listed |= {a.get("href") for a in parse_html(page.read_bytes()).iter("a")}
            assert {u.find(f"{SM}loc").text.removeprefix(base[:-1]) for u in urls} <= listed, (url, listed)
    assert "https://tintuc.binhdinh.example/" in locs
    assert "https://tintuc.binhdinh.example/" + ARTICLE.removesuffix("index.html") in locs
    assert len(locs) == len(set(locs))
    robots = (example_build / "robots.txt").read_text()
    assert "Sitemap: https://tintuc.binhdinh.example/sitemap.xml" in robots


def test_404_archive_tags_pages(example_build):
    for rel in ["404.html", "luu-tru/index.html", "chu-de/index.html", "chu-de/quy-nhon/index.html",
                "luu-tru/2024/03/index.html"]:
        doc = parse_html((example_build / rel).read_bytes())
        assert doc.find(".//h1") is not None, rel
    doc = parse_html((example_build / "chu-de/quy-nhon/index.html").read_bytes())
    assert len(doc.findall(".//main//article[@class='teaser has-image']")) >= 3


def test_single_file_article_is_published(example_build):
    assert (example_build / "kinh-te/lua-vu-dong-xuan-duoc-mua-duoc-gia/index.html").is_file()


def test_example_has_enough_articles_and_categories():
    articles = [p for p in (ROOT / "content").rglob("*.md")]
    assert len(articles) >= 12
    assert len({p.relative_to(ROOT / "content").parts[0] for p in articles}) >= 6
