"""Issue 16, no silent typos: `sitegen new` writes drafts and a placeholder body never publishes; a misspelled
category is an error of its article that names the nearest real one; typos in site.toml are errors, and the
`init` placeholder base_url a warning; the FM002 hint fits a value that already has quotes; photo names match
whatever Unicode form the disk writes them in; conflicting captions and duplicate headlines are said.

Everything runs through the `sitegen` command on real files, and asserts the exact lines editors read."""

from __future__ import annotations

import contextlib
import io
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from PIL import Image

from conftest import article, parse_html, run_cli, text_of

from sitegen import cli
from sitegen.content.read import CHECKED_LATER
from sitegen.scaffold import PLACEHOLDER_BODY

GUIDE = "[xem: sitegen help {}]"
HELD = 3  # exit status: published, with the article that has the error held back (build/hold.py)
CATEGORIES = ("Thời sự", "Kinh tế", "Văn hóa - Xã hội", "Thi đua - Khen thưởng")
TOML = 'base_url = "https://tinh.example/"\n' + "".join(f'\n[[categories]]\nname = "{c}"\n' for c in CATEGORIES)
PLACEHOLDER = " ".join(PLACEHOLDER_BODY.split())


def lines_of(stderr: str, code: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if f"[{code}]: " in ln]


def png(width: int = 640, height: int = 360) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 200)).save(out, "PNG")
    return out.getvalue()


def in_process(*argv: str) -> tuple[int, str]:
    """(exit status, stderr) of the `sitegen` command run in this process: for the property tests, where a
    subprocess per example would take minutes."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(list(argv))
    return status, err.getvalue()


# --- 1. drafts by default; a placeholder body never publishes ----------------------------------------------

def test_new_writes_a_draft_that_publishes_only_when_the_editor_says_so(site):
    site.write("site.toml", TOML)
    made = site.cli("new", "Hội nghị tổng kết thi đua", "-c", "thi-dua-khen-thuong")
    assert made.returncode == 0, made.stderr
    assert made.stderr.splitlines()[-1] == (
        "Bài mới là bài nháp (draft: true): chỉ hiện khi xem thử, chưa đăng. Viết xong nội dung, xóa dòng "
        "'draft: true' ở đầu tệp (hoặc sửa thành draft: false) để bài lên trang ở lần dựng tiếp theo.")
    path = Path.cwd() / made.stdout.strip()
    rel = path.resolve().relative_to(site.root.resolve()).as_posix()
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[:4] == [
        "---",
        "# Bài nháp: chỉ hiện khi xem thử (sitegen serve), chưa đăng.",
        "# Viết xong, xóa dòng draft: true (hoặc sửa thành draft: false) để đăng.",
        "draft: true",
    ]
    page = site.public / "thi-dua-khen-thuong/hoi-nghi-tong-ket-thi-dua/index.html"

    # As written: the site builds (with --strict too), the draft stays out and nobody is told off for it.
    for args in (("build",), ("build", "--strict"), ("check", "--strict")):
        result = site.cli(*args)
        assert result.returncode == 0 and "[BODY001]" not in result.stderr, (args, result.stderr)
    assert site.public.is_dir() and not page.exists()

    # The draft line removed while the body is still the placeholder: an error of that article, everywhere.
    body_line = text.splitlines().index(PLACEHOLDER_BODY.strip())  # 0-based index = 1-based line - 1
    path.write_text(text.replace("draft: true\n", ""), encoding="utf-8")
    expected = (f"{rel}:{body_line}: lỗi[BODY001]: nội dung bài vẫn là câu mẫu của sitegen new ('{PLACEHOLDER}'): "
                "bài này không được đăng (cách sửa: viết nội dung bài thay cho câu mẫu; chưa viết xong thì ghi lại "
                "dòng draft: true ở phần đầu) " + GUIDE.format("BODY001"))
    for args in (("check",), ("check", "--strict"), ("build",)):
        result = site.cli(*args)
        assert result.returncode == (1 if "--strict" in args else HELD), (args, result.stderr)
        assert lines_of(result.stderr, "BODY001") == [expected], result.stderr
    assert not page.exists()

    # Written: published.
    path.write_text(text.replace("draft: true\n", "").replace(PLACEHOLDER_BODY, "Sáng nay, hội nghị đã họp.\n"),
                    encoding="utf-8")
    result = site.cli("build", "--strict")
    assert result.returncode == 0, result.stderr
    assert text_of(parse_html(page.read_bytes()).find(".//h1")) == "Hội nghị tổng kết thi đua"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["", " ", "  ", "\t", "\r", "\n", "\n\n"]), min_size=4, max_size=4),
       st.sampled_from([None, "false"]))
def test_a_placeholder_body_in_any_whitespace_never_publishes(tmp_path, spaces, draft):
    # Trailing spaces, Windows line ends, blank lines around it: still the placeholder, still refused.
    words = PLACEHOLDER_BODY.strip().split(" ")
    cut = len(words) // 2
    body = (spaces[0] + " ".join(words[:cut]) + (spaces[1] if spaces[1].strip(" \t") else " ")
            + " ".join(words[cut:]) + spaces[2] + spaces[3])
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "site.toml").write_text(TOML, encoding="utf-8")
    fields = {"category": '"Thời sự"'} | ({"draft": draft} if draft else {})
    text = "\n".join(["---", 'title: "Bài"', 'date: "2024-03-29 17:58"', *(f"{k}: {v}" for k, v in fields.items()),
                      "---", ""]) + body
    (root / "content/thoi-su/bai").mkdir(parents=True)
    (root / "content/thoi-su/bai/index.md").write_bytes(text.encode("utf-8"))
    status, stderr = in_process("check", "--source", str(root))
    assert status == HELD
    found = lines_of(stderr, "BODY001")
    assert len(found) == 1 and found[0].startswith("content/thoi-su/bai/index.md:") and ": lỗi[BODY001]: " in found[0]


def test_a_placeholder_left_in_a_written_body_is_a_warning(site):
    site.write("site.toml", TOML)
    site.write("content/thoi-su/bai/index.md",
               article("Bài", body=f"Đoạn đã viết.\n\n{PLACEHOLDER_BODY}\nĐoạn nữa.", category='"Thời sự"'))
    result = site.cli("build")
    assert result.returncode == 0, result.stderr
    assert lines_of(result.stderr, "BODY001") == [
        f"content/thoi-su/bai/index.md:9: cảnh báo[BODY001]: câu mẫu của sitegen new ('{PLACEHOLDER}') vẫn còn "
        "trong nội dung bài (cách sửa: xóa dòng này) " + GUIDE.format("BODY001")]
    assert (site.public / "thoi-su/bai/index.html").is_file()


# --- 2. a misspelled category is an error of its article --------------------------------------------------

def test_misspelled_category_is_an_error_naming_the_nearest_and_adds_no_menu_item(site):
    site.write("site.toml", TOML)
    rel = "content/thi-dua-khen-thuong/2024/hoi-nghi/index.md"
    site.write(rel, article("Hội nghị", category='"Thi đau - Khen thưởng"'))
    site.write("content/thoi-su/khac/index.md", article("Tin khác", category='"Thời sự"'))
    expected = (f"{rel}:4: lỗi[META004]: chuyên mục 'Thi đau - Khen thưởng' không có trong site.toml (cách sửa: sửa "
                'thành category: "Thi đua - Khen thưởng"; cần chuyên mục mới thì nhờ quản trị thêm [[categories]] '
                'name = "Thi đau - Khen thưởng" vào site.toml) ' + GUIDE.format("META004"))
    for args in (("check",), ("build",)):  # the cron runs without --strict: an error all the same
        result = site.cli(*args)
        assert result.returncode == HELD  # that article is held back; the rest publishes
        assert lines_of(result.stderr, "META004") == [expected], result.stderr
    assert not (site.public / "thi-dau-khen-thuong").exists()
    published = [p for p in site.public.rglob("*.html")] if site.public.exists() else []
    assert not any("Thi đau" in p.read_text(encoding="utf-8") for p in published)


@pytest.mark.parametrize("written", ['"Thời Sư"', '"THỜI SỰ"', '"thoi su"', '"thoi-su"', '"  thời   sự "'])
def test_case_and_diacritics_that_keep_the_slug_are_the_same_category(site, written):
    # The guide's old example of a typo ("Thời Sư") is the same category, as the guide now says.
    site.write("site.toml", TOML)
    site.write("content/x/bai.md", article("Bài", category=written))
    result = site.cli("build", "--strict")
    assert result.returncode == 0, result.stderr
    assert (site.public / "thoi-su/bai/index.html").is_file()


def test_an_article_in_an_unknown_folder_without_category_is_told_where_to_go(site):
    site.write("site.toml", TOML)
    site.write("content/kinhte/bai/index.md", article("Bài"))
    result = site.cli("check")
    assert result.returncode == HELD
    assert lines_of(result.stderr, "META004") == [
        "content/kinhte/bai/index.md:1: lỗi[META004]: bài nằm trong thư mục 'kinhte', không phải thư mục của một "
        'chuyên mục trong site.toml (cách sửa: thêm category: "Kinh tế" vào phần đầu, hoặc chuyển bài vào thư mục '
        "content/kinh-te/) " + GUIDE.format("META004")]


def test_without_categories_in_site_toml_a_new_name_makes_a_category(site):
    site.write("site.toml", 'base_url = "https://tinh.example/"\n')
    site.write("content/x/bai.md", article("Bài", category='"Nông nghiệp"'))
    result = site.cli("build", "--strict")
    assert result.returncode == 0, result.stderr
    assert (site.public / "nong-nghiep/bai/index.html").is_file()


SYLLABLES = ["thời", "sự", "kinh", "tế", "văn", "hóa", "xã", "hội", "giáo", "dục", "y", "thi", "đua", "khen",
             "thưởng", "quốc", "phòng", "an", "ninh", "du", "lịch", "nông", "nghiệp", "đời", "sống", "pháp", "luật",
             "thể", "thao", "biển", "đảo", "người", "tốt", "việc", "chuyển", "đổi", "số", "môi", "trường"]
NAME = st.lists(st.sampled_from(SYLLABLES), min_size=1, max_size=4).map(lambda w: " ".join(w).capitalize())


def _bare(text: str) -> str:
    nfd = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(c for c in nfd if not unicodedata.combining(c))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(NAME, min_size=1, max_size=8, unique_by=_bare), st.data())
def test_a_category_with_a_diacritic_dropped_and_case_changed_is_suggested_first(tmp_path, names, data):
    # Slugs of their own ("cm-0"...), so that a name without its diacritics is not simply accepted by its slug.
    meant = data.draw(st.sampled_from(names))
    marks = [i for i, c in enumerate(unicodedata.normalize("NFD", meant)) if unicodedata.combining(c) or c in "đĐ"]
    assume(marks)
    nfd = unicodedata.normalize("NFD", meant)
    at = data.draw(st.sampled_from(marks))
    typo = nfd[:at] + ("d" if nfd[at] in "đĐ" else "") + nfd[at + 1:]
    flips = data.draw(st.lists(st.booleans(), min_size=len(typo), max_size=len(typo)))
    typo = unicodedata.normalize("NFC", "".join(c.swapcase() if f else c for c, f in zip(typo, flips)))
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / "content/x").mkdir(parents=True)
    toml = 'base_url = "https://tinh.example/"\n' + "".join(
        f'[[categories]]\nname = "{n}"\nslug = "cm-{i}"\n' for i, n in enumerate(names))
    (root / "site.toml").write_text(toml, encoding="utf-8")
    (root / "content/x/bai.md").write_text(article("Bài", category=f'"{typo}"'), encoding="utf-8")
    status, stderr = in_process("check", "--source", str(root))
    found = lines_of(stderr, "META004")
    assert status == HELD and len(found) == 1, stderr
    assert f'(cách sửa: sửa thành category: "{meant}"' in found[0], (typo, found[0])


# --- 3. typos in site.toml --------------------------------------------------------------------------------

def test_unknown_keys_are_errors_with_did_you_mean_all_in_one_run(site):
    site.write("site.toml", 'title = "Tin tức"\nbase_ulr = "https://tinh.example/"\n\n[params]\ntagline = "x"\n'
                            'per_page = 5\n\n[[categories]]\nname = "Thời sự"\ndescripton = "Tin trong tỉnh"\n')
    site.write("content/thoi-su/bai/index.md", article("Bài"))
    result = site.cli("build")
    assert result.returncode == 2
    assert lines_of(result.stderr, "CFG004") == [
        "site.toml:2: lỗi[CFG004]: sitegen không biết khóa 'base_ulr' (cách sửa: có phải ý bạn là 'base_url'? Sửa "
        "tên cho đúng) " + GUIDE.format("CFG004"),
        "site.toml:6: lỗi[CFG004]: tùy chọn 'per_page' nằm trong bảng [params] nên không có tác dụng (cách sửa: "
        "'per_page' là tùy chọn chung: chuyển dòng này lên trên mọi bảng [..] và [[..]] (các dòng đứng sau tên bảng "
        "thuộc về bảng đó)) " + GUIDE.format("CFG004"),
        "site.toml:10: lỗi[CFG004]: sitegen không biết khóa 'descripton' trong bảng [[categories]] (cách sửa: có "
        "phải ý bạn là 'description'? Sửa tên cho đúng) " + GUIDE.format("CFG004"),
    ]
    assert not site.public.exists()


def test_a_mistyped_site_folder_builds_nothing_there(tmp_path):
    """`--source` naming no folder (a typo in a cron line) is an error, not an empty site made there that an upload
    would then publish in place of the portal; `check` says the same."""
    from conftest import run_cli
    missing = tmp_path / "cong-tin-tinh"
    for command in ("build", "check"):
        result = run_cli(command, "--source", str(missing))
        assert result.returncode == 2, result.stderr
        assert lines_of(result.stderr, "CFG006") == [
            f"site.toml: lỗi[CFG006]: không có thư mục trang {missing} (cách sửa: kiểm tra đường dẫn sau --source: "
            "thư mục chứa site.toml và content/ (tạo trang mới bằng sitegen init)) " + GUIDE.format("CFG006")]
        assert not missing.exists()


@pytest.mark.parametrize("toml,expected", [
    ('title = "A"\nper_page = 5\ntitle = "B"\n',
     "site.toml:3: lỗi[CFG001]: khóa 'title' được ghi hai lần (dòng 1 và dòng 3) (cách sửa: giữ một dòng với giá trị "
     "đúng, xóa dòng còn lại (mỗi khóa chỉ có một giá trị))"),
    ('[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\nname = "Kinh tế"\n',
     "site.toml:4: lỗi[CFG001]: khóa 'name' được ghi hai lần (dòng 2 và dòng 4) (cách sửa: giữ một dòng với giá trị "
     "đúng, xóa dòng còn lại (mỗi khóa chỉ có một giá trị))"),
    ('[categories]\nname = "Thời sự"\n\n[categories]\nname = "Kinh tế"\n',
     "site.toml:4: lỗi[CFG001]: bảng [categories] được khai báo hai lần (dòng 1 và dòng 4) (cách sửa: mỗi chuyên "
     "mục mở bằng [[categories]] (hai cặp ngoặc vuông), không phải [categories])"),
])
def test_a_duplicated_key_is_explained_in_vietnamese(site, toml, expected):
    site.write("site.toml", toml)
    result = site.cli("check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert lines_of(result.stderr, "CFG001") == [expected + " " + GUIDE.format("CFG001")]


def test_the_init_placeholder_base_url_warns_and_fails_strict_builds(tmp_path):
    root = tmp_path / "moi"
    assert run_cli("init", str(root)).returncode == 0
    line = next(n for n, text in enumerate((root / "site.toml").read_text(encoding="utf-8").splitlines(), 1)
                if text.startswith("base_url = "))
    warning = (f"site.toml:{line}: cảnh báo[CFG005]: base_url vẫn là địa chỉ mẫu http://localhost:8000/ do sitegen "
               "init ghi: địa chỉ chuẩn (canonical), nguồn tin, sơ đồ trang và nút chia sẻ sẽ trỏ về máy đang dựng "
               'trang (cách sửa: ghi địa chỉ thật của trang, ví dụ: base_url = "https://tinhxyz.gov.vn/") '
               + GUIDE.format("CFG005"))
    strict = run_cli("build", "--source", str(root), "--strict")
    assert strict.returncode == 2
    assert lines_of(strict.stderr, "CFG005") == [warning.replace("cảnh báo[CFG005]", "lỗi[CFG005]")]
    assert not (root / "public").exists()
    check = run_cli("check", "--source", str(root))
    assert check.returncode == 0 and lines_of(check.stderr, "CFG005") == [warning]
    built = run_cli("build", "--source", str(root))
    assert built.returncode == 0 and lines_of(built.stderr, "CFG005") == [warning]
    assert (root / "public/index.html").is_file()
    again = run_cli("build", "--source", str(root))  # nothing changed: the warning is said again all the same
    assert again.returncode == 0 and lines_of(again.stderr, "CFG005") == [warning]
    toml = root / "site.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("http://localhost:8000/", "https://huyen.example/"),
                    encoding="utf-8")
    fixed = run_cli("build", "--source", str(root), "--strict")
    assert fixed.returncode == 0 and "CFG005" not in fixed.stderr, fixed.stderr


# --- 4. smaller items --------------------------------------------------------------------------------------

@pytest.mark.parametrize("line,hint", [
    ('title: "Phong trào "Dân vận khéo" năm 2024"',
     "giá trị đã có ngoặc kép nhưng bên trong còn dấu ngoặc kép: đổi dấu ngoặc bên trong thành “ ” hoặc đặt cả "
     "giá trị trong dấu nháy đơn: title: 'Phong trào \"Dân vận khéo\" năm 2024'"),
    ("title: “Hội nghị: tổng kết năm”",
     'thay dấu ngoặc cong “ ” (Word tự đổi) ở hai đầu bằng dấu ngoặc kép thẳng " ": title: "Hội nghị: tổng kết năm"'),
    ("title: 'Nhà 'xanh' của bé'",
     "giá trị trong dấu nháy đơn có dấu nháy đơn bên trong: đặt cả giá trị trong ngoặc kép: "
     "title: \"Nhà 'xanh' của bé\""),
    ("title: Hội nghị: tổng kết năm", 'đặt giá trị trong dấu ngoặc kép: title: "Hội nghị: tổng kết năm"'),
])
def test_fm002_hint_fits_how_the_value_is_quoted(site, line, hint):
    site.write("content/thoi-su/bai/index.md", f'---\ndate: "2024-03-29 17:58"\n{line}\n---\nNội dung.\n')
    result = site.cli("check")
    assert result.returncode == HELD
    found = lines_of(result.stderr, "FM002")
    assert len(found) == 1 and found[0].startswith("content/thoi-su/bai/index.md:3:"), result.stderr
    assert f"(cách sửa: {hint}; {CHECKED_LATER}) [xem" in found[0], found[0]
    # The fix the hint gives, applied, reads.
    fixed = hint.rsplit(": title: ", 1)[1]
    site.write("content/thoi-su/bai/index.md", f'---\ndate: "2024-03-29 17:58"\ntitle: {fixed}\n---\nNội dung.\n')
    assert site.cli("check").returncode == 0


def test_fm002_hint_for_a_quote_inside_a_quoted_toml_value(site):
    site.write("content/thoi-su/bai/index.md",
               '+++\ntitle = "Phong trào "Dân vận khéo" năm 2024"\ndate = "2024-03-29 17:58"\n+++\nNội dung.\n')
    result = site.cli("check")
    assert result.returncode == HELD
    assert lines_of(result.stderr, "FM002") == [
        "content/thoi-su/bai/index.md:2:22: lỗi[FM002]: lỗi cú pháp TOML: Expected newline or end of document after a "
        "statement (cách sửa: giá trị đã có ngoặc kép nhưng bên trong còn dấu ngoặc kép: đổi dấu ngoặc bên trong "
        "thành “ ”, hoặc viết: title = 'Phong trào \"Dân vận khéo\" năm 2024'; " + CHECKED_LATER + ") "
        + GUIDE.format("FM002")]
    site.write("content/thoi-su/bai/index.md",
               "+++\ntitle = 'Phong trào \"Dân vận khéo\" năm 2024'\ndate = \"2024-03-29 17:58\"\n+++\nNội dung.\n")
    assert site.cli("check").returncode == 0
    assert site.cli("build").returncode == 0
    assert text_of(site.html("thoi-su/bai/index.html").find(".//h1")) == 'Phong trào "Dân vận khéo" năm 2024'


@pytest.mark.parametrize("disk,written", [("NFD", "NFC"), ("NFC", "NFD")])
def test_photo_names_match_in_either_unicode_form(site, disk, written):
    name = "Ảnh hội nghị.png"
    folder = "content/thoi-su/bai"
    site.write(f"{folder}/{unicodedata.normalize(disk, name)}", png())
    src = unicodedata.normalize(written, name)
    site.write(f"{folder}/index.md",
               article("Bài", body=f"Mở đầu.\n\n![Trong bài.](<{src}>)", photos=f'\n  - src: "{src}"\n    alt: "Ảnh"'))
    result = site.cli("build", "--strict")
    assert result.returncode == 0, result.stderr
    out = site.public / "thoi-su/bai"
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".jpg", ".webp")) == [
        "anh-hoi-nghi-480.jpg", "anh-hoi-nghi-480.webp", "anh-hoi-nghi-640.jpg", "anh-hoi-nghi-640.webp",
        "anh-hoi-nghi-og.jpg"]
    doc = parse_html((out / "index.html").read_bytes())
    assert doc.find(".//div[@class='article-body']//img").get("src") == "/thoi-su/bai/anh-hoi-nghi-640.jpg"


def test_a_missing_photo_is_still_missing(site):
    site.write("content/thoi-su/bai/index.md", article("Bài", photos='\n  - src: "Ảnh khác.png"'))
    site.write("content/thoi-su/bai/" + unicodedata.normalize("NFD", "Ảnh hội nghị.png"), png())
    result = site.cli("check")
    assert result.returncode == HELD and lines_of(result.stderr, "IMG001")[0].startswith(
        "content/thoi-su/bai/index.md:5: lỗi[IMG001]: không tìm thấy ảnh 'Ảnh khác.png' bên cạnh bài viết")


def test_a_photo_with_two_captions_warns_and_each_place_shows_its_own(site):
    site.write("content/thoi-su/bai/anh-01.png", png())
    site.write("content/thoi-su/bai/index.md", article(
        "Bài", body="Mở đầu.\n\n![Quang cảnh hội nghị.](anh-01.png)\n\n![Quang cảnh Hội nghị tổng kết.](anh-01.png)",
        photos='\n  - src: "anh-01.png"\n    caption: "Quang cảnh Hội nghị tổng kết."'))
    result = site.cli("build")
    assert result.returncode == 0, result.stderr
    assert lines_of(result.stderr, "IMG007") == [  # the second use agrees with the album: nothing to say
        "content/thoi-su/bai/index.md:11: cảnh báo[IMG007]: ảnh 'anh-01.png' có hai chú thích khác nhau: trong bài "
        "hiện 'Quang cảnh hội nghị.', ở album ảnh cuối bài hiện 'Quang cảnh Hội nghị tổng kết.' (ảnh khai báo trong "
        "photos ở dòng 5) (cách sửa: chép một chú thích sang chỗ kia cho giống nhau; hoặc để trống ngoặc vuông "
        "![](anh-01.png) thì ảnh trong bài không có chú thích) " + GUIDE.format("IMG007")]
    doc = site.html("thoi-su/bai/index.html")
    body = [text_of(c) for c in doc.findall(".//div[@class='article-body']//figcaption")]
    album = [text_of(c) for c in doc.findall(".//section[@class='gallery']//figcaption")]
    assert body == ["Quang cảnh hội nghị.", "Quang cảnh Hội nghị tổng kết."]
    assert album == ["Quang cảnh Hội nghị tổng kết."]
    assert site.cli("build", "--strict").returncode == 1


def test_the_same_headline_twice_warns_on_both_naming_the_other(site):
    a, b = "content/thoi-su/hop-bao/index.md", "content/kinh-te/hop-bao-2/index.md"
    site.write(a, article("Họp báo quý I"))
    site.write(b, article("HỌP BÁO quý I", date="2024-04-01 08:00"))
    site.write("content/thoi-su/nhap/index.md", article("Họp báo quý I", draft="true"))  # a draft is not published
    result = site.cli("build")
    assert result.returncode == 0, result.stderr
    hint = ("(cách sửa: đặt tiêu đề khác cho một trong các bài (thêm địa danh, thời gian...), hoặc xóa bài đăng "
            "trùng) " + GUIDE.format("META006"))
    assert lines_of(result.stderr, "META006") == [
        f"{b}:2: cảnh báo[META006]: tiêu đề 'HỌP BÁO quý I' trùng với tiêu đề của {a} {hint}",
        f"{a}:2: cảnh báo[META006]: tiêu đề 'Họp báo quý I' trùng với tiêu đề của {b} {hint}",
    ]
    assert (site.public / "thoi-su/hop-bao/index.html").is_file() and (site.public / "kinh-te/hop-bao-2/index.html").is_file()
    site.write(b, article("Họp báo quý I tại Sở Kinh tế", date="2024-04-01 08:00"))
    assert "META006" not in site.cli("build").stderr
