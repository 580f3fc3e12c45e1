"""Validate the future now: scheduled articles as the site will be when each falls due, and drafts as it would
be if they were published now (see hold: what has errors is held back before it would go out)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from ..config import SiteConfig
from ..content import model
from ..diagnostics import Diagnostic, Reporter
from ..structure import links, photos, routes
from . import inputs
from .bodies import render_bodies
from .cache import Cache, digest_text


def validate(values: list, ready: Any, config: SiteConfig, cache: Cache, paths: Any, scanned: inputs.Scan,
           moment: dt.datetime, strict: bool, jobs: int, with_drafts: bool) -> tuple[list[Diagnostic], dict[str, str]]:
    """Validate the scheduled articles now, each as the site will be when it falls due, and the drafts as the
    site would be if published now: address, photos and links (a link to an article due later than itself is
    broken at its time). `ready` is the pipeline's round of today's site (its site, bodies, photos, link_base);
    `paths` the symlink-free paths memo of the link check. Returns their findings (messages saying when) and each scheduled article's publishing
    time as the guide writes it. Remembered while neither today's site (`ready.link_base`) nor they change."""
    def due(a: model.Article) -> dt.datetime:
        return a.date if a.date > moment else moment

    pending = sorted((c.article for c in values if c.article is not None
                      and ((c.article.draft and with_drafts) or (not c.article.draft and c.article.date > moment))
                      and not (c.article.expires and c.article.expires <= due(c.article))),
                     key=lambda a: (due(a), a.source))
    if not pending:
        return [], {}
    from ..content.schedule import when_vi

    key = digest_text("\0".join(("ahead", ready.link_base, repr(strict), *(repr(a) for a in pending))))
    remembered = cache.get_many("meta", ["ahead"]).get("ahead")
    when = {a.source: when_vi(a.date, config) for a in pending if not a.draft}
    if remembered is not None and remembered[0] == key:
        return list(remembered[1]), when
    ids = {a.source: b.ids for a, b in zip(ready.site.articles, ready.bodies or ())}
    published = list(ready.photos.published)
    html = cache.reader("markup")
    found: list[Diagnostic] = []
    for moment_due in sorted({due(a) for a in pending}):
        local = Reporter(strict=strict)
        drafts = {a.source for a in pending if a.draft and due(a) == moment_due}  # as if published then
        then = [replace(c, article=replace(c.article, draft=False)) if c.article is not None
                and c.article.source in drafts else c for c in values]
        site = model.assemble(then, config, Reporter(strict=strict), now=moment_due)  # today's findings: not news
        pages = routes.plan(site, local)
        url_of = {p.data["index"]: p.url for p in pages if p.kind == "article"}
        mine = [(i, a) for i, a in enumerate(site.articles)
                if a.source in drafts or (a.date == moment_due and a.source in when)]
        mine_urls = [url_of.get(i, "") for i, _ in mine]
        plan = photos.plan(tuple(a for _, a in mine), mine_urls, config, local)
        plan = photos.produce(plan, config, local, jobs)  # the variants wait in the image cache for their day
        published += plan.published
        markup_keys, bodies = render_bodies([a for _, a in mine], plan.infos, config, cache, jobs, None, local)
        ids.update((a.source, b.ids) for (_, a), b in zip(mine, bodies))
        index = links.Index(config, site.articles, [ids.get(a.source, frozenset()) for a in site.articles], pages,
                            published, scanned.names, paths)
        for (i, a), k in zip(mine, markup_keys):
            links.check(index, i, a, html.get(k) or "", local)
        sources = {a.source for _, a in mine}
        for d in local.diagnostics:
            if d.path in sources:
                then_text = "khi bản nháp được đăng" if d.path in drafts else f"khi bài lên trang ({when[d.path]})"
                found.append(replace(d, message=f"{then_text}: {d.message}"))
    cache.put_many("meta", {"ahead": (key, tuple(found))})
    return found, when
