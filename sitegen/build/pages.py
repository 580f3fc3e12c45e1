"""Stage 3b, pages: run the templates for the pages to render, in worker processes, slice by slice; what each
page read goes to the dependency records (see dependencies) as each slice finishes."""

from __future__ import annotations

from typing import Callable

from ..diagnostics import Reporter
from ..render import context
from ..render.templates import Templates
from ..structure import routes
from . import dependencies, workers
from .write import Staging, WriteStats


def render_pages(pages: list[routes.Page], view: context.SiteView, templates: Templates, report: Reporter,
                  stage: Staging | None, deps: dependencies.Deps | None, jobs: int, progress: Progress | None) -> None:
    """Render `pages` (into `stage`, unless only checking). What each page read, and the memoised fragments
    they used, go to `deps` slice by slice as the workers finish (see dependencies)."""
    def render(start: int, stop: int) -> tuple[WriteStats, dict, dict, dict, dict]:
        """Render a slice; returns what it wrote (and leaves `stage.stats` as it found it, so counting is the
        same whether the slice ran here or in a forked worker), its problems, records and fragments."""
        before = WriteStats(**vars(stage.stats)) if stage else WriteStats()
        records, put = {}, {}
        templates.prefetch_kept([page.path for page in pages[start:stop]])
        _prefetch_bodies(pages[start:stop], view)
        for page in pages[start:stop]:
            at = page.data.get("index")
            source = f"/{page.url}" if at is None else view.sources[at] if view.sources else view.entries[at].source
            done = templates.render(page, context.page_context(page, view), source)
            if done is None:
                continue
            data, frame = done
            records[page.path] = dependencies.Read.of(templates.template_key(page.template), frame)
            if stage is not None:
                put[page.path] = stage.put(page.path, data)
        made, kept = templates.take_groups()
        groups = {name: dependencies.Read.of("", f) for name, f in made.items()}
        if stage is None:
            return WriteStats(), templates.take_problems(), records, (groups, kept), put
        counts = WriteStats(stage.stats.written - before.written, stage.stats.unchanged - before.unchanged)
        stage.stats.written, stage.stats.unchanged = before.written, before.unchanged
        return counts, templates.take_problems(), records, (groups, kept), put

    problems: dict[int, list] = {}

    def consume(start: int, result: tuple[WriteStats, list, dict, tuple[dict, dict], dict]) -> None:
        counts, problems[start], done, (made, kept), put = result
        if stage is not None:
            stage.stats.written += counts.written
            stage.stats.unchanged += counts.unchanged
            stage.made(put)
        if deps is not None:
            for name, fragment in made.items():
                deps.add_group(name, fragment)
            deps.add_fragments(kept)
            for path, reads in done.items():
                deps.add(path, reads)

    # Slices of at most 500 pages, each consumed as it finishes: what pages read is numbered and dropped slice
    # by slice (at 100 000 articles, holding every page's reads until the end needed more than 2 GB).
    workers.stream(render, len(pages), jobs, consume, min_per_job=100, max_per_slice=500,
                   progress=counter(progress, "render", len(pages)))
    for start in sorted(problems):
        templates.add_problems(problems[start])  # in page order, so the page an error names is the same every time
    templates.report_errors(report)


def _prefetch_bodies(pages: list[routes.Page], view: context.SiteView) -> None:
    """Read at once the bodies of the articles whose pages are about to render (each shows its own). Only when the
    entries are at hand (a build of the whole model): an edit build's are read from the cache as pages ask, for a
    handful of pages."""
    if not isinstance(view.entries, tuple):
        return
    entries = [view.entries[page.data["index"]] for page in pages if page.kind == "article"]
    prefetch = getattr(entries[0].bodies, "prefetch", None) if len(entries) > 1 else None
    if prefetch is not None:
        prefetch([e.body_key for e in entries if e.bodies is entries[0].bodies])


Progress = Callable[[str, int, int], None]


def counter(progress: Progress | None, stage: str, total: int) -> Callable[[int], None] | None:
    """Turn slice completions into running totals for `progress`; None for short stages (no noise)."""
    if progress is None or total < 500:
        return None
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        progress(stage, done, total)

    return step
