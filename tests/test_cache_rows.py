"""cache.Rows: a mapping kept in rows of a cache table by key, written a few rows at a time; Cache.copy: rows kept
under new keys as they are."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sitegen.build.cache import Cache, Rows

KEYS = st.sampled_from([f"content/thoi-su/bai-{n}/index.md" for n in range(40)] + ["", "ẩm thực", "a\udcff"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.dictionaries(KEYS, st.integers(0, 3), max_size=8), st.lists(KEYS, max_size=5),
                          st.booleans()), min_size=1, max_size=6),
       st.integers(1, 9))
def test_rows_edited_after_any_changes_are_the_mapping_split_into_rows(tmp_path_factory, changes, count):
    """Whatever is set and taken out, build after build, the rows in the cache (each build writing only the rows
    it edited, from the rows as stored or as read back) are the whole mapping split into rows, and read back
    whole; and the rows a build was given are never changed in place."""
    rows = Rows("t", count)
    cache = Cache(tmp_path_factory.mktemp("c"), "salt")
    try:
        truth: dict = {}
        cache.put_many("plan", rows.named(rows.split(())))
        stored = rows.read(cache.get_many("plan", rows.names()))
        assert stored == {n: {} for n in range(count)}
        for set_, gone, reread in changes:
            before = {n: dict(row) for n, row in stored.items()}
            edited = rows.edited(stored, set_, gone)
            assert stored == before  # (copies: a preview's memory cache may hold the stored rows)
            assert set(edited) == {rows.of(k) for k in (*set_, *gone)}
            cache.put_many("plan", rows.named(edited))
            for k in gone:
                truth.pop(k, None)
            truth.update(set_)
            stored = rows.read(cache.get_many("plan", rows.names())) if reread else {**stored, **edited}
            assert stored == rows.split(truth.items())
            assert Rows.joined(stored) == truth
    finally:
        cache.close()


def test_a_row_missing_or_of_another_shape_is_not_read():
    """A row the cache lacks, or of an older format (a tuple, say), makes the read None: not trusted."""
    rows = Rows("t", 4)
    whole = rows.named(rows.split([("a", 1), ("b", 2)]))
    assert rows.read(whole) == rows.split([("a", 1), ("b", 2)])
    assert rows.read({k: v for k, v in whole.items() if k != "t:0"}) is None
    assert rows.read({**whole, "t:3": ("a",)}) is None
    assert rows.read({k: v for k, v in whole.items() if k != "t:0"}, [1, 2, 3]) is not None


def test_rows_copied_under_new_keys_are_the_same_values_on_disk_and_in_a_previews_memory(tmp_path):
    """Cache.copy (a shift's link checks kept under the new link index's key): each row found under its old key is
    under the new one too, the old one stays, a key not found is skipped; a preview's memory cache tells its
    journal, so that its save writes the new rows."""
    for cache in (Cache(tmp_path / "disk", "salt"), Cache(tmp_path / "mem", "salt", memory={}, journal={})):
        try:
            cache.put_many("links", {"old-a": ("a", (), ("/x/",)), "old-b": ("b", (), ())})
            cache.copy("links", {"new-a": "old-a", "new-b": "old-b", "new-c": "old-c"})
            assert cache.get_many("links", ["old-a", "old-b", "new-a", "new-b", "new-c"]) == {
                "old-a": ("a", (), ("/x/",)), "old-b": ("b", (), ()), "new-a": ("a", (), ("/x/",)),
                "new-b": ("b", (), ())}
            if cache.journal is not None:
                assert {"new-a", "new-b"} <= cache.journal["links"]
        finally:
            cache.close()
