"""Bad front matter: each mistake gives a diagnostic with file, line and code, the build exits non-zero,
and the previous public/ stays exactly as it was."""

from __future__ import annotations

import pytest

from conftest import article, leftovers, tree_snapshot

GOOD = article("Bài tốt", category='"Thời sự"')
P = "content/thoi-su/bai/index.md"

CASES = [
    # (id, file text, expected "path:line" prefix, code)
    ("yaml-syntax", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\ntags: [a, b\n---\nx\n', f"{P}:5", "FM002"),
    ("unquoted-colon", '---\ntitle: Hội nghị: tổng kết\ndate: "2024-01-01 10:00"\n---\nx\n', f"{P}:2", "FM002"),
    ("tab-indent", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\nrating:\n\ttotal: 1\n---\nx\n', f"{P}:5", "FM002"),
    ("missing-title", '---\ndate: "2024-01-01 10:00"\n---\nx\n', f"{P}:1", "META001"),
    ("empty-title", '---\ntitle: ""\ndate: "2024-01-01 10:00"\n---\nx\n', f"{P}:2", "META001"),
    ("missing-date", '---\ntitle: "A"\n---\nx\n', f"{P}:1", "META001"),
    ("bad-date", '---\ntitle: "A"\ndate: "hôm qua"\n---\nx\n', f"{P}:3", "META003"),
    ("impossible-date", '---\ntitle: "A"\ndate: "2024-02-30 10:00"\n---\nx\n', f"{P}:3", "META003"),
    ("title-bool", '---\ntitle: no\ndate: "2024-01-01 10:00"\n---\nx\n', f"{P}:2", "META002"),
    ("title-date", '---\ntitle: 2024-01-01\ndate: "2024-01-01 10:00"\n---\nx\n', f"{P}:2", "META002"),
    ("tags-string", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\ntags: "a, b"\n---\nx\n', f"{P}:4", "META002"),
    ("views-text", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\nviews: "nhiều"\n---\nx\n', f"{P}:4", "META002"),
    ("views-negative", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\nviews: -5\n---\nx\n', f"{P}:4", "META002"),
    ("draft-text", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\ndraft: "có"\n---\nx\n', f"{P}:4", "META002"),
    ("rating-impossible", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\nrating:\n  total: 50\n  count: 2\n---\nx\n',
     f"{P}:4", "META005"),
    ("photo-no-src", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\nphotos:\n  - caption: "x"\n---\nx\n', f"{P}:5", "META002"),
    ("duplicate-key", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\ntitle: "B"\n---\nx\n', f"{P}:4", "FM004"),
    ("unclosed", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\n\nBody without closing fence\n', f"{P}:1", "FM001"),
    ("not-a-mapping", '---\n- a\n- b\n---\nx\n', f"{P}:2", "FM003"),
    ("no-front-matter", 'Chỉ có nội dung, không có phần đầu.\n', f"{P}:1", "META001"),
    ("empty-file", '', f"{P}:1", "META001"),
    ("python-tag", '---\ntitle: !!python/object/apply:os.system ["touch /tmp/sitegen-pwned"]\ndate: "2024-01-01"\n---\nx\n',
     f"{P}:2", "FM005"),
    ("crlf-error-line", '---\r\ntitle: "A"\r\ndate: "2024-01-01 10:00"\r\n\r\nviews: [\r\n---\r\nx\r\n', f"{P}:6", "FM002"),
    ("missing-photo", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\nphotos:\n  - src: "khong-co.jpg"\n---\nx\n', f"{P}:5", "IMG001"),
    ("body-photo-missing", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\n---\n\nĐoạn một.\n\n![Ảnh](mat.jpg)\n', f"{P}:8", "IMG001"),
    ("photo-escape", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\nimage: "../../../../etc/passwd"\n---\nx\n', f"{P}:4", "IMG002"),
    ("alias-escape", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\naliases: ["../../x"]\n---\nx\n', f"{P}:4", "ROUTE004"),
    ("invalid-utf8", b'---\ntitle: "A"\ndate: "2024-01-01 10:00"\n---\n\nline6\nbad \xff byte\n', f"{P}:7:5", "ENC001"),
    ("utf16", '---\ntitle: "A"\n---\n'.encode("utf-16"), f"{P}:1", "ENC002"),
    ("nul-bytes", b'---\ntitle: "A"\x00\n---\n', f"{P}:2", "ENC003"),
    ("empty-slug", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\nslug: "!!!"\n---\nx\n', f"{P}:4", "ROUTE003"),
    # Issue 7: links, tags PyYAML cannot construct, dates past the calendar, template paths.
    ("broken-article-link", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\n---\n\nĐoạn.\n\n[x](../khong-co/index.md)\n',
     f"{P}:8", "LINK001"),
    ("broken-url-link", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\n---\nXem [mục](/khong-co/).\n', f"{P}:5", "LINK001"),
    ("link-escapes-site", '---\ntitle: "A"\ndate: "2024-01-01 10:00"\n---\n\n[x](../../../../../etc/)\n', f"{P}:6", "LINK001"),
    ("bad-timestamp-tag", '---\ntitle: "A"\ndate: !!timestamp "hôm qua"\n---\nx\n', f"{P}:3", "FM005"),
    ("bad-bool-tag", '---\ntitle: "A"\ndate: "2024-01-01"\ndraft: !!bool "có"\n---\nx\n', f"{P}:4", "FM005"),
    ("date-before-calendar", '---\ntitle: "A"\ndate: "0001-01-01"\n---\nx\n', f"{P}:3", "META003"),
    ("template-absolute", '---\ntitle: "A"\ndate: "2024-01-01"\ntemplate: "/etc/passwd.html"\n---\nx\n', f"{P}:4", "META005"),
    ("template-traversal", '---\ntitle: "A"\ndate: "2024-01-01"\ntemplate: "../../x.html"\n---\nx\n', f"{P}:4", "META005"),
    ("front-matter-not-first-line", '\n---\ntitle: "A"\ndate: "2024-01-01"\n---\nx\n', f"{P}:1", "META001"),
    ("bom-then-bad-yaml", '\ufeff---\ntitle: Hội nghị: tổng kết\ndate: "2024-01-01"\n---\nx\n', f"{P}:2", "FM002"),
]


@pytest.mark.parametrize("text,where,code", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_located_and_public_untouched(site, text, where, code):
    site.write("content/thoi-su/tot/index.md", GOOD)
    first = site.cli("build")
    assert first.returncode == 0, first.stderr
    before = tree_snapshot(site.public)
    site.write(P, text)
    result = site.cli("build")
    assert result.returncode == 3, result.stdout + result.stderr  # the bad article held back, the rest published
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if f"[{code}]" in ln]
    assert lines, result.stderr
    assert lines[0].startswith(where + ":"), lines[0]
    assert tree_snapshot(site.public) == before
    assert not leftovers(site.root), "temporary folder left behind"


def test_python_tag_executes_nothing(site, tmp_path):
    sentinel = tmp_path / "pwned"
    site.write(P, f'---\ntitle: !!python/object/apply:os.system ["touch {sentinel}"]\ndate: "2024-01-01"\n---\nx\n')
    site.cli("build")
    assert not sentinel.exists()


def test_all_errors_of_a_run_are_reported_together(site):
    site.write("content/thoi-su/a/index.md", '---\ntitle: "A"\ndate: "sai"\n---\nx\n')
    site.write("content/thoi-su/b/index.md", '---\ndate: "2024-01-01"\n---\nx\n')
    site.write("content/thoi-su/c/index.md", '---\ntitle: "C"\ndate: "2024-01-01"\nviews: x\n---\nx\n')
    result = site.cli("build")
    assert result.returncode == 3
    codes = [ln.split("[")[1].split("]")[0] for ln in result.stderr.splitlines() if "lỗi[" in ln]
    assert codes == ["META003", "META001", "META002"]  # sorted by file


def test_bom_file_builds_like_plain(site):
    site.write("content/thoi-su/a/index.md", "\ufeff" + article("Có BOM"))
    site.build()
    doc = site.html("thoi-su/a/index.html")
    assert doc.find(".//h1").text == "Có BOM"


def test_error_message_is_vietnamese_with_hint(site):
    site.write(P, '---\ntitle: Hội nghị: tổng kết\ndate: "2024-01-01 10:00"\n---\nx\n')
    err = site.cli("build").stderr
    assert "lỗi[FM002]" in err and "cách sửa:" in err and "ngoặc kép" in err


def test_toml_front_matter_as_hugo_writes_it(site):
    site.write("content/thoi-su/toml/index.md",
               '+++\ntitle = "Hội nghị từ Hugo"\ndate = 2024-03-29T17:58:00+07:00\ntags = ["chuyển đổi số"]\n'
               'views = 12\n\n[rating]\ntotal = 9\ncount = 2\n+++\n\nNội dung.\n')
    site.build()
    doc = site.html("thoi-su/toml/index.html")
    assert doc.find(".//h1").text == "Hội nghị từ Hugo"
    assert "Thứ Sáu - 29/03/2024 17:58" in "".join(doc.find(".//p[@class='dateline']").itertext())


@pytest.mark.parametrize("text,where,code", [
    ('+++\ntitle = "A"\ndate = "2024-01-01 10:00"\nviews = nhiều\n+++\nx\n', f"{P}:4", "FM002"),
    ('+++\ntitle = "A"\ndate = "2024-01-01 10:00"\nx\n', f"{P}:1", "FM001"),
    ('+++\ntitle = "A"\ndate = "2024-01-01 10:00"\nviews = "12"\n+++\nx\n', f"{P}:4", "META002"),
], ids=["toml-syntax", "toml-unclosed", "toml-wrong-type"])
def test_toml_front_matter_errors_are_located(site, text, where, code):
    site.write(P, text)
    result = site.cli("build")
    assert result.returncode == 3
    line = next(ln for ln in result.stderr.splitlines() if f"[{code}]" in ln)
    assert line.startswith(where + ":"), line
