"""The search index's word map (sitegen/build/search_words.py) on its own: what it keeps of a page's text, and that
looking a word up the way the search page does (assets/js/search.js: `lookup`, `marked`) never misses a shard
whose text has a word starting with it. The map against Pagefind itself, in a browser: test_search_shards.py."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings, strategies as st

from sitegen.build import search_words


def _lookup(files: dict[str, bytes], info: dict, word: str) -> set[int] | None:
    """The shards the search page finds for `word` (None: any shard), as search.js reads the map."""
    t = search_words.fold(word)
    if not re.fullmatch(r"[a-z]{2,}", t):
        return None
    marked = set(info["open"])
    if t[:2] not in info["keys"]:
        return marked
    found = json.loads(files[f"{t[:2]}.json"])
    masks = [m for w, m in found["w"].items() if w.startswith(t)]
    masks += [m for p, m in found["p"].items() if p.startswith(t) or t.startswith(p)]
    for mask in masks:
        value = int(mask, 16)
        marked |= {n for n in range(value.bit_length()) if value >> n & 1}
    return marked


def test_a_page_keeps_its_words_however_pagefind_may_cut_them():
    region = ("<article data-pagefind-body><h1>Đầm Thị-Nại</h1><p>Hội<b>nghị</b> ở TP.HCM, CloudCannon &amp; "
              "AT&amp;T, người H'Mông, Øresund.<img data-pagefind-index-attrs=\"alt\" alt=\"Gốm Bàu Trúc\" "
              "src=\"/anh/x.jpg\"> <a href=\"/thoi-su/tin-khac/\">tin</a><img alt=\"Chợ Lớn\"></p></article>")
    page = f"<html lang=\"vi\"><head><title>Tiêu đề riêng</title></head><body>{region}</body></html>"
    found = search_words.words(search_words.chunks(region.encode(), page.encode()))
    for word in ("dam", "thi", "nai", "thinai", "hoi", "nghi", "hoinghi", "tp", "hcm", "tphcm", "cloud", "cannon",
                 "cloudcannon", "att", "nguoi", "hmong", "mong", "gom", "bau", "truc", "tieu", "de", "rieng"):
        assert any(w.startswith(word) for w in found), word  # (the map answers by prefix, as Pagefind does)
    assert "*" in found  # "Øresund": cut short before its first letter, so it may match any word
    # Pagefind reads no other attribute: neither a link's address nor plain alt text become words.
    assert not {"thoisu", "thoisutinkhac", "cho", "lon"} & found
    assert not [w for w in found if not re.fullmatch(r"[a-z]*\*?", w)]


def test_the_fold_is_the_search_pages():
    assert search_words.fold("ĐẮK LẮK Hội nghị Thị Nại") == "dak lak hoi nghi thi nai"
    assert search_words.fold("Øresund ß") == "øresund ß"  # no diacritic to drop: kept, and so cut short


_LETTER = st.sampled_from(list("abcdeghiklmnopqrstuvxyĐđăâêôơưàáảãạầấẩẫậằắẳẵặèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
                                "ABCGHKLMNPQTVXYÂÊÔƠƯ0123456789øßλ"))
_PIECE = st.lists(st.text(_LETTER, min_size=1, max_size=8), min_size=1, max_size=3).map(
    lambda parts: "-".join(parts))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_PIECE, min_size=1, max_size=12), min_size=1, max_size=6), st.data())
def test_a_word_is_found_in_every_shard_whose_text_has_a_word_starting_with_it(shards, data):
    """Whatever the letters: a query word that starts a word of a shard's text (a run of letters between
    punctuation and digits, folded) finds that shard in the map."""
    info, files = search_words.word_map([sorted(search_words.words(pieces)) for pieces in shards])
    for n, pieces in enumerate(shards):
        runs = [run for piece in pieces for run in re.findall(r"[^\W\d_]+", search_words.fold(piece))]
        plain = [run for run in runs if re.fullmatch(r"[a-z]{2,}", run)]
        if not plain:
            continue
        run = data.draw(st.sampled_from(plain))
        query = run[:data.draw(st.integers(2, len(run)))]
        found = _lookup(files, info, query)
        assert found is None or n in found, (query, pieces)
