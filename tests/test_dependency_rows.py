"""What a build writes of the dependency records: only the rows holding something it changed, and never less
than what is true. A preview's save at 10 000 articles used to walk every fragment and rewrite the reverse
index's row of every owner its pages read; these properties hold the shortcuts to the plain answer."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given, settings, strategies as st

from sitegen.build import dependencies, reverse


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3 * dependencies._CHUNK), st.data())
def test_the_rows_holding_changed_keys_are_found_without_walking_the_table(size, data):
    loaded = data.draw(st.integers(0, size))
    keys = data.draw(st.permutations(range(size))) if size < 64 else list(range(size, 0, -1))
    table = {k: array("Q", [k]) for k in keys}
    touched = set(data.draw(st.lists(st.sampled_from(keys), max_size=40))) if keys else set()
    expected = {pos // dependencies._CHUNK for pos, k in enumerate(keys) if k in touched}
    assert dependencies._rows_holding(table, touched, loaded) == expected


def test_a_key_missing_from_the_table_falls_back_to_the_walk():
    table = {k: array("Q") for k in range(10)}
    assert dependencies._rows_holding(table, {3, 99}, 10) == {0}


def _memory_index() -> tuple[reverse.Reverse, dict]:
    rows: dict = {}
    rev = reverse.Reverse(rows.get, complete=True)
    return rev, rows


def test_a_page_read_again_as_before_writes_no_row_and_is_still_found():
    rev, stored = _memory_index()
    rev.page("a.html", [1 << reverse._FIELD_BITS, 2 << reverse._FIELD_BITS], "")
    rev.page("b.html", [1 << reverse._FIELD_BITS], "")
    stored.update(rev.rows(3, in_memory=True))
    assert "readers:0" in stored
    # The next build: both pages rendered again, reading what they read before.
    again = reverse.Reverse.load(rev.head(), stored, stored.get)
    grown = again.grown
    again.page("a.html", [1 << reverse._FIELD_BITS, 2 << reverse._FIELD_BITS], "")
    again.page("b.html", [1 << reverse._FIELD_BITS], "")
    assert again.grown == grown  # (nothing was added: nothing brings the readers' remaking nearer)
    written = dict(again.rows(3, in_memory=True))
    assert not any(name.startswith("readers:") for name in written)
    assert again.readers([1]) == {"a.html", "b.html"} and again.readers([2]) == {"a.html"}
    # A page that now reads an owner it did not: its row is written, sorted, without duplicates.
    again.page("b.html", [2 << reverse._FIELD_BITS, 1 << reverse._FIELD_BITS], "")
    again.page("c.html", [2 << reverse._FIELD_BITS], "")
    again.page("b.html", [2 << reverse._FIELD_BITS], "")
    written = dict(again.rows(3, in_memory=True))
    assert list(written["readers:0"][2]) == [0, 1, 2]
    assert again.readers([2]) == {"a.html", "b.html", "c.html"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from("abcdef"), st.lists(st.integers(0, 9), max_size=5)),
                         max_size=6), min_size=1, max_size=5))
def test_the_reverse_index_never_holds_less_than_every_build_added(builds):
    """Builds in a row, each rendering some pages (a page's reads replace nothing: the index only grows): after
    each, every page is found by every owner it ever read, whatever the index skipped as known already."""
    stored: dict = {}
    rev = reverse.Reverse(stored.get, complete=True)
    ever: dict[int, set[str]] = {}
    for pages in builds:
        for path, owners in pages:
            rev.page(path + ".html", [o << reverse._FIELD_BITS for o in owners], "")
            for o in owners:
                ever.setdefault(o, set()).add(path + ".html")
        stored.update(rev.rows(10, in_memory=True))
        rev = reverse.Reverse.load(rev.head(), stored, stored.get)
        for owner, paths in ever.items():
            assert paths <= rev.readers([owner])
        for name, row in stored.items():
            if name.startswith("readers:"):
                assert all(list(a) == sorted(set(a)) for a in row.values())


def test_a_preview_numbers_its_keys_with_the_maps_its_last_build_left(site, tmp_path, monkeypatch):
    """A preview's save took a tenth of its time making the maps from a key's owner and field to their numbers
    again. Its builds now hand them on (Deps.kept_ids): the next build of the same records takes them, a build
    that fails leaves none behind (it may have numbered keys its records never saved), and every site equals a
    clean build."""
    import shutil

    from conftest import article, tree_snapshot
    from sitegen.build.pipeline import Warm, build
    from sitegen.diagnostics import BuildFailed

    site.write("site.toml", 'title = "Thử"\n[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n')
    for i in range(4):
        site.write(f"content/thoi-su/bai-{i}/index.md", article(f"Bài {i}", date=f"2024-05-0{i + 1} 08:00"))
    config, warm = site.config(), Warm()
    build(config, warm=warm, jobs=1)
    made = []
    real_zip = zip
    monkeypatch.setattr(dependencies, "zip", lambda *a: (made.append(1) if isinstance(a[-1], range) else None)
                        or real_zip(*a), raising=False)

    template = site.root / "templates/article.html"

    def save(i: int, title: str) -> None:  # as the preview's watcher reports it (the template: made, deleted)
        site.write(f"content/thoi-su/bai-{i}/index.md", article(title, date=f"2024-05-0{i + 1} 08:00"))
        build(config, warm=warm, jobs=1, changed=[str(site.root / f"content/thoi-su/bai-{i}/index.md"),
                                                  str(template)])

    assert warm.ids.get("owners")
    save(1, "Bài một đã sửa")
    assert not made and warm.ids.get("owners")  # taken, and handed on
    site.write("templates/article.html", '{% extends "base.html" %}{% block main %}{{ entry.title }}{{ 1 // 0 }}'
                                          '{% endblock %}')
    with pytest.raises(BuildFailed):
        save(2, "Bài hai đã sửa")
    assert not warm.ids  # the failed build took them and gave nothing back
    template.unlink()
    save(2, "Bài hai sửa lần nữa")
    assert made and warm.ids.get("owners")  # made again from the records, then handed on
    clean = tmp_path / "clean"
    build(site.config(output=clean), use_cache=False, jobs=1)
    published = config.output_dir
    assert {k: v for k, v in tree_snapshot(published).items() if not k.startswith(".")} == \
        {k: v for k, v in tree_snapshot(clean).items() if not k.startswith(".")}
    shutil.rmtree(clean)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.dictionaries(st.integers(0, 60), st.sampled_from("abc"), max_size=12),
                          st.lists(st.integers(0, 60), max_size=6),
                          st.dictionaries(st.sampled_from([f"bai-{n}.md" for n in range(12)]), st.sampled_from("xyz"),
                                          max_size=6),
                          st.lists(st.sampled_from([f"bai-{n}.md" for n in range(12)]), max_size=4),
                          st.booleans()),
                min_size=1, max_size=6))
def test_the_digest_rows_written_are_always_the_tables_sorted_into_rows(builds):
    """Each save writes only the rows of the digests and entries that changed, each edited from the row as it was
    stored (not every key sorted into its row again): after any sequence of saves, some loaded back from what
    was stored, the stored rows are exactly the tables sorted into rows."""
    stored: dict = {}
    deps, first = dependencies.Deps(), True
    for set_digests, drop_digests, set_entries, drop_entries, reload in builds:
        deps.digests.update(set_digests)
        deps.entries.update(set_entries)
        for k in drop_digests:
            deps.digests.pop(k, None)
        for s in drop_entries:
            deps.entries.pop(s, None)
        deps._pruned_rows, first = first, False  # (every row the first time, as after a pruning)
        stored.update(deps._rows("t"))
        for name, table in (("digests", deps.digests), ("entries", deps.entries)):
            rows = {n: {} for n in range(dependencies._DIGEST_ROWS)}
            for k, d in table.items():
                rows[dependencies._bucket(k)][k] = d
            assert {n: stored[f"{name}:{n}"] for n in rows} == rows
        if reload:  # (a build of its own: the rows as loaded, see Deps.load)
            deps = dependencies.Deps(digests={k: d for n in range(dependencies._DIGEST_ROWS)
                                              for k, d in stored[f"digests:{n}"].items()},
                                     entries={k: d for n in range(dependencies._DIGEST_ROWS)
                                              for k, d in stored[f"entries:{n}"].items()})
            deps._stored_digests = (dict(deps.digests), dict(deps.entries))
            deps._stored_rows = tuple({n: stored[f"{name}:{n}"] for n in range(dependencies._DIGEST_ROWS)}
                                      for name in ("digests", "entries"))
