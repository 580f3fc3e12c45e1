#!/usr/bin/env python3
"""Search benchmark: what the sharded Pagefind index costs a build, and what a search costs a reader on a phone.

    python benchmarks/search.py                          # builds and queries at 1 000 and 10 000 articles
    python benchmarks/search.py --sizes 10000 --runs 3 --no-queries
    python benchmarks/search.py --sizes 1000 --no-builds --extra-site OLD_PUBLIC=label

Builds (the gen_corpus.py corpus, no photos, `python -m sitegen build`, wall time and peak PSS of the whole
process tree as in run.py, Pagefind included), side by side for the default configuration (search on) and
`search = false`: cold, no change, adding one article (the newest, in the corpus's newest month), editing the
newest article, editing a random older one (a shard of an older year). The summary line of each build says
which shards were indexed again.

Queries (the search-on site of each size, served on 127.0.0.1): the site's own search page in headless
Chromium at 360x800 with the CPU throttled 4x (CDP Emulation.setCPUThrottlingRate), a fresh browser context
(cold cache) per query; the time from pressing Enter to the first result painted, and the bytes fetched for
that query (after the empty page settled). Queries: common words (in nearly every article of this corpus),
a surname in ~2% of the articles, and a rare place name planted in three old articles (the newest-first search
must walk every shard to find them), each with and without Vietnamese diacritics.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, child_env, corpus, measure  # noqa: E402  (same corpus cache and measurement as run.py)

QUERIES = ["hội nghị", "hoi nghi", "nông thôn mới", "nong thon moi", "Huỳnh", "huynh", "Thị Nại", "thi nai"]
# In three old articles: the rare query ("Nại" is a word gen_corpus.py never writes; "Bàu Trúc", planted until
# 3 Dec 2026, is one of its ordinary place names, which the newest shard already answers).
PLANTED = "Đầm Thị Nại đón đoàn khách."


def prepare(n: int, work: Path, search: bool) -> Path:
    site = work / f"site-{n}-{'search' if search else 'nosearch'}"
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(corpus(n), site / "content")
    files = sorted((site / "content").rglob("index.md"))
    for target in (files[3], files[len(files) // 3], files[len(files) // 2]):
        with open(target, "a", encoding="utf-8") as fh:
            fh.write("\n" + PLANTED + "\n")
    (site / "site.toml").write_text("" if search else "search = false\n", encoding="utf-8")
    return site


def _dated(site: Path) -> list[tuple[str, Path]]:
    out = []
    for f in (site / "content").rglob("index.md"):
        m = re.search(r'^date: "([^"]+)"', f.read_text(encoding="utf-8"), re.M)
        out.append((m.group(1) if m else "", f))
    return sorted(out)


def add_newest(site: Path, newest: str) -> None:
    """A new article a minute after the newest one (the same month, in the past: published)."""
    folder = site / "content" / "thoi-su" / "bai-moi"
    n = len(list(folder.glob("*"))) if folder.is_dir() else 0
    model = sorted((site / "content").rglob("index.md"))[0]
    when = newest[:-2] + f"{min(59, int(newest[-2:]) + n + 1):02d}"
    text = [f'title: "Bài mới thêm số {n}"' if ln.startswith("title:") else f'date: "{when}"'
            if ln.startswith("date:") else ln for ln in model.read_text(encoding="utf-8").split("\n")]
    (folder / f"bai-moi-them-{n}").mkdir(parents=True)
    (folder / f"bai-moi-them-{n}" / "index.md").write_text("\n".join(text), encoding="utf-8")


def append(path: Path) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"\nCập nhật lúc {time.time():.3f}.\n")


def bench_builds(n: int, runs: int, work: Path) -> dict[str, dict[str, tuple[float, float]]]:
    out = {}
    for search in (True, False):
        site = prepare(n, work, search)
        cmd = [sys.executable, "-m", "sitegen", "build", "--source", str(site)]
        env = {"PYTHONPATH": str(ROOT)}
        dated = _dated(site)
        newest = dated[-1][0]
        olds = [f for d, f in dated[: len(dated) * 3 // 4]]
        rng = random.Random(1)
        # (Measured once and sampled while timed, see run.measure: a second run would not be the same build.)
        rows = {"cold": measure(cmd, 1, None, env, apart=False), "no-change": measure(cmd, runs, None, env)}
        rows["first edit"] = measure(cmd, 1, lambda: append(dated[-1][1]), env, apart=False)  # fills the spare tree once
        rows["add newest"] = measure(cmd, runs, lambda: add_newest(site, newest), env)
        rows["edit newest"] = measure(cmd, runs, lambda: append(dated[-1][1]), env)
        rows["edit older"] = measure(cmd, runs, lambda: append(rng.choice(olds)), env)
        append(rng.choice(olds))
        said = subprocess.run(cmd, env=child_env(env), capture_output=True, text=True).stdout.strip()
        rows["(summary line of an older edit)"] = said  # type: ignore[assignment]
        out["search on" if search else "search = false"] = rows
        if not search:
            shutil.rmtree(site, ignore_errors=True)
    return out


def bench_queries(public: Path, queries: list[str], throttle: float) -> list[tuple[str, float | None, int, int]]:
    """(query, ms to the first result painted or None, bytes fetched, requests) for each query."""
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(public)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_port}"
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run"])
            for q in queries:
                ctx = browser.new_context(viewport={"width": 360, "height": 800}, is_mobile=True, has_touch=True)
                page = ctx.new_page()
                ctx.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
                fetched = [0, 0]
                seen: set[str] = set()

                # Each address once: a file asked for again (the WebAssembly, by every shard Pagefind opens) comes
                # from the browser's cache, and Playwright reports the cached answer as a response too.
                def count(r, fetched=fetched, seen=seen):
                    if r.url in seen:
                        return
                    seen.add(r.url)
                    fetched[0] += int(r.headers.get("content-length") or 0)
                    fetched[1] += 1

                page.on("response", count)
                page.goto(base + "/tim-kiem/")
                page.wait_for_load_state("networkidle")
                before = list(fetched)
                t = time.perf_counter()
                page.fill("#search-q", q)
                page.keyboard.press("Enter")
                try:
                    page.wait_for_selector(".search-result, .search[data-ready='error']", timeout=120_000)
                    ms = (time.perf_counter() - t) * 1000
                    page.wait_for_load_state("networkidle")
                except Exception:  # noqa: BLE001 - reported as no result
                    ms = None
                rows.append((q, ms, fetched[0] - before[0], fetched[1] - before[1]))
                ctx.close()
            browser.close()
    finally:
        srv.shutdown()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--throttle", type=float, default=4)
    ap.add_argument("--no-builds", action="store_true")
    ap.add_argument("--no-queries", action="store_true")
    ap.add_argument("--extra-site", action="append", default=[], metavar="PUBLIC=LABEL",
                    help="also query an already built site (e.g. one built by another version of sitegen)")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores (shared), load {os.getloadavg()[0]:.1f}; median of {args.runs} runs\n")
    with tempfile.TemporaryDirectory(prefix="sitegen-search-bench-") as tmp:
        work = Path(tmp)
        for n in (int(s) for s in args.sizes.split(",")):
            if not args.no_builds:
                rows = bench_builds(n, args.runs, work)
                print(f"== builds, {n} articles ==")
                print(f"{'build':<14}" + "".join(f"{k:>24}" for k in rows))
                for mode in rows["search on"]:
                    if mode.startswith("("):
                        continue
                    print(f"{mode:<14}" + "".join(f"{rows[k][mode][0]:>15.2f}s {rows[k][mode][1]:>5.0f}M"
                                                   for k in rows))
                print("summary line, older edit:", rows["search on"]["(summary line of an older edit)"])
            if not args.no_queries:
                site = work / f"site-{n}-search"
                if not (site / "public").is_dir():
                    site = prepare(n, work, True)
                    subprocess.run([sys.executable, "-m", "sitegen", "build", "--source", str(site)], check=True,
                                   capture_output=True, env=child_env())
                print(f"== queries, {n} articles, CPU throttled {args.throttle:g}x, cold cache ==")
                for q, ms, size, reqs in bench_queries(site / "public", QUERIES, args.throttle):
                    shown = f"{ms:7.0f} ms" if ms is not None else "  no result"
                    print(f"{q!r:<18} first results {shown}, fetched {size / 1024:7.0f} KB in {reqs} requests")
            shutil.rmtree(work / f"site-{n}-search", ignore_errors=True)
        for spec in args.extra_site:
            public, _, label = spec.partition("=")
            print(f"== queries, {label or public}, CPU throttled {args.throttle:g}x, cold cache ==")
            for q, ms, size, reqs in bench_queries(Path(public), QUERIES, args.throttle):
                shown = f"{ms:7.0f} ms" if ms is not None else "  no result"
                print(f"{q!r:<18} first results {shown}, fetched {size / 1024:7.0f} KB in {reqs} requests")


if __name__ == "__main__":
    main()
