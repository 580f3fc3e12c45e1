"""Related articles (model.related) against a plain reference, on random sites: the fast version must choose the
same articles in the same order."""

from __future__ import annotations

import datetime as dt
import heapq
from collections import Counter
from types import SimpleNamespace

from hypothesis import given, settings, strategies as st

from sitegen.content import model


def reference(articles, count: int, window: int = 12):
    """The definition, written plainly: score 2 per shared tag and 1 for the category, among the `window`
    neighbours in time of each group; best score first, then nearest in time, then newest."""
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(articles):
        for t in a.tags:
            groups.setdefault("t:" + t, []).append(i)
        groups.setdefault("c:" + a.category, []).append(i)
    out = []
    for i, a in enumerate(articles):
        scores: Counter[int] = Counter()
        for key, weight in [*(("t:" + t, 2) for t in a.tags), ("c:" + a.category, 1)]:
            members = groups[key]
            n = members.index(i)
            for _ in range(weight):
                scores.update(members[max(0, n - window): n + window + 1])
        del scores[i]
        out.append(tuple(heapq.nsmallest(count, scores, key=lambda j: (-scores[j], abs(j - i), j))))
    return tuple(out)


article = st.builds(lambda tags, category: SimpleNamespace(tags=tuple(dict.fromkeys(tags)), category=category),
                    st.lists(st.sampled_from("abcdefg"), max_size=4), st.sampled_from(["x", "y", "z"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(article, max_size=60), st.integers(min_value=0, max_value=8), st.integers(min_value=1, max_value=6))
def test_related_matches_the_definition(articles, count, window):
    site = SimpleNamespace(articles=tuple(articles))
    assert model.related(site, count, window) == reference(articles, count, window)


def test_related_on_a_real_shape():
    """Every article of a 300-article site with overlapping tags (validation removes repeated tags, as here):
    same answer as the definition."""
    tags = ["nong-thon-moi", "quy-nhon", "chuyen-doi-so", "du-lich", "giao-thong"]
    base = dt.datetime(2024, 1, 1)
    articles = [SimpleNamespace(tags=tuple(dict.fromkeys(tags[(i * k) % 5] for k in range(1, 1 + i % 3))),
                                category="c%d" % (i % 4), date=base + dt.timedelta(hours=i)) for i in range(300)]
    site = SimpleNamespace(articles=tuple(articles))
    assert model.related(site, 5) == reference(articles, 5)
