"""The build cache: what earlier builds already computed, so an unchanged site rebuilds in well under a second.

One SQLite file in `<site>/.sitegen/cache/build.sqlite` (safe to delete: everything in it is derived). It holds
parsed source files keyed by path + size + mtime, rendered Markdown keyed by content, and the fingerprint of
every page written to the output folder. Entries carry the sitegen version and the config fingerprint, and a
corrupt or foreign cache is discarded, never fatal: correctness never depends on the cache.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import sqlite3
import uuid
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping

from .. import __version__

# The file's page size, set when it is made. SQLite's default (4 KiB) writes a big row (the plan's link index, the
# walk's listings: 18 MB a shift at 10 000 articles) as a chain of thousands of overflow pages: 64 KiB pages write
# it three times as fast (57 ms against 18 ms for 11 MB, measured here), and read single rows as fast.
PAGE_SIZE = 65536
SCHEMA = 18  # 18: the options only templates read are not in the salt (config.SHOWN); 17: 64 KiB pages; 16: memoised fragments kept between builds (fragments, fresh_fragments); 15: the model's slotted dataclasses pickle as their field values; 14: they have slots; 13: front matter, bodies and site.toml checked for control characters, depth and aliases; page records one row a page
# docs: validated files; markup: article HTML by key; bodies: what listings need of each body (model-sized);
# links: each article's link check; trees: what each output tree holds; entries: what templates saw of each
# article and plan: what the last full build decided (both for edit builds, see delta); deps: what pages read
# in common (see dependencies); records: what each page's template read, one row a page, and fresh: the
# records this build made, moved into records once its output is published; meta: the last build's outcome
# and state; fragments: memoised fragments' outputs kept for later builds (see dependencies.Deps.fragments),
# and fresh_fragments: those this build made, moved into fragments once published.
TABLES = ("docs", "markup", "bodies", "links", "trees", "entries", "plan", "deps", "records", "fresh", "meta",
          "fragments", "fresh_fragments")
# The tables a preview keeps on disk beside its memory cache (`Cache(on_disk=...)`): a row per article or page,
# of which a save reads a few (the articles' HTML alone is 640 MB pickled at 100 000 articles). In memory they
# were a third of the preview at 10 000 articles; on disk a full build in the preview (an addition) took 5 %
# longer, against 50 % with the validated files, bodies and link checks there too, which it reads whole. Each
# row is addressed by its content (markup, entries by digest) or trusted only through an id the memory tables
# hold (records and fresh through the deps head's tree token, plan rows through the state's plan id): a memory
# save older than these rows (the preview killed between two saves) makes the next build check or redo them,
# never trust them wrongly (and pipeline._cache starts the memory afresh when the file comes or goes).
ON_DISK = frozenset({"markup", "entries", "plan", "records", "fresh", "fragments", "fresh_fragments"})
# A row per article that a save reads a few of and only a build of the whole model reads all of (validated files,
# bodies, link checks): in memory that build is faster (a second at 10 000 articles), but they are a third of
# what the preview holds (580 MB at 100 000 articles). Kept in the file too when memory is short (preview.server).
BULK = frozenset({"docs", "bodies", "links"})


class Damaged(Exception):
    """A table could not be read whole (a broken row or file): whatever depends on all of it is not trusted."""


class Cache:
    """A key-value store in SQLite with a few named tables. Only the parent process writes to it."""

    def __init__(self, folder: Path | None, salt: str, memory: dict | None = None, durable: bool = True,
                 journal: dict | None = None, on_disk: Collection[str] = ()):
        """Cache in `folder`, or in the `memory` dict a long-running preview keeps between builds (or none).
        The preview's dict belongs to a `pipeline.Warm`, which empties it whenever the configuration changes;
        `journal` (table -> keys written or dropped, None: the whole table) then hears of every change to it, for
        `save_memory`. With `memory`, the tables `on_disk` (ON_DISK) are in the file in `folder` instead, each
        write its own transaction as in memory. `durable=False`: SQLite never waits for the disk (a crash of the
        machine may lose the last rows written, or the file, which is then made anew)."""
        self.durable = durable
        self.journal = journal
        self.salt = f"{__version__}:{SCHEMA}:{salt}"
        self.db: sqlite3.Connection | None = None
        self.path: Path | None = None
        self.unusable: str | None = None  # why a cache folder was given but not used (for a CACHE001 warning)
        self.memory = memory
        self.on_disk: frozenset[str] = frozenset()  # (a memory cache's tables kept in the file)
        self._batched = False  # inside `batch`: each write is a savepoint of its transaction
        self._failures = 0  # writes undone (`_transaction`)
        self._readers: list[Reader] = []  # made by `reader`: their connections close with this cache
        if folder is None or memory is not None:
            if self.memory is None:
                self.memory = {}  # no cache wanted: this build's own results still live somewhere, then go
            elif folder is not None and on_disk:
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                    self.db = self._open(folder / "build.sqlite")
                    self.path, self.on_disk = folder / "build.sqlite", frozenset(on_disk)
                except (OSError, sqlite3.Error):
                    self.db = None  # the disk will not have them: every table in memory, as before
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / "build.sqlite"
            # A read-only cache opens and reads fine, but what this build stores (its pages' HTML) would be lost
            # and then missed when read back: find out before using it.
            if not os.access(folder, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
                raise PermissionError(errno.EROFS, "read-only", str(folder))
            self.db = self._open(self.path)
        except (OSError, sqlite3.Error) as exc:
            self.db, self.path = None, None  # a read-only disk or a broken file: build without a cache
            self.memory = {}
            self.unusable = getattr(exc, "strerror", None) or str(exc)

    def _open(self, path: Path) -> sqlite3.Connection:
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'NORMAL' if self.durable else 'OFF'}")
            row = db.execute("SELECT v FROM meta WHERE k='salt'").fetchone()
            if row is None or pickle.loads(row[0]) != self.salt:
                raise sqlite3.DatabaseError("stale")
            return db
        except sqlite3.DatabaseError as exc:
            if db is not None:
                # (A connection is in a reference cycle with its statement cache: left open, only the cyclic
                # collector would close it, and the file it holds would stay open, deleted, for as long.)
                db.close()
            if getattr(exc, "sqlite_errorcode", None) in _BUSY_OR_BROKEN_DISK:
                raise  # the file may be fine, only out of reach now: this build goes without it, the file stays
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(str(path) + suffix)
                except FileNotFoundError:
                    pass
            db = sqlite3.connect(path, isolation_level=None)
            db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'NORMAL' if self.durable else 'OFF'}")
            for table in TABLES:
                db.execute(f"CREATE TABLE {table} (k TEXT PRIMARY KEY, v BLOB)")
            db.execute("INSERT INTO meta VALUES ('salt', ?)", (pickle.dumps(self.salt),))
            return db

    @property
    def transactional(self) -> bool:
        """Whether `batch` is all or nothing (the cache on disk). A memory cache's writes stand as they are made
        (its tables on disk too: a build that stops midway must not undo them apart from the memory's)."""
        return self.db is not None and self.memory is None

    def in_memory(self, table: str) -> bool:
        return self.memory is not None and table not in self.on_disk

    def _mem(self, table: str) -> dict | None:
        """The memory store of `table` (made if need be), or None when the table is in the file."""
        if self.memory is None or table in self.on_disk:
            return None
        return self.memory.setdefault(table, {})

    def get_many(self, table: str, keys: Iterable[str]) -> dict[str, Any]:
        """Values for the keys that are present; a value that does not unpickle counts as absent."""
        table_store = self._mem(table)
        if table_store is not None:
            return {k: table_store[k] for k in keys if k in table_store}
        if self.db is None:
            return {}
        return _values(self.db, table, keys)

    def has_many(self, table: str, keys: Iterable[str]) -> set[str]:
        """Which of the keys are present (without reading their values)."""
        table_store = self._mem(table)
        if table_store is not None:
            return {k for k in keys if k in table_store}
        if self.db is None:
            return set()
        try:
            return {k for (k,) in _select(self.db, table, "k", keys)}
        except sqlite3.Error:
            return set()

    def all(self, table: str) -> dict[str, Any]:
        store = self._mem(table)
        if store is not None:
            return dict(store)
        if self.db is None:
            return {}
        try:
            return {k: pickle.loads(v) for k, v in self.db.execute(f"SELECT k, v FROM {table}")}
        except Exception:
            return {}

    def count(self, table: str) -> int:
        """How many rows `table` holds (0 when it cannot be read)."""
        store = self._mem(table)
        if store is not None:
            return len(store)
        if self.db is None:
            return 0
        try:
            return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        except sqlite3.Error:
            return 0

    def scan(self, table: str, chunk: int = 2000) -> Iterator[tuple[str, Any]]:
        """Every row of `table`, a chunk at a time (at 100 000 articles a table of page records is too big to
        hold whole). No statement stays open between chunks, so the caller may write while it reads. Raises
        Damaged when a row or the file cannot be read."""
        store = self._mem(table)
        if store is not None:
            yield from list(store.items())
            return
        if self.db is None:
            return
        last = ""
        while True:
            try:
                rows = self.db.execute(f"SELECT k, v FROM {table} WHERE k > ? ORDER BY k LIMIT ?",
                                       (last, chunk)).fetchall()
            except sqlite3.Error as exc:
                raise Damaged(table) from exc
            for k, v in rows:
                try:
                    value = pickle.loads(v)
                except Exception as exc:
                    raise Damaged(table) from exc
                yield k, value
            if len(rows) < chunk:
                return
            last = rows[-1][0]

    def move(self, source: str, target: str, gone: Iterable[str] = ()) -> bool:
        """Move every row of `source` into `target` (replacing rows of the same key) and delete `gone` from
        `target`, in one transaction. False when it failed (then `target` is as it was)."""
        if self.in_memory(target) != self.in_memory(source):
            raise ValueError(f"{source} and {target} are not kept in the same place")
        if self._mem(target) is not None:
            assert self.memory is not None
            into = self.memory.setdefault(target, {})
            moved = self.memory.pop(source, {})
            into.update(moved)
            gone = list(gone)
            for k in gone:
                into.pop(k, None)
            self._noted(source, None)
            self._noted(target, moved)
            self._noted(target, gone)
            return True
        if self.db is None:
            return False
        failures = self._failures
        with self._transaction() as db:
            db.execute(f"INSERT OR REPLACE INTO {target} SELECT k, v FROM {source}")
            db.execute(f"DELETE FROM {source}")
            db.executemany(f"DELETE FROM {target} WHERE k = ?", ((k,) for k in gone))
        return self._failures == failures

    def put_many(self, table: str, items: Mapping[str, Any] | Iterable[tuple[str, Any]],
                 replace_all: bool = False) -> None:
        """Store values by key; `items` may be (key, value) pairs made as they are written, so that a large
        table is pickled one value at a time instead of being built whole in memory first."""
        store = self._mem(table)
        if store is not None:
            if replace_all:
                store.clear()
                self._noted(table, None)
            if self.journal is not None:
                items = dict(items)
                self._noted(table, items)
            store.update(items)
            return
        if self.db is None or (isinstance(items, Mapping) and not items and not replace_all):
            return
        self._write(table, items, [], clear=replace_all)

    def copy(self, table: str, keys: Mapping[str, str]) -> None:
        """Store each row of `table` found under `keys[new]` under `new` too, as it is: without unpickling and
        pickling it again (a shift keeps thousands of link checks under the new link index's key: 30 ms of each at
        10 000 articles with 3 000 linking bodies, read and written again one by one). A key given as its own source
        is left alone (a shift whose link index keeps its key: a loose file saved again)."""
        keys = {new: old for new, old in keys.items() if new != old}
        store = self._mem(table)
        if store is not None:
            copied = {new: store[old] for new, old in keys.items() if old in store}
            store.update(copied)
            self._noted(table, copied)
            return
        if self.db is None or not keys:
            return
        with self._transaction() as db:
            db.executemany(f"INSERT OR REPLACE INTO {table} SELECT ?, v FROM {table} WHERE k = ?", keys.items())

    def delete(self, table: str, keys: Iterable[str]) -> None:
        """Drop these rows (a damaged row, so that it is made again)."""
        store = self._mem(table)
        if store is not None:
            keys = list(keys)
            for k in keys:
                store.pop(k, None)
            self._noted(table, keys)
            return
        if self.db is not None:
            self._write(table, {}, list(keys))

    @staticmethod
    def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """What makes a table that holds `before` hold `after` (for `apply`): the rows that are not the very
        object read as `before` (a no-change build of 10 000 articles then writes nothing instead of re-pickling
        every parsed file), and the keys that are gone."""
        return {k: v for k, v in after.items() if before.get(k) is not v}, [k for k in before if k not in after]

    def apply(self, table: str, change: tuple[dict[str, Any], list[str]]) -> None:
        """Write what `changes` found: its rows, and drop its keys that are gone."""
        changed, gone = change
        store = self._mem(table)
        if store is not None:
            store.update(changed)
            for k in gone:
                store.pop(k, None)
            self._noted(table, changed)
            self._noted(table, gone)
            return
        if self.db is None or (not changed and not gone):
            return
        self._write(table, changed, gone)

    def _write(self, table: str, items: Mapping[str, Any] | Iterable[tuple[str, Any]], gone: list[str],
               clear: bool = False) -> None:
        """One transaction; a failure leaves the table as it was (the cache is an optimisation, never fatal)."""
        with self._transaction() as db:
            if clear:
                db.execute(f"DELETE FROM {table}")
            db.executemany(f"DELETE FROM {table} WHERE k = ?", ((k,) for k in gone))
            db.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)",
                           ((k, pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))
                            for k, v in (items.items() if isinstance(items, Mapping) else items)))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every write inside: what a build remembers is written whole or not at all (a build
        killed midway leaves the last one's, which its output token then marks as not the live tree's). Each write
        inside is a savepoint: one that fails is undone alone, as outside a batch. (Not faster: in WAL mode a
        commit does not sync; the checkpoint does, about 0.1 s of a one-article edit build at 10 000 articles,
        once per build either way.)"""
        if self.db is None or self._batched or self.memory is not None:
            yield
            return
        try:
            self.db.execute("BEGIN")
        except sqlite3.Error:
            yield  # (each write is then its own transaction)
            return
        self._batched = True
        try:
            yield
        except BaseException:
            self._end("ROLLBACK")  # interrupted midway: nothing of it is kept
            raise
        self._end("COMMIT")

    def _end(self, statement: str) -> None:
        assert self.db is not None
        self._batched = False
        try:
            self.db.execute(statement)
        except sqlite3.Error:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN ... COMMIT (a savepoint inside `batch`); on a SQLite error, ROLLBACK and carry on (the cache is
        never fatal)."""
        assert self.db is not None
        begin, end, undo = (("SAVEPOINT w", "RELEASE w", ("ROLLBACK TO w", "RELEASE w")) if self._batched
                            else ("BEGIN", "COMMIT", ("ROLLBACK",)))
        try:
            self.db.execute(begin)
            yield self.db
            self.db.execute(end)
        except sqlite3.Error:
            self._failures += 1
            try:
                for statement in undo:
                    self.db.execute(statement)
            except sqlite3.Error:
                pass

    def reader(self, table: str) -> "Reader":
        """Reads `table` by key from any process of this build (a forked worker opens its own connection). Its
        connection in this process is closed with the cache (`close`); used later (a preview's kept entries read
        their HTML through one), it opens another."""
        made = Reader(self.path, table, self._mem(table))
        self._readers.append(made)
        return made

    def prune(self, table: str, keep: set[str]) -> None:
        """Drop entries of `table` not in `keep` once they outnumber the live ones (old versions of edited
        articles would otherwise pile up for ever)."""
        store = self._mem(table)
        if store is not None:
            if len(store) > 2 * len(keep) + 100:
                dropped = [k for k in store if k not in keep]
                for k in dropped:
                    del store[k]
                self._noted(table, dropped)
            return
        if self.db is None or self.count(table) <= 2 * len(keep) + 100:
            return  # (0 too when the table cannot be read)
        with self._transaction() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (k TEXT PRIMARY KEY)")
            db.execute("DELETE FROM keep")
            db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", ((k,) for k in keep))
            db.execute(f"DELETE FROM {table} WHERE k NOT IN (SELECT k FROM keep)")

    def retain(self, table: str, keep: Collection[str]) -> None:
        """Drop every row of a small table but those in `keep` (readable or not)."""
        store = self._mem(table)
        if store is not None:
            dropped = [k for k in store if k not in keep]
            for k in dropped:
                del store[k]
            self._noted(table, dropped)
        elif self.db is not None:
            with self._transaction() as db:
                db.execute(f"DELETE FROM {table} WHERE k NOT IN ({','.join('?' * len(keep))})", tuple(keep))

    def _noted(self, table: str, keys: Iterable[str] | None) -> None:
        """Tell the journal (if any) that these rows of a memory cache changed (None: the whole table)."""
        if self.journal is None:
            return
        if keys is None:
            self.journal[table] = None
        elif self.journal.get(table, ()) is not None:
            self.journal.setdefault(table, set()).update(keys)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        for made in self._readers:  # (left to the cyclic collector, they kept the file open after the build)
            made.close()
        self._readers = []


# A preview keeps its cache in memory (pipeline.Warm.tables): saved to disk when it idles and when it stops, and
# read back when it starts again, so that its first build catches up from there instead of from nothing.
# SQLite's result codes for a file it cannot use now, which is not a reason to make it anew (and lose what another
# process is writing to it): busy or locked, out of memory, read-only, an I/O error, a full disk, not openable.
_BUSY_OR_BROKEN_DISK = frozenset({5, 6, 7, 8, 10, 13, 14})
_SNAPSHOT = "memory"  # the `meta` row naming the memory cache a file holds (a new id each save)


def _memory_file(folder: Path, salt: str) -> tuple[Cache, str | None] | None:
    """The cache file a preview saves its memory cache in (made anew when it is not for this version and
    configuration), and the id of the save it holds (None: none); None when it cannot be opened or read."""
    disk = Cache(folder, salt, durable=False)
    if disk.db is None:
        return None
    try:
        row = disk.db.execute("SELECT v FROM meta WHERE k = ?", (_SNAPSHOT,)).fetchone()
        return disk, pickle.loads(row[0]) if row is not None else None
    except (sqlite3.Error, pickle.UnpicklingError, EOFError):
        disk.close()
        return None


def _name_save(db: sqlite3.Connection, ident: str) -> None:
    """Mark the file as holding the memory save `ident` (what `load_memory` reads back, `_memory_file` tells)."""
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_SNAPSHOT, pickle.dumps(ident)))


def save_memory(folder: Path, salt: str, tables: Mapping[str, dict], journal: Mapping[str, set | None],
                based_on: str | None, cancel: Callable[[], bool] | None = None,
                on_disk: Collection[str] = ()) -> str | None:
    """Write a memory cache (`tables`) into the cache file in `folder`: only the rows `journal` names when the
    file holds the save `based_on` (the one `tables` were read from or last saved as), else every row. One
    transaction, undone if `cancel()` answers True midway: the file always holds one whole save, whose output
    tree (the tokens in it) the next build checks as after any build. Returns the new save's id, or None."""
    found = _memory_file(folder, salt)
    if found is None:
        return None
    disk, held = found
    db = disk.db
    assert db is not None
    try:
        whole = based_on is None or held != based_on
        # (the tables `on_disk` are the file's own already: see Cache)
        todo = {t: keys for t, keys in (dict.fromkeys(TABLES) if whole else journal).items() if t not in on_disk}
        ident = uuid.uuid4().hex
        db.execute("BEGIN")
        written = 0
        for table, keys in todo.items():
            store = tables.get(table, {})
            if keys is None:
                db.execute(f"DELETE FROM {table}" + (" WHERE k != 'salt'" if table == "meta" else ""))  # (the file's)
                keys = set(store)
            for k in keys:
                if k in store:
                    db.execute(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)",
                               (k, pickle.dumps(store[k], protocol=pickle.HIGHEST_PROTOCOL)))
                else:
                    db.execute(f"DELETE FROM {table} WHERE k = ?", (k,))
                written += 1
                if cancel is not None and written % 500 == 0 and cancel():
                    db.execute("ROLLBACK")
                    return None
        _name_save(db, ident)
        db.execute("COMMIT")
        return ident
    except (sqlite3.Error, pickle.PicklingError, TypeError, AttributeError):
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        return None
    finally:
        disk.close()


def adopt(folder: Path, salt: str) -> str | None:
    """Name the cache that a build on disk (`Cache(folder)`, as `sitegen build` keeps it) left in `folder` a preview's
    memory save, so that `load_memory` reads it back: the same tables in the same file, which a preview keeps
    partly in memory (see preview.apart). Returns the save's id, or None when the file cannot be written."""
    found = _memory_file(folder, salt)
    if found is None:
        return None
    disk, _ = found
    assert disk.db is not None
    ident = uuid.uuid4().hex
    try:
        _name_save(disk.db, ident)
        return ident
    except sqlite3.Error:
        return None
    finally:
        disk.close()


def load_memory(folder: Path, salt: str, on_disk: Collection[str] = ()) -> tuple[dict[str, dict], str] | None:
    """The memory cache `save_memory` last wrote into `folder`, and its id; None when there is none for this
    version and configuration (or the file cannot be read). A row that does not unpickle is left out, as
    `get_many` leaves it out: whatever needed it is made again."""
    found = _memory_file(folder, salt) if (folder / "build.sqlite").is_file() else None
    if found is None:
        return None
    disk, ident = found
    db = disk.db
    assert db is not None
    try:
        if ident is None:
            return None
        tables: dict[str, dict] = {}
        for table in (t for t in TABLES if t not in on_disk):
            rows: dict[str, Any] = {}
            for k, v in db.execute(f"SELECT k, v FROM {table}"):
                try:
                    rows[k] = pickle.loads(v)
                except Exception:
                    continue
            if table == "meta":
                rows.pop("salt", None)
                rows.pop(_SNAPSHOT, None)
            if rows:
                tables[table] = rows
        return tables, ident
    except (sqlite3.Error, pickle.UnpicklingError, EOFError):
        return None
    finally:
        disk.close()


class ReadAhead:
    """What a build reads first from the cache, whatever changed (`reads`: functions of the cache, in the order
    the build takes their answers), read while the build process would otherwise only wait: for its walk, which
    runs in a process of its own (pipeline._Walk). `fill(ready)` reads them one after the other until
    `ready()` (the walk has answered); `take(read, cache)` then gives what `read` read, or reads it there and
    then: the same answer either way, from the same rows (the build writes none of them in between). In this
    thread: a thread reading beside the build slowed its reading of the walk's answer (the interpreter's lock,
    handed over every few milliseconds), and a build forks processes."""

    def __init__(self, cache: "Cache", reads: Iterable[Callable[[Any], Any]]):
        self._cache, self._reads = cache, tuple(reads)
        self._got: dict[Callable[[Any], Any], Any] = {}

    def fill(self, ready: Callable[[], bool], budget: int | None = None,
             resident: Callable[[], int | None] = lambda: None) -> None:
        """Read until `ready()`, or until what was read holds `budget` bytes or more (by how much `resident()`,
        this process's memory, grew): a build with nothing to do lets it all go when its walk answers, and at
        100 000 articles the whole of it is some 500 MB (its peak 289 MiB without, 798 MiB with)."""
        start = resident() if budget is not None else None
        limit = start + budget if start is not None and budget is not None else None
        for read in self._reads:
            if ready() or (limit is not None and (resident() or 0) >= limit):
                return
            try:
                self._got[read] = read(self._cache)
            except Exception:
                return  # (what was not read ahead, the build reads itself, meeting whatever went wrong there)

    def take(self, read: Callable[[Any], Any], cache: Any) -> Any:
        return self._got.pop(read) if read in self._got else read(cache)

    def close(self) -> None:
        self._got.clear()


class ReadHere:
    """No reading ahead (`ReadAhead`'s stand-in): what is taken is read there and then."""

    @staticmethod
    def take(read: Callable[[Any], Any], cache: Any) -> Any:
        return read(cache)

    def close(self) -> None:
        pass


class Reader:
    """One table of the cache, read by key. Made in the build process and used by it and by the workers it
    forks; a SQLite connection must not cross a fork, so each process opens its own, read-only."""

    def __init__(self, path: Path | None, table: str, memory: dict | None):
        self.path, self.table, self.memory = path, table, memory
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._ahead: dict[str, Any] = {}  # read by `prefetch`, each given once by `get`

    def get(self, key: str) -> Any:
        """The value, or None when the key is absent or its row does not unpickle."""
        if self.memory is not None:
            return self.memory.get(key)
        if self._ahead:
            found = self._ahead.pop(key, None)
            if found is not None:
                return found
        row = self._connection().execute(f"SELECT v FROM {self.table} WHERE k = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return pickle.loads(row[0])
        except Exception:  # a damaged row counts as absent, as in Cache.get_many
            return None

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """`get` for many keys, in a query per 900 keys, not one a key (each query costs some 40 microseconds: a
        render's kept teasers, read one by one, were a sixth of it); {} when the table cannot be read."""
        if self.memory is not None:
            return {k: self.memory[k] for k in keys if k in self.memory}
        return _values(self._connection(), self.table, keys)

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read these rows at once, for the `get`s about to ask for them (in this process): the pages of a slice
        about to render read their articles' bodies in one query, not one each (some 40 microseconds a query,
        10 000 of them in a cold build at 10 000 articles). What was read ahead and not asked for is dropped."""
        self._ahead = {} if self.memory is not None else _values(self._connection(), self.table, keys)

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._pid = os.getpid()
        assert self._db is not None
        return self._db

    def close(self) -> None:
        """Close this process's connection (the next `get` here opens another)."""
        if self._db is not None and self._pid == os.getpid():
            self._db.close()
        self._db, self._pid = None, 0

    def __getstate__(self) -> dict:  # never pickled with a live connection, nor what it read ahead
        return {**self.__dict__, "_db": None, "_pid": 0, "_ahead": {}}


def _select(db: sqlite3.Connection, table: str, columns: str, keys: Iterable[str]) -> Iterator[tuple]:
    """Rows of `table` whose key is among `keys`, queried in chunks (SQLite's limit on bound parameters)."""
    keys = list(keys)
    for start in range(0, len(keys), 900):
        chunk = keys[start:start + 900]
        yield from db.execute(f"SELECT {columns} FROM {table} WHERE k IN ({','.join('?' * len(chunk))})", chunk)


def _values(db: sqlite3.Connection, table: str, keys: Iterable[str]) -> dict[str, Any]:
    """The values of those `keys` present in `table`; a value that does not unpickle counts as absent (it is
    made again), and a table that cannot be read gives {} (the cache is never fatal)."""
    out: dict[str, Any] = {}
    try:
        for k, v in _select(db, table, "k, v", keys):
            try:
                out[k] = pickle.loads(v)
            except Exception:
                pass
    except sqlite3.Error:
        return {}
    return out


def digest(*parts: Any) -> str:
    """A short stable hash of reprs: the currency of fingerprints."""
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).hexdigest()


def digest_text(text: str) -> str:
    """`digest` for a caller that has already joined its parts into one string (the hot paths)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def row_of(key: str, rows: int) -> int:
    """Which of `rows` rows a table split by key keeps `key` in (the same in every run: no salted hash)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % rows


class Rows:
    """A mapping kept in `count` rows of a cache table, named `<prefix>:<n>`, each key in the row `place(key)`
    (`row_of` by default), each row a dict: a build that changes a few keys writes the few rows holding them, not
    the whole mapping (megabytes at 10 000 articles), and a reader that needs a few keys reads their rows alone.
    Every mapping the build keeps this way (the walk's folders, the plan's Shapes and headline counts, the page
    records' digests) is split, read back and edited here, one way."""

    def __init__(self, prefix: str, count: int, place: Callable[[Any], int] | None = None):
        self.prefix, self.count = prefix, count
        self.of: Callable[[Any], int] = place or (lambda key: row_of(key, count))

    def name(self, n: int) -> str:
        return f"{self.prefix}:{n}"

    def names(self, numbers: Iterable[int] | None = None) -> list[str]:
        """The rows' names, of every row unless `numbers`."""
        return [self.name(n) for n in (range(self.count) if numbers is None else numbers)]

    def named(self, rows: Mapping[int, Any]) -> dict[str, Any]:
        """Rows by number -> the same by name, to write."""
        return {self.name(n): row for n, row in rows.items()}

    def split(self, items: Iterable[tuple[Any, Any]]) -> dict[int, dict]:
        """Every row (empty ones too) of the mapping `items`."""
        rows: dict[int, dict] = {n: {} for n in range(self.count)}
        for key, value in items:
            rows[self.of(key)][key] = value
        return rows

    def read(self, found: Mapping[str, Any], numbers: Iterable[int] | None = None) -> dict[int, dict] | None:
        """The rows `numbers` (every row if None) by number, out of `found` (what reading their names gave); None
        when one is missing or is not a dict (a row of another sitegen's format: not trusted)."""
        rows = {n: found.get(self.name(n)) for n in (range(self.count) if numbers is None else numbers)}
        return rows if all(isinstance(row, dict) for row in rows.values()) else None  # type: ignore[return-value]

    def edited(self, stored: Mapping[int, Mapping], changed: Mapping[Any, Any], gone: Iterable[Any] = ()
               ) -> dict[int, dict]:
        """The rows holding a key of `changed` (set to its value) or of `gone` (taken out), each a copy of the row as
        `stored` (by number; one it lacks is taken as empty) with those keys edited: the stored rows are never
        changed (a preview's memory cache may hold them)."""
        rows: dict[int, dict] = {}

        def row(key: Any) -> dict:
            n = self.of(key)
            if n not in rows:
                rows[n] = dict(stored.get(n) or {})
            return rows[n]

        for key in gone:
            row(key).pop(key, None)
        for key, value in changed.items():
            row(key)[key] = value
        return rows

    @staticmethod
    def joined(rows: Mapping[int, Mapping]) -> dict:
        """The mapping these rows hold."""
        return {k: v for row in rows.values() for k, v in row.items()}
