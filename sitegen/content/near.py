"""Which known names a mistyped one most likely meant: categories in front matter, option names in site.toml.

Vietnamese typos are mostly diacritics (a tone mark dropped, misplaced or doubled by the Telex/VNI keyboard) and
case, so names are compared twice: with diacritics stripped, where such a typo vanishes, then NFC-lowercased,
where the nearer spelling wins a tie. difflib's ratio is enough for lists of a few dozen names. Imports nothing
from the rest of sitegen but slugs.
"""

from __future__ import annotations

import difflib
import unicodedata
from typing import Iterable

from .slugs import slugify


def folded(text: str) -> str:
    """NFC, case-folded, with single spaces: 'Thời  Sự' and 'thời sự' are the same name."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def bare(text: str) -> str:
    """`folded` without diacritics: 'Thi đua' -> 'thi dua' ('đ' is a letter of its own, not a marked 'd', so it is
    mapped explicitly)."""
    decomposed = unicodedata.normalize("NFD", folded(text).replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def nearest(word: str, names: Iterable[str], *, slugs: dict[str, str] | None = None, limit: int = 3,
            cutoff: float = 0.6) -> list[str]:
    """The names nearest to `word`, best first, at most `limit`, none below `cutoff` (0..1).

    Ranked by similarity without diacritics (or, when `slugs` maps a name to its URL slug, by the slug's
    similarity to `word`'s, whichever is higher), then by similarity with diacritics: a name that differs from
    `word` only in diacritics and case always comes first."""
    key, plain, slug = folded(word), bare(word), slugify(word)
    ranked = []
    for name in names:
        loose = _ratio(plain, bare(name))
        if slugs and slugs.get(name) and slug:
            loose = max(loose, _ratio(slug, slugs[name]))
        if loose >= cutoff:
            ranked.append((-loose, -_ratio(key, folded(name)), name))
    return [name for _, _, name in sorted(ranked)[:limit]]
