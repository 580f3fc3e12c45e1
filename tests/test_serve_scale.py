"""The live preview on a site with more files than the kernel's inotify queue holds (issue 18): it settles,
stays idle with nobody editing, loses no change when the kernel drops events, and shows the next save.

The queue limit (fs.inotify.max_queued_events, 16 384 events by default) is lowered to 16 while the preview
creates its inotify instance, where the machine allows it (the kernel reads the limit then; it is put back
right after, so other programs on the machine keep the usual one). Where it cannot be lowered, the site gets
more articles than the queue holds instead (slow: a few minutes)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, article, fetch, free_port, interrupt, wait_for

QUEUE = Path("/proc/sys/fs/inotify/max_queued_events")
SMALL_QUEUE = 16
IDLE = 5.0  # seconds of nobody editing over which the CPU time is measured
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, from /proc/PID/stat) used so far by a process, its children that ended and
    those still running: the build renders in worker processes."""
    total, todo = 0.0, [(pid, True)]
    while todo:
        p, top = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [(int(c), False) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except (OSError, ValueError):
            continue
        total += sum(int(f) for f in fields[11:15 if top else 13]) / TICK  # utime stime (cutime cstime)
    return total


def lower_queue() -> int | None:
    """Lower the queue limit for inotify instances created from now; the old limit, or None where not allowed."""
    try:
        old = int(QUEUE.read_text())
        QUEUE.write_text(str(SMALL_QUEUE))
        return old
    except (OSError, ValueError):
        return None


def title_of(base: str, slug: str) -> str:
    status, body = fetch(f"{base}/thoi-su/{slug}/")
    m = re.search(r'<h1 class="article-title"[^>]*>([^<]*)<', body)
    return m.group(1) if status == 200 and m else f"HTTP {status}"


def rebuilds(log: Path) -> list[str]:
    return [ln for ln in log.read_text(encoding="utf-8").splitlines() if ln.startswith(("Đã dựng lại", "Lỗi"))]


def settle(pid: int, log: Path, quiet: float = 1.5, timeout: float = 300) -> int:
    """Wait until the preview has used (almost) no CPU and logged no rebuild for `quiet` seconds (a rebuild
    logs its line only when done); the number of rebuilds so far."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count, cpu = len(rebuilds(log)), cpu_seconds(pid)
        time.sleep(quiet)
        if len(rebuilds(log)) == count and cpu_seconds(pid) - cpu < 0.05 * quiet:
            return count
    raise AssertionError(f"the preview never settled: {rebuilds(log)[-5:]}")


def assert_idle(pid: int, log: Path) -> None:
    before, built = cpu_seconds(pid), len(rebuilds(log))
    time.sleep(IDLE)
    used = cpu_seconds(pid) - before
    assert used < 0.05 * IDLE, f"{used:.2f} s of CPU in {IDLE} s with nobody editing"
    assert len(rebuilds(log)) == built, rebuilds(log)[built:]


def rewrite(path: Path, text: str) -> None:
    """Save as many editors (and git) do: a temporary file renamed over the old one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def test_more_files_than_the_event_queue_settles_stays_idle_and_shows_saves(site):
    old_limit = lower_queue()
    count = 400 if old_limit is not None else int(QUEUE.read_text()) + 500
    try:
        for i in range(count):
            site.write(f"content/thoi-su/bai-{i}/index.md", article(f"Bài số {i}", date=f"2024-03-{1 + i % 28:02d} 08:00"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = site.root.parent / "serve.log"
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen([sys.executable, "-m", "sitegen", "serve", "--source", str(site.root),
                                     "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            wait_for(lambda: fetch(base + "/")[0], timeout=30, what="the first answer")  # its inotify instance exists
        finally:
            if old_limit is not None:
                QUEUE.write_text(str(old_limit))
    except BaseException:
        if old_limit is not None:
            QUEUE.write_text(str(old_limit))
        raise
    try:
        wait_for(lambda: rebuilds(log), timeout=300, what="the first build")
        # Settles: the build's own reading of every file is no event (before, it overflowed the queue, and the
        # overflow started another build, which read every file again, without end).
        first = settle(proc.pid, log)
        assert first == 1, rebuilds(log)
        assert title_of(base, f"bai-{count - 1}") == f"Bài số {count - 1}"
        assert_idle(proc.pid, log)

        # Every file rewritten at once, as a `git pull` would: far more events than the queue holds. None of the
        # changes may be lost, and the overflow must cost one walk, not a storm of rebuilds.
        for attempt in range(3):
            for i in range(count):
                rewrite(site.root / f"content/thoi-su/bai-{i}/index.md",
                        article(f"Bài số {i}, lần sửa {attempt}", date=f"2024-03-{1 + i % 28:02d} 08:00"))
            done = settle(proc.pid, log)
            if "Hệ điều hành báo mất sự kiện tệp" in log.read_text(encoding="utf-8"):
                break
        served = log.read_text(encoding="utf-8")
        assert served.count("Hệ điều hành báo mất sự kiện tệp") == 1, served
        assert "Inotify queue overflowed" not in served  # watchdog's own lines: one per watched folder, each time
        assert done - first <= 3 * (attempt + 1), rebuilds(log)[first:]
        wrong = [i for i in range(count) if title_of(base, f"bai-{i}") != f"Bài số {i}, lần sửa {attempt}"]
        assert wrong == [], f"{len(wrong)} changes lost, e.g. bai-{wrong[0]}: {title_of(base, f'bai-{wrong[0]}')}"
        assert_idle(proc.pid, log)

        # And the next save shows, within a moment.
        started = time.monotonic()
        rewrite(site.root / "content/thoi-su/bai-7/index.md", article("Bài số 7 sau khi mất sự kiện", date="2024-03-08 08:00"))
        wait_for(lambda: title_of(base, "bai-7") == "Bài số 7 sau khi mất sự kiện", timeout=30, what="the save")
        assert time.monotonic() - started < 10
        assert proc.poll() is None
    finally:
        output = interrupt(proc) or ""
    served = log.read_text(encoding="utf-8") + output
    assert "Traceback" not in served, served[-3000:]
