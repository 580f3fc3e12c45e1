"""A bounded load test of the readers' figures collector, on SQLite or on PostgreSQL.

Starts `sitegen stats serve` in its own process(es) on a throwaway site (so client and server do not share one
interpreter lock); with `--store postgresql`, a throwaway PostgreSQL server too (Debian's binaries, as the tests
start it: tests/pgserver.py) and `--collectors N` processes sharing its database, the clients spread over them
as a load balancer would. Then, for at most `--seconds` and at most `--votes` votes in all:

- `--threads` fast clients post votes over loopback, each on one keep-alive connection;
- `--slow` slow clients each open a connection per vote and trickle it (request line, headers, body in pieces
  over about `--trickle` seconds, within the collector's 10 s deadline), so the server holds many half-read
  requests while it answers the fast ones.

Every vote comes from a distinct reader (its own token and `X-Forwarded-For` address, `--trust-proxy`, rate
limit lifted). Prints votes/second, p50/p99 latency of each kind, errors, and checks that the database holds
exactly the votes that were answered 200. Exit status 1 on any error or mismatch.

    python3 benchmarks/stats_load.py [--store sqlite|postgresql] [--collectors 1] [--threads 8] [--slow 20]
                                     [--seconds 10] [--votes 20000] [--articles 50]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, child_env  # noqa: E402  (timed processes run as run.py's do)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--collectors", type=int, default=1, help="collector processes (PostgreSQL only), default 1")
    ap.add_argument("--threads", type=int, default=8, help="fast keep-alive clients")
    ap.add_argument("--slow", type=int, default=0, help="slow clients trickling each request")
    ap.add_argument("--trickle", type=float, default=1.0, help="seconds a slow client takes to send one request")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the run (at most 60)")
    ap.add_argument("--votes", type=int, default=20_000, help="stop after this many votes in all")
    ap.add_argument("--articles", type=int, default=50)
    args = ap.parse_args()
    if args.store == "sqlite" and args.collectors != 1:
        ap.error("an SQLite file has one collector; several collectors share a PostgreSQL database")
    seconds = min(args.seconds, 60.0)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        for i in range(args.articles):
            folder = site / "content" / "thoi-su" / f"bai-{i}"
            folder.mkdir(parents=True)
            (folder / "index.md").write_text(f'---\ntitle: "Bài {i}"\ndate: "2024-03-01 08:00"\n---\n\nNội dung.\n',
                                             encoding="utf-8")
        pg = None
        if args.store == "postgresql":
            sys.path.insert(0, str(ROOT / "tests"))
            from pgserver import MISSING, PostgresServer, binaries

            if binaries() is None:
                raise SystemExit(MISSING)
            pg = PostgresServer(binaries(), durable=True).start()  # fsync on, as a portal's server runs
            db = pg.new_database()
        else:
            db = str(Path(tmp) / "stats.sqlite3")
        ports = [_free_port() for _ in range(args.collectors)]
        servers = [subprocess.Popen(
            [sys.executable, "-m", "sitegen", "stats", "serve", "--source", str(site), "--db", db, "--port", str(port),
             "--trust-proxy", "--rate", "1000000000"],
            cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for port in ports]
        try:
            for port in ports:
                _wait(port)
            run = _Run(ports, seconds, args.votes, args.articles, args.trickle)
            run.go(args.threads, args.slow)
        finally:
            for server in servers:
                server.terminate()
                server.wait(10)
            stored = _stored(db)
            if pg is not None:
                pg.close()
    fast, slow = sorted(run.latencies["fast"]), sorted(run.latencies["slow"])
    ok = run.ok
    print(f"{args.store}, {args.collectors} collector(s), {args.threads} keep-alive + {args.slow} slow clients, "
          f"{run.elapsed:.1f} s, {args.articles} articles: {ok} votes accepted, {ok / run.elapsed:.0f} votes/s, "
          f"{run.errors} errors; latency keep-alive p50 {_pct(fast, 50):.1f} ms p99 {_pct(fast, 99):.1f} ms"
          + (f", slow ({len(slow)} votes) p99 {_pct(slow, 99):.0f} ms" if slow else "")
          + f"; stored {stored} ({'exact' if stored == ok else 'MISMATCH'}); load average {os.getloadavg()[0]:.1f}")
    return 0 if stored == ok and not run.errors else 1


class _Run:
    """The clients of one run and what they saw."""

    def __init__(self, ports: list[int], seconds: float, votes: int, articles: int, trickle: float):
        self.ports, self.seconds, self.budget, self.articles, self.trickle = ports, seconds, votes, articles, trickle
        self.ok = self.errors = self.sent = 0
        self.latencies: dict[str, list[float]] = {"fast": [], "slow": []}
        self._lock = threading.Lock()
        self.elapsed = 0.0

    def _take(self) -> int | None:
        """The number of the next vote, or None when the run is over (time or count)."""
        with self._lock:
            if self.sent >= self.budget or time.monotonic() >= self._deadline:
                return None
            self.sent += 1
            return self.sent

    def _done(self, kind: str, status: int | None, took: float) -> None:
        with self._lock:
            if status == 200:
                self.ok += 1
            else:
                self.errors += 1
            self.latencies[kind].append(took)

    def _body(self, n: int) -> tuple[bytes, str]:
        body = json.dumps({"article": f"thoi-su/bai-{n % self.articles}/", "score": 1 + n % 5, "client": f"r{n}"})
        return body.encode(), f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250}"

    def fast(self, t: int) -> None:
        port = self.ports[t % len(self.ports)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        while (n := self._take()) is not None:
            body, address = self._body(n)
            start = time.perf_counter()
            status = None
            try:
                conn.request("POST", "/api/vote", body=body,
                             headers={"Content-Type": "application/json", "X-Forwarded-For": address})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            self._done("fast", status, time.perf_counter() - start)
        conn.close()

    def slow(self, t: int) -> None:
        port = self.ports[t % len(self.ports)]
        while (n := self._take()) is not None:
            body, address = self._body(n)
            head = (f"POST /api/vote HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    f"X-Forwarded-For: {address}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            data = head + body
            pieces = [data[i:i + 24] for i in range(0, len(data), 24)]
            start = time.perf_counter()
            status = None
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
                    for piece in pieces:
                        sock.sendall(piece)
                        time.sleep(self.trickle / len(pieces))
                    answer = b""
                    while chunk := sock.recv(4096):
                        answer += chunk
                status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
            except (OSError, ValueError, IndexError):
                pass
            self._done("slow", status, time.perf_counter() - start)

    def go(self, threads: int, slow: int) -> None:
        self._deadline = time.monotonic() + self.seconds
        began = time.monotonic()
        workers = ([threading.Thread(target=self.fast, args=(t,)) for t in range(threads)]
                   + [threading.Thread(target=self.slow, args=(t,)) for t in range(slow)])
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self.elapsed = time.monotonic() - began


def _stored(db: str) -> int:
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM votes").fetchone()[0]
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM votes").fetchone()[0]


def _pct(values: list[float], p: int) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))] * 1000 if values else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the collector did not start")


if __name__ == "__main__":
    sys.exit(main())
