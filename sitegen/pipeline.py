"""The whole build in one screen: load -> model -> routes -> render -> write. Nothing is published unless
every stage succeeded, so a bad article leaves the previous site untouched."""

from __future__ import annotations

import datetime as dt
import functools
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import context, inputs, links, model, photos, read, routes, search, stats, workers
from .cache import Cache, digest_text
from .config import SiteConfig
from .diagnostics import BuildFailed, Diagnostic, Reporter
from .markup import BodyInfo, MarkupOptions, Renderer
from .render import Templates, make_entries
from .write import Staging, WriteStats, output_token, recover


@dataclass
class BuildResult:
    diagnostics: list[Diagnostic]
    pages: int
    articles: int
    stats: WriteStats
    rendered: int = 0  # pages whose template ran (the rest were unchanged and carried over)
    timings: dict[str, float] = field(default_factory=dict)
    photos_processed: int = 0  # photos decoded this build (0 when every variant came from the image cache)
    skipped: bool = False  # nothing read had changed since the last build: its output stands as it was


@dataclass
class Warm:
    """What a long-running preview keeps between builds so that a save re-does only what it changed. Everything
    here was derived under one configuration, so all of it is dropped when the configuration changes."""

    tables: dict = field(default_factory=dict)  # the build cache's tables, in memory instead of on disk
    entries: dict = field(default_factory=dict)  # what templates see of each article, by its inputs
    paths: Any = field(default_factory=links.real_paths)  # symlink-free paths for the link check
    templates: Templates | None = None  # the Jinja environment: unchanged templates stay compiled
    salt: str = ""

    def for_config(self, fingerprint: str) -> "Warm":
        if fingerprint != self.salt:
            self.__init__(salt=fingerprint)  # type: ignore[misc]
        return self

    def templates_for(self, config: SiteConfig, cache_folder: Path | None) -> Templates:
        if self.templates is None:
            jinja_dir = cache_folder / "jinja" if cache_folder is not None else None
            if jinja_dir is not None:
                try:
                    jinja_dir.mkdir(parents=True, exist_ok=True)
                except OSError:
                    jinja_dir = None
            self.templates = Templates(config, jinja_dir)
        self.templates.begin_build()  # Jinja itself notices changed template files
        return self.templates


def build(config: SiteConfig, *, drafts: bool = False, strict: bool = False, now: dt.datetime | None = None,
          publish: bool = True, jobs: int | None = None, use_cache: bool = True, warm: Warm | None = None,
          fresh_search: bool = True, stats_from: str | None = None, progress: Progress | None = None) -> BuildResult:
    """Build the site into config.output_dir. Raises BuildFailed (with every problem found) on errors.

    The preview server passes `warm` (kept between its builds: the cache then lives there, not on disk),
    and `fresh_search=False` to reuse the live search index instead of re-indexing on every save.
    `progress(stage, done, total)` hears about long stages (the CLI draws a bar or prints lines).
    """
    report, clock, jobs = Reporter(strict=strict), _Clock(), jobs or workers.default_jobs()
    folder = config.root / ".sitegen" / "cache" if use_cache and warm is None else None
    warm = (warm or Warm()).for_config(config.fingerprint)
    cache = Cache(folder, config.fingerprint, warm.tables if folder is None else None)
    try:
        if publish:
            recover(config.output_dir)  # a run killed mid-publish left public/ renamed: put it back first
        # A build from the cache on disk, with inputs equal to the last successful one's, would render and
        # write nothing: answer with that build's result instead (the preview has its own, finer, memory).
        ask_inputs = publish and folder is not None and not stats_from
        scanned, listing = inputs.scan(config, (drafts, strict, publish))
        read_inputs = scanned.key if ask_inputs else ""
        last = cache.get_many("meta", ["outcome"]).get("outcome") if ask_inputs else None
        moment = now or dt.datetime.now(config.tz)
        if ask_inputs and inputs.unchanged(last, read_inputs, output_token(config.output_dir), moment):
            report.extend(last.diagnostics)
            clock.lap("check")
            return BuildResult(report.diagnostics, last.pages, last.articles, WriteStats(unchanged=last.files),
                               0, clock.laps, skipped=True)
        known = cache.all("docs")  # path -> (stamp, bundle, model.Checked): files validated by earlier builds
        loaded = read.load_all(config.root, config.content_dir, config.max_file_bytes, report,
                               known={k: v for k, v in known.items() if model.reusable(v[2], strict)}, jobs=jobs,
                               found=read.discover(config.root, config.content_dir, report, listing),
                               convert=functools.partial(model.check, config=config, strict=strict))
        del listing  # it served discovery; at 100 000 articles it is 100 MB
        site = model.assemble([f.value for f in loaded], config, report, drafts=drafts, now=moment)
        if stats_from:  # readers' figures from the collector (`--stats`), added to the front matter ones
            site = stats.apply(site, stats.load_totals(stats_from, report))
        clock.lap("load")
        pages = routes.plan(site, report)
        urls = [p.url for p in sorted((p for p in pages if p.kind == "article"), key=lambda p: p.data["index"])]
        photo_plan = photos.plan(site.articles, urls, config, report)
        clock.lap("plan")
        report.raise_if_errors()  # nothing has been written yet
        photo_plan = photos.produce(photo_plan, config, report, jobs)  # into the image cache; bad photos left out
        clock.lap("photos")
        markup_keys, bodies = _render_bodies(site, photo_plan.infos, config, cache, jobs, progress, report)
        body_keys, link_keys = _check_links(site, markup_keys, bodies, pages, photo_plan.published, scanned.names,
                                            cache, report, warm.paths)
        clock.lap("markdown")
        entries = make_entries(site, dict(enumerate(urls)), bodies, body_keys, cache.reader("markup"),
                               photo_plan.infos, warm.entries)
        view = context.site_view(site, entries, model.most_read(site, config.most_read), _related(site, config, cache))
        templates = warm.templates_for(config, folder)
        site_key = context.global_key(view, templates.assets_key())
        prints = {p.path: context.fingerprint(p, view, templates.template_key(p.template), site_key) for p in pages}
        if not publish:
            _render_pages(pages, view, templates, report, None, jobs, progress)
            report.raise_if_errors()
            return BuildResult(report.diagnostics, len(pages), len(site.articles), WriteStats(), len(pages), clock.laps,
                               photo_plan.processed)
        with _write_errors(config), Staging(config.output_dir, cache.all("trees")) as stage:
            todo = [p for p in pages if stage.want(p.path, prints[p.path])]
            _render_pages(todo, view, templates, report, stage, jobs, progress)
            clock.lap("render")
            for src, out in photo_plan.copies:
                stage.copy_file(src, out, link=True)  # variants in the image cache are never changed in place
            for assets in config.assets_dirs:
                for file in sorted(p for p in assets.rglob("*") if p.is_file() and not p.name.startswith(".")):
                    stage.copy_file(file, "assets/" + file.relative_to(assets).as_posix())
            search.index(stage, config, report, fresh=fresh_search)  # in the spare tree: the index ships with its pages, atomically
            report.raise_if_errors()  # a template error leaves the live site as it was
            trees = stage.publish()
            clock.lap("write")
        cache.sync("docs", known, {f.path: (f.stamp, f.bundle, f.value) if f.fresh else known[f.path] for f in loaded})
        cache.put_many("trees", trees, replace_all=True)
        cache.prune("markup", set(markup_keys) | set(body_keys))
        cache.prune("bodies", set(markup_keys))
        cache.prune("links", set(link_keys))
        if read_inputs:
            files = len(trees[stage.token])
            cache.put_many("meta", {"outcome": inputs.Outcome(read_inputs, stage.token, site.next_change, len(pages),
                                                              len(site.articles), files, tuple(report.diagnostics))})
        return BuildResult(report.diagnostics, len(pages), len(site.articles), stage.stats, len(todo), clock.laps, photo_plan.processed)
    finally:
        cache.close()


@contextmanager
def _write_errors(config: SiteConfig) -> Iterator[None]:
    """A full disk or a read-only folder is reported like any other problem (the live site is untouched)."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or config.output_dir
        raise BuildFailed([Diagnostic(str(where), 0, 0, "WRITE001", "error", f"không ghi được: {exc.strerror or exc}",
                                      "kiểm tra dung lượng đĩa và quyền ghi thư mục xuất")]) from None


def _related(site: model.Site, config: SiteConfig, cache: Cache) -> tuple[tuple[int, ...], ...]:
    """Related articles depend only on dates, tags and categories: reuse them while those stay the same."""
    key = digest_text("\0".join((f"related {config.related}",
                                 *(f"{a.source}|{a.date.timestamp()}|{a.tags}|{a.category}" for a in site.articles))))
    remembered = cache.get_many("meta", ["related"]).get("related")  # meta: never pruned
    if remembered is not None and remembered[0] == key:
        return remembered[1]
    found = model.related(site, config.related)
    cache.put_many("meta", {"related": (key, found)})
    return found


def _render_bodies(site: model.Site, infos: tuple, config: SiteConfig, cache: Cache, jobs: int,
                   progress: Progress | None, report: Reporter) -> tuple[list[str], list[BodyInfo]]:
    """Markdown to HTML for every article whose source or photos changed. Returns each article's markup key
    (its HTML is in the cache's `markup` table under it) and what listings need of the body. The HTML goes
    to the cache slice by slice as workers finish and is never held for the whole site."""
    safe = config.raw_html == "safe"
    jobs_in: list[tuple[str, model.Article, dict, dict, MarkupOptions]] = []
    for a, mine in zip(site.articles, infos):
        alts = {p.src: p.alt for p in a.photos if p.alt}
        options = MarkupOptions(mark_lead=not a.summary, safe=safe)
        key = digest_text("\0".join((a.digest, repr(sorted(mine.items())) if mine else "",
                                     repr(sorted(alts.items())) if alts else "", repr(options))))
        jobs_in.append((key, a, mine, alts, options))
    keys = [j[0] for j in jobs_in]
    done: dict[str, BodyInfo] = cache.get_many("bodies", keys)
    present = cache.has_many("markup", [k for k in keys if k in done])
    todo = [j for j in jobs_in if j[0] not in present]

    def convert(start: int, stop: int) -> list[tuple[str, BodyInfo] | None]:
        renderer = Renderer()
        out: list[tuple[str, BodyInfo] | None] = []
        for _, a, mine, alts, options in todo[start:stop]:
            body = read.body_of(Path(a.file), a.digest, a.body_line)  # each worker reads its own
            if body is None:
                out.append(None)
                continue
            r = renderer.render(body, mine, alts, options)
            out.append((r.html, BodyInfo(r.lead_text, r.lead_in_body, r.has_source_line, r.words, links.anchor_ids(r.html))))
        return out

    def store(start: int, results: list[tuple[str, BodyInfo] | None]) -> None:
        html: dict[str, str] = {}
        fresh: dict[str, BodyInfo] = {}
        for (key, a, *_), r in zip(todo[start:], results):
            if r is None:  # the build fails on this error, so the stand-in below is never published
                report.error("READ005", a.source, 0, "tệp vừa thay đổi (hoặc bị xóa) trong lúc đang dựng trang",
                             "dựng lại trang khi đã lưu xong bài")
                html[key], fresh[key] = "", BodyInfo("", False, False, 0, frozenset())
            else:
                html[key], fresh[key] = r
        cache.put_many("markup", html)
        cache.put_many("bodies", fresh)
        done.update(fresh)

    workers.stream(convert, len(todo), jobs, store, max_per_slice=500, progress=_counter(progress, "markdown", len(todo)))
    return keys, [done[k] for k in keys]


def _check_links(site: model.Site, markup_keys: list[str], bodies: list[BodyInfo], pages: list[routes.Page],
                 published: Any, names: str, cache: Cache, report: Reporter, paths: Any) -> tuple[list[str], list[str]]:
    """Check and rewrite every body's links (links.check), reusing each unchanged body's result while nothing
    it could point at changed. Returns the key of each article's final HTML in the `markup` table (a rewritten
    link follows its target's URL, which the article's own inputs do not show) and the link-check keys."""
    index = links.Index(site, [b.ids for b in bodies], pages, published, names, paths)
    base = digest_text(f"{index.key_text}\0{report.strict}")
    # The source too: two articles with the same bytes (a copied folder) resolve relative links differently.
    link_keys = [digest_text(f"{k}\0{a.source}\0{base}") for k, a in zip(markup_keys, site.articles)]
    done = cache.get_many("links", link_keys)
    html = cache.reader("markup")
    fresh: dict[str, tuple[str, tuple]] = {}
    rewritten: dict[str, str] = {}
    for i, lk in enumerate(link_keys):
        if lk in done or lk in fresh:
            continue
        body = html.get(markup_keys[i]) or ""
        local = Reporter(strict=report.strict)
        new = links.check(index, i, body, local)
        final = markup_keys[i]
        if new != body:
            final = digest_text(new)
            rewritten[final] = new
        fresh[lk] = (final, tuple(local.diagnostics))
        if len(rewritten) >= 500:
            cache.put_many("markup", rewritten)
            rewritten = {}
    cache.put_many("markup", rewritten)
    cache.put_many("links", fresh)
    done.update(fresh)
    for lk in link_keys:
        report.extend(done[lk][1])
    return [done[lk][0] for lk in link_keys], link_keys


def _render_pages(pages: list[routes.Page], view: context.SiteView, templates: Templates, report: Reporter,
                  stage: Staging | None, jobs: int, progress: Progress | None) -> None:
    def render(start: int, stop: int) -> tuple[WriteStats, dict]:
        """Render a slice; returns what it wrote (and leaves `stage.stats` as it found it, so counting is the
        same whether the slice ran here or in a forked worker)."""
        before = WriteStats(**vars(stage.stats)) if stage else WriteStats()
        for page in pages[start:stop]:
            source = view.entries[page.data["index"]].source if "index" in page.data else f"/{page.url}"
            data = templates.render(page, context.page_context(page, view), source)
            if data is not None and stage is not None:
                stage.write_bytes(page.path, data)
        if stage is None:
            return WriteStats(), templates.take_problems()
        delta = WriteStats(stage.stats.written - before.written, stage.stats.unchanged - before.unchanged)
        stage.stats.written, stage.stats.unchanged = before.written, before.unchanged
        return delta, templates.take_problems()

    for delta, problems in workers.run(render, len(pages), jobs, min_per_job=100,
                                       progress=_counter(progress, "render", len(pages))):
        if stage is not None:
            stage.stats.written += delta.written
            stage.stats.unchanged += delta.unchanged
        templates.add_problems(problems)  # in page order, so the page an error names is the same every time
    templates.report_errors(report)


Progress = Callable[[str, int, int], None]


def _counter(progress: Progress | None, stage: str, total: int) -> Callable[[int], None] | None:
    """Turn slice completions into running totals for `progress`; None for short stages (no noise)."""
    if progress is None or total < 500:
        return None
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        progress(stage, done, total)

    return step


class _Clock:
    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now
