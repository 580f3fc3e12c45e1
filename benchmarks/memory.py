#!/usr/bin/env python3
"""Memory benchmark: does a very large archive build in a fixed amount of memory?

    python benchmarks/memory.py                        # 100 000 articles, 2 GiB
    python benchmarks/memory.py --articles 20000 --limit-mib 1024
    python benchmarks/memory.py --search               # the default configuration: the search index too
    python benchmarks/memory.py --settings             # site.toml changes that keep the cache, after the cold build

Builds the gen_corpus.py corpus (no photos, `search = false` unless --search) cold, then again with nothing changed, then twice
after a one-article edit, then after adding one article, retagging it and deleting it, all inside a memory cgroup limited to
--limit-mib when this machine lets us create one (Linux, cgroup v1 or v2, as root), so the kernel itself
enforces "a machine with 2 GB free": going over means the build is killed, not a number in a table. Prints
wall time, the peak summed PSS of the build's processes, the cgroup's own peak (which also counts the file
cache of the pages written, that the kernel reclaims under pressure) and whether the kernel killed anything.
Without a usable cgroup the build runs unconfined and the peak is reported as measured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import PssSampler, add_one, child_env, corpus, delete_one, edit_one, retag  # noqa: E402  (same corpus cache and measurement as run.py)


def make_cgroup(limit: int) -> tuple[Path, str] | None:
    """A fresh memory cgroup limited to `limit` bytes: (its folder, cgroup version), or None."""
    name = f"sitegen-bench-{os.getpid()}"
    v1 = Path("/sys/fs/cgroup/memory")
    v2 = Path("/sys/fs/cgroup")
    try:
        if v1.is_dir() and (v1 / "memory.limit_in_bytes").exists():
            group = v1 / name
            group.mkdir()
            (group / "memory.limit_in_bytes").write_text(str(limit))
            return group, "v1"
        if (v2 / "cgroup.controllers").exists() and "memory" in (v2 / "cgroup.controllers").read_text():
            group = v2 / name
            group.mkdir()
            (group / "memory.max").write_text(str(limit))
            (group / "memory.swap.max").write_text("0") if (group / "memory.swap.max").exists() else None
            return group, "v2"
    except OSError:
        return None
    return None


def cgroup_report(group: Path, version: str) -> tuple[int, int]:
    """(peak bytes as the cgroup counts them, processes the kernel OOM-killed)."""
    if version == "v1":
        peak = int((group / "memory.max_usage_in_bytes").read_text())
        oom = (group / "memory.oom_control").read_text()
        kills = next((int(line.split()[1]) for line in oom.splitlines() if line.startswith("oom_kill ")), 0)
    else:
        peak_file = group / "memory.peak"
        peak = int(peak_file.read_text()) if peak_file.exists() else 0
        events = (group / "memory.events").read_text()
        kills = next((int(line.split()[1]) for line in events.splitlines() if line.startswith("oom_kill ")), 0)
    return peak, kills


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--limit-mib", type=int, default=2048)
    ap.add_argument("--cold-only", action="store_true", help="skip the no-change and edit builds after it")
    ap.add_argument("--search", action="store_true", help="the default configuration, search index on")
    ap.add_argument("--settings", action="store_true",
                    help="after the cold build, site.toml changes instead of the edits: a [params] value no template "
                         "reads, then the copyright line every page shows (config.SHOWN: the cache is kept)")
    args = ap.parse_args()
    src = corpus(args.articles)
    with tempfile.TemporaryDirectory(prefix="sitegen-memory-") as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(src / "content", site / "content")
        (site / "site.toml").write_text(f"search = {'true' if args.search else 'false'}\n", encoding="utf-8")
        made = make_cgroup(args.limit_mib << 20)
        build = [sys.executable, "-m", "sitegen", "build", "--source", str(site)]
        if made:
            group, version = made
            # The shell joins the cgroup, then becomes the build: every process it forks stays confined.
            cmd = ["sh", "-c", f'echo $$ > "{group}/cgroup.procs" && exec "$@"', "sh", *build]
        else:
            cmd = build
        print(f"{args.articles} articles, search {'on' if args.search else 'off'}; {os.cpu_count()} cores")
        failed = False
        runs = [("cold build", None), ("no-change build", None), ("first edit after the cold build", edit_one),
                ("one-article edit", edit_one), ("adding one article", add_one), ("retagging it", retag),
                ("deleting one article", delete_one)]
        if args.settings:
            toml = (site / "site.toml").read_text(encoding="utf-8")
            runs = [runs[0], ("a [params] value no template reads", lambda site: (site / "site.toml").write_text(
                        toml + '[params]\nhotline = "0256 3822 222"\n', encoding="utf-8")),
                    ("the copyright line (every page shows it)", lambda site: (site / "site.toml").write_text(
                        'copyright = "© Báo Thử"\n' + toml, encoding="utf-8"))]
        for label, before in runs[: 1 if args.cold_only else None]:
            if before is not None:
                before(site)
            code, wall, peak, summary = run(cmd)
            print(f"{label}: exit code {code}; wall {wall:.1f} s; peak PSS of all build processes {peak:.0f} MiB")
            print("  sitegen:", *summary)
            failed = failed or code != 0
        if made:
            peak, kills = cgroup_report(group, version)
            print(f"memory cgroup ({version}) limit {args.limit_mib} MiB: its peak {peak >> 20} MiB "
                  f"(counts reclaimable file cache too); processes OOM-killed: {kills}")
            group.rmdir()
        else:
            print(f"no memory cgroup could be made here: the {args.limit_mib} MiB limit was not enforced")
        sys.exit(1 if failed else 0)


def run(cmd: list[str]) -> tuple[int, float, float, list[str]]:
    """Run one build; (exit code, wall seconds, peak summed PSS in MiB, its summary line)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=child_env())
    sampler = PssSampler(proc.pid)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.monotonic() - t0
    sampler.stop()
    return proc.returncode, wall, sampler.peak_kib / 1024, output.decode("utf-8", "replace").strip().splitlines()[-1:]


if __name__ == "__main__":
    main()
