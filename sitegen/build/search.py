"""Stage 4b, search: the full-text search index (Pagefind) of the written pages, shipped with them, in shards.

Pagefind reads HTML, so it runs after every page is in the spare tree and before the swap: the index is
published in the same atomic step as the pages it describes. Only pages marked `data-pagefind-body` (the
articles) become results.

Pagefind has no incremental mode and costs about 4.5 ms of CPU and 0.36 MB of memory per article, so one index
of a ten-year archive would be re-made on every edit (a minute and 3 GB at 10 000 articles). The results are
therefore split by date into shards, each its own Pagefind index under pagefind/<shard>/, and a build runs
Pagefind only for the shards whose pages changed as Pagefind reads them; the others are carried over from the
live tree, byte for byte. Shards are contiguous periods, so the search page reads them newest first and a
reader sees the newest matches after one small shard has answered:

- the newest month of the archive (where editors add and correct) in shards of RECENT_CAP articles, so adding
  or fixing today's news re-indexes at most that many pages;
- every older year in shards of ARCHIVE_CAP articles (small, so that correcting an old article re-indexes
  a second's worth; the word map tells the search page which shards hold a query's words, so a search reaching
  far back opens only those), counted from the year's oldest article: an article appended at the end changes
  only the last one.

A shard's articles, and so its bytes, depend only on the articles of its own period: a clean build and an
incremental one publish the same files. When a new month starts, the month before joins its year's shards
(the last one or two of that year are indexed again, once). Memory is bounded by the largest shard, not the
archive. The Pagefind engine (pagefind.js, its WebAssembly) is published once at pagefind/, with
pagefind/shards.json listing the shards newest first with their dates and filter counts (the search page
fills its filters from it without opening any shard).

The live preview does not make a save wait for Pagefind (seconds for a shard of the archive): it publishes the
page with the index as it was (`later`), and indexes once the editor pauses, in a build of its own that a new
save interrupts (`cancel`). A `sitegen build` always publishes the index of the pages it publishes.
"""

from __future__ import annotations

import base64
import concurrent.futures
import functools
import gzip
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import search_words
from .cache import digest
from ..config import SiteConfig
from ..diagnostics import Reporter
from .result import Cancelled
from .workers import free_memory
from .write import Staging

BUNDLE = "pagefind"  # the index folder inside the site; the search page loads BUNDLE/pagefind.js and shards.json
SHARDS = f"{BUNDLE}/shards.json"
RECENT_CAP = 100  # articles per shard of the newest month: what an edit or an addition there re-indexes
# Articles per shard of an older year: what correcting an old article re-indexes. About 5 ms of Pagefind and
# 0.36 MB per article: at 1 000 an old article's edit took 5.2 s against 1.4 s without search (10 000 articles);
# at 200 about a second more. Rare words no longer pay for more shards (the word map, search_words).
ARCHIVE_CAP = 200
PARALLEL = 2  # Pagefind runs at once in a build that re-indexes several shards, when the memory free allows
# What one Pagefind run is budgeted (`_Budget`): measured ~360 MB for a shard of 1 000 articles.
_RUN_BYTES, _PAGE_BYTES = 48 << 20, 360 << 10
# Pagefind also writes its ready-made UIs; the theme has its own search page, so they are not published.
_UNUSED = ("pagefind-ui.", "pagefind-modular-ui.", "pagefind-component-ui.", "pagefind-highlight.")
_ENTRY = "pagefind-entry.json"  # in each shard; its manifest fingerprint also remembers the shard (see _memo)
_TIMEOUT = 1800
_MARK = b"data-pagefind-body"  # on the pages that are search results (article.html)
_SORT = b'data-pagefind-sort="date[value]"'  # on the <data value="ISO date"> of a result (article.html)
_VALUE = re.compile(rb'\svalue="([^"]*)"')


CODES = ("SEARCH001",)  # what `index` reports: a build that runs it again drops the last build's


def owns(rel: str) -> bool:
    """Whether an output file is part of the search index (made by `index`, not by the page rendering)."""
    return rel.startswith(BUNDLE + "/")


@dataclass
class Outcome:
    """What the search stage did, for the build's summary line."""

    shards: int = 0  # shards published
    indexed: int = 0  # shards Pagefind ran for
    pages: int = 0  # result pages those runs read
    pending: int = 0  # shards to index again, left for later (`index`'s `later`): the live index was published

    def describe(self) -> str:
        if self.pending:
            return f"tìm kiếm: {self.pending} phần chỉ mục sẽ được lập lại khi ngừng sửa"
        if not self.shards:
            return "tìm kiếm: chưa có bài để lập chỉ mục"
        if not self.indexed:
            return f"tìm kiếm: giữ nguyên {self.shards} phần chỉ mục"
        return (f"tìm kiếm: lập lại {self.indexed} phần chỉ mục ({self.pages} bài), "
                f"giữ nguyên {self.shards - self.indexed} phần")


@dataclass
class _Shard:
    id: str  # its folder under BUNDLE: "2025-12-1" (newest month), "2024-1" (an older year), "0000-1" (undated)
    pages: list[tuple[str, str]] = field(default_factory=list)  # (output path, ISO date), oldest first
    content: str = ""  # hash of what Pagefind reads of its pages (see _indexed_part), with Pagefind's version
    tool: str = ""  # the Pagefind that made it (see _tool)
    stale: bool = False  # published as it was by a preview save whose pages it may no longer match (_carry_live)
    rels: frozenset[str] = frozenset()  # the output paths of `pages` (made by _recall, for _later_carried)


def index(stage: Staging, config: SiteConfig, report: Reporter, later: bool = False,
          cancel: Callable[[], bool] | None = None, progress: Callable[[str, int, int], None] | None = None,
          make_room: Callable[[], None] | None = None) -> Outcome | None:
    """Index the result pages of this build, shard by shard, and add the index to the spare tree.

    Only the shards whose pages changed are indexed again. `later` (a preview save): when some must be, publish
    the live index as it is instead and say how many wait (Outcome.pending). `cancel()` is asked while Pagefind
    runs; True stops it and raises Cancelled (nothing is published). `progress("Tìm kiếm", articles indexed,
    articles to index)` hears of each shard done, when there are many. `make_room()` is called first when the
    memory free would not carry the Pagefind runs (the build has let go of its model by then: see stages.publish).
    """
    if not config.search:
        return None
    if later and stage.carried_prefixed:
        quick = _later_carried(stage)
        if quick is not None:
            return quick
        _drop(stage)  # the copy carried over is not known well enough: it is carried as any build carries it
    live = _live(stage)
    if later and live is not None:
        return _later(stage, live)
    binary = _binary()
    tool = _tool(binary)
    shards = _assign(_results(stage, live))
    todo = [s for s in shards if not _carry(stage, s, live, tool)]
    if todo and binary is None:
        report.warning("SEARCH001", "", 0, "không tìm thấy chương trình Pagefind: trang chưa có chỉ mục tìm kiếm",
                       "cài lại sitegen (pip install sitegen) để có gói pagefind[bin]")
        return _drop(stage)
    outcome = Outcome(shards=len(shards), indexed=len(todo), pages=sum(len(s.pages) for s in todo))
    if todo:
        work = Path(tempfile.mkdtemp(prefix=f".{stage.output.name}.staging-search-", dir=stage.dir.parent))
        try:  # the folder name is one recover() removes if this build is killed
            # Shards are indexed side by side, a few at a time: memory is that many shards, never the archive.
            made: list[tuple[Path | None, str]] = [(None, "")] * len(todo)
            done, total = 0, outcome.pages
            free = free_memory()
            needs = sorted(_RUN_BYTES + _PAGE_BYTES * len(s.pages) for s in todo)[-PARALLEL:]
            if make_room is not None and free is not None and free * _Budget.SHARE < sum(needs):
                make_room()
                free = free_memory()
            budget = _Budget(free)

            def run(shard: _Shard) -> tuple[Path | None, str]:
                with budget.reserve(_RUN_BYTES + _PAGE_BYTES * len(shard.pages)):
                    return _run(binary, stage, shard, tool, work, cancel)

            with concurrent.futures.ThreadPoolExecutor(min(PARALLEL, len(todo))) as pool:
                running = {pool.submit(run, s): i for i, s in enumerate(todo)}
                for future in concurrent.futures.as_completed(running):
                    made[running[future]] = future.result()
                    done += len(todo[running[future]].pages)
                    if progress is not None and total >= 500:
                        progress("Tìm kiếm", done, total)
            for shard, (out, detail) in zip(todo, made):
                if out is None:
                    report.warning("SEARCH001", "", 0, f"Pagefind không tạo được chỉ mục tìm kiếm (phần {shard.id}): "
                                   f"{detail}", "xem thông báo của Pagefind; trang vẫn được xuất bản nhưng ô tìm "
                                   "kiếm chưa dùng được")
                    return _drop(stage)
            for shard, (out, _) in zip(todo, made):
                _stage_shard(stage, shard, out, tool)
            _stage_engine(stage, made[0][0])
        finally:
            shutil.rmtree(work, ignore_errors=True)
    elif shards and not _carry_engine(stage, live):
        return _drop(stage)  # the live tree lost a file mid-build: no index this time, the next build makes it
    words = _word_map(stage, shards, live if not todo else None) if search_words.enabled(config.language) else None
    stage.put(SHARDS, _listing(stage, shards, words))
    return outcome


class _Budget:
    """Pagefind runs side by side only while the memory free when the stage began carries them all (each one
    reserves its estimate until it ends); one may always run. At 100 000 articles the build holds well over a
    gigabyte by then: in a 2 GiB container two archive shards at once were one too many (the kernel killed it)."""

    SHARE = 0.8  # of the memory free, what the runs may take

    def __init__(self, free: int | None):
        self.free = None if free is None else free * self.SHARE
        self.used = self.running = 0
        self.cond = threading.Condition()

    @contextmanager
    def reserve(self, need: int) -> Iterator[None]:
        with self.cond:
            while self.running and self.free is not None and self.used + need > self.free:
                self.cond.wait()
            self.used += need
            self.running += 1
        try:
            yield
        finally:
            with self.cond:
                self.used -= need
                self.running -= 1
                self.cond.notify_all()


def _drop(stage: Staging) -> None:
    """Publish no index rather than part of one (the search page then says it has none), as a clean build would."""
    stage.forget([rel for rel in stage.manifest if owns(rel)])


# --- which pages, which shards ---------------------------------------------------------------------------------

@dataclass
class _Live:
    """The live tree's index as its manifest remembers it: its shards (with their pages) and engine files."""

    shards: dict[str, _Shard]
    files: dict[str, list[tuple[str, str]]]  # shard id -> its (output path, fingerprint)
    engine: list[tuple[str, str]]  # pagefind.js and the WebAssembly, at BUNDLE/
    unindexed: frozenset[str] = frozenset()  # result pages published by preview saves since (see _later)
    words: list[tuple[str, str]] = field(default_factory=list)  # the word map's files (search_words)
    owned: list[tuple[str, str]] = field(default_factory=list)  # every file of the live index (see owns)


def _live(stage: Staging) -> _Live | None:
    """What the live index holds, from the manifest alone (no file read); None when it cannot be trusted
    (no index, one from an older sitegen, or one a file of which was deleted by hand): then every shard is made."""
    if SHARDS not in stage.active or f"{BUNDLE}/pagefind.js" not in stage.active \
            or any(rel.startswith(BUNDLE + "/") for rel in stage.lost):  # (one of its files deleted by hand)
        return None
    live = _Live({}, {}, [], frozenset(stage.active[SHARDS].split("\n")[1:]))
    prefix = BUNDLE + "/"  # (one pass over the live tree's files, tens of thousands, on every preview save)
    live.owned = [(rel, fingerprint) for rel, fingerprint in stage.active.items() if rel.startswith(prefix)]
    for rel, fingerprint in live.owned:
        if rel == SHARDS:
            continue
        parts = rel.split("/", 2)
        if len(parts) == 2:
            live.engine.append((rel, fingerprint))
            continue
        if parts[1] == search_words.FOLDER:  # (no shard id is a word)
            live.words.append((rel, fingerprint))
            continue
        live.files.setdefault(parts[1], []).append((rel, fingerprint))
        if parts[2] == _ENTRY:
            shard = _recall(parts[1], fingerprint)
            if shard is not None:
                live.shards[shard.id] = shard
    return live


def _results(stage: Staging, live: _Live | None) -> dict[str, str]:
    """The result pages of this build, output path -> date. A page the live tree has as it is keeps what the
    live index knew of it; only new and changed pages are read (all of them when the live index is unknown)."""
    known = {rel: date for s in live.shards.values() for rel, date in s.pages} if live else None
    found: dict[str, str] = {}
    for rel, fingerprint in stage.manifest.items():
        if not rel.endswith(".html") or owns(rel):
            continue
        if known is not None and stage.active.get(rel) == fingerprint and rel not in live.unindexed:
            if rel in known:
                found[rel] = known[rel]
            continue
        try:
            data = (stage.dir / rel).read_bytes()
        except OSError:
            continue
        if _MARK in data:
            found[rel] = _date(data)
    return found


def _assign(found: dict[str, str]) -> list[_Shard]:
    """Split the results into shards (see the module's docstring), newest first. Each shard is a contiguous
    period, so reading the shards in this order and each newest first lists every result newest first."""
    ordered = sorted((date, rel) for rel, date in found.items())
    newest = max((date[:7] for date, _ in ordered if date), default="")
    groups: dict[str, list[tuple[str, str]]] = {}
    for date, rel in ordered:
        key = date[:7] if date and date[:7] == newest else (date[:4] or "0000")
        groups.setdefault(key, []).append((rel, date))
    shards = []
    for key, pages in groups.items():
        cap = RECENT_CAP if len(key) == 7 else ARCHIVE_CAP
        shards += [_Shard(f"{key}-{n // cap + 1}", pages[n:n + cap]) for n in range(0, len(pages), cap)]
    shards.sort(key=lambda s: (s.pages[-1][1], s.id), reverse=True)
    return shards


def _date(page: bytes) -> str:
    """The ISO date a result page sorts by (`data-pagefind-sort="date[value]"`), or '' for none."""
    at = page.find(_SORT)
    if at < 0:
        return ""
    found = _VALUE.search(page, page.rfind(b"<", 0, at), page.find(b">", at))
    return found.group(1).decode("utf-8", "replace") if found else ""


# --- carrying a shard over, or indexing it ----------------------------------------------------------------------

def _memo(shard: _Shard, sha: str, tool: str) -> str:
    """The manifest fingerprint of a shard's entry file: its bytes' hash, and what the next build needs to decide
    without reading anything whether the shard is still right (Pagefind's version, the content hash, its pages)."""
    return "\n".join([f"search:{sha}", tool, shard.content, *(f"{rel}\t{date}" for rel, date in shard.pages)])


@functools.lru_cache(maxsize=1024)
def _recall(shard_id: str, fingerprint: str) -> _Shard | None:
    """The shard an entry file's manifest fingerprint describes (see _memo). Kept for the preview's next saves:
    parsing every shard's page list was a tenth of a save at 10 000 articles (the shards are never changed)."""
    lines = fingerprint.split("\n")
    if len(lines) < 3 or not lines[0].startswith("search:"):
        return None
    pages = [tuple(line.split("\t", 1)) for line in lines[3:]]
    if any(len(p) != 2 for p in pages):
        return None
    return _Shard(shard_id, pages, lines[2], lines[1], lines[0].endswith(_STALE),  # type: ignore[arg-type]
                  frozenset(rel for rel, _ in pages))


def _carry(stage: Staging, shard: _Shard, live: _Live | None, tool: str) -> bool:
    """Carry the live tree's copy of this shard over when it holds the same pages, as Pagefind reads them, and
    was made by the same Pagefind; False if it must be indexed. Two keys, cheapest first: the pages' manifest
    fingerprints (no file read), then what Pagefind reads of them (a theme or most-read change rewrites every
    page but leaves the index as it was)."""
    old = live.shards.get(shard.id) if live else None
    if old is None or old.pages != shard.pages or old.tool != tool:
        return False
    if old.stale or any(stage.manifest.get(rel) != stage.active.get(rel) for rel, _ in shard.pages):
        if _content(stage, shard, tool) != old.content:
            return False
    shard.content = old.content
    carried = []
    for rel, fingerprint in live.files.get(shard.id, []):
        carried.append(rel)
        if old.stale and rel.endswith("/" + _ENTRY):
            fingerprint = _fresh(fingerprint)  # it does match its pages: remembered as any carried shard
        if stage.want(rel, fingerprint):
            try:
                stage.write_bytes(rel, (stage.output / rel).read_bytes())
            except OSError:  # gone from the live tree: index the shard again, and publish none of this copy
                stage.forget(carried)
                return False
    return True


def _content(stage: Staging, shard: _Shard, tool: str) -> str:
    shard.content = digest("search", tool, [(rel, _indexed_part((stage.dir / rel).read_bytes()))
                                            for rel, _ in shard.pages])
    return shard.content


# Pagefind ends with the build even when the build is killed (SIGKILL, cron's timeout): util-linux's setpriv
# gives it a parent-death signal, as build.workers does for forked workers. Without it an orphaned Pagefind went
# on indexing an abandoned spare folder (found by test_kill). Where setpriv is missing, Pagefind runs as it is.
_SETPRIV = shutil.which("setpriv")
_DIE_WITH_BUILD = (_SETPRIV, "--pdeathsig", "KILL", "--") if _SETPRIV else ()


def _run(binary: Path, stage: Staging, shard: _Shard, tool: str, work: Path,
         cancel: Callable[[], bool] | None = None) -> tuple[Path | None, str]:
    """Pagefind over exactly this shard's pages (the spare tree may still hold pages of a deleted article until
    `publish()` removes them), handed to it one by one, oldest first. Returns its output folder.

    Pagefind numbers the pages in the order it reads them, and the numbers are in its index, filter and sort
    files. Given a folder (`--site`) it reads them in the order the file system lists them: hash order on ext4,
    newest first on tmpfs, so the same pages made other bytes on another disk. Its service mode (what its
    Python and Node APIs drive) reads pages in the order they are sent, and otherwise makes what `--site` does:
    the same files, the URLs made from the same relative paths."""
    out = work / shard.id
    pieces: set[str] = set()  # the text of its pages, for its words (search_words)
    try:
        if not shard.content:  # (_carry has hashed the pages already when the live copy was a candidate)
            _content(stage, shard, tool)
        files, failed = _pagefind([*_DIE_WITH_BUILD, str(binary), "--service"], _requests(stage, shard, pieces),
                                  cancel)
        if files is not None:
            _unpack(files, out)
            (out / search_words.FILE).write_bytes(search_words.pack(search_words.words(pieces)))
    except (OSError, ValueError, KeyError, TypeError, subprocess.TimeoutExpired) as exc:  # (an odd answer)
        failed = str(exc) or type(exc).__name__
    if failed or not (out / _ENTRY).is_file():
        return None, " ".join((failed or "Pagefind made no index").split())[:300]
    _canonical_filters(out)
    return out, ""


def _requests(stage: Staging, shard: _Shard, pieces: set[str]) -> Iterator[dict]:
    """What Pagefind's service is asked for a shard: an index (the first of this service, so number 0), the
    shard's pages in its order (each read as it is sent), then the index's files. A page's file_path, relative
    to the site and never opened, is what Pagefind makes the result's URL from, as with `--site`.

    The files come in the answer (GetFiles), not written by Pagefind (WriteFiles): the service answers
    WriteFiles before its writes reach the files (Pagefind 1.5.2 hands them to background tasks and never
    flushes), and exits as soon as its input ends, leaving some files empty (seen: a blank pagefind-entry.json
    in one build of five). The text Pagefind may index of each page goes to `pieces` as it is read."""
    yield {"type": "NewIndex", "config": None}
    for rel, _ in shard.pages:
        data = (stage.dir / rel).read_bytes()
        pieces.update(search_words.chunks(_region(data), data))
        yield {"type": "AddFile", "index_id": 0, "file_path": rel, "url": None,
               "file_contents": data.decode("utf-8", "replace")}
    yield {"type": "GetFiles", "index_id": 0}


def _unpack(files: list[dict], out: Path) -> None:
    """The files of a GetFiles answer into `out`, as Pagefind would write them there."""
    for file in files:
        rel = Path(file["path"])
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"Pagefind named a file outside its folder: {file['path']}")
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(base64.b64decode(file["content"], validate=True))


_POLL = 0.05  # seconds between two questions to `cancel` while Pagefind runs


def _pagefind(cmd: list[str], requests: Iterator[dict],
              cancel: Callable[[], bool] | None) -> tuple[list[dict] | None, str]:
    """Run Pagefind's service on these requests, in their order, to its last answer: the index's files it lists
    (GetFiles), or None and what Pagefind said went wrong. TimeoutExpired after _TIMEOUT; when `cancel()` says
    True, Pagefind is stopped and Cancelled raised."""
    deadline = time.monotonic() + _TIMEOUT
    _go_on(cancel, deadline)
    # Unbuffered pipes: closing the input of a stopped Pagefind has nothing left to flush (no BrokenPipeError).
    # Its input does not block (see _send). Its stderr (a panic, at most: the service logs nothing) goes to a
    # file, which cannot fill up as a pipe can.
    with tempfile.TemporaryFile() as stderr, subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                               stderr=stderr, bufsize=0) as proc:
        os.set_blocking(proc.stdin.fileno(), False)
        try:
            sent, answers = _exchange(proc, requests, cancel, deadline)
        except BaseException:
            proc.kill()
            raise
        proc.stdin.close()  # the end of its input: the service exits (it has nothing left to do: no file to write)
        try:
            proc.wait(_POLL * 100)
        except subprocess.TimeoutExpired:
            proc.kill()
        stderr.seek(0)
        said = stderr.read().decode("utf-8", "replace")
    for answer in answers:
        if answer.get("message_id") == sent and answer["payload"].get("type") == "GetFiles":
            return answer["payload"]["files"], ""
    errors = [str(a["payload"].get("message", "")) for a in answers if a["payload"].get("type") == "Error"]
    return None, " ".join([*errors, said]).strip() or f"Pagefind ended (exit status {proc.returncode})"


def _exchange(proc: subprocess.Popen, requests: Iterator[dict], cancel: Callable[[], bool] | None,
              deadline: float) -> tuple[int, list[dict]]:
    """Send each request as it comes, taking in the answers meanwhile (Pagefind answers each in turn), then wait
    for the answer to the last one, or for Pagefind's end. The number of requests sent, and the answers.

    The protocol is the one of Pagefind's own Python API (pagefind.service), whose client is not used: it reads
    one answer every 0.1 s (30 pages took 3.1 s): 100 s for an archive shard of a thousand pages."""
    answers, ended, sent = bytearray(), 0, 0  # `ended`: the answers complete so far (each ends with a comma)
    try:
        for sent, request in enumerate(requests, 1):
            message = base64.b64encode(json.dumps({"message_id": sent, "payload": request}, ensure_ascii=False)
                                       .encode("utf-8")) + b","  # the service reads up to a comma
            _send(proc.stdin, message, cancel, deadline)
            more = _answers(proc.stdout, 0) or b""
            answers += more
            ended += more.count(b",")
    except BrokenPipeError:  # Pagefind ended early: its answers so far, and its stderr, say why
        pass
    while ended < sent:
        more = _answers(proc.stdout, _POLL)
        if more is None:
            break
        answers += more
        ended += more.count(b",")
        _go_on(cancel, deadline)
    return sent, [json.loads(base64.b64decode(one)) for one in bytes(answers).split(b",")[:-1]]


def _send(pipe, data: bytes, cancel: Callable[[], bool] | None, deadline: float) -> None:
    """All of `data` into Pagefind's input, a part at a time as it takes them, asking `cancel` and the clock
    meanwhile: a Pagefind that stopped reading is stopped as one that runs too long (a blocking write waited)."""
    view = memoryview(data)
    while view:
        if select.select([], [pipe], [], _POLL)[1]:
            view = view[pipe.write(view) or 0:]  # None: full again already
        _go_on(cancel, deadline)


def _answers(pipe, wait: float) -> bytes | None:
    """What Pagefind wrote since, after at most `wait` seconds (b'' for nothing yet); None once it has ended."""
    if not select.select([pipe], [], [], wait)[0]:
        return b""
    return os.read(pipe.fileno(), 1 << 16) or None


def _go_on(cancel: Callable[[], bool] | None, deadline: float) -> None:
    if cancel is not None and cancel():
        raise Cancelled()
    if time.monotonic() >= deadline:
        raise subprocess.TimeoutExpired("pagefind", _TIMEOUT)


def _stage_shard(stage: Staging, shard: _Shard, out: Path, tool: str) -> None:
    """A shard's own files into BUNDLE/<shard>/; the engine, the same for every shard, goes to BUNDLE/ once."""
    for file in sorted(p for p in out.rglob("*") if p.is_file()):
        name = file.relative_to(out).as_posix()
        if name.startswith(_UNUSED) or name == "pagefind.js" or name.startswith("wasm."):
            continue
        data = file.read_bytes()
        if name == _ENTRY:
            data = _shared_wasm(data)
        sha = hashlib.sha256(data).hexdigest()
        rel = f"{BUNDLE}/{shard.id}/{name}"
        if stage.want(rel, _memo(shard, sha, tool) if name == _ENTRY else f"search:{sha}"):
            stage.write_bytes(rel, data)


def _shared_wasm(entry: bytes) -> bytes:
    """Point a shard at the one WebAssembly file in BUNDLE/ instead of a copy of its own.

    Pagefind loads `<shard folder>wasm.<name>.pagefind`, with <name> from the entry file ("unknown" when it
    is null). Naming it "/../../wasm.unknown" makes that URL `<shard folder>wasm./../../wasm.unknown.pagefind`,
    which the browser resolves to BUNDLE/wasm.unknown.pagefind: one download (and one HTTP cache entry) however
    many shards a search opens, instead of 68 KB more per shard."""
    try:
        data = json.loads(entry)
        for info in data["languages"].values():
            info["wasm"] = "/../../wasm." + (info.get("wasm") or "unknown")
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (ValueError, KeyError, TypeError, AttributeError):
        return entry


def _stage_engine(stage: Staging, out: Path) -> None:
    for file in sorted(p for p in out.iterdir() if p.is_file()):
        if file.name == "pagefind.js" or file.name.startswith("wasm."):
            data = file.read_bytes()
            rel = f"{BUNDLE}/{file.name}"
            if stage.want(rel, f"search:{hashlib.sha256(data).hexdigest()}"):
                stage.write_bytes(rel, data)


def _later(stage: Staging, live: _Live) -> Outcome | None:
    """A preview save (index's `later`): the live index is published as it is, without reading a page. The
    shards holding a page this build rewrote or removed are marked stale (and stay so until indexed), and a new
    result page counts as one more shard waiting: the build that indexes (when the editor pauses) sorts it all
    out as any build does."""
    where = {rel: shard.id for shard in live.shards.values() for rel, _ in shard.pages}
    changed = [rel for rel, fingerprint in stage.manifest.items() if stage.active.get(rel) != fingerprint]
    changed += [rel for rel in where if rel not in stage.manifest]  # (a page removed)
    stale, new = _waiting(stage, live.shards.values(), live.unindexed, changed, where.get)
    if not _carry_live(stage, live, stale, new):
        return _drop(stage)  # the live tree lost a file mid-build: no index this time, the next build makes it
    return Outcome(shards=len(live.shards), pending=len(stale) + bool(new))


def _later_carried(stage: Staging) -> Outcome | None:
    """`_later` for a save that carried the live index over with every other file (Staging.carry_over): only the
    pages it changed are looked at, and only the files whose fingerprint changes are wanted again (the entries
    of shards now stale, shards.json). At 100 000 articles, `_later` walked the 260 000 files of the live tree
    and 100 000 shard pages on every save. The shards are those shards.json lists, each described by its
    entry's fingerprint. None when that cannot be done (the build then looks at the index as `_later` does)."""
    changed = stage.changed()
    listing = stage.active.get(SHARDS)
    if changed is None or listing is None or f"{BUNDLE}/pagefind.js" not in stage.active:
        return None
    try:
        ids = [s["id"] for s in json.loads((stage.output / SHARDS).read_bytes())["shards"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    shards = []
    for shard_id in ids:
        entry = stage.active.get(f"{BUNDLE}/{shard_id}/{_ENTRY}") if isinstance(shard_id, str) else None
        shard = _recall(shard_id, entry) if entry is not None else None
        if shard is None:
            return None
        shards.append(shard)
    # (a few changed pages: each looked for in every shard, instead of a map of the 100 000 pages they hold)
    stale, new = _waiting(stage, shards, listing.split("\n")[1:], changed,
                          lambda rel: next((shard.id for shard in shards if rel in shard.rels), None))
    wanted = {f"{BUNDLE}/{shard_id}/{_ENTRY}": _stale for shard_id in stale}
    wanted[SHARDS] = lambda fingerprint: _listed(fingerprint, new)
    for rel, mark in wanted.items():
        fingerprint = mark(stage.manifest[rel])
        if fingerprint != stage.manifest[rel] and stage.want(rel, fingerprint):
            try:
                stage.write_bytes(rel, (stage.output / rel).read_bytes())
            except OSError:
                return None  # (gone from the live tree: the build finds it so again, as `_later` does)
    return Outcome(shards=len(shards), pending=len(stale) + bool(new))


def _waiting(stage: Staging, shards: Iterable[_Shard], unindexed: Iterable[str], changed: Iterable[str],
             holder: Callable[[str], str | None]) -> tuple[set[str], set[str]]:
    """What a save leaves for the build that indexes (see _later): the shards holding a page it rewrote, made or
    removed (`changed`; `holder` finds a page's shard), with those stale before; and the result pages no shard
    holds yet (`unindexed` before, and those it made)."""
    stale = {shard.id for shard in shards if shard.stale}
    new = {rel for rel in unindexed if rel in stage.manifest}
    for rel in changed:
        if owns(rel) or not rel.endswith(".html"):
            continue
        found = holder(rel)
        if found is not None:
            stale.add(found)
        elif rel in stage.manifest:
            try:
                if _MARK in (stage.dir / rel).read_bytes():
                    new.add(rel)
            except OSError:
                new.add(rel)
    return stale, new


def _listed(fingerprint: str, new: Iterable[str]) -> str:
    """shards.json's manifest fingerprint, remembering the result pages no shard holds yet (read by _live)."""
    return "\n".join([fingerprint.split("\n", 1)[0], *sorted(new)])


def _carry_live(stage: Staging, live: _Live, stale: set[str], new: set[str]) -> bool:
    """Publish every file of the live index as it is (shards, engine, shards.json); False if one is gone. The
    `stale` shards are remembered as such: the next build that indexes checks them against their pages; and so
    are the `new` result pages no shard holds yet, in shards.json's fingerprint (read back by _live)."""
    for rel, fingerprint in [(rel, fp) for rel, fp in live.owned if rel not in stage.manifest]:
        parts = rel.split("/")
        if len(parts) == 3 and parts[1] in stale and parts[2] == _ENTRY:
            fingerprint = _stale(fingerprint)
        elif rel == SHARDS:
            fingerprint = _listed(fingerprint, new)
        if stage.want(rel, fingerprint):
            try:
                stage.write_bytes(rel, (stage.output / rel).read_bytes())
            except OSError:
                return False
    return True


_STALE = " stale"  # at the end of the first line of a shard entry's manifest fingerprint (see _memo)


def _stale(fingerprint: str) -> str:
    head, _, rest = fingerprint.partition("\n")
    return f"{_fresh(head)}{_STALE}\n{rest}"


def _fresh(fingerprint: str) -> str:
    head, newline, rest = fingerprint.partition("\n")
    return f"{head.removesuffix(_STALE)}{newline}{rest}"


def _carry_engine(stage: Staging, live: _Live | None) -> bool:
    for rel, fingerprint in live.engine if live else []:
        if stage.want(rel, fingerprint):
            try:
                stage.write_bytes(rel, (stage.output / rel).read_bytes())
            except OSError:
                return False
    return live is not None


def _word_map(stage: Staging, shards: list[_Shard], live: _Live | None) -> dict | None:
    """The word map (search_words) of these shards into the spare tree, from each shard's own words; what
    shards.json is to say of it (None: no map, and the search page asks every shard). `live` (no shard indexed
    again): the live map is carried over as it is when it covers the very same shards."""
    if live is not None and live.words and set(live.shards) == {s.id for s in shards}:
        try:
            info = json.loads((stage.output / SHARDS).read_bytes()).get("words")
            if info is not None and "v" in info:  # (a map without its version is made anew)
                for rel, fingerprint in live.words:
                    if stage.want(rel, fingerprint):
                        stage.write_bytes(rel, (stage.output / rel).read_bytes())
                return info
        except (OSError, ValueError, AttributeError):
            stage.forget(rel for rel, _ in live.words)
    found = []
    for shard in shards:
        try:
            found.append(search_words.unpack((stage.dir / f"{BUNDLE}/{shard.id}/{search_words.FILE}").read_bytes()))
        except (OSError, EOFError, ValueError, zlib.error):  # gone or damaged: no map rather than a wrong one
            return None
    info, files = search_words.word_map(found)
    for name, data in sorted(files.items()):
        stage.put(f"{BUNDLE}/{search_words.FOLDER}/{name}", data)
    return info


def _listing(stage: Staging, shards: list[_Shard], words: dict | None = None) -> bytes:
    """BUNDLE/shards.json: the shards newest first, with their period, size and filter counts (decoded from the
    shard's own filter files), so the search page fills its filters and skips shards without opening them; and
    what the word map holds (`words`, see search_words)."""
    filters: dict[str, list[str]] = {}
    for rel in stage.manifest:
        parts = rel.split("/")
        if len(parts) == 4 and parts[0] == BUNDLE and parts[2] == "filter":
            filters.setdefault(parts[1], []).append(rel)
    listed = []
    for shard in shards:
        counts: dict[str, dict[str, int]] = {}
        for rel in sorted(filters.get(shard.id, [])):
            try:
                name, values = _load(stage.dir / rel)
                counts[name] = {value: len(ids) for value, ids in values}
            except (OSError, ValueError, TypeError, EOFError, gzip.BadGzipFile):
                continue
        listed.append({"id": shard.id, "first": shard.pages[0][1][:10], "last": shard.pages[-1][1][:10],
                       "pages": len(shard.pages), "filters": counts})
    return json.dumps({"version": 1, "shards": listed, **({"words": words} if words is not None else {})},
                      ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _indexed_part(page: bytes) -> str:
    """A hash of what Pagefind reads of a result page: the <html> tag (the language), its <title> (which the word
    map counts in, see search_words.chunks: a site renamed has its index made again, as a clean build's) and the
    article, not the rest of the head (asset links) nor the sidebar and footer after the article. Other
    templates: the whole page."""
    html = page.find(b"<html")
    start, end = page.find(_MARK), page.rfind(b"</article>")
    part = _without_ignored(page[start:end]) if 0 <= start < end else page
    title = search_words.title_of(page)
    return hashlib.sha256(page[html:page.find(b">", html) + 1] + b"\0" + title + b"\0" + part).hexdigest()


_IGNORE = b"data-pagefind-ignore"
_TAG = re.compile(rb"<([a-zA-Z][a-zA-Z0-9-]*)")


def _region(page: bytes) -> bytes:
    """The element Pagefind indexes (the one marked data-pagefind-body, whole), without what it ignores; the
    whole page when there is no such element or its end is not found (more words, never fewer)."""
    at = page.find(_MARK)
    start = page.rfind(b"<", 0, at) if at >= 0 else -1
    tag = _TAG.match(page, start) if start >= 0 else None
    end = _closing(page, start, tag.group(1)) if tag else -1
    return _without_ignored(page[start:end]) if end > 0 else page


def _without_ignored(part: bytes) -> bytes:
    """The article without the elements Pagefind skips (data-pagefind-ignore): the related articles, comments
    and share links inside <article> change when another article is added, not what Pagefind reads. An ignored
    element holding any other data-pagefind- attribute (metadata Pagefind still reads) is kept."""
    kept, pos = [], 0
    while (at := part.find(_IGNORE, pos)) >= 0:
        start = part.rfind(b"<", pos, at)
        tag = _TAG.match(part, start) if start >= 0 else None
        if tag is None:
            kept.append(part[pos:at + len(_IGNORE)])
            pos = at + len(_IGNORE)
            continue
        end = _closing(part, start, tag.group(1))
        inside = part[part.find(b">", at) + 1:end]
        if end < 0 or b"data-pagefind-" in inside:
            kept.append(part[pos:at + len(_IGNORE)])
            pos = at + len(_IGNORE)
            continue
        kept.append(part[pos:start])
        pos = end
    kept.append(part[pos:])
    return b"".join(kept)


def _closing(part: bytes, start: int, name: bytes) -> int:
    """The end of the element opened at `start` (after its closing tag, nested ones of the same name counted),
    or -1."""
    opening, closing = re.compile(b"<" + re.escape(name) + rb"[\s>/]", re.I), b"</" + name.lower() + b">"
    depth, pos = 0, start
    lower = part.lower()
    while True:
        nxt_open = opening.search(part, pos)
        nxt_close = lower.find(closing, pos)
        if nxt_close < 0:
            return -1
        if nxt_open is not None and nxt_open.start() < nxt_close:
            depth += 1
            pos = nxt_open.end()
            continue
        depth -= 1
        pos = nxt_close + len(closing)
        if depth == 0:
            return pos


# How sitegen runs Pagefind, part of _tool: a shard made another way is indexed again. "service": the pages sent in
# the shard's order (see _run); the shards made before from a folder are numbered in the order a disk listed them.
# "+words": each shard has its words (search_words.FILE).
_FEED = "service+words"


def _tool(binary: Path | None) -> str:
    """Which Pagefind makes the index, and how: a shard made by another version is indexed again (its format may
    differ from the engine published beside it)."""
    try:
        from importlib.metadata import version

        return f"{binary}:{version('pagefind_bin')}:{_FEED}"
    except Exception:  # noqa: BLE001 - not installed as a package (a pagefind on PATH): its path stands for it
        return f"{binary}:{_FEED}"


def _binary() -> Path | None:
    """The Pagefind program shipped by `pagefind[bin]` (or one on PATH)."""
    try:
        import pagefind_bin

        return pagefind_bin.get_executable()
    except (ImportError, FileNotFoundError):
        found = shutil.which("pagefind_extended") or shutil.which("pagefind")
        return Path(found) if found else None


# --- making Pagefind's output reproducible -------------------------------------------------------------------
# Pagefind 1.5 writes each filter's values in hash-map order, which changes from run to run, and names the filter
# file, the metadata file and the entry by hashes of those bytes. The same pages must give the same bytes (the
# incremental build is checked against a clean one, and rsync would upload a "new" index each time), so the
# values are sorted and the files renamed. The files are gzip'd CBOR behind a signature; anything unexpected
# leaves Pagefind's own output untouched, which still works, just not byte for byte. (The order of the pages, which
# numbers them in every file, is the shard's own: see _run.)

_SIGNATURE = b"pagefind_dcd"


def _canonical_filters(out: Path) -> None:
    try:
        entry_path = out / "pagefind-entry.json"
        entry_text = entry_path.read_text(encoding="utf-8")
        entry = json.loads(entry_text)
        for lang, info in sorted(entry["languages"].items()):
            meta_path = out / f"pagefind.{info['hash']}.pf_meta"
            meta = _load(meta_path)
            renamed: dict[str, str] = {}
            for old in sorted((out / "filter").glob(f"{lang}_*.pf_filter")):
                name, values = _load(old)
                values = sorted(([v, sorted(ids)] for v, ids in values), key=lambda pair: pair[0])
                data = _dump([name, values])
                new = f"{lang}_{hashlib.sha256(data).hexdigest()[:7]}"
                old.unlink()
                (out / "filter" / f"{new}.pf_filter").write_bytes(data)
                renamed[old.stem] = new
            data = _dump(_rename(meta, renamed))
            new_hash = f"{lang}_{hashlib.sha256(data).hexdigest()[:10]}"
            meta_path.unlink()
            (out / f"pagefind.{new_hash}.pf_meta").write_bytes(data)
            entry_text = entry_text.replace(f'"{info["hash"]}"', f'"{new_hash}"')
        entry_path.write_text(entry_text, encoding="utf-8")
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, gzip.BadGzipFile):
        return


def _rename(value, renamed: dict[str, str]):
    """The metadata with the filter files' new names, its list of (filter, file) pairs sorted by filter."""
    if isinstance(value, str):
        return renamed.get(value, value)
    if isinstance(value, list):
        items = [_rename(v, renamed) for v in value]
        names = set(renamed.values())
        if items and all(isinstance(i, list) and len(i) == 2 and isinstance(i[1], str) and i[1] in names
                             for i in items):
            items.sort(key=lambda pair: pair[0])
        return items
    return value


def _load(path: Path):
    raw = gzip.decompress(path.read_bytes())
    if not raw.startswith(_SIGNATURE):
        raise ValueError(path)
    body = raw[len(_SIGNATURE):]
    value, end = _decode(body, 0)
    if end != len(body) or _encode(value) != body:
        raise ValueError(f"{path}: not the CBOR this code understands")
    return value


def _dump(value) -> bytes:
    return gzip.compress(_SIGNATURE + _encode(value), compresslevel=6, mtime=0)


class _Opaque(bytes):
    """A CBOR item kept as its raw bytes (floats, true/false/null): carried over, never interpreted."""


def _decode(buf: bytes, pos: int):
    head = buf[pos]
    major, info = head >> 5, head & 31
    if major == 7:
        size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info, 0)
        return _Opaque(buf[pos:pos + 1 + size]), pos + 1 + size
    if info < 24:
        n, pos = info, pos + 1
    elif info <= 27:
        size = 1 << (info - 24)
        n, pos = int.from_bytes(buf[pos + 1:pos + 1 + size], "big"), pos + 1 + size
    else:
        raise ValueError("indefinite-length CBOR")
    if major == 0:
        return n, pos
    if major == 3:
        return buf[pos:pos + n].decode("utf-8"), pos + n
    if major == 4:
        items = []
        for _ in range(n):
            item, pos = _decode(buf, pos)
            items.append(item)
        return items, pos
    raise ValueError(f"CBOR major type {major}")


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError(n)


def _encode(value) -> bytes:
    if isinstance(value, _Opaque):
        return bytes(value)
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return _head(0, value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(3, len(data)) + data
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(_encode(v) for v in value)
    raise TypeError(value)
