#!/usr/bin/env python3
"""The preview's own process, in-process: resident memory and time of its first build and of the saves after it.

    python benchmarks/preview_memory.py [--articles 10000] [--saves 6]

On a copy of the gen_corpus.py corpus (run.py's cache, no photos, default configuration), once for each way a
preview can make its first build, each in a fresh Python process (this script run again with --one):
- `here`: in the preview's own process (as before 4 Dec 2026; still what a preview does when the build process
  gives no answer);
- `apart`: in a process of its own (preview/apart.py), then the preview reads ahead what saves read while the editor
  pauses (Preview.warm_up), as `sitegen serve` does;
- `apart-cold`: the same without reading ahead, so the first save reads it;
- `apart-short`: as `apart` on a machine short of memory (workers.free_memory made to answer 0): the tables only a
  build of the whole model reads whole stay in the cache file (cache.BULK), and the addition runs apart too.
Each then readies its spare tree (as `sitegen serve` does when the editor pauses), saves --saves title edits,
one article each, as the watcher reports them, and adds one article (run.add_one). Printed: resident memory
(VmRSS) after the first build, after the reading ahead, after each save, when a build apart starts (what the
preview kept after letting go of its model), after the addition, and at the end after gc and malloc_trim; the
time of each step.
`benchmarks/serve.py` measures the same server end to end (HTTP, browser, PSS with workers); this shows what
the preview's own process holds, which serve.py's peak hides under the build's.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, add_one, child_env, corpus  # noqa: E402  (same corpus cache as run.py)

MODES = ("here", "apart", "apart-cold", "apart-short")


def resident_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def one(site: Path, mode: str, saves: int) -> None:
    """Runs in its own process: one preview, its first build the `mode` way, then the saves."""
    sys.path.insert(0, str(ROOT))
    from sitegen.build import workers
    from sitegen.build.pipeline import Warm
    from sitegen.preview import server
    from sitegen.preview.server import Preview

    if mode == "apart-short":
        workers.free_memory = lambda: 0
    apart = server.build_apart

    def build_apart(*args, **kwargs):
        print(f"  {'(a build apart starts)':<34} {'':>12}  {resident_mb():6d} MB", flush=True)
        return apart(*args, **kwargs)

    server.build_apart = build_apart

    said: list[str] = []
    preview = Preview(site, site / ".sitegen" / "preview", log=said.append,
                      warm=Warm(cache_dir=site / ".sitegen" / "preview-cache"))
    preview.apart_failed = mode == "here"  # (what a preview does when the build process gives no answer)
    never = lambda: False  # noqa: E731  (nobody saves meanwhile)

    def step(what: str, call) -> None:
        before, started = len(said), time.perf_counter()
        ok = call()
        ms = (time.perf_counter() - started) * 1000
        preview.settle()
        line = said[-1] if len(said) > before else ""
        print(f"  {what:<34} {ms:9.0f} ms  {resident_mb():6d} MB  {'' if ok else 'FAILED '}{line}", flush=True)

    step("first build", lambda: preview.rebuild(" lần đầu"))
    step("spare readied", lambda: preview.ready_spare(never))
    if mode in ("apart", "apart-short"):
        step("reading ahead", lambda: preview.warm_up(never))
    files = sorted((site / "content").rglob("index.md"))
    for n in range(saves):
        target = files[(n * 997 + 5) % len(files)]
        target.write_text(target.read_text(encoding="utf-8").replace('title: "', f'title: "Sửa {n} ', 1),
                          encoding="utf-8")
        step(f"save {n + 1}", lambda: preview.rebuild(f" ({target.name})", changed=[str(target)]))
    add_one(site)
    added = max((site / "content" / "thoi-su" / "bai-moi").glob("bai-moi-them-*"), key=lambda f: f.stat().st_mtime)
    step("addition", lambda: preview.rebuild(" (bài mới)", changed=[str(added), str(added / "index.md")]))
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    print(f"  {'end, after gc and malloc_trim':<34} {'':>12}  {resident_mb():6d} MB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--saves", type=int, default=6)
    ap.add_argument("--modes", default=",".join(MODES), help="which of here, apart, apart-cold, apart-short (default: all)")
    ap.add_argument("--one", nargs=2, metavar=("SITE", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(Path(args.one[0]), args.one[1], args.saves)
        return
    src = corpus(args.articles)
    env = child_env()
    print(f"preview's own process, {args.articles} articles, default configuration:", flush=True)
    for mode in args.modes.split(","):
        with tempfile.TemporaryDirectory(prefix="sitegen-preview-memory-") as tmp:
            site = Path(tmp) / "site"
            shutil.copytree(src, site, ignore=shutil.ignore_patterns(".sitegen", "public", ".public*"))
            print(f"{mode}:", flush=True)
            subprocess.run([sys.executable, __file__, "--saves", str(args.saves), "--one", str(site), mode],
                           env=env, check=True)


if __name__ == "__main__":
    main()
