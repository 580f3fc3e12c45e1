"""Vietnamese-aware URL slugs: 'Hội nghị tổng kết Đắk Lắk' -> 'hoi-nghi-tong-ket-dak-lak'.

python-slugify does the transliteration; we pin the choices that make URLs stable across versions and
machines: NFC first, 'đ'/'Đ' to 'd' explicitly (a plain NFKD strip would drop the letter), lowercase,
ASCII letters, digits and single hyphens only, at most MAX_LENGTH characters cut at a word boundary.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from slugify import slugify as _slugify

MAX_LENGTH = 80
_REPLACEMENTS = [["đ", "d"], ["Đ", "d"], ["&", " va "]]


@lru_cache(maxsize=65536)  # tags and categories repeat across thousands of articles
def slugify(text: str, max_length: int = MAX_LENGTH) -> str:
    """A slug of `text`, or '' when it has no letters or digits (the caller must then ask for one)."""
    text = unicodedata.normalize("NFC", str(text))
    return _slugify(text, max_length=max_length, word_boundary=True, replacements=_REPLACEMENTS, lowercase=True)


def is_slug(text: str) -> bool:
    """True for strings slugify would leave as they are."""
    return bool(text) and slugify(text) == text
