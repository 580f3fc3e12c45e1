"""`sitegen stats serve`: the collector over HTTP, on waitress.

HTTP plumbing only: refuse what is not a small HTTP request, find the client's address, write JSON, log one
line per request. What to answer is the `collector.Collector`'s to decide, over a `store.Store`. A build never
imports this module.

Why waitress: the collector faces the internet (through a reverse proxy, or not), and the standard library's
`http.server` is not made for that (a thread per connection, a slow client holds its thread). waitress is a
pure-Python WSGI server kept by the Pylons project, with no C extension to build on a small VPS: one event
loop reads requests, so a client trickling its headers costs a socket, not a thread; only complete requests
reach the worker threads. It bounds header and body sizes and the number of connections, closes idle ones, and
rejects malformed framing (`Content-Length: ²`, bad chunking) itself. On top of it this module adds what it
lacks for this service: a deadline for a whole request (its idle timeout is reset by every byte, so a
slowloris client trickling a byte at a time would never be closed), and an immediate 400 for bytes that are no
HTTP at all (a TLS handshake on the plain port would otherwise wait for a header end that never comes).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import sys
import threading
import time
from http import HTTPStatus
from typing import Any, Callable, Iterable, Sequence

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import BadRequest, Error

from ..config import SiteConfig
from ..diagnostics import BuildFailed, Diagnostic
from .collector import Collector, KnownArticles, RateLimit, Response, SharedRateLimit, error_body, site_articles
from .logs import record, wire_text
from .store import Storage, Unavailable, is_url, open_store

MAX_BODY = 4096  # bytes of one request body the collector reads
MAX_WIRE_BODY = 16384  # a larger body is refused by waitress before it is read (a 4-16 KB one gets a JSON 413)
MAX_HEADERS = 32768  # bytes of request line and headers (nginx's default buffers hold 32 KB)
TIMEOUT = 10.0  # seconds: a request must arrive whole within it, and an idle connection is closed after it
MAX_CONNECTIONS = 1000  # open connections; past it new ones wait in the listen queue
THREADS = 4  # workers for complete requests (reading them is the event loop's); more only contend for the GIL


class _LengthRequired(Error):
    code, reason = 411, "Length Required"


class _Parser(HTTPRequestParser):
    """waitress's request parser, plus the time the request began and two refusals made at once."""

    def __init__(self, adj: Adjustments):
        super().__init__(adj)
        self.started = time.time()  # the clock waitress's maintenance passes as `now`

    def received(self, data: bytes) -> int:
        if not self.header_plus and self.body_rcv is None and not self.completed:
            first = data.lstrip(b"\r\n")[:1]
            # A request line starts with a method (letters). A TLS ClientHello starts with 0x16 and holds no
            # blank line, so without this the client would wait for an answer until the deadline.
            if first and not first.isalpha():
                return self._refuse(BadRequest("không phải HTTP (TLS tới cổng HTTP thường?)"), len(data))
        consumed = super().received(data)
        if self.chunked and self.error is None:
            # A chunked body has no length known in advance; the widget always sends Content-Length.
            self.error, self.completed = _LengthRequired("cần Content-Length"), True
        return consumed

    def _refuse(self, error: Error, consumed: int) -> int:
        self.parse_header(b"GET / HTTP/1.0\r\n")  # as waitress does for its own early refusals: an error answer needs a request
        self.first_line = b""  # for the log: not the placeholder above
        self.error, self.completed = error, True
        return consumed


class _ErrorTask(ErrorTask):
    """waitress's answer to a request it refused itself (400, 411, 413, 431), logged like the others."""

    def execute(self) -> None:
        super().execute()
        log = getattr(self.channel.server, "log", None)
        if log is not None:
            line = getattr(self.request, "first_line", b"")
            log(record(client=self.channel.addr[0], status=int(self.status.split()[0]), error=str(self.request.error.body),
                       request=wire_text(line.decode("latin-1"), 300)))


class _Channel(HTTPChannel):
    parser_class = _Parser
    error_task_class = _ErrorTask


class _Server(TcpWSGIServer):
    channel_class = _Channel
    log: Callable[[str], None] | None = None  # where `_ErrorTask` writes

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle connections (no request under way) past channel_timeout
        cutoff = now - self.adj.channel_timeout
        for channel in list(self.active_channels.values()):
            request = channel.request  # the request still being received, if any
            if request is not None and not request.completed and request.started < cutoff:
                channel.will_close = True


class StatsServer:
    """The collector's HTTP server: `serve_forever()` in one thread, `shutdown()` and `server_close()` from
    another (the shape of the standard library's servers, which tests and benchmarks drive)."""

    def __init__(self, app: Callable[..., Any], host: str, port: int, *, timeout: float = TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS, threads: int = THREADS,
                 log: Callable[[str], None] | None = None):
        adj = Adjustments(
            host=host, port=port, ident="sitegen-stats", threads=threads,
            connection_limit=max_connections, channel_timeout=timeout,
            cleanup_interval=min(1.0, timeout / 2),  # how often deadlines are checked
            max_request_header_size=MAX_HEADERS, max_request_body_size=MAX_WIRE_BODY,
            asyncore_use_poll=True,  # select() cannot watch descriptors past 1024
            clear_untrusted_proxy_headers=False,  # `_App` reads X-Forwarded-For itself, only when told to
            log_socket_errors=False,  # a client resetting its connection is not news
            expose_tracebacks=False,
        )
        self._map: dict[int, Any] = {}
        self._server = _Server(app, map=self._map, adj=adj)
        self._server.log = log
        self.server_address = (self._server.effective_host, int(self._server.effective_port))  # waitress gives text
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()

    def serve_forever(self) -> None:
        self._stopped.clear()
        try:
            while not self._stop.is_set():
                self._server.asyncore.loop(timeout=1.0, map=self._map, use_poll=True, count=1)
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop `serve_forever` and wait for it to return."""
        self._stop.set()
        self._server.pull_trigger()  # wake the poll at once
        self._stopped.wait(5)

    def server_close(self) -> None:
        for channel in list(self._map.values()):  # the listening socket, the trigger and every connection
            channel.close()
        self._server.task_dispatcher.shutdown(timeout=5)


class _App:
    """The WSGI application: request in, `Collector` decides, JSON out, one log line."""

    def __init__(self, collector: Collector, trust_proxy: bool, trusted: Sequence[ipaddress._BaseNetwork],
                 log: Callable[[str], None] | None):
        self.collector, self.trust_proxy, self.trusted, self.log = collector, trust_proxy, tuple(trusted), log

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        began = time.perf_counter()
        method, target = environ["REQUEST_METHOD"], environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        address = environ.get("REMOTE_ADDR", "")
        if self.trust_proxy:
            address = client_address(address, headers.get("x-forwarded-for"), self.trusted)
        try:
            response = self._respond(method, target, headers, environ, address)
        except Exception as exc:  # a bug answers 500 and the service keeps serving
            if self.log is not None:
                self.log(record(event="error", method=method, target=wire_text(target, 300), error=repr(exc)))
            response = Response(500, error_body("lỗi máy chủ; hãy thử lại sau"))
        data = b"" if response.status == 204 else json.dumps(response.body, ensure_ascii=False).encode("utf-8")
        out = [("Content-Length", str(len(data))), ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
        if data:
            out.insert(0, ("Content-Type", "application/json; charset=utf-8"))
        out += list(response.headers.items())
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", out)
        if self.log is not None:
            self.log(record(client=address, method=method, target=wire_text(target, 300), status=response.status,
                            ms=round((time.perf_counter() - began) * 1000, 1)))
        return [data] if method != "HEAD" else [b""]

    def _respond(self, method: str, target: str, headers: dict[str, str], environ: dict[str, Any],
                 address: str) -> Response:
        collector = self.collector
        if method == "OPTIONS":
            return collector.preflight(headers.get("origin"))
        if method != "POST":
            return collector.handle(method, target, headers, None, address)
        length = headers.get("content-length")
        if length is None:  # waitress has checked that a Content-Length is ASCII digits
            return Response(411, error_body("thiếu Content-Length"), collector.cors(headers.get("origin")))
        if int(length) > MAX_BODY:
            return Response(413, error_body(f"dữ liệu gửi lên quá {MAX_BODY} byte"),
                            collector.cors(headers.get("origin")))
        # waitress has read the whole body already (at most MAX_WIRE_BODY bytes): nothing to drain
        return collector.handle(method, target, headers, environ["wsgi.input"].read(int(length)), address)


def client_address(peer: str, forwarded: str | None, trusted: Sequence[ipaddress._BaseNetwork] = ()) -> str:
    """The reader's address behind trusted proxies: the right-most `X-Forwarded-For` entry that no trusted proxy
    (the peer itself, or one of `trusted`) added. waitress joins every `X-Forwarded-For` line of a request in
    order, so a line the client sent comes before the one its proxy appended: whatever the client writes is
    left of the address its proxy saw, and never chosen."""
    hops = [hop.strip() for hop in (forwarded or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_proxy(hop, peer, trusted):
            return hop[:100]  # a key for the rate limit and the reader hash; our proxy only writes addresses
    return hops[0][:100] if hops else peer


def _is_proxy(hop: str, peer: str, trusted: Sequence[ipaddress._BaseNetwork]) -> bool:
    if hop == peer:
        return True
    try:
        address = ipaddress.ip_address(hop.strip("[]"))
    except ValueError:
        return False
    return str(address) == peer or any(address in network for network in trusted)


def make_server(store: Storage, articles: Any, site_origin: str, *, host: str = "127.0.0.1", port: int = 0,
                rate: int = 120, window: float = 60.0, trust_proxy: bool = False, extra_origins: Iterable[str] = (),
                trusted_proxies: Iterable[str] = (), timeout: float = TIMEOUT,
                max_connections: int = MAX_CONNECTIONS, log: Callable[[str], None] | None = None) -> StatsServer:
    # A database several collectors share (PostgreSQL) keeps the rate limit too; SQLite serves one collector.
    limit = SharedRateLimit(store, rate, window) if hasattr(store, "hit") else RateLimit(rate, window)
    collector = Collector(store, articles, site_origin, limit, tuple(extra_origins), log=log)
    trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
    return StatsServer(_App(collector, trust_proxy or bool(trusted), trusted, log), host, port, timeout=timeout,
                       max_connections=max_connections, log=log)


def serve(config: SiteConfig, db: str, *, host: str, port: int, rate: int, trust_proxy: bool,
          extra_origins: Iterable[str], trusted_proxies: Iterable[str] = (), timeout: float = TIMEOUT,
          max_connections: int = MAX_CONNECTIONS) -> int:
    """`sitegen stats serve`: run until Ctrl-C or SIGTERM."""

    printing = threading.Lock()

    def log(line: str) -> None:
        with printing:  # print() writes the line and its newline apart: threads would interleave records
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    _route_library_logs(log)
    try:
        store = open_store(db)
    except Unavailable as exc:
        if is_url(db):  # never the URL itself in a message: it may hold a password
            raise BuildFailed([Diagnostic("--db", 0, 0, "STATS001", "error", exc.detail,
                                          "kiểm tra máy chủ PostgreSQL đang chạy, và tên người dùng, mật khẩu (nên để "
                                          "trong ~/.pgpass hoặc PGPASSWORD), tên cơ sở dữ liệu trong --db")]) from None
        raise BuildFailed([Diagnostic(str(db), 0, 0, "STATS001", "error", f"không mở được tệp số liệu {db}: {exc}",
                                      "kiểm tra --db (một tệp SQLite ghi được) hoặc khôi phục tệp từ bản sao lưu")]) from None
    articles = KnownArticles(site_articles(config), log=log)
    try:
        server = make_server(store, articles, config.origin, host=host, port=port, rate=rate, trust_proxy=trust_proxy,
                             extra_origins=extra_origins, trusted_proxies=trusted_proxies, timeout=timeout,
                             max_connections=_within_descriptor_limit(max_connections), log=log)
    except OSError as exc:
        store.close()
        raise BuildFailed([Diagnostic("", 0, 0, "STATS003", "error", f"không mở được cổng {host}:{port}: {exc.strerror or exc}",
                                      "chọn cổng khác bằng --port, hoặc dừng chương trình đang dùng cổng này")]) from None
    print(f"Máy thu số liệu bạn đọc: http://{host}:{server.server_address[1]}/api/ ({len(articles)} bài, "
          f"lưu vào {store.where}, nhận từ {config.origin}; waitress). Ctrl-C để dừng.", flush=True)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # systemd's stop: leave the loop and close the database, as Ctrl-C does (exit 130)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        store.close()
    return 0


def _within_descriptor_limit(wanted: int) -> int:
    """Raise the open-file limit for `wanted` connections if allowed; otherwise accept fewer connections than
    there are descriptors, so the server never fails to open its database or accept with EMFILE."""
    try:
        import resource
    except ImportError:  # not a Unix: no limit to raise here
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + 64
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return wanted if soft == resource.RLIM_INFINITY else max(1, min(wanted, soft - 64))


class _EscapedLog(logging.Handler):
    """The libraries' own warnings as escaped JSON log lines: waitress's (connection limit reached, threads
    busy) and psycopg's pool (a connection to PostgreSQL failed)."""

    def __init__(self, log: Callable[[str], None]):
        super().__init__(logging.WARNING)
        self._log = log

    def emit(self, item: logging.LogRecord) -> None:
        try:
            self._log(record(event=item.name.split(".")[0], level=item.levelname.lower(), message=item.getMessage()))
        except Exception:  # noqa: BLE001 (logging must never take the server down)
            self.handleError(item)


def _route_library_logs(log: Callable[[str], None]) -> None:
    for name in ("waitress", "psycopg"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
        logger.handlers[:] = [_EscapedLog(log)]
