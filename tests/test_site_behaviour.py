"""How a site builds: defaults without site.toml, categories, pagination, base path, escaping, determinism."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

from conftest import article, leftovers, parse_html, text_of, tree_snapshot

ATOM = "{http://www.w3.org/2005/Atom}"


def test_defaults_without_site_toml(site):
    site.write("content/thoi-su/a/index.md", article("Tin A"))
    site.write("content/Kinh tế/b.md", article("Tin B", date="2024-03-30 08:00"))
    site.build()
    doc = site.html("index.html")
    assert doc.get("lang") == "vi"
    menu = [text_of(a) for a in doc.findall(".//nav[@class='site-nav']//a")]
    assert menu == ["Trang chủ", "Kinh tế", "thoi-su"]  # folder names become categories
    assert (site.public / "kinh-te/b/index.html").is_file()
    assert text_of(site.html("thoi-su/a/index.html").find(".//time")) == "Thứ Sáu - 29/03/2024 17:58"


def test_category_by_name_or_slug_and_new_category_created(site):
    site.write("site.toml", '[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n')
    site.write("content/x/a.md", article("A", category='"thời sự"'))
    site.write("content/x/b.md", article("B", category='"thoi-su"'))
    result = site.build()
    assert (site.public / "thoi-su/a/index.html").is_file()
    assert (site.public / "thoi-su/b/index.html").is_file()
    assert result.diagnostics == []
    # A site.toml without categories: a category is created from the name (with categories listed, an unknown
    # name is an error: tests/test_no_silent_typos.py).
    site.write("site.toml", "per_page = 10\n")
    site.write("content/x/c.md", article("C", category='"Nông nghiệp"'))
    result = site.build()
    assert (site.public / "nong-nghiep/c/index.html").is_file()
    assert text_of(site.html("nong-nghiep/index.html").find(".//h1")) == "Nông nghiệp"
    assert result.diagnostics == []


def test_pagination_links(site):
    site.write("site.toml", "per_page = 4\n")
    for i in range(10):
        site.write(f"content/thoi-su/bai-{i:02d}.md", article(f"Bài {i}", date=f"2024-01-{i + 1:02d} 08:00"))
    site.build()
    first = site.html("thoi-su/index.html")
    titles = [text_of(a) for a in first.findall(".//main//h2[@class='teaser-title']/a")]
    assert titles == ["Bài 9", "Bài 8", "Bài 7", "Bài 6"]
    pager = first.find(".//nav[@class='pager']")
    links = {text_of(a): a.get("href") for a in pager.findall(".//a")}
    assert links["2"] == "/thoi-su/trang/2/" and links["3"] == "/thoi-su/trang/3/"
    assert links["Trang sau ›"] == "/thoi-su/trang/2/"
    assert "‹ Trang trước" not in links
    last = site.html("thoi-su/trang/3/index.html")
    assert [text_of(a) for a in last.findall(".//main//h2[@class='teaser-title']/a")] == ["Bài 1", "Bài 0"]
    links = {text_of(a): a.get("href") for a in last.findall(".//nav[@class='pager']//a")}
    assert links["‹ Trang trước"] == "/thoi-su/trang/2/" and "Trang sau ›" not in links
    assert last.find(".//nav[@class='pager']//a[@aria-current='page']").text == "3"
    assert not (site.public / "thoi-su/trang/4").exists()
    tag_pages = sorted(p.parent.name for p in (site.public / "luu-tru/2024/01").rglob("index.html"))
    assert tag_pages == ["01", "2", "3"]


def test_title_with_markup_is_escaped_everywhere(site):
    evil = 'Giá lúa <script>alert(1)</script> & "ngô" <b>tăng</b>'
    site.write("content/thoi-su/a/index.md", article(evil.replace('"', '\\"'), tags='["<i>x</i> & y"]'))
    site.build()
    raw = (site.public / "thoi-su/a/index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in raw and "<b>tăng" not in raw and "<i>x</i>" not in raw
    doc = parse_html(raw.encode())
    assert text_of(doc.find(".//h1")) == evil
    assert doc.find(".//title").text.startswith(evil)
    ld = json.loads(doc.find(".//script[@type='application/ld+json']").text)
    assert ld["headline"] == evil
    feed = ET.parse(site.public / "feed.xml").getroot()
    assert feed.find(f"{ATOM}entry/{ATOM}title").text == evil
    home = (site.public / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in home


def test_base_path_prefixes_every_link(site):
    site.write("site.toml", 'base_url = "https://tinh.example/tin-tuc/"\n')
    site.write("content/thoi-su/a/index.md", article("A", photos='["anh.png"]'))
    from PIL import Image
    Image.new("RGB", (40, 30), "red").save(site.root / "content/thoi-su/a/anh.png")
    site.build()
    doc = site.html("thoi-su/a/index.html")
    hrefs = [a.get("href") for a in doc.iter("a")] + [l.get("href") for l in doc.iter("link")]
    srcs = [i.get("src") for i in doc.iter("img")]
    for url in hrefs + srcs:
        if url.startswith("/"):
            assert url.startswith("/tin-tuc/"), url
        elif url.startswith("https://tinh.example"):  # share links go to other hosts on purpose
            assert url.startswith("https://tinh.example/tin-tuc/"), url
    assert any(s.startswith("/tin-tuc/thoi-su/a/anh") for s in srcs), srcs


def test_output_does_not_depend_on_machine_time_zone_or_locale(site, tmp_path):
    site.write("content/thoi-su/a/index.md", article("A", date='"2024-03-10"'.strip('"')))
    site.write("content/thoi-su/b/index.md", article("B", date="2024-03-10T23:30:00+00:00"))
    outs = []
    for tz in ("America/Los_Angeles", "Asia/Tokyo"):
        out = tmp_path / tz.replace("/", "_")
        result = site.cli("build", "--output", str(out), env={"TZ": tz, "LC_ALL": "C", "LANG": "C"})
        assert result.returncode == 0, result.stderr
        outs.append(tree_snapshot(out))
    assert outs[0] == outs[1]
    doc = parse_html(outs[0]["thoi-su/b/index.html"])
    assert text_of(doc.find(".//time")) == "Thứ Hai - 11/03/2024 06:30"  # 23:30 UTC is 06:30 next day in Hà Nội


def test_two_builds_are_byte_identical_and_second_rewrites_nothing(site):
    site.write("content/thoi-su/a/index.md", article("A"))
    site.write("content/thoi-su/b/index.md", article("B", date="2024-04-01 09:00"))
    site.build()
    before = tree_snapshot(site.public)
    inode = os.stat(site.public / "thoi-su/a/index.html").st_ino
    result = site.build()
    assert tree_snapshot(site.public) == before
    assert result.stats.written == 0
    assert os.stat(site.public / "thoi-su/a/index.html").st_ino == inode  # kept, not rewritten


def test_duplicate_url_names_both_files(site):
    site.write("content/thoi-su/hoi-nghi/index.md", article("A"))
    site.write("content/thoi-su/2023/hoi-nghi.md", article("B"))
    result = site.cli("build")
    assert result.returncode == 3  # published without the article held back
    line = next(ln for ln in result.stderr.splitlines() if "ROUTE001" in ln)
    assert "content/thoi-su/2023/hoi-nghi.md" in line and "content/thoi-su/hoi-nghi/index.md" in line
    assert (site.public / "thoi-su/hoi-nghi/index.html").is_file()


def test_slug_from_vietnamese_folder_name_and_override(site):
    site.write("content/thoi-su/Hội nghị tổng kết Đắk Lắk/index.md", article("X"))
    site.write("content/thoi-su/y.md", article("Y", slug='"duong-dan-rieng"'))
    site.build()
    assert (site.public / "thoi-su/hoi-nghi-tong-ket-dak-lak/index.html").is_file()
    assert (site.public / "thoi-su/duong-dan-rieng/index.html").is_file()


def test_nfd_text_is_published_as_nfc(site):
    import unicodedata
    title = unicodedata.normalize("NFD", "Hội nghị Đắk Lắk")
    site.write("content/thoi-su/a.md", article(title, body=unicodedata.normalize("NFD", "Nội dung tiếng Việt.")))
    site.build()
    raw = (site.public / "thoi-su/a/index.html").read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", raw)
    assert "Hội nghị Đắk Lắk" in raw


def test_unknown_front_matter_fields_reach_templates(site):
    site.write("templates/article.html", "{{ entry.title }}|{{ entry.phong_vien_anh }}|{{ entry.views }}")
    site.write("content/thoi-su/a.md", article("A", phong_vien_anh='"Lê Văn Ảnh"', views="7"))
    site.build()
    assert (site.public / "thoi-su/a/index.html").read_text(encoding="utf-8") == "A|Lê Văn Ảnh|7"


def test_template_error_names_template_line_and_keeps_public(site):
    site.write("content/thoi-su/a.md", article("A"))
    site.build()
    before = tree_snapshot(site.public)
    site.write("templates/article.html", "ok\n{{ entry.khong_co_truong }}\n")
    result = site.cli("build")
    assert result.returncode == 1
    line = next(ln for ln in result.stderr.splitlines() if "TPL001" in ln)
    assert line.startswith("templates/article.html:2:")
    assert tree_snapshot(site.public) == before


def test_refuses_to_replace_a_folder_it_did_not_make(site, tmp_path):
    site.write("content/thoi-su/a.md", article("A"))
    precious = tmp_path / "tai-lieu"
    precious.mkdir()
    (precious / "bao-cao.docx").write_text("quan trọng")
    result = site.cli("build", "--output", str(precious))
    assert result.returncode == 2 and "CFG003" in result.stderr
    assert (precious / "bao-cao.docx").read_text() == "quan trọng"
    result = site.cli("build", "--output", str(site.root))
    assert result.returncode == 2 and "CFG003" in result.stderr
    assert (site.root / "content/thoi-su/a.md").is_file()


def test_recovers_output_after_crash_between_renames(site):
    site.write("content/thoi-su/a.md", article("A"))
    site.build()
    before = tree_snapshot(site.public)
    old = site.root / ".public.old-deadbeef"
    site.public.rename(old)  # as if killed between the two renames of publish()
    (site.root / ".public.staging-deadbeef").mkdir()
    site.write("content/thoi-su/a.md", article("A", body="Lỗi\n\n![x](mat.jpg)"))
    assert site.cli("build").returncode == 3  # A is held back at its last good version
    assert tree_snapshot(site.public) == before
    assert not leftovers(site.root)


def test_a_long_listing_pager_shows_first_last_and_three_either_side(site):
    """The pager loops over the numbers it shows only (a category of 1 250 pages would otherwise loop 1 250 times on
    each page): the first, the last, three either side of the current one, and a gap where numbers are left out."""
    site.write("site.toml", "per_page = 1\n")
    for i in range(12):
        site.write(f"content/thoi-su/bai-{i:02d}.md", article(f"Bài {i}", date=f"2024-01-{i + 1:02d} 08:00"))
    site.build()
    for number, shown in ((6, ["1", "…", "4", "5", "6", "7", "8", "…", "12"]), (1, ["1", "2", "3", "…", "12"]),
                          (12, ["1", "…", "10", "11", "12"]), (4, ["1", "2", "3", "4", "5", "6", "…", "12"])):
        page = site.html("thoi-su/index.html" if number == 1 else f"thoi-su/trang/{number}/index.html")
        items = page.findall(".//nav[@class='pager']//li")
        assert [text_of(li) for li in items if "‹" not in text_of(li) and "›" not in text_of(li)] == shown, number
        assert page.find(".//nav[@class='pager']//a[@aria-current='page']").text == str(number)


def test_a_listing_s_page_urls_are_made_and_folded_once():
    """All the pages of one listing share one tuple of page URLs; its canonical text is made once, and short (a
    digest of the plain tuple's): each page's signature and recorded reads at 100 000 articles otherwise held the
    text of all 1 250 URLs of its category. Equal URLs fold equal, any other URL folds otherwise."""
    from sitegen.render import tracking
    from sitegen.structure import routes

    def urls_of(n: int, segment: str = "trang") -> tuple:
        pages = routes.paginate("category", "thoi-su/", list(range(n)), 10, "category.html", segment,
                                {"category": "x"})
        found = [p.data["pagination"].urls for p in pages]
        assert all(u is found[0] for u in found) and isinstance(found[0], routes.Urls)
        return found[0]

    urls = urls_of(50)
    assert tracking.fold(urls) is tracking.fold(urls)  # made once
    assert len(tracking.fold(urls)) < 50 < len(tracking.fold(tuple(urls)))
    assert tracking.fold(urls_of(50)) == tracking.fold(urls)
    assert len({tracking.fold(urls_of(n, segment)) for n in (30, 50, 51) for segment in ("trang", "page")}) == 6
