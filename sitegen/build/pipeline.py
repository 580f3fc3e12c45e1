"""The whole build in one screen, the same for every build (full, edit, addition, deletion, preview save, check):

    what changed (inputs.scan, or the preview's watcher)  -- nothing: the last build's result stands
    -> model: `stages.edited` (the last build's plan, a few articles' text read again; see delta),
              `stages.shifted` (that plan with articles added or deleted among every article's shape),
              or `stages.whole` (load, hold back, routes, photos, bodies, links, entries, related; each from the cache
              where its inputs did not change), then which pages read something that changed (dependencies)
    -> `stages.publish`: render those pages into the spare tree, carry the rest over, index, swap atomically,
       and remember (`stages.Made.keep`) what the next build needs to know what changed

Nothing is published unless every stage succeeded (an article with errors of its own is held back, see hold),
so a bad article leaves the previous site untouched."""

from __future__ import annotations

import datetime as dt
import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterator

from . import hold, inputs, workers
from .cache import ON_DISK, Cache, ReadAhead, ReadHere, Rows, load_memory, save_memory
from ..config import SiteConfig
from ..content import discovery
from ..content.discovery import Discovered, Listing
from ..diagnostics import BuildFailed, Diagnostic, Reporter
from .result import BuildResult, Clock, Elsewhere, Repaired
from .write import Staging, WriteStats, missing, output_token, recover

if TYPE_CHECKING:
    from .pages import Progress
    from ..render.templates import Templates

__all__ = ["BuildResult", "Warm", "build", "ready_spare"]


@dataclass
class Warm:
    """What a long-running preview keeps between builds so that a save re-does only what it changed. Everything
    here was derived under one configuration, so all of it is dropped when the configuration changes."""

    tables: dict = field(default_factory=dict)  # the build cache's tables, in memory instead of on disk
    entries: dict = field(default_factory=dict)  # what templates see of each article, by its inputs
    digests: dict = field(default_factory=dict)  # those entries' digests (dependencies.Deps.kept_digests)
    ids: dict = field(default_factory=dict)  # the dependency records' key numbers (dependencies.Deps.kept_ids)
    paths: Any = None  # symlink-free paths for the link check (stages.paths_of)
    templates: Templates | None = None  # the Jinja environment: unchanged templates stay compiled
    walk: tuple | None = None  # the last inputs.scan (with its content listing), for inputs.rescan
    unpacked: dict = field(default_factory=dict)  # the plan's link index, unpickled (see delta.prepare)
    salt: str = ""
    # Where `tables` are saved (`persist`) and read back from when the preview starts again (`restore`): its
    # first build then catches up from what the last run made instead of from nothing (cache.save_memory).
    cache_dir: Path | None = None
    journal: dict = field(default_factory=dict)  # the rows of `tables` changed since they were last saved
    saved: str | None = None  # the id of the save `tables` were read from, or last saved as
    placed: frozenset | None = None  # the tables the last build kept in the file, not in `tables` (Cache.on_disk)
    restored: bool = False
    on_disk: frozenset = ON_DISK  # the tables to keep in that file, not in `tables` (cache.ON_DISK, cache.BULK)

    def for_config(self, fingerprint: str) -> "Warm":
        if fingerprint != self.salt:
            self.__init__(salt=fingerprint, cache_dir=self.cache_dir, on_disk=self.on_disk)  # type: ignore[misc]
        return self

    def restore(self) -> None:
        """Once, before the first build: the tables as the last run saved them (for this configuration)."""
        if self.cache_dir is None or self.restored or self.tables:
            return
        self.restored = True
        found = load_memory(self.cache_dir, self.salt, self.on_disk)
        if found is not None:
            self.tables, self.saved, self.placed = *found, self.on_disk

    def read_back(self) -> None:
        """The tables as a build elsewhere (preview.apart) just left them in `cache_dir`, in place of these."""
        self.tables, self.restored = {}, False
        self.restore()

    def persist(self, cancel: Callable[[], bool] | None = None) -> bool:
        """Save what changed in `tables` since the last save (between builds). False when nothing was saved
        (`cancel()` said stop, or the disk would not take it): the journal then stays for the next time."""
        if self.cache_dir is None or not self.salt or (not self.journal and self.saved is not None):
            return False
        saved = save_memory(self.cache_dir, self.salt, self.tables, self.journal, self.saved, cancel, self.on_disk)
        if saved is None:
            return False
        self.saved, self.journal = saved, {}
        return True


def build(config: SiteConfig, **options: Any) -> BuildResult:
    """Build the site (see `_build` for the options). A damaged row of the build cache found while rendering is
    dropped and the build runs once more, making that row again: the cache is never fatal, nor a stale page."""
    frozen = gc.get_freeze_count()
    try:
        try:
            return _build(config, **options, let_go=frozen == 0)
        except Repaired:
            return _build(config, **options, repaired=True, let_go=frozen == 0)
    finally:
        # What the build froze (_uncollected) it lets go of: frozen, a cycle is never collected, nor anything it
        # holds. Unless objects were frozen before it began: gc.unfreeze() cannot tell whose they are, and the
        # preview, which freezes its warm model between builds, settles what its builds froze (Preview.settle).
        if frozen == 0:
            gc.unfreeze()


def _build(config: SiteConfig, *, drafts: bool = False, strict: bool = False, now: dt.datetime | None = None,
           publish: bool = True, jobs: int | None = None, use_cache: bool = True, warm: Warm | None = None,
           search_later: bool = False, cancel: Callable[[], bool] | None = None, stats_from: str | None = None,
           progress: Progress | None = None, changed: Collection[str] | None = None, render: bool = True,
           repaired: bool = False, cache_dir: Path | None = None,
           whole_here: Callable[[], bool] | None = None, let_go: bool = True) -> BuildResult:
    """Build the site into config.output_dir. Raises BuildFailed (with every problem found) on errors.

    The preview server passes `warm` (kept between its builds: the cache then lives there, not on disk),
    `changed`, the files its watcher saw modified since its last build (so that a save need not walk the whole
    site), and on a save `search_later`: a search shard to index again does not hold the page back (the live
    index is published as it was, `BuildResult.search_pending` says so); the build that then indexes, once the
    editor pauses, gets `cancel`, asked while Pagefind runs: True stops the build (result.Cancelled).
    `progress(stage, done, total)` hears about long stages (the CLI draws a bar or prints lines).
    `whole_here()`: asked before the site's whole model is made or placed anew (anything but an edit build); False
    raises result.Elsewhere with nothing written (a preview short of memory then builds in a process of its own).
    `render=False` (with `publish=False`) validates the content without running the templates. `cache_dir`: where
    the cache on disk is, when not in .sitegen/cache (a preview's first build, see preview.apart). `let_go`: whether
    every object frozen (gc.freeze) is this build's, to unfreeze once its model is garbage (see `build`).
    """
    report, clock = Reporter(strict=strict), Clock()
    walk: _Walk | None = None
    ahead: ReadAhead | ReadHere = ReadHere()
    folder = (cache_dir or config.root / ".sitegen" / "cache") if use_cache and warm is None else None
    warm = (warm or Warm()).for_config(config.fingerprint)
    warm.restore()
    cache = _cache(config, warm, folder)
    if repaired:
        report.warning("CACHE002", ".sitegen/cache", 0, "bộ nhớ đệm có dòng hỏng (HTML của bài không đọc lại được): "
                       "đã bỏ và làm lại", "không cần làm gì; nếu lặp lại, kiểm tra ổ đĩa")
    if cache.unusable:  # a site without photos would otherwise say nothing of a cache it cannot use
        report.warning("CACHE001", ".sitegen/cache", 0,
                       f"không dùng được bộ nhớ đệm ({cache.unusable}): mỗi lần dựng sẽ làm lại mọi thứ",
                       "cấp quyền ghi cho .sitegen/cache (hoặc xóa thư mục đó để sitegen tạo lại)")
    try:
        if publish:
            recover(config.output_dir)  # a run killed mid-publish left public/ renamed: put it back first
        # A build from the cache on disk, with inputs equal to the last successful one's, would render and
        # write nothing: answer with that build's result instead (the preview has its own, finer, memory).
        ask_inputs = publish and folder is not None and not stats_from
        flags = (drafts, strict, publish)
        walked = inputs.rescan(warm.walk[:2], changed) if warm.walk and warm.walk[2] == flags else None
        with _uncollected():
            if walked is None:
                walk = _Walk(config, flags, cache if folder is not None else None, publish)
                if walk.apart is not None:
                    # (The walk runs apart: load the stages meanwhile, then read what a build with changes reads
                    # first, for as long as the walk goes on and no longer: see cache.ReadAhead.)
                    ahead = _read_ahead(cache, walk)
                walked = walk.result()
            scanned, listing = walked
        if folder is None:
            warm.walk = (scanned, listing, flags)
        read_inputs = scanned.key if ask_inputs else ""
        last = cache.get_many("meta", ["outcome"]).get("outcome") if ask_inputs else None
        moment = now or dt.datetime.now(config.tz)
        if now is None and publish and folder is not None:
            _check_clock(cache, moment, config)
        token = output_token(config.output_dir)
        # Files of the live tree deleted by hand since it was published are made again by a full build (see
        # write.missing), which a build that changed nothing, or only a few articles, would not do.
        if ask_inputs and inputs.unchanged(last, read_inputs, token, moment) and not (walk is not None and walk.lost()):
            report.extend(last.diagnostics)
            clock.lap("check")
            return BuildResult(report.diagnostics, last.pages, last.articles, WriteStats(unchanged=last.files),
                               0, clock.laps, skipped=True, held=hold.held_paths(last.diagnostics))
        from . import delta, stages  # (already loaded beside a walk apart, see _read_ahead; else only now)

        jobs = jobs or workers.default_jobs()

        # The model: from the last build's plan when only the text of some articles changed (see delta), else
        # from every validated file. Either way the same render, write and remember follow.
        edit = None
        if publish and not stats_from:
            with _uncollected():
                edit = delta.prepare(cache, scanned, token, moment, config, strict,
                                     warm.unpacked if folder is None else None, listing, ahead, drafts)
            if edit is not None and walk is not None and walk.lost():
                edit = None  # (files of the live tree deleted by hand: the full build makes them again)
            if isinstance(edit, delta.Edit) and walk is not None:
                walk.close()  # (an edit build needs no discovery: the walk's process, waiting to answer, ends now)
        # What was published was decided for this moment: a kept version dated after it never went out (hold);
        # the clock's own reading, for _check_clock.
        meta = {"published_at": moment, **({"clock": moment} if now is None else {})}
        if edit is not None:
            result = None
            if isinstance(edit, delta.Shift) and whole_here is not None and not whole_here():
                # (A shift places every article anew: the preview, short of memory for the whole model, is not
                # told how much less it needs, and builds it apart as it does the whole model.)
                raise Elsewhere()
            try:
                model = stages.shifted if isinstance(edit, delta.Shift) else stages.edited
                with _uncollected():
                    made = model(edit, config, cache, warm, folder, scanned, report, clock,  # type: ignore[arg-type]
                                 jobs, ahead)
                if made is not None:
                    result = stages.publish(made, config, cache, report, clock, jobs, progress, repaired,
                                            read_inputs, meta, search_later, cancel, let_go)
            except delta.Missing as gone:
                cache.put_many(gone.table, {}, replace_all=True)  # damaged: the full build writes it anew
            if result is not None:
                return result
            report = Reporter(strict=strict)  # the edit gave up before writing anything: start again in full
        ahead.close()  # (what it read serves no full build)
        if whole_here is not None and not whole_here():
            raise Elsewhere()
        lost = walk.lost() if walk is not None else ()
        made = stages.whole(config, cache, warm, folder, scanned, listing, report, clock, jobs, moment, token,
                            drafts, strict, publish, stats_from, progress, lost)
        del listing  # it served discovery; at 100 000 articles it is 100 MB
        if folder is not None:
            del warm  # this build's own (entries, templates): the model is let go of before the search (stages)
        if not publish or made.errors_left(report.diagnostics):
            # Checking, or failing: the templates still run, so that one run lists every problem there is.
            if render or publish:
                stages.render_only(made, cache, report, jobs, progress, repaired)
            if made.errors_left(report.diagnostics):
                raise BuildFailed(report.diagnostics)
            return BuildResult(report.diagnostics, len(made.pages), made.articles, WriteStats(), len(made.pages),
                               clock.laps, made.photos_processed, held=hold.held_paths(report.diagnostics))
        result = stages.publish(made, config, cache, report, clock, jobs, progress, repaired, read_inputs, meta,
                                search_later, cancel, let_go)
        assert result is not None  # (only an edit build gives up)
        result.restored = tuple(lost)
        return result
    finally:
        if walk is not None:
            walk.close()
        ahead.close()
        cache.close()


@contextmanager
def _uncollected() -> Iterator[None]:
    """No cyclic garbage collection while the walk and an edit's or shift's model run: they make 100 000s of
    objects that live to the end of the build (listings, shapes, pages, the link index) and almost no cycles, and
    each collection their allocations set off swept the newest of them again (two, 34 ms of an addition's 1.1 s
    at 10 000 articles). What they made is then moved out of the collector's sight (gc.freeze, as workers.stream
    does before forking, and the preview once it settles), or the first allocation after would sweep it all at
    once. Not the whole model (stages.whole), which parses every file and leaves cycles behind: without the
    collector, the cold build of 100 000 articles peaked 120 MiB higher. The render, which makes cycles (Jinja's
    contexts), collects as ever."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _read_ahead(cache: Cache, walk: _Walk) -> ReadAhead:
    """While the walk runs in a process of its own (`_Walk`): load the stages a build with changes runs (0.15 s at
    10 000 articles), then read the rows of the cache such a build reads first (stages.READ_FIRST: 0.15 s more,
    the link index unpickled, what pages read, every article's Shape), until the walk answers. On two cores such
    a build then has them for nothing, or for less. One without changes loses a little: the walk beside the
    loading takes longer than alone, and the read under way when the walk answers is finished (at most the
    link index's, 0.04 s), and holds what was read until then: no more than a share of the free memory."""
    from . import stages
    ahead = ReadAhead(cache, stages.READ_FIRST)
    free = workers.free_memory()
    # (At 10 000 articles the reads hold some 64 MiB, at 100 000 ten times that: on a machine or in a cgroup
    # with little to spare, a build with nothing to do must not need more than its own work does.)
    ahead.fill(walk.ready, free // READ_AHEAD_SHARE if free is not None else None, workers.resident_memory)
    return ahead


READ_AHEAD_SHARE = 4  # the read-ahead stops once it holds a quarter of the memory free when it began


class _Walk:
    """The walk of every input (inputs.scan), started when made; `result()` gives what it saw (the Scan, and what
    it listed of content/, for discovery). With the cache on disk (a command-line build) it runs in a forked
    process (workers.Aside) while this one loads the stages that follow: at 10 000 articles each takes some
    0.15 s, and on two cores the build waits for the longer, not for both. That process answers with the Scan
    first, then with discovery's answer (discovery.Pending: asked for only by a build with changes), never with the
    listing itself (2.6 MB pickled at 10 000 articles). A preview keeps its listing for its next walk
    (inputs.rescan), and walks in its own process.

    The walk is given the folders the last one listed (kept in the cache on disk; a preview keeps its whole walk);
    what this one listed is kept for the next, whatever the build's fate (a listing is true of the folder's stat,
    not of a build). Kept in the rows of WALK, by stamp line: an article added or deleted changes the rows of the
    folders it changed (the old line's and the new one's), not a row of every folder (2 MB at 10 000 articles)."""

    def __init__(self, config: SiteConfig, flags: tuple, cache: Cache | None, publish: bool = True):
        self.config, self.flags, self.cache = config, flags, cache
        # What each output tree holds, to find the live tree's files deleted by hand (write.missing), for a build
        # that publishes with the cache on disk (a preview keeps its own walk, see inputs.rescan).
        self.manifests = cache.reader("trees") if cache is not None and publish else None
        self._lost: tuple[str, ...] | None = None
        self.rows = cache.get_many("meta", WALK.names()) if cache is not None else {}
        self.known: inputs.Folders | None = {}
        for row in self.rows.values():
            if isinstance(row, dict):
                self.known.update(row)  # type: ignore[union-attr]
            else:
                self.known = None  # (a row of another shape: every folder is listed, and every row written)
                break
        aside = workers.Aside(self._answers) if cache is not None else None
        self.apart = aside if aside is not None and aside.started else None  # (None: walked here)
        # The output is looked at in a process of its own too: beside the walk's it costs a share of the cores (at
        # 10 000 articles 60-90 ms, a stat of each of the live tree's 15 600 folders: see write.missing); after the
        # walk, in its process, it added 45 ms, as discovery (a shift's first need) or the answer to a build
        # without changes then waited.
        self.checker = workers.Aside(lambda: iter((self._missing(),))) \
            if self.apart is not None and self.manifests is not None else None

    def _scan(self) -> tuple[inputs.Scan, Listing, dict[str, inputs.Folders]]:
        """The walk, and the rows of kept folders it changed."""
        folders: inputs.Folders = {}
        scanned, listing = inputs.scan(self.config, self.flags, self.known or None, folders)
        now = WALK.named(WALK.split(folders.items()))
        return scanned, listing, {name: row for name, row in now.items() if self.rows.get(name) != row}

    def _missing(self) -> tuple[str, ...]:
        return missing(self.config.output_dir, self.manifests.get) if self.manifests is not None else ()

    def _answers(self) -> Iterator[object]:
        """What the walk's process answers (see workers.Aside), in the order it is needed."""
        scanned, listing, changed = self._scan()
        yield scanned, changed
        report = Reporter()
        files = discovery.discover(self.config.root, self.config.content_dir, report, listing)
        yield Discovered(files, report.diagnostics)

    def ready(self) -> bool:
        """Whether `result()` would not wait for the walk's process."""
        return self.apart is None or self.apart.ready()

    def result(self) -> tuple[inputs.Scan, Listing | discovery.Pending]:
        first = self.apart.next() if self.apart is not None else None
        if first is not None:
            (scanned, changed), listing = first, discovery.Pending(self._discovered)  # type: ignore[misc]
        else:  # (walked here: a preview, one core, or the walk's process gave no answer)
            scanned, listing, changed = self._scan()
            self._lost = self._missing()
        if self.cache is not None:
            self.cache.put_many("meta", changed)
        return scanned, listing

    def lost(self) -> tuple[str, ...]:
        """The files of the live output tree deleted by hand since it was published (write.missing), asked after
        `result()`."""
        if self._lost is None:
            answer = self.checker.next() if self.checker is not None else None
            self._lost = answer if isinstance(answer, tuple) else self._missing()
            if self.checker is not None:
                self.checker.close()
        return self._lost

    def _discovered(self) -> Discovered | None:
        assert self.apart is not None
        found = self.apart.next()
        self.apart.close(wait=False)  # (its last answer: reaped by `close()`, once the build is done)
        return found if isinstance(found, Discovered) else None

    def close(self) -> None:
        """End the walk's process, if any (a build without changes never asks for discovery's answer), and the
        output's."""
        if self.apart is not None:
            self.apart.close()
        if self.checker is not None:
            self.checker.close()


WALK = Rows("walk", 64)  # the rows of the walk's kept listings (`_Walk`), each folder's by its stamp line


def _cache(config: SiteConfig, warm: Warm, folder: Path | None = None) -> Cache:
    """The build cache on disk in `folder`, or (None) the one a preview keeps in `warm`, whose changes its journal
    hears of when the preview saves it (Warm.persist): with somewhere to save it, its per-article tables are in
    that file, not in memory (Warm.on_disk)."""
    if folder is not None:
        return Cache(folder, config.fingerprint)
    cache = Cache(warm.cache_dir, config.fingerprint, warm.tables, durable=False,
                  journal=warm.journal if warm.cache_dir is not None else None, on_disk=warm.on_disk)
    if warm.placed is not None and warm.placed != cache.on_disk:
        # The file could be opened last time and not now, or the other way round: the memory tables vouch for
        # rows (the deps head for the page records, the state for the plan) that are now elsewhere, older or
        # missing. Nothing is trusted then: the tables start afresh, and this build is a full one.
        warm.tables.clear()
        warm.journal.clear()
        warm.saved = None
    warm.placed = cache.on_disk
    return cache


def ready_spare(config: SiteConfig, warm: Warm, cancel: Callable[[], bool]) -> bool:
    """Between a preview's builds, once the editor pauses after a build that changed many files: the spare output
    tree made what the live one holds (write.Staging.mirror), so that the next save links only what it changes.
    False when cancelled (a save came: it is built first) or not possible (nothing published yet)."""
    if warm.salt != config.fingerprint or not config.output_dir.is_dir():
        return False  # (the configuration changed since: the next build starts afresh anyway)
    cache = _cache(config, warm)
    try:
        trees = cache.all("trees")
        if not trees.get(output_token(config.output_dir)):
            return False  # what the live tree holds is not known: the spare is left as it is
        remembered = Staging(config.output_dir, trees).mirror(cancel)
        if remembered is None:
            return False
        cache.put_many("trees", remembered)
        cache.retain("trees", set(remembered))
        return True
    finally:
        cache.close()


# How far the clock may step back between two builds (NTP corrections, a VM resumed) before the build refuses.
CLOCK_SLACK = dt.timedelta(minutes=10)


def _check_clock(cache: Cache, moment: dt.datetime, config: SiteConfig) -> None:
    """A clock set backwards would unpublish every article dated after it, silently (at -31 years: "0 bài"). The
    last build's time is known: a clock well before it stops the build, and says why."""
    last = cache.get_many("meta", ["clock"]).get("clock")
    if isinstance(last, dt.datetime) and moment < last - CLOCK_SLACK:
        shown = "%d/%m/%Y %H:%M"
        raise BuildFailed([Diagnostic(
            "", 0, 0, "CLOCK001", "error",
            f"đồng hồ của máy đang chỉ {moment.astimezone(config.tz).strftime(shown)}, sớm hơn lần dựng trước "
            f"({last.astimezone(config.tz).strftime(shown)}): dựng lúc này sẽ gỡ mọi bài đăng sau giờ đó",
            "chỉnh lại giờ của máy (timedatectl, NTP) rồi dựng lại; nếu giờ của lần dựng trước mới là giờ sai, "
            "xóa thư mục .sitegen/cache")])
