"""Slugs are URLs that must never change under an article: properties checked with Hypothesis."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, strategies as st

from sitegen.content.slugs import MAX_LENGTH, slugify

VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
vi_text = st.text(alphabet=VIETNAMESE + VIETNAMESE.upper() + " -,.:!?0123456789", max_size=120)


def test_examples():
    assert slugify("Hội nghị tổng kết Đắk Lắk") == "hoi-nghi-tong-ket-dak-lak"
    assert slugify("ĐƯỜNG ĐI ĐẾN TRƯỜNG") == "duong-di-den-truong"
    assert slugify("Quy Nhơn: “Biển xanh” gọi mời!") == "quy-nhon-bien-xanh-goi-moi"
    assert slugify("18.000 thí sinh") == "18-000-thi-sinh"
    assert slugify("!!!") == ""


@given(st.text(max_size=200))
def test_output_alphabet_and_length(text):
    slug = slugify(text)
    assert re.fullmatch(r"([a-z0-9]+(-[a-z0-9]+)*)?", slug)
    assert len(slug) <= MAX_LENGTH


@given(st.text(max_size=200))
def test_idempotent(text):
    assert slugify(slugify(text)) == slugify(text)


@given(vi_text)
def test_nfc_and_nfd_give_the_same_slug(text):
    assert slugify(unicodedata.normalize("NFD", text)) == slugify(unicodedata.normalize("NFC", text))


@given(vi_text)
def test_every_vietnamese_letter_survives_as_its_base_letter(text):
    # Diacritics go, letters stay: the number of letters is unchanged (đ counts as d).
    letters = sum(ch.isalpha() for ch in text)
    slug = slugify(text, max_length=10_000)
    assert sum(ch.isalpha() for ch in slug) == letters


PATH_PARTS = st.sampled_from(["", ".", "..", "...", "a", "tin.html", "C:", "c:x", "a b", "ảnh", "x\\y", "a?b", "<p>",
                              "t\x01", "*", "index.html", ".an", "a.."])


@given(st.lists(st.one_of(PATH_PARTS, st.text(max_size=4)), max_size=5), st.booleans())
def test_an_output_path_is_unsafe_exactly_when_it_leaves_its_folder_or_holds_a_refused_character(parts, absolute):
    """routes.unsafe refuses exactly a path that is not relative or leaves the output folder (absolute, a drive,
    a backslash, a '.' or '..' segment, empty), or holds a character some host refuses in a file name."""
    from sitegen.structure.routes import unsafe

    path = ("/" if absolute else "") + "/".join(parts)
    leaves = not path or path.startswith("/") or re.match(r"[A-Za-z]:", path) is not None or \
        any(part in (".", "..") for part in path.split("/"))
    assert unsafe(path) == (leaves or re.search(r'[\x00-\x1f<>:"|?*\\]', path) is not None)


@given(st.lists(st.builds(lambda parts, absolute: ("/" if absolute else "") + "/".join(parts),
                          st.lists(st.one_of(PATH_PARTS, st.text(max_size=4)), max_size=4), st.booleans()),
                min_size=1, max_size=6))
def test_paths_asked_at_once_are_never_passed_when_one_of_them_is_unsafe(paths):
    """routes._all_safe, a plan's one question over every page's path, answers True only when no path is unsafe
    (it may answer False for safe paths: they are then asked one by one); and True for plain ones."""
    from sitegen.structure.routes import _all_safe, unsafe

    if _all_safe(paths):
        assert not any(unsafe(p) for p in paths)
    if all(re.fullmatch(r"[a-z0-9-]+(/[a-z0-9.-]*[a-z0-9])*", p) for p in paths) and not any(unsafe(p) for p in paths):
        assert _all_safe(paths)
