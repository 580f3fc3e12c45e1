"""Readers' figures for a static site: the collector service the page widgets talk to, and the build's view of it.

The collector (`sitegen stats serve`) records votes, page views and comments in SQLite and answers totals as
JSON. It trusts nothing it receives: JSON bodies only, a few KB at most, scores 1-5, articles the site really
publishes, a request budget per client address, CORS only for the site's own origin (and 127.0.0.1 previews).
Comments wait for a moderator (`sitegen stats comments`). One vote per reader and article is best effort: the
reader is the pair (address, random token kept in the browser), hashed with a secret salt; clearing the browser
or changing network gives a new reader. That is what a server without accounts can do, no more.

The build (`sitegen build --stats DB-or-URL`) reads the collected totals and adds them to the front matter
figures with `apply`, a pure function on the model, so pages are right without JavaScript.

An article's id is its site-relative URL (`thoi-su/hoi-nghi/`), as `routes.article_url` makes it: public,
stable while the slug and `permalink` stay, and the same for the widget, the collector and the build.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from ..config import SiteConfig
from ..diagnostics import Diagnostic, Reporter
from ..content.model import Article, Site
from ..structure.routes import article_url

MAX_BODY = 4096  # bytes of one request body
MAX_NAME = 80  # characters of a commenter's name
MAX_TEXT = 2000  # characters of one comment
MAX_PENDING = 200  # comments waiting for moderation, per article: a flood cannot fill the disk
MAX_EXPORT = 50_000_000  # bytes the build accepts from GET /api/export
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
_LOCAL_ORIGIN = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Comment:
    """An approved reader's comment, as the build bakes it into the article page."""

    id: int
    name: str
    text: str
    at: dt.datetime  # aware (UTC); templates show it in the site's zone


@dataclass(frozen=True)
class Figures:
    """What readers added to one article: counted by the collector, on top of the front matter figures."""

    views: int = 0
    rating_total: int = 0
    rating_count: int = 0
    comments: tuple[Comment, ...] = ()


def article_id(article: Article, config: SiteConfig) -> str:
    return article_url(article, config.permalink)


def apply(site: Site, totals: Mapping[str, Figures] | None) -> Site:
    """The site with the collected figures added to each article's front matter baseline (order unchanged)."""
    if not totals:
        return site
    articles = []
    for a in site.articles:
        f = totals.get(article_id(a, site.config))
        if f is None:
            articles.append(a)
            continue
        articles.append(replace(a, views=a.views + f.views, comments=a.comments + len(f.comments),
                                rating_total=a.rating_total + f.rating_total,
                                rating_count=a.rating_count + f.rating_count, collected=f))
    return replace(site, articles=tuple(articles))


# --- the store -------------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS votes (article TEXT NOT NULL, score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    client TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (article, client));
CREATE TABLE IF NOT EXISTS views (article TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY AUTOINCREMENT, article TEXT NOT NULL,
    name TEXT NOT NULL, text TEXT NOT NULL, at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')), client TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS comments_article ON comments (article, status);
"""


class Store:
    """The collector's SQLite file (WAL: the build may read it while the service writes).

    One connection behind a lock: every write is a single short statement, so a lock costs nothing next to
    the HTTP round trip, and it makes "counted exactly once" a property of SQLite's constraints alone.
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a power cut loses the last moments, never the file
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
        self.salt = self._db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def client(self, address: str, token: str) -> str:
        """The reader as stored: addresses are personal data, so only a salted hash is kept."""
        return hashlib.sha256(f"{self.salt}\0{address}\0{token}".encode()).hexdigest()[:32]

    def vote(self, article: str, score: int, client: str) -> bool:
        """Record a vote; False when this reader already voted for this article."""
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO votes VALUES (?, ?, ?, ?)", (article, score, client, _now()))
            return cur.rowcount == 1

    def view(self, article: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO views VALUES (?, 1) ON CONFLICT (article) DO UPDATE SET count = count + 1",
                             (article,))

    def comment(self, article: str, name: str, text: str, client: str) -> int | None:
        """Queue a comment for moderation; None when too many already wait for this article."""
        with self._lock:
            waiting = self._db.execute("SELECT count(*) FROM comments WHERE article = ? AND status = 'pending'",
                                       (article,)).fetchone()[0]
            if waiting >= MAX_PENDING:
                return None
            cur = self._db.execute("INSERT INTO comments (article, name, text, at, status, client) "
                                   "VALUES (?, ?, ?, ?, 'pending', ?)", (article, name, text, _now(), client))
            return cur.lastrowid

    def totals(self, article: str) -> dict[str, Any]:
        with self._lock:
            return _totals(self._db, article)

    def export(self) -> dict[str, Any]:
        with self._lock:
            return export(self._db)

    def comments(self, status: str | None = "pending") -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, article, name, text, at, status FROM comments"
                + (" WHERE status = ?" if status else "") + " ORDER BY id", (status,) if status else ()).fetchall()
        return [dict(zip(("id", "article", "name", "text", "at", "status"), r)) for r in rows]

    def moderate(self, comment_id: int, status: str) -> bool:
        with self._lock:
            cur = self._db.execute("UPDATE comments SET status = ? WHERE id = ?", (status, comment_id))
            return cur.rowcount == 1

    def counts(self) -> tuple[int, int, int]:
        """(votes, views, comments) stored: what the tests check nothing was added to."""
        with self._lock:
            q = self._db.execute
            return (q("SELECT count(*) FROM votes").fetchone()[0],
                    q("SELECT coalesce(sum(count), 0) FROM views").fetchone()[0],
                    q("SELECT count(*) FROM comments").fetchone()[0])


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _totals(db: sqlite3.Connection, article: str) -> dict[str, Any]:
    total, count = db.execute("SELECT coalesce(sum(score), 0), count(*) FROM votes WHERE article = ?",
                              (article,)).fetchone()
    views = db.execute("SELECT count FROM views WHERE article = ?", (article,)).fetchone()
    approved = db.execute("SELECT count(*) FROM comments WHERE article = ? AND status = 'approved'",
                          (article,)).fetchone()[0]
    return {"article": article, "views": views[0] if views else 0, "rating_total": total, "rating_count": count,
            "comments": approved}


def export(db: sqlite3.Connection) -> dict[str, Any]:
    """Every article's collected totals and approved comments: what `sitegen build --stats` bakes in."""
    out: dict[str, dict[str, Any]] = {}

    def slot(article: str) -> dict[str, Any]:
        return out.setdefault(article, {"views": 0, "rating_total": 0, "rating_count": 0, "comments": []})

    for article, total, count in db.execute("SELECT article, sum(score), count(*) FROM votes GROUP BY article"):
        slot(article).update(rating_total=total, rating_count=count)
    for article, count in db.execute("SELECT article, count FROM views"):
        slot(article)["views"] = count
    for cid, article, name, text, at in db.execute(
            "SELECT id, article, name, text, at FROM comments WHERE status = 'approved' ORDER BY at, id"):
        slot(article)["comments"].append({"id": cid, "name": name, "text": text, "at": at})
    return {"version": 1, "articles": dict(sorted(out.items()))}


# --- reading totals for the build ------------------------------------------------------------------------------

def load_totals(source: str, report: Reporter) -> dict[str, Figures] | None:
    """Totals from a collector's SQLite file (a relative path starts at the working folder, like every path on
    the command line) or its URL; a warning (error with --strict) when unreadable, so a collector that is down
    never holds back a scheduled article: the pages then show front matter figures."""
    try:
        if source.startswith(("http://", "https://")):
            data = _fetch_export(source)
        else:
            path = Path(source)
            if not path.is_file():
                raise ValueError(f"không có tệp {path}")
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
            try:
                data = export(db)
            finally:
                db.close()
        return _parse_export(data)
    except (OSError, ValueError, sqlite3.Error) as exc:
        report.warning("STATS001", source, 0, f"không đọc được số liệu bạn đọc: {exc}",
                       "kiểm tra đường dẫn tệp SQLite hoặc địa chỉ máy thu số liệu (sitegen stats serve); "
                       "trang được dựng với số liệu trong phần đầu bài")
        return None


def _fetch_export(url: str) -> Any:
    from urllib.request import Request, urlopen

    endpoint = url.rstrip("/") + "/api/export"
    with urlopen(Request(endpoint, headers={"Accept": "application/json"}), timeout=15) as resp:  # noqa: S310
        body = resp.read(MAX_EXPORT + 1)
    if len(body) > MAX_EXPORT:
        raise ValueError(f"{endpoint} trả về quá {MAX_EXPORT} byte")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{endpoint} không trả về JSON ({exc})") from None


def _parse_export(data: Any) -> dict[str, Figures]:
    if not isinstance(data, dict) or not isinstance(data.get("articles"), dict):
        raise ValueError("dữ liệu không đúng dạng {\"articles\": {...}}")
    out = {}
    for article, v in data["articles"].items():
        nums = [v.get(k) if isinstance(v, dict) else None for k in ("views", "rating_total", "rating_count")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in nums):
            raise ValueError(f"số liệu của '{article}' không hợp lệ")
        comments = []
        for c in v.get("comments", []):
            try:
                comments.append(Comment(int(c["id"]), str(c["name"]), str(c["text"]), dt.datetime.fromisoformat(c["at"])))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"ý kiến của '{article}' không hợp lệ") from None
        out[article] = Figures(nums[0], nums[1], nums[2], tuple(comments))
    return out


# --- the collector service -------------------------------------------------------------------------------------

class RateLimit:
    """At most `limit` requests per `window` seconds per client address (a sliding window of timestamps)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = self.clock()
        with self._lock:
            if len(self._seen) > 100_000:  # many addresses: forget the idle ones so memory stays bounded
                self._seen = {a: q for a, q in self._seen.items() if q and q[-1] > now - self.window}
            q = self._seen.setdefault(address, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True


class KnownArticles:
    """The ids the collector accepts. Reloaded (at most every `every` seconds) when an unknown id arrives, so a
    newly published article counts without a restart and unknown ids cannot make it rescan the site nonstop."""

    def __init__(self, load: Callable[[], Iterable[str]], every: float = 30.0):
        self._load, self.every = load, every
        self._ids = frozenset(load())
        self._loaded = time.monotonic()
        self._lock = threading.Lock()

    def __contains__(self, article: object) -> bool:
        if article in self._ids:
            return True
        with self._lock:
            if time.monotonic() - self._loaded >= self.every:
                self._ids, self._loaded = frozenset(self._load()), time.monotonic()
        return article in self._ids

    def __len__(self) -> int:
        return len(self._ids)


def site_articles(config: SiteConfig) -> Callable[[], set[str]]:
    """A loader of the published articles' ids, read from the site folder the way a build reads it."""
    from ..content import model, read

    def load() -> set[str]:
        report = Reporter()
        docs = [f.value for f in read.load_all(config.root, config.content_dir, config.max_file_bytes, report)]
        site = model.build_site(docs, config, report)
        return {article_id(a, config) for a in site.articles}

    return load


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _Refused(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


@dataclass
class Collector:
    """The service's rules, apart from HTTP plumbing: one request in, one `Response` out."""

    store: Store
    articles: Any  # a container of valid ids (KnownArticles, or a set in tests)
    site_origin: str
    limit: RateLimit
    extra_origins: tuple[str, ...] = ()

    def origin_allowed(self, origin: str) -> bool:
        return origin == self.site_origin or origin in self.extra_origins or bool(_LOCAL_ORIGIN.match(origin))

    def cors(self, origin: str | None) -> dict[str, str]:
        headers = {"Vary": "Origin"}
        if origin and self.origin_allowed(origin):
            headers["Access-Control-Allow-Origin"] = origin
        return headers

    def preflight(self, origin: str | None) -> Response:
        if not origin or not self.origin_allowed(origin):
            return Response(403, _error("nguồn (Origin) không được phép gửi số liệu tới đây"), self.cors(origin))
        return Response(204, {}, {**self.cors(origin), "Access-Control-Allow-Methods": "GET, POST",
                                  "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"})

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None, address: str) -> Response:
        origin = headers.get("origin")
        try:
            answer = self._route(method, target, headers, body, address)
            return replace(answer, headers={**self.cors(origin), **answer.headers})
        except _Refused as refused:
            extra = {"Retry-After": str(int(self.limit.window))} if refused.status == 429 else {}
            return Response(refused.status, {**_error(refused.message), **refused.extra}, {**self.cors(origin), **extra})

    def _route(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None, address: str) -> Response:
        url = urlsplit(target)
        path = url.path.rstrip("/")
        routes = {"/api/vote": "POST", "/api/view": "POST", "/api/comment": "POST", "/api/stats": "GET",
                  "/api/export": "GET", "/api/health": "GET"}
        if path not in routes:
            raise _Refused(404, "không có địa chỉ này")
        if method != routes[path]:
            raise _Refused(405, f"địa chỉ này chỉ nhận {routes[path]}")
        if path == "/api/health":
            return Response(200, {"ok": True, "articles": len(self.articles)})
        origin = headers.get("origin")
        if origin and not self.origin_allowed(origin):
            raise _Refused(403, "nguồn (Origin) không được phép gửi số liệu tới đây")
        if not self.limit.allow(address):
            raise _Refused(429, "gửi quá nhiều yêu cầu; hãy thử lại sau ít phút")
        if path == "/api/export":
            return Response(200, self.store.export())
        if method == "GET":
            article = (parse_qs(url.query).get("article") or [""])[0]
            return Response(200, self.store.totals(self._known(article)))
        data = _json_body(headers, body)
        article = self._known(data.get("article"))
        token = data.get("client", "")
        if not isinstance(token, str) or not _TOKEN.match(token):
            raise _Refused(400, "mã trình duyệt (client) không hợp lệ")
        client = self.store.client(address, token)
        if path == "/api/view":
            self.store.view(article)
            return Response(200, {"ok": True, **self.store.totals(article)})
        if path == "/api/vote":
            score = data.get("score")
            if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
                raise _Refused(400, "điểm đánh giá phải là số nguyên từ 1 đến 5")
            if not self.store.vote(article, score, client):
                raise _Refused(409, "Bạn đã đánh giá bài viết này.", **self.store.totals(article))
            return Response(200, {"ok": True, **self.store.totals(article)})
        name, text = _clean(data.get("name"), MAX_NAME, "họ tên"), _clean(data.get("text"), MAX_TEXT, "ý kiến")
        if self.store.comment(article, name, text, client) is None:
            raise _Refused(429, "bài viết này đang có quá nhiều ý kiến chờ duyệt; hãy thử lại sau")
        return Response(202, {"ok": True, "status": "pending", "message": "Ý kiến của bạn đang chờ duyệt."})

    def _known(self, article: Any) -> str:
        if not isinstance(article, str) or not article or len(article) > 300:
            raise _Refused(400, "thiếu mã bài viết (article)")
        if article not in self.articles:
            raise _Refused(404, "không có bài viết này trên trang")
        return article


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def _json_body(headers: Mapping[str, str], body: bytes | None) -> dict[str, Any]:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _Refused(415, "chỉ nhận dữ liệu JSON (Content-Type: application/json)")
    try:
        data = json.loads((body or b"").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Refused(400, "dữ liệu gửi lên không phải JSON hợp lệ") from None
    if not isinstance(data, dict):
        raise _Refused(400, "dữ liệu gửi lên phải là một đối tượng JSON {...}")
    return data


def _clean(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str):
        raise _Refused(400, f"thiếu {what}")
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text).strip()
    if not text:
        raise _Refused(400, f"{what} đang để trống")
    if len(text) > limit:
        raise _Refused(413, f"{what} dài quá {limit} ký tự")
    return text


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
            self._send(Response(411, _error("thiếu Content-Length"), self.server.collector.cors(self.headers.get("Origin"))))
            return
        size = int(length)
        if size > MAX_BODY:
            # Drain a moderately oversized body so the client reads the answer; drop the connection otherwise.
            if size <= 1_000_000:
                self.rfile.read(size)
            self.close_connection = True
            self._send(Response(413, _error(f"dữ liệu gửi lên quá {MAX_BODY} byte"),
                                self.server.collector.cors(self.headers.get("Origin"))))
            return
        self._serve(self.rfile.read(size))

    def _serve(self, body: bytes | None) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self.server.collector.handle(self.command, self.path, headers, body, self._address())
        except Exception as exc:  # a bug or a full disk answers 500 and the service keeps serving
            self.log_error("lỗi khi xử lý %s %s: %r", self.command, self.path, exc)
            response = Response(500, _error("lỗi máy chủ; hãy thử lại sau"))
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


def moderate(db: Path, action: str, ids: list[int]) -> list[str]:
    """`sitegen stats comments`: list pending comments, or approve / reject some. Returns lines to print."""
    from ..diagnostics import BuildFailed

    if not db.is_file():
        raise BuildFailed([Diagnostic(str(db), 0, 0, "STATS001", "error", f"không có tệp số liệu {db}",
                                      "chỉ đường dẫn tệp SQLite của máy thu bằng --db")])
    store = Store(db)
    try:
        if action in ("list", "all"):
            rows = store.comments(None if action == "all" else "pending")
            if not rows:
                return ["Không có ý kiến nào đang chờ duyệt." if action == "list" else "Chưa có ý kiến nào."]
            return [f"#{r['id']} [{r['status']}] {r['at']} /{r['article']} — {r['name']}: {r['text']}" for r in rows]
        status = {"approve": "approved", "reject": "rejected"}[action]
        missing = [i for i in ids if not store.moderate(i, status)]
        if missing:
            raise BuildFailed([Diagnostic(str(db), 0, 0, "STATS002", "error",
                                          f"không có ý kiến số {', '.join(map(str, missing))}",
                                          "xem số của từng ý kiến bằng: sitegen stats comments list")])
        verb = "Đã duyệt" if status == "approved" else "Đã từ chối"
        return [f"{verb} ý kiến {', '.join(f'#{i}' for i in ids)}. Dựng lại trang với --stats để cập nhật."]
    finally:
        store.close()
