"""Validate the future now: scheduled articles as the site will be when each falls due, and drafts as it would
be if they were published now (see hold: what has errors is held back before it would go out)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import MutableMapping, Sequence

from ..config import SiteConfig
from ..content import model
from ..diagnostics import Diagnostic, Reporter
from ..structure import links, photos, routes
from .bodies import render_bodies
from .cache import Cache, digest_text
from .inputs import stamp_line


@dataclass(frozen=True)
class Today:
    """Today's site, as far as `validate` reads it: its link index and that index's key; and, when an article of
    it expires, its articles (in site order), pages and published photos (photos.PhotoPlan.published), for the
    pages, addresses and photos that leave with it. A build that knows none expires (build.unpublished) gives
    none of those."""

    index: links.Index
    link_base: str
    articles: Sequence[model.Article] = ()
    pages: Sequence[routes.Page] = ()
    published: Sequence[tuple] = ()


def validate(values: list, today: Today, config: SiteConfig, cache: Cache, moment: dt.datetime, strict: bool,
             jobs: int, with_drafts: bool, invalid: Sequence[model.Article] = (),
             taken: MutableMapping[str, str] | None = None) -> tuple[list[Diagnostic], dict[str, str]]:
    """Validate the scheduled articles now, each as the site will be when it falls due, and the drafts as the
    site would be if published now: address, photos and links (a link to an article due later than itself is
    to an unpublished article at its time). The articles due at each moment join `today`'s site, in order, instead
    of the whole site being
    planned again; an article that has expired by then (`expires`) leaves it, its pages, addresses and photos with
    it (a photo another article publishes too stays, at that article's address).
    Returns their findings (messages saying when) and each scheduled article's publishing time as the guide writes
    it. Remembered while neither today's site (`today.link_base`, when its articles expire and who else publishes
    their photos) nor they change, their photo files included.

    `invalid`: the articles of files with errors of their own, as far as they could be read (model.Checked.
    provisional): their photos and links are checked the same way, as of when they would go out, so that fixing
    a field does not uncover a second wave of problems. Their address is not claimed (it is checked once the
    front matter is valid: the error may be in the slug itself).

    `taken`: who has each output path of today's site (routes.owners of `today`'s pages), when known otherwise
    (build.unpublished: asked of a few paths only); it gets the addresses the pending articles claim."""
    def due(a: model.Article) -> dt.datetime:
        return a.date if a.date > moment else moment

    later = [c.article for c in values if c.article is not None
             and ((c.article.draft and with_drafts) or (not c.article.draft and c.article.date > moment))]
    unsure = [a for a in invalid if with_drafts or not a.draft]
    pending = sorted((a for a in [*later, *unsure] if not (a.expires and a.expires <= due(a))),
                     key=lambda a: (due(a), a.source))
    if not pending:
        return [], {}
    from ..content.schedule import when_vi

    provisional = {id(a) for a in unsure}
    # Today's articles that will expire: the link base does not say when (it is about today's pages).
    expiring = [(i, a) for i, a in enumerate(today.articles) if a.expires is not None]
    photos_of = _photos_of(today.published, {i for i, _ in expiring})  # the photo copies each publishes
    # Every photo's copies, once an article may go before a scheduled one falls due: a photo it shows may be
    # another article's too, whose copy then stays published.
    may_go = bool(expiring) or any(a.expires is not None for a in pending)
    copies = _copies(today.published) if may_go else {}
    # Nor does the link base say which copies of their photos there are: only the one a link leads to today.
    # Nor do the pending articles say what their photos are: which variants each has, whether it can be published.
    key = digest_text("\0".join(("ahead", today.link_base, repr(strict),
                                  *(("?" if id(a) in provisional else "") + repr(a) for a in pending),
                                  *(_stamp(f) for a in pending for f in photos.files_of(a, config)),
                                  *(f"{a.source}\0{a.expires.isoformat()}" for _, a in expiring),
                                  *(f"{f}\0{[out for _, out in copies[f]]}"
                                    for i, _ in expiring for f, _ in photos_of[i]))))
    remembered = cache.get_many("meta", ["ahead"]).get("ahead")
    when = {a.source: when_vi(a.date, config) for a in pending if not a.draft and a.date > moment}
    if remembered is not None and remembered[0] == key:
        return list(remembered[1]), when
    index = today.index
    if taken is None:
        taken = routes.owners(today.pages, lambda i: today.articles[i].source)
    html = cache.reader("markup")
    found: list[Diagnostic] = []
    pages_of: dict[int, list] = {i: [] for i, _ in expiring}  # the pages of each article that may expire
    for p in today.pages:
        if p.data.get("index") in pages_of:
            pages_of[p.data["index"]].append(p)
    for moment_due in sorted({due(a) for a in pending}):
        gone = [i for i, a in expiring if a.expires <= moment_due]  # as model.assemble leaves them out then
        if gone:
            ended = [p for i in gone for p in pages_of.get(i, ())]
            shown = [copy for i in gone for copy in photos_of.get(i, ())]  # (photo file, its copy)
            index = index.without(gone, ended, _leads_to(copies, [f for f, _ in shown], index.gone | set(gone)),
                                  [out for _, out in shown])
            for p in ended:  # their addresses are free again
                taken.pop(p.path.casefold(), None)
            expiring = [(i, a) for i, a in expiring if a.expires > moment_due]
        local = Reporter(strict=strict)
        mine = [a for a in pending if due(a) == moment_due]
        base = len(index.refs)
        pages, own = [], {}
        for k, a in enumerate(mine):
            if id(a) in provisional:  # never a link target; its own address only resolves its relative links
                own[k] = _provisional_url(a, config)
            else:
                pages += routes.claim(routes.article_pages(a, base + k, config.permalink), a, taken, local)
        url_of = {p.data["index"] - base: p.url for p in pages if p.kind == "article"} | own
        plan = photos.plan(tuple(mine), [url_of.get(k, "") for k in range(len(mine))], config, local)
        plan = photos.produce(plan, config, local, jobs)  # the variants wait in the image cache for their day
        markup_keys, bodies = render_bodies(mine, plan.infos, config, cache, jobs, None, local)
        index = index.extended(mine, [b.ids for b in bodies], pages, plan.published)
        index.article_url.update({base + k: url for k, url in own.items() if url})  # (a dict of its own)
        if may_go:  # theirs first: as in `extended`, a link to a photo file leads to the newest article's copy
            for file, theirs in _copies(plan.published, base).items():
                copies[file] = theirs + copies.get(file, [])
        for k, a in enumerate(mine):  # a scheduled article may expire before a later one falls due
            if a.expires is not None:
                expiring.append((base + k, a))
                pages_of[base + k] = [p for p in pages if p.data["index"] == base + k]
                photos_of[base + k] = [(f, out) for f, out, j, _ in plan.published if j == k]
        for k, (a, body_key) in enumerate(zip(mine, markup_keys)):
            links.check(index, base + k, a, html.get(body_key) or "", local)
        sources = {a.source for a in mine}
        for d in local.diagnostics:
            if d.path in sources:
                if d.path in when:
                    then = f"khi bài lên trang ({when[d.path]}): "
                else:
                    then = "khi bản nháp được đăng: " if any(a.draft for a in mine if a.source == d.path) else ""
                found.append(replace(d, message=f"{then}{d.message}"))
    cache.put_many("meta", {"ahead": (key, tuple(found))})
    return found, when


def _stamp(file: Path) -> str:
    """A photo file as far as its full stat tells (images.SourceIndex trusts the same: a file whose stat did not
    change is taken to be unchanged)."""
    try:
        return stamp_line(str(file), file.stat())
    except OSError as exc:
        return f"{file}\0!{exc.errno}"


def _photos_of(published: Sequence[tuple[Path, str, int, tuple]], numbers: set[int]
               ) -> dict[int, list[tuple[Path, str]]]:
    """The photo files that each of the articles `numbers` publishes, each with its copy (output path of its
    largest JPEG: photos.PhotoPlan.published), which goes with the article."""
    found: dict[int, list[tuple[Path, str]]] = {i: [] for i in numbers}
    if numbers:
        for file, out, i, _ in published:
            if i in found:
                found[i].append((file, out))
    return found


def _copies(published: Sequence[tuple[Path, str, int, tuple]], base: int = 0
            ) -> dict[Path, list[tuple[int, str]]]:
    """Each photo file's copies, (article number, counted from `base`; output path of the copy), in the order in
    which a link to the file leads to them: to the first whose article is still published (links.Index)."""
    found: dict[Path, list[tuple[int, str]]] = {}
    for file, out, k, _ in published:
        found.setdefault(file, []).append((base + k, out))
    return found


def _leads_to(copies: dict[Path, list[tuple[int, str]]], files: Sequence[Path],
              gone: frozenset[int]) -> dict[Path, str | None]:
    """Where a link to each of `files` leads once the articles `gone` are: the first copy of an article still
    published, or None when none publishes the file any more (as the build then plans photos: only those of the
    articles it publishes)."""
    return {f: next((out for i, out in copies.get(f, ()) if i not in gone), None) for f in files}


def _provisional_url(article: model.Article, config: SiteConfig) -> str:
    """The address an invalid file's article would have, for resolving its relative links ("" without a slug;
    an unknown category stands as the file's folder under content/)."""
    if not article.slug:
        return ""
    if not article.category:
        parts = Path(article.source).parts
        article = replace(article, category=parts[1] if len(parts) > 2 else "")
    return routes.article_url(article, config.permalink)
