"""Hold back, don't halt: which articles a build leaves out (or keeps at their last good version) because of
their own errors, so that one editor's mistake never stops everyone else's articles from publishing.

A build finds problems stage by stage (reading, validating, photos, links). An error that belongs to one article
file holds back that article: a new one is not published; one that an earlier build published keeps that
version (the validated file the build cache remembers, whose HTML is still in the cache); an unchanged one whose
error came from elsewhere (the article it links to was deleted) stays as it was published. Everything else
publishes. The stages then run again without the held articles, because leaving one out can break another (a
link to it): the rounds stop when no new article is held, at most once per article.

Errors that concern the whole site (configuration, templates, writing, the cache, the search index) hold
nothing back: they still stop the build. `--strict` builds hold nothing back either (whole site or nothing).
Drafts never stop a build: their problems are reported to their author by `check` and the preview.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..diagnostics import ERROR, WARNING, Diagnostic

# Codes of problems that are the whole site's, whatever file they name: never a reason to hold one article.
SITE_WIDE = ("CFG", "TPL", "WRITE", "CACHE", "LOCK", "SEARCH", "STATS", "NEW", "INIT", "HOLD")
# Problems of a kept version that leave nothing to publish: no second page may take an address, and a body
# neither the file nor the cache still has cannot be shown.
UNSHOWABLE = ("ROUTE", "READ005")

NEW, KEPT, UNCHANGED, DRAFT, SCHEDULED = "new", "kept", "unchanged", "draft", "scheduled"
_DRAFT_LINE = re.compile(r"^\s*draft\s*[:=]\s*[\"']?(true|yes|on)[\"']?\s*(#.*)?$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Held:
    path: str
    kind: str  # NEW, KEPT, UNCHANGED, DRAFT or SCHEDULED
    reasons: tuple[Diagnostic, ...]  # the errors (and the warnings beside them) that held it back

    def note(self, when: str = "") -> Diagnostic:
        """The one line the summary and `check` show for it (a warning: publishing went on)."""
        n = sum(d.severity == ERROR for d in self.reasons)
        if self.kind == DRAFT:
            return Diagnostic(self.path, 0, 0, "HOLD002", WARNING,
                              f"bản nháp có {n} lỗi (không ảnh hưởng việc xuất bản các bài khác)",
                              "xem từng lỗi bằng: sitegen check, hoặc trong trang xem thử (sitegen serve)")
        message = {
            NEW: f"bài chưa được xuất bản vì có {n} lỗi",
            KEPT: f"bài vừa sửa có {n} lỗi: trang vẫn giữ bản đã xuất bản lần trước",
            UNCHANGED: f"bài có {n} lỗi do thay đổi ở nơi khác (ví dụ bài được liên kết tới đã bị xóa): "
                       "vẫn giữ như đã xuất bản",
            SCHEDULED: f"bài hẹn giờ đăng{(' lúc ' + when) if when else ''} có {n} lỗi: sẽ không được đăng khi "
                       "đến giờ nếu chưa sửa",
        }[self.kind]
        return Diagnostic(self.path, 0, 0, "HOLD001", WARNING, message, "sửa các lỗi của tệp này (liệt kê ở trên)")


def looks_draft(file: Path | str) -> bool:
    """Whether a file whose front matter cannot be read says `draft: true` on a line of its own: held back, it is
    a draft's (HOLD002), not an article's."""
    try:  # without blocking, and only a regular file: a FIFO named *.md must not hang the build here either
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            head = os.read(fd, 20_000).decode("utf-8", errors="replace")
        finally:
            os.close(fd)
    except OSError:
        return False
    return bool(_DRAFT_LINE.search(head.split("\n---", 1)[0] if head.startswith("---") else head[:2000]))


def held_paths(diagnostics: Iterable[Diagnostic]) -> tuple[str, ...]:
    """The articles a build's diagnostics say were held back (drafts aside): what the exit status counts."""
    return tuple(sorted({d.path for d in diagnostics if d.code == "HOLD001"}))


class Holding:
    """The held articles of one build, decided round by round from each round's diagnostics."""

    def __init__(self, root: Path, loaded: Sequence[Any], known: Mapping[str, tuple], loading: Sequence[Diagnostic],
                 now: dt.datetime, drafts: bool, enabled: bool, last: dt.datetime | None = None):
        """`known`: the build cache's rows of the files as validated before; `last`: the moment the last build
        that published was made for (None: not known), which tells whether a known version went out."""
        self.root, self.loaded, self.known, self.now, self.drafts = root, loaded, known, now, drafts
        self.last = last
        self.enabled = enabled
        self.held: dict[str, Held] = {}
        self._reasons: dict[str, list[Diagnostic]] = {}
        # What reading found is each file's own problem from the start (a file that could not be read or split
        # is not among `loaded` at all: it is held as new unless an earlier build published it).
        self.site_wide = [d for d in loading if not self.holdable(d)]
        self._loading = [d for d in loading if self.holdable(d)]
        self._by_path = {f.path: f for f in loaded}

    @staticmethod
    def holdable(d: Diagnostic) -> bool:
        return d.path.startswith("content/") and not d.code.startswith(SITE_WIDE)

    def first(self) -> bool:
        """Take the reading stage's errors (before the first round). True when something is held."""
        return self.take(self._loading)

    def values(self) -> list[Any]:
        """The validated files this round assembles the site from: held ones left out or at their kept version."""
        out = []
        for f in self.loaded:
            h = self.held.get(f.path)
            if h is None:
                out.append(f.value)
            elif h.kind in (KEPT, UNCHANGED):
                out.append(replace(self._good(f.path), diagnostics=()))  # its old findings are not news
        for path, h in self.held.items():  # published earlier, unreadable now: its last good version stands in
            if h.kind == KEPT and path not in self._by_path:
                out.append(replace(self._good(path), diagnostics=()))
        return out

    def take(self, diagnostics: Iterable[Diagnostic]) -> bool:
        """Hold back the articles with errors among `diagnostics` (a round's findings). True when anything new
        is held (the round must run again without it)."""
        if not self.enabled:
            return False
        by_path: dict[str, list[Diagnostic]] = {}
        for d in diagnostics:
            if self.holdable(d):
                by_path.setdefault(d.path, []).append(d)
        changed = False
        for path, found in by_path.items():
            errors = [d for d in found if d.severity == ERROR]
            if not errors:
                continue
            reasons = self._reasons.setdefault(path, [])
            reasons += [d for d in found if d not in reasons]
            h = self.held.get(path)
            if h is None:
                kind = self._kind(path)
                changed = True
            elif h.kind in (KEPT, UNCHANGED) and any(d.code.startswith(UNSHOWABLE) for d in errors):
                kind = NEW  # even the version it keeps cannot be published now: leave it out
                changed = True
            else:
                kind = h.kind
            self.held[path] = Held(path, kind, tuple(reasons))
        return changed

    def _good(self, path: str) -> Any:
        return self.known[path][2]

    def _kind(self, path: str) -> str:
        f = self._by_path.get(path)
        article = getattr(f.value, "article", None) if f is not None else None
        if article is not None and article.draft and not self.drafts:
            return DRAFT
        if article is None and self._looks_draft(path):
            return DRAFT
        if article is not None and not self.drafts and article.date > self.now:
            return SCHEDULED
        good = self.known.get(path)
        old = getattr(good[2], "article", None) if good is not None else None
        if old is None or any(d.severity == ERROR for d in good[2].diagnostics):
            return NEW
        if not self.drafts and (old.draft or (self.last is not None and old.date > self.last)):
            return NEW  # that version was a draft, or still scheduled, when last published: none went out to keep
        if f is not None and good[0] == f.stamp and good[1] == f.bundle:
            return UNCHANGED
        return KEPT

    def _looks_draft(self, path: str) -> bool:
        return looks_draft(self.root / path)

    def documents(self, fresh: Mapping[str, tuple]) -> dict[str, tuple]:
        """What the build cache remembers of each file after this build: a held file keeps the row of the version
        it stands at (so the next build finds that version again), or none."""
        out = dict(fresh)
        for path, h in self.held.items():
            if h.kind in (KEPT, UNCHANGED):
                out[path] = self.known[path]
            else:
                out.pop(path, None)
        return out

    def release(self) -> None:
        """Let go of the files as read once what is held is settled and `documents` has been asked: only
        `held` (for `errors_left`) is needed through the render."""
        self.loaded, self.known, self._by_path = (), {}, {}

    def report(self, diagnostics: Sequence[Diagnostic], when: Mapping[str, str] | None = None,
               draft_details: bool = True) -> list[Diagnostic]:
        """The build's final findings: everything but the held articles' round-by-round repeats, then each held
        article's reasons and one line saying what happened to it. In a build (`draft_details` False), a draft's
        errors become that one line: the cron log is the technical person's, not the draft's author's."""
        held = self.held
        out = [d for d in [*self._loading, *diagnostics] if d.path not in held]
        for path, h in sorted(held.items()):
            if h.kind != DRAFT or draft_details:
                out += h.reasons
            out.append(h.note((when or {}).get(path, "")))
        return out

    def only_drafts(self) -> bool:
        """Whether every article held back is a draft (or none is): the published site is then what it would be
        without them, and the next build may start from this one's (an edit build leaves their findings, HOLD002,
        as they are, or makes them again: build.unpublished)."""
        return all(h.kind == DRAFT for h in self.held.values())

    def errors_left(self, diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
        """The errors no held article accounts for: any of them still stops the build."""
        return [d for d in diagnostics if d.severity == ERROR and d.path not in self.held]
