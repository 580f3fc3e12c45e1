"""The collector's storage: votes, page views and comments, and the totals read from them.

One small interface (`Storage`), two engines: an SQLite file (`Store`, the default: one collector on one
machine) and a PostgreSQL database (`store_pg.PgStore`: several collectors behind a load balancer sharing one
database). `open_store` picks by the `--db` value: a `postgresql://` URL or a file path.

The collector service (`sitegen stats serve`) is the only writer; a build reads the file read-only through
`export` (`sitegen build --stats DB`), and a moderator approves or rejects the comments waiting in it with
`sitegen stats comments` (`moderate`). One vote per reader and article is best effort: the reader is the pair
(address, random token kept in the browser), hashed with a secret salt; clearing the browser or changing network
gives a new reader. That is what a server without accounts can do, no more.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

from ..diagnostics import Diagnostic
from .logs import quote, visible

MAX_PENDING = 200  # comments waiting for moderation, per article: a flood cannot fill the disk

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


BUSY_TIMEOUT = 0.5  # seconds a request waits for a database another program holds; then 503, never a stall


class Unavailable(Exception):
    """The database cannot serve this request now. `state` is what `/api/health` reports: "locked" (another
    program holds it, or our own requests queue for it), "deleted" (the SQLite file was removed or replaced
    while the collector runs), "unreachable" (the PostgreSQL server does not answer) or "error" (disk full, I/O
    error, read-only file or standby...)."""

    def __init__(self, state: str, detail: str):
        super().__init__(detail)
        self.state, self.detail = state, detail


class Storage(Protocol):
    """What the collector, the moderation command and the export need from a database. Every write is one
    atomic step, so "counted exactly once" holds however many threads or collector processes write at once.
    `former` are an article's old ids (its `aliases` as ids): a vote there counts as a vote here, and their
    figures are added to the article's totals, so a changed slug or permalink keeps the readers' figures."""

    where: str  # the database as shown in messages and logs (a file path, or a URL without its password)
    salt: str

    def health(self) -> str: ...
    def client(self, address: str, token: str) -> str: ...
    def vote(self, article: str, score: int, client: str, former: Sequence[str] = ()) -> bool: ...
    def view(self, article: str) -> None: ...
    def comment(self, article: str, name: str, text: str, client: str) -> int | None: ...
    def totals(self, article: str, former: Sequence[str] = ()) -> dict[str, Any]: ...
    def export(self) -> dict[str, Any]: ...
    def comments(self, status: str | None = "pending") -> list[dict[str, Any]]: ...
    def moderate(self, comment_id: int, status: str) -> bool: ...
    def counts(self) -> tuple[int, int, int]: ...
    def close(self) -> None: ...


def is_url(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def open_store(target: str | Path) -> Storage:
    """The store `--db` names: a PostgreSQL URL, or else an SQLite file path. Raises `Unavailable` when the
    database cannot be opened (a PostgreSQL server that does not answer, a file that is not SQLite...)."""
    if is_url(target):
        from .store_pg import PgStore  # psycopg is loaded only by collectors that use it

        return PgStore(str(target))
    try:
        return Store(Path(target))
    except (sqlite3.Error, OSError) as exc:
        raise Unavailable("error", str(exc)) from None


def client_hash(salt: str, address: str, token: str) -> str:
    """The reader as stored: addresses are personal data, so only a salted hash is kept. Collectors sharing a
    database share its salt, so a reader is the same reader whichever collector the load balancer picks."""
    return hashlib.sha256(f"{salt}\0{address}\0{token}".encode()).hexdigest()[:32]


class Store:
    """The collector's SQLite file (WAL: the build may read it while the service writes).

    Two connections, each behind a lock: one writes, one reads. Every write is a single short statement, so
    the lock costs nothing next to the HTTP round trip, and it makes "counted exactly once" a property of
    SQLite's constraints alone; reads go on while a write waits. Waits are short (`BUSY_TIMEOUT`, for our
    locks and SQLite's alike): a database held by another program (a backup, an `sqlite3` shell left in a
    transaction) makes requests fail fast with `Unavailable` instead of piling up behind it.
    """

    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.busy_timeout = path, busy_timeout
        self.where = str(path)
        self._write_lock, self._read_lock = threading.Lock(), threading.Lock()
        self._db = self._connect(10.0)  # starting may wait for a backup to finish; serving may not
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a power cut loses the last moments, never the file
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
        self.salt = self._db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0]
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._reader = self._connect(busy_timeout)
        # The file SQLite has open, to notice when the path stops leading to it: a deleted or replaced file
        # would take every later write with it at the next restart.
        self._identity = _identity(path)

    def _connect(self, timeout: float) -> sqlite3.Connection:
        return sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=timeout)

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._reader.close()
            self._db.close()

    def client(self, address: str, token: str) -> str:
        return client_hash(self.salt, address, token)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        self._check_file()
        with _held(self._write_lock, self.busy_timeout), _sqlite_errors():
            yield self._db

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with _held(self._read_lock, self.busy_timeout), _sqlite_errors():
            yield self._reader

    def _check_file(self) -> None:
        if _identity(self.path) != self._identity:
            raise Unavailable("deleted", f"tệp số liệu {self.path} đã bị xoá hoặc thay bằng tệp khác khi máy thu "
                                         "đang chạy")

    def health(self) -> str:
        """"ok", or raise `Unavailable`: the file is still ours, readable, and its write lock can be taken now."""
        with self._writing() as db:
            db.execute("BEGIN IMMEDIATE")  # takes the write lock (or fails within busy_timeout), writes nothing
            db.execute("ROLLBACK")
        with self._reading() as db:
            db.execute("SELECT count(*) FROM meta").fetchone()
        return "ok"

    def vote(self, article: str, score: int, client: str, former: Sequence[str] = ()) -> bool:
        """Record a vote; False when this reader already voted for this article (under this id or a former one)."""
        with self._writing() as db:
            if not former:
                cur = db.execute("INSERT OR IGNORE INTO votes VALUES (?, ?, ?, ?)", (article, score, client, _now()))
            else:
                cur = db.execute("INSERT OR IGNORE INTO votes SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM votes "
                                 f"WHERE client = ? AND article IN ({_marks(former)}))",
                                 (article, score, client, _now(), client, *former))
            return cur.rowcount == 1

    def view(self, article: str) -> None:
        with self._writing() as db:
            db.execute("INSERT INTO views VALUES (?, 1) ON CONFLICT (article) DO UPDATE SET count = count + 1",
                       (article,))

    def comment(self, article: str, name: str, text: str, client: str) -> int | None:
        """Queue a comment for moderation; None when too many already wait for this article."""
        with self._writing() as db:
            waiting = db.execute("SELECT count(*) FROM comments WHERE article = ? AND status = 'pending'",
                                 (article,)).fetchone()[0]
            if waiting >= MAX_PENDING:
                return None
            cur = db.execute("INSERT INTO comments (article, name, text, at, status, client) "
                             "VALUES (?, ?, ?, ?, 'pending', ?)", (article, name, text, _now(), client))
            return cur.lastrowid

    def totals(self, article: str, former: Sequence[str] = ()) -> dict[str, Any]:
        with self._reading() as db:
            return _totals(db, article, former)

    def export(self) -> dict[str, Any]:
        # Its own connection: a large export (a build's `--stats URL`) does not hold up the readers' totals.
        with _sqlite_errors():
            db = self._connect(self.busy_timeout)
            try:
                db.execute("BEGIN")  # one snapshot: votes, views and comments from the same moment
                return export(db)
            finally:
                db.close()

    def comments(self, status: str | None = "pending") -> list[dict[str, Any]]:
        with self._reading() as db:
            rows = db.execute(
                "SELECT id, article, name, text, at, status FROM comments"
                + (" WHERE status = ?" if status else "") + " ORDER BY id", (status,) if status else ()).fetchall()
        return [dict(zip(("id", "article", "name", "text", "at", "status"), r)) for r in rows]

    def moderate(self, comment_id: int, status: str) -> bool:
        with self._writing() as db:
            cur = db.execute("UPDATE comments SET status = ? WHERE id = ?", (status, comment_id))
            return cur.rowcount == 1

    def counts(self) -> tuple[int, int, int]:
        """(votes, views, comments) stored: what the tests check nothing was added to."""
        with self._reading() as db:
            q = db.execute
            return (q("SELECT count(*) FROM votes").fetchone()[0],
                    q("SELECT coalesce(sum(count), 0) FROM views").fetchone()[0],
                    q("SELECT count(*) FROM comments").fetchone()[0])


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@contextlib.contextmanager
def _held(lock: threading.Lock, timeout: float) -> Iterator[None]:
    # Requests queued behind a write that waits for another program would each wait in turn: bound the queue.
    if not lock.acquire(timeout=timeout):
        raise Unavailable("locked", "cơ sở dữ liệu đang bận")
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _sqlite_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise Unavailable("locked", f"cơ sở dữ liệu đang bị chương trình khác giữ: {exc}") from None
        raise Unavailable("error", f"lỗi cơ sở dữ liệu: {exc}") from None
    except sqlite3.DatabaseError as exc:  # a damaged file, or one replaced by something that is not SQLite
        raise Unavailable("error", f"lỗi cơ sở dữ liệu: {exc}") from None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _marks(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


def _totals(db: sqlite3.Connection, article: str, former: Sequence[str] = ()) -> dict[str, Any]:
    ids, inside = (article, *former), f"article IN ({_marks((article, *former))})"
    total, count = db.execute(f"SELECT coalesce(sum(score), 0), count(*) FROM votes WHERE {inside}", ids).fetchone()
    views = db.execute(f"SELECT coalesce(sum(count), 0) FROM views WHERE {inside}", ids).fetchone()[0]
    approved = db.execute(f"SELECT count(*) FROM comments WHERE {inside} AND status = 'approved'", ids).fetchone()[0]
    return {"article": article, "views": views, "rating_total": total, "rating_count": count, "comments": approved}


def export(db: Any) -> dict[str, Any]:
    """Every article's collected totals and approved comments: what `sitegen build --stats` bakes in. `db` is an
    SQLite or a psycopg connection (the statements are the same on both and take no parameters)."""
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


def moderate(db: str | Path, action: str, ids: list[int]) -> list[str]:
    """`sitegen stats comments`: list pending comments, or approve / reject some. Returns lines to print."""
    from ..diagnostics import BuildFailed

    if not is_url(db) and not Path(db).is_file():
        raise BuildFailed([Diagnostic(str(db), 0, 0, "STATS001", "error", f"không có tệp số liệu {db}",
                                      "chỉ đường dẫn tệp SQLite của máy thu (hoặc địa chỉ postgresql://) bằng --db")])
    try:
        store = open_store(db)
    except Unavailable as exc:
        raise BuildFailed([_unreadable(db, exc.detail)]) from None
    db = store.where  # never a password in a message
    try:
        if action in ("list", "all"):
            rows = store.comments(None if action == "all" else "pending")
            if not rows:
                return ["Không có ý kiến nào đang chờ duyệt." if action == "list" else "Chưa có ý kiến nào."]
            # Name and text are the readers' own: quoted and escaped, so a newline or a terminal escape in a
            # comment cannot draw a fake entry (or anything else) on the moderator's screen.
            return [f"#{r['id']} [{visible(r['status'])}] {visible(r['at'])} /{visible(r['article'])} — "
                    f"{quote(r['name'])}: {quote(r['text'])}" for r in rows]
        status = {"approve": "approved", "reject": "rejected"}[action]
        missing = [i for i in ids if not store.moderate(i, status)]
        if missing:
            raise BuildFailed([Diagnostic(str(db), 0, 0, "STATS002", "error",
                                          f"không có ý kiến số {', '.join(map(str, missing))}",
                                          "xem số của từng ý kiến bằng: sitegen stats comments list")])
        verb = "Đã duyệt" if status == "approved" else "Đã từ chối"
        return [f"{verb} ý kiến {', '.join(f'#{i}' for i in ids)}. Dựng lại trang với --stats để cập nhật."]
    except Unavailable as exc:
        raise BuildFailed([_unreadable(db, exc.detail)]) from None
    finally:
        store.close()


def _unreadable(db: str | Path, detail: str) -> Diagnostic:
    if is_url(db):
        from .store_pg import shown

        return Diagnostic(shown(str(db)), 0, 0, "STATS001", "error", f"không dùng được cơ sở dữ liệu: {detail}",
                          "kiểm tra máy chủ PostgreSQL (đang chạy? tên, mật khẩu, tên cơ sở dữ liệu trong địa chỉ "
                          "--db đúng?) rồi chạy lại")
    return Diagnostic(str(db), 0, 0, "STATS001", "error", f"không dùng được tệp số liệu: {detail}",
                      "nếu một chương trình khác (sao lưu, sqlite3) đang giữ tệp, chờ nó xong rồi chạy lại; "
                      "nếu tệp hỏng, khôi phục từ bản sao lưu")
