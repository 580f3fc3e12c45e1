"""Stage 4b, search: the full-text search index (Pagefind) of the written pages, shipped with them.

Pagefind reads HTML, so it runs after every page is in the spare tree and before the swap: the index is
published in the same atomic step as the pages it describes. Only pages marked `data-pagefind-body` (the
articles) become results. Pagefind sees a private folder of hard links to exactly this build's HTML files,
because the spare tree may still hold pages of a deleted article until `publish()` removes them. Its output goes
through `Staging` like any page, so unchanged index files keep their inode and timestamp. Pagefind rereads
every page on each run (about 4 ms of CPU per article), so a build whose articles did not change as Pagefind
sees them reuses the live index instead of running it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .cache import digest
from ..config import SiteConfig
from ..diagnostics import Reporter
from .write import Staging

BUNDLE = "pagefind"  # the index folder inside the site; templates load BUNDLE/pagefind.js
# Pagefind also writes its ready-made UIs; the theme has its own search page, so they are not published.
_UNUSED = ("pagefind-ui.", "pagefind-modular-ui.", "pagefind-component-ui.", "pagefind-highlight.")
_STAMP = f"{BUNDLE}/pagefind-entry.json"  # fingerprint "search:<sha>:<quick key>:<content key>" (see index)
_TIMEOUT = 1800
_MARK = b"data-pagefind-body"  # on the pages that are search results (article.html)


CODES = ("SEARCH001",)  # what `index` reports: a build that runs it again drops the last build's


def owns(rel: str) -> bool:
    """Whether an output file is part of the search index (made by `index`, not by the page rendering)."""
    return rel.startswith(BUNDLE + "/")


def index(stage: Staging, config: SiteConfig, report: Reporter, fresh: bool = True) -> None:
    """Index the result pages of this build and add the index to the spare tree.

    `fresh=False` (the live preview, where a save must show within a moment) carries the live index over as it
    is when there is one: search results may lag behind the edits until the next fresh build.
    """
    if report.errors or not config.search:
        return  # nothing will be published, or the site has no search
    if not fresh:
        stamp = stage.active.get(_STAMP, "").split(":")
        if len(stamp) == 4 and _reuse(stage, stamp[1], stamp[2], stamp[3]):
            return
    pages = sorted(rel for rel in stage.manifest if rel.endswith(".html") and not rel.startswith(BUNDLE + "/"))
    binary = _binary()
    # Two keys, cheapest first: the fingerprints of every page (no file read), then what Pagefind reads of the
    # result pages (a theme or most-read change rewrites every page but leaves the index as it was).
    quick = digest("search", str(binary), [(rel, stage.manifest[rel]) for rel in pages])
    stamp = stage.active.get(_STAMP, "").split(":")
    if len(stamp) == 4 and stamp[2] == quick and _reuse(stage, stamp[1], quick, stamp[3]):
        return
    results = {}
    for rel in pages:
        try:
            data = (stage.dir / rel).read_bytes()
        except OSError:
            continue
        if _MARK in data:
            results[rel] = _indexed_part(data)
    content = digest("search", str(binary), sorted(results.items()))
    if len(stamp) == 4 and stamp[3] == content and _reuse(stage, stamp[1], quick, content):
        return
    if binary is None:
        report.warning("SEARCH001", "", 0, "không tìm thấy chương trình Pagefind: trang chưa có chỉ mục tìm kiếm",
                       "cài lại sitegen (pip install sitegen) để có gói pagefind[bin]")
        return
    work = Path(tempfile.mkdtemp(prefix=f".{stage.output.name}.staging-search-", dir=stage.dir.parent))
    try:  # the folder name is one recover() removes if this build is killed
        site, out = work / "site", work / "out"
        site.mkdir()
        for rel in results:  # only results: Pagefind would parse every listing page only to drop it
            target = site / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(stage.dir / rel, target)
            except OSError:
                shutil.copyfile(stage.dir / rel, target)
        try:
            done = subprocess.run([str(binary), "--site", str(site), "--output-path", str(out), "--silent"],
                                  capture_output=True, text=True, timeout=_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            done = subprocess.CompletedProcess([], 1, "", str(exc))
        if done.returncode != 0 or not (out / "pagefind.js").is_file():
            detail = " ".join((done.stderr or done.stdout or "").split())[:300]
            report.warning("SEARCH001", "", 0, f"Pagefind không tạo được chỉ mục tìm kiếm: {detail}",
                           "xem thông báo của Pagefind; trang vẫn được xuất bản nhưng ô tìm kiếm chưa dùng được")
            return
        _canonical_filters(out)
        for file in sorted(p for p in out.rglob("*") if p.is_file()):
            rel = f"{BUNDLE}/{file.relative_to(out).as_posix()}"
            if file.name.startswith(_UNUSED):
                continue
            data = file.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if stage.want(rel, f"search:{sha}:{quick}:{content}" if rel == _STAMP else f"search:{sha}"):
                stage.write_bytes(rel, data)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _indexed_part(page: bytes) -> str:
    """A hash of what Pagefind reads of a result page: the <html> tag (the language) and the article, not the
    head (asset links) nor the sidebar and footer after the article. Other templates: the whole page."""
    html = page.find(b"<html")
    start, end = page.find(_MARK), page.rfind(b"</article>")
    part = page[start:end] if 0 <= start < end else page
    return hashlib.sha256(page[html:page.find(b">", html) + 1] + b"\0" + part).hexdigest()


def _reuse(stage: Staging, sha: str, quick: str, content: str) -> bool:
    """Carry the live index over into the spare tree; False if a file of it could not be (then index again)."""
    for rel, fingerprint in sorted(stage.active.items()):
        if not rel.startswith(BUNDLE + "/"):
            continue
        if rel == _STAMP:
            fingerprint = f"search:{sha}:{quick}:{content}"  # the same file, now known by this build's keys
        if stage.want(rel, fingerprint):
            try:
                stage.write_bytes(rel, (stage.output / rel).read_bytes())
            except OSError:
                return False
    return True


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
# leaves Pagefind's own output untouched, which still works, just not byte for byte.

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
