"""`sitegen stats serve`: the collector over HTTP (the standard library's `http.server`, a thread per connection).

HTTP plumbing only: read at most MAX_BODY bytes, find the client's address, write JSON. What to answer is the
`collector.Collector`'s to decide, over a `store.Store`. A build never imports this module.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable

from ..config import SiteConfig
from ..diagnostics import Diagnostic
from .collector import Collector, KnownArticles, RateLimit, Response, error_body, site_articles
from .store import Store

MAX_BODY = 4096  # bytes of one request body


class _Handler(BaseHTTPRequestHandler):
    """HTTP plumbing: read at most MAX_BODY bytes, find the client's address, write JSON."""

    server: "StatsServer"
    protocol_version = "HTTP/1.1"  # keep-alive: a page sends a view and maybe a vote over one connection
    server_version = "sitegen-stats"
    sys_version = ""
    timeout = 15  # a client that stops sending is dropped instead of holding a thread
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for the client's delayed
    # ACK, 40 ms per answer on a keep-alive connection (measured: 177 votes/s with it, see benchmarks/README.md).
    disable_nagle_algorithm = True

    def do_OPTIONS(self) -> None:  # noqa: N802 (http.server's naming)
        self._send(self.server.collector.preflight(self.headers.get("Origin")))

    def do_GET(self) -> None:  # noqa: N802
        self._serve(None)

    def do_POST(self) -> None:  # noqa: N802
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._send(Response(411, error_body("thiếu Content-Length"), self.server.collector.cors(self.headers.get("Origin"))))
            return
        size = int(length)
        if size > MAX_BODY:
            # Drain a moderately oversized body so the client reads the answer; drop the connection otherwise.
            if size <= 1_000_000:
                self.rfile.read(size)
            self.close_connection = True
            self._send(Response(413, error_body(f"dữ liệu gửi lên quá {MAX_BODY} byte"),
                                self.server.collector.cors(self.headers.get("Origin"))))
            return
        self._serve(self.rfile.read(size))

    def _serve(self, body: bytes | None) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self.server.collector.handle(self.command, self.path, headers, body, self._address())
        except Exception as exc:  # a bug or a full disk answers 500 and the service keeps serving
            self.log_error("lỗi khi xử lý %s %s: %r", self.command, self.path, exc)
            response = Response(500, error_body("lỗi máy chủ; hãy thử lại sau"))
        self._send(response)

    def _address(self) -> str:
        if self.server.trust_proxy:
            forwarded = self.headers.get("X-Forwarded-For", "")
            # The right-most entry is the one our own proxy added; anything left of it the client could forge.
            last = forwarded.split(",")[-1].strip()
            if last:
                return last
        return self.client_address[0]

    def _send(self, response: Response) -> None:
        data = b"" if response.status == 204 else json.dumps(response.body, ensure_ascii=False).encode("utf-8")
        self.send_response(response.status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in response.headers.items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")


class StatsServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], collector: Collector, trust_proxy: bool = False,
                 log: Callable[[str], None] | None = None):
        self.collector, self.trust_proxy, self.log = collector, trust_proxy, log
        super().__init__(address, _Handler)


def make_server(store: Store, articles: Any, site_origin: str, *, host: str = "127.0.0.1", port: int = 0,
                rate: int = 120, window: float = 60.0, trust_proxy: bool = False, extra_origins: Iterable[str] = (),
                log: Callable[[str], None] | None = None) -> StatsServer:
    collector = Collector(store, articles, site_origin, RateLimit(rate, window), tuple(extra_origins))
    return StatsServer((host, port), collector, trust_proxy, log)


def serve(config: SiteConfig, db: Path, *, host: str, port: int, rate: int, trust_proxy: bool,
          extra_origins: Iterable[str]) -> int:
    """`sitegen stats serve`: run until Ctrl-C."""
    store = Store(db)
    articles = KnownArticles(site_articles(config))
    try:
        server = make_server(store, articles, config.origin, host=host, port=port, rate=rate, trust_proxy=trust_proxy,
                             extra_origins=extra_origins, log=lambda s: print(s, flush=True))
    except OSError as exc:
        store.close()
        from ..diagnostics import BuildFailed

        raise BuildFailed([Diagnostic("", 0, 0, "STATS003", "error", f"không mở được cổng {host}:{port}: {exc.strerror or exc}",
                                      "chọn cổng khác bằng --port, hoặc dừng chương trình đang dùng cổng này")]) from None
    print(f"Máy thu số liệu bạn đọc: http://{host}:{server.server_address[1]}/api/ ({len(articles)} bài, "
          f"tệp {db}, nhận từ {config.origin}). Ctrl-C để dừng.", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        store.close()
    return 0
