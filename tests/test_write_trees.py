"""The two output trees (write.Staging) stay what their manifests say through any sequence of builds: full ones,
edit builds that carry the live tree over by the files the trees differ in (the `trees` table's DELTA row),
spares made ready between builds, and builds that stop half-way. A wrong difference would publish a stale
file, silently: these properties compare every file of both trees with the plain answer after every step."""

from __future__ import annotations

import copy
import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings, strategies as st

from sitegen.build import write

NAMES = ["index.html", "a/index.html", "a/b.html", "c.html", "d/e/index.html", "f.xml"]
BUNDLE = ["s/one.js", "s/two/x.bin", "s/three"]  # an edit build makes these again (as the search index)
BODIES = [b"", b"one", b"two", b"three"]

files = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(BODIES), max_size=len(NAMES))
bundle = st.dictionaries(st.sampled_from(BUNDLE), st.sampled_from(BODIES), max_size=len(BUNDLE))
steps = st.lists(st.one_of(
    st.tuples(st.just("full"), files, bundle, st.booleans(), st.booleans()),
    st.tuples(st.just("edit"), files, bundle, st.sets(st.sampled_from(NAMES), max_size=2), st.booleans(),
              st.sets(st.sampled_from(BUNDLE + NAMES), max_size=2)),
    st.tuples(st.just("mirror"), st.booleans()),
    st.tuples(st.just("killed"), files),
    st.tuples(st.just("deleted by hand"), st.sets(st.sampled_from(NAMES + BUNDLE), min_size=1, max_size=3)),
), min_size=1, max_size=12)


def _on_disk(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
            and p.name != write.MARKER}


def _worker(stage: write.Staging) -> write.Staging:
    """The stage as a forked render worker has it: its own copy of what the parent knew, thrown away after."""
    clone = copy.copy(stage)
    clone.manifest, clone._wanted_other, clone.stats = dict(stage.manifest), set(), write.WriteStats()
    return clone


def _fingerprint(data: bytes) -> str:
    return "h:" + hashlib.blake2b(data, digest_size=16).hexdigest()


@settings(max_examples=500, deadline=None)
@given(steps)
def test_both_trees_hold_what_their_manifests_say_after_any_sequence_of_builds(sequence):
    # Files deleted by hand are found by the stamps of their folders (write.missing), here with no margin at all
    # (a build's steps follow each other within one clock tick): only the folders changed since look closer.
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(write, "SETTLE_NS", 0):
        out = Path(tmp) / "public"
        known: dict = {}  # the cache's `trees` table, as stages._remember_trees and pipeline.ready_spare keep it
        live: dict[str, bytes] = {}
        lost: dict[str, bytes] = {}  # files of the live tree deleted by hand since it was published
        carried_fast = 0
        for step in sequence:
            if step[0] == "deleted by hand":  # from the live tree, between two builds
                for rel in step[1] & set(live):
                    (out / rel).unlink()
                    lost[rel] = live.pop(rel)
                continue
            # What a build finds gone from the live tree (pipeline's walk), a full build makes again, never an edit
            # build. (Not a preview readying its spare: that stops at the first file it cannot link.)
            gone = write.missing(out, known.get) if out.is_dir() and step[0] != "mirror" else ()
            assert step[0] == "mirror" or set(gone) == set(lost)
            if gone and step[0] == "edit":
                _, changes, index, _, _, _ = step
                step = ("full", {**{rel: data for rel, data in live.items() if not rel.startswith("s/")},
                                 **{rel: data for rel, data in changes.items() if rel in live}}, index, True, False)
            stage = write.Staging(out, known, lost=gone)
            if step[0] == "full":  # every page put (the unchanged ones carried over by `keep`, as a full build does)
                _, pages, index, keep, forked = step
                for rel, data in {**pages, **index}.items():
                    if keep and live.get(rel) == data and stage.keep(rel):
                        continue
                    if forked and rel in pages:  # rendered by a forked worker (build.pages), told to the parent
                        stage.made({rel: _worker(stage).put(rel, data)})
                    else:
                        stage.put(rel, data)
                want = {**pages, **index}
            elif step[0] == "edit":  # a few pages made again, every other file carried over
                # The bundle made anew, or carried over too (a preview's save, search.index's `later`) with some
                # of its files wanted otherwise; some files then taken out again (search._drop, say).
                _, changes, index, dropped, carry_index, forgotten = step
                changes = {rel: data for rel, data in changes.items() if rel in live}
                but = set(changes) | (dropped & set(live))  # a page rendered again may come out as nothing
                carried_fast += stage.differ is not None and stage.previous is not None
                assert stage.carry_over(but, "s/", with_prefixed=carry_index)
                assert stage.carried_prefixed <= carry_index  # (carried only when asked and the difference known)
                want = {**{rel: data for rel, data in live.items()
                           if rel not in but and (stage.carried_prefixed or not rel.startswith("s/"))},
                        **changes, **index}
                want = {rel: data for rel, data in want.items() if rel not in forgotten}
                for rel, data in {**changes, **index}.items():
                    stage.put(rel, data)
                stage.forget(forgotten)
            elif step[0] == "mirror":
                remembered = stage.mirror(lambda: step[1])
                if remembered is not None:
                    live_stamp = known.get(write.PUBLISHED + stage.active_token)
                    known.update(remembered)
                    known = {k: v for k, v in known.items() if k in remembered}
                    assert known.get(write.PUBLISHED + stage.active_token) == live_stamp  # (still the live tree)
                    assert _on_disk(stage.dir) == {**live, **lost}  # (what the live tree's manifest says)
                continue
            else:  # killed half-way: the spare is left dirty, the live tree as it was
                for rel, data in step[1].items():
                    stage.put(rel, data)
                continue
            remembered = stage.publish()
            relisted = (stage.active_token,) if stage.lost else ()  # (stages._remember_trees)
            known.update({k: remembered[k] for k in (stage.token, write.PUBLISHED + stage.token, write.DELTA,
                                                     *relisted) if k in remembered})
            lost = {}
            known = {k: v for k, v in known.items() if k in remembered}
            live = want
            assert _on_disk(out) == live
            assert known[stage.token] == {rel: _fingerprint(data) for rel, data in live.items()}
            spare = Path(tmp) / ".public.spare"
            spare_manifest = known.get(write.output_token(spare))
            if spare_manifest is not None:  # the tree before last: exactly what its manifest says
                assert {rel: _fingerprint(data) for rel, data in _on_disk(spare).items()} == spare_manifest
            delta = known.get(write.DELTA)
            if delta is not None and spare_manifest is not None:  # the difference is never less than the truth
                truth = {rel for rel in known[stage.token].keys() | spare_manifest.keys()
                         if known[stage.token].get(rel) != spare_manifest.get(rel)}
                assert truth <= set(delta[2])


def test_an_edit_build_after_an_edit_build_looks_only_at_the_files_that_differ(tmp_path, monkeypatch):
    """The shortcut is taken (the spare is not walked file by file), and leaves both trees right."""
    out = tmp_path / "public"
    known: dict = {}

    def build(pages: dict[str, bytes], but: set[str] | None = None) -> write.Staging:
        stage = write.Staging(out, known)
        if but is None:
            for rel, data in pages.items():
                stage.put(rel, data)
        else:
            assert stage.carry_over(but, "s/")
            for rel in but:
                stage.put(rel, pages[rel])
        remembered = stage.publish()
        known.update({k: remembered[k] for k in (stage.token, write.DELTA) if k in remembered})
        for k in [k for k in known if k not in remembered]:
            del known[k]
        return stage

    site = {f"p{n}.html": b"page %d" % n for n in range(50)}
    build(site)
    build({**site, "p1.html": b"first edit"}, {"p1.html"})  # the spare (an empty tree) differs everywhere
    walked = []
    monkeypatch.setattr(write.Staging, "keep_all", lambda self, rels: walked.append(rels) or True)
    stage = build({**site, "p1.html": b"first edit", "p2.html": b"second edit"}, {"p2.html"})
    assert stage.differ is not None and not walked
    assert stage.stats.unchanged == 49
    assert known[write.DELTA][2] == ("p2.html",)
    assert (out / "p1.html").read_bytes() == b"first edit" and (out / "p2.html").read_bytes() == b"second edit"
    spare = tmp_path / ".public.spare"
    assert (spare / "p1.html").read_bytes() == b"first edit" and (spare / "p2.html").read_bytes() == b"page 2"


def _leases(folder: Path) -> None:
    """Skip where the filesystem grants no write leases (write._write_over then always renames, as before)."""
    probe = folder / "lease-probe"
    probe.write_bytes(b"")
    fd = os.open(probe, os.O_WRONLY)
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
    except OSError as e:
        pytest.skip(f"no write leases on this filesystem ({e})")
    finally:
        os.close(fd)
        probe.unlink()


def _three_builds(out: Path, rel: str, bodies: list[bytes]) -> tuple[Path, Path]:
    """Full builds publishing `rel` as each of `bodies` in turn; the spare tree then holds the one before last."""
    known: dict = {}
    for data in bodies:
        stage = write.Staging(out, known)
        stage.put(rel, data)
        known.update(stage.publish())
    return out / rel, out.parent / f".{out.name}.spare" / rel


def test_a_page_the_spare_alone_holds_is_written_over_in_place_and_the_live_one_is_never_touched(tmp_path):
    """A page changed by two builds in a row (the listings an addition shifts): the spare's file is its own (one
    name), so the next build writes into it, same inode, no rename (which on a `discard` filesystem costs a block
    free each); shorter bytes leave no tail. The live tree's file is another inode and stays as it was."""
    _leases(tmp_path)
    out = tmp_path / "public"
    live, spare = _three_builds(out, "a/index.html", [b"first version, a long one", b"second"])
    assert spare.read_bytes() == b"first version, a long one" and spare.stat().st_nlink == 1
    inode = spare.stat().st_ino
    stage = write.Staging(out, {})
    stage.write_bytes("a/index.html", b"third")
    assert spare.read_bytes() == b"third" and spare.stat().st_ino == inode
    assert live.read_bytes() == b"second"
    assert not [p for p in spare.parent.iterdir() if p.name != "index.html"]  # no temporary file left


def test_a_file_the_live_tree_shares_or_someone_holds_open_is_replaced_by_rename_never_written_into(tmp_path):
    """Written into, a file the spare shares with the live tree (a hard link: the page did not change last time)
    would change the live site; one a reader holds open (a web server's cached descriptor, a slow download begun
    before the last swap) would hand that reader another build's bytes, or half of them."""
    out = tmp_path / "public"
    live, spare = _three_builds(out, "a/index.html", [b"one", b"two"])
    shared = out / "b.html"
    shared.write_bytes(b"live page")
    os.link(shared, spare.parent.parent / "b.html")
    stage = write.Staging(out, {})
    stage.write_bytes("b.html", b"new page")
    assert shared.read_bytes() == b"live page" and (spare.parent.parent / "b.html").read_bytes() == b"new page"

    with open(spare, "rb") as reader:  # (the spare's own file, but open elsewhere)
        stage.write_bytes("a/index.html", b"three")
        assert reader.read() == b"one"
    assert spare.read_bytes() == b"three" and live.read_bytes() == b"two"


def test_a_reader_opening_the_file_while_it_is_written_into_waits_and_the_build_lives_on(tmp_path):
    """While the build writes into a file it holds a lease on it; a reader opening it then breaks the lease,
    which signals the build: with the kernel's default signal (SIGIO) that killed the build. The reader waits
    the few microseconds until the write is done, and reads the whole new page."""
    _leases(tmp_path)
    out = tmp_path / "public"
    _, spare = _three_builds(out, "a/index.html", [b"one", b"two"])
    script = f"""
import os, subprocess, sys, time
from pathlib import Path
from sitegen.build import write
spare = {str(spare)!r}
real = os.write
def slow(fd, data):  # a reader opens the file while the build holds it
    reader = subprocess.Popen([sys.executable, "-c", "print(open(%r, 'rb').read().decode())" % spare],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    done = real(fd, data)
    slow.reader = reader
    return done
os.write = slow
assert write._write_over(spare, b"three")
os.write = real
print("build lives;", slow.reader.communicate()[0].strip())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["build", "lives;", "three"]


def test_files_deleted_by_hand_are_found_by_looking_only_into_the_folders_changed_since(tmp_path, monkeypatch):
    """write.missing stats each folder of the live tree and looks at the files of those changed since the tree
    went live (at 10 000 articles with nothing in the kernel's cache: 0.27 s, against 2.2 s for every file):
    every file deleted, or folder removed, is found, and no other file is looked at. A tree remembered without
    its stamp (an older sitegen), or a clock gone back, has every file looked at."""
    import shutil

    out, known = tmp_path / "public", {}
    stage = write.Staging(out, known)
    pages = {"index.html": b"home", **{f"tin/bai-{n}/index.html": b"x%d" % n for n in range(40)}}
    for rel, data in pages.items():
        stage.put(rel, data)
    time.sleep(0.05)
    known.update(stage.publish())
    time.sleep(0.05)
    monkeypatch.setattr(write, "SETTLE_NS", 10_000_000)  # (10 ms, not the whole seconds of some filesystems)
    looked: list[str] = []
    real = os.access
    monkeypatch.setattr(write.os, "access", lambda path, mode: looked.append(path) or real(path, mode))

    def base(paths: list[str]) -> set[str]:
        return {os.path.relpath(p, out) for p in paths}

    assert write.missing(out, known.get) == ()
    assert base(looked) == {"index.html"}  # (the output folder itself was stamped by the swap)
    (out / "tin/bai-7/index.html").unlink()
    shutil.rmtree(out / "tin/bai-9")
    (out / "tin/bai-11").rename(tmp_path / "elsewhere")
    looked.clear()
    gone = {"tin/bai-7/index.html", "tin/bai-9/index.html", "tin/bai-11/index.html"}
    assert set(write.missing(out, known.get)) == gone
    assert base(looked) == gone | {"index.html"}

    for stamp in (None, time.time_ns() + 60 * 10**9):  # no stamp; a stamp ahead of the clock
        known[write.PUBLISHED + write.output_token(out)] = stamp
        looked.clear()
        assert set(write.missing(out, known.get)) == gone
        assert base(looked) == set(pages)
