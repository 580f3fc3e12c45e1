"""The collector against the attacks of issue 17 item 8, over real sockets on 127.0.0.1 with a real SQLite file:
forged X-Forwarded-For lines, slowloris, log and moderation-list injection, a locked or deleted database, a
site reload that fails, and bytes that are not a sane HTTP request. Each answer is checked for its status and
for how fast it comes."""

from __future__ import annotations

import http.client
import json
import os
import resource
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT, article, free_port, run_cli, wait_for

from sitegen.readers.collector import KnownArticles
from sitegen.readers.logs import quote, record
from sitegen.readers.server import client_address, make_server
from sitegen.readers.store import Store

ORIGIN = "https://tintuc.example"
ARTICLE = "thoi-su/hoi-nghi/"
UNSAFE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


class Collector:
    """A collector started by the test, its log lines, and requests on fresh connections."""

    def __init__(self, tmp_path, articles=frozenset({ARTICLE}), **kw):
        self.db = tmp_path / "stats.sqlite3"
        self.store = Store(self.db)
        self.lines: list[str] = []
        self.server = make_server(self.store, articles, ORIGIN, log=self.lines.append, **kw)
        self.port = self.server.server_address[1]
        assert isinstance(self.port, int)  # as the standard library's servers give it
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.store.close()

    def call(self, method, path, body=None, headers=(), timeout=10):
        """(status, JSON or None, headers, seconds). `headers` is a list of pairs: a name may repeat."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        began = time.monotonic()
        conn.putrequest(method, path)
        data = json.dumps(body).encode() if body is not None else None
        for name, value in headers:
            conn.putheader(name, value)
        if data is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        return (resp.status, json.loads(payload) if payload else None, {k.lower(): v for k, v in resp.getheaders()},
                time.monotonic() - began)

    def raw(self, data: bytes, timeout: float = 5.0) -> tuple[bytes, float]:
        """Send bytes as they are; (everything answered until the server closes or `timeout`, seconds taken)."""
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(data)
            got = b""
            try:
                while chunk := sock.recv(65536):
                    got += chunk
            except (TimeoutError, ConnectionResetError):
                pass
        return got, time.monotonic() - began

    def events(self, name: str) -> list[dict]:
        return [r for r in map(json.loads, self.lines) if r.get("event") == name]


@pytest.fixture
def collector(tmp_path):
    c = Collector(tmp_path, rate=10_000, trust_proxy=True)
    yield c
    c.stop()


def vote(client: str, score: int = 4) -> dict:
    return {"article": ARTICLE, "score": score, "client": client}


# --- X-Forwarded-For -------------------------------------------------------------------------------------------

def test_forged_forwarded_lines_do_not_escape_the_rate_limit(tmp_path):
    """Behind a proxy that appends its own X-Forwarded-For line, a client sending its own lines first still
    counts as the address the proxy saw: 10 votes against --rate 5, 5 accepted."""
    c = Collector(tmp_path, rate=5, window=60, trust_proxy=True)
    try:
        statuses = [c.call("POST", "/api/vote", vote(f"t{i}"), headers=[
            ("X-Forwarded-For", f"10.66.0.{i}"), ("X-Forwarded-For", f"192.0.2.{i}, 198.18.0.{i}"),  # forged by the client
            ("X-Forwarded-For", "203.0.113.50"),  # appended by the proxy: the address it saw
        ])[0] for i in range(10)]
        assert statuses == [200] * 5 + [429] * 5
        # nginx's $proxy_add_x_forwarded_for joins everything on one line: the same answer.
        one_line = c.call("POST", "/api/vote", vote("t99"), headers=[("X-Forwarded-For", "10.1.1.1, 203.0.113.50")])
        assert one_line[0] == 429
        assert c.store.counts()[0] == 5
        # Another reader behind the same proxy is counted on its own.
        assert c.call("POST", "/api/vote", vote("k"), headers=[("X-Forwarded-For", "10.1.1.1, 203.0.113.51")])[0] == 200
        assert [json.loads(x)["client"] for x in c.lines if '"/api/vote"' in x][-1] == "203.0.113.51"
    finally:
        c.stop()


def test_trusted_proxies_are_skipped_right_to_left(tmp_path):
    """A CDN in front of nginx: the CDN's address (trusted) is right-most, the reader's is just left of it."""
    c = Collector(tmp_path, rate=2, window=60, trusted_proxies=["10.0.0.0/8"])
    try:
        hdr = lambda forged: [("X-Forwarded-For", f"{forged}, 198.51.100.7, 10.2.3.4")]  # noqa: E731
        statuses = [c.call("POST", "/api/view", {"article": ARTICLE}, headers=hdr(f"172.16.0.{i}"))[0] for i in range(4)]
        assert statuses == [200, 200, 429, 429]
    finally:
        c.stop()


_ip = st.ip_addresses(v=4).map(str)


@settings(max_examples=300, deadline=None)
@given(forged=st.lists(st.one_of(_ip, st.text(alphabet="0123456789abcdef.:[] ", max_size=20)), max_size=6),
       real=_ip, proxies=st.lists(st.sampled_from(["10.0.0.1", "10.9.8.7"]), max_size=3))
def test_client_address_is_the_rightmost_untrusted_entry(forged, real, proxies):
    import ipaddress

    peer = "127.0.0.1"
    if real == peer or ipaddress.ip_address(real) in ipaddress.ip_network("10.0.0.0/8"):
        real = "198.51.100.1"
    header = ", ".join([*forged, real, *proxies])
    assert client_address(peer, header, [ipaddress.ip_network("10.0.0.0/8")]) == real


# --- slowloris -------------------------------------------------------------------------------------------------

def test_slowloris_neither_blocks_new_readers_nor_outlives_the_deadline(tmp_path):
    """600 connections trickling header bytes: a new reader is still answered at once, and every trickling
    connection is closed when the request deadline passes although it keeps sending."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1500:  # both ends of 600 connections live in this process
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    c = Collector(tmp_path, rate=10_000, timeout=3)
    socks: list[socket.socket] = []
    try:
        for _ in range(600):
            s = socket.create_connection(("127.0.0.1", c.port), timeout=5)
            s.sendall(b"POST /api/vote HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        began = time.monotonic()
        open_ = set(range(600))
        answers = []
        while open_ and time.monotonic() - began < 10:
            for i in list(open_):  # one more header byte on every connection still open
                try:
                    socks[i].send(b"X")
                except OSError:
                    open_.discard(i)
            if len(answers) < 3 and time.monotonic() - began > len(answers):
                status, _, _, took = c.call("GET", "/api/health", timeout=5)
                answers.append((status, took))
            time.sleep(0.25)
            for i in list(open_):
                socks[i].setblocking(False)
                try:
                    if socks[i].recv(1024) == b"":
                        open_.discard(i)
                except BlockingIOError:
                    pass
                except OSError:
                    open_.discard(i)
        closed_after = time.monotonic() - began
        assert [a[0] for a in answers] == [200] * 3
        assert max(a[1] for a in answers) < 2, answers  # served within a second or two
        assert not open_, f"{len(open_)} trickling connections still open after {closed_after:.1f} s"
        assert closed_after < 3 + 4  # the 3 s deadline, checked every second, plus a loaded machine
        assert c.call("GET", "/api/health")[0] == 200
    finally:
        for s in socks:
            s.close()
        c.stop()


# --- logs and the moderation list ------------------------------------------------------------------------------

def test_control_characters_in_requests_reach_the_log_escaped(collector):
    nasty = [b"/api/\x1b[2J\x1b]0;pwned\x07", b"/api/%1b[31m", "/api/\u009b31m\u202eabc".encode("utf-8"), b"/api/\xff\xfe"]
    for target in nasty:
        answer, _ = collector.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith((b"HTTP/1.1 404", b"HTTP/1.1 400", b"HTTP/1.0 400")), answer[:80]
    collector.call("GET", "/api/stats?article=" + ARTICLE)
    assert collector.lines
    for line in collector.lines:
        assert not any(unicodedata.category(ch) in UNSAFE for ch in line), repr(line)
        json.loads(line)  # one record per line, each valid JSON
    records = [json.loads(x) for x in collector.lines]
    # Nothing is lost: the escaped record decodes to what was sent, whether the collector answered it or
    # waitress refused it (a target that is not ASCII).
    assert [r.get("target") or r.get("request") for r in records] == [
        "/api/\x1b[2J\x1b]0;pwned\x07", "/api/%1b[31m", "GET /api/\u009b31m\u202eabc HTTP/1.1",
        "GET /api/\\xff\\xfe HTTP/1.1", "/api/stats?article=" + ARTICLE]
    assert [r["status"] for r in records] == [404, 404, 400, 400, 200]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_log_records_and_quoted_text_are_one_safe_line(text):
    for line in (record(target=text), quote(text)):
        assert not any(unicodedata.category(ch) in UNSAFE for ch in line)
    assert json.loads(record(target=text))["target"] == text and json.loads(quote(text)) == text


def test_a_comment_cannot_forge_an_entry_in_the_moderation_list(collector):
    forged = "Hay.\n#99 [approved] 2026-01-01T00:00:00+00:00 /thoi-su/hoi-nghi/ — Ban biên tập: duyệt hết"
    status = collector.call("POST", "/api/comment", {"article": ARTICLE, "name": "Nguyễn A", "text": forged})[0]
    assert status == 202
    # A row written before comments were cleaned (or by hand) with a terminal escape and a C1 control.
    with sqlite3.connect(collector.db) as db:
        db.execute("INSERT INTO comments (article, name, text, at, status, client) VALUES (?, ?, ?, ?, 'pending', 'x')",
                   (ARTICLE, "Tên\x1b[2J", "chữ\u009b\r\n#98 [approved] giả", "2026-01-01T00:00:00+00:00"))
    listed = run_cli("stats", "comments", "--db", str(collector.db))
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("#1 [pending]") and lines[1].startswith("#2 [pending]")
    assert not any(unicodedata.category(ch) in UNSAFE for ch in listed.stdout.replace("\n", ""))
    assert '"Nguyễn A": "Hay.\\n#99 [approved]' in lines[0]
    assert '"Tên\\u001b[2J": "chữ\\u009b\\r\\n#98 [approved] giả"' in lines[1]


# --- the database ------------------------------------------------------------------------------------------------

def test_a_locked_database_fails_writes_fast_serves_reads_and_shows_in_health(collector):
    assert collector.call("POST", "/api/vote", vote("before"))[0] == 200
    holder = sqlite3.connect(collector.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a backup or an sqlite3 shell left inside a transaction
    holder.execute("INSERT INTO views VALUES ('x/', 1)")
    try:
        with ThreadPoolExecutor(8) as pool:
            writes = list(pool.map(lambda i: collector.call("POST", "/api/vote", vote(f"w{i}")), range(8)))
        assert {w[0] for w in writes} == {503}
        assert all(w[2]["retry-after"] == "2" and w[1]["database"] == "locked" for w in writes)
        assert max(w[3] for w in writes) < 2.5, [round(w[3], 2) for w in writes]  # not 10 s each, not queued
        status, data, _, took = collector.call("GET", f"/api/stats?article={ARTICLE}")
        assert status == 200 and data["rating_count"] == 1 and took < 1
        status, data, _, took = collector.call("GET", "/api/health")
        assert status == 503 and data["ok"] is False and data["database"] == "locked" and took < 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert collector.call("POST", "/api/vote", vote("after"))[0] == 200
    assert collector.call("GET", "/api/health")[1]["database"] == "ok"
    assert [e["state"] for e in collector.events("database")] == ["locked", "ok"]  # one line each, not one per request
    assert collector.store.counts()[0] == 2


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_deleted_database_refuses_writes_instead_of_losing_them(collector, how):
    assert collector.call("POST", "/api/vote", vote("before"))[0] == 200
    if how == "deleted":
        os.unlink(collector.db)
    else:
        other = collector.db.with_name("other.sqlite3")
        sqlite3.connect(other).close()
        os.replace(other, collector.db)
    for i in range(3):
        status, data, headers, _ = collector.call("POST", "/api/vote", vote(f"gone{i}"))
        assert status == 503 and data["database"] == "deleted" and headers["retry-after"] == "60"
    assert collector.call("POST", "/api/comment", {"article": ARTICLE, "name": "A", "text": "B"})[0] == 503
    status, data, _, _ = collector.call("GET", "/api/health")
    assert status == 503 and data["database"] == "deleted"
    (event,) = collector.events("database")  # logged once, naming the file
    assert event["state"] == "deleted" and event["database"] == str(collector.db)
    # What was collected before is still answered from the open file.
    assert collector.call("GET", f"/api/stats?article={ARTICLE}")[1]["rating_count"] == 1


def test_a_failing_site_reload_backs_off_instead_of_rescanning_per_request(tmp_path):
    calls = []

    def load():
        calls.append(time.monotonic())
        if len(calls) > 1:
            raise OSError("content/ không đọc được")
        return {ARTICLE}

    lines: list[str] = []
    known = KnownArticles(load, every=0, log=lines.append)
    c = Collector(tmp_path, articles=known, rate=10_000)
    try:
        statuses = [c.call("POST", "/api/view", {"article": f"thoi-su/moi-{i}/"})[0] for i in range(40)]
        assert statuses == [404] * 40
        assert len(calls) == 2  # the first load, then one failed reload; the other 39 did not rescan
        (event,) = [json.loads(x) for x in lines]
        assert event["event"] == "site-reload-failed" and "content/" in event["error"] and event["retry_in_s"] == 5
        assert c.call("POST", "/api/view", {"article": ARTICLE})[0] == 200  # the ids known before still count
    finally:
        c.stop()


def test_a_slow_site_reload_holds_up_only_the_request_that_started_it(tmp_path):
    started = threading.Event()

    def load():
        if started.is_set():
            time.sleep(3)
        started.set()
        return {ARTICLE}

    c = Collector(tmp_path, articles=KnownArticles(load, every=0), rate=10_000)
    try:
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(c.call, "POST", "/api/view", {"article": "thoi-su/moi/"})
            time.sleep(0.3)
            others = [c.call("POST", "/api/view", {"article": "thoi-su/khac/"}) for _ in range(5)]
            known = c.call("POST", "/api/view", {"article": ARTICLE})
            assert slow.result()[0] == 404
        assert [o[0] for o in others] == [404] * 5 and max(o[3] for o in others) < 1
        assert known[0] == 200 and known[3] < 1
    finally:
        c.stop()


# --- bytes that are no sane request -------------------------------------------------------------------------------

def _client_hello() -> bytes:
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="tintuc.example")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("name, data, status", [
    ("superscript two as length", "POST /api/vote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  "Content-Length: ²\r\n\r\n{}".encode(), b"400"),
    ("Arabic-Indic digit as length", "POST /api/vote HTTP/1.1\r\nHost: x\r\nContent-Length: ٣\r\n\r\n{}}".encode(), b"400"),
    ("3 000-deep JSON", b"POST /api/vote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3000"
                        b"\r\nConnection: close\r\n\r\n" + b"[" * 3000, b"400"),
    ("2 000-deep closed JSON", b"POST /api/vote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000"
                               b"\r\nConnection: close\r\n\r\n" + b"[" * 2000 + b"]" * 2000, b"400"),
    ("TLS on the plain port", None, b"400"),
    ("binary garbage", b"\x00\x01\x02\x03\r\n\r\n", b"400"),
    ("chunked body", b"POST /api/vote HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", b"411"),
    ("body over the wire limit", b"POST /api/vote HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{", b"413"),
    ("headers over 32 KB", b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 40000 + b"\r\n\r\n", b"431"),
])
def test_malformed_requests_get_a_quick_4xx(collector, name, data, status):
    answer, took = collector.raw(data if data is not None else _client_hello())
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split(b" ")[1:2] == [status], (name, answer[:200])
    assert took < 2, (name, took)  # answered and closed at once, not at a timeout
    if b"application/json" in answer:
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["ok"] is False
    assert collector.store.counts() == (0, 0, 0)
    assert collector.call("GET", "/api/health")[0] == 200


# --- the command --------------------------------------------------------------------------------------------------

def test_stats_serve_command_on_waitress(site, tmp_path):
    """The real command: hostile requests answered, its log escaped, SIGTERM (systemd's stop) a clean exit."""
    site.write("site.toml", 'base_url = "https://tintuc.example/"\n')
    site.write("content/thoi-su/hoi-nghi/index.md", article("Hội nghị"))
    port = free_port()
    db = tmp_path / "stats.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "sitegen", "stats", "serve", "--source", str(site.root), "--db", str(db),
                             "--port", str(port), "--timeout", "2", "--trust-proxy", "--rate", "3"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        def health():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/api/health")
                return conn.getresponse().status == 200
            except OSError:
                return False

        wait_for(health, what="the collector")
        probe = Collector.__new__(Collector)
        probe.port = port
        answer, took = probe.raw(b"GET /api/\x1b[2J\x1b[31mhacked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 404") and took < 2
        assert probe.raw(_client_hello())[0].startswith(b"HTTP/1.0 400")
        statuses = [probe.call("POST", "/api/vote", vote(f"c{i}"), headers=[
            ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "203.0.113.9")])[0] for i in range(5)]
        assert statuses == [200] * 3 + [429] * 2
        with ThreadPoolExecutor(8) as pool:  # concurrent requests: their log lines must not interleave
            assert set(pool.map(lambda _: probe.call("GET", "/api/health")[0], range(40))) == {200}
        with socket.create_connection(("127.0.0.1", port)) as idle:  # closed after --timeout
            idle.settimeout(6)
            began = time.monotonic()
            assert idle.recv(10) == b"" and time.monotonic() - began < 5
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "waitress" in out.splitlines()[0]
    records = [json.loads(x) for x in out.splitlines()[1:]]  # every line one JSON record
    assert len(records) >= 47 and "\x1b" not in out
    assert any(r.get("target") == "/api/\x1b[2J\x1b[31mhacked" for r in records)
    assert sqlite3.connect(db).execute("SELECT count(*) FROM votes").fetchone()[0] == 3
