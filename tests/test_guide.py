"""The editor's guide explains every error code the build can print, and every printed error names its section."""

from __future__ import annotations

import re

from conftest import ROOT, article, run_cli

from sitegen.diagnostics import CODES, GUIDE, Diagnostic

GUIDE_TEXT = (ROOT / GUIDE).read_text(encoding="utf-8")
CODE_RE = re.compile(r"\b[A-Z]{2,8}\d{3}\b")


def sections() -> dict[str, str]:
    """code -> title of each `#### CODE — title` heading that directly follows its `<a id="code">` anchor."""
    found = {}
    for m in re.finditer(r'^<a id="([a-z]+\d{3})"></a>\n#{3,4} ([A-Z]+\d{3}) — (.+)$', GUIDE_TEXT, flags=re.M):
        anchor, code, title = m.groups()
        assert anchor == code.lower(), f"anchor {anchor} above heading {code}"
        found[code] = title.strip()
    return found


def test_every_code_has_a_section_with_its_title():
    have = sections()
    missing = sorted(set(CODES) - set(have))
    assert not missing, f"codes without a section in {GUIDE}: {missing}"
    for code, title in CODES.items():
        assert have[code] == title, f"{code}: heading '{have[code]}' but CODES says '{title}'"


def test_guide_names_no_code_that_does_not_exist():
    unknown = sorted(set(CODE_RE.findall(GUIDE_TEXT)) - set(CODES))
    assert not unknown, f"{GUIDE} mentions codes that are not in diagnostics.CODES: {unknown}"


def test_every_code_used_in_the_source_is_registered():
    # Reporter asserts known codes at run time; Diagnostic(...) built directly (config, write, scaffold) does not.
    used = set()
    for path in (ROOT / "sitegen").rglob("*.py"):
        used |= set(re.findall(r'"([A-Z]{2,8}\d{3})"', path.read_text(encoding="utf-8")))
    assert not used - set(CODES), sorted(used - set(CODES))


def test_internal_links_of_the_guide_resolve():
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', GUIDE_TEXT))
    targets = set(re.findall(r"\]\(#([^)]+)\)", GUIDE_TEXT))
    assert targets and not targets - anchors, sorted(targets - anchors)


def test_printed_diagnostic_names_its_section():
    d = Diagnostic("content/thoi-su/bai/index.md", 2, 20, "FM002", "error", "lỗi cú pháp YAML", "đặt trong ngoặc kép")
    line = d.format()
    assert line.startswith("content/thoi-su/bai/index.md:2:20: lỗi[FM002]: ")
    assert line.endswith(" (cách sửa: đặt trong ngoặc kép) [xem: sitegen help FM002]")
    assert '<a id="fm002"></a>' in GUIDE_TEXT


def test_build_errors_on_the_command_line_point_into_the_guide(site):
    site.write("content/thoi-su/bai/index.md", '---\ntitle: Hội nghị: tổng kết\ndate: "2024-01-01 10:00"\n---\nx\n')
    site.write("content/thoi-su/hai/index.md", article("Hai", date="hôm qua"))
    result = site.cli("build")
    assert result.returncode == 3  # both articles held back, the rest published
    lines = [l for l in result.stderr.splitlines() if "lỗi[" in l]
    assert len(lines) == 2
    for line in lines:
        code = re.search(r"lỗi\[(\w+)\]", line).group(1)
        named = re.search(r"\[xem: sitegen help (\w+)\]$", line).group(1)
        assert named == code and f'<a id="{code.lower()}"></a>' in GUIDE_TEXT, line


def test_readme_links_to_the_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/huong-dan-bien-tap.md" in readme


def test_sitegen_help_prints_the_section_of_each_code_from_any_folder(tmp_path):
    # A site made by `sitegen init` has no docs/: the reference each diagnostic prints must work from there.
    for code, title in CODES.items():
        result = run_cli("help", code.lower(), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        first, _, rest = result.stdout.partition("\n")
        assert first == f"#### {code} — {title}"
        assert "**Cách sửa:**" in rest, code
        assert f'<a id="' not in result.stdout  # the next section's anchor is not part of this one
        other = [c for c in CODES if c != code and f"#### {c} —" in result.stdout]
        assert not other, f"{code}'s help runs into {other}"


def test_sitegen_help_unknown_code_suggests_the_nearest_and_exits_2(tmp_path):
    result = run_cli("help", "FM02", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert "Không có mục 'FM02' trong hướng dẫn biên tập. Có phải: FM002" in result.stderr
    assert "Traceback" not in result.stderr
    listing = run_cli("help", cwd=tmp_path)
    assert listing.returncode == 0
    assert all(f"  {code:<10} {title}" in listing.stdout for code, title in CODES.items())


def test_sitegen_help_reads_the_section_of_a_guide_topic(tmp_path):
    result = run_cli("help", "xem-thu", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("## 4. Xem thử trước khi đăng\n")
    assert "## 5." not in result.stdout
