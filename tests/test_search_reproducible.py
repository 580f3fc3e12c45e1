"""The search index is the same bytes whatever file system the site is built on (issue 17, item 10).

Pagefind numbers the pages of an index in the order it reads them, and those numbers are in its index, filter and
sort files. Given a folder, it reads the files in the order the file system lists them, and that order is the
file system's own: ext4 lists a folder in hash order, tmpfs newest file first. sitegen gives Pagefind a shard's
pages itself, oldest first, so neither the disk nor the order files were made in shows in the index."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pytest

from conftest import Site, article, tree_snapshot
from sitegen.build import search
from sitegen.build.write import MARKER

# Eight articles of one year, named so that the order of their names is not the order of their dates.
_DATES = ["2024-03-05", "2024-01-20", "2024-07-14", "2024-02-11", "2024-09-30", "2024-05-02", "2024-11-08",
          "2024-04-17"]


def _write_articles(site: Site, order: list[int]) -> None:
    for i in order:
        site.write(f"content/tin/{'abcdefgh'[i]}-bai/index.md",
                   article(f"Bài {i}", date=f"{_DATES[i]} 08:00", body=f"Tin tỉnh nhà số {i}. Hội nghị tổng kết."))


def _file_system(path: Path) -> str:
    """The type of the file system `path` is on (the longest mount point of /proc/mounts holding it)."""
    path, best, kind = path.resolve(), "", ""
    with open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1].replace("\\040", " ")
            if (path == Path(point) or Path(point) in path.parents) and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


def _public(site: Site) -> dict[str, bytes]:
    return {k: v for k, v in tree_snapshot(site.public).items() if k != MARKER}


def _numbered(shard: Path) -> list[str]:
    """A shard's result URLs in the order of Pagefind's page numbers (the pages list of its metadata file)."""
    meta = search._load(next(shard.glob("pagefind.*.pf_meta")))
    urls = []
    for fragment, _ in meta[1]:
        raw = gzip.decompress((shard / "fragment" / f"{fragment}.pf_fragment").read_bytes())
        urls.append(json.loads(raw[len(search._SIGNATURE):])["url"])
    return urls


def test_a_tmpfs_build_and_a_disk_build_are_the_same_bytes(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or _file_system(shm) != "tmpfs":
        pytest.skip("/dev/shm is not a tmpfs here: no second file system to build on")
    if _file_system(tmp_path) == "tmpfs":
        pytest.skip(f"{tmp_path} is itself on a tmpfs: no disk to compare with")
    disk = Site(tmp_path / "site")
    _write_articles(disk, list(range(len(_DATES))))
    disk.build(jobs=1)
    with tempfile.TemporaryDirectory(dir=shm, prefix="sitegen-test-") as memory:
        ram = Site(Path(memory) / "site")
        _write_articles(ram, list(range(len(_DATES))))
        ram.build(jobs=1)
        on_ram = _public(ram)
    on_disk = _public(disk)
    assert on_disk.keys() == on_ram.keys()
    assert [k for k in on_disk if on_disk[k] != on_ram[k]] == []


def test_pagefind_numbers_a_shards_pages_oldest_first_whatever_the_folder_lists(site):
    """Needs no tmpfs: the folder's listing order (hash order on ext4, newest first on tmpfs) is never the
    order of these dates, and the content is written in yet another order."""
    _write_articles(site, [3, 0, 6, 1, 7, 4, 2, 5])
    site.build(jobs=1)
    listing = json.loads((site.public / "pagefind/shards.json").read_text(encoding="utf-8"))
    seen = []
    for shard in listing["shards"]:
        urls = _numbered(site.public / "pagefind" / shard["id"])
        by_date = sorted(urls, key=lambda url: _DATES["abcdefgh".index(url.split("/")[2][0])])
        assert urls == by_date, shard["id"]
        seen += urls
    assert len(seen) == len(_DATES)
