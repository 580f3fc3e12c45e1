"""The collector's rules, apart from HTTP plumbing: one request in, one `Response` out.

The collector (`sitegen stats serve`) records votes, page views and comments in a `store.Storage` (an SQLite
file, or PostgreSQL shared by several collectors) and answers
totals as JSON. It trusts nothing it receives: JSON bodies only, a few KB at most (`server` reads no more),
scores 1-5, articles the site really publishes, a request budget per client address, CORS only for the site's
own origin (and 127.0.0.1 previews). Comments wait for a moderator (`sitegen stats comments`).
"""

from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from ..config import SiteConfig
from ..diagnostics import Reporter
from .figures import former_ids
from .logs import record
from .store import Storage, Unavailable

MAX_NAME = 80  # characters of a commenter's name
MAX_TEXT = 2000  # characters of one comment
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{0,64}$")
_LOCAL_ORIGIN = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


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


class SharedRateLimit:
    """The same limit kept in the database (`store.hit`), for several collectors behind a load balancer: a
    client spreading its requests over them gets `limit` per `window` in all, not per collector."""

    def __init__(self, store: Any, limit: int, window: float = 60.0):
        self.store, self.limit, self.window = store, limit, window

    def allow(self, address: str) -> bool:
        return self.store.hit(address, self.window) <= self.limit


class KnownArticles:
    """The ids the collector accepts. Reloaded (at most every `every` seconds) when an unknown id arrives, so a
    newly published article counts without a restart and unknown ids cannot make it rescan the site nonstop.

    A reload that fails (raises: a site folder that cannot be read, front matter the reader chokes on) keeps the
    ids known so far and is retried later and later (doubling up to `max_backoff`), so it does not turn every
    unknown id into a rescan; a slow reload is done by one request while the others answer from the ids known
    so far instead of queueing behind it."""

    def __init__(self, load: Callable[[], Iterable[str] | Mapping[str, tuple[str, ...]]], every: float = 30.0, *,
                 backoff: float = 5.0, max_backoff: float = 600.0, log: Callable[[str], None] | None = None):
        self._load, self.every, self.backoff, self.max_backoff, self._log = load, every, backoff, max_backoff, log
        self._ids = _with_former(load())
        self._next = time.monotonic() + every
        self._failures = 0
        self._lock = threading.Lock()

    def __contains__(self, article: object) -> bool:
        if article in self._ids:
            return True
        if time.monotonic() >= self._next and self._lock.acquire(blocking=False):
            try:
                self._reload()
            finally:
                self._lock.release()
        return article in self._ids

    def _reload(self) -> None:
        try:
            ids = _with_former(self._load())
        except Exception as exc:  # noqa: BLE001 (whatever broke, the service keeps the ids it has)
            self._failures += 1
            wait = min(self.max_backoff, max(self.every, self.backoff) * 2 ** (self._failures - 1))
            self._next = time.monotonic() + wait
            if self._log is not None:
                self._log(record(event="site-reload-failed", error=repr(exc), retry_in_s=round(wait, 1),
                                 failures=self._failures, articles=len(self._ids)))
            return
        self._ids, self._failures, self._next = ids, 0, time.monotonic() + self.every

    def former(self, article: str) -> tuple[str, ...]:
        """The ids this article had before a slug or permalink change (see `figures.former_ids`)."""
        return self._ids.get(article, ())

    def __len__(self) -> int:
        return len(self._ids)


def _with_former(found: Iterable[str] | Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return dict(found) if isinstance(found, Mapping) else {a: () for a in found}


def site_articles(config: SiteConfig) -> Callable[[], dict[str, tuple[str, ...]]]:
    """A loader of the published articles' ids (each with its former ids), read from the site folder the way a
    build reads it."""
    from ..content import model, read

    def load() -> dict[str, tuple[str, ...]]:
        report = Reporter()
        docs = [f.value for f in read.load_all(config.root, config.content_dir, config.max_file_bytes, report)]
        site = model.build_site(docs, config, report)
        return former_ids(site.articles, config)

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

    store: Storage
    articles: Any  # a container of valid ids (KnownArticles, or a set in tests)
    site_origin: str
    limit: RateLimit | SharedRateLimit
    extra_origins: tuple[str, ...] = ()
    log: Callable[[str], None] | None = None
    _storage: str = field(default="ok", init=False, repr=False)  # the database state last logged, to log changes only

    def origin_allowed(self, origin: str) -> bool:
        return origin == self.site_origin or origin in self.extra_origins or bool(_LOCAL_ORIGIN.match(origin))

    def cors(self, origin: str | None) -> dict[str, str]:
        headers = {"Vary": "Origin"}
        if origin and self.origin_allowed(origin):
            headers["Access-Control-Allow-Origin"] = origin
        return headers

    def preflight(self, origin: str | None) -> Response:
        if not origin or not self.origin_allowed(origin):
            return Response(403, error_body("nguồn (Origin) không được phép gửi số liệu tới đây"), self.cors(origin))
        return Response(204, {}, {**self.cors(origin), "Access-Control-Allow-Methods": "GET, POST",
                                  "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"})

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None, address: str) -> Response:
        origin = headers.get("origin")
        try:
            answer = self._route(method, target, headers, body, address)
            return replace(answer, headers={**self.cors(origin), **answer.headers})
        except _Refused as refused:
            extra = {"Retry-After": str(int(self.limit.window))} if refused.status == 429 else {}
            return Response(refused.status, {**error_body(refused.message), **refused.extra}, {**self.cors(origin), **extra})
        except Unavailable as down:
            self._storage_changed(down.state, down.detail)
            return Response(503, {**error_body(_UNAVAILABLE[down.state]), "database": down.state},
                            {**self.cors(origin), "Retry-After": {"locked": "2", "unreachable": "10"}.get(down.state, "60")})

    def _storage_changed(self, state: str, detail: str = "") -> None:
        # One log line when the database goes wrong (and one when it recovers), not one per refused request.
        if state != self._storage:
            self._storage = state
            if self.log is not None:
                self.log(record(event="database", state=state, detail=detail, database=self.store.where))

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
            self.store.health()  # raises Unavailable (503) unless the file is ours, readable and writable now
            self._storage_changed("ok")
            return Response(200, {"ok": True, "articles": len(self.articles), "database": "ok"})
        origin = headers.get("origin")
        if origin and not self.origin_allowed(origin):
            raise _Refused(403, "nguồn (Origin) không được phép gửi số liệu tới đây")
        if not self.limit.allow(address):
            raise _Refused(429, "gửi quá nhiều yêu cầu; hãy thử lại sau ít phút")
        if path == "/api/export":
            return Response(200, self.store.export())
        if method == "GET":
            article = self._known((parse_qs(url.query).get("article") or [""])[0])
            return Response(200, self.store.totals(article, self._former(article)))
        data = _json_body(headers, body)
        article = self._known(data.get("article"))
        token = data.get("client", "")
        if not isinstance(token, str) or not _TOKEN.match(token):
            raise _Refused(400, "mã trình duyệt (client) không hợp lệ")
        client = self.store.client(address, token)
        answer = self._write(path, article, data, client)
        self._storage_changed("ok")
        return answer

    def _former(self, article: str) -> tuple[str, ...]:
        return self.articles.former(article) if isinstance(self.articles, KnownArticles) else ()

    def _write(self, path: str, article: str, data: dict[str, Any], client: str) -> Response:
        former = self._former(article)
        if path == "/api/view":
            self.store.view(article)
            return Response(200, {"ok": True, **self.store.totals(article, former)})
        if path == "/api/vote":
            score = data.get("score")
            if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
                raise _Refused(400, "điểm đánh giá phải là số nguyên từ 1 đến 5")
            if not self.store.vote(article, score, client, former):
                raise _Refused(409, "Bạn đã đánh giá bài viết này.", **self.store.totals(article, former))
            return Response(200, {"ok": True, **self.store.totals(article, former)})
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


_UNAVAILABLE = {
    "locked": "máy thu đang bận ghi số liệu; hãy thử lại sau giây lát",
    "deleted": "máy thu tạm ngừng nhận số liệu (tệp số liệu bị xoá); quản trị cần khôi phục tệp",
    "error": "máy thu tạm ngừng nhận số liệu (lỗi lưu trữ); hãy thử lại sau",
    "unreachable": "máy thu tạm ngừng nhận số liệu (không kết nối được cơ sở dữ liệu); hãy thử lại sau",
}


def error_body(message: str) -> dict[str, Any]:
    """The JSON of a refusal, here and in `server` (411, 413, 500)."""
    return {"ok": False, "error": message}


def _json_body(headers: Mapping[str, str], body: bytes | None) -> dict[str, Any]:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _Refused(415, "chỉ nhận dữ liệu JSON (Content-Type: application/json)")
    try:
        data = json.loads((body or b"").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Refused(400, "dữ liệu gửi lên không phải JSON hợp lệ") from None
    except RecursionError:  # [[[[... a few thousand deep, in a body under the size limit
        raise _Refused(400, "dữ liệu JSON lồng nhau quá sâu") from None
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
