"""Votes per second the readers' figures collector sustains on this machine.

Starts `sitegen stats serve` in its own process on a throwaway site (so client and server do not share one
interpreter lock), then N client threads post votes over loopback, each on a keep-alive connection and each vote
from a distinct reader, for a bounded time. Prints votes/second, latency and errors, and checks that the file
holds exactly the votes that were answered 200.

    python3 benchmarks/stats_load.py [--threads 8] [--seconds 10] [--articles 50]
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

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the run (at most 20)")
    ap.add_argument("--articles", type=int, default=50)
    args = ap.parse_args()
    seconds = min(args.seconds, 20.0)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        for i in range(args.articles):
            folder = site / "content" / "thoi-su" / f"bai-{i}"
            folder.mkdir(parents=True)
            (folder / "index.md").write_text(f'---\ntitle: "Bài {i}"\ndate: "2024-03-01 08:00"\n---\n\nNội dung.\n',
                                             encoding="utf-8")
        db = Path(tmp) / "stats.sqlite3"
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "sitegen", "stats", "serve", "--source", str(site), "--db", str(db), "--port", str(port),
             "--trust-proxy", "--rate", "1000000000"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait(port)
            ok, errors, latencies = _load(port, args.threads, seconds, args.articles)
        finally:
            server.terminate()
            server.wait(10)
        stored = sqlite3.connect(db).execute("SELECT count(*) FROM votes").fetchone()[0]
    latencies.sort()
    rate = ok / seconds
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0
    print(f"{args.threads} client threads, {seconds:.0f} s, {args.articles} articles: {ok} votes accepted, "
          f"{rate:.0f} votes/s, {errors} errors, latency p50 {p50:.1f} ms p99 {p99:.1f} ms, "
          f"stored {stored} ({'exact' if stored == ok else 'MISMATCH'}); load average {os.getloadavg()[0]:.1f}")
    return 0 if stored == ok and not errors else 1


def _load(port: int, threads: int, seconds: float, articles: int) -> tuple[int, int, list[float]]:
    deadline = time.monotonic() + seconds
    results: list[tuple[int, int, list[float]]] = []
    lock = threading.Lock()

    def client(t: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        ok = errors = n = 0
        lat: list[float] = []
        while time.monotonic() < deadline:
            body = json.dumps({"article": f"thoi-su/bai-{n % articles}/", "score": 1 + n % 5, "client": f"t{t}n{n}"})
            headers = {"Content-Type": "application/json", "X-Forwarded-For": f"10.{t}.{n // 250 % 250}.{n % 250}"}
            start = time.perf_counter()
            try:
                conn.request("POST", "/api/vote", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    ok += 1
                else:
                    errors += 1
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            lat.append(time.perf_counter() - start)
            n += 1
        conn.close()
        with lock:
            results.append((ok, errors, lat))

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(r[0] for r in results), sum(r[1] for r in results), [x for r in results for x in r[2]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(200):
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
