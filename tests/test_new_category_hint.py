"""NEW002 (issue 16, point 4 for `sitegen new`): a mistyped --category is answered with the nearest categories
first, ranked as META004 ranks them (content/near.py: diacritics, case, slugs), then the full list when it is short;
nothing is written, and the suggestion, applied, works."""

from __future__ import annotations

from conftest import tree_snapshot

GUIDE = "[xem: sitegen help NEW002]"
THREE = [("Thời sự", "thoi-su"), ("Thi đua - Khen thưởng", "thi-dua-khen-thuong"), ("Văn hóa - Xã hội", "van-hoa-xa-hoi")]
LISTING = "Các chuyên mục: Thời sự (thoi-su); Thi đua - Khen thưởng (thi-dua-khen-thuong); Văn hóa - Xã hội (van-hoa-xa-hoi)"


def _categories(site, cats) -> None:
    site.write("site.toml", "".join(f'[[categories]]\nname = "{n}"\nslug = "{s}"\n' for n, s in cats))


def _refused(site, category: str) -> str:
    before = tree_snapshot(site.root)
    result = site.cli("new", "Bài mới", "--category", category)
    assert result.returncode == 1, result.stderr
    assert tree_snapshot(site.root) == before  # nothing written
    found = [ln for ln in result.stderr.splitlines() if "[NEW002]" in ln]
    assert len(found) == 1 and "Traceback" not in result.stderr, result.stderr
    return found[0]


def test_a_diacritic_typo_is_answered_with_the_right_category_first_then_the_list(site):
    _categories(site, THREE)
    assert _refused(site, "Thi đau - Khen thưởng") == (
        "site.toml: lỗi[NEW002]: chuyên mục 'Thi đau - Khen thưởng' không có trong site.toml. Có phải: Thi đua - "
        f"Khen thưởng (thi-dua-khen-thuong)? {LISTING} (cách sửa: dùng --category \"Thi đua - Khen thưởng\"; cần "
        "chuyên mục mới thì thêm [[categories]] name = \"Thi đau - Khen thưởng\" vào site.toml) " + GUIDE)
    made = site.cli("new", "Bài mới", "--category", "Thi đua - Khen thưởng")  # the suggestion, applied
    assert made.returncode == 0 and "content/thi-dua-khen-thuong/" in made.stdout, made.stderr


def test_a_slug_typo_is_answered_with_a_slug(site):
    _categories(site, THREE)
    line = _refused(site, "thoi-suu")
    assert "không có trong site.toml. Có phải: Thời sự (thoi-su)? Các chuyên mục: " in line, line
    assert "(cách sửa: dùng --category thoi-su; cần chuyên mục mới" in line, line


def test_nothing_near_keeps_the_plain_list(site):
    _categories(site, THREE)
    assert _refused(site, "Thể thao") == (
        f"site.toml: lỗi[NEW002]: chuyên mục 'Thể thao' không có trong site.toml. {LISTING} (cách sửa: dùng "
        "--category với một tên hoặc slug ở trên, hoặc thêm [[categories]] name = \"Thể thao\" vào site.toml) " + GUIDE)


def test_a_long_list_is_left_out_after_the_suggestions(site):
    cats = [(f"Huyện số {n}", f"huyen-so-{n}") for n in range(1, 13)] + [("Thời sự", "thoi-su")]
    _categories(site, cats)
    line = _refused(site, "Thời xự")
    assert line.startswith("site.toml: lỗi[NEW002]: chuyên mục 'Thời xự' không có trong site.toml. Có phải: Thời sự "
                           "(thoi-su)? Còn 12 chuyên mục khác trong site.toml (cách sửa: dùng --category \"Thời sự\";"), line
    assert "Huyện số" not in line
    # With no suggestion, even a long list is printed: it is all the editor has to go on.
    listed = _refused(site, "Thể thao")
    assert all(f"{n} ({s})" in listed for n, s in cats), listed
