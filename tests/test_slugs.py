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
