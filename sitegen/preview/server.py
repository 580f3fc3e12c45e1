"""Live preview: build with drafts into .sitegen/preview/, serve it on 127.0.0.1, rebuild and reload on save.
Its build cache lives in memory, saved to .sitegen/preview-cache/ when the editor pauses and when it stops; a first
build with nothing saved to start from runs as `sitegen build` does, in a process of its own (apart.py), and so
does any later build that needs the site's whole model (an addition, a template) when this machine has not the
memory to make it beside what the preview holds (`Preview.whole_here`): `serve` then starts its own process afresh
in place (`_restart`: same process, same port, the open page reloads by itself), so that what the preview held is
given back to the system before that build runs.

The only module importing livereload (browser reload over a websocket). A failed rebuild never stops the server:
every page keeps its last good content and carries an overlay naming file, line and message, put into the HTML
on its way out so it shows before any script runs; the next good save removes it. A site previewed (or built)
before is served at once from that output, under a banner, while the first build catches up in the background:
from the saved cache, what changed meanwhile (seconds at 10 000 articles; without it, a minute). Requests
addressed to another host and websockets opened from another origin are refused (guard.py).
"""

from __future__ import annotations

import gc
import html
import mimetypes
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection, Iterable
from urllib.parse import unquote

from livereload import Server
from livereload.handlers import LiveReloadHandler, LiveReloadJSHandler
from livereload.server import LiveScriptInjector
from livereload.watcher import Watcher as LivereloadWatcher
from tornado import escape, ioloop, routing, web
from tornado.httpserver import HTTPServer

from .. import config as config_mod, guide
from ..diagnostics import BuildFailed, Diagnostic
from ..build import workers
from ..build.cache import BULK, ON_DISK
from ..build.lock import site_lock
from ..build.pipeline import Warm, build, ready_spare
from ..build.result import BuildResult, Cancelled, Elsewhere
from ..structure.routes import safe_join
from . import guard
from .apart import Failed as ApartFailed, build_apart, preview_config
from .watch import Changes, Every, Watcher

LOCK_WAIT = 60.0  # seconds a rebuild waits for a `sitegen build` of the same site before it gives up (LOCK001)
LOST_EVERY = 30.0  # seconds between two "events were lost" lines in the terminal (the rest are counted)
SEARCH_PAUSE = 1.0  # seconds without a save before the search index catches up (the browser reloads meanwhile)
SAVE_PAUSE = 2.0  # seconds without a save before the memory cache is saved to disk (Preview.persist)
SPARE_PAUSE = 1.0  # seconds without a save before the spare output tree is made ready (Preview.ready_spare)
# Objects frozen since the last `settle` past which a save settles again: every edit save freezes its own model
# (pipeline._uncollected), some 500 objects of cycles a save, holding 1.2 MB at 10 000 articles (RSS 211 -> 330 MiB
# over 96 saves, ad-hoc pleak.py): a settle every 20 saves or so, 0.1-0.2 s there, after the browser reloaded.
SETTLE_GROWTH = 10_000
STOP_WAIT = 2.0  # seconds Ctrl-C waits for a rebuild under way before stopping without saving the cache
# A build of the whole model is made in the preview's process only if the memory free is this many times what the
# last one needed: that figure is from another build (another size of site, another moment).
ROOM = 1.25


@dataclass
class Preview:
    """The preview site: rebuilds on demand and remembers the last outcome."""

    root: Path
    output: Path
    log: Callable[[str], None] = print
    warm: Warm = field(default_factory=Warm)  # what the next rebuild can reuse
    errors: list[Diagnostic] = field(default_factory=list)
    base_path: str = "/"
    lock: threading.Lock = field(default_factory=threading.Lock)
    wait: float = LOCK_WAIT
    missed: bool = False  # a rebuild gave up before reading anything: the files it was told of are news still
    shown: Path | None = None  # the folder served: `output`, or until the first build, what an earlier run left
    catching_up: bool = False  # serving that earlier output while the first build runs (the banner says so)
    held: bool = False  # the last rebuild succeeded, but `errors` held some articles back
    search_pending: int = 0  # search shards a save left to index again (see `index_search`)
    modelled: bool = False  # the last rebuild made the site's model anew (not an edit build): see `settle`
    settled: int = field(default_factory=gc.get_freeze_count)  # how many objects the last `settle` left frozen
    spare_behind: bool = False  # a rebuild since the last `ready_spare` was not an edit build
    apart_failed: bool = False  # a first build run apart gave no result: build here from then on (`_apart`)
    apart_for: str = ""  # the configuration the last build run apart was made for (its search index is whole)
    # What the last build of the whole model needed (bytes): beyond what the preview held, made here; all of its
    # process's, made apart. 0: not known yet (see `whole_here`).
    whole_cost: int = 0
    short: tuple[int, int] = (0, 0)  # the memory free and needed when `whole_here` last said no
    # Set by `serve`: this process can start afresh in its own place (`_restart`). A build of the whole model that
    # must run apart for want of memory then does so from a fresh process, not after letting go of the model here:
    # what Python frees stays in its arenas (at 100 000 articles in 2 GiB the preview still held 469 MB, and the
    # build beside it was killed twice), while a fresh process holds only its code until that build is done.
    can_restart: bool = False
    restart_due: bool = False  # `rebuild` saved what it holds and asks `rebuild_on_change` to restart
    apart_first: bool = False  # started afresh for a build apart: it runs before anything is read back

    def rebuild(self, reason: str = "", changed: Collection[str] | None = None, search_now: bool = False,
                cancel: Callable[[], bool] | None = None, done: str = "") -> bool:
        """Build once; on failure keep the previous preview and remember the errors for the overlay. `changed`:
        the files the watcher saw change since the last rebuild (None: unknown, walk everything). A save does
        not wait for the search index (build's `search_later`) unless `search_now`; `cancel`: see build. `done`:
        the line said when it succeeds, instead of what it rendered ({ms}: how long it took)."""
        with self.lock:
            started = time.perf_counter()
            if self.missed:
                changed = None  # what the watcher reported to the rebuild that gave up is lost: walk everything
            # (the build run apart, if one is: see ApartFailed below; started afresh for one, the whole model's)
            which = "toàn bộ" if self.apart_first else "đầu tiên"
            try:
                # The site's build lock (lock.py), like `sitegen build`: both fill .sitegen/cache/img, and a cron
                # build started while the editor saves must not run at the same time as this rebuild.
                self.missed = True
                with site_lock(self.root, self.wait, on_wait=self.log):
                    self.missed = False
                    cfg = preview_config(self.root, self.output)
                    self.base_path = cfg.base_path
                    if self._first_apart(cfg):
                        result = self._apart(cfg)
                    else:
                        # Pagefind takes seconds for a shard of the archive: a save shows its page first, and the
                        # index follows once the editor pauses (`index_search`). The first build makes it at once
                        # (here, or apart: then a save compiles the templates, but the index is whole).
                        indexed = self.warm.templates is not None or self.apart_for == cfg.fingerprint
                        later = not search_now and indexed
                        before = workers.resident_memory() if workers.reset_peak() else None
                        try:
                            result = build(cfg, drafts=True, warm=self.warm, search_later=later, cancel=cancel,
                                           changed=changed, whole_here=self.whole_here)
                        except Elsewhere:
                            result = None  # (built below: the traceback's frames still hold this model here)
                        if result is None:
                            which, (free, need) = "toàn bộ", self.short
                            if self.can_restart:
                                self.log(f"Khởi động lại bản xem thử để dựng toàn bộ trong một tiến trình riêng: "
                                         f"máy còn {free >> 20} MB, dựng ở đây cần khoảng {need >> 20} MB.")
                                self.warm.persist()  # (what saves changed: the build apart starts from it)
                                self.restart_due = True
                                return False
                            self.log(f"Dựng lại toàn bộ trong một tiến trình riêng: máy còn {free >> 20} MB, "
                                     f"dựng ở đây cần khoảng {need >> 20} MB.")
                            result = self._apart(cfg, after_saves=True)
                        elif not result.edited and not result.skipped and before:
                            self.whole_cost = max(0, (workers.peak_since_reset() or before) - before)
            except Cancelled:
                return False  # a new save came: it is built first, and the index waits for the next pause
            except BuildFailed as failed:
                self.errors = [d for d in failed.diagnostics if d.severity == "error"]
                self.held = False
                self.log(f"Lỗi khi dựng lại{reason}: {len(self.errors)} lỗi; vẫn phục vụ bản trước.")
                for d in self.errors[:20]:
                    self.log("  " + d.format())
                self.catching_up = False
                return False
            except ApartFailed as exc:  # (killed, out of memory)
                # A first build: the next one runs here, as before builds ran apart. A build of the whole model run
                # apart for want of memory: here it would take the preview down with it, so the next one runs
                # apart again (what failed is in the log and in the box on every page meanwhile).
                self.apart_failed = self.apart_failed or which == "đầu tiên"
                self.errors = [Diagnostic("", 0, 0, "SERVE002", "error", f"lần dựng {which} không xong: {exc}",
                                          "lưu lại một tệp để dựng lại; nếu lặp lại, báo cho người phụ trách kỹ thuật")]
                self.log(f"Lần dựng {which} (chạy riêng) không xong: {exc}")
                self.catching_up = False
                return False
            except Exception as exc:  # a bug in sitegen must not kill the editor's preview either
                self.errors = [Diagnostic("", 0, 0, "SERVE002", "error", f"lỗi không mong đợi: {type(exc).__name__}: {exc}",
                                          "báo cho người phụ trách kỹ thuật")]
                self.log(f"Lỗi không mong đợi khi dựng lại: {exc!r}")
                self.catching_up = False
                return False
            # Articles held back by errors of their own (build/hold.py): everything else was rebuilt, but their
            # author must still see what is wrong, in the same box.
            self.errors = [d for d in result.diagnostics if d.severity == "error"]
            self.held = bool(self.errors)
            self.shown, self.catching_up = self.output, False
            self.search_pending = result.search_pending
            self.modelled = self.modelled or not result.edited
            self.spare_behind = self.spare_behind or not result.edited
            ms = (time.perf_counter() - started) * 1000
            if done:
                self.log(done.format(ms=f"{ms:.0f}"))
            elif search_now and not result.rendered:
                self.log(f"Đã cập nhật chỉ mục tìm kiếm trong {ms:.0f} ms ({result.search}).")
            else:
                self.log(f"Đã dựng lại{reason} trong {ms:.0f} ms: {result.rendered} trang dựng mới, "
                         f"{result.pages} trang, {result.articles} bài.")
            for d in self.errors[:20]:
                self.log("  " + d.format())
            return True

    def whole_here(self) -> bool:
        """Whether a build of the site's whole model (asked by the build before it makes one) is to be made in this
        process: when the memory free (workers.free_memory: the machine's, or its cgroup's) holds what the last one
        needed with room to spare; not known yet, about what this preview holds now (the model, once more). Else
        it runs apart, as the first build does: at 100 000 articles in 2 GiB, an addition made here was killed."""
        if self.apart_failed or self.warm.cache_dir is None:
            return True
        fits, free, need = self._room(1)
        if not fits:
            self.short = (free, need)
        return fits

    def _room(self, builds: int) -> tuple[bool, int, int]:
        """Whether the memory free holds `builds` builds of the whole model (each what the last one needed, or not
        known yet, what this preview holds now), with ROOM to spare; and the two figures (bytes)."""
        free = workers.free_memory()
        need = self.whole_cost or workers.resident_memory() or 0
        return free is None or free >= builds * ROOM * need, free or 0, need

    def _apart(self, cfg: config_mod.SiteConfig, after_saves: bool = False) -> BuildResult:
        """Build in a process of its own (preview.apart) from what the cache file holds, then read back what it
        left there as if this preview had saved it. `after_saves`: this preview holds a model, which is saved
        first (what saves changed since: that build starts from it) and let go of (that build needs its memory)."""
        assert self.warm.cache_dir is not None
        if after_saves:
            self.warm.persist()  # (if the disk refuses, that build starts from the last save: slower, as right)
            self.warm = Warm(cache_dir=self.warm.cache_dir)
            gc.unfreeze()  # (see `settle`: frozen cycles are never collected)
            workers.give_back()
        result, self.whole_cost = build_apart(self.root, self.output, self.warm.cache_dir)
        self.warm.for_config(cfg.fingerprint)
        # The tables only such a build reads whole stay in the file too, unless the memory free holds two such
        # builds: what this preview holds is then small enough to leave room for one beside it (and for the file
        # cache its saves read through). At 100 000 articles in 2 GiB that is 580 MB less, saves as fast.
        self.warm.on_disk = ON_DISK if self._room(2)[0] else ON_DISK | BULK
        self.warm.read_back()  # what that build left, as if this preview had saved it
        self.apart_for = cfg.fingerprint
        return result

    def _first_apart(self, cfg: config_mod.SiteConfig) -> bool:
        """Whether this build is to run apart (preview.apart): a preview with a cache folder, building for the first
        time with nothing to start from (what it saved last time, if anything, is read back first)."""
        if self.apart_failed or self.warm.cache_dir is None or self.warm.templates is not None:
            return False
        if self.apart_first:  # (what it would read back is what that build starts from, in the file)
            self.apart_first = False
            return True
        self.warm.for_config(cfg.fingerprint)
        self.warm.restore()
        return not self.warm.tables

    @property
    def cold(self) -> bool:
        """Built apart (preview.apart) and not yet in this process: the next save would first read what saves read
        (the walk of the site's files, the last plan, the records of what pages read)."""
        return bool(self.apart_for) and self.warm.templates is None

    def warm_up(self, cancel: Callable[[], bool]) -> bool:
        """After a first build run apart, while the editor reads its page: a build with nothing changed, which
        reads now what the first save would (at 10 000 articles that save took 463 ms instead of 188 ms, in
        benchmarks/preview_memory.py; at 100 000, 14.6 s). Not when a save is waiting: it reads the same, once."""
        if not self.cold or cancel():
            return False
        return self.rebuild(changed=[], done="Đã đọc sẵn những gì một lần lưu cần, trong {ms} ms.")

    def settle(self) -> None:
        """After a build that made the model anew: what it made (the warm cache, compiled templates) lives on
        through the saves that follow, millions of objects that Python's cyclic collector would otherwise walk
        again and again: every other save at 10 000 articles paid 0.12 s for it. They are moved out of its sight
        (gc.freeze), once garbage has been collected, so that no garbage is kept frozen. Edit saves freeze their
        own model too, cycles among it that would never be collected (29 797 objects after 60 saves of the example
        site, ad-hoc pleak.py): once enough of them have piled up (SETTLE_GROWTH), they are collected the same way."""
        if self.modelled or gc.get_freeze_count() > self.settled + SETTLE_GROWTH:
            self.modelled = False
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.settled = gc.get_freeze_count()

    def ready_spare(self, cancel: Callable[[], bool]) -> bool:
        """After a build that was not an edit build (the first one, an addition, a template): the spare output
        tree made what the live one holds, while the editor pauses, so that the next save links only the files
        it changes (pipeline.ready_spare). `cancel()` (a new save) stops it; the next build then does the rest."""
        with self.lock:
            done = False
            try:
                with site_lock(self.root, self.wait, on_wait=self.log):
                    done = ready_spare(preview_config(self.root, self.output), self.warm, cancel)
            except BuildFailed:
                pass  # (site.toml broken since, the lock held elsewhere): the next build says so, and links
            except Exception as exc:  # (a full disk, a bug): the next save links what it needs, as before
                self.log(f"Không chuẩn bị được thư mục dự phòng của bản xem trước: {exc!r}")
            self.spare_behind = not done and cancel()  # (stopped by a save: again at the next pause)
            return done

    def index_search(self, cancel: Callable[[], bool]) -> bool:
        """Index again the search shards the last saves left behind: a build with nothing changed but the search
        stage, which `cancel()` (a new save) stops without publishing anything."""
        return self.rebuild(changed=[], search_now=True, cancel=cancel)

    def persist(self, cancel: Callable[[], bool] | None = None, wait: float = -1) -> bool:
        """Save the memory cache (what changed since the last save) for the next start, between rebuilds
        (`wait`: seconds to wait for one under way, -1 for ever). Never fatal: the next start builds more."""
        if not self.lock.acquire(timeout=wait):
            return False
        try:
            return self.warm.persist(cancel)
        except Exception as exc:  # (a full disk, a bug): the preview goes on
            self.log(f"Không lưu được bộ nhớ đệm của bản xem trước: {exc!r}")
            return False
        finally:
            self.lock.release()

    def resume(self, earlier: Iterable[Path]) -> None:
        """Serve the first of `earlier` (the last preview, the last build) that holds a site, until the first
        build is done: a big archive then answers at once instead of after a minute."""
        self.shown = next((folder for folder in earlier if (folder / "index.html").is_file()), None)
        self.catching_up = True

    def wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Serve files of the preview folder; never anything outside it."""
        path = unquote(environ.get("PATH_INFO", "/"))
        if path.rstrip("/") == guide.PREVIEW_PATH.rstrip("/"):  # the error box's links lead here, even before
            return _guide_page(start_response)                  # a first build has succeeded
        shown = self.shown
        if shown is None:
            body = self.decorate(WAITING_PAGE)
            start_response("503 Service Unavailable", [("Content-Type", "text/html; charset=utf-8"),
                                                       ("Cache-Control", "no-store"), ("Retry-After", "2"),
                                                       ("Content-Length", str(len(body)))])
            return [body]
        if path.startswith(self.base_path):
            path = path[len(self.base_path):]
        elif self.base_path != "/" and path in ("", "/"):
            start_response("302 Found", [("Location", self.base_path)])
            return [b""]
        path = path.lstrip("/")
        status, target = "200 OK", None
        try:
            candidate = safe_join(shown, path)
            if candidate.is_dir():
                if path and not path.endswith("/"):
                    start_response("301 Moved Permanently", [("Location", self.base_path + path + "/")])
                    return [b""]
                candidate = candidate / "index.html"
            if candidate.is_file():
                target = candidate
        except (ValueError, OSError):
            target = None
        if target is None:
            status, target = "404 Not Found", shown / "404.html"
        try:
            body = target.read_bytes()
        except OSError:
            body, target = b"<!DOCTYPE html><title>404</title><p>Kh\xc3\xb4ng t\xc3\xacm th\xe1\xba\xa5y</p>", Path("x.html")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype == "text/html":
            body = self.decorate(body)
            ctype += "; charset=utf-8"
        # Theme files are linked with a content hash (?v=...), so the browser may keep them; everything else is
        # fetched anew on each reload, so an edit always shows.
        hashed = path.startswith("assets/") and "v=" in environ.get("QUERY_STRING", "")
        cache = "public, max-age=31536000, immutable" if hashed else "no-store"
        start_response(status, [("Content-Type", ctype), ("Cache-Control", cache),
                                ("Content-Length", str(len(body)))])
        return [body]

    def decorate(self, body: bytes) -> bytes:
        """Put the error overlay (or the catching-up banner) right after <body>, so it is there before any
        script runs."""
        if self.catching_up and not self.errors:
            return _after_body(body, CATCHING_UP)
        if not self.errors:
            return body
        items = "".join(f"<li>{_linked(d)}</li>" for d in self.errors[:50])
        overlay = (
            '<div id="sitegen-error" role="alert" style="position:fixed;inset:0 0 auto 0;z-index:2147483647;'
            "max-height:70vh;overflow:auto;background:#fff4f4;color:#600;border-bottom:4px solid #b3121b;"
            'padding:1rem 1.25rem;font:15px/1.5 system-ui,sans-serif;box-shadow:0 4px 16px rgba(0,0,0,.3)">'
            f'<strong style="font-size:17px">{HELD_TITLE if self.held else FAILED_TITLE}</strong>'
            f'<ul style="margin:.5rem 0 0;padding-left:1.2rem">{items}</ul>'
            '<p style="margin:.5rem 0 0">Sửa lỗi và lưu tệp: trang sẽ tự tải lại.</p></div>'
        ).encode("utf-8")
        return _after_body(body, overlay)


def _linked(d: Diagnostic) -> str:
    """One diagnostic as the terminal prints it, its `[xem: sitegen help CODE]` a link to that section of the
    guide the preview serves (a site made by `sitegen init` has no docs/ folder to open)."""
    line, reference = d.format(), f" [{d.reference}]"
    if line.endswith(reference):
        line = line[:-len(reference)]
    href = f"{guide.PREVIEW_PATH}#{d.code.lower()}"
    return (f'<code>{html.escape(line)}</code> <a href="{html.escape(href)}" target="_blank" rel="noopener" '
            f'style="color:#600">[{html.escape(d.reference)}]</a>')


def _guide_page(start_response: Callable) -> Iterable[bytes]:
    try:
        body, status = guide.as_html(), "200 OK"
    except OSError:  # a broken install; the terminal's `sitegen help` says the same
        body, status = "<!DOCTYPE html><title>Hướng dẫn</title><p>Không tìm thấy hướng dẫn biên tập.</p>".encode(), "404 Not Found"
    start_response(status, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                            ("Content-Length", str(len(body)))])
    return [body]


def _after_body(body: bytes, insert: bytes) -> bytes:
    lower = body.lower()
    at = lower.find(b"<body")
    end = lower.find(b">", at) + 1 if at >= 0 else 0
    return body[:end] + insert + body[end:]


FAILED_TITLE = "Bản dựng mới bị lỗi: trang đang hiện nội dung cũ."
HELD_TITLE = "Có bài bị lỗi: bài đó chưa được cập nhật (bài mới thì chưa hiện); các bài khác đã cập nhật."
CATCHING_UP = (
    '<div id="sitegen-catching-up" role="status" style="position:fixed;inset:auto 0 0 0;z-index:2147483647;'
    'background:#fff8d6;color:#4d3b00;border-top:2px solid #d9a800;padding:.4rem 1rem;'
    'font:14px/1.4 system-ui,sans-serif">Đang cập nhật bản xem trước… Trang này là bản lần trước; '
    'trang sẽ tự tải lại khi xong.</div>').encode("utf-8")
WAITING_PAGE = (
    '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Đang dựng bản xem trước…</title></head>'
    '<body style="font:16px/1.5 system-ui,sans-serif;margin:2rem"><p>Đang dựng bản xem trước lần đầu… '
    'Trang sẽ tự tải lại khi xong.</p></body></html>').encode("utf-8")


class _ReloadWhenBuilt(LivereloadWatcher):
    """livereload's watcher interface, driven by our rebuilds instead of its 0.8 s polling."""

    def __init__(self) -> None:
        super().__init__()
        self.ready: list[tuple[str, float]] = []
        self.lock = threading.Lock()
        self.loop: ioloop.IOLoop | None = None
        self.callback: Callable[[], None] | None = None

    def start(self, callback: Callable[[], None]) -> bool:
        self.loop, self.callback = ioloop.IOLoop.current(), callback
        return True  # tells livereload not to start its own polling

    def built(self, path: str, since: float) -> None:
        with self.lock:
            self.ready.append((path, since))
        if self.loop is not None and self.callback is not None:
            self.loop.add_callback(self.callback)

    def examine(self) -> tuple[str | None, float | None]:
        with self.lock:
            if not self.ready:
                return None, None
            path, since = self.ready[-1]
            self.ready.clear()
        self.filepath = path
        print(f"Tải lại trình duyệt: {(time.perf_counter() - since) * 1000:.0f} ms sau khi lưu.", flush=True)
        return "__livereload__", None  # livereload reloads at once for this name (no 3 s guard)


def rebuild_on_change(changes: Changes, watcher: Watcher, preview: Preview, on_built: Callable[[str, float], None],
                      log: Callable[[str], None]) -> None:
    """The rebuild thread: one rebuild per batch of changes, until `changes` is stopped."""
    lost = Every(LOST_EVERY)
    while (batch := changes.next_batch()) is not None:
        if batch.renew:
            watcher.renew()  # before the walk, so that nothing changed during it goes unseen
        if batch.lost and (times := lost.due(batch.lost)):
            log(f"Hệ điều hành báo mất sự kiện tệp ({times} lần): so dấu thời gian của mọi tệp để dựng lại "
                f"đúng những gì đã đổi.")
        names = batch.paths
        if preview.catching_up:
            reason = " lần đầu"
        elif names:
            reason = f" ({Path(names[0]).name}" + (f" và {len(names) - 1} tệp khác)" if len(names) > 1 else ")")
        else:
            reason = " (các tệp đã đổi)"
        preview.rebuild(reason, None if batch.walk else names)
        if preview.restart_due:
            return  # (`serve` starts this process afresh: its first build catches up with every change)
        on_built(names[0] if names else "*", batch.first)
        preview.settle()  # (once the browser has been told to reload)
        # The page is reloaded; the search index catches up once the editor pauses, unless a new save comes.
        if preview.search_pending and changes.idle(SEARCH_PAUSE):
            preview.index_search(changes.waiting)
        # Then the spare output tree, after a build that changed many files (the next save links only its own).
        if preview.spare_behind and changes.idle(SPARE_PAUSE):
            preview.ready_spare(changes.waiting)
        # After a first build run apart, still quiet: what a save reads is read now, not by the first save.
        if preview.cold and changes.idle(SPARE_PAUSE):
            preview.warm_up(changes.waiting)
        # Then, still quiet, the cache is saved (the first time after a full build: seconds, stopped by a save).
        if preview.warm.journal and changes.idle(SAVE_PAUSE):
            preview.persist(changes.waiting)


class _Refuse(web.RequestHandler):
    """The answer to a request the guard turns away: a status and one Vietnamese sentence."""

    def initialize(self, status: int, text: str) -> None:
        self.code, self.text = status, text

    def prepare(self) -> None:
        self.set_status(self.code)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(self.text + "\n")


class _Guard(routing.Router):
    """In front of every handler (pages, livereload.js and the reload websocket): the Host and Origin checks."""

    def __init__(self, app: web.Application, host: str, port: int):
        self.app, self.host, self.port = app, host, port

    def find_handler(self, request, **kwargs):
        good = guard.address(self.host, self.port)
        seen = request.headers.get("Host")
        if not guard.host_allowed(seen, self.host, self.port):
            text = guard.WRONG_HOST.format(good=good, seen=_printable(seen))
            return self.app.get_handler_delegate(request, _Refuse, {"status": 421, "text": text})
        origin = request.headers.get("Origin")
        if request.headers.get("Upgrade", "").lower() == "websocket" and not guard.origin_allowed(origin, self.host,
                                                                                                   self.port):
            text = guard.WRONG_ORIGIN.format(seen=_printable(origin))
            return self.app.get_handler_delegate(request, _Refuse, {"status": 403, "text": text})
        return self.app.find_handler(request, **kwargs)


def _printable(value: str | None) -> str:
    return "".join(c if c.isprintable() else "?" for c in (value or ""))[:100]


class _GuardedServer(Server):
    """livereload's server with its application built here: the same handlers (but no /forcereload, which any
    page could call), behind the guard, on sockets already bound."""

    def __init__(self, sockets: list, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sockets = sockets

    def application(self, port, host, liveport=None, debug=None, live_css=True):
        LiveReloadHandler.watcher = self.watcher
        LiveReloadHandler.live_css = live_css
        # As livereload's own snippet: the script comes from the host the page was loaded from.
        script = escape.utf8(
            '<script type="text/javascript">(function(){var s=document.createElement("script");'
            'var port=(window.location.port || (window.location.protocol == \'https:\' ? 443: 80));'
            's.src="//"+window.location.hostname+":"+port+ "/livereload.js?port=" + port;'
            'document.head.appendChild(s);'
            # A page whose reload connection comes back after losing it (the preview started afresh, see _restart,
            # or stopped and run again) reloads: the build that finished meanwhile told nobody.
            'var lost=false;document.addEventListener("LiveReloadDisconnect",function(){lost=true;});'
            'document.addEventListener("LiveReloadConnect",function(){if(lost){location.reload();}});'
            '})();</script>')

        class Injector(LiveScriptInjector):
            pass

        Injector.script = script
        app = web.Application(handlers=[(r"/livereload", LiveReloadHandler), (r"/livereload.js", LiveReloadJSHandler),
                                        *self.get_web_handlers(script)], debug=False, transforms=[Injector])
        # The sockets were bound by `serve` before it printed the address (see _bind): listen() here would fail
        # only after livereload had announced a working-looking address.
        HTTPServer(_Guard(app, host, port)).add_sockets(self.sockets)


DEFAULT_PORT = 8000
PORTS_TRIED = 20  # without --port, the next free one of 8000..8019 (another preview, another program)


class PortBusy(Exception):
    """The port given could not be opened; `message` says which and why, in Vietnamese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _bind(host: str, port: int | None, log: Callable[[str], None], first: int = DEFAULT_PORT) -> tuple[list, int]:
    """Bind the preview's sockets before anything is announced. `port` None: `first`, or the next free one
    (said so); a port the user chose is that port or a clear error."""
    import errno

    from tornado.netutil import bind_sockets

    candidates = [port] if port is not None else range(first, first + PORTS_TRIED)
    for candidate in candidates:
        try:
            sockets = bind_sockets(candidate, address=host)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and port is None:
                continue
            if exc.errno == errno.EADDRINUSE:
                raise PortBusy(f"cổng {candidate} đang có chương trình khác dùng (có thể là một bản xem thử khác "
                               f"đang chạy)") from None
            raise PortBusy(f"không mở được {host}:{candidate}: {exc.strerror or exc}") from None
        if candidate != (port or first):
            log(f"Cổng {first} đang bận: dùng cổng {candidate}.")
        return sockets, candidate
    raise PortBusy(f"các cổng {first} đến {first + PORTS_TRIED - 1} đều đang bận")


def serve(root: Path, host: str = "127.0.0.1", port: int | None = None, output: Path | None = None) -> int:
    """Serve at once (what an earlier run left, or a waiting page), build in the background, then watch and
    rebuild until Ctrl-C. `port` None: 8000 or the next free port. Raises PortBusy before doing anything else
    when the port cannot be opened."""
    root = root.resolve()
    log = lambda s: print(s, flush=True)  # noqa: E731
    inherited = _inherited()
    sockets, port = (inherited, inherited[0].getsockname()[1]) if inherited else _bind(host, port, log)
    output = (output or root / ".sitegen" / "preview").resolve()
    preview = Preview(root, output, log=log, warm=Warm(cache_dir=root / ".sitegen" / "preview-cache"),
                      can_restart=hasattr(os, "execve") and os.path.isdir("/proc/self/fd"), apart_first=bool(inherited))
    cfg = None
    try:
        cfg = config_mod.load(root, output)
        preview.base_path = cfg.base_path
    except BuildFailed:
        pass  # the first build reports it
    earlier = [output] + ([config_mod.load(root).output_dir] if cfg is not None else [])
    preview.resume(earlier)
    # Watch only what the build reads: watching the whole folder would also see the preview being rewritten.
    watch_dirs = [root / "content", root / "templates", root / "assets"]
    if cfg is not None:
        watch_dirs += [d for d in (*cfg.templates_dirs, *cfg.assets_dirs) if d not in watch_dirs]
    reloader = _ReloadWhenBuilt()
    reloader.watch(str(root))  # livereload otherwise announces it watches the working directory
    changes = Changes()
    watcher = Watcher(root, watch_dirs, [root / ".sitegen", root / "public", root / ".git"], changes)
    changes.everything()  # the first build

    def watch_then_rebuild() -> None:
        # Watching is set up before the first build, so that a save made while it runs is seen; on a big archive
        # that takes seconds (an inotify watch per folder: 5-13 s at 100 000 articles), during which the server
        # already answers from what an earlier run left, instead of after them.
        watcher.start()
        rebuild_on_change(changes, watcher, preview, reloader.built, log)
        while preview.restart_due:
            try:
                _restart(sockets)
            except OSError as exc:  # (it never returns otherwise): build apart from here, as without a restart
                log(f"Không khởi động lại được bản xem thử ({exc}): dựng toàn bộ trong tiến trình riêng từ đây.")
                preview.can_restart = preview.restart_due = False
                changes.everything()
                rebuild_on_change(changes, watcher, preview, reloader.built, log)

    worker = threading.Thread(target=watch_then_rebuild, name="sitegen-rebuild", daemon=True)
    worker.start()
    server = _GuardedServer(sockets, app=preview.wsgi, watcher=reloader)
    if preview.shown is not None:
        log(f"Đang phục vụ bản xem trước lần trước ({preview.shown.name}/) trong khi dựng lại.")
    log(f"Xem thử tại {guard.address(host, port)}{preview.base_path}  (Ctrl-C để dừng)")
    try:
        server.serve(port=port, host=host, debug=False, open_url_delay=None)
    finally:
        changes.stop()
        watcher.stop()
        if preview.warm.journal:  # (a rebuild under way is not waited for: the next start builds more)
            preview.persist(wait=STOP_WAIT)
        print("Đã dừng xem thử.", flush=True)
    return 0


# Names the listening sockets a preview hands to itself when it starts afresh (`_restart`).
RESTARTED = "SITEGEN_PREVIEW_SOCKETS"


def _restart(sockets: list) -> None:
    """This process, started again in its own place (same process, same command line, same sockets: the browser's
    page and its reload connection find it where they left it) to run a build of the whole model apart from a fresh
    start (Preview.can_restart). Nothing else is handed on: an inotify instance left open (watchdog's is not closed
    on exec) would keep every watch it has, and a site's archive can need most of the user's allowance."""
    keep = {sock.fileno() for sock in sockets}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # (the listing's own descriptor, closed since)
    for sock in sockets:
        sock.set_inheritable(True)
    env = {**os.environ, RESTARTED: ",".join(str(sock.fileno()) for sock in sockets)}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def _inherited() -> list | None:
    """The listening sockets an earlier image of this process left (see `_restart`), or None."""
    import socket

    named = os.environ.pop(RESTARTED, "")
    if not named:
        return None
    sockets = [socket.socket(fileno=int(fd)) for fd in named.split(",")]
    for sock in sockets:
        sock.set_inheritable(False)
        sock.setblocking(False)
    return sockets


def serve_public(root: Path, host: str = "127.0.0.1", port: int | None = None, output: Path | None = None) -> int:
    """Serve the built site (public/, or `output`) as the host will: under the path of base_url, nothing outside
    it, the site's 404.html for what is missing, no drafts, no rebuilds, no reload script. A local check that
    works for any base_url (`python3 -m http.server -d public` serves /, so a site under /tin-tuc/ breaks there).
    Raises PortBusy before anything else when the port cannot be opened."""
    from tornado.wsgi import WSGIContainer

    log = lambda s: print(s, flush=True)  # noqa: E731
    cfg = config_mod.load(root, output)
    sockets, port = _bind(host, port, log)
    site = Preview(cfg.root, cfg.output_dir, log=log, base_path=cfg.base_path, shown=cfg.output_dir)

    def published(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = unquote(environ.get("PATH_INFO", "/"))
        if path in ("", "/") and site.base_path != "/":
            start_response("302 Found", [("Location", site.base_path)])
            return [b""]
        if path.startswith(site.base_path) and not path.startswith(guide.PREVIEW_PATH):
            return site.wsgi(environ, start_response)
        try:  # outside the site's path: what the host answers, the site's own 404 page
            body = (cfg.output_dir / "404.html").read_bytes()
        except OSError:
            body = b"404"
        start_response("404 Not Found", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                                         ("Content-Length", str(len(body)))])
        return [body]

    container = WSGIContainer(published)
    app = web.Application([(r".*", web.FallbackHandler, {"fallback": container})])
    HTTPServer(_Guard(app, host, port)).add_sockets(sockets)
    if not (cfg.output_dir / "index.html").is_file():
        log(f"Chú ý: {cfg.output_dir} chưa có trang nào; chạy sitegen build trước.")
    log(f"Phục vụ bản đã dựng {cfg.output_dir} (không dựng lại, không có bài nháp) tại "
        f"{guard.address(host, port)}{cfg.base_path}  (Ctrl-C để dừng)")
    try:
        ioloop.IOLoop.current().start()
    except KeyboardInterrupt:
        pass
    finally:
        print("Đã dừng.", flush=True)
    return 0
