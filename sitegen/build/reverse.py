"""Who reads what, the other way round: for each owner of keys (an entry's source, a fragment, the site view...),
the pages whose records hold one of its keys ("readers") and the memoised fragments that read one ("users"). An
edit build changes the keys of a few entries: with this it finds the few pages that read them without reading
every page's record (155 000 of them at 100 000 articles: five seconds of an edit build).

Both may hold more than is true (a page that stopped reading an owner, a page that is gone): whoever asks checks
each page's own record. They must never hold less. Every build adds what the pages it renders read; once that has
grown as large as the index itself (`stale`), a full build, which reads every record anyway, makes the readers
anew (`reset`, then `page` for every record it keeps and every page it renders): doing so on every full build
cost an addition 0.6 s at 10 000 articles. Fragments are never changed, only made (and dropped by a pruning, which renumbers everything and
makes the users anew, `rebuild_users`), so users only grow. Owners, pages and fragments are numbers (see
dependencies): rows hold arrays by owner, _CHUNK owners to a row, and a build reads only the rows it asks about.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

_CHUNK = 4096  # owners to a row (as dependencies' tables)
_REMAKE_FLOOR = 50_000  # page numbers added since the readers were made, before they may be made anew
_FIELD_BITS = 24  # (dependencies: a key is (owner number << _FIELD_BITS) | field number)
_KINDS = {"readers": "I", "users": "Q"}  # page numbers; fragment keys
# A table made anew keeps its pairs flat until written: (owner's place in its row << _VALUE_BITS) | value, one
# array of 8-byte numbers per row, instead of an array per owner (80 bytes each, 640 000 owners at 100 000
# articles): the render of a cold build holds about a third as much. Values are page numbers and fragment keys
# (an owner number << _FIELD_BITS | a field number: under 2 ** 52 while there are fewer than 2 ** 28 owners).
_VALUE_BITS = 52
_VALUE_MASK = (1 << _VALUE_BITS) - 1


@dataclass
class Reverse:
    """The reverse index as the cache's `deps` table keeps it (rows "paths:n", "readers:n", "users:n",
    "opaque"), with what this build adds. Not `complete` (an older cache, a damaged row): nothing asks it, and
    nothing is added to it, until a full build makes it anew."""

    fetch: Callable[[str], Any] | None = None  # a row of the `deps` table by name, for the rows not read yet
    complete: bool = False
    paths: list[str] = field(default_factory=list)  # page paths by number; only grows until `reset`
    opaque: set[str] = field(default_factory=set)  # pages every build renders (Record.opaque)
    saved_paths: int = 0  # how many of `paths` the table holds already
    # table -> how many of its rows exist (0 to n-1): a missing one is a damaged cache, not an empty row
    written: dict[str, int] = field(default_factory=lambda: {"readers": 0, "users": 0})
    made: int = 0  # page numbers the readers held when made anew
    grown: int = 0  # page numbers added to them since (duplicates and stale ones included)
    _rows: dict[str, dict[int, array]] = field(default_factory=dict)  # "readers:n" -> owner -> its array
    _touched: dict[str, set[int]] = field(default_factory=dict)  # rows to write -> the owners added to
    _anew: set[str] = field(default_factory=set)  # tables made anew by this build: every row is written
    _flat: dict[str, array] = field(default_factory=dict)  # a table made anew: "readers:n" -> its pairs, flat
    _path_ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, head: Any, rows: Mapping[str, Any], fetch: Callable[[str], Any]) -> "Reverse":
        """From its part of the `deps` head (see `head`) and the rows `wanted` names."""
        try:
            count, complete, readers, users, made, grown = head
            paths: list[str] = []
            for n in range(-(-count // _CHUNK)):
                paths += rows[f"paths:{n}"].split("\0")
            if len(paths) != count:
                return cls(fetch)
            return cls(fetch, bool(complete), paths, set(rows["opaque"]), count,
                       {"readers": int(readers), "users": int(users)}, int(made), int(grown))
        except (TypeError, ValueError, KeyError, AttributeError):
            return cls(fetch)

    @staticmethod
    def wanted(head: Any) -> list[str]:
        """The rows `load` needs, from its part of the head."""
        try:
            count = int(head[0])
        except (TypeError, ValueError, IndexError):
            return []
        return [*(f"paths:{n}" for n in range(-(-count // _CHUNK))), "opaque"]

    def head(self) -> tuple[int, bool, int, int, int, int]:
        return len(self.paths), self.complete, self.written["readers"], self.written["users"], self.made, self.grown

    @property
    def stale(self) -> bool:
        """Whether a full build should make the readers anew: not complete, or grown as large as they were made."""
        return not self.complete or self.grown > max(self.made, _REMAKE_FLOOR)

    def reset(self, groups: Mapping[int, array]) -> None:
        """Make the readers anew (a full build then gives `page` every record it keeps or makes); the users
        too when they were not complete (`groups`: every fragment's reads)."""
        if not self.complete:
            self.rebuild_users(groups)
        self.complete = True
        self.paths, self._path_ids, self.opaque, self.saved_paths = [], {}, set(), 0
        self.made = self.grown = 0
        self._anew.add("readers")
        self._forget("readers")

    def rebuild_users(self, groups: Mapping[int, array]) -> None:
        self._anew.add("users")
        self._forget("users")
        for key, members in groups.items():
            self._note_group(key, members)

    def page(self, path: str, keys: Iterable[int], opaque: str) -> None:
        """A page's record (kept, or made by this build's render): it reads the owners of these keys."""
        if not self.complete:
            return
        if opaque:
            self.opaque.add(path)
        else:
            self.opaque.discard(path)
        if not self._path_ids and self.paths:
            self._path_ids = {p: n for n, p in enumerate(self.paths)}
        number = self._path_ids.get(path)
        if number is None:
            number = self._path_ids[path] = len(self.paths)
            self.paths.append(path)
        added = sum(self._add("readers", owner, number) for owner in {k >> _FIELD_BITS for k in keys})
        if "readers" in self._anew:
            self.made += added
        else:
            self.grown += added

    def group(self, key: int, members: Iterable[int]) -> None:
        """A fragment (its key) made by this build read these keys."""
        if self.complete:
            self._note_group(key, members)

    def readers(self, owners: Iterable[int]) -> set[str]:
        """The pages that may read a key of one of these owners, and the opaque pages."""
        found: set[int] = set()
        for owner in owners:
            found.update(self._get("readers", owner))
        return {self.paths[n] for n in found if n < len(self.paths)} | self.opaque

    def users(self, owner: int) -> array:
        """The fragments that may have read a key of this owner."""
        return self._get("users", owner)

    def rows(self, owners: int, in_memory: bool = False) -> Iterator[tuple[str, Any]]:
        """The rows to write: new paths, the rows this build added to (every row of a table made anew: `owners`
        is how many owners there are), opaque. A preview's cache is in memory: its rows keep the arrays
        themselves (see dependencies.Deps._rows)."""
        for n in range(self.saved_paths // _CHUNK, -(-len(self.paths) // _CHUNK)):
            yield f"paths:{n}", "\0".join(self.paths[n * _CHUNK:(n + 1) * _CHUNK])
        names = set(self._touched) | {f"{table}:{n}" for table in self._anew for n in range(-(-owners // _CHUNK))}
        for table in self._anew:
            self.written[table] = 0
        for name in sorted(names):
            table, n = name.split(":")
            self.written[table] = max(self.written[table], int(n) + 1)
            row = self._unflat(name, self._rows.get(name, {}))
            for o in (row if table in self._anew else self._touched.get(name, ())):
                row[o] = array(row[o].typecode, sorted(set(row[o])))
            yield name, row if in_memory else {o: stored_bytes(a) for o, a in dict.items(row)}
            if not in_memory:
                self._rows.pop(name, None)  # written: asked again, it is read back (a cold build's peak is here)
        yield "opaque", tuple(sorted(self.opaque))
        self.saved_paths, self._touched, self._anew, self._path_ids = len(self.paths), {}, set(), {}

    def _note_group(self, key: int, members: Iterable[int]) -> None:
        for owner in {k >> _FIELD_BITS for k in members}:
            self._add("users", owner, key)

    def _forget(self, table: str) -> None:
        for name in [name for name in self._rows if name.startswith(table + ":")]:
            del self._rows[name]
        for name in [name for name in self._touched if name.startswith(table + ":")]:
            del self._touched[name]
        for name in [name for name in self._flat if name.startswith(table + ":")]:
            del self._flat[name]

    def _unflat(self, name: str, row: dict[int, array]) -> dict[int, array]:
        """`row` with the flat pairs kept for it (see _VALUE_BITS) added, by owner."""
        flat = self._flat.pop(name, None)
        if flat is not None:
            base, kind = int(name.split(":")[1]) * _CHUNK, _KINDS[name.split(":")[0]]
            for v in flat:
                owner = base + (v >> _VALUE_BITS)
                found = row.get(owner)
                if found is None:
                    found = row[owner] = array(kind)
                found.append(v & _VALUE_MASK)
        return row

    def _row(self, table: str, owner: int) -> dict[int, array]:
        name = f"{table}:{owner // _CHUNK}"
        row = self._rows.get(name)
        if row is None:
            stored = None if table in self._anew or self.fetch is None else self.fetch(name)
            if stored is None and owner // _CHUNK < self.written[table] and table not in self._anew:
                raise LookupError(name)  # written by an earlier build, gone now: the cache is damaged
            kind = _KINDS[table]
            if stored and isinstance(next(iter(stored.values())), array):
                row = self._rows[name] = stored  # a preview's row, in memory: its arrays, taken as they are
            else:
                row = self._rows[name] = Arrays(kind, stored) if stored else {}
        return self._unflat(name, row) if name in self._flat else row

    def _get(self, table: str, owner: int) -> array:
        return self._row(table, owner).get(owner) or array(_KINDS[table])

    def _add(self, table: str, owner: int, value: int) -> bool:
        """Note that `value` reads (or uses) `owner`; False when that was known already."""
        if table in self._anew:
            name = f"{table}:{owner // _CHUNK}"
            flat = self._flat.get(name)
            if flat is None:
                flat = self._flat[name] = array("Q")
            flat.append(((owner % _CHUNK) << _VALUE_BITS) | value)
            return True
        try:
            row = self._row(table, owner)
        except Exception:  # an unreadable row (cache.Damaged): trusted no more, until a full build
            self.complete = False
            return False
        found = row.get(owner)
        if found is None:
            row[owner] = array(_KINDS[table], [value])
        else:
            # A row as written is sorted, without duplicates: a page rendered again mostly reads what it read
            # before, and then neither the array nor its row changes (sorting and writing the rows of the few
            # hundred owners an edit's pages read was a quarter of a preview's save at 10 000 articles). After
            # an append the tail is unsorted: a value not found there is appended once more, and the duplicate
            # goes when the row is written; a value found is always really there.
            at = bisect_left(found, value)
            if at < len(found) and found[at] == value:
                return False
            found.append(value)
        self._touched.setdefault(f"{table}:{owner // _CHUNK}", set()).add(owner)
        return True


class Arrays(dict):
    """Arrays by key, as a row read from the cache holds them: kept as their bytes until one is asked for. An edit
    build asks for a handful of the tens of thousands its rows hold (making every one an array at once cost a
    one-article `sitegen build` ~15 ms at 10 000 articles, and grows with the archive). `dict.items(row)` gives
    them as they are."""

    def __init__(self, kind: str, stored: Mapping[Any, bytes | array]):
        super().__init__(stored)
        self.kind = kind

    def __getitem__(self, key: Any) -> array:
        value = dict.__getitem__(self, key)
        if not isinstance(value, array):
            value = as_array(self.kind, value)
            dict.__setitem__(self, key, value)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def items(self) -> Iterator[tuple[Any, array]]:  # type: ignore[override]
        return ((key, self[key]) for key in list(dict.keys(self)))

    def values(self) -> Iterator[array]:  # type: ignore[override]
        return (self[key] for key in list(dict.keys(self)))

    def __reduce__(self) -> Any:  # (pickled, as in a preview's memory cache: the arrays themselves)
        return dict, (dict(self.items()),)


def stored_bytes(data: bytes | array) -> bytes:
    """A row's array as the cache on disk keeps it (bytes: as read, if never made an array)."""
    return data.tobytes() if isinstance(data, array) else data


def as_array(kind: str, data: bytes | array) -> array:
    """A row's array: from its bytes, or as it is (a preview's rows, in memory, keep their arrays)."""
    if isinstance(data, array):
        return data
    out = array(kind)
    out.frombytes(data)
    return out
