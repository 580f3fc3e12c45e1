"""Stage 0, inputs: everything a build reads, folded into one digest, so that a build whose inputs have not
changed since the last successful one can stop before reading a single article.

Make's rule, made safe: every file under content/, the templates and the assets counts by its full stat
(size, mtime, ctime and inode: a file edited and reset to its old mtime still has a new ctime), and so do the
configuration, the build flags, sitegen's own code and the versions of the libraries that shape the output.
Time is an input too: a scheduled article appears, and an expiring one goes, at a moment the last build wrote
down (`Outcome.until`). The output folder must still be the very tree that build published (its token).
Anything uncertain simply means "build", which is always correct; this only ever skips a build that would
have rendered nothing and written nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from stat import S_IFDIR, S_IFMT
from typing import Collection

from .. import __version__
from ..config import SiteConfig
from ..diagnostics import Diagnostic

# The packages whose upgrade can change the bytes of a page (Markdown, templating, dates, slugs, sanitising,
# images, front matter, search).
LIBRARIES = ("jinja2", "markupsafe", "markdown", "babel", "python-slugify", "nh3", "pillow", "pyyaml",
             "python-frontmatter", "pagefind", "pygments")
CODE = Path(__file__).resolve().parent.parent  # the whole sitegen package
RACY_NS = 50_000_000  # well above the few-millisecond tick of file timestamps
# A folder's stamp line (`stamp_line`: its path and full stat) -> the names of its entries, joined by "/" (which no
# name holds): what a walk listed, kept for the next walk (see `_stamp_tree`).
Folders = dict[str, str]


@dataclass(frozen=True)
class Outcome:
    """What the last successful build made of its inputs: enough to answer a no-change build exactly as it did."""

    inputs: str  # digest(...) of the inputs it read
    token: str  # the output tree it published (write.output_token)
    until: dt.datetime | None  # when the set of published articles changes by itself (schedule, expiry)
    pages: int
    articles: int
    files: int  # files in the published tree
    diagnostics: tuple[Diagnostic, ...]  # its warnings, repeated so a skipped build still shows them
    at: dt.datetime | None = None  # its `now`: a clock set back past it (or `now=` in tests) means build


@dataclass(frozen=True)
class Scan:
    key: str  # every input's stamp; "" when a file changed too recently to be sure (see `scan`)
    names: str  # only which files exist (names, kinds, symlink targets): what link checks depend on
    outside: str  # every input but the files under content/ (templates, assets, code, configuration, flags);
    # "" when one of those changed too recently (as `key`)
    files: dict[str, str]  # each file under content/ (its path as walked) -> its stamp line (path and full stat)
    racy: frozenset[str]  # those of `files` changed too recently to trust their stamp next time
    # content/ has symlinks or hard-linked files: one save changes what several paths read, so a watcher's
    # list of saved paths is not a list of changed inputs (`rescan` refuses)
    aliased: bool = False
    top: str = ""  # content/ as walked, and the part of `names` the other folders make (for `rescan`)
    outside_names: str = ""

    def settled(self) -> str:
        """The stamp lines of `files` that a later build may trust, as one string (one object to store, not
        hundreds of thousands): a file changed too close to this walk is left out, so that build reads it again
        (a second change in the same timestamp tick would not show in its stat)."""
        return "\n".join(line for path, line in self.files.items() if path not in self.racy)

    @staticmethod
    def stamp(line: str) -> tuple[int, int]:
        """(mtime_ns, size) from a stamp line: read.Loaded's stamp."""
        fields = line.split("\0")
        return int(fields[3]), int(fields[2])


def scan(config: SiteConfig, flags: tuple, known: Folders | None = None, folders: Folders | None = None,
         ) -> tuple[Scan, dict]:
    """Walk every input of a build with these flags. The key is "" when a file changed too recently to tell a
    later change apart by its timestamps (file times tick in steps of a few milliseconds: Git's racy-clean
    problem), so that build is not remembered as skippable. Also returns what the walk saw of content/
    (a discovery.Listing), so discovery need not walk it again. `known`: the folders of content/ the last walk put
    into its `folders`: a folder whose stat is still the one it had then is not listed again (see `_stamp_tree`).
    (Not kept in the Scan, which lives through the build: at 100 000 articles 30 MB.)"""
    started = time.time_ns()
    outside = hashlib.blake2b(digest_size=20)
    # Which files exist, in two parts: content/ (which `rescan` can make again from its listing alone) and
    # the other folders.
    content_names = hashlib.blake2b(digest_size=20)
    outside_names = hashlib.blake2b(digest_size=20)
    outside.update(repr((__version__, config.fingerprint, str(config.content_dir), str(config.output_dir), flags,
                         _libraries())).encode())
    content: dict[str, list] = {}
    files: dict[str, str] = {}
    racy: set[str] = set()
    aliases: set[str] = set()
    inside = hashlib.blake2b(digest_size=20)
    newest = {}
    settled = started - RACY_NS
    for folder in (config.content_dir, *config.templates_dirs, *config.assets_dirs, CODE):
        h = inside if folder == config.content_dir else outside
        names = content_names if h is inside else outside_names
        h.update(b"\0" + str(folder).encode())
        names.update(b"\0" + str(folder).encode())
        content_only = (content, files, racy, aliases, settled, known or {}, folders) if h is inside else None
        newest[h] = max(newest.get(h, 0), _stamp_tree(str(folder), h, names, content_only))
    # (The options only templates read are no part of `outside`, which a full build's caches and kept fragments
    # are made for: a change to them is told by the plan's `shown_key`. They are part of what a skipped build saw.)
    key = hashlib.blake2b((outside.hexdigest() + inside.hexdigest() + config.shown_key).encode(),
                          digest_size=20).hexdigest()
    return Scan(key if max(newest.values()) < settled else "", _names(outside_names.hexdigest(), content_names),
                outside.hexdigest() if newest[outside] < settled else "", files, frozenset(racy), bool(aliases),
                str(config.content_dir), outside_names.hexdigest()), content


def _names(outside_names: str, content_names: "hashlib._Hash") -> str:
    return hashlib.blake2b((outside_names + content_names.hexdigest()).encode(), digest_size=20).hexdigest()


def rescan(previous: tuple[Scan, dict] | None, changed: Collection[str] | None) -> tuple[Scan, dict] | None:
    """The last walk (`scan`'s result) brought up to date with `changed`, the paths a watcher saw made, written,
    deleted or moved since that walk began, without walking the whole site again (the live preview, on every
    save): a file saved is stat'ed again; where a file or folder came or went, only the nearest folder the last
    walk listed is listed again, and a new folder walked (an article added to a 100 000-article archive walks
    its own folder, not 200 000 entries). The same files, in the same order, and the same `names` as a full
    walk would give. None, and so a full walk, for a path outside content/ (a template, an asset, a setting),
    and for a content/ with symlinks or hard links. Its `key` is "" (nothing is skipped on its word)."""
    if previous is None or changed is None or previous[0].aliased or not previous[0].top:
        return None
    last, listing = previous
    files, racy = dict(last.files), set(last.racy)
    settled = time.time_ns() - RACY_NS
    came_or_went: list[str] = []
    for path in {*changed, *last.racy}:
        if path not in files:
            came_or_went.append(path)
            continue
        try:
            st = os.stat(path)
        except OSError:
            came_or_went.append(path)
            continue
        if not stat.S_ISREG(st.st_mode):
            came_or_went.append(path)
            continue
        files[path] = stamp_line(path, st)
        if max(st.st_ctime_ns, st.st_mtime_ns) >= settled:
            racy.add(path)
        else:
            racy.discard(path)
    if not came_or_went:
        return Scan("", last.names, last.outside, files, frozenset(racy), False, last.top, last.outside_names), listing
    listing = dict(listing)
    for path in came_or_went:
        if not _relist(path, last.top, listing, files, racy, settled):
            return None
    # What the full walk would have given: its order of files, and its digest of which exist.
    names = hashlib.blake2b(digest_size=20)
    names.update(b"\0" + last.top.encode())
    ordered: dict[str, str] = {}
    reached: set[str] = set()
    stack = [last.top]
    while stack:
        folder = stack.pop()
        entries = listing.get(folder)
        if entries is None:
            return None  # a folder the last walk could not list
        reached.add(folder)
        subfolders = []
        for name, path, is_dir, is_link, where in entries:
            if where is None or is_link:
                return None  # (a broken symlink: the full walk reports it)
            fmt = kind_of(where)
            if _named(name, fmt, ""):
                names.update(f"{path}\0{fmt}\0\n".encode())
            if fmt == stat.S_IFDIR:
                subfolders.append(path)
            elif path in files:
                ordered[path] = files[path]
            else:
                return None
        stack.extend(reversed(subfolders))
    for folder in [f for f in listing if f not in reached]:
        del listing[folder]  # (gone)
    scanned = Scan("", _names(last.outside_names, names), last.outside, ordered,
                   frozenset(racy.intersection(ordered)), False, last.top, last.outside_names)
    return scanned, listing


def _relist(path: str, top: str, listing: dict, files: dict[str, str], racy: set[str], settled: int) -> bool:
    """Bring `listing` and `files` up to date where `path` came or went: the nearest folder above it that the
    listing has and that still is a folder is listed again, and each folder below that is new (or that `path`
    itself is: made again, or moved there) is walked whole. False when the full walk must decide: a path
    outside content/, a symlink or hard link now, a folder that cannot be read."""
    if path == top or not path.startswith(top + "/"):
        return False
    if path in listing:  # a folder itself came or went: whatever the listing held below it is no more
        below = path + "/"
        for folder in [f for f in listing if f == path or f.startswith(below)]:
            del listing[folder]
    folder = os.path.dirname(path)
    while folder not in listing or not os.path.isdir(folder):
        if folder == top or not folder.startswith(top + "/"):
            return False  # (content/ itself gone, or never listed)
        folder = os.path.dirname(folder)
    stack = [folder]
    while stack:
        at = stack.pop()
        try:
            entries = _entries(at)
        except OSError:
            return False
        listed = []
        for e in entries:
            if e.name == "__pycache__":
                continue
            try:
                st = e.stat()
            except OSError:
                return False
            if e.is_symlink() or (st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode)):
                return False
            listed.append((e.name, e.path, e.is_dir(), False, entry_at(st)))
            if stat.S_ISDIR(st.st_mode):
                if e.path not in listing:
                    stack.append(e.path)  # new: walked (a folder the listing has keeps its entries)
            else:
                files[e.path] = stamp_line(e.path, st)
                if max(st.st_ctime_ns, st.st_mtime_ns) >= settled:
                    racy.add(e.path)
        listing[at] = listed
    return True


def unchanged(outcome: Outcome | None, inputs: str, token: str, now: dt.datetime) -> bool:
    """True when the last build's result stands as it is: same inputs, its tree still live, nothing scheduled due."""
    return (outcome is not None and inputs != "" and outcome.inputs == inputs and outcome.token == token and token != ""
            and (outcome.until is None or now < outcome.until) and (outcome.at is None or outcome.at <= now))


def _stamp_tree(top: str, h: "hashlib._Hash", names: "hashlib._Hash",
                content: tuple[dict, dict, set, set, int, Folders, Folders] | None = None) -> int:
    """Feed the stat of every file and folder under `top` to `h`, in a stable order, and return the newest
    ctime seen. Symlinks are followed (their targets are what the build reads); a folder reached twice is
    stamped once. For content/, `content` is (listing, files, racy, aliases, settled, known, folders): each
    folder's entries (see discovery.Listing), each file's stamp line, the files changed after `settled` (ns), the
    symlinks and hard-linked files; then the folders the last walk listed and those this one lists (`Folders`).

    A folder whose stamp line is one `known` has is not listed again: its entries are the names kept, each
    stat'ed as the listing would. Its stat is exact for that: any entry made, removed, renamed or replaced in
    it sets the folder's mtime and ctime (and ctime no tool can set back), and only folders settled when they
    were listed are kept (a change in the same timestamp tick would not show). Git's untracked cache rests on
    the same rule. Half the system calls of a walk, at 10 000 articles 60 ms of every build."""
    listing, files, racy, aliases, settled, known, kept = content if content is not None \
        else (None, None, None, None, 0, {}, None)
    newest = 0
    seen: set[tuple[int, int]] = set()
    # Each folder to list, with its stamp line and when it last changed (its stat as its parent's entry).
    stack: list[tuple[str, str, int]] = [(top, "", 0)]
    if content is not None:
        try:
            st = os.stat(top)
            stack = [(top, stamp_line(top, st), max(st.st_ctime_ns, st.st_mtime_ns))]
        except OSError:
            pass  # (listed below, which reports it)
    # What `h` and `names` are fed, in walk order, a few thousand folders at a time: one update a chunk gives the
    # digest one a line would (at 10 000 articles, 10 000 folders of one file each: the updates were a tenth of
    # the walk).
    fed: list[str] = []
    named: list[str] = []
    while stack:
        folder, line, folder_changed = stack.pop()
        names_kept = known.get(line) if line else None
        entries = _known_stats(folder, names_kept) if names_kept is not None else None
        if entries is None:
            names_kept = None
            try:
                entries = _stats(folder)
            except OSError as exc:
                fed.append(f"{folder}\0!{exc.errno}\n")
                continue
        subfolders = []
        if listing is not None:
            listing[folder] = listed = []
        plain = True  # no symlink, no entry that could not be stat'ed: a listing the next walk may reuse
        # (The loop runs once per file and folder of the site: it reads each stat field once.)
        for name, path, st, link in entries:
            if st.__class__ is not os.stat_result:  # a broken symlink: the build reports it, so an input too
                fed.append(f"{path}\0!{st.errno}\n")
                named.append(f"{path}\0!{st.errno}\n")
                if listing is not None:
                    listed.append((name, path, False, True, None))
                plain = False
                continue
            mtime, ctime = st.st_mtime_ns, st.st_ctime_ns
            changed = ctime if ctime > mtime else mtime
            if changed > newest:
                newest = changed
            fmt = S_IFMT(st.st_mode)
            is_dir = fmt == S_IFDIR
            if listing is not None:
                listed.append((name, path, is_dir, bool(link), entry_at(st)))
            if not is_dir or link or name.endswith(".md"):  # (`_named`)
                named.append(f"{path}\0{fmt}\0{link}\n")
            entry_line = stamp_line(path, st)
            fed.append(entry_line + "\n")
            if files is not None:
                if link or (not is_dir and st.st_nlink > 1):
                    aliases.add(path)
                if not is_dir:
                    files[path] = entry_line
                    if changed >= settled:
                        racy.add(path)
            if link:
                plain = False
            if is_dir and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                subfolders.append((path, entry_line, changed))
        if kept is not None and line and plain and folder_changed < settled:
            kept[line] = names_kept if names_kept is not None else "/".join(e[0] for e in entries)
        stack.extend(reversed(subfolders))
        if len(fed) > _FED_CHUNK:
            h.update("".join(fed).encode())
            names.update("".join(named).encode())
            fed.clear()
            named.clear()
    h.update("".join(fed).encode())
    names.update("".join(named).encode())
    return newest


_FED_CHUNK = 4096  # lines `_stamp_tree` gathers before feeding them to its digests

# An entry of a folder as the walk reads it: (name, path, its stat or the error stat'ing it gave, symlink target).
_Stat = tuple[str, str, "os.stat_result | OSError", str]


def _stats(folder: str) -> list[_Stat]:
    """A folder's entries, listed, in a stable order (`_entries`), each stat'ed (symlinks followed)."""
    out: list[_Stat] = []
    for e in _entries(folder):
        if e.name == "__pycache__":
            continue
        try:
            out.append((e.name, e.path, e.stat(), os.readlink(e.path) if e.is_symlink() else ""))
        except OSError as exc:
            out.append((e.name, e.path, exc, ""))
    return out


def _known_stats(folder: str, names: str) -> list[_Stat] | None:
    """A kept folder's entries (`_stamp_tree`), each stat'ed by name; None (list it) when one cannot be."""
    out: list[_Stat] = []
    for name in names.split("/") if names else ():
        path = f"{folder}/{name}"
        try:
            out.append((name, path, os.stat(path), ""))
        except OSError:
            return None
    return out


_NOT_FOLDERS: dict[int, tuple[int, int]] = {}  # one tuple per file type, shared by every file of that type


def entry_at(st: os.stat_result) -> tuple[int, int]:
    """What the listing keeps of an entry's stat (`kind_of` and discovery.discover read it): a folder's device and inode
    (a folder reached twice through symlinks is a loop); for anything else (-1, its file type), one tuple shared by
    every file of that type."""
    fmt = stat.S_IFMT(st.st_mode)
    if fmt == stat.S_IFDIR:
        return (st.st_dev, st.st_ino)
    found = _NOT_FOLDERS.get(fmt)
    if found is None:
        found = _NOT_FOLDERS[fmt] = (-1, fmt)
    return found


def kind_of(where: tuple[int, int]) -> int:
    """The file type (stat.S_IFMT) of an entry the listing keeps as `where` (entry_at)."""
    return where[1] if where[0] == -1 else stat.S_IFDIR


def _named(name: str, fmt: int, link: str) -> bool:
    """Whether an entry of file type `fmt` counts in `names` (which files exist): a folder's own does not (its files'
    paths name it), so that a folder made empty, before the article is saved into it, leaves the last build's plan
    standing instead of costing a full build (24 s at 100 000 articles). Except one named like an article file,
    which a link check tells from a missing one (links.Index), and a symlink, whose target is read."""
    return fmt != stat.S_IFDIR or bool(link) or name.endswith(".md")


def _entries(folder: str) -> list[os.DirEntry]:
    """A folder's entries in a stable order (by name): the order every walk feeds its digests in."""
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def stamp_line(path: str, st: os.stat_result) -> str:
    """A file's stamp line: what `scan` hashes and `Scan.files` holds (one format for `scan`, `rescan` and
    whatever else keys on a file's full stat, such as ahead validation's photo files)."""
    return f"{path}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"


def _libraries() -> tuple[tuple[str, str], ...]:
    """(name, version) of each of LIBRARIES, as installed where Python imports from ("" when not found). Read from
    the names of the installed distributions' metadata folders (`jinja2-3.1.6.dist-info`: the packaging spec
    puts the version there), found the way importlib.metadata finds them, first on sys.path wins; importing
    importlib.metadata itself (email, zipfile...) was a tenth of a one-article edit build."""
    wanted = {_normal(name): name for name in LIBRARIES}
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in names:
            if entry.endswith((".dist-info", ".egg-info")):
                dist, _, version = entry.rsplit(".", 1)[0].partition("-")
                name = wanted.get(_normal(dist))
                if name is not None and name not in found:
                    found[name] = version
    return tuple((name, found.get(name, "")) for name in LIBRARIES)


def _normal(name: str) -> str:
    """A distribution's name as its metadata folder spells it (PEP 503, with "_"): Jinja2, python-slugify..."""
    return re.sub(r"[-_.]+", "_", name).lower()
