#!/usr/bin/env python3
"""The live preview on a large archive: first answer, idle CPU, save to painted page, adding an article, memory.

    python benchmarks/serve.py [--articles 2000] [--edits 12] [--idle 30] [--hugo]
    python benchmarks/serve.py --articles 100000 --limit-mib 2048   # the server inside a 2 GiB memory cgroup

On a copy of the gen_corpus.py corpus (benchmarks/run.py's cache, no photos, default configuration), starts
`sitegen serve` on a free port of 127.0.0.1 and measures:
- first answer: from the start of the process to the first HTTP answer on a site never previewed (a waiting
  page) and to the first page (the first build done), then again on the same site previewed before (stopped,
  one article edited meanwhile): first answer (the last preview, under a banner) and caught up;
- idle: CPU time (user + system, the server and its worker processes, /proc) over --idle seconds after it
  settled, with nobody editing;
- save to painted page: the article's title changed on disk, to headless Chromium (Debian's, through
  Playwright) painting the reloaded page with the new title (its first contentful paint, by the page's own
  clock); median and worst of --edits. Also shown: when this script saw the title by polling the page, which
  across a reload is 50-100 ms late (before 4 Dec 2026 that was the figure reported);
- adding an article: a new article file written, to its page being served (HTTP);
- peak memory: the largest summed PSS of the server and its workers, sampled every 0.1 s (run.PssSampler);
  with --limit-mib, sitegen's server runs in a memory cgroup of that size (as memory.py: going over means the
  kernel kills it, and the run fails), whose own peak and OOM kills are reported too.
With --hugo, the same for `hugo server` on the same corpus (../shared/bench/peers, dates converted for Hugo).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datetime as dt

from run import ROOT, SHARED, PssSampler, _tree, child_env, corpus  # noqa: E402  (same corpus cache as run.py)
from memory import cgroup_report, make_cgroup  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def cpu_seconds(pid: int) -> float:
    """CPU time so far of a process (with its ended children) and of its running descendants."""
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15 if p == pid else 13]) / TICK
    return total


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def body(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode("utf-8", "replace")
    except OSError:
        return ""


def wait(predicate, timeout: float, what: str, step: float = 0.02, server: "Server | None" = None):
    """Until `predicate()` is true; the run ends if it times out, or if `server` stops (killed by the cgroup)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        if server is not None and server.proc is not None and server.proc.poll() is not None:
            sys.exit(f"the server stopped (exit status {server.proc.returncode}) while waiting for {what}")
        time.sleep(step)
    sys.exit(f"timed out ({timeout:.0f} s) waiting for {what}")


def settle(pid: int, quiet: float = 3.0, timeout: float = 1200) -> None:
    """Until the server used under 2 % of a core for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(quiet)
        if cpu_seconds(pid) - before < 0.02 * quiet:
            return
    sys.exit("the server never settled")


class Server:
    """One preview server (sitegen's or Hugo's) on a site, and how to reach an article of it."""

    def __init__(self, name: str, cmd: list[str], base: str, log: Path, env: dict | None = None):
        self.name, self.cmd, self.base, self.log_path, self.env = name, cmd, base, log, env
        self.proc: subprocess.Popen | None = None
        self.sampler: PssSampler | None = None
        self.peak_mib = 0.0

    def start(self) -> float:
        self.log = open(self.log_path, "a", encoding="utf-8")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=child_env(self.env))
        self.sampler = PssSampler(self.proc.pid)
        self.sampler.start()
        return self.started

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.sampler.stop()
        self.peak_mib = max(self.peak_mib, self.sampler.peak_kib / 1024)
        self.log.close()
        self.proc = None

    def lines(self, pattern: str) -> list[str]:
        return [ln.strip() for ln in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                if re.search(pattern, ln)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_title(path: Path, title: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"^title: .*$", f'title: "{title}"', text, count=1, flags=re.M), encoding="utf-8")


# The reloaded page's own clock: when its navigation started, and when Chromium first painted its content.
PAINT_TIMING = ("() => ({origin: performance.timeOrigin, fcp: (performance.getEntriesByName("
                "'first-contentful-paint')[0] || {}).startTime})")


def painted_edits(server: Server, url: str, target: Path, edits: int) -> tuple[list[float], list[float], list[float]]:
    """For each title change on disk: milliseconds to Chromium painting the reloaded page that shows it (the
    page's first contentful paint, by the browser's own paint timing; the same clock as the save's), the server's
    CPU milliseconds (less swayed than wall time by other work on a shared machine), and milliseconds until this
    script saw the new title by polling the page. Polling across a reload is late by the time Playwright takes
    to find the new document (50-100 ms here), so the paint timing is the figure; the poll is kept to show it."""
    from playwright.sync_api import sync_playwright

    times, cpu, seen = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("() => document.querySelector('h1') !== null")
        time.sleep(1)  # the reload script connects its websocket
        for i in range(edits):
            title = f"Tiêu đề thử số {i} lúc {time.time():.0f}"
            time.sleep(0.5)
            started, saved, used = time.monotonic(), time.time() * 1000, cpu_seconds(server.proc.pid)
            set_title(target, title)
            page.wait_for_function(f"() => document.querySelector('h1') && "
                                   f"document.querySelector('h1').textContent.trim() === {title!r}",
                                   timeout=120_000, polling=5)
            seen.append((time.monotonic() - started) * 1000)
            cpu.append((cpu_seconds(server.proc.pid) - used) * 1000)
            paint = page.evaluate(PAINT_TIMING)
            times.append(paint["origin"] + paint["fcp"] - saved if paint.get("fcp") else seen[-1])
        browser.close()
    return times, cpu, seen


def added(server: Server, content: Path, url_of, seconds: bool = False) -> float:
    """Seconds from a new article appearing under content/ (its folder moved in whole, as a file manager or
    `git pull` does) to its page being served. A copy of the first article with another title, slug and a
    date of yesterday (as run.add_one; Hugo needs seconds in the date)."""
    n = len(list(content.glob("thoi-su/bai-moi/*")))
    when = (dt.datetime.now() - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M" + (":00" if seconds else ""))
    model = sorted((content / "thoi-su").rglob("index.md"))[0].read_text(encoding="utf-8")  # its category: thoi-su
    text = re.sub(r"^date: .*$", f'date: "{when}"', re.sub(r"^title: .*$", f'title: "Bài mới thêm số {n}"', model,
                                                         count=1, flags=re.M), count=1, flags=re.M)
    staging = content.parent / f"bai-moi-them-{n}"
    staging.mkdir()
    (staging / "index.md").write_text(text, encoding="utf-8")
    if not (content / "thoi-su" / "bai-moi").is_dir():
        (content / "thoi-su" / "bai-moi").mkdir(parents=True)
        time.sleep(2)  # Hugo's server misses a page whose parent folder appeared in the same moment
        settle(server.proc.pid)  # and the rebuild for that folder is not the one timed
    final = content / "thoi-su" / "bai-moi" / staging.name
    started = time.monotonic()
    os.rename(staging, final)
    # (Long: short of memory, the preview builds an addition apart, minutes at 100 000 articles; timed as it is.)
    wait(lambda: status(url_of(final / "index.md")) == 200, 1800, "the added article", step=0.05)
    return time.monotonic() - started


def idle_cpu(server: Server, seconds: float) -> float:
    settle(server.proc.pid)
    before = cpu_seconds(server.proc.pid)
    time.sleep(seconds)
    return cpu_seconds(server.proc.pid) - before


def bench_sitegen(site: Path, args, work: Path) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "sitegen", "serve", "--source", str(site), "--port", str(port)]
    made = make_cgroup(args.limit_mib << 20) if args.limit_mib else None
    if made:  # the shell joins the cgroup, then becomes the server: its workers and Pagefind stay confined
        cmd = ["sh", "-c", f'echo $$ > "{made[0]}/cgroup.procs" && exec "$@"', "sh", *cmd]
    elif args.limit_mib:
        print(f"no memory cgroup could be made here: the {args.limit_mib} MiB limit is not enforced")
    server = Server("sitegen serve", cmd, base, work / "sitegen.log", {"PYTHONPATH": str(ROOT)})
    url_of = lambda f: f"{base}/{f.parent.parts[-3]}/{f.parent.name}/"  # noqa: E731  /category/slug/
    articles = sorted((site / "content").rglob("index.md"))
    target = articles[len(articles) // 2]
    out: dict = {}
    t0 = server.start()
    try:
        wait(lambda: status(base + "/"), 600, "the first answer", server=server)
        out["first answer (never previewed)"] = time.monotonic() - t0
        wait(lambda: status(base + "/") == 200, 3600, "the first build", step=0.1, server=server)
        out["first page (never previewed)"] = time.monotonic() - t0
        out["idle CPU"] = idle_cpu(server, args.idle)
        out["painted"], out["edit CPU"], out["seen"] = painted_edits(server, url_of(target), target, args.edits)
        try:
            out["added"] = added(server, site / "content", url_of)
        except SystemExit as failed:  # (not served: the run goes on, so that the restart below is measured too)
            out["added"], out["added failed"] = None, str(failed.code)
        out["rebuilds"] = server.lines(r"Đã dựng lại|Tải lại trình duyệt|tiến trình riêng|không xong")[
            -(2 * args.edits + 6):]
    finally:
        server.stop()
    set_title(target, "Sửa khi bản xem trước tắt")
    said = r"Đã dựng lại|tiến trình riêng|không xong"
    earlier = len(server.lines(said))  # (the log goes on in the same file)
    t0 = server.start()
    try:
        wait(lambda: status(url_of(target)) == 200, 600, "the first answer (previewed before)", server=server)
        out["first answer (previewed before)"] = time.monotonic() - t0
        wait(lambda: "Sửa khi bản xem trước tắt" in body(url_of(target)), 3600, "catching up", step=0.1, server=server)
        out["caught up (previewed before)"] = time.monotonic() - t0
    finally:
        out["restart lines"] = server.lines(said)[earlier:][:6]
        server.stop()
    out["peak MiB"] = server.peak_mib
    out["lost"] = server.lines("mất sự kiện tệp|Inotify queue overflowed")
    if made:
        peak, kills = cgroup_report(*made)
        out["cgroup"] = f"memory cgroup limit {args.limit_mib} MiB: its peak {peak >> 20} MiB, processes OOM-killed: {kills}"
        for _ in range(100):  # (a build process the server ended may take a moment to leave the cgroup)
            try:
                made[0].rmdir()
                break
            except OSError:
                time.sleep(0.1)
        else:
            print(f"(the cgroup {made[0]} is still in use: left in place)")
    return out


def bench_hugo(src: Path, args, work: Path) -> dict:
    hugo_dir = work / "hugo"
    subprocess.run(["sh", str(SHARED / "peers" / "hugo" / "build.sh"), "setup", str(hugo_dir), str(src)], check=True,
                   capture_output=True)
    content = Path((hugo_dir / "corpus").read_text().strip()) / "content"
    binary = next(Path(os.environ.get("PEERS_HOME", Path.home() / ".cache" / "sitegen-peers")).glob(
        "hugo/lib/python3*/site-packages/hugo/binaries/hugo"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Server("hugo server", [str(binary), "server", "--source", str(hugo_dir / "site"), "--contentDir",
                                    str(content), "--port", str(port), "--bind", "127.0.0.1", "--baseURL", base + "/",
                                    "--cacheDir", str(hugo_dir / "cache"), "--appendPort=false"],
                    base, work / "hugo.log")
    url_of = lambda f: base + "/" + f.parent.relative_to(content).as_posix() + "/"  # noqa: E731
    articles = sorted(content.rglob("index.md"))
    target = articles[len(articles) // 2]
    out: dict = {}
    t0 = server.start()
    try:
        wait(lambda: status(base + "/") == 200, 3600, "hugo's first answer", step=0.05)
        out["first page (never previewed)"] = time.monotonic() - t0
        out["idle CPU"] = idle_cpu(server, args.idle)
        out["painted"], out["edit CPU"], out["seen"] = painted_edits(server, url_of(target), target, args.edits)
        out["added"] = added(server, content, url_of, seconds=True)
    finally:
        server.stop()
    out["peak MiB"] = server.peak_mib
    return out


def report(name: str, n: int, r: dict, idle: float) -> None:
    print(f"\n{name}, {n} articles, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}:")
    for key in ("first answer (never previewed)", "first page (never previewed)", "first answer (previewed before)",
                "caught up (previewed before)"):
        if key in r:
            print(f"  {key}: {r[key]:.1f} s")
    print(f"  idle CPU over {idle:.0f} s after settling: {r['idle CPU']:.2f} s ({100 * r['idle CPU'] / idle:.1f} %)")
    t = r["painted"]
    print(f"  save -> painted page ({len(t)} title edits): median {statistics.median(t):.0f} ms, worst {max(t):.0f} ms "
          f"(each: {', '.join(f'{x:.0f}' for x in t)})")
    if r.get("seen"):
        s = r["seen"]
        print(f"  save -> seen by polling the page: median {statistics.median(s):.0f} ms, worst {max(s):.0f} ms")
    c = r["edit CPU"]
    print(f"  server CPU per save: median {statistics.median(c):.0f} ms, worst {max(c):.0f} ms")
    if r["added"] is None:
        print(f"  new article -> served: NOT SERVED ({r.get('added failed')})")
    else:
        print(f"  new article -> served: {r['added']:.2f} s")
    print(f"  peak memory (PSS, with workers): {r['peak MiB']:.0f} MiB")
    if r.get("cgroup"):
        print("  " + r["cgroup"])
    for ln in r.get("lost", []):
        print("  LOST EVENTS: " + ln)
    for ln in r.get("restart lines", []):
        print("  restarted: " + ln)
    if r.get("rebuilds"):
        print("  server's own lines (last edits):")
        for ln in r["rebuilds"][-8:]:
            print("    " + ln)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--edits", type=int, default=12)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement (default 30)")
    ap.add_argument("--hugo", action="store_true", help="also measure `hugo server` on the same corpus")
    ap.add_argument("--no-sitegen", action="store_true", help="skip sitegen (with --hugo)")
    ap.add_argument("--limit-mib", type=int, default=0, help="run sitegen's server in a memory cgroup of this size")
    args = ap.parse_args()
    src = corpus(args.articles)
    with tempfile.TemporaryDirectory(prefix="sitegen-serve-bench-") as tmp:
        work = Path(tmp)
        if not args.no_sitegen:
            site = work / "site"
            shutil.copytree(src, site, ignore=shutil.ignore_patterns(".sitegen", "public", ".public*"))
            report("sitegen serve", args.articles, bench_sitegen(site, args, work), args.idle)
        if args.hugo:
            report("hugo server", args.articles, bench_hugo(src, args, work), args.idle)


if __name__ == "__main__":
    main()
