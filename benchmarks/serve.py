#!/usr/bin/env python3
"""Save-to-reload time of the live preview on a large site.

    python benchmarks/serve.py [--articles 2000] [--edits 10]

Generates a corpus with ../shared/bench/gen_corpus.py, starts `sitegen serve` on a free port, opens the article
in headless Chromium (Debian's, through Playwright), then edits the article's title on disk again and again and
measures the time from the write to the browser showing the new title after its automatic reload. Prints the
median and worst, and the server's own rebuild lines.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT.parent / "shared" / "bench" / "gen_corpus.py"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--edits", type=int, default=10)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="sitegen-serve-bench-") as tmp:
        site = Path(tmp)
        subprocess.run([sys.executable, str(GEN), str(site), "--articles", str(args.articles), "--seed", "3"],
                       check=True, capture_output=True)
        target = sorted((site / "content").rglob("index.md"))[len(list((site / "content").rglob("index.md"))) // 2]
        text = target.read_text(encoding="utf-8")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = open(site / "serve.log", "w+", encoding="utf-8")
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "sitegen", "serve", "--source", str(site), "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() - t0 > 600:
                    sys.exit("server did not start")
                time.sleep(0.1)
        start_s = time.monotonic() - t0
        cat, year, slug = target.parent.relative_to(site / "content").parts
        url = f"{base}/{cat}/{slug}/"
        times = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run"])
                page = browser.new_page()
                page.goto(url)
                page.wait_for_function("() => window.LiveReload !== undefined")
                for i in range(args.edits):
                    title = f"Tiêu đề thử số {i}"
                    new = re.sub(r'^title: .*$', f'title: "{title}"', text, count=1, flags=re.M)
                    time.sleep(0.5)
                    started = time.monotonic()
                    target.write_text(new, encoding="utf-8")
                    page.wait_for_function(f"() => document.querySelector('h1') && "
                                           f"document.querySelector('h1').textContent === {title!r}",
                                           timeout=30_000, polling=5)
                    times.append((time.monotonic() - started) * 1000)
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
        log.seek(0)
        lines = [ln.strip() for ln in log if "Đã dựng lại" in ln or "Tải lại" in ln]
    print(f"sitegen serve, {args.articles} articles, {os.cpu_count()} cores: first build and start {start_s:.1f} s")
    print(f"save -> browser shows the edit (one-article title change, {len(times)} edits): "
          f"median {statistics.median(times):.0f} ms, worst {max(times):.0f} ms")
    print("server's own lines (last 4):")
    for ln in lines[-4:]:
        print("  " + ln)


if __name__ == "__main__":
    main()
