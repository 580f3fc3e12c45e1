"""Shared fixtures: tiny sites written to tmp folders, builds through the real pipeline and CLI, HTML parsing."""

from __future__ import annotations

import functools
from contextlib import contextmanager
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import html5lib
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

from sitegen import config as config_mod  # noqa: E402
from sitegen.build.pipeline import build  # noqa: E402

XHTML = "{http://www.w3.org/1999/xhtml}"


def article(title: str = "Bài viết", date: str = "2024-03-29 17:58", body: str = "Nội dung bài viết.", **fields) -> str:
    """Markdown with YAML front matter; extra fields are written as given (already YAML)."""
    lines = ["---", f'title: "{title}"', f'date: "{date}"']
    lines += [f"{k}: {v}" for k, v in fields.items()]
    return "\n".join(lines) + "\n---\n\n" + textwrap.dedent(body).strip() + "\n"


class Site:
    """A site folder under tmp_path; `write` adds files, `build` runs the pipeline, `page` parses output."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def config(self, **kw):
        return config_mod.load(self.root, kw.pop("output", None))

    def build(self, **kw):
        cfg = self.config(output=kw.pop("output", None))
        return build(cfg, **kw)

    @property
    def public(self) -> Path:
        return self.root / "public"

    def html(self, rel: str):
        return parse_html((self.public / rel).read_bytes())

    def cli(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return run_cli(*args, "--source", str(self.root), env=env)


def free_port() -> int:
    """A TCP port free on loopback now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> tuple[int, str]:
    """(status, body) of a GET on a server a test started; (0, "") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError:
        return 0, ""


def wait_for(predicate, timeout: float = 15.0, what: str = ""):
    """Poll `predicate` until it gives something true (returned), or fail naming `what` and its last answer."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


# A suite started in the background by a shell without job control (`cmd &` in a script) has SIGINT ignored,
# and every server a test starts would inherit that: the tests that stop a server as Ctrl-C does could not.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def start_preview(root: Path) -> tuple[subprocess.Popen, int]:
    """`sitegen serve` on the site at `root`, on a free loopback port (stop it with `interrupt`)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sitegen", "serve", "--source", str(root), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc, port


def interrupt(proc: subprocess.Popen, timeout: float = 10) -> str | None:
    """Stop a server a test started as Ctrl-C would (SIGINT), killing it if it does not stop; its output."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[0]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "sitegen", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=600)


def parse_html(data: bytes):
    """Parse with html5lib in strict mode: any HTML parse error fails the test."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(data.decode("utf-8"))


def text_of(el) -> str:
    return " ".join("".join(el.itertext()).split())


def tree_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, except the marker that names the build (a fresh token each build)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".sitegen-output"}


def leftovers(site_root: Path) -> list[Path]:
    """Temporary folders a build must not leave behind (the spare twin of the output is by design)."""
    return [p for p in site_root.glob(".public.*") if not p.name.endswith(".spare")]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "site")


@pytest.fixture(scope="session")
def example_build(tmp_path_factory) -> Path:
    """The repository's example site, built once per test session into a tmp folder."""
    out = tmp_path_factory.mktemp("example") / "public"
    cfg = config_mod.load(ROOT, out)
    build(cfg)
    return out


# --- browser tests: Debian's chromium through Playwright, pages from a real HTTP server on 127.0.0.1 ---------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


class QuietHandler(SimpleHTTPRequestHandler):
    """A static file server with the types the site uses and no request log in the test output."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".webp": "image/webp", ".js": "text/javascript",
                      ".wasm": "application/wasm"}

    def log_message(self, *args) -> None:
        pass


class PageServer(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 refuses a page's burst of assets on a loaded machine (chrome-error)


@contextmanager
def serving(folder: Path, handler: type[SimpleHTTPRequestHandler] = QuietHandler) -> Iterator[str]:
    """Serve `folder` on a free port of 127.0.0.1 for the `with` block; yields its base URL."""
    server = PageServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (each test opens its own page or context). Not per session:
    Playwright's sync API allows one running instance, and some tests drive their own."""
    if not Path(CHROMIUM).is_file():
        pytest.fail("Debian's chromium is missing at /usr/bin/chromium (./dev.sh test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def shares_every_file(live: Path, spare: Path) -> bool:
    """Whether `spare` holds exactly the files of `live` (the output marker aside), each the very same file (one
    inode, two names): a spare output tree made ready (pipeline.ready_spare)."""
    from sitegen.build.write import MARKER

    def files(root: Path) -> dict[str, Path]:
        return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and p.name != MARKER}
    mine, theirs = files(live), files(spare)
    return mine.keys() == theirs.keys() and all(os.path.samestat(p.stat(), theirs[rel].stat()) for rel, p in mine.items())
