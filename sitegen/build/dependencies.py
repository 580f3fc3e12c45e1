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

Nothing is listed by hand: a template that reads something new records something new.
"""

from __future__ import annotations

import zlib
from array import array
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from ..render import tracking
from .cache import Cache
from ..render.context import POSITIONAL, SiteView, page_context, page_signature, site_list
from ..render.templates import Entry, Templates, entry_digest
from ..structure.routes import Page

ENTRY_KINDS = ("e", "a")  # keys owned by an entry (its fields, its article's fields), by source file
GROUP = "G"  # the kind of a memoised fragment's key: a page that used it depends on it like on any key
_BUCKET = 256  # about this many records to a row of the `deps` table: a build rewrites only the rows it changed
_CHUNK = 4096  # key texts to a row (the table of keys only grows, a build writes only its new rows)


class Record(NamedTuple):
    """What one page's last render read. Keys are numbers in `Deps.keys` (what a page read is kept as a few
    hundred bytes, not as text: 15 000 pages read some 600 000 things at 10 000 articles). A tuple, stored with
    its keys as bytes: an edit build loads 15 000 of them, and tuples of bytes load four times faster."""

    template: str  # Templates.template_key of its template
    local: tuple[tuple[str, str], ...]  # page-local reads: (name, digest of the value)
    keys: array  # what it read of tracked objects, and the memoised fragments it used
    opaque: str = ""  # why it must always be rendered ("" when it need not)
    signature: str = ""  # context.page_signature when its page-local reads were last found equal ("": check them)


@dataclass(frozen=True)
class Read:
    """A page's or a fragment's reads as a render leaves them (key texts), before `Deps` numbers them."""

    template: str
    local: tuple[tuple[str, str], ...]
    keys: frozenset[str]
    opaque: str = ""

    @classmethod
    def of(cls, template: str, frame: tracking.Frame) -> "Read":
        return cls(template, tuple(sorted(frame.local.items())),
                   frozenset([*map(tracking.key_text, frame.keys), *(group_key(g) for g in frame.groups)]),
                   frame.opaque)


def group_key(name: str) -> str:
    return tracking.key_text((GROUP, name, ""))


@dataclass
class Deps:
    """The records of the last build, as the cache keeps them, and what this build changes of them."""

    keys: list[str] = field(default_factory=list)  # key texts by number; only grows (see `save`)
    records: dict[str, Record] = field(default_factory=dict)  # by output path
    groups: dict[int, array] = field(default_factory=dict)  # a fragment's key -> the keys it read
    digests: dict[int, str] = field(default_factory=dict)  # key -> digest, for keys not owned by an entry
    entries: dict[str, str] = field(default_factory=dict)  # source -> entry_digest of its entry
    fields: dict[str, array] = field(default_factory=dict)  # source -> its keys that something read
    buckets: int = 1  # records are kept in this many rows, by a hash of their path
    saved_keys: int = 0  # how many keys the table holds already
    live_count: int = 0  # how many keys were read by some page when a full build last counted them
    _ids: dict[str, int] = field(default_factory=dict, repr=False)
    _hint: dict[str, int] = field(default_factory=dict, repr=False)  # some key texts' numbers (see `update`)
    _live: set[int] = field(default_factory=set, repr=False)  # the keys `update` found read (for `save`)
    _touched: set[int] = field(default_factory=set, repr=False)  # buckets whose records this build changed
    _now: dict[int, str] = field(default_factory=dict, repr=False)  # keys resolved by this build's check
    _digest_of: dict[str, str] = field(default_factory=dict, repr=False)  # this build's entry digests
    _signatures: dict[str, str] = field(default_factory=dict, repr=False)  # this build's pages' (full builds)
    _dirty: set[str] = field(default_factory=set, repr=False)  # what `dirty` answered

    @classmethod
    def load(cls, cache: Cache, token: str) -> "Deps":
        """The records of the output tree `token` (write.output_token of the live tree). Records describe the
        pages of one tree: a build killed after publishing but before saving its records leaves the older
        build's, which must not decide what the newer tree keeps (nothing is trusted then)."""
        head = cache.get_many("deps", ["head"]).get("head")
        if not isinstance(head, tuple) or len(head) != 9 or not token or head[7] != token:
            return cls()
        buckets, chunks, groups, digests, entries, fields_, count, _, live = head
        rows = cache.get_many("deps", [*(f"keys:{n}" for n in range(chunks)), *(f"rec:{n}" for n in range(buckets))])
        if len(rows) != chunks + buckets:
            return cls()  # a damaged row: no record can be trusted, render everything
        keys: list[str] = []
        for n in range(chunks):
            keys += rows[f"keys:{n}"]
        if len(keys) != count:
            return cls()
        try:
            records: dict[str, Record] = {}
            for n in range(buckets):
                records.update((path, Record(t, local, _array(b), opaque, s)) for path, (t, local, b, opaque, s)
                               in rows[f"rec:{n}"].items())
            return cls(keys, records, {k: _array(b) for k, b in groups.items()}, digests, entries,
                       {s: _array(b) for s, b in fields_.items()}, buckets, count, live)
        except (TypeError, ValueError, AttributeError):
            return cls()  # rows of another shape (an older version's): nothing is trusted

    def save(self, cache: Cache, token: str) -> None:
        """Write, as the records of the output tree `token`, what changed: the new keys' rows, the rows of records this build changed, and the head. When
        most keys are no longer read by anyone (or the rows grew too full), everything is written anew."""
        # Counting the keys still read costs a walk of every record: it is done (and the table renumbered)
        # only when the table has doubled since the last count.
        wanted = max(1, len(self.records) // _BUCKET)
        if (self._live and len(self._live) * 2 < len(self.keys)) or self._crowded() \
                or not (self.buckets <= wanted * 2 and wanted <= self.buckets * 2):
            live = self._live or self._live_keys()
            self._renumber(live)
            self.live_count = len(live)
            self.buckets, self.saved_keys, self._touched = wanted, 0, set(range(wanted))
            cache.put_many("deps", {}, replace_all=True)
        first = self.saved_keys // _CHUNK
        rows: list[tuple[str, Any]] = [(f"keys:{n}", self.keys[n * _CHUNK:(n + 1) * _CHUNK])
                                       for n in range(first, -(-len(self.keys) // _CHUNK))]
        by_bucket: dict[int, dict[str, tuple]] = {n: {} for n in self._touched}
        for path, r in self.records.items():
            n = _bucket(path, self.buckets)
            if n in by_bucket:
                by_bucket[n][path] = (r.template, r.local, r.keys.tobytes(), r.opaque, r.signature)
        rows += [(f"rec:{n}", row) for n, row in by_bucket.items()]
        rows.append(("head", (self.buckets, -(-len(self.keys) // _CHUNK),
                              {k: a.tobytes() for k, a in self.groups.items()}, self.digests, self.entries,
                              {s: a.tobytes() for s, a in self.fields.items()}, len(self.keys), token,
                              self.live_count)))
        cache.put_many("deps", rows)
        self.saved_keys, self._touched = len(self.keys), set()

    def _crowded(self) -> bool:
        """True when the table may hold as many keys nobody reads as keys someone does."""
        return len(self.keys) > 2 * max(self.live_count, 1024)

    def _live_keys(self) -> set[int]:
        """The keys some page reads, directly or through the fragments it used (and those fragments' own)."""
        live: set[int] = set()
        for r in self.records.values():
            live.update(r.keys)
        todo = [k for k in live if k in self.groups]
        while todo:
            members = self.groups[todo.pop()]
            todo += [m for m in members if m in self.groups and m not in live]
            live.update(members)
        return live

    def _renumber(self, live: set[int]) -> None:
        """Drop the keys nobody reads any more (edited pages leave old ones behind) and number the rest anew."""
        order = sorted(live)
        new = {old: n for n, old in enumerate(order)}
        self.keys = [self.keys[k] for k in order]
        self._ids = {}

        def move(a: array) -> array:
            return array("I", (new[k] for k in a))

        self.records = {p: r._replace(keys=move(r.keys)) for p, r in self.records.items()}
        self.groups = {new[k]: move(m) for k, m in self.groups.items()}
        self.digests = {new[k]: d for k, d in self.digests.items() if k in new}
        self.fields = {s: move(array("I", (k for k in a if k in new))) for s, a in self.fields.items()}

    def id(self, text: str) -> int:
        found = self._hint.get(text)
        if found is not None:
            return found
        if not self._ids and self.keys:
            self._ids = {k: n for n, k in enumerate(self.keys)}
        found = self._ids.get(text)
        if found is None:
            found = self._ids[text] = len(self.keys)
            self.keys.append(text)
        return found

    def dirty(self, pages: Sequence[Page] | None, view: SiteView, templates: Templates,
              old_entry: Callable[[str], Entry | None], edited: Mapping[str, Entry] | None = None) -> set[str]:
        """The paths of `pages` (None: of the last build's pages) that must be rendered again. `old_entry(digest)`
        gives an entry as the last build had it (None when the cache no longer has it). `edited`: in an edit
        build, the only entries that can have changed (nothing else of the site moved, so neither other keys
        nor page-local reads are checked); None checks every entry and everything else."""
        changed = self._changed_keys(view, templates, old_entry, edited)
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
        if pages is None:  # an edit build: no template changed, no page moved, no page-local read changed
            return {path for path, r in self.records.items() if r.opaque or not changed.isdisjoint(r.keys)}
        out = set()
        sources = view.sources or [e.article.source for e in view.entries]
        signatures = self._signatures = {}
        for p in pages:
            r = self.records.get(p.path)
            signature = signatures[p.path] = page_signature(p, sources)
            if r is None or r.opaque or r.template != templates.template_key(p.template) \
                    or not changed.isdisjoint(r.keys):
                out.add(p.path)
            elif r.local and (signature != r.signature or not signature):
                ctx = page_context(p, view)
                if any(tracking.digest(tracking.fold(tracking.local_value(name, p, ctx))) != d for name, d in r.local):
                    out.add(p.path)
        self._dirty = out
        return out

    def _changed_keys(self, view: SiteView, templates: Templates, old_entry: Callable[[str], Entry | None],
                      edited: Mapping[str, Entry] | None) -> set[int]:
        changed: set[int] = set()
        current: Mapping[str, Entry]
        if edited is None:
            current = {e.article.source: e for e in view.entries}
            self._digest_of = {s: entry_digest(e) for s, e in current.items()}
            sources: Iterable[str] = [s for s, d in self.entries.items() if self._digest_of.get(s) != d]
            for key, d in self.digests.items():
                self._now[key] = now = resolve(self.keys[key], view, templates)
                if now != d:
                    changed.add(key)
        else:
            current, sources = edited, list(edited)
        for source in sources:
            keys = self.fields.get(source, ())
            if not keys:
                continue
            new = current.get(source)
            old_digest = self.entries.get(source)
            if new is not None and old_digest == self.digest_of(new):
                continue
            old = old_entry(old_digest) if old_digest else None
            for key in keys:
                kind, _, field_ = tracking.split_key(self.keys[key])
                if new is None or old is None or _entry_read(old, kind, field_) != _entry_read(new, kind, field_):
                    changed.add(key)
        return changed

    def update(self, rendered: Mapping[str, Read], groups: Mapping[str, Read], pages: Sequence[Page] | None,
               view: SiteView, templates: Templates, entries: Iterable[Entry], full: bool) -> None:
        """This build's records: the rendered pages' new ones, the others' as they were; then the digests of
        what they read as it is now (keys not owned by an entry; the entries themselves). `entries`: all of them
        (`full`), or those an edit build changed. `pages`: this build's pages (None: the last build's, unmoved)."""
        if pages is not None:
            present = {p.path for p in pages}
            for path in [path for path in self.records if path not in present]:
                del self.records[path]
                self._touched.add(_bucket(path, self.buckets))
        fresh: set[int] = set()
        if pages is None and not self._ids:
            # An edit build renders a few pages that mostly read what they read before: number their keys from
            # their old records instead of indexing all 300 000 key texts (a tenth of a second at 10 000 articles).
            hint = set()
            for path in rendered:
                if path in self.records:
                    hint.update(self.records[path].keys)
            todo = [k for k in hint if k in self.groups]
            while todo:
                members = self.groups[todo.pop()]
                todo += [m for m in members if m in self.groups and m not in hint]
                hint.update(members)
            self._hint = {self.keys[k]: k for k in hint}

        def number(read: Read) -> array:
            out = array("I", sorted(self.id(k) for k in read.keys))
            fresh.update(out)
            return out

        for path, read in rendered.items():
            old = self.records.get(path)
            signature = self._signatures.get(path, "") if pages is not None else old.signature if old else ""
            if any(name in POSITIONAL for name, _ in read.local):
                signature = ""  # its reads hold article positions: compared one by one in every full build
            self.records[path] = Record(read.template, read.local, number(read), read.opaque, signature)
            self._touched.add(_bucket(path, self.buckets))
        for path, signature in self._signatures.items():  # pages carried over: their reads were found equal
            r = self.records.get(path)
            if r is not None and path not in self._dirty and r.signature != signature and r.local \
                    and not any(name in POSITIONAL for name, _ in r.local):
                self.records[path] = Record(r.template, r.local, r.keys, r.opaque, signature)
                self._touched.add(_bucket(path, self.buckets))
        for name, read in groups.items():
            self.groups[self.id(group_key(name))] = number(read)
        if full and self._crowded():
            # Keys no page reads any more are dropped once they could be half the table (as `save` renumbers).
            live = self._live = self._live_keys()
            self.live_count = len(live)
            self.groups = {k: m for k, m in self.groups.items() if k in live}
            self.digests = {k: d for k, d in self.digests.items() if k in live}
            self.fields = {s: a for s, keys in self.fields.items()
                           if (a := array("I", (k for k in keys if k in live)))}
        if full:  # keys resolved by this build's check keep that value; keys first read now are resolved below
            self.digests = {k: self._now.get(k) or resolve(self.keys[k], view, templates) for k in self.digests}
            self.entries = {}
        self._classify(fresh - set(self.digests), view, templates)
        # Every entry's digest, read or not: a page rendered later may start reading any of them.
        for e in entries:
            self.entries[e.article.source] = self.digest_of(e)

    def _classify(self, keys: Iterable[int], view: SiteView, templates: Templates) -> None:
        """File keys first read by this build: an entry's under its source (compared field by field when the
        entry changes), any other with the digest of its value now."""
        for key in keys:
            kind, owner, _ = tracking.split_key(self.keys[key])
            if kind in ENTRY_KINDS:
                known = self.fields.get(owner)
                if known is None:
                    self.fields[owner] = array("I", [key])
                elif key not in known:
                    known.append(key)
            elif kind != GROUP:
                self.digests[key] = self._now.get(key) or resolve(self.keys[key], view, templates)

    def digest_of(self, entry: Entry) -> str:
        found = self._digest_of.get(entry.article.source)
        if found is None:
            found = self._digest_of[entry.article.source] = entry_digest(entry)
        return found


def _array(data: bytes) -> array:
    out = array("I")
    out.frombytes(data)
    return out


def _bucket(path: str, buckets: int) -> int:
    return zlib.crc32(path.encode("utf-8", "surrogatepass")) % buckets


def _entry_read(entry: Entry, kind: str, field_: str) -> str:
    attr, _, op = field_.partition("|")
    obj: Any = entry if kind == "e" else entry.article
    value = tracking.read(obj, attr)
    if op:
        value = tracking.apply(value, op)
    return tracking.digest(tracking.fold(value))


def resolve(key: str, view: SiteView, templates: Templates) -> str:
    """The digest of what reading `key` gives in this build (keys not owned by an entry)."""
    kind, owner, field_ = tracking.split_key(key)
    attr, _, op = field_.partition("|")
    value: Any
    if kind == "f":
        value = templates.asset(owner)
    elif kind == "l":
        try:
            value = [view.entries[i] for i in site_list(view, owner)]
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
        value = tracking.read(obj, attr) if attr else obj
    if op:
        value = tracking.apply(value, op) if value is not tracking.MISSING else value
    return tracking.digest(tracking.fold(value))
