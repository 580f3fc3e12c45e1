"""The whole build in one screen: load -> model -> routes -> render -> write. Nothing is published unless
every stage succeeded, so a bad article leaves the previous site untouched."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from . import context, model, photos, read, routes
from .config import SiteConfig
from .diagnostics import Diagnostic, Reporter
from .markup import MarkupOptions, Renderer
from .render import Templates, make_entries
from .write import Staging, WriteStats, recover


@dataclass
class BuildResult:
    diagnostics: list[Diagnostic]
    pages: int
    articles: int
    stats: WriteStats
    timings: dict[str, float] = field(default_factory=dict)


def build(config: SiteConfig, *, drafts: bool = False, strict: bool = False, now: dt.datetime | None = None,
          publish: bool = True) -> BuildResult:
    """Build the site into config.output_dir. Raises BuildFailed (with every problem found) on errors."""
    report, clock = Reporter(strict=strict), _Clock()
    if publish:
        recover(config.output_dir)  # a run killed mid-publish left public/ renamed: put it back first
    docs = read.load_all(config.root, config.content_dir, config.max_file_bytes, report)
    site = model.build_site(docs, config, report, drafts=drafts, now=now)
    clock.lap("load")
    pages = routes.plan(site, report)
    urls = [p.url for p in sorted((p for p in pages if p.kind == "article"), key=lambda p: p.data["index"])]
    photo_plan = photos.plan(site.articles, urls, config.content_dir, config.max_image_pixels, config.base_path, report)
    clock.lap("plan")
    report.raise_if_errors()  # nothing has been written yet
    bodies = _render_bodies(site, photo_plan.infos, config)
    clock.lap("markdown")
    entries = make_entries(site, dict(enumerate(urls)), bodies, photo_plan.infos)
    view = context.site_view(site, entries, model.most_read(site, config.most_read), model.related(site, config.related))
    templates = Templates(config)
    if not publish:
        _render_pages(pages, view, templates, report, None)
        report.raise_if_errors()
        return BuildResult(report.diagnostics, len(pages), len(site.articles), WriteStats(), clock.laps)
    with Staging(config.output_dir) as stage:
        _render_pages(pages, view, templates, report, stage)
        clock.lap("render")
        for src, out in photo_plan.copies:
            stage.copy_file(src, out)
        for assets in config.assets_dirs:
            for file in sorted(p for p in assets.rglob("*") if p.is_file() and not p.name.startswith(".")):
                stage.copy_file(file, "assets/" + file.relative_to(assets).as_posix())
        report.raise_if_errors()  # a template error discards the staging folder
        stage.publish()
        clock.lap("write")
    return BuildResult(report.diagnostics, len(pages), len(site.articles), stage.stats, clock.laps)


def _render_bodies(site: model.Site, infos: tuple, config: SiteConfig) -> list:
    renderer = Renderer()
    safe = config.raw_html == "safe"
    out = []
    for a, mine in zip(site.articles, infos):
        alts = {p.src: p.alt for p in a.photos if p.alt}
        out.append(renderer.render(a.body, mine, alts, MarkupOptions(mark_lead=not a.summary, safe=safe)))
    return out


def _render_pages(pages: list[routes.Page], view: context.SiteView, templates: Templates, report: Reporter,
                  stage: Staging | None) -> None:
    for page in pages:
        source = view.entries[page.data["index"]].source if "index" in page.data else f"/{page.url}"
        data = templates.render(page, context.page_context(page, view), source)
        if data is not None and stage is not None:
            stage.write_bytes(page.path, data)
    templates.report_errors(report)


class _Clock:
    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now
