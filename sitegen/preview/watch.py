"""What the editor changed: file events from the operating system, gathered into one rebuild per burst of saves.

The only module importing watchdog. The kernel is asked only for the events that mean a change (a file made,
written and closed, deleted or moved), never for opens and reads: a build reads every file of the site, and
on a big archive those reads alone overflow the kernel's event queue (16 384 events by default), which loses
the editor's save among them. When events are lost all the same (thousands of files changed at once, say a
`git pull`), the next rebuild walks the site and compares every file's stamp with what the last build saw
(one rebuild, of what really changed), and the terminal gets one line, not one per lost event.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
                             FileDeletedEvent, FileMovedEvent, FileSystemEvent, FileSystemEventHandler)
from watchdog.observers import Observer

from ..content.discovery import TEMP

DEBOUNCE = 0.03  # seconds of quiet after the last file event: editors save in bursts (temp file, rename)
# The events an editor's save, a new file, a deletion or a rename make; watchdog turns them into the kernel's
# event mask, so the build's own reads (opened, closed without writing) are never even queued.
EDITS = [FileCreatedEvent, DirCreatedEvent, FileClosedEvent, FileDeletedEvent, DirDeletedEvent, FileMovedEvent,
         DirMovedEvent]
# watchdog says that the kernel dropped events only in its log (then re-adds its watches itself).
WATCHDOG_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")
OVERFLOW = "Inotify queue overflowed"


@dataclass(frozen=True)
class Batch:
    """One rebuild's worth of changes."""

    paths: list[str]  # the files saved, made, deleted or moved (sorted)
    first: float  # time.perf_counter() of the first of them
    walk: bool  # some changes are unknown (lost events, or the first build): walk the site, compare stamps
    lost: int  # how many times the kernel dropped events since the last batch
    renew: bool  # the watches may miss folders made while events were lost: set them up again first


class Changes:
    """Changes seen since the last rebuild, handed out once they have been quiet for DEBOUNCE seconds."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.pending: dict[str, float] = {}
        self.walk = False
        self.lost = 0
        self.stopped = False

    def saw(self, path: str) -> None:
        with self.cond:
            self.pending.setdefault(path, time.perf_counter())
            self.pending[""] = time.perf_counter()  # the latest event, for the debounce (not a path)
            self.cond.notify()

    def everything(self, lost: bool = False) -> None:
        """Something changed, nobody knows what: the next rebuild walks the site."""
        with self.cond:
            self.walk = True
            self.lost += lost
            self.pending.setdefault("", time.perf_counter())
            self.cond.notify()

    def next_batch(self) -> Batch | None:
        """Block until changes have come and gone quiet; None once stopped."""
        with self.cond:
            while True:
                while not self.pending and not self.stopped:
                    self.cond.wait()
                if self.stopped:
                    return None
                quiet = DEBOUNCE - (time.perf_counter() - self.pending[""])
                if quiet > 0:
                    self.cond.wait(quiet)  # still receiving events: wait for the burst to end
                    continue
                batch, self.pending = self.pending, {}
                latest = batch.pop("")
                out = Batch(sorted(batch), min(batch.values(), default=latest), self.walk, self.lost, self.lost > 0)
                self.walk, self.lost = False, 0
                return out

    def idle(self, seconds: float) -> bool:
        """Wait up to `seconds` for a change; True when none came (and nobody stopped the preview)."""
        with self.cond:
            if not self.pending and not self.stopped:
                self.cond.wait(seconds)
            return not self.pending and not self.stopped

    def waiting(self) -> bool:
        """Whether a change (or a stop) is waiting for the rebuild thread: what it is doing can be let go."""
        with self.cond:
            return bool(self.pending) or self.stopped

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class _Events(FileSystemEventHandler):
    """watchdog's events, as paths for `Changes`: not editors' temporary files, not the folders the build writes."""

    def __init__(self, root: Path, ignore: list[Path], changes: Changes, later: Callable[[Path], bool]):
        """`later(path)`: a folder was made; True when it is one to watch that did not exist at the start."""
        self.root, self.ignore, self.changes, self.later = root, ignore, changes, later

    def on_any_event(self, event: FileSystemEvent) -> None:
        for raw in (event.src_path, getattr(event, "dest_path", "") or ""):
            if not raw:
                continue
            path = Path(raw if isinstance(raw, str) else raw.decode())
            if TEMP.search(path.name) or any(path.is_relative_to(p) for p in self.ignore):
                continue
            if path.parent == self.root and not self.later(path) and path.name != "site.toml":
                continue  # the site folder itself is watched for site.toml and the folders in `later` only
            self.changes.saw(str(path))


class Watcher:
    """The site's watched folders, on one inotify instance (one kernel event queue)."""

    def __init__(self, root: Path, folders: Iterable[Path], ignore: list[Path], changes: Changes):
        self.root, self.changes = root, changes
        self.folders = list(dict.fromkeys(folders))
        self.handler = _Events(root, ignore, changes, self._appeared)
        self.lock = threading.Lock()
        self.observer: Observer | None = None
        self.watched: set[Path] = set()  # the folders of `folders` under watch (those that exist)
        self.filter = _Overflow(lambda: changes.everything(lost=True))
        self.closed = False  # stopped (for good): see start

    def start(self) -> None:
        for name in WATCHDOG_LOGGERS:
            logging.getLogger(name).addFilter(self.filter)
        with self.lock:
            if not self.closed:
                self.observer = self._observe()
        if self.closed:  # stopped while the watches were being set up: what was made is stopped here
            self.stop()

    def renew(self) -> None:
        """A new inotify instance with fresh watches, for one whose events were lost. watchdog re-adds its
        watches itself, but by removing each first, which queues one event per watched folder: on an archive
        with more folders than the queue holds, that overflows again, without end."""
        with self.lock:
            old, self.observer = self.observer, None
        if old is not None:
            old.stop()
            old.join(timeout=10)
        with self.lock:
            if not self.closed:
                self.observer = self._observe()

    def stop(self) -> None:
        self.closed = True
        # A start under way holds the lock for seconds on a big archive: Ctrl-C does not wait for it (the start
        # sees `closed` and stops what it made itself).
        if not self.lock.acquire(timeout=1):
            return
        try:
            old, self.observer = self.observer, None
        finally:
            self.lock.release()
        if old is not None:
            old.stop()
            old.join(timeout=2)
        for name in WATCHDOG_LOGGERS:
            logging.getLogger(name).removeFilter(self.filter)

    def _observe(self) -> Observer:
        observer = Observer()
        # The site folder itself: site.toml, and the watched folders that do not exist yet appearing.
        observer.schedule(self.handler, str(self.root), recursive=False, event_filter=EDITS)
        self.watched = {folder for folder in self.folders if folder.is_dir()}
        for folder in self.folders:
            if folder in self.watched:
                observer.schedule(self.handler, str(folder), recursive=True, event_filter=EDITS)
        observer.start()
        return observer

    def _appeared(self, path: Path) -> bool:
        """Called from watchdog's thread for every change right inside the site folder."""
        if path not in self.folders or path in self.watched or not path.is_dir():
            return False
        with self.lock:
            if self.observer is not None:
                self.observer.schedule(self.handler, str(path), recursive=True, event_filter=EDITS)
                self.watched.add(path)
        return True


class _Overflow(logging.Filter):
    """Hears watchdog's log lines saying the kernel dropped events (one for the queue, one per watched tree,
    again at every overflow: a flood in the terminal) and turns them into one call of `lost` per overflow."""

    def __init__(self, lost: Callable[[], None]):
        super().__init__()
        self.lost = lost

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(OVERFLOW):
            return True
        if record.name == WATCHDOG_LOGGERS[0]:
            self.lost()
        return False


class Every:
    """Lets a repeated message through at most once per `seconds`, counting what it held back."""

    def __init__(self, seconds: float):
        self.seconds, self.last, self.held = seconds, float("-inf"), 0

    def due(self, count: int = 1) -> int:
        """0 while too soon; else how many occurrences the message now stands for."""
        self.held += count
        now = time.monotonic()
        if now - self.last < self.seconds:
            return 0
        self.last, held, self.held = now, self.held, 0
        return held
