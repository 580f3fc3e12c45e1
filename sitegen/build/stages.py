"""The stages of a build (see pipeline for the order): the site's model, made whole (`whole`) or from the last
build's plan (`edited`); the render, write and swap (`publish`); and what each remembers for the next build.
pipeline imports this module only once it knows there is something to build: a build with nothing to do (every
cron run of an unchanged site) answers without loading Jinja, Markdown, Pillow and the stages."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import functools
import gc
from collections import Counter
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..render import context
from . import delta, dependencies, hold, inputs, search, unpublished, workers
from .ahead import Today, validate as validate_ahead
from .bodies import check_links, link_base_of, link_keys, markup_job, render_bodies
from .pages import Progress, counter, render_pages
from ..structure import links, photos, routes
from ..content import discovery, model, read
from .cache import Cache, Damaged, ReadHere, digest_text
from ..config import SiteConfig, check_placeholders
from ..diagnostics import BuildFailed, Diagnostic, Reporter
from ..structure.markup import BodyInfo
from ..render.templates import Entry, Templates, entry_maker, make_entries
from .result import BuildResult, Clock, Repaired
from .write import DELTA, PUBLISHED, Staging, WriteStats

if TYPE_CHECKING:
    from .pipeline import Warm


def templates_for(warm: "Warm", config: SiteConfig, cache_folder: Path | None, names: str) -> Templates:
    """The Jinja environment for this build, kept in `warm` (compiled templates stay compiled); `names`
    (inputs.Scan.outside_names) changes when a file outside content/ comes or goes, such as a site template that
    now overrides the theme's. (Not the names under content/, which no template can load: an article added or
    deleted made a preview compile every template again, a tenth of a second at each addition.)"""
    if warm.templates is None:
        jinja_dir = cache_folder / "jinja" if cache_folder is not None else None
        if jinja_dir is not None:
            try:
                jinja_dir.mkdir(parents=True, exist_ok=True)
            except OSError:
                jinja_dir = None
        warm.templates = Templates(config, jinja_dir)
    warm.templates.begin_build(names)  # Jinja itself notices changed template files, not new ones
    return warm.templates


def paths_of(warm: "Warm") -> Any:
    """Symlink-free paths for the link check, kept in `warm` between a preview's builds."""
    if warm.paths is None:
        warm.paths = links.real_paths()
    return warm.paths


def render_only(made: Made, cache: Cache, report: Reporter, jobs: int, progress: Progress | None,
                repaired: bool) -> None:
    """Checking, or failing: the templates run without writing, so that one run lists every problem there is."""
    render_pages(made.pages, made.view, made.templates, report, None, None, jobs, progress)
    repair(cache, report, repaired)


@dataclass
class _Ready:
    """One round's site, up to the checked bodies (see `_prepare`)."""

    site: model.Site
    pages: list[routes.Page]
    urls: list[str]  # each article's site-relative URL, in site order
    photos: photos.PhotoPlan
    markup_keys: list[str]
    bodies: list[BodyInfo] | None
    body_keys: list[str]
    link_keys: list[str]
    link_base: str
    packed_index: Any
    index: Any  # the link index itself, until the scheduled articles have been validated (ahead)


def _prepare(values: list, config: SiteConfig, cache: Cache, warm: Warm, scanned: inputs.Scan, report: Reporter,
             clock: "Clock", moment: dt.datetime, drafts: bool, stats_from: str | None, jobs: int,
             progress: Progress | None) -> _Ready:
    """Model, routes, photos, bodies and links from the validated files: every stage runs whatever the others
    found, so that one run shows every problem (a missing photo does not hide a broken link)."""
    site = model.assemble(values, config, report, drafts=drafts, now=moment)
    if stats_from:  # readers' figures from the collector (`--stats`), added to the front matter ones
        from ..readers.figures import apply, load_totals

        site = apply(site, load_totals(stats_from, report))
    clock.lap("load")
    pages = routes.plan(site, report)
    by_index = {p.data["index"]: p.url for p in pages if p.kind == "article"}
    urls = [by_index.get(i, "") for i in range(len(site.articles))]  # "": no page (its route was refused)
    photo_plan = photos.plan(site.articles, urls, config, report)
    clock.lap("plan")
    photo_plan = photos.produce(photo_plan, config, report, jobs)  # into the image cache; bad photos left out
    clock.lap("photos")
    markup_keys, bodies = render_bodies(site.articles, photo_plan.infos, config, cache, jobs, progress, report)
    index = links.Index(config, site.articles, [b.ids for b in bodies], pages, photo_plan.published,
                        scanned.names, paths_of(warm))
    link_base = link_base_of(index, report.strict)
    body_keys, link_keys = check_links(index, link_base, range(len(site.articles)), site.articles, markup_keys,
                                        bodies, cache, report)
    clock.lap("markdown")
    return _Ready(site, pages, urls, photo_plan, markup_keys, bodies, body_keys, link_keys, link_base,
                  delta.pack(index), index)


def whole(config: SiteConfig, cache: Cache, warm: Warm, folder: Path | None, scanned: inputs.Scan, listing: dict,
           report: Reporter, clock: "Clock", jobs: int, moment: dt.datetime, token: str, drafts: bool, strict: bool,
           publish: bool, stats_from: str | None, progress: Progress | None, lost: Collection[str] = ()) -> "Made":
    """The model of a full build: every validated file (each one validated again only if it changed), the
    articles held back by their own errors left out (see hold), and the pages that read something that changed.
    `lost`: files of the live tree `token` deleted by hand (write.missing), which the build makes again."""
    known = cache.all("docs")  # path -> (stamp, bundle, model.Checked): files validated by earlier builds
    loading = Reporter(strict=strict)
    files = discovery.discover(config.root, config.content_dir, loading, listing)
    loaded = read.load_all(config.root, config.content_dir, config.max_file_bytes, loading,
                           known={k: v for k, v in known.items() if model.reusable(v[2], strict)}, jobs=jobs,
                           found=files, convert=functools.partial(model.check, config=config, strict=strict),
                           progress=functools.partial(counter, progress, "load"))
    discovered, files = len(files), []
    # Rounds (see hold): an article with errors of its own is held back and the stages run again without it.
    holding = hold.Holding(config.root, loaded, known, loading.diagnostics, moment, drafts, enabled=not strict,
                           last=cache.get_many("meta", ["published_at"]).get("published_at"))
    report.extend(holding.site_wide)
    if not drafts:  # a preview is served from this machine: there the placeholder address is the right one
        check_placeholders(config, report)
    holding.first()
    while True:
        found = Reporter(strict=strict)
        ready = _prepare(holding.values(), config, cache, warm, scanned, found, clock, moment, drafts, stats_from,
                         jobs, progress)
        if not holding.take(found.diagnostics):
            break
    site, pages, urls, photo_plan = ready.site, ready.pages, ready.urls, ready.photos
    # Drafts too, except in a --strict build: their problems are their author's (check, preview), not CI's.
    invalid = [f.value.provisional for f in loaded if isinstance(f.value, model.Checked) and f.value.provisional]
    today = Today(ready.index, ready.link_base, site.articles, pages, photo_plan.published)
    ahead, when = ([], {}) if drafts else validate_ahead(holding.values(), today, config, cache, moment, strict, jobs,
                                                         with_drafts=not (publish and strict), invalid=invalid)
    del today
    ready.index = None  # at 100 000 articles, tens of MB the render does not need (nor `today`, which held it)
    if publish:  # a draft's warnings are for its author (check), not for the build log
        ahead = [d for d in ahead if d.severity == "error" or d.path in when]
    holding.take(ahead)  # a scheduled article with errors is held now: it would be when it falls due
    report.extend(holding.report(found.diagnostics + ahead, when, draft_details=drafts or not publish))
    entries = make_entries(site, dict(enumerate(urls)), ready.bodies, ready.body_keys, cache.reader("markup"),
                           photo_plan.infos, moment, warm.entries)
    has_links = [b.links for b in ready.bodies]
    ready.bodies = None
    related_key, related, _ = _Related(site, config, cache).result()
    view = context.site_view(site, entries, model.most_read(site, config.most_read), related)
    templates = templates_for(warm, config, folder, scanned.outside_names)
    if not publish or holding.errors_left(report.diagnostics):
        return Made(view, templates, pages, len(site.articles), None, {}, lambda stage: pages, None,
                     holding.errors_left, photo_plan.processed)
    deps = _deps(cache, token, warm, folder)
    deps.know(holding.values())
    checked = holding.values()
    spellings = delta.Spellings(model.tag_spellings(checked), model.category_spellings(checked))
    deps.kept_digests = warm.digests
    # What the `docs` table is to hold after this build, worked out now so that the files as read (`loaded`,
    # `known`: 100s of MB at 100 000 articles) are not kept through the render; written only once published.
    docs = cache.changes(known, holding.documents(
        {f.path: (f.stamp, f.bundle, f.value) if f.fresh else known[f.path] for f in loaded}))
    holding.release()
    known = loaded = {}
    dirty = deps.dirty(pages, view, templates, _old_entries(cache))
    _keep_fragments(deps, templates, scanned, whole=True)
    clock.lap("changes")  # entries, related articles and which pages read something that changed

    def todo(stage: Staging, search_later: bool) -> list[routes.Page]:
        out = [p for p in pages if p.path in dirty or not stage.keep(p.path)]
        for src, rel in photo_plan.copies:
            stage.copy_file(src, rel, link=True)  # variants in the image cache are never changed in place
        for assets in config.assets_dirs:
            for file in sorted(f for f in assets.rglob("*") if f.is_file() and not f.name.startswith(".")):
                stage.copy_file(file, "assets/" + file.relative_to(assets).as_posix())
        return out

    def keep(token: str) -> Finish:
        cache.apply("docs", docs)
        cache.prune("markup", set(ready.markup_keys) | set(ready.body_keys))
        cache.prune("bodies", set(ready.markup_keys))
        cache.prune("links", set(ready.link_keys))
        deps.update(pages, view, templates, entries, full=True)
        deps.save(cache, token)
        entry_keys = [deps.digest_of(e) for e in entries]
        _remember_entries(cache, entries, photo_plan.infos, entry_keys)
        if stats_from:  # the figures baked in are in no input an edit build compares: none may start from here
            cache.put_many("meta", {"state": None})
            return functools.partial(_finish, cache, report, None, len(pages), len(site.articles),
                                     photo_plan.processed)
        published = {a.source for a in site.articles}
        plan = delta.Plan(token, scanned.outside, scanned.names, site.next_change, len(pages), view.menu,
                          view.categories, view.tags, view.most_read, related_key, view.home, ready.link_base,
                          discovered, tuple(c.source for c in checked if c.source not in published),
                          any(a.expires is not None for a in site.articles), config.shown_key)
        titles = Counter(model.title_key(a.title) for a in site.articles)
        shapes = map(delta.shape_of, site.articles, (e.image is not None for e in entries), ready.markup_keys,
                     has_links)
        cache.put_many("plan", plan.rows(ready.packed_index, pages, titles, shapes, spellings), replace_all=True)
        state = functools.partial(_remember, cache, plan.id, token, scanned, moment=moment, until=site.next_change,
                                  pages=len(pages), articles=len(site.articles), entry_keys=entry_keys,
                                  editable=holding.only_drafts())
        return functools.partial(_finish, cache, report, state, len(pages), len(site.articles),
                                 photo_plan.processed)

    return Made(view, templates, pages, len(site.articles), deps, trees_of(cache), todo, keep, holding.errors_left,
                photo_plan.processed, lost=tuple(lost))


# What a build writes once its tree is live, given what was published, the inputs' key and the clock.
Finish = Callable[["Published", str, Clock], BuildResult]


def _finish(cache: Cache, report: Reporter, state: Callable[..., None] | None, pages: int, articles: int,
            photos_processed: int, done: Published, read_inputs: str, clock: Clock,
            edited: bool = False, shifted: bool = False) -> BuildResult:
    """The last of what a build remembers (what the trees hold, the state an edit build starts from: both name
    the published files and every diagnostic, the search stage's too), and its result. Holds no model."""
    _remember_trees(cache, done)
    if state is not None:
        state(files=done.files, read_inputs=read_inputs, diagnostics=report.diagnostics)
    return BuildResult(report.diagnostics, pages, articles, done.stats, done.rendered, clock.laps, photos_processed,
                       edited=edited, shifted=shifted, search=done.search, search_pending=done.search_pending,
                       held=() if edited else hold.held_paths(report.diagnostics))


@dataclass
class Made:
    """What a build is to publish, however it was modelled (`whole` or `edited`): the site view and templates,
    the pages that may be rendered, and what to remember once published."""

    view: context.SiteView | None
    templates: Templates | None
    pages: list[routes.Page]  # a full build's every page; an edit build's pages to render
    articles: int
    deps: dependencies.Deps | None  # what the last build's pages read (None: only checking)
    trees: dict  # the cache's `trees` (write.Staging: what each output tree holds)
    # The pages to render (None: an edit gives up), given the spare tree and whether the search index is to be
    # published as it is (search.index's `later`).
    todo: Callable[[Staging, bool], list[routes.Page] | None] | None
    # Writes what the pages read and what the model was (to the new output tree's token), and gives what
    # remains to be written once the tree is published (see publish). None: only checking.
    keep: Callable[[str], Finish] | None
    errors_left: Callable[[list[Diagnostic]], bool]  # whether what was found stops the build (see hold)
    photos_processed: int = 0
    lost: tuple[str, ...] = ()  # files of the live tree deleted by hand, to make again (write.Staging)

    def release(self) -> None:
        """Let go of the model (at 100 000 articles well over a gigabyte: see publish)."""
        self.view = self.templates = self.deps = self.todo = self.keep = None
        self.pages, self.trees = [], {}


@dataclass
class Published:
    token: str
    trees: dict[str, dict[str, str]]  # what the output trees hold now (write.Staging.publish)
    files: int
    stats: WriteStats
    rendered: int
    search: str
    search_pending: int = 0
    relisted: str = ""  # the tree that was live, when files deleted from it by hand changed what it holds


def publish(made: Made, config: SiteConfig, cache: Cache, report: Reporter, clock: "Clock", jobs: int,
             progress: Progress | None, repaired: bool, read_inputs: str, meta: dict[str, Any],
             search_later: bool = False, cancel: Callable[[], bool] | None = None, let_go: bool = True
             ) -> BuildResult | None:
    """Render what must be rendered into the spare tree, carry the rest over, index it for search, swap it in and
    remember (with the `meta` rows given) what the next build needs. Nothing is published when an error stops
    the build; None when an edit build finds it needs more. `search_later`, `cancel`: see search.index. `let_go`:
    whether every frozen object is the build's (pipeline.build), to unfreeze once the model is remembered."""
    assert made.deps is not None and made.todo is not None and made.keep is not None and made.templates is not None
    with _write_errors(config), Staging(config.output_dir, made.trees, lost=made.lost) as stage:
        todo = made.todo(stage, search_later)
        if todo is None:
            return None
        render_pages(todo, made.view, made.templates, report, stage, made.deps, jobs, progress)
        if let_go:
            # What pipeline._uncollected (and workers.stream, on top of it) froze of the model: a frozen cycle is
            # never collected, nor anything it holds that was made after (the entries the render read). Let go of
            # now, the cycles the model left go while the build remembers, and the model itself once released,
            # before Pagefind runs. Not objects frozen before the build began: whose they are is not known (a
            # library caller's; a preview settles its own).
            gc.unfreeze()
        made.templates.end_render()
        repair(cache, report, repaired)
        clock.lap("render")
        rendered, todo = len(todo), []
        if made.errors_left(report.diagnostics):
            raise BuildFailed(report.diagnostics)  # a template error leaves the live site as it was
        # Everything remembered is one transaction, committed only once the tree it describes is live. On disk
        # (where a failure rolls it back) the model's part is written before the search stage and the model let
        # go: Pagefind then has the memory it held (at 100 000 articles the build process alone is ~1.8 GiB, and
        # with a shard's Pagefind run beside it did not fit 2 GiB). A memory cache (the preview, whose model is
        # kept between builds anyway) is written once published, as a cancelled search must leave it untouched.
        with cache.batch():
            finish = made.keep(stage.token) if cache.transactional else None
            if finish is not None:
                made.release()  # (unfrozen after the render: see above)
                clock.lap("cache")
            # In the spare tree: the index ships with its pages, atomically.
            searched = search.index(stage, config, report, later=search_later, cancel=cancel, progress=progress,
                                    make_room=workers.give_back)
            if made.errors_left(report.diagnostics):
                raise BuildFailed(report.diagnostics)
            trees = stage.publish()
            clock.lap("write")
            if finish is None:
                assert made.keep is not None
                finish = made.keep(stage.token)
            made.release()
            done = Published(stage.token, trees, len(trees[stage.token]), stage.stats, rendered,
                             searched.describe() if searched else "", searched.pending if searched else 0,
                             stage.active_token if stage.lost else "")
            result = finish(done, read_inputs, clock)
            cache.put_many("meta", meta)
    clock.lap("cache")
    return result


def _any_error(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def edited(edit: delta.Edit, config: SiteConfig, cache: Cache, warm: Warm, folder: Path | None,
            scanned: inputs.Scan, report: Reporter, clock: "Clock", jobs: int, ahead: Any = ReadHere()
            ) -> "Made | None":
    """The model of an edit build (see delta): the last build's, with the changed articles read, converted and
    checked again, and the pages that show them to render. None when it turns out to need more (an anchor came
    or went, the most-read block changed, a cache row is gone): nothing has been written then. `ahead`: what
    was read of the cache while the walk ran (cache.ReadAhead), taken where it is needed."""
    plan, state, changes = edit.plan, edit.state, edit.changes
    html = cache.reader("markup")
    keys = state.entries.split("\0") if state.entries else []
    entries = delta.Entries(keys, cache.reader("entries"), html, [source for source, _, _ in edit.index.refs])
    infos = [entries.infos(c.index) for c in changes]
    articles = [c.after.article for c in changes]
    related = cache.get_many("meta", ["related"]).get("related")
    if related is None or related[0] != plan.related:
        return None
    if any(c.index not in edit.index.article_url for c in changes):
        return None  # an article without a page (a route collision): the full build reports it
    old_markup = [markup_job(c.before.article, mine, config.raw_html == "safe")[0] for c, mine in zip(changes, infos)]
    old_bodies = cache.get_many("bodies", old_markup)
    if any(k not in old_bodies for k in old_markup):
        return None
    old_keys = link_keys(plan.link_base, old_markup, [c.before.article for c in changes],
                          [old_bodies[k] for k in old_markup], report.strict)
    old_links = cache.get_many("links", old_keys)
    if any(k not in old_links for k in old_keys):
        return None
    dropped = [d for c in changes for d in c.before.diagnostics] + [d for k in old_keys for d in old_links[k][1]]
    if delta.residue(state.diagnostics, dropped, {c.before.source for c in changes}):
        return None
    dropped += [d for d in state.diagnostics if d.code in search.CODES]  # the search stage runs again
    clock.lap("load")
    local = Reporter(strict=report.strict)
    for c in changes:
        local.extend(c.after.diagnostics)
    photo_plan = _replaced_photos(changes, articles, edit.index, config, jobs)
    if photo_plan is None:
        return None
    for (k, _), mine in zip(photo_plan.pictured, photo_plan.made.infos):
        infos[k] = mine  # (what their pages show of them, and their bodies)
    markup_keys, bodies = render_bodies(articles, infos, config, cache, jobs, None, local)
    if any(b.ids != edit.index.ids[c.index] for b, c in zip(bodies, changes)):
        return None  # another article's #anchor may now point at nothing (or at something)
    index = edit.index.attach(config, paths_of(warm))
    body_keys, _ = check_links(index, plan.link_base, [c.index for c in changes], articles, markup_keys, bodies, cache,
                                local)
    if local.errors:
        return None  # the full build reports them, beside everything else it finds
    later = None
    if edit.drafts is not None:  # drafts saved as drafts: what the build finds of them, made again
        spellings = cache.get_many("plan", ["spellings"]).get("spellings")
        if not isinstance(spellings, delta.Spellings):
            return None
        later = unpublished.refound(edit.drafts, index, plan.link_base, spellings,
                                    unpublished.Owners(cache, entries.sources), config, cache, edit.moment, jobs)
        if later is None:
            return None
        dropped += _findings_of(state.diagnostics, edit.drafts)
        local.extend(later.diagnostics)
    clock.lap("markdown")
    make = entry_maker(config, plan.categories, plan.tags, edit.moment)
    fresh = {c.index: make(a, index.article_url[c.index], b, k, html, mine)
             for c, a, b, k, mine in zip(changes, articles, bodies, body_keys, infos)}
    entries.memo.update(fresh)
    view = context.SiteView(config, entries, plan.menu, plan.categories, plan.tags, plan.most_read, related[1],
                            plan.home, entries.sources)
    templates = templates_for(warm, config, folder, scanned.outside_names)
    diagnostics = delta.diagnostics(state.diagnostics, dropped, local.diagnostics)
    if diagnostics is None:
        return None
    deps = _deps(cache, state.token, warm, folder, ahead.take(dependencies.Deps.rows_of, cache))
    deps.know(c.after for c in changes)
    if deps.count != plan.pages:
        return None  # the last build's records are gone or damaged: the full build renders what it must
    try:
        dirty = deps.dirty(None, view, templates, _old_entries(cache), {e.article.source: e for e in fresh.values()})
    except Damaged:
        return None
    _keep_fragments(deps, templates, scanned, whole=False)
    redo = delta.pages_at(cache, dirty, view.sources)
    shown = {e.body_key for e in entries.memo.values()}
    if cache.has_many("markup", shown) != shown:
        return None  # some article's HTML has left the cache: the full build converts it again
    trees = ahead.take(trees_of, cache)
    ahead.close()  # (what an edit build does not take: the Shapes)
    if not trees.get(state.token):
        return None  # what the live tree holds is not known: every file would have to be made again
    report.extend(diagnostics)

    def todo(stage: Staging, search_later: bool) -> list[routes.Page] | None:
        # Every other file stays what the live tree has; one that cannot be carried over (gone from the live
        # tree) makes this a full build's work. The search index too, when it is to be published as it is (a
        # preview's save, see search.index); else the search stage makes it.
        if not stage.carry_over(dirty | photo_plan.outputs, search.BUNDLE + "/", with_prefixed=search_later):
            return None
        for src, rel in photo_plan.made.copies:
            stage.copy_file(src, rel, link=True)  # (as a full build: variants in the image cache never change)
        return redo

    def keep(token: str) -> Finish:
        deps.update(None, view, templates, fresh.values(), full=False)
        deps.save(cache, token)
        cache.put_many("docs", {c.doc: (c.stamp, c.bundle, c.after) for c in changes})
        delta.write_shapes(cache, [delta.shape_of(a, _pictured(a, mine), k, b.links)
                                   for a, mine, k, b in zip(articles, infos, markup_keys, bodies)])
        if edit.titles is not None:
            cache.put_many("plan", edit.titles.rows())
        if later is not None:
            _remember_unpublished(cache, later)
            cache.put_many("plan", {"head": replace(plan, later=later.later), "spellings": later.spellings})
        cache.put_many("entries", {deps.digest_of(e): (replace(e, bodies=None), mine)
                                   for e, mine in zip(fresh.values(), infos)})
        for i, e in fresh.items():
            keys[i] = deps.digest_of(e)
        state = functools.partial(_remember, cache, plan.id, token, scanned, moment=edit.moment, until=plan.until,
                                  pages=plan.pages, articles=len(keys), entry_keys=keys)
        return functools.partial(_finish, cache, report, state, plan.pages, len(keys), photo_plan.made.processed,
                                 edited=True)

    return Made(view, templates, redo, len(keys), deps, trees, todo, keep, _any_error)


@dataclass(frozen=True)
class _Replaced:
    """The photos of an edit build's articles whose photo files were replaced (delta.Change.photos), made again."""

    pictured: list[tuple[int, delta.Change]]  # those changes, each with its place among the edit's
    made: photos.PhotoPlan  # their photos, planned and produced as a full build does, the variants made
    outputs: set[str]  # the output paths of their variants (each the same as before: see `_replaced_photos`)


def _replaced_photos(changes: Sequence[delta.Change], articles: Sequence[model.Article], index: links.Index,
                     config: SiteConfig, jobs: int) -> _Replaced | None:
    """The photos of the articles of `changes` whose photo files were replaced, made again (as a full build plans
    and produces each article's photos). None when what the full build does would differ from an edit: a photo
    with a warning now (unusable, too small: the full build reports it), or variants that do not have the
    addresses they had (a photo of another size: the link index says which files there are, and only a full build
    makes it). Then the link index stands, and the pages that show the photos are those that read the entries,
    which now hold their new sizes."""
    pictured = [(k, c) for k, c in enumerate(changes) if c.photos]
    if not pictured:
        return _Replaced([], photos.PhotoPlan(()), set())
    shot = Reporter()
    mine = tuple(articles[k] for k, _ in pictured)
    made = photos.produce(photos.plan(mine, [index.article_url[c.index] for _, c in pictured], config, shot),
                          config, shot, jobs)
    if shot.diagnostics:
        return None
    for n, (_, c) in enumerate(pictured):
        if not delta.keeps_variants(index, c.index, [(file, out, endings) for file, out, j, endings in made.published
                                                     if j == n]):
            return None
    return _Replaced(pictured, made, {rel for _, rel in made.copies})


def shifted(shift: delta.Shift, config: SiteConfig, cache: Cache, warm: Warm, folder: Path | None,
            scanned: inputs.Scan, report: Reporter, clock: "Clock", jobs: int, ahead: Any = ReadHere()
            ) -> "Made | None":
    """The model of a shift's build (articles added or deleted: see delta.Shift): the site placed anew from every
    article's Shape (`_placed`), the new bodies converted and checked, and the pages to render: those that read
    something that changed, or whose variables did (Deps.shifted). None when it turns out to need more (another
    body links to a page that goes): nothing is written then. `ahead`: what was read of the cache while the walk ran
    (cache.ReadAhead), taken where it is needed."""
    plan, state, gone = shift.plan, shift.state, set(shift.gone)
    before = ahead.take(delta.shapes_of, cache)
    try:
        grouped = delta.groups_at(cache)  # (the last plan's pages, by path: read once, for all that asks)
    except delta.Missing:
        return None
    related_key = cache.get_many("meta", ["related_key"]).get("related_key")  # (the key of the "related" row)
    if before is None or [a.source for a in before] != [source for source, _, _ in shift.index.refs] \
            or related_key != plan.related or not shift.index.photos_key:
        return None
    local = Reporter(strict=report.strict)
    articles = [n.checked.article for n in shift.new]
    for n in shift.new:
        local.extend(n.checked.diagnostics)
    # The new articles' photos (their own, in their own folders: see delta._own_photos), planned and made as a full
    # build makes each article's: its variants beside its page.
    photo_plan = photos.produce(photos.plan(tuple(articles), [routes.article_url(a, config.permalink)
                                                              for a in articles], config, local), config, local, jobs)
    markup_keys, bodies = render_bodies(articles, list(photo_plan.infos), config, cache, jobs, None, local)
    clock.lap("load")
    fresh_shapes = [delta.shape_of(a, _pictured(a, infos), k, b.links)
                    for a, infos, k, b in zip(articles, photo_plan.infos, markup_keys, bodies)]
    site = _placed(shift, before, fresh_shapes, [b.ids for b in bodies], config, cache, scanned, report,
                   {p.casefold() for p in grouped}, photo_plan.published)
    if site is None:
        return None
    existed, now = grouped.keys(), {p.path for p in site.pages}
    # What the build finds of the drafts and scheduled articles is made again (build.unpublished) beside drafts
    # held back, and when one of them may find otherwise now: it links to what goes, or wants an address a new
    # page takes. Else it stands.
    drafts = shift.drafts
    if drafts is None and (site.ahead_again or _claimed(cache, config, shift.later,
                                                         {p.casefold() for p in now - existed})):
        drafts = delta.unpublished_files(cache, shift.later, (), scanned, {}, config, report.strict, plan.expiring)
        if drafts is None:
            return None
    if any(rel in now or rel in existed for _, rel in photo_plan.copies):
        return None  # a photo's variant where a page is: the full build's to tell
    index, positions = site.index.attach(config, paths_of(warm)), [site.place[a.source] for a in articles]
    link_base = link_base_of(index, report.strict)
    body_keys, _ = check_links(index, link_base, positions, articles, markup_keys, bodies, cache, local)
    if local.errors:
        return None
    later = None
    if drafts is not None:
        later = unpublished.refound(drafts, index, link_base, shift.spellings,
                                    routes.owners(site.pages, lambda i: site.order[i].source), config, cache,
                                    shift.moment, jobs)
        if later is None:
            return None
        local.extend(later.diagnostics)
    clock.lap("markdown")
    html = cache.reader("markup")
    make = entry_maker(config, plan.categories, site.tags, shift.moment)
    fresh = {i: make(a, index.article_url[i], b, k, html, infos)
             for i, a, b, k, infos in zip(positions, articles, bodies, body_keys, photo_plan.infos)}
    fresh_infos = dict(zip(positions, photo_plan.infos))
    keys_before = state.entries.split("\0") if state.entries else []
    keys = ["" if a.source not in site.old_at else keys_before[site.old_at[a.source]] for a in site.order]
    sources = [a.source for a in site.order]
    entries = delta.Entries(keys, cache.reader("entries"), html, sources)
    entries.memo.update(fresh)
    view = context.SiteView(config, entries, plan.menu, plan.categories, site.tags, site.most_read, site.related,
                            site.home, sources)
    templates = templates_for(warm, config, folder, scanned.outside_names)
    dropped = [d for d in state.diagnostics if d.code in search.CODES or d.path in gone]  # (the search stage runs again)
    if drafts is not None:
        dropped += _findings_of(state.diagnostics, drafts, (*shift.drafts_gone, *shift.freed))
    diagnostics = delta.diagnostics(state.diagnostics, dropped, local.diagnostics)
    deps = _deps(cache, state.token, warm, folder, ahead.take(dependencies.Deps.rows_of, cache))
    deps.know(n.checked for n in shift.new)
    if deps.count != plan.pages or diagnostics is None:
        return None
    changed: dict[str, Entry | None] = {e.article.source: e for e in fresh.values()}
    changed.update((source, None) for source in gone if source not in changed)  # (placed anew: in `fresh`)
    compared = _compared(site.pages, before, fresh_shapes, gone)
    dirty = deps.shifted(site.pages, existed, compared, _signatures(cache, plan, before, compared, grouped), view,
                         templates, _old_entries(cache), changed, _same_lists(site))
    if dirty is None:
        return None
    _keep_fragments(deps, templates, scanned, whole=False)
    redo = [p for p in site.pages if p.path in dirty]
    trees = ahead.take(trees_of, cache)
    if not trees.get(state.token):
        return None
    report.extend(diagnostics)
    clock.lap("changes")

    def todo(stage: Staging, search_later: bool) -> list[routes.Page] | None:
        # Every other file stays what the live tree has, but the pages that go and the deleted articles' photo
        # variants (not carried over, so dropped); the new articles' photos join it.
        if not stage.carry_over(dirty | (existed - now) | site.variants_gone, search.BUNDLE + "/",
                                with_prefixed=search_later):
            return None
        for src, rel in photo_plan.copies:
            stage.copy_file(src, rel, link=True)  # (as a full build: variants in the image cache never change)
        return redo

    def keep(token: str) -> Finish:
        deps.update(site.pages, view, templates, fresh.values(), full=False, dropped=shift.gone)
        deps.save(cache, token)
        cache.delete("docs", list(shift.gone))  # (before the new rows: an article placed anew is in both)
        cache.put_many("docs", {n.source: (n.stamp, n.bundle, n.checked) for n in shift.new})
        cache.put_many("entries", {deps.digest_of(e): (replace(e, bodies=None), fresh_infos[i]) for i, e in fresh.items()})
        for i, e in fresh.items():
            keys[i] = deps.digest_of(e)
        # The other bodies' link checks, under the new index's key: what they found stands (none of their links
        # lands on what went, see _links_into, and none was broken before, see delta._shift).
        linked = [a for a in site.order if a.links and a.source in site.old_at and a.source not in changed]
        cache.copy("links", {digest_text(f"{a.markup}\0{a.source}\0{link_base}"):
                             digest_text(f"{a.markup}\0{a.source}\0{plan.link_base}") for a in linked})
        if later is not None:
            _remember_unpublished(cache, later)
        cache.delete("docs", list(shift.drafts_gone))
        made = delta.Plan(token, scanned.outside, scanned.names, shift.until, len(site.pages), plan.menu,
                          plan.categories, site.tags, site.most_read, site.related_key, site.home, link_base,
                          plan.discovered + len(shift.new) - len(shift.promoted) - len(shift.gone)
                          - len(shift.drafts_gone) + len(shift.drafts_new),
                          later.later if later is not None else shift.later, plan.expiring, config.shown_key)
        made.write_shifted(cache, delta.pack(index), site.pages, shift.titles, site.order,
                           later.spellings if later is not None else shift.spellings, dirty, fresh_shapes, shift.gone,
                           grouped)
        state_of = functools.partial(_remember, cache, made.id, token, scanned, moment=shift.moment,
                                     until=shift.until, pages=len(site.pages), articles=len(keys), entry_keys=keys)
        return functools.partial(_finish, cache, report, state_of, len(site.pages), len(keys), photo_plan.processed,
                                 edited=True, shifted=True)

    return Made(view, templates, redo, len(keys), deps, trees, todo, keep, _any_error)


@dataclass
class _Placed:
    """A shift's site as a full build would model it (see `_placed`)."""

    order: list[delta.Shape]  # every article's Shape, in site order
    tags: dict[str, model.Tag]
    pages: list[routes.Page]
    related_key: str
    related: tuple[tuple[int, ...], ...]
    rescored: frozenset[int] | None  # the articles whose related list was made anew (model.related_changes)
    home: context.Home
    most_read: tuple[int, ...]
    index: links.Index  # the link index of these articles and pages (not attached)
    old_at: dict[str, int]  # an article's place in the last build's order, by source
    place: dict[str, int]  # its place in this one
    variants_gone: set[str]  # the output paths of the deleted articles' photo variants
    ahead_again: bool  # a draft or scheduled article links to what goes (or shows a photo that goes)


def _placed(shift: delta.Shift, before: Sequence[delta.Shape], fresh: Sequence[delta.Shape],
            ids: Sequence[frozenset[str]], config: SiteConfig, cache: Cache, scanned: inputs.Scan,
            report: Reporter, known: Collection[str], published: Sequence[tuple] = ()) -> _Placed | None:
    """The site once the shift's articles came (their Shapes `fresh`, their bodies' anchors `ids`) and went, made
    by the functions a full build runs over articles (routes, related lists, most read, home page), here over
    Shapes. None when an address is taken, or another body links to a page that goes (the full build reports
    those, and holds the article back); a draft's or scheduled article's body linking there sets `ahead_again`.
    `known`: the last build's output paths, case-folded (see routes.plan).
    `published`: the photos the articles that came publish (photos.PhotoPlan.published), for the link index."""
    gone, plan = set(shift.gone), shift.plan
    order = sorted([*(a for a in before if a.source not in gone), *fresh], key=lambda a: (a.date, a.source),
                   reverse=True)
    named = {**plan.tags, **{slug: model.Tag(name, slug) for n in shift.new for slug, name in n.checked.tag_names}}
    used = {t for a in order for t in a.tags}
    tags = {slug: tag for slug, tag in sorted(named.items()) if slug in used}
    site = model.Site(config, tuple(order), tuple(plan.categories.values()), tags, shift.until)  # type: ignore[arg-type]
    # The related articles are scored in a process of their own meanwhile (see _Related); closed on any return.
    with _Related(site, config, cache, apart=True) as related:  # type: ignore[arg-type]
        routed = Reporter(strict=report.strict)
        pages = routes.plan(site, routed, known)
        if routed.diagnostics:
            return None
        home = context.home_of(config, [(a.featured, a.pictured, a.category) for a in order], plan.menu)
        old_at = {a.source: i for i, a in enumerate(before)}
        place = {a.source: i for i, a in enumerate(order)}
        anchors = [shift.index.ids[old_at[a.source]] if a.source in old_at else frozenset() for a in order]
        for a, found in zip(fresh, ids):
            anchors[place[a.source]] = found
        index = shift.index.rebuilt(tuple((a.source, a.file, a.bundle) for a in order), anchors, pages, scanned.names,
                                    published, shift.photos_gone)
        came = {a.source for a in fresh}  # (checked as new bodies, placed anew or not: see check_links)
        linking = [a for a in order if a.links and a.source in old_at and a.source not in came]
        copies = shift.index.copies if shift.photos_gone[1] else {}
        variants = {f"{stem}-{ending}" for stem in shift.photos_gone[1] for ending in copies[stem]}
        taken = (shift.index.urls - index.urls) | variants  # (a link to a photo file was rewritten to its copy's)
        if _links_into(cache, config, plan.link_base, linking, [index.article_url[place[a.source]] for a in linking],
                       taken, links.file_names(shift.loose)):
            return None
        # (A draft or scheduled article linking to what goes: its validation ahead may fail now.)
        again = bool(shift.gone) and _later_links_into(cache, config, shift.later, taken,
                                                        [shift.index.refs[old_at[s]] for s in shift.gone])
        most_read = model.most_read(site, config.most_read)  # type: ignore[arg-type]
        related_key, lists, rescored = related.result()
    return _Placed(order, tags, pages, related_key, lists, rescored, home, most_read, index, old_at, place, variants,
                   again)


def _pictured(a: model.Article, infos: Mapping[str, Any]) -> bool:
    """Whether an article's entry has a photo (Entry.image: templates.entry_maker), given its photos' infos."""
    return bool((a.image and infos.get(a.image.src)) or any(infos.get(p.src) for p in a.photos))


def _claimed(cache: Cache, config: SiteConfig, drafts: Sequence[str], paths: set[str]) -> bool:
    """Whether one of the `drafts` (by source) wants one of `paths` (output paths, case-folded: the pages a shift
    adds) for its own pages: its validation ahead (build.ahead) would then find the address taken."""
    if not drafts or not paths:
        return False
    rows = cache.get_many("docs", list(drafts))
    for source in drafts:
        a = rows[source][2].article if source in rows else None
        if a is None or any(p.path.casefold() in paths for p in routes.article_pages(a, 0, config.permalink)):
            return True
    return False


def _compared(pages: Sequence[routes.Page], before: Sequence[delta.Shape], fresh: Sequence[delta.Shape],
              gone: set[str]) -> set[str]:
    """The pages whose variables a shift may change (their `page_signature` is compared, see Deps.shifted): those
    made from the whole site, and those of a listing an article joins or leaves (routes.listings). The other
    listings' pages show the same articles as before, and an article's own pages keep theirs while it stays."""
    touched = set().union(*(routes.listings(a) for a in (*fresh, *(a for a in before if a.source in gone))))
    return {p.path for p in pages if p.kind not in context.OWN_ARTICLE
            and ((key := routes.listing_of(p)) is None or key in touched)}


def _signatures(cache: Cache, plan: delta.Plan, before: Sequence[delta.Shape], compared: set[str],
                grouped: Mapping[str, str]) -> dict[str, str]:
    """What the variables of the last build's pages `compared` were made from (context.page_signature), by its
    `plan`; `grouped`: that plan's pages and their groups (delta.groups_at)."""
    sources, blocks = [a.source for a in before], context.home_blocks(plan.home, plan.menu)
    return {p.path: context.page_signature(p, sources, blocks)
            for p in delta.pages_at(cache, compared & grouped.keys(), sources, grouped)}


def _same_lists(site: _Placed) -> set[str]:
    """The related lists (by name, see context.site_list) that hold the same articles as in the last build: those
    of the articles that were there and whose list was not made anew (model.related_changes keeps the others'
    articles): most of them, and their keys stand."""
    if site.rescored is None:
        return set()
    old_at, rescored = site.old_at, site.rescored
    return {"related:" + a.source for i, a in enumerate(site.order) if i not in rescored and a.source in old_at}


def _links_into(cache: Cache, config: SiteConfig, base: str, linking: Sequence[delta.Shape],
                page_urls: Sequence[str], urls: set[str], names: Collection[str] = ()) -> bool:
    """Whether a body of the articles `linking` (published at `page_urls`, their link checks kept under the link
    index's key `base`) links to one of `urls` (the site-relative addresses a shift takes away): by address,
    relative or not, or by content path (rewritten to the address it led to); or names one of `names`
    (links.names_file: files that come under content/ publishing nothing, which a relative link read by its
    address until now may lead to). True too when a check is not in the cache."""
    if not urls and not names:
        return False
    for start in range(0, len(linking), _LINKING_SLICE):  # (a slice at a time: not every check of an archive at once)
        keys = [digest_text(f"{a.markup}\0{a.source}\0{base}") for a in linking[start:start + _LINKING_SLICE]]
        # Each check keeps its body's link targets (bodies.check_links): the bodies themselves are not read (at
        # 10 000 articles, 3 000 of them with links, that was 0.12-0.15 s of a deletion).
        found = cache.get_many("links", keys)
        if len(found) != len(keys) or any(len(row) < 3 for row in found.values()):
            return True
        if any(links.lands_on(found[k][2], url, config, urls) or links.names_file(found[k][2], names)
               for k, url in zip(keys, page_urls[start:start + _LINKING_SLICE])):
            return True
    return False


_LINKING_SLICE = 500  # link checks read at once by _links_into


def _later_links_into(cache: Cache, config: SiteConfig, later: Sequence[str], urls: set[str],
                      gone: Sequence[tuple[str, str, bool]]) -> bool:
    """Whether a body of the drafts and scheduled articles `later` (by source: validated ahead, as if published
    now or when each falls due, see build.ahead) links to what a deletion takes away: one of `urls` (site-relative
    addresses), or the file of one of the articles `gone` ((source, file, bundle): links.Index.refs), by any link
    naming that file, or its bundle's folder (their bodies as the cache keeps them are not yet rewritten: a link
    by content path is read as written, so any that could lead there counts), or by showing a photo file that is
    no longer there. True too when it cannot be told: its body gone from the cache."""
    if not later or not (urls or gone):
        return False
    rows = cache.get_many("docs", list(later))
    drafts = [rows[source][2].article if source in rows else None for source in later]
    if any(a is None for a in drafts):
        return True
    urls_of = [routes.article_url(a, config.permalink) for a in drafts]
    # A body's key names its photos as its validation ahead found them (build.ahead: photos.plan at its address,
    # one plan over them all, not one a draft: each reads and saves the image cache's index), and each photo must
    # still be there: one that went with a deleted bundle is now missing.
    if not all(isinstance(f, Path) and f.is_file() or f is None for a in drafts for f in photos.refs_of(a, config)):
        return True
    infos = photos.plan(tuple(drafts), urls_of, config, Reporter()).infos
    keys = [(markup_job(a, mine, config.raw_html == "safe")[0], url) for a, mine, url in zip(drafts, infos, urls_of)]
    bodies = cache.get_many("markup", {k for k, _ in keys})
    names = links.file_names(os.path.dirname(file) if bundle else file for _, file, bundle in gone)
    for k, url in keys:
        if k not in bodies:
            return True
        targets = tuple(links.hrefs(bodies[k]))
        if links.lands_on(targets, url, config, urls) or links.names_file(targets, names):
            return True
    return False


def _keep_fragments(deps: dependencies.Deps, templates: Templates, scanned: inputs.Scan, whole: bool) -> None:
    """Memoised fragments from earlier builds, for the render to take where they still hold (Deps.fragments):
    kept for the templates, code and settings they were made with (inputs.Scan.outside, and the templates'
    contents themselves), never across a change of any of them."""
    if scanned.outside:
        templates.keep_fragments(*deps.fragments(digest_text(f"{scanned.outside}\0{templates.sources_key()}"),
                                                 tidy=whole))


def repair(cache: Cache, report: Reporter, repaired: bool) -> None:
    """Drop the rows the render found unreadable (templates.Unreadable: CACHE002 problems, named by their key) and
    the link checks that may point at them, then start the build again (once: a second time, report them)."""
    damaged = [d for d in report.diagnostics if d.code == "CACHE002" and d.severity == "error"]
    if not damaged:
        return
    if repaired:  # the rows were made again and still cannot be read: say so, with the article
        report.diagnostics[:] = [replace(d, path=".sitegen/cache", message=f"HTML của bài {d.message.rsplit(': ', 1)[-1]} "
                                         "không đọc lại được từ bộ nhớ đệm", hint="xóa thư mục .sitegen/cache rồi dựng lại")
                                 if d in damaged else d for d in report.diagnostics]
        return
    cache.delete("markup", [d.path for d in damaged])
    cache.delete("bodies", [d.path for d in damaged])
    cache.put_many("links", {}, replace_all=True)  # link checks name their rewritten HTML: make them again
    raise Repaired()


def _remember_trees(cache: Cache, done: Published) -> None:
    """What the output trees hold: only the new tree's row is written (the other tree is the one that was live,
    whose row the cache holds already, unless files were deleted from it by hand), and every other row is
    dropped."""
    cache.put_many("trees", {k: done.trees[k] for k in (done.token, PUBLISHED + done.token, DELTA, done.relisted)
                             if k in done.trees})
    cache.retain("trees", set(done.trees))
    done.trees = {}


def _deps(cache: Cache, token: str, warm: Warm, folder: Path | None, read: dict | None = None) -> dependencies.Deps:
    """What the last build's pages read (`read`: its rows, if read already), with the key-number maps a preview
    keeps between builds (in memory only: on disk, a build lets go of them before saving, see Deps.update)."""
    deps = dependencies.Deps.load(cache, token, read)
    if folder is None:
        deps.kept_ids = warm.ids
    return deps


def trees_of(cache: Cache) -> dict:
    """What each output tree holds (write.Staging's `known`)."""
    return cache.all("trees")


# What a build with changes reads first, whatever changed (edited, shifted, delta.prepare): read ahead while its walk
# runs apart (cache.ReadAhead), in the order the build takes them.
READ_FIRST = (delta.last_state, delta.plan_head, delta.linked, dependencies.Deps.rows_of, trees_of, delta.shapes_of)


def _old_entries(cache: Cache) -> Callable[[str], Entry | None]:
    """An entry as an earlier build left it in the `entries` table, by its digest (None if gone)."""
    stored = cache.reader("entries")

    def get(digest: str) -> Entry | None:
        found = stored.get(digest)
        return found[0] if found else None

    return get


def _findings_of(diagnostics: Sequence[Diagnostic], unpublished: delta.Drafts, gone: Collection[str] = ()
                 ) -> list[Diagnostic]:
    """What the last build found of the unpublished files (and of those `gone`): what build.unpublished finds of
    them again replaces."""
    mine = unpublished.sources.union(gone)
    return [d for d in diagnostics if d.path in mine]


def _remember_unpublished(cache: Cache, found: unpublished.Found) -> None:
    """The `docs` rows of the unpublished files as build.unpublished found them (a held draft has none)."""
    cache.put_many("docs", found.docs)
    cache.delete("docs", found.dropped)


def _remember_entries(cache: Cache, entries: Sequence[Entry], infos: Sequence[dict], keys: list[str]) -> None:
    """Keep what templates saw of each article, for edit builds and for the next build's check of what changed
    (only the entries the table lacks are written, pickled one at a time as they are written)."""
    present = cache.has_many("entries", keys)
    cache.put_many("entries", ((k, (replace(e, bodies=None), mine)) for k, e, mine in zip(keys, entries, infos)
                               if k not in present))
    cache.prune("entries", set(keys))


def _remember(cache: Cache, plan: str, token: str, scanned: inputs.Scan, read_inputs: str, moment: dt.datetime,
              until: dt.datetime | None, pages: int, articles: int, files: int, entry_keys: list[str],
              diagnostics: list[Diagnostic], editable: bool = True) -> None:
    """What the next build needs to know of this one: to skip (no change at all) or to be an edit build (not
    after a build that held back anything but drafts: holding is the full build's work, see
    hold.Holding.only_drafts)."""
    state = delta.State(plan, token, scanned.settled(), "\0".join(entry_keys), tuple(diagnostics), moment,
                        len(scanned.files))
    remembered: dict[str, Any] = {"state": state if editable else None}
    if read_inputs:
        remembered["outcome"] = inputs.Outcome(read_inputs, token, until, pages, articles, files, tuple(diagnostics),
                                               moment)
    cache.put_many("meta", remembered)


@contextmanager
def _write_errors(config: SiteConfig) -> Iterator[None]:
    """A full disk or a read-only folder is reported like any other problem (the live site is untouched)."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or config.output_dir
        raise BuildFailed([Diagnostic(str(where), 0, 0, "WRITE001", "error", f"không ghi được: {exc.strerror or exc}",
                                      "kiểm tra dung lượng đĩa và quyền ghi thư mục xuất")]) from None


class _Related:
    """Each article's related articles, which depend only on dates, tags and categories: reused while those stay the
    same, else scored again for the articles whose neighbourhood changed (model.related_changes). `apart`: found in
    a forked process while the caller goes on (workers.Later; a shift makes its routes and link index meanwhile,
    at 10 000 articles 0.14 s against 0.11 s for the related articles' lines and scores). `result()`: their key,
    the related articles of each article, and the positions of those scored anew (see model.related_changes);
    `close()` when it is not asked for."""

    def __init__(self, site: model.Site, config: SiteConfig, cache: Cache, apart: bool = False):
        self.site, self.count, self.cache = site, config.related, cache
        known = cache.get_many("meta", ["related_key"]).get("related_key")  # (meta: never pruned)
        # The last state (1.75 MB at 10 000 articles, 15-20 ms to read) is read where the scoring runs: apart,
        # that is off this process's way (a reader opens its own connection in the forked process).
        meta = cache.reader("meta")
        self.scored = workers.Later(lambda: _related_scored(site, self.count, known, _related_state(meta)), apart)

    def result(self) -> tuple[str, tuple[tuple[int, ...], ...], frozenset[int] | None]:
        key, found, rescored = self.scored.result()
        if found is None:  # the key of the lists the cache holds
            remembered = self.cache.get_many("meta", ["related"]).get("related")
            if remembered is not None and remembered[0] == key:
                return key, remembered[1], frozenset()
            key, found, rescored = _related_scored(self.site, self.count, None,
                                                   _related_state(self.cache.reader("meta")))
        assert found is not None
        self.cache.put_many("meta", {"related": (key, found.lists), "related_state": found, "related_key": key})
        return key, found.lists, rescored

    def close(self) -> None:
        self.scored.close()

    def __enter__(self) -> "_Related":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _related_state(meta: Any) -> model.Related | None:
    """The related articles' state the last build left (meta: never pruned), or None when there is none or it has
    another shape (a development build's)."""
    try:
        previous = meta.get("related_state")
    except sqlite3.Error:  # (the cache is never fatal: scored anew)
        return None
    return previous if isinstance(getattr(previous, "rows", None), str) else None


def _related_scored(site: model.Site, count: int, known: str | None, previous: model.Related | None,
                    ) -> tuple[str, model.Related | None, frozenset[int] | None]:
    """(The key of what the related articles are made from, the related articles, the positions scored anew), or
    (that key, None, None) when it is `known`: the lists the cache holds."""
    lines = model.related_lines(site.articles)
    key = digest_text(f"related {count}\0" + "\n".join(lines))
    if key == known:
        return key, None, None
    found, rescored = model.related_changes(site, count, previous=previous, lines=lines)
    return key, found, rescored
