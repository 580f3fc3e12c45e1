"""One build at a time per site: an exclusive lock on `<site>/.sitegen/build.lock`.

Two builds of the same site must never overlap. They share the build cache, the image cache and the spare twin
of the output folder, and one build's publish swaps out the very tree the other is still writing: an overlap has
left public/ holding only the search index while both builds exited 0 (and the cache then said nothing changed).
The README's own cron line (`*/5 * * * * sitegen build && rsync ...`) overlaps whenever a build runs longer than
five minutes, and the live preview shares the image cache. So `sitegen build`, `sitegen check` and every preview
rebuild take this lock; a second one waits (saying for whom) and gives up with LOCK001 after its time.

The lock is fcntl.flock on a file that is never deleted: deleting a lock file races with a process that has it
open but not yet locked. The kernel drops a flock when its holder exits, however it exits (SIGKILL included),
so there is no stale lock to clean up by hand. The file holds the holder's PID and start time, for the message.
"""

from __future__ import annotations

import errno
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..diagnostics import BuildFailed, Diagnostic, ERROR

try:
    import fcntl
except ImportError:  # Windows: no flock; builds there run unlocked, as before this module existed
    fcntl = None  # type: ignore[assignment]

LOCK_PATH = ".sitegen/build.lock"  # relative to the site folder; also the path LOCK001 names
POLL = 0.1  # seconds between attempts while waiting


@contextmanager
def site_lock(root: Path, wait: float = 600, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the site's build lock for the `with` block. If another process holds it, call `on_wait` once with a
    message saying who and for how long this one waits, then wait up to `wait` seconds; past that, raise
    BuildFailed with LOCK001. Proceeds without a lock where none can be had (see `_open`)."""
    fd = _open(Path(root))
    if fd is None:
        yield
        return
    try:
        if not _try_lock(fd):
            if wait > 0 and on_wait is not None:
                on_wait(f"Đang có một lần dựng khác cho trang này ({_holder(fd)}); chờ tối đa {_seconds(wait)} giây…")
            deadline = time.monotonic() + max(0.0, wait)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BuildFailed([Diagnostic(
                        LOCK_PATH, 0, 0, "LOCK001", ERROR,
                        f"trang này đang được dựng bởi một tiến trình khác ({_holder(fd)}); "
                        f"đã chờ {_seconds(wait)} giây mà lần dựng đó chưa xong",
                        "đợi lần dựng kia xong rồi chạy lại, hoặc tăng --wait; "
                        "nếu không còn tiến trình nào đang dựng thì lỗi này tự hết")])
                time.sleep(min(POLL, left))
                if _try_lock(fd):
                    break
        _stamp(fd)
        try:
            yield
        finally:
            # Explicitly: forked workers (image and render pools) share this open file, and closing our
            # descriptor alone would leave the lock held until the last of them exits.
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            except OSError:
                pass  # a filesystem without locks (see _try_lock): there was nothing to release
    finally:
        os.close(fd)


def _open(root: Path) -> int | None:
    """The lock file's descriptor, or None when this build has to go without a lock: no fcntl (Windows), a site
    folder that does not exist (the build reports that itself), or a lock file that cannot be made or opened,
    which in practice is a read-only site folder or disk (EROFS, EACCES): then this build cannot write the
    site's caches either, so it has nothing to race over with another build (a `check` of a read-only checkout
    in CI). Builds went unlocked before this module; refusing to build at all would be worse."""
    if fcntl is None:
        return None
    folder = root / ".sitegen"
    try:
        folder.mkdir(exist_ok=True)  # not parents: a mistyped --source must not create folders
    except OSError:
        pass  # read-only, or no such site folder: opening below says which
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):  # flock needs no write access: a file made by another user
        try:
            return os.open(folder / "build.lock", flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError:
            continue
    return None


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        # A filesystem without locks (some network mounts answer ENOLCK): build unlocked, as before, rather than
        # never build at all.
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return True
        raise


def _stamp(fd: int) -> None:
    """Who holds the lock, for the message of the next one to wait: truncated first, PID and start time."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.3f}\n".encode("ascii"), 0)
    except OSError:
        pass  # opened read-only: the lock still holds, only the message says less


def _holder(fd: int) -> str:
    """'PID 1234, từ 17:58:03 ngày 29/03/2024' from the lock file, or as much of it as can be read (the holder
    may have locked the file and not yet written it)."""
    try:
        pid, since = os.pread(fd, 100, 0).decode("ascii").split()[:2]
        started = time.strftime("%H:%M:%S ngày %d/%m/%Y", time.localtime(float(since)))
        return f"PID {int(pid)}, từ {started}"
    except (OSError, ValueError, UnicodeDecodeError):
        return "PID không rõ"


def _seconds(wait: float) -> str:
    return f"{wait:g}".replace(".", ",")  # Vietnamese writes a decimal comma: 1,5 giây
