"""Edit builds (sitegen/build/delta.py): when only some articles' text changed, the build re-renders just the pages that
show them. Each test checks both that the edit build was taken (or rightly refused) and that the output, and the
diagnostics, are exactly those of a clean build."""

from __future__ import annotations

import pickle
import random
import shutil
import time
from pathlib import Path

import pytest

from conftest import article, tree_snapshot
from sitegen.build import delta
from sitegen.build.cache import Cache
from sitegen.build.write import MARKER

BODY = "Đoạn đầu của bài {i}.\n\nĐoạn hai của bài {i}."
ROOT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def snapshot(folder):
    return {k: v for k, v in tree_snapshot(folder).items() if k != MARKER}


def source(i: int, title: str | None = None, body: str | None = None, **fields) -> str:
    fields.setdefault("tags", '["nông thôn mới", "Quy Nhơn"]' if i % 3 else '["chuyển đổi số"]')
    fields.setdefault("views", str(i * 10))
    return article(title or f"Bài số {i}", date=f"2024-05-{i + 1:02d} 08:00", body=body or BODY.format(i=i),
                   **fields)


def path(i: int) -> str:
    return f"content/{'thoi-su' if i % 2 else 'kinh-te'}/bai-{i:02d}/index.md"


def settle() -> None:
    """File times tick in steps: a build right after a save cannot trust that file's stamp (inputs.RACY_NS)."""
    time.sleep(0.06)


@pytest.fixture
def news(site):
    site.write("site.toml", 'per_page = 3\nmost_read = 2\nsearch = false\n'
                            '[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n'
                            '[[categories]]\nname = "Kinh tế"\nslug = "kinh-te"\n')
    for i in range(12):
        site.write(path(i), source(i))
    settle()
    site.build(jobs=1)
    return site


def build_and_compare(site, tmp_path, **kw):
    """Build (edit or full, as sitegen decides), then a clean build elsewhere: same files, same diagnostics."""
    settle()
    result = site.build(jobs=1, **kw)
    clean = tmp_path / "clean"
    shutil.rmtree(clean, ignore_errors=True)
    reference = site.build(output=clean, use_cache=False, jobs=1, **kw)
    assert snapshot(site.public) == snapshot(clean)
    assert sorted(result.diagnostics) == sorted(reference.diagnostics)
    assert (result.pages, result.articles) == (reference.pages, reference.articles)
    return result


def test_body_edit_is_an_edit_build(news, tmp_path):
    news.write(path(4), source(4, body="Đoạn đầu đã sửa.\n\nĐoạn hai."))
    result = build_and_compare(news, tmp_path)
    assert result.edited
    assert 0 < result.rendered < result.pages / 2  # its page, the listings and feeds and related blocks showing it
    assert "Đoạn đầu đã sửa." in (news.public / "kinh-te/bai-04/index.html").read_text(encoding="utf-8")
    again = news.build(jobs=1)  # and the edit build left what the next build needs to skip
    assert again.skipped


def test_title_and_summary_edits_reach_the_listings(news, tmp_path):
    news.write(path(5), source(5, title="Tiêu đề mới của bài năm", summary='"Tóm tắt mới."', author='"Lê Văn A"'))
    result = build_and_compare(news, tmp_path)
    assert result.edited
    showing = [p for p in news.public.rglob("*.html") if "Tiêu đề mới của bài năm" in p.read_text(encoding="utf-8")]
    assert len(showing) > 3  # its page, its category's and tags' listings, related blocks


def test_successive_edits_of_several_articles(news, tmp_path):
    news.write(path(1), source(1, body="Bài một, lần sửa thứ nhất."))
    news.write(path(2), source(2, body="Bài hai, lần sửa thứ nhất."))
    assert build_and_compare(news, tmp_path).edited
    news.write(path(1), source(1, body="Bài một, lần sửa thứ hai."))
    assert build_and_compare(news, tmp_path).edited
    news.write(path(1), source(1))  # back to the original bytes: the pages go back too
    assert build_and_compare(news, tmp_path).edited


@pytest.mark.parametrize("change", ["date", "tags", "views", "draft", "slug", "category"])
def test_an_article_that_moves_is_placed_anew_by_a_shift_build(news, tmp_path, change):
    """An edit that moves an article (another date, tags, views or address: its listings, neighbours, most-read
    place or pages change) places it anew as a shift's build places an article deleted and added (delta._replacing),
    and renders only what that changes. Made a draft again it leaves the site: the full build's."""
    fields = {"date": {}, "tags": {"tags": '["chủ đề mới"]'}, "views": {"views": "999"},
              "draft": {"draft": "true"}, "slug": {"slug": "dia-chi-moi"}, "category": {"category": '"Thời sự"'}}[change]
    text = source(6, **fields)
    if change == "date":
        text = text.replace("2024-05-07 08:00", "2024-04-01 08:00")
    news.write(path(6), text)
    result = build_and_compare(news, tmp_path)
    if change == "draft":
        assert not result.edited
    else:
        assert result.shifted and 0 < result.rendered < result.pages


def test_an_article_another_links_to_moves_by_a_full_build(news, tmp_path):
    """A link to an article follows it when it moves (a link by content path is rewritten to its new address), but
    whether another article's body leads to the address it leaves is the full build's to tell (stages._links_into),
    as for an article deleted."""
    news.write(path(7), source(7, body="Xem [bài 6](../../kinh-te/bai-06/)."))
    build_and_compare(news, tmp_path)
    news.write(path(6), source(6, slug='"dia-chi-moi"'))
    assert not build_and_compare(news, tmp_path).edited
    assert 'href="/kinh-te/dia-chi-moi/"' in (news.public / "thoi-su/bai-07/index.html").read_text("utf-8")


def test_an_articles_photos_added_shown_taken_out_or_moved_are_shift_builds(site, tmp_path):
    """The everyday ways an editor changes a published article's photos, each placing the article anew (a shift's
    build, delta._replacing): a photo dropped into its folder and not shown yet, then shown; another dropped and
    shown in one save; one taken out of the text and deleted; one in a folder under the article's. A photo of its
    folder that another article shows is the full build's. Each build equals a clean one."""
    from PIL import Image

    def shoot(rel: str, colour: tuple[int, int, int]) -> None:
        (site.root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (800, 600), colour).save(site.root / rel, quality=80)

    def write(body: str) -> None:
        site.write("content/tin/bai-1/index.md", article(
            "Bài 1", date="2024-05-02 08:00", photos='\n  - src: "anh.jpg"\n    caption: "Quang cảnh."', body=body))

    photo_news(site)
    page = site.public / "tin/bai-1/index.html"
    shoot("content/tin/bai-1/anh2.jpg", (1, 2, 3))
    result = build_and_compare(site, tmp_path)
    assert result.shifted and not (site.public / "tin/bai-1/anh2-480.jpg").exists()  # (a camera original: unpublished)
    write("Đoạn.\n\n![Ảnh hai.](anh2.jpg)")
    assert build_and_compare(site, tmp_path).shifted and (site.public / "tin/bai-1/anh2-480.jpg").is_file()
    assert "anh2-480.jpg" in page.read_text(encoding="utf-8")
    shoot("content/tin/bai-1/anh3.jpg", (4, 5, 6))
    write("Đoạn.\n\n![Ảnh hai.](anh2.jpg)\n\n![Ảnh ba.](anh3.jpg)")
    assert build_and_compare(site, tmp_path).shifted and "anh3-480.jpg" in page.read_text(encoding="utf-8")
    write("Đoạn.\n\n![Ảnh hai.](anh2.jpg)")
    (site.root / "content/tin/bai-1/anh3.jpg").unlink()
    assert build_and_compare(site, tmp_path).shifted and not (site.public / "tin/bai-1/anh3-480.jpg").exists()
    shoot("content/tin/bai-1/them/anh4.jpg", (7, 8, 9))
    write("Đoạn.\n\n![Ảnh hai.](anh2.jpg)\n\n![Ảnh bốn.](them/anh4.jpg)")
    assert build_and_compare(site, tmp_path).shifted
    site.write("content/tin/bai-0/index.md", article(  # bai-0 shows bai-1's photo too: published as bai-0's copy
        "Bài 0", date="2024-05-01 08:00", photos='\n  - src: "anh.jpg"\n    caption: "Quang cảnh."',
        body="![Ảnh bài một.](../bai-1/anh2.jpg)"))
    build_and_compare(site, tmp_path)
    shoot("content/tin/bai-1/anh5.jpg", (10, 11, 12))
    assert not build_and_compare(site, tmp_path).edited


def test_most_read_title_change_reaches_every_page(news, tmp_path):
    # Article 11 has the most views: its title is in the most-read block of every page. Every page read it
    # (recorded through the memoised most-read block), so every page that shows the block is rendered again.
    news.write(path(11), source(11, title="Bài đọc nhiều nhất, tiêu đề mới"))
    result = build_and_compare(news, tmp_path)
    assert result.edited
    assert "Bài đọc nhiều nhất, tiêu đề mới" in (news.public / "kinh-te/index.html").read_text(encoding="utf-8")
    showing = [p for p in news.public.rglob("*.html") if "most-read" in p.read_text(encoding="utf-8")]
    assert result.rendered >= len(showing) > 20


def test_new_heading_is_a_full_build_and_anchors_stay_checked(news, tmp_path):
    news.write(path(3), source(3, body="Xem [mục kết quả](../bai-07/index.md#ket-qua).\n\nĐoạn hai."))
    result = build_and_compare(news, tmp_path)
    assert result.edited
    assert [d.code for d in result.diagnostics] == ["LINK002"]
    news.write(path(7), source(7, body="Đoạn đầu.\n\n## Kết quả\n\nĐoạn hai."))  # the anchor now exists
    result = build_and_compare(news, tmp_path)
    assert not result.edited
    assert result.diagnostics == []


def test_links_in_an_edited_body_are_checked_and_rewritten(news, tmp_path):
    news.write(path(3), source(3, body="Xem [bài bảy](../bai-07/index.md).\n\nĐoạn hai."))
    result = build_and_compare(news, tmp_path)
    assert result.edited
    page = (news.public / "thoi-su/bai-03/index.html").read_text(encoding="utf-8")
    assert 'href="/thoi-su/bai-07/"' in page or 'href="/thoi-su/bai-so-7/"' in page or "bai-07" not in page


def test_a_broken_link_holds_the_article_back_at_its_last_good_version(news, tmp_path):
    before = snapshot(news.public)
    news.write(path(3), source(3, body="Xem [bài không có](../khong-co/index.md)."))
    settle()
    held = news.build(jobs=1)
    assert held.held == (path(3),) and not held.edited  # holding back is the full build's work
    assert snapshot(news.public) == before  # its last good version stands, and so does every page showing it
    clean = news.build(output=tmp_path / "clean", use_cache=False, jobs=1)
    assert clean.held == (path(3),)  # a build without the cache knows no earlier version: the article is left out
    assert not (tmp_path / "clean/thoi-su/bai-03").exists() and (tmp_path / "clean/thoi-su/bai-01").is_dir()
    assert [d.code for d in held.diagnostics if d.severity == "error"] == ["LINK001"]
    assert [d.code for d in clean.diagnostics if d.severity == "error"] == ["LINK001"]
    news.write(path(3), source(3))
    assert build_and_compare(news, tmp_path).held == ()  # fixed: published again, equal to a clean build


def test_warnings_of_an_edited_article_are_replaced(news, tmp_path):
    news.write(path(8), source(8, body="Xem [mục](#khong-co)."))
    first = build_and_compare(news, tmp_path)
    assert first.edited and [d.code for d in first.diagnostics] == ["LINK002"]
    news.write(path(8), source(8, body="Xem [mục khác](#cung-khong-co)."))
    second = build_and_compare(news, tmp_path)
    assert second.edited and [d.code for d in second.diagnostics] == ["LINK002"]
    assert "cung-khong-co" in second.diagnostics[0].message
    news.write(path(8), source(8))
    assert build_and_compare(news, tmp_path).diagnostics == []


def photo_news(site):
    """Three articles with a photo each (800 px wide: variants 480 and 800, JPEG and WebP, and the social card)."""
    from PIL import Image

    site.write("site.toml", "search = false\nmost_read = 1\n")  # bai-2, the newest: not the one edited
    for i in range(3):
        folder = site.root / f"content/tin/bai-{i}"
        folder.mkdir(parents=True)
        Image.new("RGB", (800, 600), (40 * i, 90, 120)).save(folder / "anh.jpg", quality=80)
        site.write(f"content/tin/bai-{i}/index.md", article(
            f"Bài {i}", date=f"2024-05-0{i + 1} 08:00", photos='\n  - src: "anh.jpg"\n    caption: "Quang cảnh."'))
    settle()
    site.build(jobs=1)
    return site


def test_photo_caption_edit_is_an_edit_build(site, tmp_path):
    photo_news(site)
    site.write("content/tin/bai-1/index.md", article(
        "Bài 1", date="2024-05-02 08:00", photos='\n  - src: "anh.jpg"\n    caption: "Quang cảnh Hội nghị."'))
    result = build_and_compare(site, tmp_path)
    assert result.edited
    assert "Quang cảnh Hội nghị." in (site.public / "tin/bai-1/index.html").read_text(encoding="utf-8")


def test_a_photo_replaced_is_an_edit_build(site, tmp_path):
    """An editor uploads a better shot over an article's photo, under the same name. While its variants keep their
    addresses (the same widths), it is an edit build: the variants made again and published over the old ones,
    and the pages rendered again that show what changed of the photo (its height, here). A draft that shows the
    photo is validated again. A photo of other widths, and one that is no photo any more, place the article anew (a
    shift, which plans its photos again); one that another article shows too is the full build's. Each build equals a clean one, byte for byte and problem for problem."""
    from PIL import Image

    def shoot(rel: str, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
        Image.new("RGB", size, colour).save(site.root / rel, quality=80)

    photo_news(site)
    site.write("content/tin/bai-1/index.md", article(  # the photo on top (its social card too), and in the body
        "Bài 1", date="2024-05-02 08:00", image='"anh.jpg"', body="Đoạn đầu.\n\n![Quang cảnh.](anh.jpg)",
        photos='\n  - src: "anh.jpg"\n    caption: "Quang cảnh."'))
    site.write("content/tin/nhap/index.md", article("Bản nháp", date="2024-05-08 08:00", draft="true",
                                                    body="![Ảnh bài một.](../bai-1/anh.jpg)"))
    assert build_and_compare(site, tmp_path).diagnostics == []
    variant, card = site.public / "tin/bai-1/anh-480.jpg", site.public / "tin/bai-1/anh-og.jpg"
    first, page = (variant.read_bytes(), card.read_bytes()), (site.public / "tin/bai-1/index.html").read_text("utf-8")
    shoot("content/tin/bai-1/anh.jpg", (800, 600), (250, 10, 10))  # the same size
    result = build_and_compare(site, tmp_path)
    assert result.edited and result.photos_processed == 1 and result.rendered == 0  # (no page says otherwise)
    assert variant.read_bytes() != first[0] and card.read_bytes() != first[1]
    assert (site.public / "tin/bai-1/index.html").read_text(encoding="utf-8") == page
    shoot("content/tin/bai-1/anh.jpg", (800, 450), (10, 250, 10))  # the same widths, another height
    result = build_and_compare(site, tmp_path)
    assert result.edited and result.photos_processed == 1 and result.rendered > 0
    assert 'height="450"' in (site.public / "tin/bai-1/index.html").read_text(encoding="utf-8")
    shoot("content/tin/bai-1/anh.jpg", (400, 300), (10, 10, 250))  # narrower: its variants are others
    assert build_and_compare(site, tmp_path).shifted  # (placed anew: delta._keeps_variants, delta._replacing)
    assert not (site.public / "tin/bai-1/anh-800.jpg").exists() and (site.public / "tin/bai-1/anh-400.jpg").is_file()
    (site.root / "content/tin/bai-1/anh.jpg").write_bytes(b"khong con la anh")
    broken = build_and_compare(site, tmp_path)
    assert broken.shifted and "IMG005" in [d.code for d in broken.diagnostics]
    shoot("content/tin/bai-1/anh.jpg", (800, 600), (90, 90, 90))
    build_and_compare(site, tmp_path)
    site.write("content/tin/bai-0/index.md", article(  # bai-0 shows bai-1's photo too
        "Bài 0", date="2024-05-01 08:00", photos='\n  - src: "anh.jpg"\n    caption: "Quang cảnh."',
        body="![Ảnh bài một.](../bai-1/anh.jpg)"))
    build_and_compare(site, tmp_path)
    shoot("content/tin/bai-1/anh.jpg", (800, 600), (120, 30, 200))
    assert not build_and_compare(site, tmp_path).edited


def test_links_to_photo_variants_are_checked_against_the_last_full_builds_index(site, tmp_path):
    """The plan keeps every published variant (links.Index.copies, pickled compactly): an edited body linking to
    another article's smaller or WebP variant is an edit build; to a variant no one publishes, a full build that
    holds the article back."""
    photo_news(site)
    targets = ["/tin/bai-0/anh-480.jpg", "/tin/bai-0/anh-480.webp", "/tin/bai-2/anh-og.jpg", "../bai-2/anh-800.webp"]
    photo = '\n  - src: "anh.jpg"\n    caption: "Quang cảnh."'
    body = "\n\n".join(f"Xem [ảnh {n}]({t})." for n, t in enumerate(targets))
    site.write("content/tin/bai-1/index.md", article("Bài 1", date="2024-05-02 08:00", body=body, photos=photo))
    result = build_and_compare(site, tmp_path)
    assert result.edited and result.diagnostics == []
    assert [t in (site.public / "tin/bai-1/index.html").read_text(encoding="utf-8") for t in targets] == [True] * 4
    site.write("content/tin/bai-1/index.md", article("Bài 1", date="2024-05-02 08:00", photos=photo,
                                                     body="[ảnh](/tin/bai-0/anh-960.jpg)"))  # 800 px: no 960
    settle()
    held = site.build(jobs=1)
    assert not held.edited and held.held == ("content/tin/bai-1/index.md",)
    assert [d.code for d in held.diagnostics if d.severity == "error"] == ["LINK001"]


def test_a_new_article_with_its_own_photos_is_a_shift_build(site, tmp_path):
    """Reports come with photos: an article added with photos of its own (in its own folder, shown by no other
    article) is a shift build too, its variants made and published beside its page as a full build does, its
    teaser and the home page showing them. One that shows another article's photo file is the full build's (which
    copy links to that file lead to depends on the order of every article that shows it). Deleting an article
    with photos of its own is a shift too: its variants go with its pages. Each build equals a clean one, byte
    for byte and problem for problem."""
    from PIL import Image

    photo_news(site)
    folder = site.root / "content/tin/bai-moi"
    folder.mkdir(parents=True)
    Image.new("RGB", (800, 600), (200, 60, 30)).save(folder / "anh-moi.jpg", quality=80)
    (folder / "hong.jpg").write_bytes(b"khong phai anh")
    site.write("content/tin/bai-moi/index.md", article(
        "Bài mới có ảnh", date="2024-05-09 08:00", body="Đoạn đầu.\n\n![Quang cảnh Hội nghị.](anh-moi.jpg)",
        image='"anh-moi.jpg"', photos='\n  - src: "hong.jpg"\n    caption: "Ảnh hỏng."'))
    added = build_and_compare(site, tmp_path)
    assert added.shifted and added.photos_processed == 1
    assert [d.code for d in added.diagnostics] == ["IMG005"]  # the file that is no photo: left out, with a warning
    page = (site.public / "tin/bai-moi/index.html").read_text(encoding="utf-8")
    assert "/tin/bai-moi/anh-moi-480.webp" in page and (site.public / "tin/bai-moi/anh-moi-800.jpg").is_file()
    assert "/tin/bai-moi/anh-moi-480" in (site.public / "index.html").read_text(encoding="utf-8")
    site.write("content/tin/bai-chung/index.md", article(
        "Bài dùng chung ảnh", date="2024-05-10 08:00", photos='\n  - src: "../bai-0/anh.jpg"\n    caption: "Chung."'))
    shared = build_and_compare(site, tmp_path)
    assert not shared.shifted and shared.edited is False
    shutil.rmtree(site.root / "content/tin/bai-chung")
    build_and_compare(site, tmp_path)
    shutil.rmtree(folder)
    gone = build_and_compare(site, tmp_path)
    assert gone.shifted and not (site.public / "tin/bai-moi").exists()
    assert "anh-moi" not in (site.public / "index.html").read_text(encoding="utf-8")
    (site.root / "content/tin/bai-1/index.md").unlink()  # its photo file stays, published by no one
    alone = build_and_compare(site, tmp_path)
    assert alone.shifted and not (site.public / "tin/bai-1").exists()


def test_deleting_an_article_whose_photos_are_not_its_alone_is_the_full_builds(site, tmp_path):
    """An article's photos go with it by a shift only when they are its own. Otherwise the full build decides:
    - its photo file is another article's photo too, the first copy its own or the other's: links to the file
      lead to the other's copy once it goes (each build equals a clean one);
    - another article links to one of its variants, or to its photo file (rewritten to its copy): that link
      breaks, and the article linking is held back (LINK001, HOLD001, as a clean build says).
    A draft showing its photo file, which goes with it, leaves it a shift, which finds what the build says of the
    drafts again (build.unpublished): the draft is held back (HOLD002), as in a clean build."""
    from PIL import Image

    photo_news(site)
    shared = article("Bài dùng chung ảnh", date="2024-05-10 08:00",
                     photos='\n  - src: "../bai-0/anh.jpg"\n    caption: "Chung."')
    site.write("content/tin/bai-chung/index.md", shared)
    site.write("content/tin/bai-lien-ket/index.md", article(
        "Bài liên kết", date="2024-05-11 08:00", body="Xem [ảnh lớn](/tin/bai-1/anh-800.jpg)."))
    site.write("content/tin/bai-tep/index.md", article(
        "Bài dẫn tệp", date="2024-05-12 08:00", body="Xem [tệp ảnh](../bai-2/anh.jpg)."))
    build_and_compare(site, tmp_path)
    shutil.rmtree(site.root / "content/tin/bai-chung")  # the second to show bai-0's photo
    assert not build_and_compare(site, tmp_path).shifted
    site.write("content/tin/bai-chung/index.md", shared)
    build_and_compare(site, tmp_path)
    (site.root / "content/tin/bai-0/index.md").unlink()  # the first: its photo file stays, bai-chung's copy is first
    assert not build_and_compare(site, tmp_path).shifted
    for name in ("bai-1", "bai-2"):  # linked to, by a variant's address and by the photo file
        kept = tmp_path / name
        shutil.copytree(site.root / f"content/tin/{name}", kept)
        shutil.rmtree(site.root / f"content/tin/{name}")
        settle()
        held = site.build(jobs=1)
        clean = site.build(output=tmp_path / "clean", use_cache=False, jobs=1)
        assert not held.shifted and [d.code for d in held.diagnostics] == [d.code for d in clean.diagnostics] \
            == ["LINK001", "HOLD001"], name
        shutil.copytree(kept, site.root / f"content/tin/{name}")
        build_and_compare(site, tmp_path)
    folder = site.root / "content/tin/bai-chung"
    Image.new("RGB", (800, 600), (1, 2, 3)).save(folder / "anh.jpg", quality=80)
    site.write("content/tin/bai-chung/index.md", article(
        "Bài dùng chung ảnh", date="2024-05-10 08:00", photos='\n  - src: "anh.jpg"\n    caption: "Riêng."'))
    site.write("content/tin/nhap/index.md", article(
        "Bài nháp", date="2024-05-08 08:00", draft="true", photos='\n  - src: "../bai-chung/anh.jpg"\n    caption: "Chờ."'))
    assert build_and_compare(site, tmp_path).diagnostics == []
    shutil.rmtree(folder)  # the photo the draft shows goes with it: the draft now has a problem
    result = build_and_compare(site, tmp_path)
    assert result.shifted and [d.code for d in result.diagnostics] == ["HOLD002"]


def test_articles_that_come_and_go_beside_a_draft_held_back_are_shift_builds(site, tmp_path):
    """A draft showing a photo file that is not there yet has a problem of its own (IMG001, from its validation
    ahead, summed up as HOLD002). Articles added and deleted beside it are shift builds, which find what the build
    says of the drafts again (build.unpublished): an article added with that very file as its photo mends the
    draft, and deleting it brings the problem back; a draft linking to an article held back once that article is
    deleted. Each build equals a clean build, byte for byte and problem for problem."""
    from PIL import Image

    photo_news(site)
    site.write("content/tin/nhap/index.md", article(
        "Bài nháp", date="2024-05-08 08:00", draft="true", photos='\n  - src: "../bai-moi/anh.jpg"\n    caption: "Chờ."'))
    site.write("content/tin/nhap-2/index.md", article(
        "Bài nháp hai", date="2024-05-08 08:00", draft="true", body="Xem [bài 0](../bai-0/)."))
    first = build_and_compare(site, tmp_path)
    assert [d.code for d in first.diagnostics] == ["HOLD002"]
    site.write("content/tin/bai-khac/index.md", article("Bài khác", date="2024-05-09 09:00"))
    beside = build_and_compare(site, tmp_path)
    assert beside.shifted and [d.code for d in beside.diagnostics] == ["HOLD002"]
    folder = site.root / "content/tin/bai-moi"
    folder.mkdir(parents=True)
    Image.new("RGB", (800, 600), (200, 60, 30)).save(folder / "anh.jpg", quality=80)
    site.write("content/tin/bai-moi/index.md", article(
        "Bài mới có ảnh", date="2024-05-09 08:00", photos='\n  - src: "anh.jpg"\n    caption: "Quang cảnh."'))
    mended = build_and_compare(site, tmp_path)
    assert mended.diagnostics == [] and mended.shifted
    shutil.rmtree(folder)
    again = build_and_compare(site, tmp_path)
    assert again.shifted and [d.code for d in again.diagnostics] == ["HOLD002"]
    shutil.rmtree(site.root / "content/tin/bai-0")  # the second draft links to it: it is held back too
    both = build_and_compare(site, tmp_path)
    assert both.shifted and sorted(d.path for d in both.diagnostics) == [
        "content/tin/nhap-2/index.md", "content/tin/nhap/index.md"]


def test_a_new_or_deleted_article_is_a_shift_build(news, tmp_path):
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00"))
    assert build_and_compare(news, tmp_path).shifted
    shutil.rmtree(news.root / "content/thoi-su/bai-moi")
    assert build_and_compare(news, tmp_path).shifted
    shutil.rmtree(news.root / Path(path(4)).parent)  # (an article of the last full build)
    assert build_and_compare(news, tmp_path).shifted


def test_the_first_article_of_a_category_is_a_shift_that_gives_the_home_page_its_block(news, tmp_path):
    """The home page has a block for each menu category with articles. The first article of a declared category
    that had none gives it a new block, which no list the page read before says: the home page's signature names
    its blocks (context.home_blocks), so a shift renders it again (it kept the old one: found by the Hypothesis
    sequences)."""
    news.write("site.toml", (news.root / "site.toml").read_text(encoding="utf-8")
               + '[[categories]]\nname = "Văn hóa"\nslug = "van-hoa"\n')
    build_and_compare(news, tmp_path)
    news.write("content/van-hoa/bai-dau/index.md", article("Bài đầu tiên về văn hóa", date="2024-04-01 08:00"))
    result = build_and_compare(news, tmp_path)
    assert result.shifted and 'id="cat-van-hoa"' in (news.public / "index.html").read_text(encoding="utf-8")
    shutil.rmtree(news.root / "content/van-hoa/bai-dau")
    result = build_and_compare(news, tmp_path)
    assert result.shifted and 'id="cat-van-hoa"' not in (news.public / "index.html").read_text(encoding="utf-8")


def test_entries_read_from_the_cache_on_demand_compare_as_entries(news, tmp_path):
    """An edit or shift build reads an entry of the last build only when a template reads something of it
    (delta.Deferred): a site template comparing entries (==, in, unique, as a dict key) and adding a site list to
    its page's list (either way round) gets what a clean build's template gets, after an addition, an edit and a
    deletion."""
    news.write("templates/category.html", (
        "{% set newest = site.entries[0] %}{% set seen = {} %}"
        "{% for e in items %}<p>{{ e.title }}{% if e == newest %} [mới nhất]{% endif %}"
        "{% if e in most_read %} [đọc nhiều]{% endif %}{% if e != items[0] %} [sau]{% endif %}</p>"
        "{% set _ = seen.update({e: loop.index}) %}{% endfor %}"
        "<p>{{ (items + most_read)|unique|list|length }} khác nhau; {{ seen|length }}; "
        "{% for e in most_read + items %}{{ loop.index }}. {{ e.title }} {% endfor %}</p>"
        "<p>{{ most_read|map(attribute='title')|join(', ') }}</p>\n"))
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00", views="500"))
    assert build_and_compare(news, tmp_path).shifted
    news.write(path(4), source(4, title="Tiêu đề đã sửa"))
    assert build_and_compare(news, tmp_path).edited
    shutil.rmtree(news.root / "content/thoi-su/bai-moi")
    assert build_and_compare(news, tmp_path).shifted
    page = (news.public / "thoi-su" / "index.html").read_text(encoding="utf-8")
    assert "[mới nhất]" in page and "[đọc nhiều]" in page and "khác nhau" in page


def _kept_plan(site) -> tuple:
    """The plan the last build left in the site's cache, as values: every headline's count, every article's Shape in
    site order, and every page (with its data, which Page equality leaves out) as an edit build reads it back
    (delta.pages_at)."""
    cfg = site.config()
    cache = Cache(site.root / ".sitegen" / "cache", cfg.fingerprint)
    try:
        shapes = delta.shapes_of(cache)
        paths = list(delta.groups_at(cache))
        pages = delta.pages_at(cache, paths, [a.source for a in shapes])
        index = pickle.loads(cache.get_many("plan", ["index"])["index"])  # (its addresses, as they are pickled)
        rows = cache.get_many("plan", delta.SHAPES.names())  # (each as it is kept)
        titles = cache.get_many("plan", delta.TITLES.names())  # (every headline's count)
        assert len(titles) == delta.TITLES.count
        return (titles, {k: sorted(row) for k, row in rows.items()},
                [a._replace(file=str(Path(a.file).relative_to(site.root))) for a in shapes],
                [(p.kind, p.url, p.path, p.template, dict(p.data)) for p in pages],
                index.__getstate__()["urls"], index.__getstate__()["article_url"])
    finally:
        cache.close()


def test_a_shift_leaves_the_plan_a_full_build_makes(news, tmp_path):
    """A shift rewrites only the plan rows of what it changed (delta.Changed: the articles' shape rows, the page
    groups of the listings they join or leave): what an edit build then reads back is what a full build of the
    same files leaves, pages, positions and all."""
    other = type(news)(tmp_path / "full")
    for i in (3, 5):
        news.write(path(100 + i), source(i, title=f"Bài thêm {i}"))  # (dated as article i: amid the others)
    shutil.rmtree(news.root / Path(path(4)).parent)
    settle()
    assert news.build(jobs=1).shifted
    shutil.copytree(news.root / "content", other.root / "content")
    other.write("site.toml", (news.root / "site.toml").read_text(encoding="utf-8"))
    other.build(jobs=1)
    assert _kept_plan(news) == _kept_plan(other)


def test_an_addition_beside_a_draft_is_a_shift_build_even_when_it_takes_the_drafts_address(news, tmp_path):
    """A draft (validated ahead against the site as it is, build.ahead) leaves an addition a shift's build, and a
    deletion of what it does not link to. An addition whose page takes the address the draft wants is one too,
    whose validation of the unpublished files again (build.unpublished) finds the draft's address taken (the draft
    is held: HOLD002), as a clean build does."""
    news.write("content/thoi-su/nhap/index.md", article("Bản nháp", date="2024-06-02 08:00", draft="true",
                                                        slug='"trung-dia-chi"'))
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/moi/index.md", article("Bài mới", date="2024-06-01 08:00"))
    assert build_and_compare(news, tmp_path).shifted
    shutil.rmtree(news.root / "content/thoi-su/moi")
    assert build_and_compare(news, tmp_path).shifted
    news.write("content/thoi-su/khac/index.md", article("Bài chiếm địa chỉ", date="2024-06-03 08:00",
                                                        slug='"trung-dia-chi"'))
    result = build_and_compare(news, tmp_path)
    assert result.shifted and [(d.code, d.path) for d in result.diagnostics] == [
        ("HOLD002", "content/thoi-su/nhap/index.md")], result.diagnostics


# Drafts with problems of their own, as editors leave them between saves: a field the build cannot read, a photo
# not uploaded yet, a link to a page not written yet.
BROKEN_DRAFTS = {
    "field": article("Nháp lỗi ngày", date="ngày mai", draft="true"),
    "photo": article("Nháp thiếu ảnh", date="2024-06-02 08:00", draft="true",
                     photos='\n  - src: "chua-co.jpg"\n    caption: "Chờ ảnh."'),
    "link": article("Nháp liên kết hỏng", date="2024-06-02 08:00", draft="true", body="Xem [bài](../khong-co/)."),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_DRAFTS))
def test_an_edit_beside_a_draft_with_problems_is_an_edit_build(news, tmp_path, kind):
    """A draft held back by its problems (HOLD002) leaves the published site as it would be without it: an edit of
    a published article beside it is an edit build, and the draft's line stays, as in a clean build."""
    news.write("content/thoi-su/nhap/index.md", BROKEN_DRAFTS[kind])
    assert [d.code for d in build_and_compare(news, tmp_path).diagnostics] == ["HOLD002"]
    news.write(path(4), source(4, body="Đoạn đầu đã sửa.\n\nĐoạn hai."))
    result = build_and_compare(news, tmp_path)
    assert result.edited and not result.shifted and [d.code for d in result.diagnostics] == ["HOLD002"]


UNREADABLE_DRAFT = '---\ntitle: "Nháp chưa đóng ngoặc\ndraft: true\n---\n\nĐang viết.\n'


def test_a_draft_whose_front_matter_cannot_be_read_leaves_additions_and_deletions_shift_builds(news, tmp_path):
    """An editor's unclosed quote in a draft's front matter (the file cannot be split: FM002) holds the draft back
    (HOLD002: its `draft: true` line says whose it is) and changes no published page. Articles added, deleted and
    retagged beside it stay shift builds, and the draft saved again, still broken, an edit build; a new draft that
    cannot be read is a shift like any new draft. A new file that cannot be read and is no draft is an article
    held back: the full build's. Each build equals a clean build, byte for byte and problem for problem."""
    news.write("content/thoi-su/nhap/index.md", UNREADABLE_DRAFT)
    first = build_and_compare(news, tmp_path)
    assert [(d.code, d.path) for d in first.diagnostics] == [("HOLD002", "content/thoi-su/nhap/index.md")]
    news.write(path(20), source(20))
    added = build_and_compare(news, tmp_path)
    assert added.shifted and [d.code for d in added.diagnostics] == ["HOLD002"]
    shutil.rmtree(news.root / "content/kinh-te/bai-06")
    assert build_and_compare(news, tmp_path).shifted
    news.write(path(3), source(3, tags='["Lễ hội"]'))
    assert build_and_compare(news, tmp_path).shifted
    news.write("content/thoi-su/nhap/index.md", UNREADABLE_DRAFT.replace("Đang viết.", "Viết tiếp."))
    saved = build_and_compare(news, tmp_path)
    assert saved.edited and not saved.shifted and saved.rendered == 0
    news.write("content/kinh-te/nhap-moi/index.md", "---\ntitle: Nháp mới\ndraft: true\ndate: [\n---\n\nMới.\n")
    new = build_and_compare(news, tmp_path)
    assert new.shifted and new.rendered == 0 and [d.code for d in new.diagnostics] == ["HOLD002", "HOLD002"]
    news.write("content/kinh-te/hong/index.md", '---\ntitle: "Bài chưa đóng ngoặc\n---\n\nKhông phải nháp.\n')
    broken = build_and_compare(news, tmp_path)
    assert not broken.edited and "HOLD001" in [d.code for d in broken.diagnostics]


def test_a_draft_saved_as_a_draft_is_an_edit_build(news, tmp_path):
    """A draft saved and still a draft changes no published page, only what the build says of it: an edit build
    that renders nothing and finds the unpublished files' problems again (build.unpublished), alone or beside an edit
    of a published article. Its problems come and go (a photo not there yet, a field it cannot read, an address
    another page has, one another draft wants), a draft held back for them no longer is once another draft
    changes, and each build equals a clean build, byte for byte and problem for problem. A draft that writes a
    tag otherwise than the site names it is the full build's (a tag's name is its first file's spelling). So is
    a scheduled article saved (still due when it was: an edit build; at another time: the full build's)."""
    def draft(title: str, **fields) -> str:
        fields.setdefault("tags", '["Lễ hội"]')
        return article(title, date="2024-06-02 08:00", draft="true", **fields)

    def saved(text: str, codes: list[str], where: str = "content/thoi-su/nhap/index.md", rendered: int = 0):
        news.write(where, text)
        result = build_and_compare(news, tmp_path)
        assert result.edited and not result.shifted and result.rendered == rendered, text
        assert [d.code for d in result.diagnostics] == codes, text
        return result

    news.write("content/thoi-su/nhap/index.md", draft("Bản nháp"))
    news.write("content/thoi-su/nhap-2/index.md", draft("Bản nháp hai", body="Xem [bản nháp](../nhap/)."))
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2099-06-02 08:00",
                                                            body="Xem [bài 5](../bai-05/)."))
    assert not build_and_compare(news, tmp_path).diagnostics
    saved(draft("Bản nháp đã sửa"), [])
    saved(draft("Bản nháp chờ ảnh", photos='\n  - src: "chua-co.jpg"\n    caption: "Chờ."'), ["HOLD002"])
    saved(draft("Bản nháp đã sửa"), [])
    saved(draft("Bản nháp lỗi ngày").replace("2024-06-02 08:00", "ngày mai"), ["HOLD002"])
    saved(draft("Bản nháp đã sửa"), [])
    saved(draft("Bản nháp trùng địa chỉ", slug="bai-05"), ["HOLD002"])  # bai-05's address
    saved(draft("Bản nháp đã sửa"), [])
    # The second draft wants the first one's address, and comes first (by source: "nhap-2/" sorts before "nhap/"):
    # the first, unchanged, is held back; once the second moves away, it no longer is.
    assert saved(draft("Bản nháp hai", slug="nhap"), ["HOLD002"], "content/thoi-su/nhap-2/index.md"
                 ).diagnostics[0].path == "content/thoi-su/nhap/index.md"
    saved(draft("Bản nháp hai", slug="nhap-hai"), [], "content/thoi-su/nhap-2/index.md")
    news.write(path(5), source(5, body="Bài năm đã sửa.\n\nĐoạn hai."))
    saved(draft("Bản nháp cùng bài sửa"), [], rendered=8)  # and the pages that show bài 5
    news.write("content/thoi-su/nhap/index.md", draft("Bản nháp", tags='["quy nhơn"]'))
    assert not build_and_compare(news, tmp_path).edited  # (the site writes "Quy Nhơn")
    # A scheduled article saved, still due when it was: the same; moved to another time, the full build's (when
    # the next article falls due changes).
    saved(article("Bài hẹn giờ đã sửa", date="2099-06-02 08:00", body="Xem [bài 5](../bai-05/) và [nháp](../nhap/)."),
          [], "content/thoi-su/hen-gio/index.md")  # (the draft is published by then, as far as it can tell)
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2099-06-03 08:00"))
    assert not build_and_compare(news, tmp_path).edited
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2099-06-03 08:00",
                                                            body="Xem [bài](../khong-co/)."))
    held = build_and_compare(news, tmp_path)  # a scheduled article with a problem is held back (HOLD001)
    assert not held.edited and [d.code for d in held.diagnostics] == ["LINK001", "HOLD001"]


def test_a_draft_deleted_is_a_shift_build(news, tmp_path):
    """A draft given up and deleted (its folder, photos and all) changes no published page: a shift's build that
    renders and writes nothing, which finds what the build says of the
    other drafts again (build.unpublished): one that wanted the same address is no longer held back, one that
    linked to it now is. Deleting a draft held back is one too; deleting a scheduled article is the full build's
    (when the next one falls due changes). Each equals a clean build."""
    from PIL import Image

    def draft(title: str, **fields) -> str:
        return article(title, date="2024-06-02 08:00", draft="true", tags='["Lễ hội"]', **fields)

    folder = news.root / "content/thoi-su/nhap-a"
    folder.mkdir(parents=True)
    Image.new("RGB", (800, 600), (9, 90, 9)).save(folder / "anh.jpg", quality=80)
    news.write("content/thoi-su/nhap-a/index.md", draft("Nháp A", slug="chung",
                                                       photos='\n  - src: "anh.jpg"\n    caption: "Ảnh."'))
    news.write("content/thoi-su/nhap-b/index.md", draft("Nháp B", slug="chung"))  # A's address: held back
    news.write("content/thoi-su/nhap-c/index.md", draft("Nháp C", body="Xem [nháp A](../nhap-a/)."))
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2099-06-02 08:00"))
    first = build_and_compare(news, tmp_path)
    assert [(d.code, d.path) for d in first.diagnostics] == [("HOLD002", "content/thoi-su/nhap-b/index.md")]
    shutil.rmtree(folder)
    result = build_and_compare(news, tmp_path)
    assert result.shifted and result.rendered == 0 and result.stats.written == 0
    assert [(d.code, d.path) for d in result.diagnostics] == [("HOLD002", "content/thoi-su/nhap-c/index.md")]
    shutil.rmtree(news.root / "content/thoi-su/nhap-c")  # held back
    result = build_and_compare(news, tmp_path)
    assert result.shifted and result.diagnostics == []
    shutil.rmtree(news.root / "content/thoi-su/hen-gio")
    assert not build_and_compare(news, tmp_path).edited


def test_a_new_draft_and_its_photos_change_no_published_page(news, tmp_path):
    """`sitegen new` writes a draft, and its editor drops its photo into its folder, replaces it, or takes it away
    while writing: none of it changes a published page. A new draft is a shift that renders nothing and finds what
    the build says of every draft again (build.unpublished: held back while its photo is not there, as in the full
    build); a photo that comes into or goes from a draft's folder likewise; a draft's photo replaced is an edit
    build that renders nothing. Each equals a clean build. A new draft in a category the site does not have yet
    is the full build's."""
    from PIL import Image

    build_and_compare(news, tmp_path)
    folder = news.root / "content/thoi-su/nhap-moi"
    news.write("content/thoi-su/nhap-moi/index.md", article("Bản nháp mới", date="2024-06-02 08:00", draft="true",
                                                            image='"anh.jpg"', tags='["Lễ hội"]'))
    result = build_and_compare(news, tmp_path)
    assert result.shifted and result.rendered == 0 and result.stats.written == 0
    assert [(d.code, d.path) for d in result.diagnostics] == [("HOLD002", "content/thoi-su/nhap-moi/index.md")]
    Image.new("RGB", (800, 600), (30, 60, 90)).save(folder / "anh.jpg", quality=80)
    result = build_and_compare(news, tmp_path)
    assert result.shifted and result.rendered == 0 and result.diagnostics == []
    Image.new("RGB", (800, 600), (90, 60, 30)).save(folder / "anh.jpg", quality=80)
    result = build_and_compare(news, tmp_path)
    assert result.edited and result.rendered == 0 and result.diagnostics == []
    (folder / "anh.jpg").unlink()
    result = build_and_compare(news, tmp_path)
    assert result.shifted and result.rendered == 0
    assert [(d.code, d.path) for d in result.diagnostics] == [("HOLD002", "content/thoi-su/nhap-moi/index.md")]
    news.write("content/chuyen-muc-moi/nhap/index.md", article("Nháp ở chuyên mục mới", draft="true"))
    assert not build_and_compare(news, tmp_path).edited


def test_the_previews_builds_show_drafts_as_a_clean_build_does(news, tmp_path):
    """The preview publishes drafts (drafts=True): there a draft is an article like any, and what build.unpublished
    finds of the unpublished files as a publishing build does is not what the preview finds. A new draft is shown
    at once (a shift: an addition like any there), and so is a draft held back for a problem of its own (HOLD002)
    once its editor mends it: both equal a clean build of the preview (before, both kept the draft out of the
    preview until a full build). A photo dropped into a draft's folder, then shown, places the draft anew (a shift),
    as it does a published article's in a publishing build."""
    build_and_compare(news, tmp_path, drafts=True)
    news.write("content/thoi-su/nhap-moi/index.md", article("Bản nháp mới", date="2024-06-02 08:00", draft="true"))
    assert build_and_compare(news, tmp_path, drafts=True).shifted  # (there, an addition like any)
    assert (news.public / "thoi-su/nhap-moi/index.html").is_file()
    news.write("content/thoi-su/nhap/index.md", article("Nháp", date="2024-06-03 08:00", draft="true",
                                                        image='"khong-co.jpg"'))
    held = build_and_compare(news, tmp_path, drafts=True)
    assert [d.code for d in held.diagnostics] == ["IMG001", "HOLD002"]
    news.write("content/thoi-su/nhap/index.md", article("Nháp", date="2024-06-03 08:00", draft="true"))
    build_and_compare(news, tmp_path, drafts=True)
    assert (news.public / "thoi-su/nhap/index.html").is_file()
    from PIL import Image  # a photo dropped into the new draft's folder, then shown: the draft placed anew
    Image.new("RGB", (800, 600), (9, 90, 9)).save(news.root / "content/thoi-su/nhap-moi/anh.jpg", quality=80)
    assert build_and_compare(news, tmp_path, drafts=True).shifted
    news.write("content/thoi-su/nhap-moi/index.md", article("Bản nháp mới", date="2024-06-02 08:00", draft="true",
                                                            body="![Ảnh của bản nháp.](anh.jpg)"))
    assert build_and_compare(news, tmp_path, drafts=True).shifted
    assert (news.public / "thoi-su/nhap-moi/anh-480.jpg").is_file()


def test_a_draft_held_back_mended_and_published_is_a_shift_build(news, tmp_path):
    """A draft held back for its problems (a link to a page not written yet) that its editor mends and publishes in
    one save is an addition like any: a shift, whose draft's one line (HOLD002) goes. Equal to a clean build."""
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/nhap/index.md", article("Bài đang viết", date="2024-06-02 08:00", draft="true",
                                                        body="Xem [bài sắp viết](../bai-sap-viet/)."))
    held = build_and_compare(news, tmp_path)
    assert [(d.code, d.path) for d in held.diagnostics] == [("HOLD002", "content/thoi-su/nhap/index.md")]
    news.write("content/thoi-su/nhap/index.md", article("Bài đang viết", date="2024-06-02 08:00",
                                                        body="Xem [bài đầu](../../kinh-te/bai-00/)."))
    result = build_and_compare(news, tmp_path)
    assert result.shifted and result.diagnostics == []
    assert "Bài đang viết" in (news.public / "index.html").read_text(encoding="utf-8")


def test_a_draft_published_is_a_shift_build(news, tmp_path):
    """`sitegen new` makes a draft, and the editor publishes it by taking `draft: true` away: an addition like any
    other, a shift's build, its photos of its own included. One published writing its tags otherwise than it did
    is the full build's (a tag's name is its first file's spelling), as is a scheduled article moved to now (when
    the next falls due changes). Each
    equals a clean build, byte for byte and problem for problem."""
    from PIL import Image

    def draft(title: str, draft: bool = True, **fields) -> str:
        fields.setdefault("tags", '["Lễ hội"]')
        return article(title, date="2024-06-02 08:00", **({"draft": "true"} if draft else {}), **fields)

    news.write("content/thoi-su/nhap/index.md", draft("Bản nháp"))
    news.write("content/thoi-su/nhap-2/index.md", draft("Bản nháp hai", body="Xem [bản nháp](../nhap/)."))
    assert not build_and_compare(news, tmp_path).diagnostics
    news.write("content/thoi-su/nhap/index.md", draft("Bản nháp đã sửa"))
    assert build_and_compare(news, tmp_path).edited  # (saved as a draft: see the test above)
    news.write("content/thoi-su/nhap/index.md", draft("Bản nháp đã sửa", draft=False))
    published = build_and_compare(news, tmp_path)
    assert published.shifted and (news.public / "thoi-su/nhap/index.html").is_file()
    assert "/thoi-su/nhap/" in (news.public / "index.html").read_text(encoding="utf-8")
    assert "/chu-de/le-hoi/" in (news.public / "thoi-su/nhap/index.html").read_text(encoding="utf-8")
    folder = news.root / "content/thoi-su/nhap-2"
    Image.new("RGB", (800, 600), (90, 60, 30)).save(folder / "anh.jpg", quality=80)
    photo = '\n  - src: "anh.jpg"\n    caption: "Ảnh."'
    news.write("content/thoi-su/nhap-2/index.md", draft("Bản nháp hai", photos=photo))
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/nhap-2/index.md", draft("Bản nháp hai", draft=False, photos=photo))
    pictured = build_and_compare(news, tmp_path)
    assert pictured.shifted and (news.public / "thoi-su/nhap-2/anh-800.jpg").is_file()
    news.write("content/thoi-su/nhap-3/index.md", draft("Bản nháp ba", tags='["lễ hội"]'))
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/nhap-3/index.md", draft("Bản nháp ba", draft=False, tags='["Lễ Hội"]'))
    assert not build_and_compare(news, tmp_path).shifted  # its spelling changed
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2099-06-02 08:00"))
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2024-06-04 08:00"))
    assert not build_and_compare(news, tmp_path).shifted


def test_a_scheduled_article_falling_due_is_a_shift_build(news, tmp_path):
    """Newsrooms schedule articles for the morning: the build once one falls due publishes it as an addition, a
    shift's build, its photo of its own included, and remembers when the next one falls due (no build needed
    before; the one then is a shift too). One that expires, or that its validation ahead found something wrong
    with, is the full build's. Each build equals a clean build at the same moment."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from PIL import Image

    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    first, second = dt.datetime(2030, 1, 1, 6, 0, tzinfo=vn), dt.datetime(2030, 1, 2, 6, 0, tzinfo=vn)
    news.write("content/thoi-su/sang-1/index.md", article("Bản tin sáng một", date="2030-01-01 06:00"))
    folder = news.root / "content/kinh-te/sang-2"
    folder.mkdir(parents=True)
    Image.new("RGB", (800, 600), (10, 120, 60)).save(folder / "anh.jpg", quality=80)
    news.write("content/kinh-te/sang-2/index.md", article(
        "Bản tin sáng hai", date="2030-01-02 06:00", photos='\n  - src: "anh.jpg"\n    caption: "Quang cảnh."'))
    build_and_compare(news, tmp_path, now=first - dt.timedelta(hours=1))
    one = build_and_compare(news, tmp_path, now=first + dt.timedelta(minutes=5))
    assert one.shifted and (news.public / "thoi-su/sang-1/index.html").is_file()
    assert not (news.public / "kinh-te/sang-2").exists()
    assert news.build(jobs=1, now=first + dt.timedelta(hours=2)).skipped  # nothing due before the second
    two = build_and_compare(news, tmp_path, now=second + dt.timedelta(minutes=5))
    assert two.shifted and (news.public / "kinh-te/sang-2/anh-800.jpg").is_file()
    news.write("content/thoi-su/het-han/index.md", article("Bài có hạn", date="2030-01-03 06:00",
                                                          expires='"2030-02-01 06:00"'))
    build_and_compare(news, tmp_path, now=second + dt.timedelta(hours=1))
    three = build_and_compare(news, tmp_path, now=second + dt.timedelta(days=1, minutes=5))
    assert not three.shifted and (news.public / "thoi-su/het-han/index.html").is_file()  # it expires: the full build
    news.write("content/thoi-su/sang-3/index.md", article("Bản tin sáng ba", date="2030-01-05 06:00",
                                                          body="Xem [trang không có](/khong-co/)."))
    third = dt.datetime(2030, 1, 5, 6, 0, tzinfo=vn)
    held = build_and_compare(news, tmp_path, now=third - dt.timedelta(hours=1))
    assert any(d.path == "content/thoi-su/sang-3/index.md" for d in held.diagnostics)
    news.write("content/thoi-su/het-han/index.md", article("Bài có hạn", date="2030-01-03 06:00"))
    build_and_compare(news, tmp_path, now=third - dt.timedelta(minutes=30))
    assert not build_and_compare(news, tmp_path, now=third + dt.timedelta(minutes=5)).shifted  # held: a full build


def test_a_preview_addition_once_a_scheduled_article_is_due_shows_it_due(news, tmp_path):
    """The preview publishes scheduled articles, marked as such (entry.pending): the time one falls due changes its
    page, though no article comes or goes. An addition built after that time is then the full build's (a shift
    finds nothing due among the unpublished articles, which would leave the mark)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    due = dt.datetime(2030, 1, 1, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    news.write("content/kinh-te/hen-gio/index.md", article("Bài hẹn giờ", date="2030-01-01 10:00"))
    preview, clean = tmp_path / "preview", tmp_path / "clean"
    settle()
    news.build(output=preview, drafts=True, jobs=1, now=due - dt.timedelta(hours=1))
    news.write("content/kinh-te/moi/index.md", article("Bài mới thêm", date="2024-06-01 08:00"))
    settle()
    result = news.build(output=preview, drafts=True, jobs=1, now=due + dt.timedelta(minutes=1))
    news.build(output=clean, drafts=True, use_cache=False, jobs=1, now=due + dt.timedelta(minutes=1))
    assert not result.shifted and snapshot(preview) == snapshot(clean)


def test_an_addition_beside_a_scheduled_article_is_a_shift_build_unless_it_takes_its_address(news, tmp_path):
    """Newsrooms schedule articles every day: an addition beside one is a shift's build (its validation ahead,
    of the site as it will be when it falls due, can change only by the address the new article takes); a
    deletion that takes away a page its body links to is the full build's; an addition taking the address it
    wants is a full build too, whose validation ahead finds it taken (the scheduled article is held)."""
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2099-06-02 08:00",
                                                           slug='"trung-dia-chi"', body="Xem [bài 5](/thoi-su/bai-05/)."))
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/moi/index.md", article("Bài mới", date="2024-06-01 08:00"))
    assert build_and_compare(news, tmp_path).shifted
    shutil.rmtree(news.root / Path(path(5)).parent)
    result = build_and_compare(news, tmp_path)
    assert not result.edited and [(d.code, d.path) for d in result.diagnostics if d.severity == "error"] == [
        ("LINK001", "content/thoi-su/hen-gio/index.md")], result.diagnostics
    news.write(path(5), source(5))
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/khac/index.md", article("Bài chiếm địa chỉ", date="2024-06-03 08:00",
                                                        slug='"trung-dia-chi"'))
    result = build_and_compare(news, tmp_path)
    assert not result.edited and ("ROUTE001", "content/thoi-su/hen-gio/index.md") in [
        (d.code, d.path) for d in result.diagnostics], result.diagnostics
    assert result.held == ("content/thoi-su/hen-gio/index.md",)


def test_articles_that_come_and_go_beside_a_scheduled_article_with_a_warning_are_shift_builds(news, tmp_path):
    """A scheduled article the build has something to say of (a warning: the placeholder line `sitegen new` wrote
    left in its body, BODY001) does not make a deletion beside it, or an addition with a photo, a full build: what
    the build finds of the unpublished files is found again (build.unpublished), as beside a draft held back. One
    whose body links to the article deleted is held back then, as by a clean build."""
    from sitegen.content.model import PLACEHOLDER_BODY

    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2099-06-02 08:00",
                                                           body="Đoạn đầu.\n\n" + PLACEHOLDER_BODY))
    news.write("content/kinh-te/hen-lien-ket/index.md", article("Bài hẹn giờ có liên kết", date="2099-06-03 08:00"))
    first = build_and_compare(news, tmp_path)
    assert [(d.code, d.path) for d in first.diagnostics] == [("BODY001", "content/thoi-su/hen-gio/index.md")]
    shutil.rmtree(news.root / Path(path(5)).parent)
    deleted = build_and_compare(news, tmp_path)
    assert deleted.shifted and [d.code for d in deleted.diagnostics] == ["BODY001"]
    from PIL import Image

    (news.root / "content/kinh-te/co-anh").mkdir(parents=True)
    Image.new("RGB", (800, 600), (9, 90, 9)).save(news.root / "content/kinh-te/co-anh/anh.jpg", quality=80)
    news.write("content/kinh-te/co-anh/index.md", article("Bài có ảnh", date="2024-06-01 08:00",
                                                          photos='\n  - src: "anh.jpg"\n    caption: "Ảnh."'))
    added = build_and_compare(news, tmp_path)
    assert added.shifted and [d.code for d in added.diagnostics] == ["BODY001"]
    news.write("content/kinh-te/hen-lien-ket/index.md", article("Bài hẹn giờ có liên kết", date="2099-06-03 08:00",
                                                                body="Xem [bài 7](../../thoi-su/bai-07/)."))
    build_and_compare(news, tmp_path)
    shutil.rmtree(news.root / Path(path(7)).parent)
    linked = build_and_compare(news, tmp_path)
    assert ("LINK001", "content/kinh-te/hen-lien-ket/index.md") in [(d.code, d.path) for d in linked.diagnostics]


def test_a_deletion_beside_drafts_with_photos_is_a_shift_build(site, tmp_path):
    """Drafts have photos, as the reports they become: a deletion beside one is a shift's build (its body's key
    found with its photos, as its validation ahead made it), even when the photo it shows is in the deleted
    article's folder, while that file stays; when the draft links to the page that goes, a shift too, which finds
    what the build says of the drafts again (build.unpublished): the draft is held back."""
    photo_news(site)
    folder = site.root / "content/tin/nhap"
    folder.mkdir(parents=True)
    from PIL import Image
    Image.new("RGB", (800, 600), (5, 50, 100)).save(folder / "anh.jpg", quality=80)
    site.write("content/tin/nhap/index.md", article(
        "Bài nháp", date="2024-05-08 08:00", draft="true", body="Xem [bài 0](../bai-0/).\n\n![Ảnh nháp.](anh.jpg)",
        photos='\n  - src: "../bai-1/anh.jpg"\n    caption: "Ảnh của bài 1."'))
    assert build_and_compare(site, tmp_path).diagnostics == []
    (site.root / "content/tin/bai-1/index.md").unlink()  # the photo the draft shows stays
    assert build_and_compare(site, tmp_path).shifted
    shutil.rmtree(site.root / "content/tin/bai-0")  # the draft links to it
    result = build_and_compare(site, tmp_path)
    assert result.shifted and [d.code for d in result.diagnostics] == ["HOLD002"]


@pytest.mark.parametrize("link", ["../bai-07/index.md", "/thoi-su/bai-07/", "../bai-07/", "https://example.org/thoi-su/bai-07",
                                  "../bai-07", "../bai%2D07/index.md"])
def test_a_deletion_beside_drafts_and_scheduled_articles_is_a_shift_even_when_one_links_to_what_goes(news, tmp_path,
                                                                                                        link):
    """A deletion beside a draft and a scheduled article (every newsroom has some) is a shift's build, also when
    one of their bodies links to what goes (by its file or its address): what the build says of them is then found
    again (build.unpublished), and the draft is held back, as in a clean build. Beside an article that expires, a
    full build."""
    news.write("site.toml", (news.root / "site.toml").read_text(encoding="utf-8").replace(
        "per_page", 'base_url = "https://example.org/"\nper_page', 1))
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2099-06-02 08:00",
                                                           body="Xem [bài 5](/thoi-su/bai-05/)."))
    news.write("content/thoi-su/nhap/index.md", article("Bản nháp", draft="true", body=f"Xem [bài 7]({link})."))
    build_and_compare(news, tmp_path)
    shutil.rmtree(news.root / Path(path(3)).parent)  # no one links to it
    assert build_and_compare(news, tmp_path).shifted
    shutil.rmtree(news.root / Path(path(7)).parent)  # the draft does
    result = build_and_compare(news, tmp_path)
    assert result.shifted and [d.path for d in result.diagnostics] == ["content/thoi-su/nhap/index.md"]
    news.write("content/thoi-su/nhap/index.md", article("Bản nháp", draft="true", body="Đã sửa liên kết."))
    build_and_compare(news, tmp_path)
    news.write(path(9), source(9, expires='"2099-01-01 08:00"'))
    build_and_compare(news, tmp_path)
    shutil.rmtree(news.root / Path(path(11)).parent)
    assert not build_and_compare(news, tmp_path).edited  # beside an article that expires: the full build


@pytest.mark.parametrize("link", ["../bai-03/index.md", "../bai-03/", "/thoi-su/bai-03/", "../../thoi-su/bai-03",
                                  "https://example.org/thoi-su/bai-03/", "/chu-de/rieng/", "../../chu-de/rieng"])
def test_deleting_what_another_article_links_to_is_left_to_the_full_build(news, tmp_path, link):
    """An article deleted, or a tag page that goes with it, that another body links to (by its file, or by an
    address: relative, from the root, absolute): the full build reports the broken link (and holds the linking
    article at what was published), never a shift's build that would not see it."""
    news.write("site.toml", (news.root / "site.toml").read_text(encoding="utf-8").replace(
        "per_page", 'base_url = "https://example.org/"\nper_page', 1))
    news.write(path(3), source(3, tags='["Riêng"]'))
    news.write(path(5), source(5, body=f"Xem [bài kia]({link})."))
    first = build_and_compare(news, tmp_path)
    assert not first.diagnostics and ("/thoi-su/bai-03/" if "rieng" not in link else "chu-de/rieng") in \
        (news.public / "thoi-su/bai-05/index.html").read_text(encoding="utf-8")
    shutil.rmtree(news.root / Path(path(3)).parent)
    settle()
    result = news.build(jobs=1)
    assert not result.edited and [d.path for d in result.diagnostics if d.severity == "error"] == [path(5)],         result.diagnostics
    assert result.held == (path(5),)


def test_a_link_written_by_an_edit_build_is_known_to_the_next_shift(news, tmp_path):
    """A link added to a body by an edit build (text alone: the article keeps its places), to an article then
    deleted: the shift asks every body that may link to what goes, and this one now says it has links (the edit
    build writes its Shape anew: delta.write_shapes). Before, the plan kept the Shape of the full build before it,
    without links, and the deletion was a shift that left a link to a page that no longer was, and no error."""
    news.write(path(5), source(5, body="Xem [bài 3](../bai-03/)."))
    assert build_and_compare(news, tmp_path).edited
    shutil.rmtree(news.root / Path(path(3)).parent)
    settle()
    result = news.build(jobs=1)
    assert not result.edited and [d.code for d in result.diagnostics] == ["LINK001", "HOLD001"]
    assert result.held == (path(5),)


def test_deleting_an_article_another_links_elsewhere_is_a_shift_build(news, tmp_path):
    """Bodies with links that lead to what stays keep their checks: the deletion is a shift's build."""
    news.write(path(5), source(5, body="Xem [bài 7](../bai-07/index.md), [trang chủ](/) và [bài 9](/thoi-su/bai-09/)."))
    build_and_compare(news, tmp_path)
    shutil.rmtree(news.root / Path(path(3)).parent)
    assert build_and_compare(news, tmp_path).shifted


def searched_site(site):
    """Three articles, search on (site.toml empty: the default), built once."""
    site.write("site.toml", "")
    for i in range(3):
        site.write(f"content/tin/bai-{i}/index.md", article(f"Bài {i}", date=f"2024-05-0{i + 1} 08:00"))
    settle()
    site.build(jobs=1)
    return site


def test_search_index_follows_an_edit(site, tmp_path):
    """With search on, the edit build hands the same pages to Pagefind as a full build would."""
    searched_site(site)
    site.write("content/tin/bai-1/index.md", article("Bài 1", date="2024-05-02 08:00", body="Từ khóa hiếm: sầu riêng."))
    result = build_and_compare(site, tmp_path)
    assert result.edited


def test_search_index_follows_an_addition_and_a_deletion(site, tmp_path):
    """With search on (the default), a shift's build (an article added, then deleted) publishes the index, and the
    word the new article alone holds, as a full build does."""
    searched_site(site)
    site.write("content/tin/bai-moi/index.md", article("Bài mới", date="2024-05-09 08:00", body="Từ khóa hiếm: măngcụt."))
    added = build_and_compare(site, tmp_path)
    assert added.shifted and added.search
    shutil.rmtree(site.root / "content/tin/bai-moi")
    assert build_and_compare(site, tmp_path).shifted


@pytest.mark.parametrize("remake", ["when grown", "every full build"])
def test_random_edits_always_equal_a_clean_build(news, tmp_path, remake, monkeypatch):
    """A seeded run of mixed edits, each followed by an edit (or full) build and a clean one. The reverse index
    (build/reverse.py) is made anew once it has grown: here that never happens, or happens in every full build."""
    if remake == "every full build":
        from sitegen.build import reverse

        monkeypatch.setattr(reverse.Reverse, "stale", property(lambda self: True))
    rng = random.Random(7)
    edits = 0
    for step in range(12):
        i = rng.randrange(12)
        kind = rng.choice(["body", "body", "title", "summary", "views", "tags", "caption"])
        if kind == "body":
            text = source(i, body=f"Sửa lần {step}: " + " ".join(rng.choice(["tin", "mới", "Quy Nhơn", "**đậm**"])
                                                                 for _ in range(12)))
        elif kind == "title":
            text = source(i, title=f"Tiêu đề lần {step}")
        elif kind == "summary":
            text = source(i, summary=f'"Tóm tắt lần {step}."')
        elif kind == "views":
            text = source(i, views=str(rng.randrange(200)))
        elif kind == "tags":
            text = source(i, tags='["thời tiết"]')
        else:
            text = source(i, body=f"Ảnh ngoài trang ![Chú thích {step}](https://example.org/a.jpg)")
        news.write(path(i), text)
        edits += build_and_compare(news, tmp_path).edited
    assert edits >= 4  # most text edits take the short way


def test_preview_edits_take_the_short_way_in_memory(news, tmp_path):
    """The live preview keeps its cache in memory (pipeline.Warm): its saves are edit builds too."""
    from sitegen.build.pipeline import Warm

    warm = Warm()
    preview = tmp_path / "preview"
    first = news.build(output=preview, drafts=True, warm=warm, jobs=1)
    assert not first.edited
    news.write(path(2), source(2, body="Sửa trong lúc xem trước."))
    settle()
    result = news.build(output=preview, drafts=True, warm=warm, jobs=1)
    assert result.edited
    clean = tmp_path / "clean"
    news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)


def _pickled(tables: dict) -> dict:
    return {t: {k: pickle.dumps(v) for k, v in rows.items()} for t, rows in tables.items() if rows}


def test_a_preview_started_again_reads_back_its_saved_cache_and_builds_what_a_clean_build_does(news, tmp_path):
    """pipeline.Warm.persist / restore (cache.save_memory, load_memory): what a preview saves, whole after a
    full build and then only the rows that changed, reads back as the very tables it had; a preview started
    again from them renders only what changed meanwhile, and publishes what a clean build does. A save stopped
    midway (a new save came) leaves the last whole one."""
    from sitegen.build.pipeline import Warm

    folder, preview = tmp_path / "preview-cache", tmp_path / "preview"
    warm = Warm(cache_dir=folder)
    first = news.build(output=preview, drafts=True, warm=warm, jobs=1)
    assert warm.journal and warm.persist() and not warm.journal
    whole = warm.saved
    news.write(path(2), source(2, body="Sửa trong lúc xem trước."))
    settle()
    assert news.build(output=preview, drafts=True, warm=warm, jobs=1).edited
    # Only what the edit changed is to be written (a table emptied, as `fresh` once moved, is written as such).
    assert warm.journal and all(len(rows) < 50 for rows in warm.journal.values() if rows is not None)
    assert warm.persist() and warm.saved != whole

    again = Warm(cache_dir=folder).for_config(warm.salt)
    again.restore()
    assert _pickled(again.tables) == _pickled(warm.tables)

    news.write(path(3), source(3, title="Tiêu đề sửa khi bản xem trước tắt"))
    settle()
    restarted = news.build(output=preview, drafts=True, warm=again, jobs=1)
    assert 0 < restarted.rendered < first.rendered // 2
    clean = tmp_path / "clean"
    news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)


def test_a_preview_keeps_its_per_article_tables_on_disk_and_killed_between_saves_builds_what_a_clean_build_does(
        news, tmp_path):
    """With somewhere to save its cache, a preview keeps the tables of a row per article or page in that file
    (cache.ON_DISK: at 100 000 articles they were most of its 5 GB), written as it builds, while the rest is saved
    when it pauses. Killed after builds it never saved (an edit, an addition), a preview started again finds
    those rows newer than its memory: it must not trust them wrongly, and publishes what a clean build does."""
    import sqlite3

    from sitegen.build.cache import ON_DISK
    from sitegen.build.pipeline import Warm

    folder, preview, clean = tmp_path / "preview-cache", tmp_path / "preview", tmp_path / "clean"
    warm = Warm(cache_dir=folder)
    news.build(output=preview, drafts=True, warm=warm, jobs=1)
    assert warm.persist()
    assert not any(warm.tables.get(t) for t in ON_DISK) and warm.tables["deps"] and warm.tables["trees"]
    with sqlite3.connect(folder / "build.sqlite") as db:
        assert db.execute("SELECT count(*) FROM markup").fetchone()[0] >= 12
        assert db.execute("SELECT count(*) FROM records").fetchone()[0] > 12
    news.write(path(2), source(2, title="Sửa rồi tắt máy"))
    settle()
    assert news.build(output=preview, drafts=True, warm=warm, jobs=1).edited
    news.write("content/kinh-te/bai-moi/index.md", article("Bài mới khi chưa lưu", date="2024-06-01 08:00"))
    settle()
    news.build(output=preview, drafts=True, warm=warm, jobs=1)
    # Killed: the memory's last save is from before the edit and the addition, the file's rows from after.
    again = Warm(cache_dir=folder)
    news.write(path(3), source(3, body="Sửa sau khi mở lại."))
    settle()
    mine = news.build(output=preview, drafts=True, warm=again, jobs=1)
    assert again.saved
    theirs = news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean) and sorted(mine.diagnostics) == sorted(theirs.diagnostics)
    news.write(path(4), source(4, title="Và một lần sửa nữa"))
    settle()
    assert news.build(output=preview, drafts=True, warm=again, jobs=1).edited
    shutil.rmtree(clean)
    news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)


def test_a_preview_whose_cache_file_comes_and_goes_trusts_nothing_of_the_other_place(news, tmp_path, monkeypatch):
    """A build that could not open the preview's cache file keeps every table in memory; when the file opens
    again, its rows are older than what the memory vouches for (and the other way round): each time, the memory
    starts afresh and the build is a full one, equal to a clean build."""
    import sqlite3

    from sitegen.build.cache import Cache
    from sitegen.build.pipeline import Warm

    folder, preview, clean = tmp_path / "preview-cache", tmp_path / "preview", tmp_path / "clean"
    warm = Warm(cache_dir=folder)
    news.build(output=preview, drafts=True, warm=warm, jobs=1)
    real_open = Cache._open

    def refused(self, path):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Cache, "_open", refused)
    # Article 2 moves among its category's articles: its page now reads other neighbours (8 and 10).
    news.write(path(2), article("Bài số 2", date="2024-05-10 08:00", body=BODY.format(i=2),
                                tags='["chuyển đổi số"]', views="20"))
    settle()
    assert not news.build(output=preview, drafts=True, warm=warm, jobs=1).edited  # (every table in memory now)
    news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)
    monkeypatch.setattr(Cache, "_open", real_open)
    news.write(path(8), source(8, title="Láng giềng mới đổi tên"))  # shown on article 2's page now
    settle()
    assert not news.build(output=preview, drafts=True, warm=warm, jobs=1).edited
    shutil.rmtree(clean)
    news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)
    news.write(path(4), source(4, title="Rồi sửa như thường"))
    settle()
    assert news.build(output=preview, drafts=True, warm=warm, jobs=1).edited


def test_a_cache_save_stopped_midway_leaves_the_last_whole_one(news, tmp_path):
    from sitegen.build.pipeline import Warm

    folder, preview = tmp_path / "preview-cache", tmp_path / "preview"
    warm = Warm(cache_dir=folder)
    news.build(output=preview, drafts=True, warm=warm, jobs=1)
    assert warm.persist()
    saved = _pickled(warm.tables)
    for i in range(6):
        news.write(path(i), source(i, title=f"Tiêu đề mới {i}"))
    settle()
    news.build(output=preview, drafts=True, warm=warm, jobs=1)
    asked = []
    warm.journal["deps"] = set(warm.tables["deps"]) | {f"x{n}" for n in range(1000)}  # enough rows to be asked
    assert not warm.persist(cancel=lambda: asked.append(1) or True)
    assert asked and warm.journal  # kept for the next time
    back = Warm(cache_dir=folder).for_config(warm.salt)
    back.restore()
    assert _pickled(back.tables) == saved


def test_a_preview_builds_whole_again_with_the_entries_it_made_before_unless_time_changed_them(news, tmp_path,
                                                                                                  monkeypatch):
    """render.templates.make_entries with the preview's memo: a full build a minute later (an article added)
    makes again only the entries whose inputs changed, and the entry of an article that fell due in between (no
    longer pending): the build's moment itself is not an input (with it, no entry was ever found again)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from sitegen.build.pipeline import Warm
    from sitegen.render import templates

    made = []
    real = templates.entry_maker

    def counting(*args, **kw):
        make = real(*args, **kw)
        return lambda a, *rest: made.append(a.source) or make(a, *rest)

    monkeypatch.setattr(templates, "entry_maker", counting)
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    due = dt.datetime(2030, 1, 1, 10, 0, tzinfo=vn)
    news.write("content/kinh-te/hen-gio/index.md", article("Bài hẹn giờ", date="2030-01-01 10:00"))
    warm, preview = Warm(), tmp_path / "preview"
    news.build(output=preview, drafts=True, warm=warm, jobs=1, now=due - dt.timedelta(hours=1))
    total = len(made)
    made.clear()
    news.write("content/kinh-te/moi/index.md", article("Bài mới thêm", date="2024-06-01 08:00"))
    settle()
    news.build(output=preview, drafts=True, warm=warm, jobs=1, now=due + dt.timedelta(minutes=1))
    assert "content/kinh-te/hen-gio/index.md" in made and "content/kinh-te/moi/index.md" in made
    assert len(made) < total // 2, (len(made), total)  # not every entry again
    clean = tmp_path / "clean"
    news.build(output=clean, drafts=True, use_cache=False, jobs=1, now=due + dt.timedelta(minutes=1))
    assert snapshot(preview) == snapshot(clean)


def test_a_preview_cache_that_cannot_be_saved_or_read_back_only_costs_a_full_build(news, tmp_path):
    """A cache folder that is a file, or a save file that is not SQLite: nothing is saved or read back, nothing
    fails, and the preview builds as it would without one."""
    from sitegen.build.pipeline import Warm

    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    warm, preview = Warm(cache_dir=blocked), tmp_path / "preview"
    assert not news.build(output=preview, drafts=True, warm=warm, jobs=1).edited
    assert not warm.persist() and warm.journal
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "build.sqlite").write_bytes(b"\0not sqlite" * 100)
    again = Warm(cache_dir=garbage)
    first = news.build(output=preview, drafts=True, warm=again, jobs=1)
    assert first.rendered and not again.saved
    assert again.persist()  # made anew, whole


def test_a_preview_digests_again_only_the_entries_it_made_anew(news, tmp_path, monkeypatch):
    """dependencies.Deps.kept_digests: in the preview, a full build (an article added with an old address of its
    own, which an addition's build leaves to the full build) digests only the entries make_entries made anew; the
    others are the same objects as last time, with the same reads."""
    from sitegen.build import dependencies
    from sitegen.build.pipeline import Warm

    digested = []
    real = dependencies.entry_digest
    monkeypatch.setattr(dependencies, "entry_digest", lambda e, *a: digested.append(e.article.source) or real(e, *a))
    warm, preview = Warm(), tmp_path / "preview"
    news.build(output=preview, drafts=True, warm=warm, jobs=1)
    first = len(set(digested))
    digested.clear()
    news.write("content/kinh-te/moi/index.md", article("Bài mới thêm", date="2024-06-01 08:00",
                                                       aliases='["/tin-cu/moi.html"]'))
    settle()
    assert not news.build(output=preview, drafts=True, warm=warm, jobs=1).edited
    assert "content/kinh-te/moi/index.md" in digested and len(set(digested)) < first // 2, (digested, first)
    assert len(warm.digests) == first + 1  # this build's entries only
    clean = tmp_path / "clean"
    news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)


def test_preview_told_what_changed_does_not_walk_again(news, tmp_path, monkeypatch):
    """Given the watcher's list of changed paths, a preview build re-stats those instead of walking the site
    (inputs.rescan): an article saved, added, moved or deleted; a template sends it back to the full walk."""
    from sitegen.build import inputs
    from sitegen.build.pipeline import Warm

    warm, preview = Warm(), tmp_path / "preview"
    news.build(output=preview, drafts=True, warm=warm, jobs=1)
    walks = []
    real_scan = inputs.scan
    monkeypatch.setattr(inputs, "scan", lambda *args, **kw: walks.append(1) or real_scan(*args, **kw))
    edited = news.write(path(2), source(2, body="Sửa trong lúc xem trước."))
    settle()
    result = news.build(output=preview, drafts=True, warm=warm, jobs=1, changed=[str(edited)])
    assert result.edited and walks == []
    added = news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00"))
    settle()
    result = news.build(output=preview, drafts=True, warm=warm, jobs=1, changed=[str(added.parent), str(added)])
    assert walks == [] and result.shifted  # (an addition: see delta.Shift)
    clean = tmp_path / "clean"
    news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)
    assert (preview / "thoi-su/bai-moi/index.html").is_file()
    walks.clear()  # (the clean build's own walk)
    moved = added.parent.parent / "bai-moi-doi-ten"
    added.parent.rename(moved)  # (one event for the folder, none for the file in it)
    gone = news.root / path(4)
    gone.unlink()
    settle()
    news.build(output=preview, drafts=True, warm=warm, jobs=1, changed=[str(added.parent), str(moved), str(gone)])
    assert walks == []
    template = news.write("templates/ghi-chu.html", "<p>Mẫu riêng chưa dùng.</p>")
    settle()
    news.build(output=preview, drafts=True, warm=warm, jobs=1, changed=[str(template)])
    assert walks == [1]  # a template: the full walk
    shutil.rmtree(clean)
    walks.clear()
    news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)
    assert (preview / "thoi-su/bai-moi-doi-ten/index.html").is_file()
    assert not (preview / "thoi-su/bai-moi/index.html").exists()


def test_rescan_refuses_what_it_cannot_vouch_for(news):
    from sitegen.build import inputs

    cfg = news.config()
    walk = inputs.scan(cfg, ())
    known = next(p for p in walk[0].files if p.endswith("bai-03/index.md"))
    assert inputs.rescan(walk, None) is None  # the watcher does not know: walk
    assert inputs.rescan(walk, [str(news.root / "templates/base.html")]) is None  # not a content file
    assert inputs.rescan(walk, [str(news.root.parent / "khac/a.md")]) is None  # not even in the site
    news.write(path(3), source(3, body="Sửa."))
    scanned, listing = inputs.rescan(walk, [known])
    assert scanned.files[known] != walk[0].files[known] and listing is walk[1]
    assert (scanned.names, scanned.outside, scanned.key) == (walk[0].names, walk[0].outside, "")
    (news.root / path(3)).unlink()
    scanned, listing = inputs.rescan(walk, [known])  # deleted: its folder is listed again
    assert known not in scanned.files and scanned.names == inputs.scan(cfg, ())[0].names != walk[0].names


def damage(site, sql: str, *args) -> None:
    import sqlite3

    db = sqlite3.connect(site.root / ".sitegen/cache/build.sqlite")
    db.execute(sql, args)
    db.commit()
    db.close()


def test_search_warnings_are_said_once(site, tmp_path, monkeypatch):
    """Pagefind missing: every build warns once, an edit build too (it runs the search stage again)."""
    from sitegen.build import search

    monkeypatch.setattr(search, "_binary", lambda: None)
    site.write("site.toml", "search = true\n")
    for i in range(3):
        site.write(f"content/tin/bai-{i}/index.md", article(f"Bài {i}", date=f"2024-05-0{i + 1} 08:00"))
    settle()
    site.build(jobs=1)
    for n in range(2):
        site.write("content/tin/bai-1/index.md", article("Bài 1", date="2024-05-02 08:00", body=f"Sửa lần {n}."))
        result = build_and_compare(site, tmp_path)
        assert result.edited and [d.code for d in result.diagnostics] == ["SEARCH001"]


def test_preview_with_a_symlinked_article_walks_again(site, tmp_path):
    """A save through one name changes what a symlink reads too: the watcher's list cannot be trusted then."""
    from sitegen.build.pipeline import Warm

    site.write("site.toml", "search = false\n")
    target = site.write("content/tin/bai-b.md", article("Bài B", date="2024-06-02 08:00", body="Bản đầu."))
    (site.root / "content/tin/bai-a.md").symlink_to(target)
    site.write("content/tin/bai-c.md", article("Bài C", date="2024-06-01 08:00", slug="bai-c"))
    warm, preview = Warm(), tmp_path / "preview"
    settle()
    first = site.build(output=preview, drafts=True, warm=warm, jobs=1)
    assert first.articles == 3
    site.write("content/tin/bai-b.md", article("Bài B", date="2024-06-02 08:00", body="Bản sửa."))
    settle()
    site.build(output=preview, drafts=True, warm=warm, jobs=1, changed=[str(target)])
    clean = tmp_path / "clean"
    site.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)
    assert sum("Bản sửa." in p.read_text(encoding="utf-8") for p in preview.rglob("index.html")) >= 2


def test_a_folder_made_before_its_article_costs_no_full_build(news, tmp_path):
    """An editor (or a script) makes the article's folder first, then saves the article into it: the folder
    alone changes no output, and the build it starts is an edit build with nothing to render."""
    (news.root / "content/thoi-su/bai-moi").mkdir()
    result = build_and_compare(news, tmp_path)
    assert result.edited and result.rendered == 0
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00"))
    assert build_and_compare(news, tmp_path).shifted  # (an addition: see delta.Shift)


def test_a_file_deleted_from_the_output_is_made_again(news, tmp_path):
    news.write(path(2), source(2, title="Hai"))
    assert build_and_compare(news, tmp_path).edited  # now the spare holds the page before this edit
    (news.public / "kinh-te/bai-02/index.html").unlink()
    news.write(path(3), source(3, body="Sửa bài ba."))
    result = build_and_compare(news, tmp_path)  # the old copy in the spare must not come back
    assert not result.edited


@pytest.mark.parametrize("table", ["trees", "entries", "plan", "docs", "links"])
def test_a_damaged_cache_never_breaks_an_edit(news, tmp_path, table):
    """Rows gone or unreadable: the build falls back to the full path (never a partial site or a traceback),
    and the next edit is an edit build again."""
    damage(news, f"UPDATE {table} SET v = ?", b"\x80\x05garbage")
    news.write(path(4), source(4, title="Sửa lần một"))
    assert not build_and_compare(news, tmp_path).edited
    news.write(path(4), source(4, title="Sửa lần hai"))
    assert build_and_compare(news, tmp_path).edited
    damage(news, f"DELETE FROM {table}")
    news.write(path(4), source(4, title="Sửa lần ba"))
    assert not build_and_compare(news, tmp_path).edited


@pytest.mark.parametrize("rows", ["readers:%", "users:%"])
def test_a_damaged_reverse_index_never_leaves_a_stale_page(news, tmp_path, rows, monkeypatch):
    """The rows an edit build uses to find the pages that read an article (build/reverse.py), unreadable or
    gone: the edit is a full build, which makes them anew; no page is ever stale."""
    from sitegen.build import dependencies

    damage(news, "UPDATE deps SET v = ? WHERE k LIKE ?", b"\x80\x05garbage", rows)
    news.write(path(4), source(4, title="Sửa lần một"))
    assert build_and_compare(news, tmp_path).rendered
    news.write(path(5), source(5, title="Sửa lần hai"))
    assert build_and_compare(news, tmp_path).edited
    damage(news, "DELETE FROM deps WHERE k LIKE ?", rows)
    news.write(path(6), source(6, title="Sửa lần ba"))
    build_and_compare(news, tmp_path)
    news.write(path(7), source(7, title="Sửa lần bốn"))
    assert build_and_compare(news, tmp_path).edited
    news.write(path(8), source(8, title="Sửa lần năm"))  # and it is whole again: the next edit uses it
    asked = []
    real = dependencies.Deps._dirty_edit
    monkeypatch.setattr(dependencies.Deps, "_dirty_edit", lambda self, c: (asked.append(1), real(self, c))[1])
    assert build_and_compare(news, tmp_path).edited and asked


def test_a_cache_from_before_the_reverse_index_is_read_the_old_way(news, tmp_path):
    """Records left by a sitegen without the reverse index (a head of six fields) stay trusted: an edit build
    reads every record, as before, and the next full build makes the index."""
    from sitegen.build import dependencies

    real = dependencies.Deps.save

    def old_save(self, cache, token):
        real(self, cache, token)
        cache.put_many("deps", {"head": self._head})  # the head as it was, without the index's part
        cache.delete("deps", [k for k in cache.all("deps") if k.startswith(("readers:", "users:", "paths:"))])

    dependencies.Deps.save = old_save
    try:
        news.write(path(4), source(4, title="Sửa lần một"))
        build_and_compare(news, tmp_path)
    finally:
        dependencies.Deps.save = real
    asked = []
    real_dirty = dependencies.Deps._dirty_edit
    dependencies.Deps._dirty_edit = lambda self, changed: (asked.append(1), real_dirty(self, changed))[1]
    try:
        news.write(path(5), source(5, title="Sửa lần hai"))
        assert build_and_compare(news, tmp_path).edited and not asked  # every record read
        (news.root / "templates").mkdir(exist_ok=True)
        news.write("templates/404.html", "{% extends 'base.html' %}{% block main %}<p>Không thấy</p>{% endblock %}")
        assert not build_and_compare(news, tmp_path).edited  # a full build: it makes the index
        news.write(path(6), source(6, title="Sửa lần ba"))
        assert build_and_compare(news, tmp_path).edited and asked
    finally:
        dependencies.Deps._dirty_edit = real_dirty


@pytest.mark.parametrize("field", ["title", "summary", "author"])
def test_front_matter_edit_of_an_article_whose_links_are_rewritten(news, tmp_path, field):
    """A body with a content-path link is published rewritten, under a key of its own bytes: a front-matter edit
    leaves those bytes alone and must still reach every page that shows the article (found in review)."""
    news.write(path(3), source(3, body="Xem [bài bảy](../bai-07/index.md) để biết thêm."))
    build_and_compare(news, tmp_path)
    changed = {"title": {"title": "Tiêu đề mới cho bài ba"}, "summary": {"summary": '"Tóm tắt mới cho bài ba."'},
               "author": {"author": '"Trần Văn Mới"'}}[field]
    news.write(path(3), source(3, body="Xem [bài bảy](../bai-07/index.md) để biết thêm.", **changed))
    result = build_and_compare(news, tmp_path)
    assert result.edited and result.rendered > 0
    shown = next(iter(changed.values())).strip('"')
    assert shown in (news.public / "thoi-su/bai-03/index.html").read_text(encoding="utf-8")


def test_a_clock_set_back_is_never_trusted(news, tmp_path):
    """What is published was decided for moments after the last build's `now`: earlier, build it all again."""
    import datetime as dt

    tz = news.config().tz
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2024-07-01 08:00"))
    later, earlier = dt.datetime(2024, 7, 2, 8, 0, tzinfo=tz), dt.datetime(2024, 6, 30, 8, 0, tzinfo=tz)
    settle()
    news.build(jobs=1, now=later)
    assert (news.public / "thoi-su/hen-gio/index.html").is_file()
    assert not news.build(jobs=1, now=earlier).skipped
    assert not (news.public / "thoi-su/hen-gio").exists()
    news.build(jobs=1, now=later)
    news.write(path(4), source(4, body="Sửa khi đồng hồ lùi."))
    result = build_and_compare(news, tmp_path, now=earlier)
    assert not result.edited


def test_preview_picks_up_a_new_template_override(news, tmp_path):
    """A site template added while the preview runs replaces the theme's one at the next save (Jinja's cache
    only notices changed files, not a new file earlier in the search path: found in review)."""
    from sitegen.config import default_theme_dirs
    from sitegen.build.pipeline import Warm

    warm, preview = Warm(), tmp_path / "preview"
    news.build(output=preview, drafts=True, warm=warm, jobs=1)
    theme = (default_theme_dirs()[0] / "article.html").read_text(encoding="utf-8")
    news.write("templates/article.html", theme.replace("{% block main %}", "{% block main %}<!-- ban-rieng -->", 1))
    settle()
    news.build(output=preview, drafts=True, warm=warm, jobs=1)
    assert "ban-rieng" in (preview / "kinh-te/bai-04/index.html").read_text(encoding="utf-8")
    clean = tmp_path / "clean"
    news.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(preview) == snapshot(clean)


def test_a_body_without_links_keeps_its_warnings_when_the_site_grows(news, tmp_path):
    """A body without links is link-checked once for good (its result does not depend on other pages), and its
    photo-description warning still shows in every later build: an addition's, and a full one."""
    news.write(path(5), source(5, body="Ảnh không có mô tả:\n\n![](https://example.org/anh.jpg)"))
    first = build_and_compare(news, tmp_path)
    assert [d.code for d in first.diagnostics] == ["IMG006"]
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00"))
    result = build_and_compare(news, tmp_path)
    assert result.shifted and [d.code for d in result.diagnostics] == ["IMG006"]
    news.write("content/thoi-su/bai-cu/index.md", article("Bài cũ", date="2024-06-01 07:00",
                                                         aliases='["/tin-cu/bai-cu.html"]'))
    result = build_and_compare(news, tmp_path)
    assert not result.edited and [d.code for d in result.diagnostics] == ["IMG006"]


def test_an_unreadable_html_row_is_made_again_not_a_template_error(news, tmp_path):
    """A damaged `markup` row (a bad disk, a crash) used to fail both build paths with TPL001; the render now
    drops it, and the build runs once more and converts that body again (CACHE002, a warning)."""
    import sqlite3

    db = sqlite3.connect(news.root / ".sitegen/cache/build.sqlite")
    keys = [k for k, v in db.execute("SELECT k, v FROM markup") if "Đoạn đầu của bài 4." in pickle.loads(v)]
    damaged = sum(db.execute("UPDATE markup SET v = x'00ff' WHERE k = ?", (k,)).rowcount for k in keys)
    db.commit()
    db.close()
    assert damaged >= 1
    # Every article page renders again (a changed template), so article 4's HTML is read back.
    news.write("templates/article.html", (ROOT_TEMPLATES / "article.html").read_text(encoding="utf-8") + "\n")
    settle()
    result = news.build(jobs=1)
    assert [d.code for d in result.diagnostics] == ["CACHE002"] and result.diagnostics[0].severity == "warning"
    clean = tmp_path / "clean"
    news.build(output=clean, use_cache=False, jobs=1)
    assert snapshot(news.public) == snapshot(clean)
    assert "Đoạn đầu của bài 4." in (news.public / "kinh-te/bai-04/index.html").read_text(encoding="utf-8")


def test_a_retitle_onto_another_headline_warns_on_both_like_a_clean_build(news, tmp_path):
    """META006 names both articles: an edit build sees only the one it re-read, so a headline that becomes (or
    stops being) shared is a full build's work."""
    news.write(path(5), source(5, title="Bài số 3"))
    first = build_and_compare(news, tmp_path)
    assert not first.edited
    assert sorted(d.path for d in first.diagnostics if d.code == "META006") == sorted([path(3), path(5)])
    news.write(path(5), source(5, title="Bài số năm"))
    second = build_and_compare(news, tmp_path)
    assert not [d for d in second.diagnostics if d.code == "META006"]
    news.write(path(5), source(5, title="Bài số năm, sửa lại"))
    assert build_and_compare(news, tmp_path).edited  # a title no other article has: still an edit build


def memory(site) -> dict:
    """The rows of the cache a build writes once it has published (see stages.Made.remember): not the caches of
    the stages' own results (Markdown, related lists...), which the model writes as it goes."""
    import sqlite3

    db = sqlite3.connect(site.root / ".sitegen/cache/build.sqlite")
    try:
        rows = {table: dict(db.execute(f"SELECT k, v FROM {table}")) for table in ("deps", "trees", "plan", "records")}
        rows["meta"] = dict(db.execute("SELECT k, v FROM meta WHERE k IN ('state', 'outcome', 'clock')"))
        return rows
    finally:
        db.close()


@pytest.mark.parametrize("edit", [True, False], ids=["edit-build", "full-build"])
def test_a_build_stopped_while_it_remembers_leaves_the_last_builds_memory_whole(news, tmp_path, monkeypatch, edit):
    """What a build remembers (dependency records, state, trees...) is one transaction: stopped after the records
    were written but before the state, the cache holds the last build's memory, not half of each; the next build
    still equals a clean one."""
    from sitegen.build import stages

    before = memory(news)
    if edit:
        news.write(path(4), source(4, body="Đoạn đầu đã sửa.\n\nĐoạn hai."))
    else:
        news.write(path(12), source(12))  # a new article: a full build
    settle()

    def stop(*args, **kwargs):
        raise KeyboardInterrupt  # (what Ctrl-C raises, between two tables)

    monkeypatch.setattr(stages, "_remember", stop)
    with pytest.raises(KeyboardInterrupt):
        news.build(jobs=1)
    monkeypatch.undo()
    assert memory(news) == before
    result = build_and_compare(news, tmp_path)
    assert not result.skipped


def test_a_preview_s_first_build_runs_apart_and_its_saves_build_on_what_it_left(news, tmp_path):
    """With nothing saved to start from, a preview's first build runs as `sitegen build` does, in a process of its
    own (preview.apart), into the preview's cache file: the preview reads that back as its own save, never having
    compiled a template itself, and its saves are then edit builds publishing what a clean build does."""
    from sitegen.build.pipeline import Warm
    from sitegen.preview.server import Preview

    output, clean = tmp_path / "preview", tmp_path / "clean"
    said: list[str] = []
    preview = Preview(news.root, output, log=said.append, warm=Warm(cache_dir=tmp_path / "preview-cache"))

    def as_a_clean_build() -> None:
        shutil.rmtree(clean, ignore_errors=True)
        theirs = news.build(output=clean, drafts=True, use_cache=False, jobs=1)
        assert snapshot(output) == snapshot(clean) and not preview.errors and not theirs.diagnostics

    assert preview.rebuild(" lần đầu"), said
    assert preview.warm.templates is None and preview.cold, "built in the preview's own process"
    assert preview.warm.tables["deps"] and preview.warm.tables["trees"] and preview.warm.saved
    as_a_clean_build()
    preview.settle()
    assert not preview.warm_up(lambda: True) and preview.cold  # a save waiting: it reads what it needs itself
    before = snapshot(output)
    assert preview.warm_up(lambda: False) and not preview.cold and not preview.modelled, said
    assert said[-1].startswith("Đã đọc sẵn những gì một lần lưu cần") and snapshot(output) == before
    assert not preview.warm_up(lambda: False)  # once
    news.write(path(2), source(2, title="Sửa sau lần dựng đầu"))
    settle()
    assert preview.rebuild(changed=[str(news.root / path(2))]), said
    assert not preview.modelled and preview.warm.templates is not None  # an edit build, here
    as_a_clean_build()
    news.write("content/kinh-te/bai-moi/index.md", article("Bài mới sau lần dựng đầu", date="2024-06-01 08:00"))
    settle()
    assert preview.rebuild(changed=[str(news.root / "content/kinh-te/bai-moi/index.md")]), said
    as_a_clean_build()
    assert preview.persist()  # what it read back is saved as its own


def test_a_preview_short_of_memory_makes_the_whole_model_apart_and_its_saves_go_on(news, tmp_path, monkeypatch):
    """A build that needs the site's whole model (here an addition) when the memory free would not hold it beside
    what the preview holds (at 100 000 articles in 2 GiB, an addition made in the preview's process was killed) runs
    as the first build does, in a process of its own, once the preview has saved and let go of what it held; the
    saves after it are edit builds again; when that process ends without an answer, the next such build runs apart
    again. With the memory there, an addition is made in the preview's process, and what it needed is measured.
    Every build publishes what a clean build does."""
    import os

    from sitegen.build import workers
    from sitegen.build.cache import BULK
    from sitegen.build.pipeline import Warm
    from sitegen.preview.server import Preview

    output, clean = tmp_path / "preview", tmp_path / "clean"
    said: list[str] = []
    preview = Preview(news.root, output, log=said.append, warm=Warm(cache_dir=tmp_path / "preview-cache"))

    def rebuild(*changed: str) -> None:
        settle()
        assert preview.rebuild(changed=[str(news.root / c) for c in changed] if changed else None), said
        shutil.rmtree(clean, ignore_errors=True)
        theirs = news.build(output=clean, drafts=True, use_cache=False, jobs=1)
        assert snapshot(output) == snapshot(clean) and not preview.errors and not theirs.diagnostics
        preview.settle()  # (as the server does after each build: `modelled` says whether the last one modelled)

    assert preview.rebuild(" lần đầu"), said
    preview.settle()
    first_cost = preview.whole_cost
    assert first_cost > 0 and preview.warm_up(lambda: False)  # what the build process held at most
    news.write(path(2), source(2, title="Sửa trước khi thêm bài"))
    rebuild(path(2))
    held = preview.warm
    assert held.journal, "the save is not saved yet: the build apart must start from it"
    monkeypatch.setattr(workers, "free_memory", lambda: first_cost)  # not room enough for another such build
    news.write("content/kinh-te/bai-moi/index.md", article("Bài mới khi thiếu bộ nhớ", date="2024-06-01 08:00",
                                                          aliases='["/tin-cu/bai-moi.html"]'))  # (a full build)
    rebuild("content/kinh-te/bai-moi/index.md")
    assert any(line.startswith("Dựng lại toàn bộ trong một tiến trình riêng") for line in said[-3:]), said
    assert preview.warm is not held and preview.cold, "made in the preview's own process"
    # Short of memory, the tables only such a build reads whole stay in the cache file, out of the preview's memory.
    assert BULK <= preview.warm.on_disk and not BULK & set(preview.warm.tables) and BULK & set(held.tables)
    news.write(path(3), source(3, title="Sửa sau bài thêm riêng"))
    rebuild(path(3))  # (reading ahead skipped: the save reads what it needs itself)
    assert not preview.modelled and preview.warm.templates is not None  # an edit build, here
    # That build process ending without an answer (here: it takes itself for an orphan; in life, out of memory):
    # said, and the next one runs apart again, never here, where it would take the preview down with it.
    news.write("content/kinh-te/bai-moi-nua/index.md", article("Bài thêm khi tiến trình dừng", date="2024-06-02 08:00",
                                                               aliases='["/tin-cu/bai-moi-nua.html"]'))
    settle()
    with monkeypatch.context() as orphan:
        orphan.setattr(os, "getpid", lambda: 1)
        assert not preview.rebuild(changed=[str(news.root / "content/kinh-te/bai-moi-nua/index.md")])
    assert said[-1].startswith("Lần dựng toàn bộ (chạy riêng) không xong: mã thoát 1"), said
    assert [e.code for e in preview.errors] == ["SERVE002"] and not preview.apart_failed
    rebuild()  # (the watcher's paths went with the failed build: the next one walks everything)
    assert any(line.startswith("Dựng lại toàn bộ trong một tiến trình riêng") for line in said[-3:]), said
    monkeypatch.undo()
    said.clear()
    preview.whole_cost = 0  # (the build apart's figure would do; this measures one made here)
    news.write("content/kinh-te/bai-moi-ba/index.md", article("Bài mới khi đủ bộ nhớ", date="2024-06-03 08:00",
                                                              aliases='["/tin-cu/bai-moi-ba.html"]'))
    warm = preview.warm
    rebuild("content/kinh-te/bai-moi-ba/index.md")
    assert preview.warm is warm and not any("tiến trình riêng" in line for line in said)
    assert said[-1].startswith("Đã dựng lại") and warm.templates is not None
    assert preview.whole_cost > 0 or not workers.reset_peak()


def test_a_first_build_apart_reports_its_errors_and_one_that_gives_no_result_is_built_here(site, tmp_path,
                                                                                        monkeypatch):
    """A site-wide error in the first build run apart reaches the preview as any build's (file, line, hint), and
    the next build runs apart again; a build process that ends without an answer (killed, out of memory) is said
    in the log, and the preview builds in its own process from then on."""
    import os

    from sitegen.build.pipeline import Warm
    from sitegen.preview import apart
    from sitegen.preview.server import Preview

    site.write("content/thoi-su/bai/index.md", article("Bài đầu"))
    site.write("templates/article.html", "{% extends 'base.html' %}{% block content %}{{ entry.title }{% endblock %}")
    said: list[str] = []
    preview = Preview(site.root, tmp_path / "preview", log=said.append,
                      warm=Warm(cache_dir=tmp_path / "preview-cache"))
    assert not preview.rebuild(" lần đầu")
    assert preview.errors and preview.errors[0].path.endswith("templates/article.html") and preview.errors[0].line
    assert preview.warm.templates is None and not preview.warm.tables
    site.write("templates/article.html", "{% extends 'base.html' %}{% block content %}{{ entry.title }}{% endblock %}")
    monkeypatch.setattr(os, "getpid", lambda: 1)  # the build process takes itself for an orphan and stops
    assert not preview.rebuild(" lần đầu")
    assert preview.apart_failed and "Lần dựng đầu tiên (chạy riêng) không xong: mã thoát 1" in said[-1]
    monkeypatch.undo()
    assert preview.rebuild(" lần đầu"), said
    assert preview.warm.templates is not None and not preview.errors  # built here
    assert (tmp_path / "preview" / "thoi-su" / "bai" / "index.html").is_file()
    assert apart.preview_config(site.root, tmp_path / "preview").stats_url == ""


def test_after_a_first_build_apart_a_save_leaves_the_search_index_for_the_pause(site, tmp_path):
    """The first build run apart made the whole search index: the save that follows (the first to compile the
    templates in the preview's process) shows its page first and leaves the index to the pause, as every save
    does, instead of indexing again at once (3.3 s of a 10 000-article preview's first save, measured)."""
    from sitegen.build.pipeline import Warm
    from sitegen.preview.server import Preview

    for i in range(3):
        site.write(f"content/thoi-su/bai-{i}/index.md", article(f"Bài số {i}", date=f"2024-03-2{i} 08:00"))
    settle()
    output, clean = tmp_path / "preview", tmp_path / "clean"
    said: list[str] = []
    preview = Preview(site.root, output, log=said.append, warm=Warm(cache_dir=tmp_path / "preview-cache"))
    assert preview.rebuild(" lần đầu"), said
    assert preview.warm.templates is None and (output / "pagefind").is_dir()
    site.write("content/thoi-su/bai-1/index.md", article("Bài số 1 đã sửa", date="2024-03-21 08:00"))
    settle()
    assert preview.rebuild(changed=[str(site.root / "content/thoi-su/bai-1/index.md")]), said
    assert preview.search_pending, "the save indexed again at once"
    assert preview.index_search(lambda: False) and not preview.search_pending
    site.build(output=clean, drafts=True, use_cache=False, jobs=1)
    assert snapshot(output) == snapshot(clean)


@pytest.mark.parametrize("ahead", ["everything", "nothing"])
def test_what_is_read_ahead_is_what_the_build_would_read_then(news, tmp_path, monkeypatch, ahead):
    """While its walk runs apart, a build reads what a build with changes reads first (stages.READ_FIRST,
    cache.ReadAhead). Read ahead whole, or not at all, each answer the build takes is what it would read at that
    moment, and an addition, an edit and a deletion publish what a clean build does."""
    import sys

    from sitegen.build import cache as cache_module, stages, workers

    if sys.platform != "linux" or workers.default_jobs() < 2:
        pytest.skip("a build reads ahead while its walk runs apart: on Linux, with a second core")
    real_fill, real_take = cache_module.ReadAhead.fill, cache_module.ReadAhead.take
    taken = []

    def fill(self, ready, *budget):
        real_fill(self, (lambda: False) if ahead == "everything" else (lambda: True))

    def comparable(value):
        if isinstance(value, tuple) and len(value) == 2 and hasattr(value[1], "refs"):  # (delta.linked: an Index)
            return value[0], value[1].__getstate__()
        return value

    def take(self, read, cache):
        got = real_take(self, read, cache)
        assert comparable(got) == comparable(read(cache)), read.__qualname__
        taken.append(read)
        return got

    monkeypatch.setattr(cache_module.ReadAhead, "fill", fill)
    monkeypatch.setattr(cache_module.ReadAhead, "take", take)
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00"))
    assert build_and_compare(news, tmp_path).shifted
    assert set(taken) == set(stages.READ_FIRST)
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00", body="Nội dung đã sửa."))
    assert build_and_compare(news, tmp_path).edited
    shutil.rmtree(news.root / "content/thoi-su/bai-moi")
    assert build_and_compare(news, tmp_path).shifted


def test_a_retitle_leaves_the_headlines_a_later_shift_asks(news, tmp_path):
    """An edit build that retitles an article writes the plan's headlines anew (delta.Edit.titles): an article
    added later under that new headline is reported with it (META006, as a clean build does; a shift that asked
    the old headlines missed it), one added under the old headline is a shift, and the retitled article can be
    deleted by a shift."""
    news.write(path(5), source(5, title="Tiêu đề riêng"))
    assert build_and_compare(news, tmp_path).edited
    news.write("content/thoi-su/trung-ten/index.md", article("Tiêu đề riêng", date="2024-06-01 08:00"))
    shared = build_and_compare(news, tmp_path)
    assert not shared.shifted
    assert sorted(d.path for d in shared.diagnostics if d.code == "META006") == \
        sorted([path(5), "content/thoi-su/trung-ten/index.md"])
    shutil.rmtree(news.root / "content/thoi-su/trung-ten")
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/ten-cu/index.md", article("Bài số 5", date="2024-06-02 08:00"))
    assert build_and_compare(news, tmp_path).shifted  # (the old headline is nobody's now)
    (news.root / path(5)).unlink()
    assert build_and_compare(news, tmp_path).shifted


def test_a_preview_s_edit_saves_do_not_keep_their_garbage_for_ever(news, tmp_path, monkeypatch):
    """Each edit save freezes its model (pipeline._uncollected) and leaves cycles among it that the collector never
    sees while frozen: some 500 objects a save, for as long as the preview runs. Once enough have piled up
    (server.SETTLE_GROWTH), `settle` collects them, as after a build of the whole model."""
    import gc

    from sitegen.build.pipeline import Warm
    from sitegen.preview import server

    gc.unfreeze()
    gc.collect()  # (what earlier tests left: not this preview's)
    said: list[str] = []
    preview = server.Preview(news.root, tmp_path / "preview", log=said.append,
                             warm=Warm(cache_dir=tmp_path / "preview-cache"))
    assert preview.rebuild(), said
    preview.settle()

    def saves(n: int, first: int) -> None:
        for k in range(first, first + n):
            news.write(path(2), source(2, body=f"Lần lưu thứ {k}."))
            settle()
            assert preview.rebuild(changed=[str(news.root / path(2))]), said
            assert not preview.modelled, said  # (edit builds)
            preview.settle()

    def left_frozen() -> int:
        """The garbage frozen now (collected, then everything frozen again, as it was)."""
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        preview.settled = gc.get_freeze_count()
        return found

    saves(10, 0)
    assert left_frozen() > 10 * 100  # each save's cycles (the fix below is needed: without it they stay)
    monkeypatch.setattr(server, "SETTLE_GROWTH", 2_000)
    saves(30, 10)
    assert left_frozen() < 2_000 + 1_000, said  # collected along the way (without: 30 saves' 500 objects)


def test_a_build_lets_go_of_what_it_froze(news):
    """pipeline._uncollected freezes what the walk and an edit's or a shift's model made (gc.freeze: the collector
    then does not sweep it again while the build goes on), and a frozen cycle is never collected: the build
    unfreezes at its end, whatever its fate, but for objects frozen before it began (the preview's, which it
    settles itself). The old code left the walk's objects frozen after a build with nothing to do, and those of
    one that failed, for as long as the process ran."""
    import gc

    from sitegen.diagnostics import BuildFailed

    gc.unfreeze()
    settle()
    assert news.build(jobs=1).skipped
    assert gc.get_freeze_count() == 0
    news.write(path(2), source(2, body="Đã sửa."))
    settle()
    assert news.build(jobs=1).edited
    assert gc.get_freeze_count() == 0
    news.write("templates/article.html", "{% if %}")
    settle()
    with pytest.raises(BuildFailed):
        news.build(jobs=1)
    assert gc.get_freeze_count() == 0
    try:
        held = [[object()] for _ in range(100)]
        gc.freeze()  # (frozen by another, as the preview does: not the build's to let go of)
        frozen = gc.get_freeze_count()
        with pytest.raises(BuildFailed):
            news.build(jobs=1)
        assert gc.get_freeze_count() >= frozen and held
    finally:
        gc.unfreeze()


def test_a_build_leaves_frozen_what_it_did_not_freeze(news):
    """gc.unfreeze() lets go of every frozen object, whoever froze it: a build lets go of what it froze only when
    nothing was frozen before it began. The old code unfroze everything after remembering an addition or an edit
    (stages.publish) and after a render in workers (workers.stream): a library caller's frozen objects, or a
    preview's settled model, were then swept by the collector again on every collection."""
    import gc

    from sitegen.build import workers

    def stream() -> list[int]:
        done: list[int] = []
        workers.stream(lambda start, stop: list(range(start, stop)), 400, 2, lambda _, got: done.extend(got),
                       min_per_job=100)
        return sorted(done)

    gc.unfreeze()
    try:
        held = [[object()] for _ in range(100)]
        gc.freeze()  # (frozen by another, as a preview or a library caller does)
        frozen = gc.get_freeze_count()
        news.write(path(12), source(12))
        settle()
        assert news.build(jobs=1).shifted
        assert gc.get_freeze_count() >= frozen
        news.write(path(3), source(3, body="Đã sửa."))
        settle()
        assert news.build(jobs=1).edited
        assert gc.get_freeze_count() >= frozen
        assert stream() == list(range(400))
        assert gc.get_freeze_count() >= frozen and held
    finally:
        gc.unfreeze()
    assert stream() == list(range(400)) and gc.get_freeze_count() == 0  # (what it froze itself: let go of)


def test_a_photo_dropped_into_a_folder_before_its_article_is_a_shift_that_changes_no_page(news, tmp_path):
    """An editor makes the new article's folder and drops its photo in first (NukeViet's editors upload photos
    first): a file no article shows publishes nothing, so that build is a shift that renders and writes nothing
    (it was a full build); the article written next is an addition with its own photo. A file dropped beside an
    article held back at its last good version (HOLD001: its new text shows a photo not there yet) may be what it
    waits for: a full build, which then publishes that new version."""
    from PIL import Image

    folder = news.root / "content/thoi-su/bai-moi"
    folder.mkdir(parents=True)
    Image.new("RGB", (800, 600), (9, 90, 9)).save(folder / "anh.jpg", quality=80)
    dropped = build_and_compare(news, tmp_path)
    assert dropped.shifted and dropped.rendered == 0 and dropped.stats.written == 0 and dropped.diagnostics == []
    news.write("content/thoi-su/bai-moi/index.md", article(
        "Bài mới có ảnh", date="2024-06-01 08:00", photos='\n  - src: "anh.jpg"\n    caption: "Quang cảnh."'))
    added = build_and_compare(news, tmp_path)
    assert added.shifted and (news.public / "thoi-su/bai-moi").is_dir()
    news.write(path(3), source(3, body="Ảnh chờ.\n\n![Ảnh chờ](../../thoi-su/cho-anh/anh.jpg)"))
    settle()
    kept = news.build(jobs=1)  # (kept at its last good version: a clean build, with no cache, has none to keep)
    assert kept.held == (path(3),)
    (news.root / "content/thoi-su/cho-anh").mkdir()
    Image.new("RGB", (800, 600), (90, 9, 9)).save(news.root / "content/thoi-su/cho-anh/anh.jpg", quality=80)
    mended = build_and_compare(news, tmp_path)
    assert not mended.edited and mended.held == ()
    assert "Ảnh chờ." in (news.public / "thoi-su/bai-03/index.html").read_text(encoding="utf-8")


def test_a_file_dropped_where_a_published_link_now_leads_is_the_full_builds(news, tmp_path):
    """A relative link no content file answered was read as an address (`../../feed.xml`: the site's feed). A
    file dropped at that content path is what the link names now, and it publishes nothing: the clean build
    refuses the link (LINK001) and holds the article back. Such a file is no shift (that one published the page
    with a link the clean build refuses); a file no link names, beside it, is."""
    news.write(path(5), source(5, body="Theo dõi [tin mới](../../feed.xml)."))
    build_and_compare(news, tmp_path)
    news.write("content/thoi-su/ghi-chu.txt", "Ghi chú của biên tập viên.")
    beside = build_and_compare(news, tmp_path)
    assert beside.shifted and beside.rendered == 0
    news.write("content/feed.xml", "<rss/>")
    settle()
    named = news.build(jobs=1)  # (held back at its last good version: a clean build has none to keep)
    assert not named.edited and named.held == (path(5),)
    assert [d.code for d in named.diagnostics if d.path == path(5)][0] == "LINK001"
    clean = news.build(output=tmp_path / "clean-named", use_cache=False, jobs=1)
    assert [d.code for d in clean.diagnostics if d.path == path(5)][0] == "LINK001"


def test_a_loose_photo_taken_out_again_is_a_shift_and_a_draft_showing_it_is_found_wanting(news, tmp_path):
    """A photo dropped into a folder of its own, saved again and taken out again (the wrong one) changes no
    published page: each is a shift that renders nothing. A draft that shows it is held back once it goes (HOLD002, its photo
    missing), as the clean build holds it back."""
    from PIL import Image

    folder = news.root / "content/thoi-su/anh-rieng"
    folder.mkdir(parents=True)
    Image.new("RGB", (800, 600), (9, 9, 90)).save(folder / "anh.jpg", quality=80)
    assert build_and_compare(news, tmp_path).shifted
    Image.new("RGB", (640, 480), (90, 9, 90)).save(folder / "anh.jpg", quality=80)  # (saved again, other widths)
    again = build_and_compare(news, tmp_path)
    assert again.shifted and again.rendered == 0
    (folder / "anh.jpg").unlink()
    gone = build_and_compare(news, tmp_path)
    assert gone.shifted and gone.rendered == 0 and gone.stats.written == 0
    Image.new("RGB", (800, 600), (9, 9, 90)).save(folder / "anh.jpg", quality=80)
    news.write("content/kinh-te/nhap/index.md", article(
        "Bản nháp có ảnh", date="2024-06-02 08:00", draft="true",
        photos='\n  - src: "../../thoi-su/anh-rieng/anh.jpg"\n    caption: "Ảnh mượn."'))
    build_and_compare(news, tmp_path)
    Image.new("RGB", (1200, 900), (90, 90, 9)).save(folder / "anh.jpg", quality=80)
    assert build_and_compare(news, tmp_path).shifted
    (folder / "anh.jpg").unlink()
    wanting = build_and_compare(news, tmp_path)
    assert wanting.shifted and wanting.rendered == 0
    assert "HOLD002" in [d.code for d in wanting.diagnostics if d.path == "content/kinh-te/nhap/index.md"]
