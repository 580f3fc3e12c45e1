"""inputs.rescan: the preview's walk brought up to date from the watcher's paths alone must be the very walk a
full `inputs.scan` would make (the same files in the same order, the same `names`, the same folders listed),
whatever the editor did: files saved, added, deleted, folders made, removed, moved."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from sitegen import config as config_mod
from sitegen.build import inputs

NAMES = st.sampled_from(["a", "b", "bai-moi", "tin", "z-cuoi", "ảnh"])
OPS = st.one_of(
    st.tuples(st.just("save"), st.integers(0, 99)),
    st.tuples(st.just("add"), st.integers(0, 99), NAMES, st.booleans()),
    st.tuples(st.just("new-folder"), st.integers(0, 99), NAMES, st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, 99)),
    st.tuples(st.just("remove-folder"), st.integers(0, 99)),
    st.tuples(st.just("move-folder"), st.integers(0, 99), NAMES),
    st.tuples(st.just("replace-folder"), st.integers(0, 99)),
    st.tuples(st.just("empty-folder"), st.integers(0, 99), NAMES, st.booleans()),
)


def _folders(content: Path) -> list[Path]:
    return [content, *sorted(p for p in content.rglob("*") if p.is_dir())]


def _files(content: Path) -> list[Path]:
    return sorted(p for p in content.rglob("*") if p.is_file())


def _apply(content: Path, op: tuple, every_path: bool) -> list[str]:
    """Do what an editor does; return the paths the watcher reports for it (watchdog: a folder moved is one
    event, its two paths; a folder removed is an event for each file in it and one for the folder, or, when
    `every_path` is False, the folder's alone)."""
    kind, n = op[0], op[1]
    folders, files = _folders(content), _files(content)
    if kind == "save" and files:
        f = files[n % len(files)]
        f.write_text(f.read_text(encoding="utf-8") + "x", encoding="utf-8")
        return [str(f)]
    if kind == "add":
        folder = folders[n % len(folders)]
        f = folder / (f"{op[2]}.md" if op[3] else "index.md")
        if f.exists():
            return []
        f.write_text("---\ntitle: x\n---\n", encoding="utf-8")
        return [str(f)]
    if kind == "new-folder":
        folder = folders[n % len(folders)] / f"{op[2]}-{n}"
        if folder.exists():
            return []
        (folder / "anh").mkdir(parents=True)
        (folder / "index.md").write_text("---\ntitle: y\n---\n", encoding="utf-8")
        (folder / "anh" / "1.jpg").write_bytes(b"jpg")
        return [str(folder), *([str(folder / "index.md"), str(folder / "anh"), str(folder / "anh" / "1.jpg")]
                               if op[3] else [])]
    if kind == "empty-folder":  # made before the article is saved into it (or named like an article file)
        folder = folders[n % len(folders)] / (f"{op[2]}-{n}.md" if op[3] else f"{op[2]}-{n}")
        if folder.exists():
            return []
        folder.mkdir()
        return [str(folder)]
    if kind == "delete" and files:
        f = files[n % len(files)]
        f.unlink()
        return [str(f)]
    if kind == "remove-folder" and len(folders) > 1:
        folder = folders[1 + n % (len(folders) - 1)]
        inside = [str(p) for p in folder.rglob("*")] if every_path else []
        shutil.rmtree(folder)
        return [*inside, str(folder)]
    if kind == "replace-folder" and len(folders) > 1:  # removed, and made again with other files (git checkout)
        folder = folders[1 + n % (len(folders) - 1)]
        inside = [str(p) for p in folder.rglob("*")] if every_path else []
        shutil.rmtree(folder)
        (folder / "moi").mkdir(parents=True)
        (folder / "moi" / "index.md").write_text("---\ntitle: z\n---\n", encoding="utf-8")
        return [*inside, str(folder)]
    if kind == "move-folder" and len(folders) > 1:
        folder = folders[1 + n % (len(folders) - 1)]
        dest = folder.parent / f"{op[2]}-moved-{n}"
        if dest.exists():
            return []
        folder.rename(dest)
        return [str(folder), str(dest)]
    return []


def _shape(listing: dict) -> dict:
    """A listing as discovery uses it: each folder's entries, names and kinds, and folders by identity (what the
    listing keeps of their stats: inputs.entry_at)."""
    return {folder: [tuple(entry) for entry in entries] for folder, entries in listing.items()}


def _small_site(root: Path) -> tuple[Path, config_mod.SiteConfig]:
    """Two categories, a bundle with a photo folder, a page: its content/ and configuration."""
    content = root / "content"
    for rel in ["thoi-su/bai-1/index.md", "thoi-su/bai-2/index.md", "thoi-su/bai-2/anh/a.jpg", "kinh-te/c.md",
                "gioi-thieu.md"]:
        (content / rel).parent.mkdir(parents=True, exist_ok=True)
        (content / rel).write_text("---\ntitle: t\n---\n", encoding="utf-8")
    return content, config_mod.load(root, root / "public")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.lists(OPS, min_size=1, max_size=3), min_size=1, max_size=4), every_path=st.booleans())
def test_rescan_equals_a_full_walk_after_any_edits(tmp_path_factory, steps, every_path):
    content, cfg = _small_site(tmp_path_factory.mktemp("site"))
    walk = inputs.scan(cfg, ())
    for step in steps:
        changed = [p for op in step for p in _apply(content, op, every_path)]
        again = inputs.rescan(walk, changed)
        assert again is not None, changed  # (no symlink, nothing outside content/: never the full walk)
        full = inputs.scan(cfg, ())
        assert list(again[0].files.items()) == list(full[0].files.items()), changed
        assert (again[0].names, again[0].outside, again[0].key) == (full[0].names, full[0].outside, "")
        assert _shape(again[1]) == _shape(full[1]), changed
        assert again[0].racy <= again[0].files.keys()
        walk = again


def test_an_empty_folder_is_not_a_file_that_came(tmp_path):
    """Scan.names (which files exist: the edit build's plan and the link checks are keyed on it) does not change
    when a folder is made, empty, before the article is saved into it (a full build of 24 s at 100 000 articles),
    but does for a file, and for a folder named like an article file (a link check tells it from nothing)."""
    root = tmp_path / "site"
    (root / "content" / "thoi-su" / "bai-1").mkdir(parents=True)
    (root / "content" / "thoi-su" / "bai-1" / "index.md").write_text("---\ntitle: t\n---\n", encoding="utf-8")
    cfg = config_mod.load(root, root / "public")
    first = inputs.scan(cfg, ())[0]
    (root / "content" / "thoi-su" / "bai-moi").mkdir()
    assert inputs.scan(cfg, ())[0].names == first.names
    (root / "content" / "thoi-su" / "bai-moi" / "index.md").write_text("---\ntitle: m\n---\n", encoding="utf-8")
    with_file = inputs.scan(cfg, ())[0].names
    assert with_file != first.names
    (root / "content" / "thoi-su" / "ghi-chu.md").mkdir()
    assert inputs.scan(cfg, ())[0].names != with_file


def test_rescan_walks_only_where_something_came_or_went(tmp_path, monkeypatch):
    """An article added to a big category lists that category again and walks the new folder: not the others."""
    content = tmp_path / "content"
    for c in range(3):
        for i in range(50):
            (content / f"muc-{c}" / f"bai-{i}").mkdir(parents=True)
            (content / f"muc-{c}" / f"bai-{i}" / "index.md").write_text("x", encoding="utf-8")
    cfg = config_mod.load(tmp_path, tmp_path / "public")
    walk = inputs.scan(cfg, ())
    listed = []
    real = os.scandir
    monkeypatch.setattr(inputs.os, "scandir", lambda p: listed.append(p) or real(p))
    new = content / "muc-1" / "bai-moi"
    new.mkdir()
    (new / "index.md").write_text("y", encoding="utf-8")
    scanned, _ = inputs.rescan(walk, [str(new), str(new / "index.md")])
    assert sorted(set(listed)) == [str(content / "muc-1"), str(new)]
    assert str(new / "index.md") in scanned.files
    monkeypatch.undo()
    assert scanned.names == inputs.scan(cfg, ())[0].names


def test_rescan_leaves_symlinks_and_other_folders_to_the_full_walk(tmp_path):
    content = tmp_path / "content"
    (content / "tin").mkdir(parents=True)
    (content / "tin" / "a.md").write_text("x", encoding="utf-8")
    (tmp_path / "templates").mkdir()
    cfg = config_mod.load(tmp_path, tmp_path / "public")
    walk = inputs.scan(cfg, ())
    assert inputs.rescan(walk, [str(tmp_path / "templates" / "base.html")]) is None  # not under content/
    assert inputs.rescan(walk, [str(tmp_path / "site.toml")]) is None
    os.symlink(content / "tin" / "a.md", content / "tin" / "b.md")
    time.sleep(0.01)
    assert inputs.rescan(walk, [str(content / "tin" / "b.md")]) is None  # one file under two names now


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.lists(OPS, min_size=1, max_size=3), min_size=1, max_size=4))
def test_a_walk_from_the_last_walks_folders_equals_a_full_walk(tmp_path_factory, monkeypatch, steps):
    """inputs.scan given the folders the last walk listed (`known`, kept in the cache between builds) lists
    again only the folders whose stat changed: whatever the editor did in between, the same files, stamps,
    names, keys and listing as a walk that lists every folder."""
    monkeypatch.setattr(inputs, "RACY_NS", 15_000_000)  # (a shorter wait for folders to settle: 3 timestamp ticks)
    content, cfg = _small_site(tmp_path_factory.mktemp("site"))
    time.sleep(0.02)
    known: inputs.Folders = {}
    inputs.scan(cfg, (), None, known)
    assert str(content / "thoi-su" / "bai-1") in "".join(known)  # settled folders are kept
    for step in steps:
        for op in step:
            _apply(content, op, True)
        time.sleep(0.02)  # (some folders settle, some do not: both kinds are walked)
        kept: inputs.Folders = {}
        again = inputs.scan(cfg, (), known, kept)
        full = inputs.scan(cfg, ())
        assert list(again[0].files.items()) == list(full[0].files.items()), step
        assert (again[0].names, again[0].outside, again[0].key, again[0].racy) == \
            (full[0].names, full[0].outside, full[0].key, full[0].racy)
        assert _shape(again[1]) == _shape(full[1]), step
        known = kept


def test_a_walk_lists_only_the_folders_that_changed(tmp_path, monkeypatch):
    """A folder whose stat is the one it had when the last walk listed it is not listed again (its entries
    are stat'ed by name); one changed since, or changed too close to the last walk to tell, is."""
    content = tmp_path / "content"
    for i in range(20):
        (content / "muc" / f"bai-{i}").mkdir(parents=True)
        (content / "muc" / f"bai-{i}" / "index.md").write_text("x", encoding="utf-8")
    cfg = config_mod.load(tmp_path, tmp_path / "public")
    time.sleep(inputs.RACY_NS / 1e9 + 0.01)
    kept: inputs.Folders = {}
    first = inputs.scan(cfg, (), None, kept)[0]
    assert len(kept) == 22  # content/, muc/ and each article's
    listed = []
    real = os.scandir
    monkeypatch.setattr(inputs.os, "scandir", lambda p: listed.append(p) or real(p))
    assert inputs.scan(cfg, (), kept)[0] == first
    assert [p for p in listed if p.startswith(str(content))] == []  # (the theme's folders are always listed)
    listed.clear()
    (content / "muc" / "bai-3" / "anh.jpg").write_bytes(b"jpg")  # a file came: its folder changed
    (content / "muc" / "bai-5" / "index.md").write_text("y", encoding="utf-8")  # edited in place: not its folder
    now: inputs.Folders = {}
    again = inputs.scan(cfg, (), kept, now)[0]
    assert [p for p in listed if p.startswith(str(content))] == [str(content / "muc" / "bai-3")]
    assert str(content / "muc" / "bai-3") not in "".join(now)  # (changed a moment ago: not kept)
    assert again.files[str(content / "muc" / "bai-5" / "index.md")] != first.files[str(content / "muc" / "bai-5" / "index.md")]
    monkeypatch.undo()
    assert list(again.files.items()) == list(inputs.scan(cfg, ())[0].files.items())
