"""Stage 4, write: bring a spare copy of the site up to date, then swap it with the output folder in one step.

Readers and `rsync` never see a half-written site. The output folder (`public/`) has a hidden twin beside it,
`.public.spare/`, holding the build before last. A build updates only the files of the spare that differ
(pages whose fingerprint changed are rendered; files equal to the live site's are hard-linked from it), then
exchanges the two folders atomically (Linux renameat2; two renames elsewhere, with `recover()` covering a crash
between them). The live folder is never written to, so killing a build at any moment leaves it complete, and an
unchanged file keeps its inode and timestamp, so a deploy by rsync or an object-store sync uploads only what
changed. Files are replaced by rename, never rewritten in place, because the two trees share unchanged files.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import signal
import stat
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Mapping

from ..diagnostics import BuildFailed, Diagnostic, ERROR
from ..structure.routes import safe_relative

try:
    import fcntl
except ImportError:  # (not on Windows: files are then always written by rename, see _write_over)
    fcntl = None  # type: ignore[assignment]

# What proves a folder is ours to replace, holding the token of the build that made it: an extended attribute of
# the folder itself, which travels with it through the atomic swap (a rename keeps the inode) and is not a file,
# so `rsync -a` and object-store syncs do not publish it, and a folder deleted and made again by someone else has
# none. Where the filesystem or the system has no user attributes (macOS, Windows, old tmpfs), a file inside the
# folder does the same job, as it did before: MARKER, which is then published with the site.
ATTRIBUTE = "user.sitegen.output"
MARKER = ".sitegen-output"
DIRTY = "dirty"
_MIRROR_BATCH = 2000  # files linked between two questions to `Staging.mirror`'s cancel (tens of ms a batch)
# The `trees` row (beside each tree's manifest, by token) naming the files in which the two trees differ: (one
# token, the other, the paths). An edit build then carries the live tree over by those few files, not by a walk
# over every file (0.4 s of a preview's save at 100 000 articles). Not kept when most files differ (a cold build).
DELTA = "delta"
# The `trees` row (PUBLISHED + a tree's token) holding when that tree went live, as its filesystem's clock reads it
# (`_stamp` of the output folder once swapped in: `_mark` changed it last). Any folder of the tree changed since
# (a file deleted from it, the folder itself removed or replaced) has a later stamp: `missing` looks into those
# folders alone. One stat a folder, without reading what the folder holds: with the folders' blocks no longer
# in the kernel's cache (a large archive on a small machine), a file's name costs a read of its folder, and
# looking at every file took 2.2 s at 10 000 articles, the folders' stamps 0.27 s.
PUBLISHED = "published:"
# How much earlier than the tree's own stamp a folder's may be and still be looked into: the kernel stamps files
# from a clock read once a tick, and some filesystems keep whole seconds only, or even ones (FAT).
SETTLE_NS = 2_000_000_000


@dataclass
class WriteStats:
    written: int = 0
    unchanged: int = 0
    copied: int = 0
    removed: int = 0


@dataclass
class Staging:
    """Updates the spare tree for this build; `publish()` makes it the output.

    `known` maps a tree's token to its manifest (output path -> fingerprint) as remembered by the cache. `lost`:
    files of the live tree deleted by hand since it was published (`missing`): this tree makes them again, and the
    live one, the spare once this is published, is remembered without them.
    """

    output: Path
    known: Mapping[str, dict[str, str]] = field(default_factory=dict)
    stats: WriteStats = field(default_factory=WriteStats)
    lost: Collection[str] = ()

    def __post_init__(self) -> None:
        self.output = self.output.resolve()
        recover(self.output)
        _check_replaceable(self.output)
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.dir = self.output.parent / f".{self.output.name}.spare"
        self.active_token = output_token(self.output) if self.output.is_dir() else ""
        self.active: dict[str, str] = dict(self.known.get(self.active_token, {}))
        self.lost = frozenset(self.lost) & self.active.keys()
        for rel in self.lost:
            del self.active[rel]
        # Where the spare may differ from the live tree (None: anywhere, every file is looked at).
        self.differ: frozenset[str] | None = None
        if self.dir.is_dir():
            _check_replaceable(self.dir)
            spare_token = output_token(self.dir)
            self.previous: dict[str, str] | None = self.known.get(spare_token) if spare_token != DIRTY else None
            delta = self.known.get(DELTA)
            if self.previous is not None and self.active and isinstance(delta, tuple) and len(delta) == 3 \
                    and {delta[0], delta[1]} == {self.active_token, spare_token} and not self.lost:
                self.differ = frozenset(delta[2])
        else:
            self.dir.mkdir()
            self.previous = {}
        self._empty = self.previous == {} and not any(self.dir.iterdir())  # links need no temporary name
        # Until publish() the spare is in an unknown state: a killed build must not trust it next time.
        _mark(self.dir, DIRTY)
        self.token = uuid.uuid4().hex
        self.manifest: dict[str, str] = {}
        # The paths where this tree may end up other than the live one: what `want` was given otherwise than the
        # live tree has, and (None: look at every file) those the manifest may lack or hold otherwise.
        self._wanted_other: set[str] = set()
        self._touched: set[str] | None = None
        self.carried_prefixed = False  # see carry_over
        self._forgotten: set[str] = set()  # taken out again (`forget`)
        self._placed: set[str] = set()  # files this build put into the spare (`previous` no longer says what they are)
        # Strings, not Paths, on the per-file path: a first build after a cold one links 10 000s of files.
        self._spare, self._live, self._tmp = str(self.dir), str(self.output), f".{self.token[:8]}.tmp"
        self._made: set[str] = {self._spare}
        self.published = False

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc: object) -> None:
        pass  # the spare stays (marked dirty) for the next build to reuse what it can

    def want(self, rel: str, fingerprint: str) -> bool:
        """Record that `rel` must hold the file with this fingerprint; True if the caller must produce it."""
        self.manifest[rel] = fingerprint
        live = self.active.get(rel) == fingerprint
        if not live:
            self._wanted_other.add(rel)
        if self.previous is not None and self.previous.get(rel) == fingerprint and rel not in self._placed:
            self.stats.unchanged += 1
            return False
        if live:
            try:
                self._replace_with_link(f"{self._live}/{rel}", rel)
                self.stats.unchanged += 1
                return False
            except OSError:
                pass
        return True

    def keep(self, rel: str) -> bool:
        """Carry the live tree's `rel` over as it is; False when it has none (then it must be made)."""
        fingerprint = self.active.get(rel)
        return fingerprint is not None and not self.want(rel, fingerprint)

    def keep_all(self, rels: Iterable[str]) -> bool:
        """`keep` for many files at once (an edit build carries every file but a few: 26 000 calls of `keep` were
        a tenth of a preview save at 10 000 articles). False when one of them cannot be carried over."""
        active, previous, manifest = self.active, self.previous, self.manifest
        relink = []
        kept = 0
        for rel in rels:
            fingerprint = active.get(rel)
            if fingerprint is None:
                return False
            manifest[rel] = fingerprint
            if previous is not None and previous.get(rel) == fingerprint and rel not in self._placed:
                kept += 1
            else:
                relink.append(rel)
        self.stats.unchanged += kept
        return all(self.keep(rel) for rel in relink)

    def carry_over(self, but: Collection[str], prefix: str, with_prefixed: bool = False) -> bool:
        """Carry every file of the live tree over as it is, but those in `but` (an edit build's pages to render)
        and those under `prefix` (the search index, which its stage makes), before anything else is wanted. With
        the trees' difference known (`differ`) only the files where the spare differs are looked at, and those
        under `prefix` are carried too if `with_prefixed` (`carried_prefixed`: a preview's save publishes the
        index as it is, see search.index); else `keep_all` over every one. False when one cannot be carried over
        (gone from the live tree)."""
        fast = self.differ is not None and not self.manifest and self.previous is not None
        self.carried_prefixed = fast and with_prefixed
        skip = {rel for rel in but if rel in self.active}
        if not self.carried_prefixed:
            skip.update(rel for rel in self.active if rel.startswith(prefix))
        if not fast:
            return self.keep_all([rel for rel in self.active if rel not in skip])
        assert self.differ is not None and self.previous is not None
        self.manifest.update(self.active)
        for rel in skip:
            del self.manifest[rel]
        self._touched = skip | set(but)
        relink = [rel for rel in self.differ if rel in self.manifest and self.previous.get(rel) != self.manifest[rel]]
        self.stats.unchanged += len(self.manifest) - len(relink)
        for rel in relink:
            try:
                self._replace_with_link(f"{self._live}/{rel}", rel)
            except OSError:
                return False
            self.stats.unchanged += 1
        return True

    def made(self, put: Mapping[str, str]) -> None:
        """What a forked worker `put` into this tree (path -> fingerprint): into the manifest, as `want` does."""
        self.manifest.update(put)
        self._placed.update(put)
        active = self.active
        self._wanted_other.update(rel for rel, fingerprint in put.items() if active.get(rel) != fingerprint)

    def forget(self, rels: Iterable[str]) -> None:
        """Take these files out of this tree (wanted or carried over before): not published, removed from the
        spare if it has them."""
        rels = list(rels)
        for rel in rels:
            self.manifest.pop(rel, None)
        self._forgotten.update(rels)  # (this build may have written them: no manifest of the spare names them)

    def put(self, rel: str, data: bytes) -> str:
        """Publish `data` as `rel`: written only when neither tree already holds these very bytes (an unchanged
        page keeps its inode and timestamp, so rsync uploads only what changed). Returns its fingerprint (a
        forked worker's manifest is its own: the build process adds what the workers put to its manifest)."""
        fingerprint = "h:" + hashlib.blake2b(data, digest_size=16).hexdigest()
        if self.want(rel, fingerprint):
            self.write_bytes(rel, data)
        return fingerprint

    def _target(self, rel: str) -> tuple[str, str]:
        """The spare's file for `rel` (its folder made), and the temporary name it is written under first."""
        if not safe_relative(rel):  # routes produce only such paths; this guards against a bug, cheaply
            raise ValueError(f"{rel!r} leaves the output folder")
        self._placed.add(rel)
        parent, _, name = f"{self._spare}/{rel}".rpartition("/")
        if parent not in self._made:
            try:
                os.makedirs(parent, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                self._unblock(parent)  # a file where this build needs a folder
                os.makedirs(parent, exist_ok=True)
            self._made.add(parent)
        return f"{parent}/{name}", f"{parent}/.{name}{self._tmp}"

    def _unblock(self, folder: str) -> None:
        """Remove the file an earlier build left in the spare tree where `folder` (or one of its parents) must
        now be: an alias that switched between '/a.html' and '/a.html/', say. The spare is this build's to
        rewrite, and the live tree is not touched."""
        path = self._spare
        for part in folder[len(self._spare) + 1:].split("/"):
            path = f"{path}/{part}"
            if os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)
                return

    def _swap(self, tmp: str, target: str) -> None:
        """os.replace(tmp, target), removing first a folder an earlier build left where a file must now be."""
        try:
            os.replace(tmp, target)
        except IsADirectoryError:
            shutil.rmtree(target)
            os.replace(tmp, target)

    def _replace_with_link(self, src: Path | str, rel: str) -> None:
        again = rel in self._placed  # (linked or written before by this build: it may be that very file)
        target, tmp = self._target(rel)
        if self._empty and not again:
            try:
                os.link(src, target)
                return
            except FileExistsError:
                pass
        if self.previous is None or self._empty or again:
            # A spare nobody remembers (a build was killed, or the cache is new) mostly holds the very files of
            # the live tree already: the two trees share every file that did not change. Such a file stays.
            # (Linked under a temporary name and renamed over it, it would not even move: rename() between two
            # names of one file does nothing, and the temporary name would stay, for _remove_extras to find.)
            try:
                if os.path.samestat(os.stat(src), os.lstat(target)):
                    return
            except OSError:
                pass
        os.link(src, tmp)
        self._swap(tmp, target)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write one file of the spare tree: over the spare's own file where it has one that nobody else holds
        (`_write_over`), else by rename, so that the live tree sharing the old inode is untouched."""
        target, tmp = self._target(rel)
        if not _write_over(target, data):
            with open(tmp, "wb") as fh:
                fh.write(data)
            self._swap(tmp, target)
        self.stats.written += 1

    def copy_file(self, src: Path, rel: str, link: bool = False) -> None:
        """Publish a file (photo, asset) unless the tree has it already; `link` for files never changed in place
        (the image cache), a copy for editors' own files."""
        try:
            st = src.stat()
        except OSError:
            return
        if not self.want(rel, f"file:{src}:{st.st_size}:{st.st_mtime_ns}"):
            return
        if link:
            try:
                self._replace_with_link(src, rel)
                self.stats.copied += 1
                return
            except OSError:
                pass
        target, tmp = self._target(rel)
        shutil.copy2(src, tmp)
        self._swap(tmp, target)
        self.stats.copied += 1

    def publish(self) -> dict[str, dict[str, str]]:
        """Drop files this build does not produce, then swap the spare in. Returns the manifests to remember."""
        self._remove_extras()
        _mark(self.dir, self.token)
        if self.output.exists():
            if not _exchange(self.dir, self.output):
                old = self.output.parent / f".{self.output.name}.old-{self.token[:8]}"
                os.rename(self.output, old)
                os.rename(self.dir, self.output)
                os.rename(old, self.dir)
        else:
            os.rename(self.dir, self.output)
        self.published = True
        remembered: dict[str, Any] = {self.token: self.manifest, PUBLISHED + self.token: _stamp(self.output)}
        if self.active_token and self.active_token != DIRTY and self.active:
            remembered[self.active_token] = self.active  # now the spare's manifest
            differ = self._differences()
            if differ is not None:  # (sorted: the same pickle for the same row, whatever the hash seed)
                remembered[DELTA] = (self.token, self.active_token, tuple(sorted(differ)))
        return remembered

    def changed(self) -> set[str] | None:
        """The paths where this tree differs from the live one so far (a file in one only, or another
        fingerprint), when that is known without looking at every file (`carry_over` with `differ`); else None."""
        return None if self._touched is None else \
            self._differing(self._touched | self._wanted_other | self._forgotten)

    def _differing(self, candidates: Iterable[str]) -> set[str]:
        manifest, active = self.manifest, self.active
        return {rel for rel in candidates
                if manifest.get(rel) != active.get(rel) or (rel in manifest) != (rel in active)}

    def _differences(self) -> frozenset[str] | None:
        """The paths where this tree and the live one differ; None when most do (nothing is gained then by
        remembering them)."""
        found = self.changed()
        if found is None:
            candidates = self._wanted_other | (self.active.keys() - self.manifest.keys()) | self._forgotten
            if len(candidates) * 2 > len(self.manifest):
                return None
            found = self._differing(candidates)
        return frozenset(found)

    def mirror(self, cancel: Callable[[], bool]) -> dict[str, dict[str, str]] | None:
        """Make the spare what the live tree holds (hard links: the two then share every file), without
        publishing anything, so that the next build links only what it changes: after a full build nearly every
        file differs, and the first save of a preview at 10 000 articles spent 3 s linking 15 000 of them. Returns
        the manifests to remember (the spare's under a new token); None when `cancel()` said stop between two
        batches (the spare then stays marked dirty: the next build looks at what it really holds)."""
        if not self.active:
            return None  # what the live tree holds is not known
        rels = list(self.active)
        for start in range(0, len(rels), _MIRROR_BATCH):
            if cancel() or not self.keep_all(rels[start:start + _MIRROR_BATCH]):
                return None
        self._remove_extras()
        _mark(self.dir, self.token)
        published = self.known.get(PUBLISHED + self.active_token)  # (the live tree's, which stays live)
        return {self.active_token: self.active, self.token: self.manifest,
                DELTA: (self.active_token, self.token, ()),
                **({PUBLISHED + self.active_token: published} if published is not None else {})}

    def _remove_extras(self) -> None:
        # Files taken out again (`forget`) may have been written by this build: in no manifest of the spare.
        extras = {rel for rel in self._forgotten if rel not in self.manifest}
        if self.previous is not None and self._touched is not None:  # (carried over: see _differences)
            assert self.differ is not None
            extras.update(rel for rel in self.differ | self._touched if rel in self.previous and rel not in self.manifest)
        elif self.previous is not None:
            extras.update(rel for rel in self.previous if rel not in self.manifest)
        else:  # unknown spare: look at what is really there
            for folder, _, files in os.walk(self.dir):
                for name in files:
                    rel = os.path.relpath(os.path.join(folder, name), self.dir).replace(os.sep, "/")
                    if rel not in self.manifest and rel != MARKER:
                        extras.add(rel)
        for rel in sorted(extras):
            try:
                os.unlink(self.dir / rel)
                self.stats.removed += 1
            except OSError:
                continue
            parent = (self.dir / rel).parent
            while parent != self.dir:  # prune folders left empty (a deleted article)
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent


def _write_over(target: str, data: bytes) -> bool:
    """Write `data` over the file at `target` in place, when it is the spare tree's alone: one name (not shared
    with the live tree, nor the image cache) and no one holding it open. False, having written nothing, otherwise.

    Why: replacing a file by rename frees the old one's blocks, and on a filesystem mounted with `discard` (a
    VM's disk, most SSD setups) each free costs some 0.25 ms: an addition at 10 000 articles rewrites the 257
    pages of the listings it shifts, mostly pages the build before also changed, so the spare's files are its
    own, and renaming over them took 75 ms where writing into them takes 10.

    Nobody must be reading the file: the spare was the live tree until the last swap, and a web server may still
    hold one of its files open (a slow download begun before, nginx's open_file_cache). A write lease is granted
    only when no other descriptor of the file is open (fcntl F_SETLEASE); while it is held, anyone opening the file
    waits for it to be released, here a few microseconds later. The lease's break signal is SIGWINCH, ignored by
    default (SIGIO, the default one, would kill the build). Where leases are not to be had (other systems,
    filesystems without them, files not ours) the rename does the job as before."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, AttributeError):  # no file yet (a new page), a folder, a link; or no such flags here
        return False
    try:
        st = os.fstat(fd)
        if st.st_nlink != 1 or not stat.S_ISREG(st.st_mode):
            return False
        try:
            fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGWINCH)
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        except (AttributeError, OSError):  # held open elsewhere, or no leases on this system
            return False
        try:
            view, done = memoryview(data), 0
            while done < len(data):
                done += os.write(fd, view[done:])
            os.ftruncate(fd, len(data))
        finally:
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return True
    finally:
        os.close(fd)


def missing(output: Path, manifest_of: Callable[[str], Any]) -> tuple[str, ...]:
    """The files the live tree's manifest (`manifest_of(token)`: the cache's `trees` row) names that are not in
    `output`: deleted or moved by hand since it was published (`rm -r public/kinh-te`). Every build with a cache
    on disk asks (pipeline._Walk, beside the walk of the inputs), so that a full build makes them again
    (`Staging`'s `lost`) instead of answering that nothing changed, or carrying the hole over into the next tree.
    Found by the folders' stamps (see PUBLISHED): a stat a folder, and a look at the files of those changed since.
    A file changed in place by hand keeps its name and is not seen."""
    token = output_token(output)
    if not token or token == DIRTY:
        return ()  # (no tree anyone remembers: the build makes every file, see Staging)
    manifest = manifest_of(token)
    if not isinstance(manifest, dict):
        return ()
    base = f"{output}/"
    candidates: Iterable[str] = manifest
    published = manifest_of(PUBLISHED + token)
    # Only the files of folders stamped since the tree went live (see PUBLISHED), unless that is not known (a tree
    # published by an older sitegen) or the clock now reads earlier (it went back: stamps tell nothing then).
    if isinstance(published, int) and time.time_ns() >= published - SETTLE_NS:
        since = published - SETTLE_NS
        changed = set()
        for folder in {rel.rpartition("/")[0] for rel in manifest}:
            try:
                st = os.lstat(base + folder if folder else output)
            except OSError:
                changed.add(folder)  # (gone: each of its files is, see below)
                continue
            if not stat.S_ISDIR(st.st_mode) or max(st.st_mtime_ns, st.st_ctime_ns) >= since:
                changed.add(folder)
        candidates = [rel for rel in manifest if rel.rpartition("/")[0] in changed]
    # (access(), not stat(): only whether the name is there, without a stat result made per file)
    return tuple(rel for rel in candidates if not os.access(base + rel, os.F_OK))


def _stamp(folder: Path | str) -> int:
    """When `folder` last changed, by its filesystem's clock (its entries, or the folder itself: ctime)."""
    st = os.stat(folder)
    return max(st.st_mtime_ns, st.st_ctime_ns)


def output_token(output: Path) -> str:
    """The token of the build that made `output` (written by Staging), or '' if there is none."""
    try:
        return os.getxattr(output, ATTRIBUTE).decode("ascii")
    except (AttributeError, OSError, UnicodeDecodeError):  # no attribute, or none on this system: the file
        pass
    try:
        return (output / MARKER).read_text(encoding="utf-8").split()[1]
    except (OSError, IndexError):
        return ""


def _mark(folder: Path, token: str) -> None:
    """Record in `folder` the token of the build it holds (DIRTY while being updated); see ATTRIBUTE."""
    try:
        os.setxattr(folder, ATTRIBUTE, token.encode("ascii"))
    except (AttributeError, OSError):  # no user attributes here: the marker file, published with the site
        (folder / MARKER).write_text(f"sitegen {token}\n", encoding="utf-8")
        return
    try:  # a marker file left by an earlier sitegen: the attribute replaces it, so it is no longer published
        os.unlink(folder / MARKER)
    except FileNotFoundError:
        pass


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    func = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if func is None:
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EPERM):  # old kernel or a filesystem without it
        return False
    raise OSError(err, os.strerror(err), str(b))


def recover(output: Path) -> None:
    """Undo what an interrupted run left: where the output is missing (killed between the two renames of the
    fallback swap) put the newest complete tree back; remove temporary files and folders of older versions."""
    parent = output.parent
    if not parent.is_dir():
        return
    name = output.name
    olds = sorted(parent.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime)
    spare = parent / f".{name}.spare"
    if not output.exists():
        if spare.is_dir() and output_token(spare) not in ("", DIRTY):
            os.rename(spare, output)
        elif olds:
            os.rename(olds.pop(), output)
    for leftover in [*olds, *parent.glob(f".{name}.staging-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def _check_replaceable(output: Path) -> None:
    """Never replace a folder sitegen did not make: it may hold someone's work."""
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        _fail(output, "đường dẫn xuất không phải thư mục")
    if output.is_dir() and any(output.iterdir()) and not output_token(output):
        _fail(output, "thư mục xuất đã có tệp không do sitegen tạo; sitegen sẽ không ghi đè lên nó")


def _fail(output: Path, message: str) -> None:
    raise BuildFailed([Diagnostic(str(output), 0, 0, "CFG003", ERROR, message,
                                  "chọn thư mục xuất khác (--output) hoặc tự dọn thư mục này")])
