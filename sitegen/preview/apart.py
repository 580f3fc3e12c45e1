"""A preview's build run as `sitegen build` runs, in a process of its own, into the preview's cache file, which the
preview then reads back as if it had saved it itself (pipeline.Warm.restore): its first build, when there is
nothing to start from (never previewed, or its saved cache unusable), and a later build of the whole model (an
addition, a template) when the memory free would not hold it beside what the preview holds (server.Preview's
`whole_here`). That process is the one the kernel ends if memory runs out all the same, not the preview.

Why apart: a build made in the preview's own process holds the site's model through the search stage, as a preview
must on its later builds (see stages.publish), and Pagefind's index of every shard beside it; that first build was
the preview's peak (3.2 GB at 100 000 articles, over the 2 GiB a province's server may give it). Built as `sitegen
build` builds, the model is let go of before Pagefind runs, and all of it goes when the process ends: the preview
then holds only the tables it reads back (at 10 000 articles 155 MB resident after that first build, against 251
MB built here; after six saves 230 MB against 268 MB: benchmarks/preview_memory.py). The cache is the one file
the preview keeps in .sitegen/preview-cache, in the same tables; only which of them it holds in memory differs
(cache.ON_DISK).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from .. import config as config_mod
from ..build.cache import adopt
from ..build.pipeline import build
from ..build.result import BuildResult
from ..diagnostics import BuildFailed


def preview_config(root: Path, output: Path) -> config_mod.SiteConfig:
    """The configuration a preview builds with: the site's, into `output`, and never the production collector (a
    preview's views, votes and test comments are not readers')."""
    return replace(config_mod.load(root, output), stats_url="")


class Failed(Exception):
    """The build process ended without a result (killed, out of memory, a bug): its exit status and last words."""


def build_apart(root: Path, output: Path, cache_dir: Path) -> tuple[BuildResult, int]:
    """Build the preview in a process of its own, into `cache_dir`: its result and the most memory it held (bytes;
    0 when unknown), or BuildFailed as `build` raises it (the same diagnostics). Raises Failed when the process
    gives no result."""
    package = str(Path(__file__).resolve().parent.parent.parent)  # the sitegen this preview runs, not another
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package, os.environ.get("PYTHONPATH", "")) if p)}
    with tempfile.TemporaryDirectory(prefix="sitegen-preview-") as tmp:
        answer = Path(tmp) / "result"
        proc = subprocess.Popen([sys.executable, "-m", "sitegen.preview.apart", str(root), str(output),
                                 str(cache_dir), str(answer), str(os.getpid())], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
        try:
            said = proc.stderr.read() if proc.stderr is not None else ""
            _, status, usage = os.wait4(proc.pid, 0)  # (not proc.wait: this one says how much memory it took)
        except BaseException:  # (Ctrl-C in the preview: the build goes with it, as it would with the preview)
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.stderr is not None:
            proc.stderr.close()
        if proc.returncode != 0 or not answer.is_file():
            last = (said.strip().splitlines() or [""])[-1]
            raise Failed(f"mã thoát {proc.returncode}" + (f": {last}" if last else "")
                         + (" (có thể máy hết bộ nhớ)" if proc.returncode in (-9, 137) else ""))
        kind, value = pickle.loads(answer.read_bytes())
    if kind == "failed":
        raise BuildFailed(value)
    return value, usage.ru_maxrss * 1024  # (kilobytes, on Linux)


def main(argv: list[str]) -> int:
    """The build process: build, name the cache file the preview's memory save, answer through a file."""
    root, output, cache_dir, answer, parent = Path(argv[0]), Path(argv[1]), Path(argv[2]), Path(argv[3]), int(argv[4])
    from ..build.workers import die_with

    die_with(parent)  # a preview stopped (even killed) takes its build with it
    try:  # out of memory, the kernel ends this build (the preview says so), not the editor's preview beside it
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass
    cfg = preview_config(root, output)
    try:
        result: tuple[str, object] = ("built", build(cfg, drafts=True, cache_dir=cache_dir))
        adopt(cache_dir, cfg.fingerprint)
    except BuildFailed as failed:
        result = ("failed", failed.diagnostics)
    answer.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
