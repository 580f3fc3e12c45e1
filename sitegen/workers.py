"""Run the independent parts of a build (parsing files, Markdown, rendering pages) on every core.

Workers are forked from the build process, so they inherit the site model read-only instead of receiving it
pickled; only slice bounds go in and plain results come back. Small jobs run in-process: forking costs more
than it saves below a few hundred items.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, TypeVar

R = TypeVar("R")

# The task of the pool this worker process belongs to. Set once per worker by `_init` right after the fork and
# never changed: the fork-inherited job description, not shared state (each worker has its own copy).
_TASK: Callable[[int, int], object] | None = None


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run(task: Callable[[int, int], R], count: int, jobs: int, min_per_job: int = 150,
        progress: Callable[[int], None] | None = None) -> list[R]:
    """task(start, stop) over [0, count) in slices; results in slice order. `progress(n)` is called in this
    process as each slice of n items finishes."""
    bounds = slices(count, jobs, min_per_job)
    if len(bounds) <= 1:
        results = [task(*b) for b in bounds]
        if progress is not None and count:
            progress(count)
        return results
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(task,)) as pool:
        futures = [pool.submit(_call, b) for b in bounds]
        if progress is not None:
            sizes = {f: b[1] - b[0] for f, b in zip(futures, bounds)}
            for done in as_completed(futures):
                progress(sizes[done])
        return [f.result() for f in futures]


def slices(count: int, jobs: int, min_per_job: int = 150) -> list[tuple[int, int]]:
    """How `run` cuts [0, count): one slice when it runs in-process, else several per worker for balance."""
    if count == 0:
        return []
    if jobs <= 1 or count < 2 * min_per_job or "fork" not in multiprocessing.get_all_start_methods():
        return [(0, count)]
    pieces = min(jobs * 4, max(jobs, count // min_per_job))
    return [(count * i // pieces, count * (i + 1) // pieces) for i in range(pieces)]


def _init(task: Callable[[int, int], object]) -> None:
    global _TASK
    _TASK = task


def _call(bounds: tuple[int, int]) -> object:
    assert _TASK is not None
    return _TASK(*bounds)
