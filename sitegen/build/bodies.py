"""Stage 3a, bodies: each article's Markdown to HTML and its links checked, through the build cache.

A body is converted again only when its source or its photos changed, and its links checked again only when
something they could point at changed; HTML goes to the cache's `markup` table slice by slice and is never held
for the whole site (templates fetch it by key when a page shows it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..content import model, read
from ..diagnostics import Reporter
from ..structure import links
from ..structure.markup import BodyInfo, MarkupOptions, Renderer
from . import workers
from .cache import Cache, digest_text
from .pages import Progress, counter
from ..config import SiteConfig


def markup_job(a: model.Article, mine: dict, safe: bool) -> tuple[str, model.Article, dict, dict, MarkupOptions]:
    """(key, article, photos, alts, options): what converting one body takes, and the key of its result."""
    alts = {p.src: p.alt for p in a.photos if p.alt}
    options = MarkupOptions(mark_lead=not a.summary, safe=safe)
    key = digest_text("\0".join((a.digest, repr(sorted(mine.items())) if mine else "",
                                 repr(sorted(alts.items())) if alts else "", repr(options))))
    return key, a, mine, alts, options


def render_bodies(articles: Sequence[model.Article], infos: Sequence[dict], config: SiteConfig, cache: Cache,
                   jobs: int, progress: Progress | None, report: Reporter) -> tuple[list[str], list[BodyInfo]]:
    """Markdown to HTML for every article whose source or photos changed. Returns each article's markup key
    (its HTML is in the cache's `markup` table under it) and what listings need of the body. The HTML goes
    to the cache slice by slice as workers finish and is never held for the whole site."""
    safe = config.raw_html == "safe"
    jobs_in = [markup_job(a, mine, safe) for a, mine in zip(articles, infos)]
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
            out.append((r.html, BodyInfo(r.lead_text, r.lead_in_body, r.has_source_line, r.words, links.anchor_ids(r.html),
                                         links.has_links(r.html))))
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

    workers.stream(convert, len(todo), jobs, store, max_per_slice=500, progress=counter(progress, "markdown", len(todo)))
    return keys, [done[k] for k in keys]


# The link checks' rows (`check_links`): 2, each with its body's link targets. A row of another format is never
# read: it is under another key (`link_base_of`).
LINK_ROWS = 2


def link_base_of(index: links.Index, strict: bool) -> str:
    """The key of everything a body's links may point at (`link_keys`): the index's, the strictness, the rows'
    format."""
    return digest_text(f"{LINK_ROWS}\0{index.key_text}\0{strict}")


def link_keys(index_base: str, markup_keys: Sequence[str], articles: Sequence[model.Article],
               bodies: Sequence[BodyInfo], strict: bool) -> list[str]:
    """The key of each body's link check: its markup, its article's source (two articles with the same bytes, a
    copied folder, resolve relative links differently) and, only for a body with links, the index's key. A body
    without links is checked for photo descriptions alone, so adding an article elsewhere does not redo it."""
    return [digest_text(f"{k}\0{a.source}\0{index_base if b.links else strict}")
            for k, a, b in zip(markup_keys, articles, bodies)]


def check_links(index: links.Index, base: str, positions: Sequence[int], articles: Sequence[model.Article],
                 markup_keys: list[str], bodies: Sequence[BodyInfo], cache: Cache,
                 report: Reporter) -> tuple[list[str], list[str]]:
    """Check and rewrite the links of each article's body (article `positions[n]` of the index is `articles[n]`),
    reusing each unchanged body's result while nothing it could point at changed (`base`: the index's key).
    Returns the key of each article's final HTML in the `markup` table (a rewritten link follows its target's
    URL, which the article's own inputs do not show) and the link-check keys."""
    keys = link_keys(base, markup_keys, articles, bodies, report.strict)
    done = cache.get_many("links", keys)
    html = cache.reader("markup")
    fresh: dict[str, tuple[str, tuple]] = {}
    rewritten: dict[str, str] = {}
    for n, lk in enumerate(keys):
        if lk in done or lk in fresh:
            continue
        body = html.get(markup_keys[n]) or ""
        local = Reporter(strict=report.strict)
        new = links.check(index, positions[n], articles[n], body, local)
        final = markup_keys[n]
        if new != body:
            final = digest_text(new)
            rewritten[final] = new
        # (With its links' targets as the final body writes them: whether it links to what a shift takes away
        # is then known without reading the body again, see stages._links_into.)
        fresh[lk] = (final, tuple(local.diagnostics), tuple(links.hrefs(new)))
        if len(rewritten) >= 500:
            cache.put_many("markup", rewritten)
            rewritten = {}
    cache.put_many("markup", rewritten)
    cache.put_many("links", fresh)
    done.update(fresh)
    for lk in keys:
        report.extend(done[lk][1])
    return [done[lk][0] for lk in keys], keys
