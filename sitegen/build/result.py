"""What a build answers (BuildResult), and the two small things every part of a build shares: its clock, and the
signal that damaged cache rows were dropped and the build must run again. Kept apart from the stages so that a
build with nothing to do answers without loading them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..diagnostics import Diagnostic
from .write import WriteStats


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
    edited: bool = False  # an edit build (see delta): only the changed articles and the pages showing them
    shifted: bool = False  # articles added or deleted (delta.Shift), which is also `edited`: from the last plan
    search: str = ""  # what the search stage did (search.Outcome.describe), for the summary line
    search_pending: int = 0  # shards left to index again (a preview save, `search_later`): see search
    held: tuple[str, ...] = ()  # articles held back by their own errors (see hold), drafts aside
    restored: tuple[str, ...] = ()  # files of the output found deleted by hand, and made again (write.missing)


class Cancelled(Exception):
    """The build was told to stop (the preview's search catching up, interrupted by a new save): nothing was
    published, and the next build starts from the live tree as it was."""


class Elsewhere(Exception):
    """The build needs the site's whole model, and its caller said that is not to be made in this process (a preview
    short of memory: see preview.server's `whole_here`). Raised before anything is written."""


class Repaired(Exception):
    """Rows of the build cache turned out unreadable while pages rendered; they were dropped: build again."""


class Clock:
    """The time each stage took (BuildResult.timings)."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self.last  # (a stage may run in two parts)
        self.last = now
