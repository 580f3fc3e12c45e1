"""Run the independent parts of a build (parsing files, Markdown, rendering pages) on every core.

Workers are forked from the build process, so they inherit the site model read-only instead of receiving it
pickled; only slice bounds go in and plain results come back. Small jobs run in-process: forking costs more
than it saves below a few hundred items.
"""

from __future__ import annotations

import gc
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
    results: dict[int, R] = {}
    stream(task, count, jobs, lambda start, r: results.__setitem__(start, r), min_per_job, progress=progress)
    return [results[start] for start in sorted(results)]


def stream(task: Callable[[int, int], R], count: int, jobs: int, consume: Callable[[int, R], None],
           min_per_job: int = 150, max_per_slice: int | None = None,
           progress: Callable[[int], None] | None = None) -> None:
    """Like `run`, but each slice's result goes to `consume(start, result)` in this process as soon as it is
    done (in completion order) and is not kept: with `max_per_slice`, memory holds a few slices' results,
    never the whole build's."""
    bounds = slices(count, jobs, min_per_job, max_per_slice)
    if len(bounds) <= 1 or jobs <= 1 or count < 2 * min_per_job or not _can_fork():
        for b in bounds:
            consume(b[0], task(*b))
            if progress is not None:
                progress(b[1] - b[0])
        return
    ctx = multiprocessing.get_context("fork")
    gc.freeze()  # objects made so far stay out of the collector: workers then do not copy them by touching them
    try:
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(task,)) as pool:
            futures = {pool.submit(_call, b): b for b in bounds}
            for done in as_completed(futures):
                b = futures.pop(done)
                consume(b[0], done.result())
                if progress is not None:
                    progress(b[1] - b[0])
    finally:
        gc.unfreeze()


def slices(count: int, jobs: int, min_per_job: int = 150, max_per_slice: int | None = None) -> list[tuple[int, int]]:
    """How `run` cuts [0, count): one slice when it runs in-process, else several per worker for balance;
    never more than `max_per_slice` items in one."""
    if count == 0:
        return []
    if jobs <= 1 or count < 2 * min_per_job or not _can_fork():
        pieces = 1
    else:
        pieces = min(jobs * 4, max(jobs, count // min_per_job))
    if max_per_slice:
        pieces = max(pieces, -(-count // max_per_slice))
    return [(count * i // pieces, count * (i + 1) // pieces) for i in range(pieces)]


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _init(task: Callable[[int, int], object]) -> None:
    global _TASK
    _TASK = task


def _call(bounds: tuple[int, int]) -> object:
    assert _TASK is not None
    return _TASK(*bounds)
