"""Run the independent parts of a build (parsing files, Markdown, rendering pages) on every core.

Workers are forked from the build process, so they inherit the site model read-only instead of receiving it
pickled; only slice bounds go in and plain results come back. Small jobs run in-process: forking costs more
than it saves below a few hundred items.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import pickle
import select
import signal
import sys
from typing import Callable, Generic, Iterable, Iterator, TypeVar

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
    if len(bounds) > 1 and jobs > 1:
        jobs = min(jobs, affordable_workers())
    if len(bounds) <= 1 or jobs <= 1 or count < 2 * min_per_job or not _can_fork():
        for b in bounds:
            consume(b[0], task(*b))
            if progress is not None:
                progress(b[1] - b[0])
        return
    # No more slices than workers (a few hundred items: an addition's listing pages): this process, which would
    # only wait, takes the first itself, and each other slice gets a process of its own (`Aside`).
    here = bounds[0] if len(bounds) <= jobs else None
    # Objects made so far stay out of the collector: workers then do not copy them by touching them. Let go of
    # after, unless objects were frozen before (gc.unfreeze cannot tell whose they are: the build's model, which
    # it lets go of itself, or a preview's, which it settles: pipeline.build, Preview.settle).
    owned = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        if here is not None:
            _apart(task, bounds, consume, progress)
            return
        import multiprocessing  # (here: a build that renders a few pages in this process never needs them)
        from concurrent.futures import ProcessPoolExecutor, as_completed
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(task, os.getpid())) as pool:
            futures = {pool.submit(_call, b): b for b in bounds}
            for done in as_completed(futures):
                b = futures.pop(done)
                consume(b[0], done.result())
                if progress is not None:
                    progress(b[1] - b[0])
    finally:
        if owned:
            gc.unfreeze()


def _apart(task: Callable[[int, int], R], bounds: list[tuple[int, int]], consume: Callable[[int, R], None],
           progress: Callable[[int], None] | None) -> None:
    """`stream` of one slice per worker: the first here, each other in a process forked for it alone (`Aside`),
    started before this one begins its own. A pool of workers took a twentieth of a second to start, longer
    than an addition's two slices took to render apart. A slice whose process gives no answer (it raised, or
    died) is made here, which meets whatever went wrong as a slice made here would."""
    others = [(b, Aside(functools.partial(_one, task, b))) for b in bounds[1:]]
    try:
        for b, aside in [(bounds[0], None), *others]:
            answer = aside.next() if aside is not None else None
            if aside is not None:
                aside.close(wait=False)  # (reaped below, once its answer is consumed: see Aside.close)
            result = answer[0] if isinstance(answer, tuple) else task(*b)
            consume(b[0], result)
            if progress is not None:
                progress(b[1] - b[0])
    finally:
        for _, aside in others:
            aside.close()


def _one(task: Callable[[int, int], R], bounds: tuple[int, int]) -> Iterator[tuple[R]]:
    """One slice's result, as `Aside`'s only answer (in a tuple: a slice may well answer None). The collector
    runs as in a pool's worker (Aside stops it): a slice of pages makes cycles (Jinja's contexts), and what the
    build process made before is frozen out of its sight (`stream`)."""
    gc.enable()
    yield (task(*bounds),)


class Aside:
    """`task()`'s answers, made in a forked process while this one goes on: `next()` waits for the next one, in the
    order the task yields them. None when there is none to be had: the task ended, raised or died, or
    never ran (no second core, no fork here), and the caller makes that answer itself, meeting whatever went wrong
    as it would have. Only for a task that uses no open connection or file of this process (a fork shares them),
    and writes nothing but what the caller may write again (a slice of pages, each file replaced whole: see
    `_apart`): its answers come back pickled, and only they. `close()` ends the process if it is still
    running (an answer not asked for) and reaps it. `started`: whether the process was made."""

    def __init__(self, task: Callable[[], Iterable[object]]):
        self._pid, self._answers = 0, None
        self.started = False
        if sys.platform != "linux" or default_jobs() < 2:
            return
        parent = os.getpid()
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # (no memory or process left for it)
            os.close(read_end)
            os.close(write_end)
            return
        if pid == 0:  # the task's process: answer, then end without this process's exit hooks or flushes
            status = 1
            try:
                gc.disable()  # (short-lived: a collection would only touch, and so copy, this process's memory)
                os.close(read_end)
                die_with(parent)
                with os.fdopen(write_end, "wb") as out:
                    for answer in task():
                        pickle.dump(answer, out, protocol=pickle.HIGHEST_PROTOCOL)
                        out.flush()
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self._pid, self._answers, self.started = pid, os.fdopen(read_end, "rb"), True

    def ready(self) -> bool:
        """Whether the task's first answer (or its end) has come: `next()` would not wait for it. (Asked before
        the first `next()`: after one, the next answer may already be in what that one read.)"""
        return self._answers is None or bool(select.select([self._answers.fileno()], [], [], 0)[0])

    def next(self) -> object | None:
        if self._answers is None:
            return None
        try:
            return pickle.load(self._answers)
        except Exception:  # (EOFError: no more, or the process died midway)
            self.close()
            return None

    def close(self, wait: bool = True) -> None:
        """End the task's process. `wait=False`: without waiting for the system to take it down (a process that
        holds a listing of 10 000 folders takes some 10 ms): reaped now if it is gone already, else by the next
        `close()`, which its owner still calls."""
        if self._answers is not None:
            self._answers.close()  # a task still writing gets EPIPE and ends
            self._answers = None
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGKILL)  # (done or not: an answer nobody will read is not waited for)
            except ProcessLookupError:
                pass
            try:
                if os.waitpid(self._pid, 0 if wait else os.WNOHANG)[0] == 0:
                    return  # (still going down: reaped by the next close)
            except ChildProcessError:  # (reaped already: a host program that ignores SIGCHLD)
                pass
            self._pid = 0


class Later(Generic[R]):
    """`task()`'s answer, made in a forked process (`Aside`) while this one goes on, when there is a second core
    and the memory free would carry that process (`affordable_workers`); else, or should that process give no
    answer, made here when `result()` asks for it. `close()` once done with it, asked for or not: it reaps the
    process."""

    def __init__(self, task: Callable[[], R], apart: bool = True):
        self._task = task
        self._aside = Aside(lambda: iter((task(),))) if apart and affordable_workers() >= 1 else None

    def result(self) -> R:
        answer = self._aside.next() if self._aside is not None else None
        if self._aside is not None:
            self._aside.close(wait=False)  # (reaped by `close()`, which the owner still calls: see Aside.close)
        return answer if answer is not None else self._task()  # type: ignore[return-value]

    def close(self) -> None:
        if self._aside is not None:
            self._aside.close()
            self._aside = None


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


def affordable_workers() -> int:
    """How many forked workers the free memory can carry. A worker starts sharing this process's memory and
    may come to copy most of it (reference counts write to every object it touches), so each one is budgeted
    at this process's resident size. On a 100 000-article archive that is over a gigabyte: on a machine (or
    container) with 2 GB free the build then works in this one process, slower, instead of being killed."""
    resident = resident_memory()
    if resident is None:
        return 1 << 10  # not Linux: no way to tell, trust the core count
    free = free_memory()
    if free is None or resident < 256 << 20:  # small builds: never the limit
        return 1 << 10
    return int(free * 0.8 // resident)


def give_back() -> None:
    """Return the memory of objects this process has let go of to the system, for a program it runs next (the
    search stage's Pagefind): collect cycles, then ask glibc to hand its free heap back. Freed objects alone only
    go back to Python's and malloc's free lists (at 20 000 articles: 362 MiB at the peak, 246 after the model is
    let go, 206 collected, 127 trimmed)."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def resident_memory() -> int | None:
    """Bytes of this process in memory now (None: not Linux)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def peak_since_reset() -> int | None:
    """The most this process held in memory since `reset_peak` (or since it started), in bytes; None: unknown."""
    try:
        with open("/proc/self/status") as fh:
            return next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:")), None)
    except (OSError, ValueError, IndexError):
        return None


def reset_peak() -> bool:
    """Start `peak_since_reset` again from what this process holds now (Linux's clear_refs). False: not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def free_memory() -> int | None:
    """Bytes this process could still use: the least of the machine's available memory and what its cgroup
    (v2 or v1) allows beyond its current use, not counting file cache the kernel can drop."""
    found: list[int] = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/self/cgroup") as fh:
            groups = [line.rstrip("\n").split(":", 2) for line in fh]
    except OSError:
        groups = []
    for _, controllers, path in groups:
        if controllers == "":  # cgroup v2
            base = f"/sys/fs/cgroup{path}"
            limit, used, cache = _read_int(f"{base}/memory.max"), _read_int(f"{base}/memory.current"), \
                _stat_field(f"{base}/memory.stat", "inactive_file")
        elif "memory" in controllers.split(","):
            base = f"/sys/fs/cgroup/memory{path}"
            limit, used, cache = _read_int(f"{base}/memory.limit_in_bytes"), _read_int(f"{base}/memory.usage_in_bytes"), \
                _stat_field(f"{base}/memory.stat", "total_inactive_file")
        else:
            continue
        if limit is not None and used is not None and limit < 1 << 60:
            found.append(max(0, limit - used + (cache or 0)))
    return min(found) if found else None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
        return None if text == "max" else int(text)
    except (OSError, ValueError):
        return None


def _stat_field(path: str, name: str) -> int | None:
    try:
        with open(path) as fh:
            for line in fh:
                key, _, value = line.partition(" ")
                if key == name:
                    return int(value)
    except (OSError, ValueError):
        pass
    return None


def _can_fork() -> bool:
    import multiprocessing
    return "fork" in multiprocessing.get_all_start_methods()


def _init(task: Callable[[int, int], object], parent: int) -> None:
    global _TASK
    _TASK = task
    die_with(parent)


def die_with(parent: int) -> None:
    """End this process (a worker, a preview's first build) when its parent dies, even by SIGKILL: otherwise it would wait for work for
    ever (its siblings keep the task pipe open), holding its share of the build's memory."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _call(bounds: tuple[int, int]) -> object:
    assert _TASK is not None
    return _TASK(*bounds)
