"""Which pages a build renders again: the ones whose template changed, or that read something that changed.

Every page's render leaves a `Record` of what its template read (see tracking): its template key, the digests
of its page-local reads, the keys of what it read of tracked objects, and the memoised fragments whose output
it used (their reads are kept once, as `groups`). The next build asks `Deps.dirty` which of its pages cannot be
carried over:
- a page with no record (new, or its last render failed), or an opaque one;
- its template, or anything it extends, includes or imports, changed;
- one of its page-local reads now gives another value (its listing shifted, its neighbours changed...). Those
  are compared only for pages whose `context.page_signature` changed (what their variables are made from):
  adding an article moves every position after it, but changes the variables of a few hundred pages only;
- one of the keys it (or a fragment it used) read now gives another value. Keys are checked owner by owner:
  an entry whose digest (`templates.entry_digest`) is unchanged changed nothing anyone read of it, so only the
  few entries that did change are compared field by field; every other key (the site view, the
  configuration, categories, tags, the menu, site-wide lists, asset URLs) is resolved again and compared.

A key is a number: its owner (kind and id, such as an entry's source file) and its field (`title`,
`tags|len`) each have a number in an append-only table, and the key is both in one integer. At 100 000 articles
pages read some three million distinct things, most of them a few dozen fields of each entry: kept as texts
they would need more memory than the rest of the build.

Nothing is listed by hand: a template that reads something new records something new.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from itertools import islice
from operator import attrgetter
from typing import AbstractSet, Any, Callable, Collection, Iterable, Iterator, Mapping, NamedTuple, Sequence

from ..render import tracking
from .cache import Cache, Damaged, Rows, row_of
from .reverse import Arrays, Reverse, as_array, stored_bytes
from ..render.context import POSITIONAL, SiteView, home_blocks, page_context, page_signature, site_list
from ..render.templates import Entry, Templates, entry_digest
from ..structure.routes import Page
from ..content.model import Checked

ENTRY_KINDS = ("e", "a")  # keys owned by an entry (its fields, its article's fields), by source file
GROUP = "G"  # the kind of a memoised fragment's key: a page that used it depends on it like on any key
FORMAT = "deps/9"  # of the rows below; rows of another format are never trusted
# Kinds whose keys are owned by (kind, id, attribute), not (kind, id): every page and fragment reads something of
# the site view (its title, its configuration), so one owner for all of it made an addition, which changes
# `site.entries`, look at the reads of all 25 000 fragments of a 10 000-article site (see reverse: who reads an
# owner). Owned by the attribute, a change of `site.entries` concerns only those that read `site.entries`.
BY_ATTRIBUTE = frozenset({"s", "g"})
_ATTRIBUTE = "\x1e"  # between an owner's id and the attribute, in the owners' table
_CHUNK = 4096  # owners or fields to a row (their tables only grow; a build writes only its new rows)
# Rows the digests of keys, and of entries, are kept in (by key, by source: see `_bucket`): a build writes the rows
# holding a digest it changed, not all of them (an edit build at 10 000 articles: 1.7 MB less to write).
_DIGEST_ROWS = 32
_WHOLE = "\0whole"  # in what `Deps.rows_of` read: whether it read every row the head names
_FLUSH = 500  # records to hold before they go to the cache's `fresh` table
_FIELD_BITS = 24  # a key is (owner number << _FIELD_BITS) | field number
_FIELD_MASK = (1 << _FIELD_BITS) - 1
# What nobody reads any more is dropped once the tables hold _PRUNE_GROWTH times what was read at the last
# pruning (and at least _PRUNE_FLOOR): pruning walks every record, so it is not done on every build.
_PRUNE_GROWTH, _PRUNE_FLOOR = 2, 4096
_LOCAL_SIZE = 10  # bytes of a page-local read's digest (tracking.digest, as bytes)
_PATH = attrgetter("path")  # a page's output path
_FRAGMENT_ROWS = 4  # rows of kept fragments a fragment in use may account for before they are started afresh


class Record(NamedTuple):
    """What one page's last render read, as numbers (see `Deps.number`): one row of the cache's `records`
    table, by output path. Records are never all in memory: at 100 000 articles they are 155 000 pages' worth,
    read a chunk at a time by `dirty` and written as the render makes them."""

    template: str  # Templates.template_key of its template
    names: tuple[str, ...]  # its page-local reads (tracking.Recorder.local names), sorted
    values: bytes  # the digest of each one's value, _LOCAL_SIZE bytes each, in the order of `names`
    keys: bytes  # what it read of tracked objects, and the memoised fragments it used (an array "Q", sorted)
    opaque: str = ""  # why it must always be rendered ("" when it need not)
    signature: str = ""  # context.page_signature when its page-local reads were last found equal ("": check them)


@dataclass(frozen=True)
class Read:
    """A page's or a fragment's reads as a render leaves them, before `Deps` numbers them."""

    template: str
    local: tuple[tuple[str, str], ...]
    keys: frozenset[tuple[str, str, str]]  # (kind, owner, field), the fragments used as (GROUP, name, "")
    opaque: str = ""

    @classmethod
    def of(cls, template: str, frame: tracking.Frame) -> "Read":
        return cls(template, tuple(sorted(frame.local.items())),
                   frozenset([*frame.keys, *((GROUP, g, "") for g in frame.groups)]), frame.opaque)


@dataclass
class Deps:
    """What the last build's pages read, as the cache keeps it, and what this build changes of it. The
    records themselves stay in the cache (see Record); this holds what they have in common."""

    cache: Cache | None = None  # where the records are
    count: int = 0  # pages with a record
    owners: list[tuple[str, str]] = field(default_factory=list)  # (kind, id) by number; only grows
    fields: list[str] = field(default_factory=list)  # field texts by number; only grows
    groups: dict[int, array] = field(default_factory=dict)  # a fragment's key -> the keys it read
    digests: dict[int, str] = field(default_factory=dict)  # key -> digest, for keys not owned by an entry
    entries: dict[str, str] = field(default_factory=dict)  # source -> entry_digest of its entry
    owned: dict[str, array] = field(default_factory=dict)  # source -> its entry's keys that something read
    saved: tuple[int, int] = (0, 0)  # how many owners and fields the table holds already
    live_size: int = 0  # `_size()` right after the last pruning
    rev: Reverse = field(default_factory=Reverse)  # which pages and fragments read each owner (see reverse)
    _owner_ids: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _field_ids: dict[str, int] = field(default_factory=dict, repr=False)
    _pending: set[int] = field(default_factory=set, repr=False)  # keys first read now, not owned by an entry
    # The keys this build's render numbered and filed (`_number_all`), by their text: most are read again on page
    # after page (the site view's, the configuration's, the fragments'). Dropped once the render is over.
    _filed: dict[tuple[str, str, str], int] = field(default_factory=dict, repr=False)
    _fresh: dict[str, Record] = field(default_factory=dict, repr=False)  # records made, not yet in the cache
    _fresh_fragments: dict[str, Any] = field(default_factory=dict, repr=False)  # fragments' rows, likewise
    _rendered: set[str] = field(default_factory=set, repr=False)  # pages this build recorded anew
    _kept: set[str] = field(default_factory=set, repr=False)  # pages whose stored record stays theirs
    _gone: list[str] = field(default_factory=list, repr=False)  # records of pages that are no more
    _pruned: bool = field(default=False, repr=False)
    _pruned_rows: bool = field(default=False, repr=False)  # every row of groups and owned is to be written
    _new_groups: set[int] = field(default_factory=set, repr=False)  # fragments (re)made by this build
    _new_owned: set[str] = field(default_factory=set, repr=False)  # sources with a key first read now
    _loaded: tuple[int, int] = field(default=(0, 0), repr=False)  # how many groups and owned the rows hold
    _broken: bool = field(default=False, repr=False)  # the records could not be brought up to date
    _now: dict[int, str] = field(default_factory=dict, repr=False)  # keys resolved by this build's check
    _digest_of: dict[str, str] = field(default_factory=dict, repr=False)  # this build's entry digests
    _signatures: dict[str, str] = field(default_factory=dict, repr=False)  # of the pages `dirty` answered
    _articles: dict[int, tuple[Any, str]] = field(default_factory=dict, repr=False)  # see `know`
    _shared: dict[int, tuple[Any, str]] = field(default_factory=dict, repr=False)  # see templates.entry_digest
    _head: tuple = field(default=(), repr=False)  # the head `_rows` made, written once the rest is (see save)
    _changed: set[int] = field(default_factory=set, repr=False)  # the keys `dirty` found changed, fragments too
    _made: set[int] = field(default_factory=set, repr=False)  # the fragments this build made (`add_group`)
    # The digests and entries as the rows hold them, whole and by row (None: not known, every row is written).
    _stored_digests: tuple[dict | None, dict | None] = field(default=(None, None), repr=False)
    _stored_rows: tuple[dict[int, dict] | None, dict[int, dict] | None] = field(default=(None, None), repr=False)
    # A preview's: the digest of each entry it keeps between builds (templates.make_entries' memo gives the same
    # Entry again), by id, with the entry itself (so that the id is not reused while it is here).
    kept_digests: dict[int, tuple[Entry, str]] | None = field(default=None, repr=False)
    # A preview's: the maps `number` makes (a key's owner and field to their numbers), as the build that saved
    # these records left them, to be taken by the next build of the same records instead of made again (15 ms
    # of a save at 10 000 articles, ten times that at 100 000). Empty while a build holds them.
    kept_ids: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, cache: Cache, token: str, read: dict[str, Any] | None = None) -> "Deps":
        """What the pages of the output tree `token` (write.output_token of the live tree) read. Records
        describe the pages of one tree: a build killed after publishing but before saving its records leaves
        the older build's, which must not decide what the newer tree keeps (nothing is trusted then). `read`:
        the rows `rows_of` read (ahead, see prefetch), if it did."""
        cache.put_many("fresh", {}, replace_all=True)  # what a build that failed had recorded
        cache.put_many("fresh_fragments", {}, replace_all=True)
        rows = read if read is not None else cls.rows_of(cache)
        head = rows.get("head")
        if not isinstance(head, tuple) or len(head) not in (6, 7) or head[0] != FORMAT or not token \
                or head[4] != token or not rows.get(_WHOLE):
            return cls._untrusted(cache)  # (not whole: a damaged row, no record can be trusted, render everything)
        _, count, (owners_n, fields_n), (group_rows, owned_rows), _, live = head[:6]
        reverse = head[6] if len(head) == 7 else None  # (none: a cache from before the reverse index)
        owner_rows, field_rows = -(-owners_n // _CHUNK), -(-fields_n // _CHUNK)
        try:
            stored = (_DIGESTS.read(rows), _ENTRIES.read(rows))
            if stored[0] is None or stored[1] is None:
                return cls._untrusted(cache)
            digests, entries = Rows.joined(stored[0]), Rows.joined(stored[1])
            # Arrays as bytes (the cache on disk), or the arrays themselves (a preview's rows in memory, see _rows;
            # bytes too when it read back what a build on disk wrote: preview.apart).
            groups, owned = Arrays("Q", {}), Arrays("Q", {})
            for n in range(group_rows):
                groups.update(rows[f"groups:{n}"])
            for n in range(owned_rows):
                owned.update(rows[f"owned:{n}"])
            owners: list[tuple[str, str]] = []
            for n in range(owner_rows):
                owners += rows[f"owners:{n}"]
            fields_: list[str] = []
            for n in range(field_rows):
                fields_ += rows[f"fields:{n}"]
            if (len(owners), len(fields_)) != (owners_n, fields_n):
                return cls._untrusted(cache)
            return cls(cache, count, owners, fields_, groups, digests, entries, owned, (owners_n, fields_n), live,
                       Reverse.load(reverse, rows, _row_of(cache)), _head=head[:6], _loaded=(len(groups), len(owned)),
                       _stored_digests=(dict(digests), dict(entries)), _stored_rows=stored)  # type: ignore[arg-type]
        except (TypeError, ValueError, AttributeError):
            return cls._untrusted(cache)  # rows of another shape: nothing is trusted

    @staticmethod
    def rows_of(cache: Cache) -> dict[str, Any]:
        """The rows `load` reads: the head, and those it names, with `_WHOLE` true when every one was read."""
        head = cache.get_many("deps", ["head"]).get("head")
        if not isinstance(head, tuple) or len(head) not in (6, 7):
            return {"head": head}
        try:
            _, _, (owners_n, fields_n), (group_rows, owned_rows) = head[:4]
            reverse = head[6] if len(head) == 7 else None
            owner_rows, field_rows = -(-owners_n // _CHUNK), -(-fields_n // _CHUNK)
            names = [*(f"owners:{n}" for n in range(owner_rows)), *(f"fields:{n}" for n in range(field_rows)),
                     *(f"groups:{n}" for n in range(group_rows)), *(f"owned:{n}" for n in range(owned_rows)),
                     *_DIGESTS.names(), *_ENTRIES.names(),
                     *Reverse.wanted(reverse)]
        except (TypeError, ValueError, AttributeError):
            return {"head": head}
        rows = cache.get_many("deps", names)
        return {**rows, "head": head, _WHOLE: len(rows) == len(names)}

    @classmethod
    def _untrusted(cls, cache: Cache) -> "Deps":
        """No record: every page is rendered and recorded anew (the old records must not mix with the new)."""
        cache.put_many("records", {}, replace_all=True)
        cache.put_many("deps", {}, replace_all=True)
        cache.put_many("fragments", {}, replace_all=True)  # (what each read is gone with the rest)
        return cls(cache, rev=Reverse(_row_of(cache)))

    def fragments(self, version: str, tidy: bool = True) -> tuple[Any, Callable[[str], bool],
                                                                  Callable[[Sequence[str]], list[str]]]:
        """The memoised fragments earlier builds made (see templates.Templates.keep_fragments), for templates
        of this `version` (another version, and none is kept), and which of them still hold: those whose reads
        are known and unchanged in this build (`dirty` decides); and which of those the pages at some paths used
        when last rendered (their records say). Their outputs stay in the cache's `fragments` table: a fragment
        whose reads changed while no page used it is dropped there (`update`), so an output kept is always the
        one its recorded reads give."""
        assert self.cache is not None
        # Rows of other versions, and of fragments no page uses any more (a most-read block of last month's
        # figures), are not kept for ever: a table well over what the fragments in use need is started afresh.
        # Counted in builds of the whole model (`tidy`) only, as records are pruned: not on every preview save.
        afresh = self.cache.get_many("fragments", ["version"]).get("version") != version or (
            tidy and self.cache.count("fragments") > _FRAGMENT_ROWS * len(self.groups) + _PRUNE_FLOOR)
        if afresh:
            self.cache.put_many("fragments", {"version": version}, replace_all=True)
        self._maps()  # (made once here, before the render's workers fork)
        owners, groups, changed = self._owner_ids, self.groups, self._changed
        blank = self._field_ids.get("")

        def usable(name: str) -> bool:
            owner = owners.get((GROUP, name))
            if owner is None or blank is None:
                return False
            key = (owner << _FIELD_BITS) | blank
            return key in groups and key not in changed

        records, named = self.cache.reader("records"), self.owners

        def used(paths: Sequence[str]) -> list[str]:
            """The fragments the pages at `paths` used when last rendered and that still hold: what they most
            likely take again (read at once, see Templates.prefetch_kept)."""
            if blank is None:
                return []
            read: set[int] = set()
            for row in records.get_many(paths).values():
                try:
                    read.update(_array(Record(*row).keys))
                except (TypeError, ValueError):
                    continue  # (a damaged record: its page reads its fragments one by one)
            # Every key the pages read, sorted out here (a few thousand for an addition's pages), not every owner's
            # number looked at to find the fragments' (20 000 at 10 000 articles: 20 ms in each process).
            count = len(named)
            return [name for key in read if key & _FIELD_MASK == blank and (o := key >> _FIELD_BITS) < count
                    and named[o][0] == GROUP and usable(name := named[o][1])]

        # (A table started afresh holds nothing: the render asks it nothing, where a cold build asked it twice a
        # memoised call, 20 000 queries at 10 000 articles. What this build makes is kept for the next all the same.)
        return (_NOTHING_KEPT if afresh else self.cache.reader("fragments")), usable, used

    def add_fragments(self, rows: Mapping[str, Any]) -> None:
        """The rows that keep fragments made by this build (templates.Templates.take_groups), kept apart until
        the build is published (`update`): a build that fails leaves the kept ones as they were. They go to the
        cache with the records (`_flush`)."""
        self._fresh_fragments.update(rows)

    def _stored(self) -> Iterator[tuple[str, Record]]:
        """The records the cache holds, by path, a chunk at a time (raises cache.Damaged)."""
        if self.cache is not None:
            for path, row in self.cache.scan("records"):
                yield path, Record(*row)

    def save(self, cache: Cache, token: str) -> None:
        """Write, as the records of the output tree `token`, what changed: the new owners' and fields' rows,
        what pages read in common, and the head. After a pruning everything is written anew."""
        renumbered = self._pruned
        if self._pruned:
            self._renumber()
            self.saved = (0, 0)
            cache.put_many("deps", {}, replace_all=True)
        self._pruned_rows = self._pruned or self.saved == (0, 0)
        in_memory = cache.in_memory("deps")
        cache.put_many("deps", self._rows("" if self._broken else token, in_memory))  # (a row at a time)
        cache.put_many("deps", self.rev.rows(len(self.owners), in_memory))
        cache.put_many("deps", {"head": (*self._head, self.rev.head())})
        self.saved, self._pruned = (len(self.owners), len(self.fields)), False
        self._loaded = (len(self.groups), len(self.owned))
        if self.kept_ids is not None and not renumbered and self._owner_ids \
                and (len(self._owner_ids), len(self._field_ids)) == (len(self.owners), len(self.fields)):
            self.kept_ids.update(head=self._head, owners=self._owner_ids, fields=self._field_ids)
        self._new_groups, self._new_owned = set(), set()

    def _rows(self, token: str, in_memory: bool = False) -> Iterator[tuple[str, Any]]:
        for name, table, saved in (("owners", self.owners, self.saved[0]), ("fields", self.fields, self.saved[1])):
            for n in range(saved // _CHUNK, -(-len(table) // _CHUNK)):
                yield f"{name}:{n}", table[n * _CHUNK:(n + 1) * _CHUNK]
        counts = []
        for (name, table, touched), loaded in zip((("groups", self.groups, self._new_groups),
                                                   ("owned", self.owned, self._new_owned)), self._loaded):
            # Rows hold the table in its order, which only grows at the end (pruning writes everything anew):
            # only the rows holding something this build changed are written again.
            counts.append(-(-len(table) // _CHUNK))
            for n in range(counts[-1]) if self._pruned_rows else sorted(_rows_holding(table, touched, loaded)):
                chunk = list(islice(dict.items(table), n * _CHUNK, (n + 1) * _CHUNK))
                # A preview's cache is in memory: the arrays themselves (groups' are never changed in place,
                # owned ones only grow, which a superset allows), not bytes to be made arrays again.
                yield f"{name}:{n}", dict(chunk) if in_memory else {k: stored_bytes(a) for k, a in chunk}
        stored_rows = []
        for split, now, then, then_rows in ((_DIGESTS, self.digests, self._stored_digests[0], self._stored_rows[0]),
                                            (_ENTRIES, self.entries, self._stored_digests[1], self._stored_rows[1])):
            if self._pruned_rows or then is None or then_rows is None:
                rows = split.split(now.items())
            else:
                # Only the rows of the keys that changed, each the row as stored with those keys changed: an
                # addition changes a few of 30 000 digests at 10 000 articles, and sorting them all into rows
                # again was a tenth of what the build remembers.
                rows = split.edited(then_rows, {k: d for k, d in now.items() if k not in then or then[k] != d},
                                    [k for k in then if k not in now])
            yield from split.named(rows).items()
            stored_rows.append(rows if then_rows is None or len(rows) == _DIGEST_ROWS else {**then_rows, **rows})
        self._stored_digests = (dict(self.digests), dict(self.entries))
        self._stored_rows = (stored_rows[0], stored_rows[1])
        # (the head is written last, after the reverse index's rows: see save)
        self._head = (FORMAT, self.count, (len(self.owners), len(self.fields)), tuple(counts), token, self.live_size)

    def number(self, kind: str, owner: str, field_: str) -> int:
        """The number of the key (kind, owner, field), given one if it is new. The site view's and the
        configuration's keys are owned by their attribute (BY_ATTRIBUTE), not by the one object."""
        self._maps()
        if kind in BY_ATTRIBUTE:
            owner = f"{owner}{_ATTRIBUTE}{field_.partition('|')[0]}"
        o = self._owner_ids.get((kind, owner))
        if o is None:
            o = self._owner_ids[(kind, owner)] = len(self.owners)
            self.owners.append((kind, owner))
        f = self._field_ids.get(field_)
        if f is None:
            f = self._field_ids[field_] = len(self.fields)
            self.fields.append(field_)
        return (o << _FIELD_BITS) | f

    def _maps(self) -> None:
        """The maps from owners' and fields' texts to their numbers, made when first needed."""
        if not self._owner_ids and self.owners:
            kept = self.kept_ids
            if kept and kept["head"] == self._head and (len(kept["owners"]), len(kept["fields"])) == \
                    (len(self.owners), len(self.fields)):
                self._owner_ids, self._field_ids = kept["owners"], kept["fields"]
            else:
                self._owner_ids = dict(zip(self.owners, range(len(self.owners))))  # (in C: a comprehension
                self._field_ids = dict(zip(self.fields, range(len(self.fields))))  # took twice as long)
            if kept is not None:
                kept.clear()  # taken: a build that fails after numbering new keys leaves no maps behind

    def key(self, number: int) -> tuple[str, str, str]:
        """(kind, owner, field) of a key's number."""
        kind, owner = self.owners[number >> _FIELD_BITS]
        if kind in BY_ATTRIBUTE:
            owner = owner.partition(_ATTRIBUTE)[0]
        return kind, owner, self.fields[number & _FIELD_MASK]

    def _size(self) -> int:
        return len(self.digests) + len(self.owners) + len(self.groups)

    def _live_keys(self) -> set[int]:
        """The keys some page reads, directly or through the fragments it used (and those fragments' own)."""
        live: set[int] = set()
        for _, r in self._stored():
            live.update(_array(r.keys))
        todo = [k for k in live if k in self.groups]
        while todo:
            members = self.groups[todo.pop()]
            todo += [m for m in members if m in self.groups and m not in live]
            live.update(members)
        return live

    def _renumber(self) -> None:
        """Number anew the owners and fields some key still uses (pruning leaves the others unused), and
        rewrite every record with the new numbers."""
        used: set[int] = set()
        for _, r in self._stored():
            used.update(_array(r.keys))
        for k, members in self.groups.items():
            used.add(k)
            used.update(members)
        used.update(self.digests)
        for a in self.owned.values():
            used.update(a)
        owners = sorted({k >> _FIELD_BITS for k in used})
        fields_ = sorted({k & _FIELD_MASK for k in used})
        new_owner = {o: n for n, o in enumerate(owners)}
        new_field = {f: n for n, f in enumerate(fields_)}
        self.owners = [self.owners[o] for o in owners]
        self.fields = [self.fields[f] for f in fields_]
        self._owner_ids, self._field_ids, self._filed = {}, {}, {}

        def new(k: int) -> int:
            return (new_owner[k >> _FIELD_BITS] << _FIELD_BITS) | new_field[k & _FIELD_MASK]

        def move(a: array) -> array:
            return array("Q", sorted(map(new, a)))

        self.rev.complete = True
        self.rev.reset({})  # every row of the reverse index is written anew, in the new numbers
        for path, r in self._stored():  # (the scan holds no statement open between chunks: writing is safe)
            moved = move(_array(r.keys))
            self.rev.page(path, moved, _always(r))
            self._fresh[path] = r._replace(keys=moved.tobytes())
            if len(self._fresh) >= _FLUSH:
                self._flush()
        self._flush()
        if self.cache is None or not self.cache.move("fresh", "records"):
            self._broken = True
        self.groups = {new(k): move(m) for k, m in self.groups.items()}
        self.rev.rebuild_users(self.groups)
        self.digests = {new(k): d for k, d in self.digests.items()}
        self.owned = {s: move(a) for s, a in self.owned.items()}
        self._now = {}

    def dirty(self, pages: Sequence[Page] | None, view: SiteView, templates: Templates,
              old_entry: Callable[[str], Entry | None], edited: Mapping[str, Entry] | None = None) -> set[str]:
        """The paths of `pages` (None: of the last build's pages) that must be rendered again. `old_entry(digest)`
        gives an entry as the last build had it (None when the cache no longer has it). `edited`: in an edit
        build, the only entries that can have changed (nothing else of the site moved, so neither other keys
        nor page-local reads are checked); None checks every entry and everything else. In an edit build a
        damaged record raises cache.Damaged; a full build then renders every page."""
        changed = self._changed_keys(view, templates, old_entry, edited)
        if pages is None and self.rev.complete and self.cache is not None:
            return self._dirty_edit(changed)
        known: dict[int, bool] = {}

        def group_changed(k: int) -> bool:
            hit = known.get(k)
            if hit is None:
                known[k] = False  # (no cycle: a fragment uses only fragments made before it)
                members = self.groups.get(k)
                hit = members is None or not changed.isdisjoint(members) or \
                    any(group_changed(m) for m in members if m in self.groups)
                known[k] = hit
            return hit

        changed.update(k for k in self.groups if group_changed(k))
        self._changed = changed
        out: set[str] = set()
        signatures = self._signatures = {}
        if pages is None:  # an edit build: no template changed, no page moved, no page-local read changed
            for path, r in self._stored():
                if r.opaque or not changed.isdisjoint(_array(r.keys)):
                    out.add(path)
                    signatures[path] = r.signature
            return out
        by_path = {p.path: p for p in pages}
        sources = view.sources or [e.article.source for e in view.entries]
        blocks = home_blocks(view.home, view.menu)
        kept, gone = self._kept, self._gone
        remake = self.rev.stale
        if remake:
            self.rev.reset(self.groups)  # made anew from the records kept and the pages rendered
        try:
            for path, r in self._stored():
                p = by_path.get(path)
                if p is None:
                    gone.append(path)
                    continue
                kept.add(path)
                keys = _array(r.keys)
                if remake:
                    self.rev.page(path, keys, _always(r))
                signature = page_signature(p, sources, blocks)
                if r.opaque or r.template != templates.template_key(p.template) \
                        or not changed.isdisjoint(keys):
                    out.add(path)
                    signatures[path] = signature
                elif r.names and signature != r.signature:
                    if _local_digests(r.names, p, page_context(p, view)) != r.values:
                        out.add(path)
                        signatures[path] = signature
                    elif signature != r.signature and POSITIONAL.isdisjoint(r.names):
                        self._fresh[path] = r._replace(signature=signature)  # equal reads: carried over
        except Damaged:
            kept.clear()
            gone.clear()
            self._fresh.clear()
            if self.cache is not None:
                self.cache.put_many("records", {}, replace_all=True)  # the new records are all there will be
        for p in pages:
            if p.path not in kept:
                out.add(p.path)
                signatures[p.path] = page_signature(p, sources, blocks)
        return out

    def shifted(self, pages: Sequence[Page], existed: AbstractSet[str], compared: Collection[str], before: Mapping[str, str],
                view: SiteView, templates: Templates, old_entry: Callable[[str], Entry | None],
                edited: Mapping[str, Entry | None], same_lists: Collection[str] = ()) -> set[str] | None:
        """A shift's pages to render (see delta.Shift), without reading every record: those that read a changed
        key (through the reverse index, as `_dirty_edit`: every key not owned by an entry is resolved again, and the
        entries `edited` compared, None for one deleted), the opaque ones and those with page-local reads holding
        positions, the new ones (not in `existed`, the last build's paths), and those of `compared` whose
        `page_signature` is not the one `before` gives (as the last build's pages had it): the pages a shift may
        give other variables (stages._compared). The pages that go are the records to drop. None when the records
        cannot answer (a full build must). `same_lists`: see `_changed_keys`."""
        if not self.rev.complete or self.cache is None:
            return None
        changed = self._changed_keys(view, templates, old_entry, edited, others=True, same_lists=same_lists)
        try:
            out = self._dirty_edit(changed) | self.rev.opaque  # (its records say opaque; `_always` says more)
        except Damaged:
            return None
        sources, blocks = view.sources, home_blocks(view.home, view.menu)
        for p in pages:
            path = p.path
            if path in existed and path not in compared and path not in out:
                continue
            signature = page_signature(p, sources, blocks)
            if path in out or path not in existed or signature != before.get(path):
                out.add(path)
                self._signatures[path] = signature
        paths = set(map(_PATH, pages))
        self._kept = paths & existed
        self._gone = sorted(existed - paths)
        return out

    def _dirty_edit(self, changed: set[int]) -> set[str]:
        """An edit build's pages to render, found through the reverse index: the fragments that read a changed
        key are changed too (and those that used them, and so on), then only the pages that may read one of
        those owners have their record read. Raises cache.Damaged when a row it needs cannot be read."""
        frontier = set(changed)
        try:
            while frontier:
                owners = {k >> _FIELD_BITS for k in frontier}
                frontier = set()
                for owner in owners:
                    for group in self.rev.users(owner):
                        if group not in changed and group not in frontier:
                            members = self.groups.get(group)
                            if members is not None and not changed.isdisjoint(members):
                                frontier.add(group)
                changed |= frontier
            self._changed = changed
            wanted = sorted(self.rev.readers({k >> _FIELD_BITS for k in changed}))
        except (LookupError, Damaged):  # a row of the index is gone or unreadable (reverse.Reverse._row)
            # The full build that follows must make all of it anew, the fragments' part too: say so in the head.
            self.rev.complete = False
            if self.cache is not None and self._head:
                self.cache.put_many("deps", {"head": (*self._head, self.rev.head())})
            raise Damaged("deps") from None
        assert self.cache is not None
        found = self.cache.get_many("records", wanted)
        if len(found) != len(self.cache.has_many("records", wanted)):
            raise Damaged("records")
        out: set[str] = set()
        signatures = self._signatures = {}
        for path, row in found.items():
            r = Record(*row)
            if r.opaque or not changed.isdisjoint(_array(r.keys)):
                out.add(path)
                signatures[path] = r.signature
        return out

    def _changed_keys(self, view: SiteView, templates: Templates, old_entry: Callable[[str], Entry | None],
                      edited: Mapping[str, Entry] | None, others: bool = False,
                      same_lists: Collection[str] = ()) -> set[int]:
        """The keys whose value changed: of every entry (`edited` None) or of the entries `edited`, and of every
        key not owned by an entry (`edited` None, or `others`: resolved again, their values kept in `_now`),
        but those of the site-wide lists `same_lists` names, known to hold the same articles as before (a list's
        keys read only which articles it holds: see `resolve`)."""
        changed: set[int] = set()
        current: Mapping[str, Entry]
        if edited is not None and others:
            lists: dict[str, Any] = {}
            owners = self.owners
            for key, d in self.digests.items():
                # (Most keys are of related lists that stay, skipped: asked first without `key`, 20 000 at 10 000
                # articles. A list's owner is its name, not one of BY_ATTRIBUTE's.)
                kind, owner = owners[key >> _FIELD_BITS]
                if kind == "l" and owner in same_lists:
                    continue
                kind, owner, field_ = self.key(key)
                self._now[key] = now = resolve(kind, owner, field_, view, templates, lists)
                if now != d:
                    changed.add(key)
        if edited is None:
            current = {e.article.source: e for e in view.entries}
            self._digest_of = {s: self._entry_digest(e) for s, e in current.items()}
            if self.kept_digests is not None:  # only this build's entries stay
                alive = {id(e) for e in current.values()}
                for gone in [k for k in self.kept_digests if k not in alive]:
                    del self.kept_digests[gone]
            sources: Iterable[str] = [s for s, d in self.entries.items() if self._digest_of.get(s) != d]
            lists: dict[str, Any] = {}
            for key, d in self.digests.items():
                self._now[key] = now = resolve(*self.key(key), view, templates, lists)
                if now != d:
                    changed.add(key)
        else:
            current, sources = edited, list(edited)
        for source in sources:
            keys = self.owned.get(source, ())
            if not keys:
                continue
            new = current.get(source)
            old_digest = self.entries.get(source)
            if new is not None and old_digest == self.digest_of(new):
                continue
            old = old_entry(old_digest) if old_digest else None
            for key in keys:
                kind, _, field_ = self.key(key)
                if new is None or old is None or _entry_read(old, kind, field_) != _entry_read(new, kind, field_):
                    changed.add(key)
        return changed

    def _keep_fragments(self) -> None:
        """The fragments this build made replace their kept rows; the output of one whose reads changed and
        that this build did not make again (no page it renders uses it now) is dropped: kept, it would be taken
        by a later build once those reads are back in the records as they are now."""
        if self.cache is None:
            return
        stale = ["o:" + self.key(k)[1] for k in self._changed - self._made if k in self.groups]
        if stale:
            self.cache.delete("fragments", stale)
        if not self.cache.move("fresh_fragments", "fragments"):
            self.cache.put_many("fragments", {}, replace_all=True)  # (half moved: none is trusted)
        self._changed, self._made = set(), set()

    def add(self, path: str, read: Read) -> None:
        """A page this build rendered: what it read replaces its record (numbered now, and sent to the cache
        every _FLUSH pages, so that a large build never holds every page's reads at once)."""
        names = tuple(name for name, _ in read.local)
        # A page `dirty` answered keeps the signature it found (an edit build: the one the page had); a page
        # with page-local reads holding article positions has none: they are compared in every full build.
        signature = "" if not POSITIONAL.isdisjoint(names) else self._signatures.get(path, "")
        values = b"".join(bytes.fromhex(d) for _, d in read.local)
        keys = self._number_all(read)
        record = Record(read.template, names, values, keys.tobytes(), read.opaque, signature)
        self.rev.page(path, keys, _always(record))
        self._fresh[path] = record
        self._rendered.add(path)
        if len(self._fresh) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        if self._fresh and self.cache is not None:
            self.cache.put_many("fresh", ((path, tuple(r)) for path, r in self._fresh.items()))
        if self._fresh_fragments and self.cache is not None:
            self.cache.put_many("fresh_fragments", self._fresh_fragments)
        self._fresh, self._fresh_fragments = {}, {}

    def add_group(self, name: str, read: Read) -> None:
        """A memoised fragment this build made: the pages that use it depend on what it read."""
        key = self.number(GROUP, name, "")
        self._made.add(key)
        members = self._number_all(read)
        if self.groups.get(key) == members:
            return  # made again as it was (a preview's save re-makes the fragments of the pages it renders)
        self.groups[key] = members
        self.rev.group(key, members)
        self._new_groups.add(key)

    def _number_all(self, read: Read) -> array:
        """Number what `read` read, and file keys read for the first time: an entry's under its source
        (compared field by field when the entry changes), any other to be resolved by `update`."""
        out, filed = [], self._filed
        for read_key in read.keys:
            key = filed.get(read_key)
            if key is None:  # (first met in this build: numbered and filed once, not on each of 15 000 pages)
                kind, owner, field_ = read_key
                key = filed[read_key] = self.number(kind, owner, field_)
                if kind in ENTRY_KINDS:
                    known = self.owned.get(owner)
                    if known is None:
                        self.owned[owner] = array("Q", [key])
                        self._new_owned.add(owner)
                    elif key not in known:
                        known.append(key)
                        self._new_owned.add(owner)
                elif kind != GROUP and key not in self.digests:
                    self._pending.add(key)
            out.append(key)
        out.sort()
        return array("Q", out)

    def update(self, pages: Sequence[Page] | None, view: SiteView, templates: Templates, entries: Iterable[Entry],
               full: bool, dropped: Iterable[str] = ()) -> None:
        """After rendering (`add`, `add_group`) and publishing: this build's records replace the old ones in
        the cache, the records of pages that are gone are dropped, and the digests of what is read are brought
        up to date (keys not owned by an entry; the entries themselves). `entries`: all of them (`full`), or
        those an edit build changed. `pages`: this build's (None: the last build's, in an edit build)."""
        self._flush()
        # What only the render needed (a key's number from its text, a page's signature): at 100 000 articles
        # some 100 MB, which the saving below needs more than the next render does (`number` makes them again).
        self._signatures, self._filed = {}, {}
        if self.kept_ids is None:  # (a preview keeps the maps for its next build: see save)
            self._owner_ids, self._field_ids = {}, {}
        if pages is not None:
            self.count = len(self._kept | self._rendered)
        if self.cache is None or not self.cache.move("fresh", "records", self._gone):
            self._broken = True  # the head saved will match no tree: the next build trusts no record
        self._keep_fragments()
        self._gone, self._kept, self._rendered = [], set(), set()
        if full and self.live_size and self._size() > _PRUNE_GROWTH * max(self.live_size, _PRUNE_FLOOR):
            # What no page reads any more (edited pages leave old keys behind) is dropped once it could be half.
            live = self._live_keys()
            self.groups = {k: m for k, m in self.groups.items() if k in live}
            self.digests = {k: d for k, d in self.digests.items() if k in live}
            self.owned = {s: a for s, keys in self.owned.items() if (a := array("Q", (k for k in keys if k in live)))}
            self._pruned = True
        if full:  # keys resolved by this build's check keep that value; keys first read now are resolved below
            self.digests = {k: self._now.get(k) or resolve(*self.key(k), view, templates) for k in self.digests}
            self.entries = {}
        else:  # the keys this build's check resolved again (an addition's: see `shifted`)
            self.digests.update((k, d) for k, d in self._now.items() if k in self.digests)
        for key in self._pending:
            if key not in self.digests:
                self.digests[key] = self._now.get(key) or resolve(*self.key(key), view, templates)
        if self._pruned or not self.live_size:  # (the first build: everything it has is read)
            self.live_size = self._size()
        # Every entry's digest, read or not: a page rendered later may start reading any of them. `dropped`: the
        # sources of articles deleted (a shift's build, which gives only the entries it made).
        for source in dropped:
            self.entries.pop(source, None)
        for e in entries:
            self.entries[e.article.source] = self.digest_of(e)

    def digest_of(self, entry: Entry) -> str:
        found = self._digest_of.get(entry.article.source)
        if found is None:
            found = self._digest_of[entry.article.source] = self._entry_digest(entry)
        return found

    def know(self, checked: Iterable[Checked]) -> None:
        """The digests of articles made when their files were validated (model.Checked.digest): an entry of one
        of these very articles is digested without pickling its article again."""
        for c in checked:
            if c.article is not None and c.digest:
                self._articles[id(c.article)] = (c.article, c.digest)

    def _entry_digest(self, entry: Entry) -> str:
        kept = self.kept_digests
        hit = kept.get(id(entry)) if kept is not None else None
        if hit is not None and hit[0] is entry:  # (an Entry is frozen: the same object, the same reads)
            return hit[1]
        known = self._articles.get(id(entry.article))
        found = entry_digest(entry, known[1] if known is not None and known[0] is entry.article else "", self._shared)
        if kept is not None:
            kept[id(entry)] = (entry, found)
        return found


def _always(record: Record) -> str:
    """Why the reverse index is to name this page among those every build outside a full one renders: opaque, or
    with page-local reads holding article positions (which a shift's build moves without reading records)."""
    return record.opaque or ("positions" if not POSITIONAL.isdisjoint(record.names) else "")


def _local_digests(names: Sequence[str], page: Page, ctx: Mapping[str, Any]) -> bytes:
    """The digests of a page's local reads `names` as they are now (as Record.values)."""
    return b"".join(bytes.fromhex(tracking.digest(tracking.fold(tracking.local_value(name, page, ctx))))
                    for name in names)


def _row_of(cache: Cache) -> Callable[[str], Any]:
    """A row of the `deps` table by name (None when there is none); raises cache.Damaged when it is unreadable."""
    def fetch(name: str) -> Any:
        got = cache.get_many("deps", [name])
        if name in got:
            return got[name]
        if cache.has_many("deps", [name]):
            raise Damaged(name)
        return None

    return fetch


def _array(data: bytes | array) -> array:
    return as_array("Q", data)


def _entry_read(entry: Entry, kind: str, field_: str) -> str:
    attr, _, op = field_.partition("|")
    obj: Any = entry if kind == "e" else entry.article
    value = tracking.read(obj, attr)
    if op:
        value = tracking.apply(value, op)
    return tracking.digest(tracking.fold(value))


def resolve(kind: str, owner: str, field_: str, view: SiteView, templates: Templates,
            lists: dict[str, Any] | None = None) -> str:
    """The digest of what reading the key (kind, owner, field) gives in this build (keys not owned by an entry).
    `lists`: where a check of many keys keeps the site-wide lists it found (an article's related list is read
    as a whole and by its length: two keys, one list), and the digest of each as a whole."""
    attr, _, op = field_.partition("|")
    value: Any
    if kind == "f":
        value = templates.asset(owner)
    elif kind == "l":
        try:
            known = lists.get(owner) if lists is not None else None
            found = known[0] if known is not None else site_list(view, owner)
            if op in ("", "all") and view.sources:  # what tracking.fold makes of them, without fetching them
                if known is not None and known[1]:
                    return known[1]
                whole = tracking.digest(
                    "(" + ",".join([tracking.identity(Entry.TRACK, view.sources[i]) for i in found]) + ")")
                if lists is not None:
                    lists[owner] = (found, whole)
                return whole
            if lists is not None and known is None:
                lists[owner] = (found, "")
            value = [_Ref(view.sources[i]) for i in found] if view.sources else [view.entries[i] for i in found]
        except (KeyError, IndexError, ValueError):
            value = tracking.MISSING
    else:
        if kind == "s":
            obj: Any = view
        elif kind == "g":
            obj = view.config
        elif kind == "c":
            obj = view.categories.get(owner, tracking.MISSING)
        elif kind == "t":
            obj = view.tags.get(owner, tracking.MISSING)
        elif kind == "m":
            obj = next((m for m in view.menu if m.slug == owner), tracking.MISSING)
        else:
            return "?"  # a kind this version does not know: never equal, so the page is rendered
        if kind == "s" and attr == "entries" and view.sources:
            value = [_Ref(source) for source in view.sources]  # (an edit or shift's build fetches entries lazily)
        else:
            value = tracking.read(obj, attr) if attr else obj
    if op:
        value = tracking.apply(value, op) if value is not tracking.MISSING else value
    return tracking.digest(tracking.fold(value))


class _Ref:
    """An entry as tracking.fold writes it, by its source, without the entry itself: a site-wide list's length,
    slice or item resolved without fetching its entries (a shift's build has them in the cache, not here)."""

    TRACK = Entry.TRACK
    __slots__ = ("track_id",)

    def __init__(self, source: str):
        self.track_id = source


def _bucket(key: int | str) -> int:
    """The row of a key's digest (a number) or of an entry's (its source), the same in every run."""
    return key % _DIGEST_ROWS if isinstance(key, int) else row_of(key, _DIGEST_ROWS)


_DIGESTS, _ENTRIES = Rows("digests", _DIGEST_ROWS, _bucket), Rows("entries", _DIGEST_ROWS, _bucket)


class _NothingKept:
    """The kept fragments' table when it holds none (see Deps.fragments): every answer is "not kept"."""

    @staticmethod
    def get(key: str) -> None:
        return None

    @staticmethod
    def get_many(keys: Iterable[str]) -> dict:
        return {}


_NOTHING_KEPT = _NothingKept()


def _rows_holding(table: Mapping[Any, Any], touched: set, loaded: int) -> set[int]:
    """The row numbers (_CHUNK keys to a row, in the table's order) of the `touched` keys, where the table's
    first `loaded` keys are those its rows held: a key added since sits after them, so new keys' rows are
    known from their places; a key the rows held already is found by walking the table."""
    if not touched:
        return set()
    keys = list(table)
    added = {k: loaded + i for i, k in enumerate(keys[loaded:])}
    if all(k in added for k in touched):
        return {added[k] // _CHUNK for k in touched}
    return {pos // _CHUNK for pos, k in enumerate(keys) if k in touched}
