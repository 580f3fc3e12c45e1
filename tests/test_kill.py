"""Atomic publish under SIGKILL: whatever moment a build dies, public/ is the old complete site or the new one.

What readers see: a build only ever writes the hidden twin of public/ (the spare tree), and on Linux
`Staging.publish()` swaps the twin and public/ with one renameat2(RENAME_EXCHANGE), so at every instant public/
is a complete directory — the previous site until the exchange, the new site after it; there is no moment
without public/. Where the exchange is unavailable (other kernels, some network filesystems) publish falls back
to renames; between the first two public/ is missing (a web server answers 404 for that instant) and, if the
build died right there, the next run's `recover()` puts a complete tree back first — the last test below
simulates exactly that crash.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, Site, article, leftovers, tree_snapshot
from sitegen.build import write

ARTICLES = 150
KILLS = 25
CATEGORIES = ["thoi-su", "kinh-te", "van-hoa-xa-hoi"]


def _write_version(site: Site, version: str) -> None:
    for i in range(ARTICLES):
        title = f"Tin số {i} về hội nghị tỉnh" + (" (cập nhật)" if version == "B" else "")
        body = f"Đoạn mở đầu của tin {i}.\n\n## Diễn biến\n\nNội dung {version} của tin {i}, " + "chữ " * 120
        site.write(f"content/{CATEGORIES[i % 3]}/tin-{i:03d}/index.md",
                   article(title, date=f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}", body=body,
                           tags=f'["chủ đề {i % 7}"]'))


def _start_build(site: Site) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "sitegen", "build", "--source", str(site.root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def _snapshot(folder: Path) -> dict[str, bytes]:
    """The published tree (tree_snapshot leaves out the marker, whose build token differs on every run)."""
    assert write.output_token(folder) not in ("", write.DIRTY), "public/ without its marker is not a complete build"
    snap = tree_snapshot(folder)
    snap.pop(write.MARKER, None)
    return snap


def _leftovers(site: Site) -> list[str]:
    """Temporary folders (staging, old trees); the spare twin of public/ is there by design."""
    return sorted(p.name for p in leftovers(site.root))


def test_sigkill_at_random_moments_leaves_old_or_new_site(tmp_path):
    site = Site(tmp_path / "site")
    _write_version(site, "A")
    assert site.cli("build").returncode == 0
    snaps = {"A": _snapshot(site.public)}
    _write_version(site, "B")
    assert site.cli("build").returncode == 0
    snaps["B"] = _snapshot(site.public)
    assert snaps["A"] != snaps["B"]
    _write_version(site, "A")  # a rebuild like the ones killed below (warm cache, spare tree): time it
    started = time.perf_counter()
    assert site.cli("build").returncode == 0
    typical = time.perf_counter() - started
    assert _snapshot(site.public) == snaps["A"]

    rng = random.Random(int(os.environ.get("SITEGEN_KILL_SEED", "20240329")))
    shown = "A"  # the version public/ holds
    outcomes = {"old": 0, "new": 0, "finished": 0}
    staging_seen = 0
    for kills in range(1, KILLS + 1):
        wanted = "A" if shown == "B" else "B"
        _write_version(site, wanted)  # content now differs from public/: a finished publish would flip it
        proc = _start_build(site)
        time.sleep(rng.uniform(0, typical * 1.3))
        proc.send_signal(signal.SIGKILL)
        code = proc.wait()
        assert site.public.is_dir(), f"kill {kills}: public/ missing"
        now = _snapshot(site.public)
        assert now in (snaps["A"], snaps["B"]), f"kill {kills}: public/ is neither the old nor the new site"
        state = "A" if now == snaps["A"] else "B"
        if code == 0:
            outcomes["finished"] += 1
        else:
            outcomes["new" if state == wanted else "old"] += 1
        staging_seen += bool(_leftovers(site))
        shown = state
    assert kills >= KILLS
    assert outcomes["old"] > 0, outcomes  # some kills really landed mid-build
    # A normal build afterwards succeeds, publishes the current content and removes what the kills left.
    result = site.cli("build")
    assert result.returncode == 0, result.stderr
    final = _snapshot(site.public)
    wrong = sorted(k for k in set(final) | set(snaps[wanted]) if final.get(k) != snaps[wanted].get(k))
    assert not wrong, f"after the kills, a full build published {len(wrong)} wrong files, e.g. {wrong[:5]}"
    assert _leftovers(site) == []
    deadline = time.monotonic() + 5
    while _processes_of(site) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _processes_of(site)
    assert left == [], f"workers of killed builds are still running: {_describe(left)}"
    print(f"kills={kills} outcomes={outcomes} staging_left_by_kill={staging_seen} typical_build={typical:.2f}s")


def _describe(pids: list[int]) -> list[str]:
    """What each process left running is (command line, state, parent), for the failure message."""
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")[:200]
            with open(f"/proc/{pid}/status") as fh:
                status = {k: v.strip() for k, _, v in (line.partition(":") for line in fh)}
            out.append(f"{pid} {status.get('State')} ppid={status.get('PPid')} {cmd}")
        except OSError:
            out.append(f"{pid} (gone)")
    return out


def _processes_of(site) -> list[int]:
    """Processes still running a build of this site (a killed build's forked workers must die with it)."""
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if str(site.root).encode() in fh.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_publish_swaps_in_one_step_on_linux(site):
    """The exchange is what removes the window; check it is actually used here (Linux, local filesystem)."""
    site.write("content/thoi-su/a/index.md", article("A"))
    site.build()
    stage = tmp = site.root / "x-staging"
    tmp.mkdir()
    (tmp / "f").write_text("new")
    other = site.root / "x-current"
    other.mkdir()
    (other / "f").write_text("old")
    if not write._exchange(stage, other):
        pytest.skip("renameat2(RENAME_EXCHANGE) unavailable: publish uses the two-rename fallback")
    assert (other / "f").read_text() == "new" and (stage / "f").read_text() == "old"


class _Crash(BaseException):
    """Stands for SIGKILL at one exact instruction (a real kill cannot be aimed between two renames)."""


def test_crash_between_the_two_fallback_renames_is_recovered(site, monkeypatch):
    site.write("content/thoi-su/a/index.md", article("Bản cũ"))
    site.build()
    before = _snapshot(site.public)
    site.write("content/thoi-su/a/index.md", article("Bản mới"))
    monkeypatch.setattr(write, "_exchange", lambda a, b: False)
    real_rename, calls = os.rename, []

    def rename(a, b):
        calls.append((Path(a).name, Path(b).name))
        if len(calls) == 2:  # public/ already moved aside, staging not yet moved in
            raise _Crash()
        real_rename(a, b)

    monkeypatch.setattr(write.os, "rename", rename)
    with pytest.raises(_Crash):
        site.build()
    monkeypatch.setattr(write.os, "rename", real_rename)
    # This is the instant readers would get a 404: public/ is gone, the previous site sits in .public.old-*.
    assert not site.public.exists()
    assert [n for n in _leftovers(site) if n.startswith(".public.old-")]
    write.recover(site.public)
    recovered = _snapshot(site.public)
    assert _leftovers(site) == []
    site.build()
    after = _snapshot(site.public)
    assert "Bản mới" in after["thoi-su/a/index.html"].decode("utf-8")
    # recover() may put back either complete tree (the old one, or the finished new one): never a mixture.
    assert recovered in (before, after)
