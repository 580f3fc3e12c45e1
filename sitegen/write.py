"""Stage 4, write: build the whole site in a staging folder, then swap it in place of the output folder.

Readers and `rsync` never see a half-written site: until `publish()` the previous output stays complete, and a
crash anywhere before it leaves only a staging folder that the next run removes. A file whose bytes did not
change is hard-linked from the previous output instead of rewritten, so it keeps its timestamp and a deploy
by rsync or an object-store sync uploads only what changed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import BuildFailed, Diagnostic, ERROR
from .routes import safe_join

MARKER = ".sitegen-output"  # proves a folder is ours to replace


@dataclass
class WriteStats:
    written: int = 0
    unchanged: int = 0
    copied: int = 0


@dataclass
class Staging:
    """A sibling folder of `output` that becomes `output` on `publish()`."""

    output: Path
    stats: WriteStats = field(default_factory=WriteStats)

    def __post_init__(self) -> None:
        self.output = self.output.resolve()
        recover(self.output)
        _check_replaceable(self.output)
        self.output.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:8]
        self.dir = self.output.parent / f".{self.output.name}.staging-{token}"
        self._old = self.output.parent / f".{self.output.name}.old-{token}"
        self.dir.mkdir()
        (self.dir / MARKER).write_text("sitegen\n", encoding="utf-8")
        self._made: set[Path] = {self.dir}
        self.published = False

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.published:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _target(self, rel: str) -> Path:
        target = safe_join(self.dir, rel)
        parent = target.parent
        if parent not in self._made:
            parent.mkdir(parents=True, exist_ok=True)
            self._made.add(parent)
        return target

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write one output file, reusing the previous one when it has exactly these bytes."""
        target = self._target(rel)
        old = self.output / rel
        try:
            if old.stat().st_size == len(data) and old.read_bytes() == data:
                os.link(old, target)
                self.stats.unchanged += 1
                return
        except OSError:
            pass
        with open(target, "wb") as fh:
            fh.write(data)
        self.stats.written += 1

    def copy_file(self, src: Path, rel: str) -> None:
        """Copy a file (photo, asset) unless the previous output has it unchanged (same size and mtime)."""
        target = self._target(rel)
        if target.exists():
            target.unlink()
        old = self.output / rel
        try:
            s, o = src.stat(), old.stat()
            if s.st_size == o.st_size and int(s.st_mtime) == int(o.st_mtime):
                os.link(old, target)
                self.stats.unchanged += 1
                return
        except OSError:
            pass
        shutil.copy2(src, target)
        self.stats.copied += 1

    def publish(self) -> None:
        """Swap staging in: two renames, with `recover()` covering a crash between them."""
        if self.output.exists():
            os.rename(self.output, self._old)
        os.rename(self.dir, self.output)
        self.published = True
        shutil.rmtree(self._old, ignore_errors=True)


def recover(output: Path) -> None:
    """Undo what an interrupted run left: restore the output from `.old-*` if it is missing; drop staging folders."""
    parent = output.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{output.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and not output.exists():
        os.rename(olds.pop(), output)
    for leftover in [*olds, *parent.glob(f".{output.name}.staging-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def _check_replaceable(output: Path) -> None:
    """Never replace a folder sitegen did not make: it may hold someone's work."""
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        _fail(output, "đường dẫn xuất không phải thư mục")
    if output.is_dir() and any(output.iterdir()) and not (output / MARKER).is_file():
        _fail(output, "thư mục xuất đã có tệp không do sitegen tạo; sitegen sẽ không ghi đè lên nó")


def _fail(output: Path, message: str) -> None:
    raise BuildFailed([Diagnostic(str(output), 0, 0, "CFG003", ERROR, message,
                                  "chọn thư mục xuất khác (--output) hoặc tự dọn thư mục này")])
