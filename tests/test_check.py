"""`sitegen check` and the reference checks it shares with `build`: internal links and anchors (found, rewritten
from content paths to permalinks, or reported at their Markdown line), duplicate URLs and aliases, missing alt
text, undeclared categories. `check` never writes anything; its exit status says whether errors were found."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from conftest import article, leftovers, tree_snapshot

A = "content/thoi-su/a/index.md"
B = "content/thoi-su/b/index.md"
C = "content/kinh-te/c.md"
TOML = '[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n\n[[categories]]\nname = "Kinh tế"\nslug = "kinh-te"\n'
B_TEXT = article("Bài B", date="2024-03-02 10:00", body="Mở đầu.\n\n## Kết quả hội nghị\n\nNội dung.")
C_TEXT = article("Bài C", date="2024-03-03 10:00", body="Bài một tệp.")


def png(width: int = 12, height: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def whole_folder(root: Path) -> dict[str, bytes]:
    """Every file of the site folder except the build cache (.sitegen/), which is not part of the site."""
    return {k: v for k, v in tree_snapshot(root).items() if not k.startswith(".sitegen/")}


def linked_site(site, body: str, **fields):
    site.write("site.toml", TOML)
    site.write(A, article("Bài A", date="2024-03-01 10:00", body=body, **fields))
    site.write(B, B_TEXT)
    site.write(C, C_TEXT)
    return site


def hrefs(site, rel: str) -> list[str]:
    doc = site.html(rel)
    body = doc.find(".//div[@class='article-body']")
    return [a.get("href") for a in body.iter("a")]


def findings(stderr: str, code: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if f"[{code}]" in ln]


# --- links between articles -------------------------------------------------------------------------------

@pytest.mark.parametrize("written,expected", [
    ("../b/index.md", "/thoi-su/b/"),
    ("../b/", "/thoi-su/b/"),
    ("../b", "/thoi-su/b/"),
    ("./../b/index.md#ket-qua-hoi-nghi", "/thoi-su/b/#ket-qua-hoi-nghi"),
    ("../../kinh-te/c.md", "/kinh-te/c/"),
    ("<../../kinh-te/c.md>", "/kinh-te/c/"),
])
def test_links_to_content_files_become_permalinks(site, written, expected):
    linked_site(site, f"Xem [bài khác]({written}).")
    result = site.build()
    assert not [d for d in result.diagnostics if d.code.startswith("LINK")], result.diagnostics
    assert hrefs(site, "thoi-su/a/index.html") == [expected]


def test_rewritten_links_follow_the_base_path_and_permalink(site):
    linked_site(site, "Xem [B](../b/index.md) và [C](../../kinh-te/c.md#top).")
    site.write("content/kinh-te/c.md", article("Bài C", date="2024-03-03 10:00", body='<p id="top">Đầu.</p>'))
    site.write("site.toml", 'base_url = "https://tinh.gov.vn/tin-tuc/"\npermalink = "{year}/{month}/{slug}/"\n' + TOML)
    site.build()
    assert hrefs(site, "2024/03/a/index.html") == ["/tin-tuc/2024/03/b/", "/tin-tuc/2024/03/c/#top"]


def test_url_links_that_exist_are_left_alone(site):
    body = ("[chuyên mục](/kinh-te/) [trang chủ](/) [chủ đề](../../chu-de/) [tin](/thoi-su/b/) "
            "[ngoài](https://example.org/x) [thư](mailto:a@b.vn) [mục](#gioi-thieu) [ảnh](anh.png)\n\n"
            "## Giới thiệu\n\n![Ảnh đẹp](anh.png)")
    linked_site(site, body)
    site.write("content/thoi-su/a/anh.png", png())
    result = site.build()
    assert [d for d in result.diagnostics if d.code.startswith("LINK")] == []
    found = hrefs(site, "thoi-su/a/index.html")
    assert found[:7] == ["/kinh-te/", "/", "../../chu-de/", "/thoi-su/b/", "https://example.org/x",
                         "mailto:a@b.vn", "#gioi-thieu"]
    assert found[7].startswith("/thoi-su/a/anh")  # the photo's published copy, whatever its file name
    assert (site.public / found[7].lstrip("/")).is_file()


@pytest.mark.parametrize("body,line,href", [
    ("Dòng một.\n\nXem [bài](../khong-co/index.md).", 8, "../khong-co/index.md"),
    ("Xem [bài](../../kinh-te/khong-co.md).", 6, "../../kinh-te/khong-co.md"),
    ("Một.\n\nHai.\n\n[trang](/khong-co/)", 10, "/khong-co/"),
    ("[tương đối](../../khong-co/)", 6, "../../khong-co/"),
    ("[ra ngoài](../../../../x/)", 6, "../../../../x/"),
    ("[tuyệt đối](http://localhost:8000/thoi-su/zzz/)", 6, "http://localhost:8000/thoi-su/zzz/"),
    ("[tệp](tai-lieu.pdf)", 6, "tai-lieu.pdf"),
    ("Đoạn.\n\n[tham chiếu][r]\n\n[r]: ../mat/", 10, "../mat/"),
])
def test_broken_internal_link_is_an_error_at_its_line(site, body, line, href):
    linked_site(site, "Nội dung.")
    site.write("content/thoi-su/a/tai-lieu.pdf", b"%PDF-1.4")
    assert site.cli("build").returncode == 0
    before = tree_snapshot(site.public)
    site.write(A, article("Bài A", date="2024-03-01 10:00", body=body))
    result = site.cli("build")
    assert result.returncode == 3, result.stderr  # published, with A held back at its last good version
    found = findings(result.stderr, "LINK001")
    assert len(found) == 1, result.stderr
    assert found[0].startswith(f"{A}:{line}: lỗi[LINK001]: liên kết '{href}' hỏng"), found[0]
    assert "cách sửa:" in found[0]
    assert f"{A}: cảnh báo[HOLD001]: bài vừa sửa có 1 lỗi: trang vẫn giữ bản đã xuất bản lần trước" in result.stderr
    assert tree_snapshot(site.public) == before  # nothing else changed, and A's page is the one published before
    assert not leftovers(site.root)


def test_second_identical_broken_link_gets_its_own_line(site):
    linked_site(site, "[x](../mat/)\n\nĐoạn.\n\n[x](../mat/)")
    result = site.cli("check")
    assert [ln.split(": ")[0] for ln in findings(result.stderr, "LINK001")] == [f"{A}:6", f"{A}:10"]


def test_missing_anchor_is_a_warning_and_strict_makes_it_an_error(site):
    linked_site(site, "[neo](../b/index.md#khong-co)\n\n[tự neo](#cung-khong)\n\n[đúng](../b/#ket-qua-hoi-nghi)")
    result = site.cli("build")
    assert result.returncode == 0, result.stderr
    found = findings(result.stderr, "LINK002")
    assert [f.split(": cảnh báo")[0] for f in found] == [f"{A}:6", f"{A}:8"]
    assert "#khong-co" in found[0] and B in found[0]
    strict = site.cli("check", "--strict")
    assert strict.returncode == 1
    assert f"{A}:6: lỗi[LINK002]" in strict.stderr


def test_link_to_draft_is_a_warning_naming_it(site):
    linked_site(site, "[nháp](../../kinh-te/nhap.md)")
    site.write("content/kinh-te/nhap.md", article("Nháp", draft="true"))
    result = site.cli("check")
    assert result.returncode == 0
    assert findings(result.stderr, "LINK003")[0].startswith(f"{A}:6: cảnh báo[LINK003]")


def test_a_link_to_a_draft_whose_address_is_taken_is_a_warning_not_a_crash(site):
    """Drafts are validated as if published now (build.ahead): one wanting a published page's address has no page,
    and another draft linking to its file is told the target is not published. It was a traceback."""
    linked_site(site, "Bài A.")
    site.write("content/thoi-su/nhap/index.md", article("Nháp", draft="true", slug="b"))  # B's address
    site.write("content/thoi-su/nhap-2/index.md", article("Nháp hai", draft="true", body="Xem [nháp](../nhap/)."))
    checked = site.cli("check")
    assert checked.returncode == 0 and "Traceback" not in checked.stderr, checked.stderr
    assert findings(checked.stderr, "LINK003")[0].startswith("content/thoi-su/nhap-2/index.md:7: cảnh báo[LINK003]")
    assert findings(checked.stderr, "ROUTE001")[0].startswith("content/thoi-su/nhap/index.md:")
    built = site.cli("build")
    assert built.returncode == 0 and "Traceback" not in built.stderr, built.stderr
    assert [f.split(":")[0] for f in findings(built.stderr, "HOLD002")] == ["content/thoi-su/nhap/index.md"]


def test_links_in_code_are_not_links(site):
    linked_site(site, "```\n[không phải liên kết](../mat/)\n```\n\n`[x](../mat/)`")
    assert site.cli("check").returncode == 0


# --- links to a photo's published variants -------------------------------------------------------------------

PHOTO_A = "content/thoi-su/a/anh.jpg"


def wide_jpeg(size: tuple[int, int] = (1700, 850), noise: bool = False) -> bytes:
    """Wider than every default width (480, 960, 1600): each makes a JPEG and a WebP, plus the social card."""
    out = io.BytesIO()
    w, h = size
    im = Image.frombytes("RGB", size, os.urandom(w * h * 3)) if noise else Image.new("RGB", size, (30, 120, 60))
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


def variants_site(site, targets: list[str], shared: bool = False):
    """A shows its photo (featured: it has a social card too), B links to `targets`; C shows A's photo as well
    when `shared` (its own copy, beside its own page). C is newer than A: it comes first in site order."""
    site.write("site.toml", TOML)
    site.write(PHOTO_A, wide_jpeg())
    site.write(A, article("Bài A", date="2024-03-01 10:00", photos='[{src: "anh.jpg", caption: "Quang cảnh"}]'))
    site.write(C, article("Bài C", date="2024-03-03 10:00", body="![Ảnh dùng chung](../thoi-su/a/anh.jpg)")
               if shared else C_TEXT)
    site.write(B, article("Bài B", date="2024-03-02 10:00",
                          body="\n\n".join(f"Xem [bản {n}]({t})." for n, t in enumerate(targets))))
    return site


@pytest.mark.parametrize("shared, targets", [
    (False, ["/thoi-su/a/anh-960.jpg", "/thoi-su/a/anh-480.jpg", "/thoi-su/a/anh-1600.jpg", "/thoi-su/a/anh-480.webp",
             "/thoi-su/a/anh-1600.webp", "/thoi-su/a/anh-og.jpg", "/thoi-su/a/anh-960.jpg?v=2"]),
    # Each article that shows a photo publishes its own copy: a link to either one's is to a published file.
    (True, ["/thoi-su/a/anh-1600.jpg", "/kinh-te/c/anh-1600.jpg", "/kinh-te/c/anh-960.jpg", "/kinh-te/c/anh-480.webp",
            "/thoi-su/a/anh-960.webp"]),
], ids=["one-article", "shared-photo"])
def test_a_link_to_any_published_variant_of_a_photo_is_fine(site, shared, targets):
    variants_site(site, targets, shared)
    result = site.build()
    assert [d for d in result.diagnostics if d.code.startswith(("LINK", "HOLD"))] == []
    assert hrefs(site, "thoi-su/b/index.html") == targets  # B is published, its links as written
    assert all((site.public / t.split("?")[0].lstrip("/")).is_file() for t in targets)


@pytest.mark.parametrize("href", ["/thoi-su/a/anh-123.jpg", "/thoi-su/a/anh-960.png", "/thoi-su/a/anh-og.webp",
                                  "/thoi-su/a/anh.jpg", "/kinh-te/c/anh-960.jpg", "/thoi-su/a/hong-480.jpg"])
def test_a_link_to_a_variant_no_one_publishes_is_still_broken(site, href):
    """No such width or format, the camera original, the copy of an article that does not show the photo, a photo
    that could not be made (left out, with its warning): no file there, B is held back."""
    variants_site(site, [href])
    site.write("content/thoi-su/a/hong.jpg", wide_jpeg((600, 400), noise=True)[:20_000])  # header fine, data cut
    site.write(A, article("Bài A", date="2024-03-01 10:00", photos='[{src: "anh.jpg", caption: "Quang cảnh"}]',
                          body="![Ảnh hỏng](hong.jpg)"))
    result = site.build()
    assert [(d.path, d.code) for d in result.diagnostics if d.code.startswith("IMG")] == [(A, "IMG003")]
    assert [(d.path, d.line, d.code) for d in result.diagnostics if d.code.startswith("LINK")] == [(B, 6, "LINK001")]
    assert f"liên kết '{href}' hỏng: không có trang nào ở địa chỉ này" in str(result.diagnostics)
    assert not (site.public / "thoi-su/b").exists() and (site.public / "thoi-su/a/anh-960.jpg").is_file()


def test_a_variant_no_longer_published_is_found_broken_though_the_linking_article_did_not_change(site):
    """A's photo stops being its featured one: no social card any more, every other variant as it was. B's link
    check, remembered by the build cache, must be made again."""
    variants_site(site, ["/thoi-su/a/anh-og.jpg"])
    assert [d for d in site.build().diagnostics if d.code.startswith("LINK")] == []
    site.write(A, article("Bài A", date="2024-03-01 10:00", body="![Quang cảnh](anh.jpg)"))
    result = site.build()
    assert [(d.path, d.line, d.code) for d in result.diagnostics if d.code.startswith("LINK")] == [(B, 6, "LINK001")]
    assert not (site.public / "thoi-su/a/anh-og.jpg").exists() and (site.public / "thoi-su/a/anh-1600.jpg").is_file()


# --- check: the whole site, nothing written --------------------------------------------------------------

def test_check_writes_nothing_and_lists_everything_sorted(site):
    site.write("site.toml", TOML)
    site.write("content/thoi-su/z/index.md", article("Z", body="[hỏng](../mat/)"))
    site.write("content/thoi-su/m/index.md", '---\ntitle: "M"\ndate: "sai"\n---\nx\n')
    site.write("content/the-thao/a/index.md", article("Thể thao", body="![](anh.png)"))
    site.write("content/the-thao/a/anh.png", png())
    site.write("content/thoi-su/dup1/index.md", article("Trùng 1", slug='"trung"'))
    site.write("content/thoi-su/dup2/index.md", article("Trùng 2", slug='"trung"'))
    before = whole_folder(site.root)
    result = site.cli("check")
    assert whole_folder(site.root) == before
    assert not site.public.exists()
    assert result.returncode == 3  # a build would publish, holding back the articles with errors
    assert "bài sẽ bị giữ lại" in result.stdout
    lines = [ln for ln in result.stderr.splitlines() if "[" in ln and "]: " in ln]
    def where(ln: str) -> tuple[str, int]:
        path, _, rest = ln.partition(":")
        line = rest.split(":")[0]
        return path, int(line) if line.isdigit() else 0

    assert lines == sorted(lines, key=where)
    codes = {ln.split("[")[1].split("]")[0] for ln in lines}
    # One run, every problem: a route collision no longer hides the broken link. (An article whose front matter
    # is invalid, here its category, is not read further: its photo's missing alt text comes once that is fixed.)
    assert {"META003", "META004", "ROUTE001", "LINK001", "HOLD001"} <= codes, result.stderr
    site.write("content/thoi-su/dup2/index.md", article("Trùng 2"))
    site.write("content/thoi-su/m/index.md", article("M"))
    site.write("content/the-thao/a/index.md", article("Thể thao", body="![](anh.png)", category='"Thời sự"'))
    result = site.cli("check")
    codes = [ln.split("[")[1].split("]")[0] for ln in result.stderr.splitlines() if "]: " in ln]
    assert sorted(codes) == ["HOLD001", "IMG006", "LINK001"], result.stderr
    assert result.returncode == 3 and not site.public.exists()


def test_check_exit_status(site):
    site.write("site.toml", TOML)
    site.write("content/thoi-su/a/index.md", article("A"))
    ok = site.cli("check")
    assert ok.returncode == 0 and "không có lỗi, 0 cảnh báo" in ok.stdout
    site.write("content/thoi-su/b/index.md", article("B", body="![](anh.png)"))  # no alt text: a warning
    site.write("content/thoi-su/b/anh.png", png())
    warn = site.cli("check")
    assert warn.returncode == 0 and "1 cảnh báo" in warn.stdout
    assert findings(warn.stderr, "IMG006")[0].startswith("content/thoi-su/b/index.md:")
    assert site.cli("check", "--strict").returncode == 1
    site.write("content/moi/c/index.md", article("C"))  # category not in site.toml: an error
    error = site.cli("check")
    assert error.returncode == 3  # a build would hold that article back and publish the rest
    assert findings(error.stderr, "META004")[0].startswith("content/moi/c/index.md:1: lỗi[META004]")
    assert "1 bài sẽ bị giữ lại" in error.stdout


def test_duplicate_slugs_name_both_files(site):
    site.write("content/thoi-su/x/index.md", article("X", slug='"cung-ten"'))
    site.write("content/thoi-su/y/index.md", article("Y", slug='"Cung-Ten"'))
    result = site.cli("check")
    assert result.returncode == 3
    line = findings(result.stderr, "ROUTE001")[0]
    assert "content/thoi-su/x/index.md" in line and "content/thoi-su/y/index.md" in line
    assert line.startswith("content/thoi-su/y/index.md:4: lỗi[ROUTE001]"), line  # the line of its slug:


@pytest.mark.parametrize("aliases_x,aliases_y", [
    ('["/cu/bai.html"]', '["/cu/bai.html"]'),  # two articles claim one old URL
    ('["/thoi-su/y/"]', None),  # an alias over another article's page
])
def test_colliding_aliases_are_errors(site, aliases_x, aliases_y):
    site.write("content/thoi-su/x/index.md", article("X", aliases=aliases_x))
    extra = {"aliases": aliases_y} if aliases_y else {}
    site.write("content/thoi-su/y/index.md", article("Y", date="2024-03-30 08:00", **extra))
    result = site.cli("check")
    assert result.returncode == 3
    assert findings(result.stderr, "ROUTE001"), result.stderr
    # The newer article is the one held back: the older one keeps the address readers know.
    assert "content/thoi-su/y/index.md: cảnh báo[HOLD001]" in result.stderr, result.stderr


# --- alt text ----------------------------------------------------------------------------------------------

def test_photos_without_alt_or_caption_are_warned_at_their_line(site):
    site.write("content/thoi-su/a/anh.png", png())
    site.write("content/thoi-su/a/hai.png", png())
    site.write(A, '---\ntitle: "A"\ndate: "2024-03-01 10:00"\nphotos:\n  - src: "anh.png"\n'
                  '  - src: "hai.png"\n    alt: "Mô tả"\n---\n\nĐoạn.\n\n![](anh.png)\n\n![](hai.png)\n\n![Có chú thích](anh.png)\n')
    result = site.cli("check")
    assert result.returncode == 0
    assert [ln.split(": cảnh báo")[0] for ln in findings(result.stderr, "IMG006")] == [f"{A}:5", f"{A}:12"]
    assert site.cli("check", "--strict").returncode == 1
