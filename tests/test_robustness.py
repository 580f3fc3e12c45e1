"""Inputs from real editors' machines: symlinks, odd file names, NFD text from macOS, line endings, BOMs, huge and
empty files. Each either builds exactly like its plain counterpart or is refused with a located error, and a
refused build leaves the previous public/ as it was."""

from __future__ import annotations

import re
import unicodedata

import pytest

from conftest import Site, article, leftovers, tree_snapshot

GOOD = article("Bài tốt", body="Nội dung tốt.")


def _build_fails_with(site: Site, code: str) -> list[str]:
    """The build reports `code`: an article's own problem holds that article back (exit 3, the rest published),
    a problem of the whole site publishes nothing (exit 1)."""
    result = site.cli("build")
    whole_site = code.startswith(("CFG", "TPL", "WRITE", "CACHE", "LOCK", "SEARCH"))
    assert result.returncode == (1 if whole_site else 3), result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    found = [ln for ln in result.stderr.splitlines() if f"[{code}]" in ln]
    assert found, result.stderr
    return found


@pytest.fixture
def built(site: Site) -> tuple[Site, dict[str, bytes]]:
    site.write("content/thoi-su/tot/index.md", GOOD)
    assert site.cli("build").returncode == 0
    return site, tree_snapshot(site.public)


# --- symlinks ----------------------------------------------------------------------------------------------

def test_symlink_to_a_file_outside_the_site_is_refused(built, tmp_path):
    site, before = built
    secret = tmp_path / "bi-mat.md"
    secret.write_text(article("Bí mật", body="Mật khẩu máy chủ"), encoding="utf-8")
    (site.root / "content/thoi-su/ngoai.md").symlink_to(secret)
    found = _build_fails_with(site, "READ003")
    assert found[0].startswith("content/thoi-su/ngoai.md: lỗi[READ003]"), found[0]
    assert tree_snapshot(site.public) == before
    assert not leftovers(site.root)
    assert b"M\xe1\xba\xadt kh\xe1\xba\xa9u" not in b"".join(before.values())


def test_symlink_to_a_folder_outside_the_site_is_refused(built, tmp_path):
    site, before = built
    outside = tmp_path / "ngoai"
    (outside / "bai").mkdir(parents=True)
    (outside / "bai/index.md").write_text(article("Ngoài"), encoding="utf-8")
    (site.root / "content/thoi-su/lien-ket").symlink_to(outside, target_is_directory=True)
    found = _build_fails_with(site, "READ003")
    assert found[0].startswith("content/thoi-su/lien-ket: lỗi[READ003]")
    assert tree_snapshot(site.public) == before


def test_photo_symlinked_from_outside_is_refused(built, tmp_path):
    site, before = built
    (tmp_path / "anh.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (site.root / "content/thoi-su/tot/anh.png").symlink_to(tmp_path / "anh.png")
    site.write("content/thoi-su/tot/index.md", article("Bài tốt", body="Đoạn.\n\n![Ảnh](anh.png)"))
    found = _build_fails_with(site, "IMG002")
    assert found[0].startswith("content/thoi-su/tot/index.md:8:")
    assert tree_snapshot(site.public) == before


@pytest.mark.parametrize("make_loop", ["parent", "self", "pair"])
def test_symlink_loops_are_reported_without_hanging(built, make_loop):
    site, before = built
    folder = site.root / "content/thoi-su"
    if make_loop == "parent":
        (folder / "vong").symlink_to(folder, target_is_directory=True)
    elif make_loop == "self":
        (folder / "tu-than").symlink_to(folder / "tu-than")
    else:
        (folder / "a").symlink_to(folder / "b")
        (folder / "b").symlink_to(folder / "a")
    found = _build_fails_with(site, "READ004")
    assert found[0].startswith("content/thoi-su/")
    assert tree_snapshot(site.public) == before


def test_symlink_inside_the_site_is_followed(site):
    site.write("chung/ban-tin.md", article("Bản tin dùng chung"))
    (site.root / "content/thoi-su").mkdir(parents=True)
    (site.root / "content/thoi-su/ban-tin.md").symlink_to(site.root / "chung/ban-tin.md")
    site.build()
    assert site.html("thoi-su/ban-tin/index.html").find(".//h1").text == "Bản tin dùng chung"


# --- file names and Unicode ---------------------------------------------------------------------------------

def test_file_names_with_spaces_and_vietnamese_letters_get_ascii_slugs(site):
    site.write("content/thoi-su/Hội nghị tổng kết Đắk Lắk.md", article("Một"))
    site.write("content/thoi-su/Bản tin sáng 29-3/index.md", article("Hai", date="2024-03-29 08:00"))
    site.build()
    assert site.html("thoi-su/hoi-nghi-tong-ket-dak-lak/index.html").find(".//h1").text == "Một"
    assert site.html("thoi-su/ban-tin-sang-29-3/index.html").find(".//h1").text == "Hai"
    for path in site.public.rglob("*"):
        assert path.relative_to(site.public).as_posix().isascii(), path


def test_nfd_names_and_text_from_macos_are_normalized_to_nfc(site):
    title = "Hội nghị tổng kết thi đua năm 2024"
    nfd = unicodedata.normalize("NFD", title)
    assert nfd != title
    site.write(f"content/{unicodedata.normalize('NFD', 'Thời sự')}/{nfd}/index.md",
               article(nfd, tags=f'["{unicodedata.normalize("NFD", "khen thưởng")}"]',
                       body=unicodedata.normalize("NFD", "Nội dung có dấu tiếng Việt.")))
    site.build()
    page = site.public / "thoi-su/hoi-nghi-tong-ket-thi-dua-nam-2024/index.html"
    text = page.read_text(encoding="utf-8")
    assert title in text and "Nội dung có dấu tiếng Việt." in text
    assert unicodedata.is_normalized("NFC", text)
    assert (site.public / "chu-de/khen-thuong/index.html").is_file()


# --- line endings and BOM: identical output ------------------------------------------------------------------

SOURCE = ('---\ntitle: "Hội nghị"\ndate: "2024-03-29 17:58"\ntags: ["thi đua"]\nsummary: "Tóm tắt."\n---\n\n'
          "Đoạn một.\n\n## Mục hai\n\n- ý một\n- ý hai\n\n```\nmã\n  thụt lề\n```\n\nNguồn: Báo tỉnh\n")


@pytest.mark.parametrize("variant", ["crlf", "cr", "mixed", "bom", "bom-crlf"])
def test_line_endings_and_bom_give_identical_output(tmp_path, variant):
    def build(name: str, text: bytes) -> dict[str, bytes]:
        s = Site(tmp_path / name)
        s.write("content/thoi-su/a/index.md", text)
        s.build()
        snap = tree_snapshot(s.public)
        snap.pop(".sitegen-output", None)  # carries a per-build token
        # The theme's assets come from the repository, which other work may touch between the two builds.
        return {k: re.sub(rb"\?v=[0-9a-f]+", b"", v) for k, v in snap.items() if not k.startswith("assets/")}

    plain = build("lf", SOURCE.encode("utf-8"))
    if variant == "crlf":
        data = SOURCE.replace("\n", "\r\n").encode()
    elif variant == "cr":
        data = SOURCE.replace("\n", "\r").encode()
    elif variant == "mixed":
        lines = SOURCE.split("\n")
        data = "".join(ln + ("\r\n" if i % 2 else "\n") for i, ln in enumerate(lines[:-1])).encode()
    elif variant == "bom":
        data = b"\xef\xbb\xbf" + SOURCE.encode()
    else:
        data = b"\xef\xbb\xbf" + SOURCE.replace("\n", "\r\n").encode()
    assert build(variant, data) == plain


def test_crlf_error_lines_match_the_editor(built):
    site, before = built
    text = '---\r\ntitle: "A"\r\ndate: "2024-01-01 10:00"\r\n---\r\n\r\nĐoạn.\r\n\r\n[hỏng](../khong-co/)\r\n'
    site.write("content/thoi-su/b/index.md", text.encode())
    found = _build_fails_with(site, "LINK001")
    assert found[0].startswith("content/thoi-su/b/index.md:8:")
    assert tree_snapshot(site.public) == before


# --- sizes: empty, front matter only, huge -------------------------------------------------------------------

def test_front_matter_only_builds_an_empty_article(site):
    site.write("content/thoi-su/a/index.md", '---\ntitle: "Chỉ có tiêu đề"\ndate: "2024-03-29 17:58"\n---\n')
    site.write("content/thoi-su/b/index.md", '---\ntitle: "Không xuống dòng"\ndate: "2024-03-29 17:00"\n---')
    site.build()
    assert site.html("thoi-su/a/index.html").find(".//h1").text == "Chỉ có tiêu đề"
    assert site.html("thoi-su/b/index.html").find(".//h1").text == "Không xuống dòng"


@pytest.mark.parametrize("text", ["", "   \n\n\t\n", "\ufeff"])
def test_empty_and_blank_files_are_reported(built, text):
    site, before = built
    site.write("content/thoi-su/rong/index.md", text)
    found = _build_fails_with(site, "META001")
    assert found[0].startswith("content/thoi-su/rong/index.md:1:")
    assert tree_snapshot(site.public) == before


def test_file_over_the_size_cap_is_refused(built):
    site, before = built
    site.write("site.toml", "max_file_bytes = 50000\n")
    site.write("content/thoi-su/lon/index.md", article("Lớn", body="chữ " * 20000))
    found = _build_fails_with(site, "READ002")
    assert found[0].startswith("content/thoi-su/lon/index.md: lỗi[READ002]")
    assert "max_file_bytes" in found[0]
    assert tree_snapshot(site.public) == before


def test_large_article_under_the_cap_builds(site):
    paragraphs = "\n\n".join(f"Đoạn {i}: " + "tỉnh tổ chức hội nghị tổng kết " * 30 for i in range(1100))
    site.write("content/thoi-su/dai/index.md", article("Bài rất dài", body=paragraphs))
    assert (site.root / "content/thoi-su/dai/index.md").stat().st_size > 1_000_000
    site.build()
    text = (site.public / "thoi-su/dai/index.html").read_text(encoding="utf-8")
    assert "Đoạn 1099:" in text


def test_editor_temporary_files_are_ignored(site):
    site.write("content/thoi-su/a/index.md", article("Thật"))
    site.write("content/thoi-su/.a.md.swp", b"\x00binary swap")
    site.write("content/thoi-su/b.md~", "rác")
    site.write("content/thoi-su/.~lock.c.md#", "khóa")
    site.build()
    assert site.html("thoi-su/a/index.html").find(".//h1").text == "Thật"


# --- paths from front matter can never leave the site ------------------------------------------------------

@pytest.mark.parametrize("field,value,code", [
    ("template", '"../../../etc/passwd"', "META005"),
    ("template", '"/etc/passwd.html"', "META005"),
    ("image", '"/etc/passwd"', "IMG002"),
    ("image", '"..%2F..%2F..%2Fsite.toml"', "IMG002"),
    ("image", '"file:///etc/passwd"', "IMG002"),
    ("aliases", '["/a/../../../ra-ngoai.html"]', "ROUTE004"),
    ("aliases", '["..\\\\..\\\\x.html"]', "ROUTE004"),
])
def test_paths_in_front_matter_cannot_leave_the_site(built, tmp_path, field, value, code):
    site, before = built
    site.write("content/thoi-su/x/index.md", article("X", **{field: value}))
    found = _build_fails_with(site, code)
    assert found[0].startswith("content/thoi-su/x/index.md:4:"), found[0]
    assert tree_snapshot(site.public) == before
    assert sorted(p.name for p in site.root.parent.iterdir()) == ["site"]


def test_slug_with_dots_and_slashes_stays_inside_public(site):
    site.write("content/thoi-su/x/index.md", article("X", slug='"../../../etc/x"'))
    site.build()
    assert (site.public / "thoi-su/etc-x/index.html").is_file()
    assert sorted(p.name for p in site.root.parent.iterdir()) == ["site"]


def test_a_body_read_again_must_be_the_file_that_was_validated(site):
    """The build keeps no article bodies in memory; Markdown workers read each file again and must notice a
    file saved in between (READ005) rather than publish a body that does not match its front matter."""
    from sitegen.content import read
    from sitegen.diagnostics import Reporter

    path = site.write("content/thoi-su/bai/index.md", article("Bài", body="Đoạn một.\n\nĐoạn hai."))
    doc = read.load_one(path, "content/thoi-su/bai/index.md", True, 10**6, Reporter())
    assert read.body_of(path, doc.digest, doc.body_line) == doc.body
    path.write_text(path.read_text(encoding="utf-8") + "\nThêm.\n", encoding="utf-8")
    assert read.body_of(path, doc.digest, doc.body_line) is None
