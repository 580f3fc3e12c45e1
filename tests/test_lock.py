"""One build at a time per site (sitegen/build/lock.py): builds started together, a build during a preview save, and a
build that cannot get the lock in time.

Without the lock, two `sitegen build` started 0.1 s apart on a site whose cache was removed left public/ with
only pagefind/ and both exited 0; others published `*.tmp` files or lost an edit. Each outcome below is compared
with a clean build of the same sources into another folder, byte for byte.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, Site, article, fetch, free_port, interrupt, leftovers, tree_snapshot, wait_for
from sitegen import config as config_mod
from sitegen.diagnostics import BuildFailed
from sitegen.build.lock import LOCK_PATH, site_lock
from sitegen.build.pipeline import build
from sitegen.build.write import output_token

EXAMPLE = ("content", "site.toml", "templates", "assets")  # the example site: everything a build reads
ARTICLE = "content/thoi-su/2024/them-ba-xa-dat-chuan-nong-thon-moi/index.md"
ARTICLE_URL = "/thoi-su/them-ba-xa-dat-chuan-nong-thon-moi/"
TITLE = "Thêm ba xã đạt chuẩn nông thôn mới nâng cao"
BUILDS = 4
SEED = int(os.environ.get("SITEGEN_LOCK_SEED", "20240329"))
WAITING = "Đang có một lần dựng khác cho trang này"
SKIPPED = "Không có gì thay đổi kể từ lần dựng trước"


# --- sites ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """The example site's photo variants, made once for the module (a cold photo stage is ~10 s on two cores);
    seeded from the repository's own image cache when there is one (entries are keyed by the photo's bytes)."""
    site = tmp_path_factory.mktemp("photos") / "site"
    _copy_example(site)
    img = site / ".sitegen/cache/img"
    if (ROOT / ".sitegen/cache/img").is_dir():
        shutil.copytree(ROOT / ".sitegen/cache/img", img, ignore=shutil.ignore_patterns(".*"))
    build(config_mod.load(site, site / "public"), use_cache=False)
    return img


def _copy_example(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name)
        else:
            shutil.copy2(src, root / name)


def example_site(tmp_path: Path, photos: Path | None) -> Site:
    """A copy of the example site without a build cache, with the photo cache when `photos` is given."""
    site = Site(tmp_path / "site")
    _copy_example(site.root)
    if photos is not None:
        shutil.copytree(photos, site.root / ".sitegen/cache/img")
    return site


def retitle(site: Site, title: str) -> None:
    path = site.root / ARTICLE
    text = path.read_text(encoding="utf-8")
    new = re.sub(r'^title: ".*"$', f'title: "{title}"', text, count=1, flags=re.M)
    assert new != text
    path.write_text(new, encoding="utf-8")


def clean_build(site: Site, out: Path) -> dict[str, bytes]:
    """The same sources built from nothing (no build cache) into another folder."""
    shutil.rmtree(out, ignore_errors=True)
    build(config_mod.load(site.root, out), use_cache=False, jobs=1)
    return tree_snapshot(out)


def assert_published_like_clean(site: Site, tmp_path: Path) -> dict[str, bytes]:
    public = site.public
    assert output_token(public) and (public / "index.html").is_file()
    odd = [p.relative_to(public).as_posix() for p in public.rglob("*")
           if p.name.endswith(".tmp") or p.name.startswith(".")]
    assert not odd, f"temporary or hidden files published: {odd}"
    assert not leftovers(site.root), leftovers(site.root)
    published = tree_snapshot(public)
    clean = clean_build(site, tmp_path / "clean")
    assert published.keys() == clean.keys(), sorted(published.keys() ^ clean.keys())[:20]
    different = sorted(k for k in published if published[k] != clean[k])
    assert not different, different[:20]
    return published


def assert_nothing_left_to_do(site: Site, published: dict[str, bytes]) -> None:
    again = site.cli("build")
    assert again.returncode == 0, again.stderr
    assert SKIPPED in again.stdout, again.stdout
    assert tree_snapshot(site.public) == published


# --- builds at once ------------------------------------------------------------------------------------------


def start_build(site: Site, log: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "sitegen", "build", "--source", str(site.root), *extra],
                                stdout=out, stderr=subprocess.STDOUT, env=env)


def run_together(site: Site, tmp_path: Path, seed: int, between=None) -> list[str]:
    """Start BUILDS builds at seeded random moments within 0.3 s; `between(i)` runs after the i-th start. Returns
    each build's output; every build must succeed."""
    rng = random.Random(seed)
    offsets = sorted(rng.uniform(0, 0.3) for _ in range(BUILDS))
    started = time.monotonic()
    procs = []
    for i, offset in enumerate(offsets):
        time.sleep(max(0.0, started + offset - time.monotonic()))
        procs.append((start_build(site, tmp_path / f"build-{i}.log"), tmp_path / f"build-{i}.log"))
        if between is not None:
            between(i)
    outputs = []
    for proc, log in procs:
        proc.wait(timeout=600)
        outputs.append(log.read_text(encoding="utf-8"))
        assert proc.returncode == 0, outputs[-1]
    return outputs


def test_builds_started_together_on_a_cold_site_publish_one_complete_site(tmp_path):
    # The reported case: no build cache, no photo cache (the long photo stage is when the next cron run arrives).
    site = example_site(tmp_path, photos=None)
    outputs = run_together(site, tmp_path, SEED)
    assert sum(WAITING in out for out in outputs) >= 1, outputs  # the first one builds, the others wait
    published = assert_published_like_clean(site, tmp_path)
    assert_nothing_left_to_do(site, published)


def test_an_edit_between_the_starts_is_published(tmp_path, photos):
    site = example_site(tmp_path, photos)

    def edit(i: int) -> None:
        if i == 1:
            retitle(site, "Thêm ba xã đạt chuẩn nông thôn mới nâng cao (đã sửa)")

    run_together(site, tmp_path, SEED + 1, between=edit)
    published = assert_published_like_clean(site, tmp_path)
    assert "(đã sửa)" in (site.public / ARTICLE_URL.strip("/") / "index.html").read_text(encoding="utf-8")
    assert_nothing_left_to_do(site, published)


@pytest.mark.parametrize("seed", range(3))
def test_builds_together_with_a_warm_photo_cache(tmp_path, photos, seed):
    site = example_site(tmp_path, photos)
    run_together(site, tmp_path, SEED + 10 + seed)
    assert_nothing_left_to_do(site, assert_published_like_clean(site, tmp_path))


# --- the lock held elsewhere ---------------------------------------------------------------------------------


def inodes_and_bytes(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_build_that_cannot_get_the_lock_fails_and_touches_nothing(tmp_path, photos):
    site = example_site(tmp_path, photos)
    assert site.cli("build").returncode == 0
    before = inodes_and_bytes(site.public)
    retitle(site, "Tiêu đề mới chưa được đăng")  # something a build would publish
    with site_lock(site.root, 0):
        started = time.monotonic()
        result = site.cli("build", "--wait", "1")
        waited = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    failure = [l for l in lines if "lỗi[LOCK001]" in l]
    assert len(failure) == 1 and failure[0].startswith(f"{LOCK_PATH}: lỗi[LOCK001]: "), result.stderr
    assert f"PID {os.getpid()}" in failure[0] and failure[0].endswith("[xem: sitegen help LOCK001]")
    assert "Dựng trang thất bại: 1 lỗi. Thư mục xuất cũ được giữ nguyên." in result.stderr
    assert any(l.startswith(WAITING) and "chờ tối đa 1 giây" in l for l in lines), result.stderr
    assert waited >= 1
    assert inodes_and_bytes(site.public) == before
    assert (site.root / LOCK_PATH).is_file()
    # With the lock free, the same command publishes the edit.
    assert site.cli("build", "--wait", "1").returncode == 0
    assert "Tiêu đề mới chưa được đăng" in (site.public / ARTICLE_URL.strip("/") / "index.html").read_text("utf-8")


def test_check_shares_the_lock(tmp_path, photos):
    site = example_site(tmp_path, photos)
    with site_lock(site.root, 0):
        result = site.cli("check", "--wait", "0.2")
    assert result.returncode == 1
    assert "lỗi[LOCK001]" in result.stderr and "chờ tối đa 0,2 giây" in result.stderr
    assert "Kiểm tra thấy 1 lỗi" in result.stderr
    assert site.cli("check", "--wait", "0").returncode == 0


def test_a_build_says_it_waits_then_builds(tmp_path, photos):
    site = example_site(tmp_path, photos)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with site_lock(site.root, 0):
        proc = subprocess.Popen([sys.executable, "-m", "sitegen", "build", "--source", str(site.root), "--wait", "120"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        first = proc.stderr.readline()  # blocks until the build has tried the lock
        assert first.startswith(WAITING) and f"PID {os.getpid()}" in first and "chờ tối đa 120 giây" in first, first
        time.sleep(0.5)
        assert proc.poll() is None  # still waiting
        assert not site.public.exists()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert out.startswith("Đã dựng "), out
    assert_published_like_clean(site, tmp_path)


def test_no_lock_and_no_folder_made_for_a_missing_site(tmp_path):
    missing = tmp_path / "khong-co"
    with site_lock(missing, 0):
        pass
    assert not missing.exists()


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from sitegen.build.lock import site_lock\n"
                               "with site_lock(Path(sys.argv[1]), 0):\n    print('held', flush=True); time.sleep(60)",
                               str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        messages: list[str] = []
        with pytest.raises(BuildFailed) as failed:
            with site_lock(tmp_path, 0.3, on_wait=messages.append):
                pass
        assert "LOCK001" in str(failed.value) and f"PID {holder.pid}" in str(failed.value)
        assert len(messages) == 1 and f"PID {holder.pid}" in messages[0]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with site_lock(tmp_path, 5):
        assert (tmp_path / LOCK_PATH).read_text().split()[0] == str(os.getpid())
    assert (tmp_path / LOCK_PATH).is_file()  # never deleted


# --- the preview ---------------------------------------------------------------------------------------------


def preview_title(base: str) -> str:
    status, body = fetch(base + ARTICLE_URL)
    found = re.search(r'<h1 class="article-title"[^>]*>([^<]*)<', body) if status == 200 else None
    return found.group(1) if found else f"HTTP {status}"


def test_a_build_during_a_preview_save(tmp_path, photos):
    site = example_site(tmp_path, photos)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "sitegen", "serve", "--source", str(site.root),
                                   "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(lambda: preview_title(base) == TITLE, timeout=60, what="the preview")
        retitle(site, "Ba xã đạt chuẩn nông thôn mới nâng cao: lưu khi đang dựng")
        built = site.cli("build")  # at once: the preview's rebuild for the save starts within its 30 ms debounce
        assert built.returncode == 0, built.stderr
        wait_for(lambda: preview_title(base) == "Ba xã đạt chuẩn nông thôn mới nâng cao: lưu khi đang dựng", timeout=60,
                 what="the saved title in the preview")
        assert server.poll() is None
    finally:
        interrupt(server)
    served = log.read_text(encoding="utf-8")
    assert "LOCK001" not in served and "Lỗi" not in served, served
    published = assert_published_like_clean(site, tmp_path)
    assert "lưu khi đang dựng" in published[ARTICLE_URL.strip("/") + "/index.html"].decode("utf-8")


def test_a_preview_rebuild_that_cannot_get_the_lock_keeps_the_last_preview(site, tmp_path):
    from sitegen.preview.server import Preview

    site.write("content/thoi-su/mot/index.md", article("Bài một"))
    site.write("content/thoi-su/hai/index.md", article("Bài hai"))
    logged: list[str] = []
    preview = Preview(site.root, tmp_path / "preview", log=logged.append, wait=0.2)
    assert preview.rebuild()
    page = tmp_path / "preview/thoi-su/mot/index.html"
    before = page.read_bytes()
    site.write("content/thoi-su/mot/index.md", article("Bài một đã sửa"))
    with site_lock(site.root, 0):
        assert not preview.rebuild(" (index.md)", [str(site.root / "content/thoi-su/mot/index.md")])
    assert [d.code for d in preview.errors] == ["LOCK001"]
    assert any(m.startswith(WAITING) for m in logged) and any("LOCK001" in m for m in logged)
    assert page.read_bytes() == before
    # The next save names another file; the one the failed rebuild was told of is still picked up.
    site.write("content/thoi-su/hai/index.md", article("Bài hai đã sửa"))
    assert preview.rebuild(" (index.md)", [str(site.root / "content/thoi-su/hai/index.md")])
    assert preview.errors == []
    assert "Bài một đã sửa" in page.read_text(encoding="utf-8")
    assert "Bài hai đã sửa" in (tmp_path / "preview/thoi-su/hai/index.html").read_text(encoding="utf-8")
