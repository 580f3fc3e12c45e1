"""What a build finds of the unpublished files (drafts, scheduled articles), made again without the whole site.

A draft changes no published page: only what the build says of it (its own problems, and what its validation ahead
finds: an address taken, a photo missing, a link to nowhere, see build.ahead) and whether it is held back (hold).
So does a scheduled article saved and still due when it was, and a draft deleted does to the others. An edit build
whose unpublished changes are of these kinds (delta.Drafts), and a shift whose drafts may find otherwise (beside
drafts held back, which an article that comes may mend; a draft deleted; a new page taking the address one wants;
a body of theirs linking to what goes) ask this module for those findings: the full build's functions
(hold.Holding, ahead.validate) run over every unpublished file, against the site the build publishes (its link
index, and who has each address)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Collection, MutableMapping, Sequence

from ..config import SiteConfig
from ..content import read
from ..diagnostics import ERROR, Diagnostic
from ..structure import routes
from ..structure.links import Index
from . import delta, hold
from .ahead import Today, validate
from .cache import Cache


@dataclass(frozen=True)
class Found:
    """What a build says of the unpublished files, and what it remembers of them (see `refound`)."""

    diagnostics: list[Diagnostic]  # every unpublished file's, as the full build reports them
    later: tuple[str, ...]  # the unpublished files the plan counts (Plan.later: those not held back)
    spellings: delta.Spellings  # the plan's, once those are the files counted
    docs: dict[str, tuple]  # the `docs` rows to write: each file counted, as read now
    dropped: list[str]  # and those to delete: files held back now (hold.Holding.documents)


class Owners(dict):
    """routes.owners of the last plan's pages (case-folded output path -> who has it; `sources`: its articles,
    in site order), for the few paths the drafts claim: a page is read back from its group's row when asked for,
    not every page of the site. What the drafts claim is kept in the dict itself."""

    def __init__(self, cache: Cache, sources: Sequence[str]):
        super().__init__()
        self._cache, self._sources = cache, sources
        self._grouped = delta.groups_at(cache)
        self._folded = {path.casefold(): path for path in self._grouped}

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if key in self:
            return self[key]
        path = self._folded.get(key)
        if path is None:
            return default
        page, = delta.pages_at(self._cache, [path], self._sources, self._grouped)
        return routes.owner_of(page, self._sources.__getitem__)


def refound(unpublished: delta.Drafts, index: Index, link_base: str, spellings: delta.Spellings,
            taken: MutableMapping[str, str], config: SiteConfig, cache: Cache, moment: dt.datetime, jobs: int
            ) -> Found | None:
    """The unpublished files' findings as the full build makes them (stages.whole: each file's own problems hold
    it back, then the validation ahead of the others, filtered as a publishing build reports it, holds more, and
    the held drafts are summed up in one line each), against the site of this link index (attached) and key, whose
    pages `taken` names (routes.owners); `spellings`: the plan's, as the files counted before tell them. None when
    something else than a draft is held back (a scheduled article with problems), or a tag or category would be
    named otherwise: the full build's."""
    files = unpublished.files
    loaded = [read.Loaded(u.source, u.stamp, u.bundle, u.checked, u.fresh) for u in files]
    # (What reading found, the unreadable drafts' included, is held first, as stages.whole holds it.)
    reading = [d for u in files for d in u.reading] + [d for _, found in unpublished.unreadable for d in found]
    holding = hold.Holding(config.root, loaded, {}, reading, moment, drafts=False, enabled=True)
    holding.first()
    own = [d for u in files for d in u.checked.diagnostics]
    holding.take(own)  # (a full build's first round: model.assemble reports each file's own findings)
    invalid = [u.checked.provisional for u in files if u.checked.provisional is not None]
    # (Today's site as its link index and key alone: no published article expires here, delta.unpublished_files
    # leaves a site with one to the full build, so the validation asks nothing of their pages or photos.)
    ahead, when = validate(holding.values(), Today(index, link_base), config, cache, moment, False, jobs,
                           with_drafts=True, invalid=invalid, taken=taken)
    ahead = [d for d in ahead if d.severity == ERROR or d.path in when]  # (a draft's warnings are for `check`)
    holding.take(ahead)
    if not holding.only_drafts():
        return None
    counted = _spellings(spellings, files, holding.held)
    if counted is None:
        return None
    docs = {u.source: (u.stamp, u.bundle, u.checked) for u in files if u.source not in holding.held and u.fresh}
    dropped = [u.source for u in files if u.source in holding.held and u.before is not None]
    later = tuple(u.source for u in files if u.source not in holding.held)
    return Found(holding.report([*own, *ahead], when, draft_details=False), later, counted, docs, dropped)


def _spellings(spellings: delta.Spellings, files: Sequence[delta.Unpublished], held: Collection[str]
               ) -> delta.Spellings | None:
    """`spellings` once the files counted are those not `held` (a held draft's tags name nothing, as in
    stages.whole); None when that changes a name: the same test as a shift's for an article that comes or goes
    (delta._shift)."""
    moved = [u for u in files if u.held != (u.source in held) or (not u.held and u.before != u.checked)]
    if not moved:
        return spellings
    spellings = spellings.copy()
    for u in moved:
        for checked, by in ((u.before, -1), (u.checked, 1)):
            if checked is None or (by < 0 and u.held) or (by > 0 and u.source in held):
                continue
            if not spellings.count(checked, by):
                return None
    return spellings
