"""A real PostgreSQL server for the tests (and the load benchmark): Debian's binaries, a throwaway cluster in a
private temporary folder, reached over a unix socket in that folder only (no TCP port to collide with another
test run), stopped and removed afterwards.

PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to the `postgres` user that
Debian's package creates (or `nobody`), and initdb / pg_ctl run as that user through `runuser`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: Debian keeps them off PATH, under /usr/lib/postgresql/VERSION/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path and shutil.which("initdb") else None


_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # runuser is in sbin, off a normal user's PATH
MISSING = ("PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH); "
           "./dev.sh test installs Debian's postgresql")


class PostgresServer:
    """`durable=False` (the tests): no fsync, a server that a crash may lose whole but starts and works faster.
    The load benchmark keeps PostgreSQL's default durability, as a portal's server has it."""

    def __init__(self, bin_dir: Path, durable: bool = False):
        self.bin, self.durable = bin_dir, durable
        self.user = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.user = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
        self.dir = Path(tempfile.mkdtemp(prefix="sitegen-pg-"))
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.data, self.socket_dir, self.port = self.dir / "data", self.dir, 5432

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            cmd = [shutil.which("runuser", path=_SYSTEM_PATH) or "runuser", "-u", self.user.pw_name, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.dir,
                              env={"PATH": _SYSTEM_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})

    def start(self) -> "PostgresServer":
        try:
            self._init()
            self.start_again()
        except BaseException:
            self.close()  # nothing left behind by a server that did not start
            raise
        return self

    def _init(self) -> None:
        done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                         "--locale=C.UTF-8", *(() if self.durable else ("--no-sync",)))
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def start_again(self) -> None:
        """Start the server (again, after `stop`) on the same socket."""
        options = (f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' -p {self.port} "
                   "-c max_connections=200 -c shared_buffers=32MB" + ("" if self.durable else " -c fsync=off"))
        done = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w",
                         "-t", "60", "start")
        if done.returncode:
            log = (self.dir / "log").read_text(errors="replace") if (self.dir / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}{log}")

    def close(self) -> None:
        try:
            self.stop("immediate")
        except (OSError, subprocess.SubprocessError):
            pass  # never started (or runuser missing): nothing to stop
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def new_database(self) -> str:
        """A fresh, empty database on this server: its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


# --- pytest fixtures (import them into a test module: `from pgserver import postgres, store_kind, new_store`) ---

import pytest  # noqa: E402 (installed with the test extra, which ./dev.sh bench also installs)


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the whole test session; each test takes a fresh database on it."""
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip(MISSING)
    server = PostgresServer(bin_dir).start()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_kind(request):
    return request.param


@pytest.fixture
def new_store(store_kind, request, tmp_path):
    """A function making the store under test: an SQLite file in tmp_path, or a fresh PostgreSQL database.
    Called again, it opens the same database again (another collector's view of it)."""
    if store_kind == "sqlite":
        target = str(tmp_path / "stats.sqlite3")
    else:
        target = request.getfixturevalue("postgres").new_database()
    from sitegen.readers.store import open_store

    opened = []

    def make():
        opened.append(open_store(target))
        return opened[-1]

    make.target = target
    yield make
    for store in opened:
        store.close()
