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
    stamps = [a.date.timestamp() for a in articles]
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
        out.append(tuple(heapq.nsmallest(count, scores, key=lambda j: (-scores[j], abs(stamps[j] - stamps[i]), j))))
    return tuple(out)


BASE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
article = st.builds(lambda tags, category, hours, n: SimpleNamespace(
                        tags=tuple(dict.fromkeys(tags)), category=category, source=f"content/{n}.md",
                        date=BASE + dt.timedelta(hours=hours)),
                    st.lists(st.sampled_from("abcdefg"), max_size=4), st.sampled_from(["x", "y", "z"]),
                    st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=10 ** 6))


def site_of(articles):
    """As model.assemble orders them: newest first (then by source); sources are unique."""
    unique = {a.source: a for a in articles}.values()
    return SimpleNamespace(articles=tuple(sorted(unique, key=lambda a: (a.date, a.source), reverse=True)))


@settings(max_examples=150, deadline=None)
@given(st.lists(article, max_size=60), st.integers(min_value=0, max_value=8), st.integers(min_value=1, max_value=6))
def test_related_matches_the_definition(articles, count, window):
    site = site_of(articles)
    assert model.related(site, count, window).lists == reference(site.articles, count, window)


change = st.one_of(
    st.tuples(st.just("add"), article),
    st.tuples(st.just("delete"), st.integers(min_value=0)),
    st.tuples(st.just("retag"), st.integers(min_value=0), st.lists(st.sampled_from("abcdefg"), max_size=4)),
    st.tuples(st.just("move"), st.integers(min_value=0), st.sampled_from(["x", "y", "z"])),
    st.tuples(st.just("redate"), st.integers(min_value=0), st.integers(min_value=0, max_value=40)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(article, max_size=50), st.lists(change, max_size=6), st.integers(min_value=0, max_value=6),
       st.integers(min_value=1, max_value=5))
def test_related_from_the_last_answer_equals_starting_over(articles, changes, count, window):
    """What an incremental build computes (the previous answer, updated) is what a clean build computes, after
    every step of a random sequence of additions, deletions, retags, category moves and date changes."""
    site = site_of(articles)
    previous = model.related(site, count, window)
    for op, *args in changes:
        arts = list(site.articles)
        if op == "add":
            arts.append(args[0])
        elif arts:
            i = args[0] % len(arts)
            a = arts[i]
            if op == "delete":
                del arts[i]
            elif op == "retag":
                arts[i] = SimpleNamespace(**{**vars(a), "tags": tuple(dict.fromkeys(args[1]))})
            elif op == "move":
                arts[i] = SimpleNamespace(**{**vars(a), "category": args[1]})
            else:
                arts[i] = SimpleNamespace(**{**vars(a), "date": BASE + dt.timedelta(hours=args[1])})
        site = site_of(arts)
        before = previous
        previous, rescored = model.related_changes(site, count, window, previous)
        assert previous.lists == reference(site.articles, count, window)
        assert previous == model.related(site, count, window)
        # A list not made anew holds the articles it held (a shift's build keeps what its pages read of it).
        old_sources = [line.split("\t", 1)[0] for line in before.rows.split("\n")] if before.rows else []
        old_at = {source: n for n, source in enumerate(old_sources)}
        for i, a in enumerate(site.articles):
            if rescored is not None and i not in rescored:
                assert a.source in old_at
                assert [site.articles[j].source for j in previous.lists[i]] == \
                    [old_sources[j] for j in before.lists[old_at[a.source]]]


def test_related_on_a_real_shape():
    """Every article of a 300-article site with overlapping tags (validation removes repeated tags, as here):
    same answer as the definition."""
    tags = ["nong-thon-moi", "quy-nhon", "chuyen-doi-so", "du-lich", "giao-thong"]
    base = dt.datetime(2024, 1, 1)
    articles = [SimpleNamespace(tags=tuple(dict.fromkeys(tags[(i * k) % 5] for k in range(1, 1 + i % 3))),
                                category="c%d" % (i % 4), date=base - dt.timedelta(hours=i), source=f"{i}.md")
                for i in range(300)]
    site = SimpleNamespace(articles=tuple(articles))
    assert model.related(site, 5).lists == reference(articles, 5)


def test_a_remembered_related_state_of_another_shape_is_ignored(site):
    """A build cache left by another development build may hold the related state in another shape: the next
    build scores related articles afresh instead of stopping with a traceback (seen on a benchmark site)."""
    from conftest import article as article_text

    from sitegen.build.cache import Cache

    for n in range(3):
        site.write(f"content/thoi-su/bai-{n}.md", article_text(f"Bài {n}", date=f"2024-03-2{n} 08:00", tags="[a, b]"))
    assert site.build().articles == 3
    cfg = site.config()
    cache = Cache(site.root / ".sitegen" / "cache", cfg.fingerprint)
    cache.put_many("meta", {"related_state": SimpleNamespace(count=cfg.related, window=12), "related_key": "x"})
    cache.close()
    site.write("content/thoi-su/bai-9.md", article_text("Bài chín", date="2024-03-29 08:00", tags="[a]"))
    assert site.build().articles == 4
    links = [a.get("href") for a in site.html("thoi-su/bai-9/index.html").iter("a")]
    assert any("bai-2" in (href or "") for href in links)  # its related articles are there
