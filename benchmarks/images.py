#!/usr/bin/env python3
"""Image benchmark: sitegen's photo stage beside a plain Pillow loop doing the same work, as a ratio.

    python benchmarks/images.py                        # 200 distinct photos, cold and warm; 1 000 photos warm
    python benchmarks/images.py --photos 400 --procs 2

Generates a corpus with ../shared/bench/gen_corpus.py (4 photos per article, every photo distinct bytes, so the
content-addressed cache cannot share work), then times, in this process, sitegen's image stage (photos.plan:
hash and probe every photo; photos.produce: decode, resize, encode into the cache) with an empty cache (cold)
and again with the cache full (warm), and ../shared/bench/pillow_baseline.py with the same widths, quality and
number of processes. Both write 3 widths x (JPEG + WebP) per photo; sitegen also applies EXIF orientation,
strips metadata, writes progressive JPEGs and a 1200x630 social card for each article's featured photo (one
photo in four here), work the plain loop does not do. A second corpus of --warm-photos photos (made from 40
distinct images) measures the warm stage at scale: after one cold run, nothing is left to decode.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(ROOT))

from sitegen import config as config_mod
from sitegen.content import model, read
from sitegen.structure import photos, routes  # noqa: E402
from sitegen.diagnostics import Reporter  # noqa: E402

PER_ARTICLE = 4


def make_corpus(out: Path, n_photos: int, pool: int) -> None:
    articles = max(1, n_photos // PER_ARTICLE)
    subprocess.run([sys.executable, str(SHARED / "gen_corpus.py"), str(out), "--articles", str(articles),
                    "--photos-per-article", str(PER_ARTICLE), "--image-pool", str(pool), "--seed", "1", "--force"],
                   check=True, stderr=subprocess.DEVNULL)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: unlike wall time, other work on the machine does
    not change it, so it measures the per-core cost."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def image_stage(site: Path, widths: tuple[int, ...], quality: int, procs: int) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, photo uses, photos decoded) of sitegen's photo stage on a loaded site."""
    cfg = config_mod.load(site)
    cfg = type(cfg)(**{**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__}, "image_widths": widths,
                       "image_quality": quality})
    report = Reporter()
    docs = [f.value for f in read.load_all(cfg.root, cfg.content_dir, cfg.max_file_bytes, report)]
    site_model = model.build_site(docs, cfg, report)
    pages = routes.plan(site_model, report)
    urls = [p.url for p in sorted((p for p in pages if p.kind == "article"), key=lambda p: p.data["index"])]
    t0, c0 = time.perf_counter(), cpu_seconds()
    plan = photos.plan(site_model.articles, urls, cfg, report)
    done = photos.produce(plan, cfg, report, workers=procs)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    if report.diagnostics:
        sys.exit("\n".join(d.format() for d in report.diagnostics[:10]))
    uses = sum(len(m) for m in done.infos)
    return seconds, cpu, uses, done.processed


def baseline(site: Path, procs: int, widths: tuple[int, ...], quality: int) -> tuple[float, float]:
    out = Path(tempfile.mkdtemp(prefix="pillow-out-"))
    try:
        t0, c0 = time.perf_counter(), cpu_seconds()
        subprocess.run([sys.executable, str(SHARED / "pillow_baseline.py"), str(site / "content"), str(out),
                        "--procs", str(procs), "--widths", ",".join(map(str, widths)), "--quality", str(quality)],
                       check=True, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0, cpu_seconds() - c0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=200, help="distinct photos for the cold comparison")
    ap.add_argument("--warm-photos", type=int, default=1000, help="photos in the warm-at-scale corpus (0: skip)")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--widths", default="480,960,1600")
    ap.add_argument("--quality", type=int, default=75)
    ap.add_argument("--workdir", type=Path, help="keep corpora here between runs (default: a temp folder)")
    a = ap.parse_args()
    widths = tuple(int(w) for w in a.widths.split(","))
    work = a.workdir or Path(tempfile.mkdtemp(prefix="sitegen-img-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        site = work / f"distinct-{a.photos}"
        if not (site / "content").is_dir():
            make_corpus(site, a.photos, a.photos)
        shutil.rmtree(site / ".sitegen", ignore_errors=True)
        cold, cold_cpu, uses, decoded = image_stage(site, widths, a.quality, a.procs)
        warm, _, _, again = image_stage(site, widths, a.quality, a.procs)
        base, base_cpu = baseline(site, a.procs, widths, a.quality)
        print(f"photos: {uses} distinct, widths {a.widths}, quality {a.quality}, {a.procs} process(es), "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        print(f"sitegen cold : {cold:7.2f} s wall {uses / cold:6.1f} photos/s | {cold_cpu:7.2f} s CPU "
              f"{uses / cold_cpu:5.2f} photos/s per core  ({decoded} decoded)")
        print(f"pillow loop  : {base:7.2f} s wall {uses / base:6.1f} photos/s | {base_cpu:7.2f} s CPU "
              f"{uses / base_cpu:5.2f} photos/s per core")
        print(f"ratio        : {cold / base:7.2f}x wall, {cold_cpu / base_cpu:.2f}x CPU per photo "
              f"(sitegen / plain loop; target <= 1.2x per core)")
        print(f"sitegen warm : {warm:7.3f} s  ({again} decoded)")
        if a.warm_photos:
            big = work / f"shared-{a.warm_photos}"
            if not (big / "content").is_dir():
                make_corpus(big, a.warm_photos, 40)
            image_stage(big, widths, a.quality, a.procs)  # fills the cache (40 distinct photos)
            warm_big, _, uses_big, again_big = image_stage(big, widths, a.quality, a.procs)
            print(f"warm at scale: {warm_big:7.3f} s for {uses_big} photos ({again_big} decoded)")
    finally:
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
