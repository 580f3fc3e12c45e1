"""The collector on PostgreSQL, as a portal runs it: several `sitegen stats serve` processes behind a load
balancer sharing one database, on a real PostgreSQL server started by the suite (`pgserver`). Exact counts
across processes, a database that stops or is locked answered with 503 (and health says so) then recovered
without a restart, a clear error at start, and `build --stats` reading the database itself."""

from __future__ import annotations

import http.client
import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import psycopg
import pytest

from conftest import ROOT, article, free_port, run_cli, text_of, wait_for
from pgserver import MISSING, PostgresServer, binaries, postgres  # noqa: F401 (fixture)

from sitegen.readers.server import make_server
from sitegen.readers.store import MAX_PENDING, Unavailable
from sitegen.readers.store_pg import PgStore

ORIGIN = "https://tintuc.example"
HOI_NGHI, GIA_LUA = "thoi-su/hoi-nghi/", "kinh-te/gia-lua/"


def call(port: int, method: str, path: str, body=None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    return resp.status, (json.loads(payload) if payload else None), {k.lower(): v for k, v in resp.getheaders()}


def healthy(port: int) -> bool:
    try:
        return call(port, "GET", "/api/health")[0] == 200
    except OSError:
        return False


@pytest.fixture
def news(site):
    site.write("site.toml", 'base_url = "https://tintuc.example/"\n')
    site.write("content/thoi-su/hoi-nghi/index.md", article("Hội nghị tổng kết", views="500"))
    site.write("content/kinh-te/gia-lua/index.md", article("Giá lúa tăng", date="2024-03-28 08:00"))
    return site


def collectors(site, url: str, n: int, *extra: str) -> tuple[list[subprocess.Popen], list[int]]:
    ports = [free_port() for _ in range(n)]
    procs = [subprocess.Popen([sys.executable, "-m", "sitegen", "stats", "serve", "--source", str(site.root),
                               "--db", url, "--port", str(p), "--rate", "1000000", *extra], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}) for p in ports]
    for p in ports:
        wait_for(lambda: healthy(p), timeout=30, what=f"the collector on port {p}")
    return procs, ports


def stop(procs: list[subprocess.Popen]) -> list[str]:
    errs = []
    for proc in procs:
        proc.terminate()
        errs.append(proc.communicate(timeout=15)[1])
        assert proc.returncode == 0, errs[-1]
    return errs


def test_several_collectors_on_one_database_count_exactly(news, postgres):
    """3 collector processes; 40 readers each vote on both articles, every vote sent to two different
    collectors at once (a retry through the load balancer), and view each article; 260 comments race for
    the 200 places of the moderation queue."""
    url = postgres.new_database()
    procs, ports = collectors(news, url, 3)
    try:
        def reader(r: int) -> list[int]:
            statuses = []
            for article_id in (HOI_NGHI, GIA_LUA):
                body = {"article": article_id, "score": 1 + (r * 7 + len(article_id)) % 5, "client": f"reader{r}"}
                first, second = random.sample(ports, 2)
                with ThreadPoolExecutor(2) as twice:
                    statuses += [s for s, _, _ in twice.map(lambda p: call(p, "POST", "/api/vote", body), (first, second))]
                statuses.append(call(random.choice(ports), "POST", "/api/view", {"article": article_id})[0])
            return statuses

        with ThreadPoolExecutor(16) as pool:
            statuses = [s for part in pool.map(reader, range(40)) for s in part]
        assert statuses.count(200) == 80 + 80 and statuses.count(409) == 80  # 80 votes + 80 views; 80 duplicates

        def comment(i: int) -> int:
            return call(ports[i % 3], "POST", "/api/comment",
                        {"article": HOI_NGHI, "name": f"Bạn đọc {i}", "text": "Ý kiến", "client": f"c{i}"})[0]

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(comment, range(MAX_PENDING + 60)))
        assert answers.count(202) == MAX_PENDING and answers.count(429) == 60

        exported = call(ports[0], "GET", "/api/export")[1]["articles"]
        for article_id in (HOI_NGHI, GIA_LUA):
            scores = [1 + (r * 7 + len(article_id)) % 5 for r in range(40)]
            assert exported[article_id]["rating_total"] == sum(scores)
            assert exported[article_id]["rating_count"] == 40 and exported[article_id]["views"] == 40
        with psycopg.connect(url) as db:
            assert db.execute("SELECT count(*) FROM votes").fetchone()[0] == 80
            assert db.execute("SELECT count(*) FROM comments WHERE status = 'pending'").fetchone()[0] == MAX_PENDING
            assert db.execute("SELECT count(*) FROM meta").fetchone()[0] == 1  # one salt for all collectors
    finally:
        errs = stop(procs)
    assert not any("Traceback" in e for e in errs)


def test_the_rate_limit_is_shared_by_every_collector_of_the_database(news, postgres):
    """Behind a load balancer a client's requests are spread over the collectors: `--rate 5` must mean five per
    minute in all (kept in the database), not five at each collector."""
    url = postgres.new_database()
    procs, ports = collectors(news, url, 2, "--rate", "5")
    try:
        statuses = [call(ports[i % 2], "POST", "/api/view", {"article": HOI_NGHI})[0] for i in range(10)]
        assert statuses == [200] * 5 + [429] * 5, statuses
        assert call(ports[0], "GET", "/api/health")[0] == 200  # health is never rate limited
        with psycopg.connect(url) as db:
            assert db.execute("SELECT sum(count) FROM hits WHERE address = '127.0.0.1'").fetchone()[0] == 10
            assert db.execute("SELECT count FROM views").fetchone()[0] == 5
    finally:
        errs = stop(procs)
    assert not any("Traceback" in e for e in errs)


@pytest.fixture
def own_server():
    """A PostgreSQL server of this test's own, to stop and start again."""
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip(MISSING)
    server = PostgresServer(bin_dir).start()
    yield server
    server.close()


def test_a_stopped_database_is_503_and_health_says_so_until_it_is_back(own_server):
    store = PgStore(own_server.new_database())
    logged = []
    server = make_server(store, {HOI_NGHI}, ORIGIN, log=logged.append)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    vote = {"article": HOI_NGHI, "score": 5, "client": "a"}
    try:
        assert call(port, "POST", "/api/vote", vote)[0] == 200
        own_server.stop()
        began = time.monotonic()
        status, data, headers = call(port, "GET", "/api/health")
        assert status == 503 and data["database"] == "unreachable" and time.monotonic() - began < 3
        status, data, headers = call(port, "POST", "/api/vote", {**vote, "client": "b"})
        assert status == 503 and data["database"] == "unreachable" and headers["retry-after"] == "10"
        assert "không kết nối được cơ sở dữ liệu" in data["error"]
        assert call(port, "GET", f"/api/stats?article={HOI_NGHI}")[0] == 503
        own_server.start_again()  # no restart of the collector: its pool reconnects
        wait_for(lambda: healthy(port), timeout=15, what="health after the database came back")
        status, data, _ = call(port, "POST", "/api/vote", {**vote, "client": "b"})
        assert status == 200 and (data["rating_total"], data["rating_count"]) == (10, 2)
        assert call(port, "POST", "/api/vote", vote)[0] == 409  # what was stored before the stop is still there
    finally:
        server.shutdown()
        server.server_close()
        store.close()
    states = [json.loads(line)["state"] for line in logged if json.loads(line).get("event") == "database"]
    assert states == ["unreachable", "ok"]  # one line when it went, one when it came back


def test_a_locked_table_fails_writes_fast_serves_reads_and_shows_in_health(postgres):
    url = postgres.new_database()
    store = PgStore(url)
    server = make_server(store, {HOI_NGHI}, ORIGIN)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    holder = psycopg.connect(url)
    try:
        assert call(port, "POST", "/api/view", {"article": HOI_NGHI})[0] == 200
        holder.execute("LOCK TABLE votes, views IN EXCLUSIVE MODE")  # a maintenance script inside a transaction
        began = time.monotonic()
        status, data, headers = call(port, "POST", "/api/vote", {"article": HOI_NGHI, "score": 3, "client": "x"})
        assert status == 503 and data["database"] == "locked" and headers["retry-after"] == "2"
        assert time.monotonic() - began < 2.5
        status, data, _ = call(port, "GET", f"/api/stats?article={HOI_NGHI}")  # reads still served
        assert status == 200 and data["views"] == 1
        assert call(port, "GET", "/api/health")[1]["database"] == "locked"
        holder.rollback()
        assert call(port, "POST", "/api/vote", {"article": HOI_NGHI, "score": 3, "client": "x"})[0] == 200
        assert call(port, "GET", "/api/health")[0] == 200
    finally:
        holder.close()
        server.shutdown()
        server.server_close()
        store.close()


def test_health_refuses_a_database_turned_read_only(postgres):
    """A database switched to read-only (a standby promoted the wrong way, a maintenance setting), and the
    collector's connections cut by the administrator: the pool reconnects, health reports the error."""
    url = postgres.new_database()
    store = PgStore(url)
    try:
        assert store.health() == "ok"
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sitegen-stats'")
        states = []
        for _ in range(10):  # a connection cut within the last seconds fails one request before it is replaced
            with pytest.raises(Unavailable) as down:
                store.health()
            states.append(down.value.state)
            if down.value.state != "unreachable":
                break
        assert states[-1] == "error" and "chỉ cho đọc" in down.value.detail, states
        assert len(states) <= 9  # at most one failure per pooled connection (8)
        with pytest.raises(Unavailable) as down:
            store.vote(HOI_NGHI, 3, "x")
        assert down.value.state == "error"
    finally:
        store.close()


def test_unreachable_database_at_start_is_a_clear_error(news, tmp_path):
    result = news.cli("stats", "serve", "--db", f"postgresql://sitegen:mat-khau@/stats?host={tmp_path}&port=1")
    assert result.returncode == 1 and "STATS001" in result.stderr and "Traceback" not in result.stderr
    assert "không kết nối được PostgreSQL" in result.stderr and "mat-khau" not in result.stderr


def test_build_reads_the_postgresql_database_itself(news, postgres):
    url = postgres.new_database()
    store = PgStore(url)
    for i, score in enumerate((5, 4)):
        store.vote(HOI_NGHI, score, f"c{i}")
    for _ in range(32):
        store.view(HOI_NGHI)
    store.moderate(store.comment(HOI_NGHI, "Nguyễn Văn A", "Rất bổ ích.", "c"), "approved")
    store.close()
    result = news.cli("build", "--stats", url)
    assert result.returncode == 0 and "STATS001" not in result.stderr, result.stderr
    doc = news.html(HOI_NGHI + "index.html")
    assert text_of(doc.find(".//p[@class='rating-score']")) == "Tổng số điểm của bài viết là: 9 trong 2 đánh giá"
    assert text_of(doc.find(".//span[@class='views-count']")) == "532"  # 500 in front matter + 32 collected
    assert text_of(doc.find(".//ol[@class='comment-list']/li//p[@class='comment-text']")) == "Rất bổ ích."
    down = news.cli("build", "--stats", url.replace("port=5432", "port=1"))
    assert down.returncode == 0 and "STATS001" in down.stderr and "Traceback" not in down.stderr


def test_migrate_from_sqlite_keeps_everything_and_second_votes_refused(tmp_path, postgres):
    from sitegen.readers.store import Store

    old = Store(tmp_path / "stats.sqlite3")
    reader = old.client("203.0.113.5", "tok")
    assert old.vote(HOI_NGHI, 4, reader) and old.vote(GIA_LUA, 2, old.client("198.51.100.1", "x"))
    for _ in range(7):
        old.view(HOI_NGHI)
    approved = old.comment(HOI_NGHI, "An", "Hay", reader)
    old.moderate(approved, "approved")
    pending = old.comment(HOI_NGHI, "Bình", "Chờ duyệt", reader)
    exported = old.export()
    old.close()
    url = postgres.new_database()
    result = run_cli("stats", "migrate", str(tmp_path / "stats.sqlite3"), "--db", url)
    assert result.returncode == 0 and "Đã chuyển 2 đánh giá, 7 lượt xem, 2 ý kiến" in result.stdout, result.stderr
    new = PgStore(url)
    try:
        assert new.export() == exported
        assert new.client("203.0.113.5", "tok") == reader  # the same salt: the reader is recognised
        assert not new.vote(HOI_NGHI, 5, new.client("203.0.113.5", "tok"))
        assert [c["id"] for c in new.comments()] == [pending]
        assert new.comment(HOI_NGHI, "Chi", "Mới", "c") == pending + 1
    finally:
        new.close()
    again = run_cli("stats", "migrate", str(tmp_path / "stats.sqlite3"), "--db", url)
    assert again.returncode == 1 and "STATS001" in again.stderr and "đã có số liệu" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize("url", [
    "postgresql://sitegen:mat-khau@[hong/stats",  # libpq quotes a URL it cannot parse in its message
    "postgresql://sitegen:mat-khau@/stats?bogus=1",
    "postgresql://sitegen:mat-khau@db.example:99999/stats",
    "postgresql://sitegen:mat-khau@/stats?host=/khong-co-thu-muc",
])
@pytest.mark.parametrize("command", ["serve", "comments", "migrate", "build"])
def test_a_bad_or_unreachable_url_is_a_clear_error_without_the_password(news, tmp_path, url, command):
    (tmp_path / "cu.sqlite3").touch()
    args = {"serve": ("stats", "serve", "--port", "0", "--db", url), "comments": ("stats", "comments", "--db", url),
            "migrate": ("stats", "migrate", str(tmp_path / "cu.sqlite3"), "--db", url),
            "build": ("build", "--stats", url)}[command]
    result = run_cli(*args, cwd=news.root) if command == "migrate" else news.cli(*args)
    assert "STATS001" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "mat-khau" not in result.stdout + result.stderr
    assert result.returncode == (0 if command == "build" else 1)  # a build publishes with front matter figures
