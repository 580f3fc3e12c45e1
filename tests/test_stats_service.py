"""The readers' figures collector over real HTTP on 127.0.0.1: every bad request is refused with a clear status
and stores nothing, the service keeps answering, concurrent votes count exactly once, CORS only for the site.
The tests that touch storage run twice: on an SQLite file and on a real PostgreSQL server (`pgserver`)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT, article, run_cli
from pgserver import new_store, postgres, store_kind  # noqa: F401 (fixtures)

from sitegen.readers.collector import KnownArticles, site_articles
from sitegen.readers.server import StatsServer, make_server
from sitegen.readers.store import Store

ORIGIN = "https://tintuc.example"
ARTICLES = {"thoi-su/hoi-nghi/", "kinh-te/gia-lua/"}


class Served:
    def __init__(self, store: Store, server: StatsServer):
        self.store, self.server = store, server
        self.port = server.server_address[1]

    def call(self, method: str, path: str, body=None, headers: dict | None = None, raw: bytes | None = None):
        """One request on its own connection: (status, parsed JSON or None, headers)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        return resp.status, (json.loads(payload) if payload else None), {k.lower(): v for k, v in resp.getheaders()}

    def alive(self) -> bool:
        status, data, _ = self.call("GET", "/api/stats?article=thoi-su/hoi-nghi/")
        return status == 200 and data["article"] == "thoi-su/hoi-nghi/"


def start(new_store, **kw) -> Served:
    store = new_store()
    server = make_server(store, ARTICLES, ORIGIN, **kw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Served(store, server)


@pytest.fixture
def svc(new_store):
    s = start(new_store, rate=10_000, trust_proxy=True)
    yield s
    s.server.shutdown()
    s.server.server_close()


def vote(article="thoi-su/hoi-nghi/", score=4, client="abc123"):
    return {"article": article, "score": score, "client": client}


@pytest.mark.parametrize("name, request_args, status", [
    ("bad JSON", dict(raw=b'{"article": "thoi-su/hoi-nghi/", "score": 4', headers={"Content-Type": "application/json"}), 400),
    ("not UTF-8", dict(raw=b'{"article": "\xff"}', headers={"Content-Type": "application/json"}), 400),
    ("JSON but a list", dict(body=[1, 2, 3]), 400),
    ("score zero", dict(body=vote(score=0)), 400),
    ("score six", dict(body=vote(score=6)), 400),
    ("score as text", dict(body=vote(score="5")), 400),
    ("score fractional", dict(body=vote(score=2.5)), 400),
    ("score true", dict(body=vote(score=True)), 400),
    ("no article", dict(body={"score": 3}), 400),
    ("unknown article", dict(body=vote(article="thoi-su/khong-co/")), 404),
    ("path as article", dict(body=vote(article="../../etc/passwd")), 404),
    ("bad client token", dict(body=vote(client="x" * 65)), 400),
    ("form instead of JSON", dict(raw=b"article=a&score=4", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415),
    ("oversized body", dict(raw=json.dumps({**vote(), "pad": "x" * 5000}).encode(), headers={"Content-Type": "application/json"}), 413),
])
def test_bad_vote_is_refused_and_nothing_stored(svc, name, request_args, status):
    got, data, headers = svc.call("POST", "/api/vote", **request_args)
    assert got == status, (name, data)
    assert headers["content-type"].startswith("application/json")
    assert data["ok"] is False and data["error"]  # a Vietnamese message for the widget to show
    assert svc.store.counts() == (0, 0, 0)
    assert svc.alive()


def test_claimed_huge_body_is_refused_without_reading_it(svc):
    sock = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
    sock.sendall(b"POST /api/vote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{")
    answer = sock.recv(4096).decode("utf-8", "replace")
    sock.close()
    assert answer.startswith("HTTP/1.1 413")
    assert svc.store.counts() == (0, 0, 0) and svc.alive()


def test_missing_length_unknown_path_and_wrong_method(svc):
    sock = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
    sock.sendall(b"POST /api/vote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 411")
    sock.close()
    assert svc.call("GET", "/api/nothing")[0] == 404
    assert svc.call("GET", "/api/vote")[0] == 405
    assert svc.call("POST", "/api/export", body={})[0] == 405
    assert svc.store.counts() == (0, 0, 0) and svc.alive()


def test_vote_counts_once_per_reader_and_answers_totals(svc):
    status, data, _ = svc.call("POST", "/api/vote", body=vote(score=4))
    assert status == 200 and (data["rating_total"], data["rating_count"]) == (4, 1)
    status, data, _ = svc.call("POST", "/api/vote", body=vote(score=1))
    assert status == 409 and data["error"] == "Bạn đã đánh giá bài viết này."
    assert (data["rating_total"], data["rating_count"]) == (4, 1)
    # Another browser (token) on the same address is another reader: best effort, documented.
    assert svc.call("POST", "/api/vote", body=vote(score=2, client="other"))[1]["rating_count"] == 2
    status, data, _ = svc.call("GET", "/api/stats?article=thoi-su/hoi-nghi/")
    assert (data["rating_total"], data["rating_count"], data["views"]) == (6, 2, 0)


def test_views_and_comments_wait_for_moderation(svc, tmp_path):
    for _ in range(3):
        assert svc.call("POST", "/api/view", body={"article": "kinh-te/gia-lua/"})[0] == 200
    status, data, _ = svc.call("POST", "/api/comment", body={"article": "kinh-te/gia-lua/", "name": " Nguyễn Văn A ",
                                                             "text": "Bài viết hay.\r\nCảm ơn <b>tòa soạn</b>."})
    assert status == 202 and data["message"] == "Ý kiến của bạn đang chờ duyệt."
    exported = svc.call("GET", "/api/export")[1]["articles"]["kinh-te/gia-lua/"]
    assert exported["views"] == 3 and exported["comments"] == []  # not public before approval
    (pending,) = svc.store.comments()
    assert pending["name"] == "Nguyễn Văn A" and pending["text"] == "Bài viết hay.\nCảm ơn <b>tòa soạn</b>."
    assert svc.store.moderate(pending["id"], "approved")
    exported = svc.call("GET", "/api/export")[1]["articles"]["kinh-te/gia-lua/"]
    assert [c["name"] for c in exported["comments"]] == ["Nguyễn Văn A"]
    assert svc.call("GET", "/api/stats?article=kinh-te/gia-lua/")[1]["comments"] == 1


@pytest.mark.parametrize("fields, status", [
    ({"name": "", "text": "Nội dung"}, 400),
    ({"name": "A", "text": "   "}, 400),
    ({"name": "A"}, 400),
    ({"name": "A" * 81, "text": "Nội dung"}, 413),
    ({"name": "A", "text": "a" * 2001}, 413),  # a comment over 2 000 characters, in a body under 4 KB
    ({"name": 5, "text": "Nội dung"}, 400),
])
def test_bad_comments_are_refused(svc, fields, status):
    got, data, _ = svc.call("POST", "/api/comment", body={"article": "thoi-su/hoi-nghi/", **fields})
    assert got == status and data["ok"] is False
    assert svc.store.counts() == (0, 0, 0) and svc.alive()


def test_flood_from_one_client_is_refused_then_others_still_served(new_store):
    s = start(new_store, rate=10, window=60, trust_proxy=True)
    try:
        flood = {"X-Forwarded-For": "203.0.113.7"}
        answers = [s.call("POST", "/api/vote", body=vote(client=f"tok{i}"), headers=flood) for i in range(25)]
        assert [a[0] for a in answers] == [200] * 10 + [429] * 15
        assert answers[-1][2]["retry-after"] == "60" and answers[-1][1]["error"]
        assert s.store.counts()[0] == 10  # the refused votes left nothing behind
        # Another reader is served as usual while the flooder waits.
        assert s.call("POST", "/api/vote", body=vote(client="khac"), headers={"X-Forwarded-For": "198.51.100.2"})[0] == 200
        assert s.call("GET", "/api/health")[0] == 200
    finally:
        s.server.shutdown()
        s.server.server_close()


def test_forwarded_address_is_ignored_unless_the_proxy_is_trusted(new_store):
    s = start(new_store, rate=3, window=60)
    try:
        statuses = [s.call("POST", "/api/view", body={"article": "thoi-su/hoi-nghi/"},
                           headers={"X-Forwarded-For": f"10.0.0.{i}"})[0] for i in range(5)]
        assert statuses == [200, 200, 200, 429, 429]  # all from 127.0.0.1 whatever the header claims
    finally:
        s.server.shutdown()
        s.server.server_close()


def test_concurrent_votes_are_all_counted_exactly_once(svc):
    """20 threads x 25 readers; every vote is sent twice, so duplicates race with their originals."""

    def reader(t: int) -> list[int]:
        out = []
        for i in range(25):
            body = vote(article=sorted(ARTICLES)[i % 2], score=1 + (t + i) % 5, client=f"t{t}c{i}")
            hdrs = {"X-Forwarded-For": f"192.0.2.{t}"}
            out.append(svc.call("POST", "/api/vote", body=body, headers=hdrs)[0])
            out.append(svc.call("POST", "/api/vote", body=body, headers=hdrs)[0])
        return out

    with ThreadPoolExecutor(20) as pool:
        statuses = [s for part in pool.map(reader, range(20)) for s in part]
    assert statuses.count(200) == 500 and statuses.count(409) == 500
    expected = {a: [0, 0] for a in ARTICLES}
    for t in range(20):
        for i in range(25):
            slot = expected[sorted(ARTICLES)[i % 2]]
            slot[0] += 1 + (t + i) % 5
            slot[1] += 1
    exported = svc.call("GET", "/api/export")[1]["articles"]
    assert {a: [v["rating_total"], v["rating_count"]] for a, v in exported.items()} == expected
    assert svc.store.counts()[0] == 500


def test_cors_only_for_the_site_origin(svc):
    _, _, headers = svc.call("POST", "/api/view", body={"article": "thoi-su/hoi-nghi/"}, headers={"Origin": ORIGIN})
    assert headers["access-control-allow-origin"] == ORIGIN and "Origin" in headers["vary"]
    local = "http://127.0.0.1:8000"  # the preview (sitegen serve)
    assert svc.call("GET", "/api/stats?article=thoi-su/hoi-nghi/", headers={"Origin": local})[2][
        "access-control-allow-origin"] == local
    status, data, headers = svc.call("POST", "/api/vote", body=vote(), headers={"Origin": "https://evil.example"})
    assert status == 403 and "access-control-allow-origin" not in headers
    assert svc.store.counts() == (0, 1, 0)  # only the allowed view above
    status, _, headers = svc.call("OPTIONS", "/api/vote", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert status == 204 and headers["access-control-allow-origin"] == ORIGIN
    assert "Content-Type" in headers["access-control-allow-headers"]
    status, _, headers = svc.call("OPTIONS", "/api/vote", headers={"Origin": "https://tintuc.example.evil.com"})
    assert status == 403 and "access-control-allow-origin" not in headers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stats_serve_command_knows_the_sites_articles(site, tmp_path):
    site.write("site.toml", 'base_url = "https://tintuc.example/"\n')
    site.write("content/thoi-su/hoi-nghi/index.md", article("Hội nghị"))
    site.write("content/thoi-su/nhap/index.md", article("Bài nháp", draft="true"))
    port = _free_port()
    db = tmp_path / "tk" / "stats.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "sitegen", "stats", "serve", "--source", str(site.root),
                             "--db", str(db), "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        served = Served.__new__(Served)
        served.port = port
        for _ in range(100):
            try:
                if served.call("GET", "/api/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        assert served.call("POST", "/api/vote", body=vote())[0] == 200
        assert served.call("POST", "/api/vote", body=vote(article="thoi-su/nhap/"))[0] == 404  # drafts are not published
        status, _, headers = served.call("POST", "/api/view", body={"article": "thoi-su/hoi-nghi/"},
                                         headers={"Origin": "https://tintuc.example"})
        assert status == 200 and headers["access-control-allow-origin"] == "https://tintuc.example"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert "Máy thu số liệu bạn đọc" in out and "Traceback" not in err
    assert db.is_file()


def test_port_in_use_is_a_clear_error(site):
    site.write("content/thoi-su/hoi-nghi/index.md", article("Hội nghị"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = site.cli("stats", "serve", "--port", str(taken.getsockname()[1]), "--db", str(site.root / "s.sqlite3"))
    assert result.returncode == 1 and "STATS003" in result.stderr and "Traceback" not in result.stderr


def test_moderation_commands(new_store, store_kind, tmp_path):
    store = new_store()
    first = store.comment("thoi-su/hoi-nghi/", "Trần B", "Ý kiến một", "c1")
    store.comment("thoi-su/hoi-nghi/", "Lê C", "Ý kiến hai", "c2")
    db = new_store.target
    listed = run_cli("stats", "comments", "--db", db)
    assert listed.returncode == 0 and '"Trần B": "Ý kiến một"' in listed.stdout and '"Lê C"' in listed.stdout
    assert run_cli("stats", "comments", "approve", str(first), "--db", db).returncode == 0
    assert run_cli("stats", "comments", "reject", str(first + 1), "--db", db).returncode == 0
    assert "Không có ý kiến nào đang chờ duyệt." in run_cli("stats", "comments", "list", "--db", db).stdout
    everything = run_cli("stats", "comments", "all", "--db", db).stdout
    assert "[approved]" in everything and "[rejected]" in everything
    missing = run_cli("stats", "comments", "approve", "999", "--db", db)
    assert missing.returncode == 1 and "STATS002" in missing.stderr and "Traceback" not in missing.stderr
    no_db = run_cli("stats", "comments", "--db", str(tmp_path / "khong-co.sqlite3"))
    assert no_db.returncode == 1 and "STATS001" in no_db.stderr
    if store_kind == "postgresql":  # a server that does not answer: named without the password, no traceback
        down = run_cli("stats", "comments", "--db", f"postgresql://u:bi-mat@/x?host={tmp_path}&port=1")
        assert down.returncode == 1 and "STATS001" in down.stderr and "PostgreSQL" in down.stderr
        assert "bi-mat" not in down.stderr and "Traceback" not in down.stderr


def test_known_articles_follow_the_site_folder(site):
    site.write("content/thoi-su/hoi-nghi/index.md", article("Hội nghị"))
    known = KnownArticles(site_articles(site.config()), every=0)
    assert "thoi-su/hoi-nghi/" in known and "thoi-su/moi/" not in known
    site.write("content/thoi-su/moi/index.md", article("Bài mới đăng"))
    assert "thoi-su/moi/" in known  # an unknown id rereads the folder (at most every `every` seconds)
    slow = KnownArticles(lambda: {"a/"}, every=3600)
    assert "b/" not in slow and len(slow) == 1
