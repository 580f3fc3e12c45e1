"""The collector's rules, apart from HTTP plumbing: one request in, one `Response` out.

The collector (`sitegen stats serve`) records votes, page views and comments in SQLite (`store`) and answers
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
from .figures import article_id
from .store import Store

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
