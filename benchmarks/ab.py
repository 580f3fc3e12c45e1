#!/usr/bin/env python3
"""Same-run A/B: two versions of sitegen on copies of one corpus, build by build in turn, as medians and ratios.

    python benchmarks/ab.py BASE [NEW] [--articles 10000] [--rounds 6] [--ops add,del,edit,none]

BASE and NEW are git revisions of this repository (NEW defaults to the working tree as it is). This machine's
speed moves by up to half within minutes, so figures from two runs do not compare; here each operation is
timed on A and at once on B (B first every other round), round after round, and only the medians of the same
run are set side by side.
Each version gets its own copy of the corpus (benchmarks/run.py's) with its own cache and output, built cold
and once more untimed before the rounds. Operations: `add` publishes a new article (run.add_one), `del`
takes the newest added down, `addp` publishes one with two photos of its own (run.add_photographed), `delp`
takes the newest of those down, `pub` publishes a draft (run.draft_one, built untimed before: run.publish_draft),
`redraft` saves such a draft again, still a draft (run.save_draft), `addh` adds one beside a draft held back for
a link to a page not written yet (run.draft_lacking), `edit` appends a sentence to one article, `none` changes nothing.
`cold` removes `public/` and `.sitegen/` first: a cold build, A and B in turn, so that two versions' cold builds
compare in one run (`ab.py 6bf5041 --ops cold --rounds 3`: today's against the code issue #14 was measured on).
`--links 0.3` makes 30 % of the articles end with a link to another (run.link_bodies), as a real archive's do.
Wall time and CPU (user and system, of the build and the processes it waited for) of `python -m sitegen build`,
unobserved as in run.measure. `search = false`, as run.py's comparable builds.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from run import (ROOT, add_one, add_photographed, child_env, corpus, delete_one, delete_photographed,  # noqa: E402
                 draft_lacking, draft_one, edit_one, photo_added, photo_first, photo_first_out, photo_into_draft,
                 link_bodies, publish_draft, publish_lacking, replace_photo, retag, save_draft)  # (the same corpus cache as run.py)

def cold(site: Path) -> None:
    """Nothing kept from the last build: its output and its cache go (the next build is a cold one)."""
    for part in ("public", ".sitegen"):
        shutil.rmtree(site / part, ignore_errors=True)


OPS = {"cold": cold, "add": add_one, "del": delete_one, "edit": edit_one, "none": lambda site: None,
       "addp": add_photographed, "delp": delete_photographed, "pub": publish_draft, "redraft": save_draft,
       "addh": add_one, "photo": replace_photo, "draft": draft_one, "dphoto": photo_into_draft,
       "pubh": publish_lacking, "addphoto": photo_added, "retag": retag, "loose": photo_first,
       "looseout": photo_first_out}
# What an operation needs first, built untimed before it: `pub` publishes a draft written (and built) before,
# `redraft` saves it again, still a draft; `addh` adds an article beside a draft held back (run.draft_lacking);
# `photo` replaces a photo of an article with photos of its own (run.add_photographed); `dphoto` drops a photo into
# a draft's folder; `draft` writes a new draft, as `sitegen new` does; `pubh` mends and publishes a draft held back;
# `addphoto` adds a photo to a published article with photos (run.photo_added); `retag` changes the tags of an
# article added (run.retag); `loose` drops a photo into a new folder before its article (run.photo_first), and
# `looseout` takes it out again (run.photo_first_out).
BEFORE = {"pub": draft_one, "redraft": draft_one, "addh": draft_lacking, "photo": add_photographed,
          "dphoto": draft_one, "pubh": draft_lacking, "addphoto": add_photographed, "retag": add_one,
          "looseout": photo_first}


def checkout(rev: str | None, where: Path) -> Path:
    """The code of `rev` (None: the working tree as it is) at `where`, compiled as an installed sitegen is."""
    if rev is None:
        for part in ("sitegen", "templates", "assets"):  # (the default theme is found beside the package)
            shutil.copytree(ROOT / part, where / part, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(where), rev], check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(where / "sitegen")], check=True)
    return where


def build(code: Path, site: Path, show: str = "") -> tuple[float, float]:
    """(wall, CPU) seconds of one `sitegen build` of `site` with the code at `code`; with `show`, its summary line
    is printed after it (what kind of build it was, and its stages' times)."""
    env = child_env({"PYTHONPATH": str(code)})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sitegen", "build", "--source", str(site)], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed ({code}):\n{done.stderr[-2000:]}")
    if show:
        print(f"{show} {wall:.3f} s:", (done.stdout.strip().splitlines() or [""])[-1], flush=True)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="git revision of A")
    ap.add_argument("new", nargs="?", help="git revision of B (default: the working tree)")
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--ops", default="add,del,edit,none")
    ap.add_argument("--show", action="store_true", help="print each timed build's summary line as it ends")
    ap.add_argument("--links", type=float, default=0.0, metavar="SHARE",
                    help="make this share of the articles link to another one (run.link_bodies; the corpus has none)")
    args = ap.parse_args()
    ops = args.ops.split(",")
    if unknown := [op for op in ops if op not in OPS]:
        sys.exit(f"unknown operations: {', '.join(unknown)} (known: {', '.join(OPS)})")
    src = corpus(args.articles)
    with tempfile.TemporaryDirectory(prefix="sitegen-ab-") as tmp:
        work = Path(tmp)
        sides = {}
        try:
            for name, rev in (("A", args.base), ("B", args.new)):
                code = checkout(rev, work / f"code-{name}")
                site = work / f"site-{name}"
                shutil.copytree(src / "content", site / "content")
                linked = link_bodies(site, args.links) if args.links else 0
                (site / "site.toml").write_text("search = false\n", encoding="utf-8")
                for _ in range(2):  # cold, then once more: the spare output tree filled (run.py's "first edit")
                    build(code, site)
                sides[name] = (code, site)
            results: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
            for round_ in range(args.rounds):
                for op in ops:
                    # (Who goes first changes every round: a build leaves writes for the disk to finish, and heat,
                    # that the one after it pays for.)
                    for name in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                        code, site = sides[name]
                        if op in BEFORE:
                            BEFORE[op](site)
                            time.sleep(0.3)
                            build(code, site)
                        OPS[op](site)
                        time.sleep(0.3)  # (file times settle: a racy one makes a build not remembered as skippable)
                        results[(op, name)].append(build(code, site, f"{op} {name}" if args.show else ""))
        finally:
            for name, (code, _) in sides.items():
                if args.new is not None or name == "A":
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(code)],
                                   capture_output=True)
    print(f"A = {args.base}, B = {args.new or 'working tree'}; {args.articles} articles"
          f"{f' ({linked} linking to another)' if args.links else ''}, {args.rounds} rounds, medians (min)")
    print(f"{'':6}{'A wall':>15}{'B wall':>15}{'B/A':>7}{'A cpu':>9}{'B cpu':>9}{'B/A':>7}")
    for op in ops:
        (aw, ac), (bw, bc) = ([statistics.median(x[i] for x in results[(op, n)]) for i in (0, 1)] for n in "AB")
        amin, bmin = (min(x[0] for x in results[(op, n)]) for n in "AB")
        print(f"{op:<6}{aw:>8.3f} ({amin:.2f}){bw:>8.3f} ({bmin:.2f}){bw / aw:>7.2f}{ac:>9.3f}{bc:>9.3f}{bc / ac:>7.2f}")


if __name__ == "__main__":
    main()
