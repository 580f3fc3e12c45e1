"""Edit builds: when all that changed since the last build is the text of a few published articles, and none of
them changed shape (model.shape: date, slug, category, tags, views, photos...), the last full build's plan still
holds. Only those articles are read, converted and link-checked again, and only the pages that show them are
rendered; every other file of the live tree is carried over as it is. A photo replaced under the same name is its
article's edit too (`_replaced`): its variants are made again, and so are the pages that read what changed of it.

A full build leaves a `Plan` (what the articles' shapes decided: the pages, which pages show which article, the
site-wide view, the link index) and every build leaves a `State` (file stamps, entry keys, diagnostics).
`prepare` decides. Any doubt answers None and the full build runs, so this only ever shortens a build whose
output would be byte-identical: the tests build both ways and compare every byte.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import posixpath
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Collection, Iterable, Iterator, Mapping, NamedTuple, Sequence

from ..content import discovery, model, read
from . import hold
from .cache import Cache, ReadHere, Reader, Rows
from ..config import SiteConfig
from ..render.context import Home, MenuItem
from ..diagnostics import Diagnostic, ERROR, Reporter
from .inputs import Scan
from ..structure.links import Going, Index, copy_stem
from ..render.templates import Entry
from ..structure import photos, routes
from ..structure.routes import Page

# More changed files than this and the full build, which reads and converts in parallel, is as quick.
MAX_CHANGES = 100
# Articles' Shapes are kept in these rows of the `plan` table, each article's by its source (`_bucket`): a shift
# writes the rows of the articles that came or went, not every Shape of the site (3.7 MB at 10 000).
SHAPES = Rows("shapes", 64)


@dataclass(frozen=True)
class Plan:
    """What the last full build's articles decided, valid while no article changes shape. Kept in the `plan`
    table as separate rows (`rows`), each pickled on its own: one pickle of it all needed 150 MB more at
    100 000 articles, and an edit build reads only the rows it uses."""

    id: str
    outside: str  # inputs.Scan.outside it was made with: templates, assets, code, configuration, flags
    names: str  # inputs.Scan.names: which files existed
    until: dt.datetime | None  # Site.next_change: when time alone changes what is published
    pages: int  # how many; the pages themselves are rows "pages:<group>" (see `rows`, `pages_at`)
    menu: tuple[MenuItem, ...]
    categories: dict[str, model.Category]
    tags: dict[str, model.Tag]
    most_read: tuple[int, ...]
    related: str  # the key of the related lists (stages._Related keeps them)
    home: Home
    link_base: str  # the link index's key; the index (links.Index, article i's file and source) is row "index"
    discovered: int = -1  # how many article files the build found (discovery.discover), published or not
    later: tuple[str, ...] = ()  # the sources of those it did not publish (drafts: see Shift)
    # Whether a published article expires (a deletion beside one is a full build's, see Shift). True in a plan
    # from before it was written down: not known.
    expiring: bool = True
    # SiteConfig.shown_key it was made with: the options only templates read. A change is the full build's (which
    # checks every page's recorded reads), every cache kept: inputs.Scan.outside and the cache's salt leave them out.
    shown_key: str = ""

    def rows(self, index: bytes, pages: Sequence[Page], titles: "Mapping[str, int] | Titles", shapes: Sequence["Shape"],
             spellings: "Spellings", groups: Sequence[str] | None = None,
             only: "Changed | None" = None, shape_rows: Mapping[int, dict[str, "Shape"]] | None = None
             ) -> Iterator[tuple[str, Any]]:
        """The `plan` table's rows; `index` is `pack(links.Index)`, `titles` how many published articles have
        each headline (model.title_key; a shift's `Titles`, whose changed rows alone are written): a retitled
        article that joins or leaves a shared headline changes another article's warnings (META006), which only a
        full build reports. `shapes`: each published article's Shape, in site order; `spellings`: how every file
        names tags and categories (see Shift).

        Pages are kept by group (`group_of`: a listing's pages together, an article's with a few dozen others'),
        naming articles by source (`_renamed`): an addition leaves the rows of every group it does not touch as
        they were. `groups`: each page's, when known; `only`: the shape rows and page groups that changed (a
        shift's, see `write_shifted`), every row if None; `shape_rows`: those shape rows, when known."""
        shapes = tuple(shapes)
        sources = [a.source for a in shapes]
        groups = list(groups) if groups is not None else [group_of(p, sources) for p in pages]
        yield "head", self
        yield "index", index
        yield from (titles.rows() if isinstance(titles, Titles) else Titles.every_row(titles)).items()
        yield "spellings", spellings
        buckets = shape_rows if shape_rows is not None else SHAPES.split((a.source, a) for a in shapes)
        for b in range(SHAPES.count):
            if only is None or b in only.shapes:
                yield SHAPES.name(b), buckets.get(b) or {}
        yield "paths", "\0".join(p.path for p in pages)  # where each page is, and in which group (`pages_at`)
        yield "groups", "\0".join(groups)
        grouped: dict[str, list[int]] = {}
        for n, g in enumerate(groups):
            if only is None or g in only.pages:
                grouped.setdefault(g, []).append(n)
        for g, members in grouped.items():  # (renamed a group at a time: 155 000 page copies at 100 000 articles)
            yield "pages:" + g, tuple(_renamed(pages[n], sources) for n in members)

    def write_shifted(self, cache: Cache, index: bytes, pages: Sequence[Page], titles: "Titles",
                      shapes: Sequence["Shape"], spellings: "Spellings", dirty: Collection[str],
                      came: Sequence["Shape"], went: Iterable[str], before: Mapping[str, str]) -> None:
        """Write this plan, a shift's (see `rows`), over the last one: only the rows of what changed (`Changed`:
        `dirty`, the pages rendered anew, the articles that `came` (their Shapes) and the sources of those that
        `went`), and drop the page groups left empty. `before`: the last plan's groups (groups_at)."""
        sources = [a.source for a in shapes]
        # (A page that stays keeps its group, see group_of: only the new pages' are worked out, not 15 000 pages'.)
        groups = [g if (g := before.get(p.path)) is not None else group_of(p, sources) for p in pages]
        arrived, went = {a.source for a in came}, set(went)
        changed = Changed.of(pages, groups, before, dirty, arrived, went)
        rows = self.rows(index, pages, titles, shapes, spellings, groups, changed,
                         _shape_rows(cache, changed.shapes, came, arrived | went))
        cache.put_many("plan", rows)
        cache.delete("plan", ["pages:" + g for g in changed.pages - set(groups)])


@dataclass(frozen=True)
class Changed:
    """The plan rows a shift writes anew (see Plan.rows): the shape rows holding an article that came or went, and
    the page groups holding a page that came, went or changed."""

    shapes: frozenset[int]
    pages: frozenset[str]

    @classmethod
    def of(cls, pages: Sequence[Page], groups: Sequence[str], before: Mapping[str, str], dirty: Collection[str],
           came: Iterable[str], went: Iterable[str]) -> "Changed":
        """A shift's: `pages` now and their `groups`, `before` the last plan's (groups_at), `dirty` the pages
        rendered anew (every page whose variables changed is: see Deps.shifted), `came` and `went` the sources
        of the articles added and deleted. A page that goes, or moves to another group (an article deleted and
        another added at its address), changes its old group too."""
        now = dict(zip((p.path for p in pages), groups))
        touched = {now[path] for path in now.keys() - before.keys()}
        touched.update(before[path] for path in before.keys() - now.keys())
        touched.update(g for path in dirty for g in (now.get(path), before.get(path)) if g is not None)
        return cls(frozenset(map(_bucket, (*came, *went))), frozenset(touched))


def _shape_rows(cache: Cache, rows: Collection[int], came: Sequence["Shape"], moved: Collection[str]
                ) -> dict[int, dict[str, "Shape"]] | None:
    """The shape rows `rows` (see Plan.rows) once the articles `came` (their Shapes) are in and those `moved`
    (by source: those that came or went) out, edited from the rows the cache holds: not every Shape of the site
    sorted into its row again (some 20 ms at 10 000 articles). None when one is not in the cache."""
    kept = SHAPES.read(cache.get_many("plan", SHAPES.names(rows)), rows)
    if kept is None:
        return None
    return {**kept, **SHAPES.edited(kept, {a.source: a for a in came}, moved)}


def write_shapes(cache: Cache, shapes: Sequence["Shape"]) -> None:
    """Write the Shapes of the articles an edit build changed over the plan's: an edit keeps an article's places,
    but not its body's markup key and whether it has links (which a later shift asks, to find the bodies that may
    link to what goes: stages._links_into), its photo, its `updated` time or its line numbers. A row that cannot be
    read is dropped, so that the next shift finds no Shapes and leaves it to the full build."""
    moved = {a.source for a in shapes}
    buckets = {_bucket(source) for source in moved}
    rows = _shape_rows(cache, buckets, shapes, moved)
    if rows is None:
        cache.delete("plan", SHAPES.names(buckets))
    else:
        cache.put_many("plan", SHAPES.named(rows))


TITLES = Rows("titles", 64)  # the rows of the plan's headline counts (`Titles`), each headline's by its key


class Titles:
    """How many published articles have each headline (model.title_key): a headline two articles share is a
    warning of each (META006), which only a full build reports, so a shift or an edit asks whether an article's
    headline is its own. Kept in the plan's TITLES rows by headline: a shift reads and writes the rows of the
    few headlines it asks about, not one row of every headline of the site (0.87 MB at 10 000 articles, read and
    written whole by every shift before). A row the cache does not have raises `Unknown` (see `prepare`)."""

    class Unknown(LookupError):
        """A row of the headline counts is not in the cache (a plan of an older sitegen): the full build's."""

    def __init__(self, cache: Cache):
        self._cache = cache
        self._rows: dict[int, dict[str, int]] = {}
        self._changed: set[int] = set()

    def _row(self, key: str) -> dict[str, int]:
        b = TITLES.of(key)
        row = self._rows.get(b)
        if row is None:
            found = self._cache.get_many("plan", [TITLES.name(b)]).get(TITLES.name(b))
            if not isinstance(found, dict):
                raise Titles.Unknown(key)
            row = self._rows[b] = dict(found)
        return row

    def get(self, key: str) -> int:
        return self._row(key).get(key, 0)

    def pop(self, key: str) -> None:
        self._row(key).pop(key, None)
        self._changed.add(TITLES.of(key))

    def __setitem__(self, key: str, count: int) -> None:
        self._row(key)[key] = count
        self._changed.add(TITLES.of(key))

    def rows(self) -> dict[str, dict[str, int]]:
        """The rows changed, to write over the plan's."""
        return TITLES.named({b: self._rows[b] for b in sorted(self._changed)})

    @staticmethod
    def every_row(counts: Mapping[str, int]) -> dict[str, dict[str, int]]:
        """Every row of these counts (a full build's plan)."""
        return TITLES.named(TITLES.split(counts.items()))


def _bucket(source: str) -> int:
    """The shape row of an article, by its source."""
    return SHAPES.of(source)


def group_of(page: Page, sources: Sequence[str]) -> str:
    """The plan row a page is kept in: its listing's (routes.listing_of), else its article's shape row, else its
    own (a page made from the whole site). What decides it stays while the page does: a page that stays keeps its
    group."""
    listing = routes.listing_of(page)
    if listing is not None:
        return "l:" + "\x1f".join(map(str, listing))
    if "index" in page.data:
        return f"a:{_bucket(sources[page.data['index']])}"
    return "s:" + page.path


def _renamed(page: Page, name: Any) -> Page:
    """The page with the articles it names (its own, its listing's) named anew, each as `name[it]`: by source from
    positions (`name` the site order's sources) as the plan keeps pages (positions move with every article
    added before them), or back to positions from sources (`name`: source -> position)."""
    data = page.data
    if "index" not in data and "items" not in data and "pagination" not in data:
        return page
    data = dict(data)
    if "index" in data:
        data["index"] = name[data["index"]]
    if "items" in data:
        data["items"] = tuple(name[i] for i in data["items"])
    if "pagination" in data:
        data["pagination"] = replace(data["pagination"], items=tuple(name[i] for i in data["pagination"].items))
    return replace(page, data=data)


def shapes_of(cache: Cache) -> tuple["Shape", ...] | None:
    """Every published article's Shape, in site order (newest first, as model.assemble orders articles), from
    the plan's shape rows; None when one is missing."""
    rows = SHAPES.read(cache.get_many("plan", SHAPES.names()))
    if rows is None:
        return None
    return tuple(sorted((a for row in rows.values() for a in row.values()), key=lambda a: (a.date, a.source),
                        reverse=True))


@dataclass(frozen=True)
class Spellings:
    """How every file writes each tag and each category it makes (model.tag_spellings, model.category_spellings):
    the first spelling is the name; a file that comes or goes changes a name only when it takes the last of the
    first spelling away, or writes another one (whether it is found first depends on discovery order)."""

    tags: dict[str, dict[str, int]]
    categories: dict[str, dict[str, int]]

    def copy(self) -> "Spellings":
        return Spellings({k: dict(v) for k, v in self.tags.items()}, {k: dict(v) for k, v in self.categories.items()})

    def count(self, checked: model.Checked, by: int) -> bool:
        """Count one file's tags and the category it makes in (`by` 1) or out (-1) (`spell`). False when that
        changes a name: the counts are then half made, and the caller leaves them (and the incremental build)."""
        made = checked.new_category
        return all(spell(self.tags, slug, name, by) for slug, name in checked.tag_names) \
            and (made is None or spell(self.categories, made[1], made[0], by))


def spell(table: dict[str, dict[str, int]], slug: str, name: str, by: int) -> bool:
    """Count a file writing `name` for `slug` in (`by` 1) or out (-1); False when that changes what the slug is
    named, or (out) whether anything names it (a category made by articles then leaves the menu)."""
    names = table.setdefault(slug, {})
    first = next(iter(names), None)
    if by > 0:
        names[name] = names.get(name, 0) + 1
        return first is None or first == name
    names[name] = names.get(name, 0) - 1
    if names[name] > 0:
        return True
    del names[name]
    if not names:
        del table[slug]
    return name != first or not names


class Shape(NamedTuple):
    """What the site's own pages are made from, of one published article: its address, listings, sitemap entry,
    related articles, place in the most-read block and on the home page (routes.plan, model.related,
    model.most_read and context.home_of read these of an article, by these names), and its link check's key. A
    shift's build (see `Shift`) runs those same functions over every article's Shape, not over articles it
    would have to read back: at 10 000 articles a tuple of these unpickles in a hundredth of the time."""

    source: str
    file: str
    bundle: bool
    slug: str
    date: dt.datetime
    updated: dt.datetime | None
    category: str
    tags: tuple[str, ...]
    template: str
    aliases: tuple[str, ...]
    views: int
    slug_line: int
    aliases_line: int
    featured: bool
    pictured: bool  # its entry has a photo (Entry.image)
    markup: str  # its body's markup key (bodies.markup_job)
    links: bool  # its body has links (BodyInfo.links): its link check's key names the link index's


def shape_of(a: model.Article, pictured: bool, markup: str, links: bool) -> Shape:
    return Shape(a.source, a.file, a.bundle, a.slug, a.date, a.updated, a.category, a.tags, a.template, a.aliases,
                 a.views, a.slug_line, a.aliases_line, a.featured, pictured, markup, links)


@dataclass(frozen=True)
class State:
    """What every build leaves for the next edit build: strings, not collections of 100 000s of objects."""

    plan: str  # the id of the Plan it goes with
    token: str  # the output tree it published
    files: str  # inputs.Scan.settled(): the stamp line of every file under content/
    entries: str  # article i's render.entry_digest, NUL-separated; the `entries` table holds (Entry, photo infos) by it
    diagnostics: tuple[Diagnostic, ...]
    at: dt.datetime  # the build's `now`: what is published was decided for moments from here to Plan.until
    counted: int = -1  # how many files the walk found under content/ (`files` leaves out those it cannot trust)


@dataclass(frozen=True)
class Change:
    """One published article whose file changed and kept its shape, or a photo of its own was replaced."""

    index: int
    doc: str  # its key in the `docs` table
    stamp: read.Stamp
    bundle: bool
    before: model.Checked
    after: model.Checked
    photos: bool = False  # a photo file of its own was replaced (same name): its variants are made again


@dataclass(frozen=True)
class Edit:
    plan: Plan
    state: State
    index: Index
    changes: tuple[Change, ...]
    moment: dt.datetime  # this build's `now`
    # The plan's `titles` once the retitled articles have their new headlines (None: none was retitled), written
    # with what the edit build remembers: a later shift asks them whether an article's headline is its own.
    titles: "Titles | None" = None
    drafts: "Drafts | None" = None  # drafts (or scheduled articles) saved and still unpublished, beside `changes`


def last_state(cache: Cache) -> "State | None":
    """The State the last build left."""
    return cache.get_many("meta", ["state"]).get("state")


def plan_head(cache: Cache) -> "Plan | None":
    return cache.get_many("plan", ["head"]).get("head")


def linked(cache: Cache) -> tuple[str, Index] | None:
    """The plan's link index (row "index"), unpickled, with the id of the plan it goes with; None when missing."""
    rows = cache.get_many("plan", ["head", "index"])
    plan, packed = rows.get("head"), rows.get("index")
    if not isinstance(plan, Plan) or not isinstance(packed, bytes):
        return None
    try:
        return plan.id, pickle.loads(packed)
    except Exception:
        return None


def prepare(cache: Cache, scanned: Scan, token: str, moment: dt.datetime, config: SiteConfig,
            strict: bool, unpacked: dict | None = None, listing: dict | None = None,
            ahead: Any = ReadHere(), shown: bool = False) -> "Edit | Shift | None":
    """The edit (or shift: articles added or deleted) this build is, or None when it must be a full build (see
    `_prepare`)."""
    try:
        return _prepare(cache, scanned, token, moment, config, strict, unpacked, listing, ahead, shown)
    except Titles.Unknown:
        return None  # (a plan that does not keep its headline counts as this sitegen does)


def _prepare(cache: Cache, scanned: Scan, token: str, moment: dt.datetime, config: SiteConfig,
             strict: bool, unpacked: dict | None = None, listing: dict | None = None,
             ahead: Any = ReadHere(), shown: bool = False) -> "Edit | Shift | None":
    """The edit (or shift: articles added or deleted) this build is, or None when it must be a full build.
    `shown`: a build that publishes drafts (the preview's), where a draft is an article like any, and what
    build.unpublished finds of the unpublished files (as a publishing build finds them) is not this build's: a
    change among those files, or beside one it holds back, is the full build's.
    `unpacked`: where a long-running preview keeps the plan's link index unpickled between its saves (a tenth of a
    save at 10 000 articles). `listing`: what the walk saw of content/ (inputs.scan), to find which new files are
    articles. `ahead`: what was read of the cache meanwhile (cache.ReadAhead)."""
    state, plan = ahead.take(last_state, cache), ahead.take(plan_head, cache)
    if not isinstance(plan, Plan) or not isinstance(state, State) or state.plan != plan.id:
        return None
    if not scanned.outside or scanned.outside != plan.outside or plan.shown_key != config.shown_key:
        return None  # a template, asset, setting or code changed
    if not token or token != state.token or moment < state.at:
        return None  # the output is not that build's (or the clock went back)
    if unpacked is not None and unpacked.get("plan") == plan.id:
        index = unpacked["index"]  # (an edit build never changes it: only a full build makes a new plan)
    else:
        found = ahead.take(linked, cache)
        if found is None or found[0] != plan.id:
            return None
        index = found[1]
        if unpacked is not None:
            unpacked.update(plan=plan.id, index=index)
    known = set(state.files.split("\n"))
    if scanned.names != plan.names or (plan.until is not None and moment >= plan.until):
        # A file came or went, or a scheduled article falls due (the time alone changes what is published).
        return _shift(cache, plan, state, index, known, scanned, listing, moment, config, strict, shown)
    changed = [path for path, line in scanned.files.items() if line not in known]
    if len(changed) > MAX_CHANGES:
        return None
    position = {file: i for i, file in enumerate(index.files_of_articles)} if changed else {}
    unpublished = [path for path in changed if path not in position]
    drafts, held = None, held_drafts(state)
    replaced = _replaced(index, position, unpublished) if unpublished else {}
    if replaced:
        # A photo whose variants would not keep their addresses (one of other widths, or one that no longer
        # decodes) is no edit's: its article is placed anew by a shift (see _shift), which plans them anew.
        rows = cache.get_many("docs", [index.refs[i][0] for i in set(replaced.values())])
        keeping = {i for i in set(replaced.values()) if (row := rows.get(index.refs[i][0])) is not None
                   and row[2].article is not None and _keeps_variants(index, i, row[2].article, config)}
        replaced = {path: i for path, i in replaced.items() if i in keeping}
    if replaced:
        unpublished = [path for path in unpublished if path not in replaced]
        changed = [path for path in changed if path not in replaced]
        if plan.later or held:  # (a draft may show the photo, or lack it: found again, `Drafts`)
            drafts = unpublished_files(cache, plan.later, held, scanned, {}, config, strict,
                                       plan.expiring) if not shown else None
            if drafts is None:
                return None
    if unpublished and shown:  # (a photo's file changed, say: its article placed anew, if it may)
        return _shift(cache, plan, state, index, known, scanned, listing, moment, config, strict, shown)
    if unpublished:
        sources = set(plan.later) | held
        theirs = _theirs([path for path in unpublished if _source(path, config) not in sources], sources, index,
                         config)
        if theirs is None or not all(_source(path, config) in sources or path in theirs for path in unpublished):
            # A photo or other file under content/ changed: photos decide more than one page. One in a published
            # article's folder places it anew, if it may (see _shift).
            return _shift(cache, plan, state, index, known, scanned, listing, moment, config, strict, shown)
        # Drafts or scheduled articles changed (or a photo of theirs). Saved and still unpublished, they change only
        # what the build finds of them (`_redrafted`); a draft published now is an addition, a shift's build (see
        # _shift).
        saved = {path for path in unpublished if path not in theirs} | set(_saved(theirs, config).values())
        drafts = _redrafted(cache, plan, state, len(index.refs), scanned, sorted(saved), config, strict)
        if drafts is None:
            if len(unpublished) == len(changed) and not replaced and not theirs \
                    and all(_source(path, config) in sources for path in changed):
                return _shift(cache, plan, state, index, known, scanned, listing, moment, config, strict, shown)
            return None
        changed = [path for path in changed if path in position]
    pictured = set(replaced.values())
    unsaved = [i for i in sorted(pictured) if index.refs[i][1] not in changed]  # (photos replaced, text as it was)
    docs = cache.get_many("docs", [index.refs[i][0] for i in (*(position[path] for path in changed), *unsaved)])
    changes = []
    for path in changed:
        i = position[path]
        key, _, bundle = index.refs[i]
        local = Reporter(strict=strict)
        doc = read.load_one(Path(path), key, bundle, config.max_file_bytes, local)
        before = docs.get(key)
        if doc is None or before is None or local.diagnostics:
            return None
        after = model.check(doc, config, strict)
        if after.article is None or any(d.severity == ERROR for d in after.diagnostics):
            return None  # the full build reports it
        if model.shape(after) != model.shape(before[2]):
            # It moves (another date, category, tags, address or photos): placed anew, as a shift's build
            # places an article added, if it may (see _shift).
            return _shift(cache, plan, state, index, known, scanned, listing, moment, config, strict, shown)
        changes.append(Change(i, key, Scan.stamp(scanned.files[path]), bundle, before[2], after, i in pictured))
    for i in unsaved:
        key, file, bundle = index.refs[i]
        before = docs.get(key)
        if before is None or file not in scanned.files:
            return None
        changes.append(Change(i, key, before[0], bundle, before[2], before[2], photos=True))
    retitled = [(model.title_key(c.before.article.title), model.title_key(c.after.article.title)) for c in changes
                if c.before.article is not None and c.before.article.title != c.after.article.title]
    titles = None
    if retitled:
        titles = Titles(cache)
        if len({new for _, new in retitled}) < len(retitled) \
                or any(old != new and (titles.get(new) or titles.get(old) > 1) for old, new in retitled):
            return None  # a headline now shared, or no longer shared: another article's META006 changes
        for old, new in retitled:
            if old != new:
                titles.pop(old)
                titles[new] = 1
    return Edit(plan, state, index, tuple(changes), moment, titles, drafts)


def _replaced(index: Index, position: Mapping[str, int], paths: Sequence[str]) -> dict[str, int]:
    """Of the changed files `paths` that are no article's, the photo files replaced in place (the same name: an
    editor uploading a better shot over the first), each with the article it is of (by position), when that
    article publishes it alone, from its own folder (`own_photos`): its variants keep their addresses as long as they
    keep their sizes (stages.edited makes them again, and makes sure), so the link index stands, and what the
    photo changes (its variants, the pages showing it) is that article's edit. Any other file is not taken."""
    candidates = [path for path in paths if not path.endswith(".md") and index.key(path) in index.files]
    if not candidates:
        return {}
    by_folder = {os.path.dirname(file): i for file, i in position.items() if index.refs[i][2]}  # (bundles alone)
    found = {}
    for path in candidates:
        i = by_folder.get(os.path.dirname(path))
        mine = own_photos(index, i) if i is not None else None
        if mine is not None and index.key(path) in mine[0]:
            found[path] = i
    return found


def _keeps_variants(index: Index, i: int, article: model.Article, config: SiteConfig) -> bool:
    """Whether article `i` (as `article` now shows its photos) would publish its photos at the addresses the link
    index lists for it: planned as a full build plans them (photos.plan reads their headers), the variants of
    each of its own photo files (`own_photos`) are those it had. Each photo's file is hashed, not decoded."""
    url = index.article_url.get(i)
    if url is None:
        return False
    made = photos.plan((article,), [url], config, Reporter())
    return keeps_variants(index, i, [(file, out, endings) for file, out, _, endings in made.published])


def keeps_variants(index: Index, i: int, published: Iterable[tuple[Path, str, tuple[str, ...]]]) -> bool:
    """Whether the photos article `i` publishes now (photo file, output path of its largest JPEG, the endings of its
    variants: photos.PhotoPlan.published) are what the link index says it published: the same files, each at the
    same address with the same variants. (What decides that a replaced photo is its article's edit.)"""
    own = own_photos(index, i)
    if own is None:
        return False
    now = {(index.key(file), out, endings) for file, out, endings in published}
    return now == {(key, index.files[key], index.copies[copy_stem(index.files[key])]) for key in own[0]}


def _replacing(paths: Sequence[str], position: Mapping[str, int], deleted: Collection[str], index: Index,
               config: SiteConfig) -> tuple[dict[str, int], set[str]] | None:
    """Of `paths` (files under content/ as walked, that came, went or changed), the published articles they place
    anew: an article whose own file changed (it may move), and a bundle in whose folder (or a folder under it) a
    file that is no article's came, went or changed, when the article publishes every photo of that folder alone
    (`own_photos`): its photos are then planned again, and the pages showing them rendered again, as those of an
    article added (stages.shifted). ({article file: its position}, the other paths that are theirs), or None when
    such a file is one another article publishes (the full build's). A file that is an article's (drafts, new
    articles), or in no published bundle's folder, or in a folder whose article is `deleted` (by file), is left to
    the rest of `_shift`."""
    placed: dict[str, int] = {}
    theirs: set[str] = set()
    folders: dict[str, str] = {}
    mine: dict[int, tuple[list[str], list[str]] | None] = {}  # (own_photos looks at every photo of the site: once)
    root = str(config.content_dir)
    for path in paths:
        if path in position:
            placed[path] = position[path]
            continue
        if path.endswith(".md"):
            continue  # (a draft's or a new article's file: the rest of `_shift` decides)
        if not folders:  # (made for a file that is no article's: an addition or deletion alone never needs it)
            folders = {os.path.dirname(file): file for _, file, bundle in index.refs if bundle}
        folder = os.path.dirname(path)
        while folder not in folders and len(folder) > len(root):
            folder = os.path.dirname(folder)
        file = folders.get(folder)
        if file is None or file in deleted:
            continue  # (no published article's, or going with its article: see `stray`)
        i = position[file]
        own = mine[i] if i in mine else mine.setdefault(i, own_photos(index, i))
        key = index.key(path)
        if own is None or (key in index.files and key not in own[0]):
            return None  # a photo it shows that another article publishes too, or its file another's copy
        placed[file] = i
        theirs.add(path)
    return placed, theirs


def _theirs(paths: Iterable[str], unpublished: Collection[str], index: Index, config: SiteConfig
            ) -> dict[str, str] | None:
    """Of `paths` (files under content/ as walked, none an article's), those in the folder of an unpublished file
    (by source: a draft or scheduled article the plan counts, a draft held back, a new draft) that is its bundle's
    `index.md`, each with that file's source: its photos, which change what the build finds of it alone (its
    validation ahead: build.unpublished). None when one is a file a published article publishes (Index.files)."""
    found = {}
    for path in paths:
        rel = _source(path, config)
        owner = posixpath.join(posixpath.dirname(rel), "index.md")
        if rel and not rel.endswith(".md") and owner in unpublished:
            if index.key(path) in index.files:
                return None
            found[path] = owner
    return found


def _saved(theirs: Mapping[str, str], config: SiteConfig) -> dict[str, str]:
    """The unpublished files whose photos came, went or changed (`_theirs`), as `unpublished_files` takes the files
    saved (source -> path as walked): read again."""
    prefix = str(config.root) + os.sep
    return {source: prefix + source.replace("/", os.sep) for source in theirs.values()}


def held_drafts(state: State) -> set[str]:
    """The drafts the last build held back for their problems (hold.DRAFT: each has its one line, HOLD002). They
    are in no list of the plan's (`Plan.later` names the unpublished files it kept) and have no `docs` row."""
    return {d.path for d in state.diagnostics if d.code == "HOLD002"}


@dataclass(frozen=True)
class Unpublished:
    """A draft or scheduled article file, as a build that finds what it says of the unpublished files again knows
    it (see `Drafts`, build.unpublished)."""

    source: str
    stamp: read.Stamp
    bundle: bool
    checked: model.Checked
    before: model.Checked | None  # as the last build read it; None when it was held back (no `docs` row then)
    held: bool  # the last build did not count it: it held it back (a draft with problems, HOLD002), or it is new
    fresh: bool  # read and validated again by this build (saved, held back, or a photo it shows went)
    reading: tuple[Diagnostic, ...] = ()  # what reading its file found (a full build's reading stage: hold.Holding)


@dataclass(frozen=True)
class Drafts:
    """Drafts saved and still drafts, scheduled articles saved and due when they were: what changes is only what
    the build finds of the unpublished files (their own problems and their validation ahead: build.unpublished
    makes those again, as the full build makes them), and which of them the plan counts (`Plan.later`: those not
    held back). Every unpublished file of the site, by source."""

    files: tuple[Unpublished, ...]
    # The drafts held back whose file cannot be read or split (no front matter to validate), by source, with what
    # reading found: held back again, as the full build holds one (hold.Holding: when a line of it says `draft:
    # true`), they name nothing and want no address. An editor's unclosed quote in a draft leaves additions shifts.
    unreadable: tuple[tuple[str, tuple[Diagnostic, ...]], ...] = ()

    @property
    def sources(self) -> set[str]:
        """Every unpublished file's source, readable or not."""
        return {u.source for u in self.files} | {source for source, _ in self.unreadable}


def _redrafted(cache: Cache, plan: Plan, state: State, published: int, scanned: Scan, paths: Sequence[str],
               config: SiteConfig, strict: bool) -> Drafts | None:
    """The Drafts change when the unpublished files `paths` (as walked: every one a draft or scheduled article the
    last build knew) were drafts and are still drafts, or scheduled articles still scheduled for the same time,
    else None (see `unpublished_files`)."""
    held = held_drafts(state)
    if plan.discovered != published + len(plan.later) + len(held):
        return None
    return unpublished_files(cache, plan.later, held, scanned, {_source(path, config): path for path in paths},
                             config, strict, plan.expiring)


def unpublished_files(cache: Cache, later: Sequence[str], held: Collection[str], scanned: Scan,
                      saved: Mapping[str, str], config: SiteConfig, strict: bool, expiring: bool) -> Drafts | None:
    """Every unpublished file (`later`, the plan's, and the drafts `held` back or new: files without a `docs` row,
    whose tags the plan's `spellings` do not count), as a Drafts change whose files
    `saved` (source -> path as walked) were drafts and are still drafts, or scheduled articles still scheduled for
    the same time; None when not. Not in a --strict build (which validates no draft ahead), nor on a site where an
    article expires (build.unpublished asks no more of build.ahead than a site of drafts and scheduled articles
    that stay needs), nor when a file the last build counted can no longer be read or split (it leaves the counts:
    the full build's). The files saved, the drafts held back and those whose validation no longer holds
    (model.reusable: a photo it shows went) are read again; the others are as the last build read them. A draft
    held back that still cannot be read is one of `Drafts.unreadable`."""
    if strict or expiring or "" in saved or any(unicodedata.normalize("NFC", s) != s for s in saved):
        return None
    rows = cache.get_many("docs", list(later))
    prefix = str(config.root) + os.sep
    top = str(config.content_dir)
    files, unreadable = [], []
    for source in sorted({*later, *held}):
        path = prefix + source.replace("/", os.sep)
        row = rows.get(source)
        before = row[2] if row is not None else None
        if source not in held and (before is None or before.article is None):
            return None  # (the plan counts only files without problems of their own)
        again = source in saved or source in held or not model.reusable(before, strict)  # (a photo it shows went)
        if again:
            line = scanned.files.get(path)
            if line is None:
                return None
            bundle = os.path.basename(path) == "index.md" and os.path.dirname(path) != top
            local = Reporter(strict=strict)
            doc = read.load_one(Path(path), source, bundle, config.max_file_bytes, local)
            if doc is None:
                if source not in held or not local.diagnostics:
                    return None  # (a file counted before that cannot be read now: it leaves the counts)
                unreadable.append((source, tuple(local.diagnostics)))
                continue
            checked = model.check(doc, config, strict)
            stamp = Scan.stamp(line)
        else:
            stamp, bundle, checked = row[0], row[1], before
        a, was = checked.article, before.article if before is not None else None
        if source in saved and (a is not None and not a.draft) != (was is not None and not was.draft):
            return None  # a draft published now (an addition: _shift) or scheduled, or a scheduled one a draft now
        if source in saved and was is not None and not was.draft and (a is None or a.date != was.date):
            return None  # a scheduled article moved (when the next one falls due: Plan.until) or broken
        if any(x is not None and x.expires is not None for x in (a, checked.provisional)):
            return None
        files.append(Unpublished(source, stamp, bundle, checked, before, source in held, again,
                                 tuple(local.diagnostics) if again else ()))
    return Drafts(tuple(files), tuple(unreadable))


# More files come or gone than this in one build and the full build, which reads and converts in parallel, is as quick.
MAX_SHIFT = 20


@dataclass(frozen=True)
class New:
    """One article file that was not there at the last build."""

    path: str  # as walked
    source: str  # its name relative to the site folder (read.load_all's)
    stamp: read.Stamp
    bundle: bool
    checked: model.Checked


@dataclass(frozen=True)
class Shift:
    """Articles added or deleted, and nothing else changed: the last build's plan holds but for where articles
    come and go. Their build (stages.shifted) places every article's `Shape` in site order, the new ones among
    them and the deleted ones left out, and makes the pages, related lists, most-read block and home page with the
    functions a full build uses; only the pages that read something that changed are rendered (found through the
    reverse index, as an edit build finds them)."""

    plan: Plan
    state: State
    index: Index
    new: tuple[New, ...]
    gone: tuple[str, ...]  # the sources of the articles deleted
    moment: dt.datetime
    titles: Titles  # the plan's `titles` once they came and went
    spellings: Spellings  # its `spellings`, likewise
    until: dt.datetime | None  # Plan.until once they are published (`_due`)
    photos_gone: Going = ((), ())  # the photo files (keys) and copy stems of the articles deleted (`own_photos`)
    promoted: tuple[str, ...] = ()  # the sources of the new articles that were in Plan.later: drafts, or due now
    # Every file still unpublished, when the last build held drafts back, or a draft came or went, or a photo in a
    # draft's folder did: what the build finds of them is made again (build.unpublished), as an article that comes
    # or goes may mend one, or take the address one wants.
    drafts: Drafts | None = None
    drafts_gone: tuple[str, ...] = ()  # the sources of the drafts deleted (the drafts' findings are found again)
    drafts_new: tuple[str, ...] = ()  # the sources of the drafts written (`sitegen new`): in `drafts` now
    freed: tuple[str, ...] = ()  # the sources of the drafts held back published now (in `promoted` too)
    # New (or changed) files no article or draft owns (paths as walked): a photo dropped into a folder before its
    # article is written. They publish nothing; stages.shifted finds whether a published body's link may now lead
    # to one.
    loose: tuple[str, ...] = ()

    @property
    def later(self) -> tuple[str, ...]:
        """The plan's `later` once the promoted articles are published and the drafts deleted gone."""
        if not self.promoted and not self.drafts_gone:
            return self.plan.later
        return tuple(s for s in self.plan.later if s not in self.promoted and s not in self.drafts_gone)


def _shift(cache: Cache, plan: Plan, state: State, index: Index, known: set[str], scanned: Scan,
           listing: dict | None, moment: dt.datetime, config: SiteConfig, strict: bool, shown: bool = False
           ) -> Shift | None:
    """The Shift this build is, or None. Only the plain case, on a site whose links all land (a new article could
    mend one), and whose every file is published but for drafts and scheduled articles (build.ahead validates
    those against the site as it is, or will be when each falls due: articles added can take an address one of
    them wants, articles deleted can take away a page one of them links to; stages.shifted then finds what the
    build says of them again, build.unpublished, as it does beside drafts held back for their problems, which
    an article that comes may mend; a scheduled article once it falls due comes as an addition, see `_due`):
    - new article files published now, with photos of their own or none (`_own_photos`), without an old address,
      schedule or expiry of their own, in a category and with tags as the site names them, with a headline of
      their own; and drafts published now (`draft: true` taken away), if nothing was found wrong with them;
    - deleted articles with a headline of their own, whose tags and category keep their names (and a category
      made by articles, its place in the menu), whose photos no other article shows or publishes (`own_photos`), on a
      site where no article expires and no draft or scheduled article has a problem; their bundle's other files
      may go with them;
    - new drafts (`sitegen new`) in a category the site has, and photos that come into or go from the folder of a
      draft or scheduled article (`_theirs`): they change only what the build finds of the unpublished files;
    - published articles placed anew (`_replacing`): one whose file changed so that it moves (another date, slug,
      category, tags or views, other photos), or a file in whose bundle's folder came, went or changed (a photo
      dropped in, taken out, or replaced by one of other widths). Each goes and comes back in the same build, under
      the rules of both.
      Whether another article links to what they take away is for stages.shifted to find, once it knows which
      pages go."""
    held = held_drafts(state)
    if shown and (plan.later or held):
        return None  # (a build that publishes drafts: what build.unpublished finds is not what it finds, see prepare)
    if listing is None or plan.discovered != len(index.refs) + len(plan.later) + len(held) or \
            state.counted != len(known) or any(d.code.startswith("LINK") for d in state.diagnostics):
        return None  # (a file the last walk saw too late to trust is in no list: `counted` tells)
    # The files whose stamp line is new (come, or changed) and those whose line is gone (gone, or changed), by
    # their lines: 20 000 set lookups at 10 000 articles, not a path split out of every line.
    new = [path for path, line in scanned.files.items() if line not in known]
    if len(new) > MAX_SHIFT:
        return None
    lines = set(scanned.files.values())
    went = {line.split("\0", 1)[0] for line in known if line not in lines}
    later = set(plan.later)
    due = _due(cache, plan, moment)
    if due is None:
        return None
    # Drafts and scheduled articles whose file changed, to be published now: additions (checked as such below,
    # and a draft's only: its tags counted in `spellings` already, no schedule of its own in `plan.until`).
    promoted = {path for path in went.intersection(new) if _source(path, config) in later}
    # Drafts held back whose file changed: published now, they are additions like any (no `docs` row, their tags
    # not counted); still drafts, the full build's here.
    freed = {path for path in went.intersection(new) if _source(path, config) in held}
    went -= promoted | freed
    files = [file for _, file, _ in index.refs]
    position = dict(zip(files, range(len(files))))
    # Published articles placed anew, by their file: the paths of theirs that changed, and of the files in their
    # folders that came, went or changed (the bundle's own, for `_replacing`). They go (and their folders' files
    # with them, in `folders` below) and come back among the new articles.
    new_paths = set(new)
    replacing = _replacing([path for path in went if path in new_paths and path in position]  # (changed, not deleted)
                           + [path for path in (*new, *went) if path not in position], position,
                           {path for path in went if path in position and path not in new_paths}, index, config)
    if replacing is None:
        return None
    placed_anew, theirs_too = replacing
    gone = list(went | placed_anew.keys())
    # Files that were there and changed, other than those of articles placed anew: a Markdown file's is the full
    # build's; any other file (a loose photo saved again, say) goes and comes like the others below.
    if not (new or gone or due[0]) or len(new) + len(gone) + len(due[0]) > MAX_SHIFT \
            or any(path.casefold().endswith(".md") for path in (went - placed_anew.keys() - theirs_too) & new_paths):
        return None
    coming = {_source(path, config) for path in promoted | freed} | due[0].keys()
    if any(d.path in coming and not (d.code == "HOLD002" and d.path in held) for d in state.diagnostics):
        return None  # what its validation ahead found of it (prefixed with when) goes: the full build's to redo
        # (a draft held back has its one line, HOLD002, which goes with it: `Shift.freed`)
    left = sorted(position[path] for path in gone if path in position)
    folders = tuple(os.path.dirname(index.refs[i][1]) + os.sep for i in left if index.refs[i][2])
    # Drafts deleted (a draft given up): what the build finds of the other unpublished files is found again.
    deleted = _drafts_deleted(cache, [path for path in gone if path not in position], later, held, index, config)
    if deleted is None:
        return None
    dropped, counted, their_folders = deleted
    folders += their_folders
    stray = [path for path in gone if path not in position and path not in dropped.values()
             and not path.startswith(folders)]  # (the folders of articles placed anew among them)
    theirs_gone = _theirs(stray, (later | held) - dropped.keys(), index, config) if stray else {}
    if theirs_gone is None or (left and plan.expiring):
        return None  # a photo a published article shows went; a deletion beside articles that expire. Whether a
        # draft's or scheduled article's link lands on what goes: stages.shifted.
    # Files that go which no article or draft owned (a photo dropped before its article, taken out again, or saved
    # again: it goes and comes): they published nothing, and no published link named them (a link by content path
    # to a file that is not published is refused: LINK001, and a site with one is no shift's). A draft or
    # scheduled article may have shown one: found again below.
    loose_gone = [path for path in stray if path not in theirs_gone]
    if _unowned_refused(loose_gone, scanned, index):
        return None
    # A scheduled article the last build found something to say of (a warning of its validation ahead: it is
    # published when due) may find otherwise once an article goes (the address it wanted, freed) or a photo comes
    # (the one it lacked): what the build finds of the unpublished files is then found again (`drafts` below).
    said = any(d.path in later for d in state.diagnostics)
    report = Reporter(strict=strict)
    found = dict(discovery.discover(config.root, config.content_dir, report, listing))
    stay = dict(zip(files, (bundle for _, _, bundle in index.refs)))  # each article that stays: is it a bundle
    for i in left:
        del stay[files[i]]
    # The new articles, and those placed anew; the other new files must be their photos.
    came = [path for path in new if path in found] + sorted(placed_anew.keys() - new_paths)
    if report.diagnostics or len(found) != plan.discovered + len(came) - len(promoted) - len(freed) - len(left) \
            - len(dropped) \
            or not stay.items() <= found.items():
        return None  # a new file that makes other files no articles
    spellings = cache.get_many("plan", ["spellings"]).get("spellings")
    if not isinstance(spellings, Spellings):
        return None
    titles, spellings = Titles(cache), spellings.copy()
    if not all(spellings.count(checked, -1) for checked in counted):
        return None  # a tag or category a deleted draft named first: named otherwise now
    going = _leaving(cache, index, left, titles, spellings)
    if going is None:
        return None
    context = _Context(cache, plan, index, scanned, moment, config, strict, shown)
    prefix = str(config.root) + os.sep
    arrived = _arriving(context, sorted(came) + [prefix + rel.replace("/", os.sep) for rel in sorted(due[0])],
                        due[0], found, placed_anew.keys(), promoted, freed, going[0], titles, spellings)
    if arrived is None:
        return None
    out, written, photographed = arrived
    staying = [s for s in plan.later if s not in coming and s not in dropped]  # (the plan's, in its order)
    uncounted = (held - coming - dropped.keys()) | written.keys()  # (no `docs` row: held back, or new)
    unpublished = {*staying, *uncounted}
    theirs = _theirs([path for path in new if path not in found and path not in photographed
                      and path not in theirs_too], unpublished, index, config)
    if theirs is None:
        return None  # a new file a published article publishes
    # New files that are no article's, nor a photo of one that comes or of a draft in its folder: a photo dropped
    # into a folder before its article is written (what NukeViet's editors do first: upload the photos). Such a
    # file publishes nothing (a file no article shows is not published), but a published body's relative link
    # that led to a page by its address may now name it by content path (links._Links._content_target), which
    # the link check refuses: stages.shifted looks for a link naming it (`links.names_file`). A draft or scheduled
    # article may have been waiting for it: what the build says of the unpublished files is found again.
    loose = tuple(sorted(path for path in new if path not in found and path not in photographed
                         and path not in theirs and path not in theirs_too))
    if _unowned_refused(loose, scanned, index):
        return None
    drafts = None
    theirs.update(theirs_gone)
    # (Drafts held back, new, or whose photos came or went: read again; beside one found wanting, found again.)
    if held or dropped or written or theirs or (said and (left or photographed)) \
            or ((loose or loose_gone) and staying):
        drafts = unpublished_files(cache, staying, uncounted, scanned, _saved(theirs, config), config, strict,
                                   plan.expiring)
        if drafts is None:
            return None
    return Shift(plan, state, index, tuple(out), tuple(index.refs[i][0] for i in left), moment, titles, spellings,
                 due[1], going, tuple(sorted(coming)), drafts, tuple(sorted(dropped)), tuple(sorted(written)),
                 tuple(sorted(_source(path, config) for path in freed)), loose)


def _unowned_refused(paths: Collection[str], scanned: Scan, index: Index) -> bool:
    """Whether files under content/ that no article or draft owns, come, changed or gone (`paths`, as walked), are
    the full build's (`_shift`): a Markdown file (an article-to-be), a file a published article publishes, or any
    beside symlinks or hard links (a path that reads it under another name)."""
    return bool(paths) and (scanned.aliased or any(path.casefold().endswith(".md") or index.key(path) in index.files
                                                   for path in paths))


def _drafts_deleted(cache: Cache, gone: Sequence[str], later: Collection[str], held: Collection[str], index: Index,
                    config: SiteConfig) -> tuple[dict[str, str], list[model.Checked], tuple[str, ...]] | None:
    """Of the files `gone` (as walked: no published article's), the drafts deleted: (source -> path; how the last
    build checked those it counted, whose tags and category leave `Spellings`, a draft held back naming nothing;
    their bundles' folders, whose other files go with them). None when one is a scheduled article (when the next
    one falls due changes: Plan.until), or its folder held a photo a published article shows."""
    dropped = {source: path for path in gone if (source := _source(path, config)) in later or source in held}
    if not dropped:
        return {}, [], ()
    was = cache.get_many("docs", [s for s in dropped if s in later])
    if any(s in later and (s not in was or was[s][2].article is None or not was[s][2].article.draft)
           for s in dropped):
        return None
    folders = tuple(os.path.dirname(p) + os.sep for p in dropped.values() if os.path.basename(p) == "index.md")
    if any(index.key(Path(path)) in index.files for path in gone if path.startswith(folders)):
        return None
    return dropped, [was[s][2] for s in dropped if s in later], folders


@dataclass(frozen=True)
class _Context:
    """What a shift is worked out from (see `_shift`): the cache, the last build's plan and link index, the walk,
    and the build's moment and settings."""

    cache: Cache
    plan: Plan
    index: Index
    scanned: Scan
    moment: dt.datetime
    config: SiteConfig
    strict: bool
    shown: bool


def _leaving(cache: Cache, index: Index, left: Sequence[int], titles: Titles, spellings: Spellings
             ) -> Going | None:
    """The photo files and copy stems of the published articles that go (`left`, their positions), their
    headlines counted out of `titles` and their tags and category out of `spellings`; None when one shares its
    headline (META006), a photo or a copy (`own_photos`), or leaves a tag or category named otherwise, or a
    category the menu loses (Spellings.count)."""
    docs = cache.get_many("docs", [index.refs[i][0] for i in left])
    going: tuple[set[str], set[str]] = (set(), set())
    for i in left:
        row = docs.get(index.refs[i][0])
        a = row[2].article if row is not None else None
        if a is None or titles.get(model.title_key(a.title)) != 1:
            return None  # a headline it shared (META006)
        if a.image or a.photos or a.body_images:
            mine = own_photos(index, i)
            if mine is None:
                return None  # a photo another article shows too, or a copy another publishes too
            going[0].update(mine[0])
            going[1].update(mine[1])
        titles.pop(model.title_key(a.title))
        if not spellings.count(row[2], -1):
            return None  # a tag or category now named as another file writes it, or a category leaving the menu
    return going


def _arriving(context: _Context, paths: Sequence[str], due: Mapping[str, model.Checked], found: Mapping[str, bool],
              placed_anew: Collection[str], promoted: Collection[str], freed: Collection[str],
              going: Collection[str], titles: Titles, spellings: Spellings
              ) -> tuple[list[New], dict[str, str], set[str]] | None:
    """What comes, of the files `paths` (as walked: new or changed article files, published articles `placed_anew`,
    and the scheduled articles `due`, by source, as the last build checked them): (the articles published now, in
    the order of `paths`; the new drafts, source -> path; the photo files the articles published show), their
    headlines counted into `titles` and their tags and category into `spellings`. None when one is the full
    build's (see `_shift`). `found`: discovery's answer (article file -> whether a bundle); `promoted`, `freed`:
    the drafts or scheduled articles, and the drafts held back, published now; `going`: the photo files of the
    articles that go, which one placed anew may show again."""
    cache, plan, index, scanned, config, strict, shown = (context.cache, context.plan, context.index,
                                                          context.scanned, context.config, context.strict,
                                                          context.shown)
    now_published = {*promoted, *freed}
    prefix = str(config.root) + os.sep
    sources = {source for source, _, _ in index.refs}
    out = []
    written: dict[str, str] = {}  # the new drafts: source -> path as walked
    photographed: set[str] = set()  # the photo files the new articles show
    was = cache.get_many("docs", [_source(path, config) for path in promoted]) if promoted else {}
    for path in paths:
        if not path.startswith(prefix) or unicodedata.normalize("NFC", path) != path:
            return None
        rel = path[len(prefix):].replace(os.sep, "/")
        if rel in due:  # (its file unchanged: as the last build read it)
            checked = due[rel]
            if path not in found or path not in scanned.files:
                return None
        else:
            local = Reporter(strict=strict)
            doc = read.load_one(Path(path), rel, found[path], config.max_file_bytes, local)
            checked = model.check(doc, config, strict) if doc is not None and not local.diagnostics else None
            if checked is None and not shown and path not in now_published and rel not in sources \
                    and hold.looks_draft(path):
                written[rel] = path  # (a new draft reading finds wrong: held back, it names nothing, see Drafts)
                continue
        a = checked.article if checked is not None else None
        # (A new draft: what the build finds of it, problems and all, is found as of every draft. One with a problem
        # of its own is known to be one as far as its file could be read: `provisional`.)
        draft = a if a is not None else checked.provisional if checked is not None else None
        again = path in placed_anew  # (a published article placed anew: it goes above, and comes back here)
        if draft is not None and draft.draft and not shown and path not in now_published and rel not in sources \
                and rel not in due:
            if draft.category not in plan.categories:
                return None  # (a category it would make: the full build's)
            written[rel] = path
            continue
        if a is None or (rel in sources and not again) or any(d.severity == ERROR for d in checked.diagnostics):
            return None
        if (a.draft and not shown) or a.date > context.moment or a.expires is not None or a.aliases \
                or a.category not in plan.categories:  # (a draft: an article like any where drafts are shown)
            return None
        photos = _own_photos(a, found[path], index, config, going if again else ())
        if photos is None:
            return None  # a photo that is another article's too, or not in its own folder: the full build's
        photographed.update(photos)
        made = checked.new_category
        if rel in due:
            pass  # its file is counted already (Spellings: every file's, published or not), and did not change
        elif path in promoted:  # its file is counted already, as it was
            before = was.get(rel)
            if before is None or before[2].article is None or not before[2].article.draft \
                    or before[2].tag_names != checked.tag_names or before[2].new_category != made \
                    or any(next(iter(spellings.tags.get(slug) or {name: 0})) != name for slug, name in checked.tag_names):
                return None  # a scheduled article (when the next one falls due changes: Plan.until); one that
                # writes its tags or category otherwise than it did, or a tag otherwise than the first file writes it
        elif (made is not None and made[1] not in spellings.categories) or not spellings.count(checked, 1):
            return None  # a tag or category written another way than the site's first file writes it
        title = model.title_key(a.title)
        if titles.get(title):
            return None  # a shared headline: META006, the full build's
        titles[title] = 1
        out.append(New(path, rel, Scan.stamp(scanned.files[path]), found[path], checked))
    return out, written, photographed


def _due(cache: Cache, plan: Plan, moment: dt.datetime) -> tuple[dict[str, model.Checked], dt.datetime | None] | None:
    """The scheduled articles due by `moment` (by source, as the last build checked them), and when the next of
    the others falls due then (Plan.until, as model.assemble finds it): ({}, plan.until) before plan.until. None
    when the full build must tell: an article that expires (its expiry is a moment of its own), one not read, or a
    `plan.until` that is no scheduled article's time."""
    if plan.until is None or moment < plan.until:
        return {}, plan.until
    if plan.expiring:
        return None
    rows = cache.get_many("docs", list(plan.later))
    due: dict[str, model.Checked] = {}
    dates = []
    for source in plan.later:
        checked = rows[source][2] if source in rows else None
        a = checked.article if checked is not None else None
        if a is None or a.expires is not None:
            return None
        if a.draft:
            continue
        if a.date <= moment:
            due[source] = checked
        dates.append(a.date)
    if min(dates, default=None) != plan.until:
        return None  # it was another moment (a preview's, whose scheduled articles are published and marked)
    return due, min((d for d in dates if d > moment), default=None)


def _source(path: str, config: SiteConfig) -> str:
    """An article's source (read.load_all's: its name relative to the site folder) from its path as walked."""
    prefix = str(config.root) + os.sep
    return path[len(prefix):].replace(os.sep, "/") if path.startswith(prefix) else ""  # (as `_shift` names them)


def own_photos(index: Index, i: int) -> tuple[list[str], list[str]] | None:
    """The photo files (Index.key) and copy stems that article `i` publishes, when they may go with it by a shift:
    its copies are those in its own folder (photos.photo_folder), and no other article shows one of its files or
    publishes one of its copies (Index.shared): a link to such a file would lead to the other's copy once it goes,
    and such a copy would stay. None when it may not, or the index does not know (kept by an older sitegen).
    A look at every photo of the site (the files, and the copies once unpacked): only when a deleted article had
    photos."""
    url = index.article_url.get(i)
    if index.shared is None or url is None:
        return None
    folder = photos.photo_folder(url)
    start = len(folder)
    stems = [s for s in index.copies if s.startswith(folder) and "/" not in s[start:]]
    files = [(key, out) for key, out in index.files.items() if out.startswith(folder) and "/" not in out[start:]]
    if {copy_stem(out) for _, out in files} != set(stems) or any(k in index.shared for k, _ in files) \
            or any(s in index.shared for s in stems):
        return None  # (a copy of its own of a file whose first copy is another's: the file is another's too)
    return [k for k, _ in files], stems


def _own_photos(article: model.Article, bundle: bool, index: Index, config: SiteConfig,
                mine: Collection[str] = ()) -> set[str] | None:
    """The photo files (as walked) a new article shows, when it may join the site by a shift: each in its own
    bundle's folder, and none published by another article (a photo file two articles show is published as the
    first one's copy, and links to the file lead there: which one is first is the full build's to decide), but
    those it published itself before (`mine`, their Index.key: an article placed anew). None when it may not."""
    refs = photos.refs_of(article, config)
    if not refs:
        return set()
    folder = os.path.dirname(article.file) + os.sep
    own: set[str] = set()
    for file in refs:
        if file is None:
            continue  # (a photo on another site: nothing to publish)
        if not bundle or not isinstance(file, Path) or not str(file).startswith(folder) \
                or (index.key(file) in index.files and index.key(file) not in mine):
            return None
        own.add(str(file))
    return own


def pack(index: Index) -> bytes:
    """The link index as the plan keeps it: pickled at once into its compact form (Index.__getstate__), so the
    build can drop the object itself (100 MB at 100 000 articles) before rendering."""
    return pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)


def diagnostics(before: Sequence[Diagnostic], dropped: Iterable[Diagnostic], added: Iterable[Diagnostic],
                ) -> list[Diagnostic] | None:
    """The last build's diagnostics with the changed articles' old ones replaced by their new ones; None when an
    old one is missing (it came from elsewhere than validation and the link check: a full build must redo it)."""
    left = Counter(before)
    for d in dropped:
        if left[d] <= 0:
            return None
        left[d] -= 1
    return [*left.elements(), *added]


def residue(before: Sequence[Diagnostic], dropped: Iterable[Diagnostic], sources: set[str]) -> bool:
    """True when the changed articles have diagnostics from a stage the edit build does not redo (a photo or
    category warning, say): their lines could have moved, so a full build must say them again."""
    left = Counter(d for d in before if d.path in sources)
    left.subtract(dropped)
    return any(n > 0 for n in left.values())


class Entries(Sequence[Entry]):
    """The site's entries as the last build left them in the `entries` table, with this build's new ones over
    them; fetched when a page asks for one (an edit build renders a handful of pages). Given each one's source
    (`sources`, in site order), an entry asked for is read from the table only when something of it is read
    (`Deferred`)."""

    def __init__(self, keys: Sequence[str], stored: Reader, html: Any, sources: Sequence[str] = ()):
        self.keys, self.stored, self.html, self.sources = keys, stored, html, sources
        self.memo: dict[int, Entry] = {}  # fetched (or Deferred), and this build's new ones (set by the build)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        hit = self.memo.get(i)
        if hit is None:
            hit = self.memo[i] = Deferred(self, i, self.sources[i]) if self.sources else self.read(i)  # type: ignore
        return hit

    def read(self, i: int) -> Entry:
        """Entry `i` as the table holds it, with this build's reader of the bodies' HTML."""
        return replace(self._stored(i)[0], bodies=self.html)

    def infos(self, i: int) -> dict:
        return self._stored(i)[1]

    def _stored(self, i: int) -> tuple[Entry, dict]:
        found = self.stored.get(self.keys[i])  # None too when the row is damaged
        if found is None:
            raise Missing("entries")
        return found


class Deferred:
    """An entry of the last build not read from the cache yet: read (once) when a template reads anything of it.
    Which article it is (`track_id`, all that tracking.fold and a memoised fragment's key need of it) is known
    without reading it: on the listing pages a shift renders again, most teasers come whole from the fragments
    earlier builds kept (templates.Templates.memo), and unpickling their 2 000 entries was a sixth of the render
    at 10 000 articles. Anything else reads through to the entry: its fields, equality, hash, repr, pickling."""

    TRACK = Entry.TRACK
    __slots__ = ("_entries", "_at", "_entry", "track_id")

    def __init__(self, entries: Entries, at: int, source: str):
        self._entries, self._at, self._entry, self.track_id = entries, at, None, source

    def _read(self) -> Entry:
        entry = self._entry
        if entry is None:
            entry = self._entry = self._entries.read(self._at)
        return entry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._read(), name)

    def __eq__(self, other: object) -> bool:
        return self._read() == (other._read() if isinstance(other, Deferred) else other)

    def __hash__(self) -> int:
        return hash(self._read())

    def __repr__(self) -> str:
        return repr(self._read())

    def __reduce__(self) -> Any:
        return self._read().__reduce__()


class Missing(LookupError):
    """A row of the cache an edit build needs is gone or damaged: the full build takes over, and writes the
    table anew (a damaged row is seldom alone, and the full build writes only the entries a table lacks)."""

    def __init__(self, table: str):
        super().__init__(table)
        self.table = table


def pages_at(cache: Cache, paths: Iterable[str], sources: Sequence[str], groups: Mapping[str, str] | None = None
             ) -> list[Page]:
    """The plan's pages with these output paths (in the plan's order), read from the rows of their groups, with
    their articles by position in the plan's site order (`sources`, as the link index's refs give it). `groups`:
    the plan's (`groups_at`), when read already."""
    wanted = set(paths)
    found = [(path, g) for path, g in (groups if groups is not None else groups_at(cache)).items() if path in wanted]
    kept = cache.get_many("plan", {"pages:" + g for _, g in found})
    by_path = {p.path: p for row in kept.values() for p in row}
    place = {s: i for i, s in enumerate(sources)}
    try:
        return [_renamed(by_path[path], place) for path, _ in found]
    except (KeyError, TypeError, AttributeError):
        raise Missing("plan") from None


def groups_at(cache: Cache) -> dict[str, str]:
    """Each page of the plan's (by output path) -> its group (`group_of`)."""
    rows = cache.get_many("plan", ["paths", "groups"])
    listed, groups = rows.get("paths"), rows.get("groups")
    if not isinstance(listed, str) or not isinstance(groups, str):
        raise Missing("plan")
    return dict(zip(listed.split("\0"), groups.split("\0")))
