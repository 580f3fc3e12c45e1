"""Live preview: build with drafts into .sitegen/preview/, serve it on 127.0.0.1, rebuild and reload on save.

The only module importing livereload (browser reload over a websocket) and watchdog (file events from the
operating system, so a save is seen at once instead of at the next poll). A failed rebuild never stops the
server: every page keeps its last good content and carries an overlay naming file, line and message, put into
the HTML on its way out so it shows before any script runs; the next good save removes it.
"""

from __future__ import annotations

import html
import mimetypes
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection, Iterable
from urllib.parse import unquote

from livereload import Server
from livereload.watcher import Watcher
from tornado import ioloop
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .. import config as config_mod
from ..diagnostics import BuildFailed, Diagnostic
from ..build.lock import site_lock
from ..build.pipeline import Warm, build
from ..content.read import _TEMP
from ..structure.routes import safe_join

DEBOUNCE = 0.03  # seconds of quiet after the last file event: editors save in bursts (temp file, rename)
LOCK_WAIT = 60.0  # seconds a rebuild waits for a `sitegen build` of the same site before it gives up (LOCK001)


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

    def rebuild(self, reason: str = "", changed: Collection[str] | None = None) -> bool:
        """Build once; on failure keep the previous preview and remember the errors for the overlay. `changed`:
        the files the watcher saw change since the last rebuild (None: unknown, walk everything)."""
        with self.lock:
            started = time.perf_counter()
            if self.missed:
                changed = None  # what the watcher reported to the rebuild that gave up is lost: walk everything
            try:
                # The site's build lock (lock.py), like `sitegen build`: both fill .sitegen/cache/img, and a cron
                # build started while the editor saves must not run at the same time as this rebuild.
                self.missed = True
                with site_lock(self.root, self.wait, on_wait=self.log):
                    self.missed = False
                    cfg = config_mod.load(self.root, self.output)
                    self.base_path = cfg.base_path
                    # The search index is built once; re-indexing on every save would take seconds on a big site.
                    first = self.warm.templates is None
                    result = build(cfg, drafts=True, warm=self.warm, fresh_search=first, changed=changed)
            except BuildFailed as failed:
                self.errors = [d for d in failed.diagnostics if d.severity == "error"]
                self.log(f"Lỗi khi dựng lại{reason}: {len(self.errors)} lỗi; vẫn phục vụ bản trước.")
                for d in self.errors[:20]:
                    self.log("  " + d.format())
                return False
            except Exception as exc:  # a bug in sitegen must not kill the editor's preview either
                self.errors = [Diagnostic("", 0, 0, "TPL001", "error", f"lỗi không mong đợi: {type(exc).__name__}: {exc}",
                                          "báo cho người phụ trách kỹ thuật")]
                self.log(f"Lỗi không mong đợi khi dựng lại: {exc!r}")
                return False
            self.errors = []
            ms = (time.perf_counter() - started) * 1000
            self.log(f"Đã dựng lại{reason} trong {ms:.0f} ms: {result.rendered} trang dựng mới, "
                     f"{result.pages} trang, {result.articles} bài.")
            return True

    def wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Serve files of the preview folder; never anything outside it."""
        path = unquote(environ.get("PATH_INFO", "/"))
        if path.startswith(self.base_path):
            path = path[len(self.base_path):]
        elif self.base_path != "/" and path in ("", "/"):
            start_response("302 Found", [("Location", self.base_path)])
            return [b""]
        path = path.lstrip("/")
        status, target = "200 OK", None
        try:
            candidate = safe_join(self.output, path)
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
            status, target = "404 Not Found", self.output / "404.html"
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
        """Put the error overlay right after <body>, so it is there before any script runs."""
        if not self.errors:
            return body
        items = "".join(f"<li><code>{html.escape(d.format())}</code></li>" for d in self.errors[:50])
        overlay = (
            '<div id="sitegen-error" role="alert" style="position:fixed;inset:0 0 auto 0;z-index:2147483647;'
            "max-height:70vh;overflow:auto;background:#fff4f4;color:#600;border-bottom:4px solid #b3121b;"
            'padding:1rem 1.25rem;font:15px/1.5 system-ui,sans-serif;box-shadow:0 4px 16px rgba(0,0,0,.3)">'
            '<strong style="font-size:17px">Bản dựng mới bị lỗi: trang đang hiện nội dung cũ.</strong>'
            f'<ul style="margin:.5rem 0 0;padding-left:1.2rem">{items}</ul>'
            '<p style="margin:.5rem 0 0">Sửa lỗi và lưu tệp: trang sẽ tự tải lại.</p></div>'
        ).encode("utf-8")
        lower = body.lower()
        at = lower.find(b"<body")
        end = lower.find(b">", at) + 1 if at >= 0 else 0
        return body[:end] + overlay + body[end:]


class _Changes(FileSystemEventHandler):
    """Collects file events, waits for a quiet moment, then rebuilds once (one rebuild per burst of saves)."""

    def __init__(self, preview: Preview, ignore: list[Path], on_built: Callable[[str, float], None],
                 folders: dict[Path, Callable[[Path], None]] | None = None):
        """`folders`: watched folders that did not exist yet, and what to call when one is made (watch it)."""
        self.preview, self.ignore, self.on_built = preview, ignore, on_built
        self.folders = folders or {}
        self.pending: dict[str, float] = {}
        self.cond = threading.Condition()
        self.stopped = False

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type in ("modified", "closed"):
            return  # a folder's time changes with every save inside it; the file's own event is what counts
        for raw in (event.src_path, getattr(event, "dest_path", "") or ""):
            if not raw:
                continue
            path = Path(raw if isinstance(raw, str) else raw.decode())
            if _TEMP.search(path.name) or any(path.is_relative_to(p) for p in self.ignore):
                continue
            if path in self.folders and path.is_dir():  # templates/ made while the preview runs: watch it too
                self.folders.pop(path)(path)
            elif path.parent == self.preview.root and path.name != "site.toml":
                continue  # the site folder itself is watched for site.toml only
            with self.cond:
                self.pending.setdefault(str(path), time.perf_counter())
                self.cond.notify()

    def run(self) -> None:
        while True:
            with self.cond:
                while not self.pending and not self.stopped:
                    self.cond.wait()
                if self.stopped:
                    return
            time.sleep(DEBOUNCE)
            with self.cond:
                if not self.pending:
                    continue
                if time.perf_counter() - max(self.pending.values()) < DEBOUNCE:
                    continue  # still receiving events: wait for the burst to end
                batch, self.pending = self.pending, {}
            first = min(batch.values())
            names = sorted(batch)
            shown = Path(names[0]).name + (f" và {len(names) - 1} tệp khác" if len(names) > 1 else "")
            self.preview.rebuild(f" ({shown})", names)
            self.on_built(names[0], first)

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify()


class _ReloadWhenBuilt(Watcher):
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


def serve(root: Path, host: str = "127.0.0.1", port: int = 8000, output: Path | None = None) -> int:
    """Build, serve and watch until Ctrl-C."""
    root = root.resolve()
    output = (output or root / ".sitegen" / "preview").resolve()
    preview = Preview(root, output, log=lambda s: print(s, flush=True))
    preview.rebuild()
    cfg = None
    try:
        cfg = config_mod.load(root, output)
    except BuildFailed:
        pass
    # Watch only what the build reads: watching the whole folder would also see the preview being rewritten.
    watch_dirs = [root / "content", root / "templates", root / "assets"]
    if cfg is not None:
        watch_dirs += [d for d in (*cfg.templates_dirs, *cfg.assets_dirs) if d not in watch_dirs]
    watcher = _ReloadWhenBuilt()
    watcher.watch(str(root))  # livereload otherwise announces it watches the working directory
    observer = Observer()
    later = {d: lambda d: observer.schedule(changes, str(d), recursive=True) for d in watch_dirs
             if d.parent == root and not d.is_dir()}
    changes = _Changes(preview, [root / ".sitegen", root / "public", root / ".git"], watcher.built, later)
    observer.schedule(changes, str(root), recursive=False)  # site.toml, and the folders in `later` appearing
    for d in watch_dirs:
        if d.is_dir():
            observer.schedule(changes, str(d), recursive=True)
    observer.start()
    worker = threading.Thread(target=changes.run, name="sitegen-rebuild", daemon=True)
    worker.start()
    server = Server(app=preview.wsgi, watcher=watcher)
    print(f"Xem thử tại http://{host}:{port}{preview.base_path}  (Ctrl-C để dừng)", flush=True)
    try:
        server.serve(port=port, host=host, debug=False, open_url_delay=None)
    finally:
        changes.stop()
        observer.stop()
        observer.join(timeout=2)
        print("Đã dừng xem thử.", flush=True)
    return 0
