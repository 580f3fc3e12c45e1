"""An incremental build (with the cache, carrying unchanged pages over) must equal a clean build, byte for byte,
after every kind of change an editor or a site maintainer makes."""

from __future__ import annotations

import os
import shutil
import sys
import time

import pytest

from conftest import article, parse_html, shares_every_file, tree_snapshot
from sitegen.config import default_theme_dirs
from sitegen.build.write import ATTRIBUTE, MARKER


def snapshot(folder):
    return {k: v for k, v in tree_snapshot(folder).items() if k != MARKER}


@pytest.fixture
def news(site):
    site.write("site.toml", 'per_page = 3\n[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n'
                            '[[categories]]\nname = "Kinh tế"\nslug = "kinh-te"\n')
    for i in range(12):
        cat = "thoi-su" if i % 2 else "kinh-te"
        tags = '["nông thôn mới", "Quy Nhơn"]' if i % 3 else '["chuyển đổi số"]'
        site.write(f"content/{cat}/bai-{i:02d}/index.md",
                   article(f"Bài số {i}", date=f"2024-05-{i + 1:02d} 08:00", tags=tags, views=str(i * 10),
                           body=f"Đoạn đầu của bài {i}.\n\nĐoạn hai."))
    site.build(jobs=1)
    return site


def assert_same_as_clean(site, tmp_path, **kw):
    result = site.build(**kw)
    clean = tmp_path / "clean"
    shutil.rmtree(clean, ignore_errors=True)
    site.build(output=clean, use_cache=False, jobs=1)
    assert snapshot(site.public) == snapshot(clean)
    return result


def test_no_change_renders_nothing(news, tmp_path):
    result = assert_same_as_clean(news, tmp_path, jobs=1)
    assert result.rendered == 0
    assert result.stats.written == 0


def test_edit_body_rerenders_few_pages(news, tmp_path):
    news.write("content/kinh-te/bai-04/index.md",
               article("Bài số 4", date="2024-05-05 08:00", tags='["nông thôn mới", "Quy Nhơn"]', views="40",
                       body="Đoạn đầu đã sửa.\n\nĐoạn hai."))
    result = assert_same_as_clean(news, tmp_path, jobs=1)
    assert 0 < result.rendered < result.pages / 2


def test_add_and_delete_article(news, tmp_path):
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00", views="5"))
    assert_same_as_clean(news, tmp_path, jobs=1)
    (news.root / "content/thoi-su/bai-moi/index.md").unlink()
    (news.root / "content/thoi-su/bai-03/index.md").unlink()
    assert_same_as_clean(news, tmp_path, jobs=1)
    assert not (news.public / "thoi-su/bai-03").exists()


def test_rename_tag(news, tmp_path):
    for path in (news.root / "content/kinh-te/bai-00/index.md", news.root / "content/thoi-su/bai-03/index.md"):
        text = path.read_text(encoding="utf-8").replace("chuyển đổi số", "Chuyển đổi số quốc gia")
        path.write_text(text, encoding="utf-8")
    assert_same_as_clean(news, tmp_path, jobs=1)
    assert (news.public / "chu-de/chuyen-doi-so-quoc-gia/index.html").is_file()


def test_change_template(news, tmp_path):
    theme_templates = default_theme_dirs()[0]
    original = (theme_templates / "partials/macros.html").read_text(encoding="utf-8")
    news.write("templates/partials/macros.html", original.replace("Đọc nhiều nhất", "Xem nhiều"))
    result = assert_same_as_clean(news, tmp_path, jobs=1)
    assert result.rendered > 0
    assert "Xem nhiều" in (news.public / "index.html").read_text(encoding="utf-8")


def test_change_site_toml(news, tmp_path):
    news.write("site.toml", 'title = "Cổng tin mới"\nper_page = 5\n[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n'
                            '[[categories]]\nname = "Kinh tế"\nslug = "kinh-te"\n')  # (an undeclared one is an error)
    result = assert_same_as_clean(news, tmp_path, jobs=1)
    assert result.rendered == result.pages


def test_options_only_templates_read_keep_every_cache(news, tmp_path, monkeypatch):
    """The site's name, its line, author, copyright, the collector's address and [params] are read by templates
    alone, and every such read is recorded: changing them renders the pages that show them, from the cache (no
    body converted again), and a [params] value no template reads renders nothing. Any other option starts the
    caches afresh."""
    from sitegen.structure.markup import Renderer

    converted = []
    real = Renderer.render
    monkeypatch.setattr(Renderer, "render", lambda self, *a, **k: converted.append(1) or real(self, *a, **k))

    def build_then_clean() -> tuple:
        converted.clear()
        result = news.build(jobs=1)
        here = len(converted)
        clean = tmp_path / "clean"
        shutil.rmtree(clean, ignore_errors=True)
        news.build(output=clean, use_cache=False, jobs=1)
        assert snapshot(news.public) == snapshot(clean)
        return result, here

    toml = (news.root / "site.toml").read_text(encoding="utf-8")
    news.write("site.toml", toml + '[params]\nhotline = "0256 3822 222"\n')
    result, converted_here = build_then_clean()
    assert not result.skipped and result.rendered == 0 and result.stats.written == 0  # no template shows it
    assert converted_here == 0
    news.write("site.toml", 'title = "Cổng tin mới"\ncopyright = "© Báo Thử"\n' + toml)
    result, converted_here = build_then_clean()
    pages = [p for p in news.public.rglob("*.html") if not p.is_relative_to(news.public / "pagefind")]
    assert result.rendered >= len(pages) > 20  # every HTML page shows the site's name (its header)
    assert converted_here == 0
    footer = parse_html((news.public / "thoi-su/index.html").read_bytes()).find(".//footer")
    assert "© Báo Thử" in "".join(footer.itertext())
    news.write("site.toml", 'title = "Cổng tin mới"\nper_page = 4\n' + toml.replace("per_page = 3\n", ""))
    result, converted_here = build_then_clean()
    assert converted_here == result.articles == 12  # an option the build reads: a fresh cache


def test_parallel_equals_serial(news, tmp_path):
    for i in range(300):
        news.write(f"content/thoi-su/them-{i:03d}.md", article(f"Thêm {i}", date="2024-07-01 08:00"))
    news.build(jobs=2, use_cache=False, output=tmp_path / "par")
    news.build(jobs=1, use_cache=False, output=tmp_path / "ser")
    assert snapshot(tmp_path / "par") == snapshot(tmp_path / "ser")


def test_corrupt_cache_is_ignored(news, tmp_path):
    db = news.root / ".sitegen/cache/build.sqlite"
    assert db.is_file()
    db.write_bytes(b"this is not a database")
    for extra in ("-wal", "-shm"):
        p = db.with_name(db.name + extra)
        if p.exists():
            p.write_bytes(b"junk")
    assert_same_as_clean(news, tmp_path, jobs=1)


def test_a_cache_locked_by_another_process_is_left_alone_not_made_anew(news, tmp_path):
    """A cache file another process holds locked (SQLite's "database is locked", after its 5 s wait) is not the
    stale or broken file that is made anew: made anew, it lost what the other process (a preview's build run
    apart) was writing. This build goes without it (CACHE001) and equals a clean build; the file keeps its rows."""
    import sqlite3
    import subprocess
    import sys
    from contextlib import closing

    db = news.root / ".sitegen/cache/build.sqlite"

    def docs() -> int:
        with closing(sqlite3.connect(db)) as reader:
            return reader.execute("SELECT count(*) FROM docs").fetchone()[0]

    rows = docs()
    assert rows
    # A build leaves nothing open on its cache (its readers' connections were left to the cyclic collector).
    me = f"/proc/{os.getpid()}/fd"
    assert not [f for f in os.listdir(me) if os.path.exists(f"{me}/{f}") and os.readlink(f"{me}/{f}").startswith(str(db))]
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys\n"
        f"db = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "db.execute('PRAGMA locking_mode=EXCLUSIVE')\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        news.write("content/kinh-te/bai-04/index.md", article("Sửa khi bộ nhớ đệm bị khóa", date="2024-05-05 08:00"))
        result = assert_same_as_clean(news, tmp_path, jobs=1)
        assert any(d.code == "CACHE001" and "locked" in d.message for d in result.diagnostics), result.diagnostics
    finally:
        holder.stdin.close()
        holder.wait()
    assert docs() == rows


def test_deleted_output_is_rebuilt(news, tmp_path):
    shutil.rmtree(news.public)
    result = assert_same_as_clean(news, tmp_path, jobs=1)
    assert result.rendered == result.pages


def test_files_deleted_by_hand_from_the_output_are_made_again_and_stay_made(news, tmp_path):
    """`rm -r public/kinh-te`, one page, a file of the search index, between two builds: the next build says so and
    makes them again (it used to answer that nothing had changed), and the builds after it never carry the hole
    over from the tree that lost them, which is their spare (before, every other build published it again)."""
    settled_build(news, jobs=1)
    shard_file = next(p for p in (news.public / "pagefind").rglob("*") if p.is_file() and p.parent.name != "pagefind")
    deleted = {p.relative_to(news.public).as_posix() for p in (news.public / "kinh-te").rglob("*") if p.is_file()}
    deleted |= {"thoi-su/index.html", shard_file.relative_to(news.public).as_posix()}
    shutil.rmtree(news.public / "kinh-te")
    (news.public / "thoi-su/index.html").unlink()
    shard_file.unlink()
    result = assert_same_as_clean(news, tmp_path, jobs=1)
    assert not result.skipped and set(result.restored) == deleted
    again = settled_build(news, jobs=1)
    assert again.skipped and not again.restored
    news.write("content/kinh-te/bai-04/index.md",  # an edit build, into the tree that lost them
               article("Bài số 4", date="2024-05-05 08:00", tags='["nông thôn mới", "Quy Nhơn"]', views="40",
                       body="Đoạn đầu đã sửa.\n\nĐoạn hai."))
    time.sleep(0.06)  # (settled: see settled_build)
    assert assert_same_as_clean(news, tmp_path, jobs=1).edited
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00", views="5"))
    time.sleep(0.06)
    assert assert_same_as_clean(news, tmp_path, jobs=1).shifted
    (news.public / "kinh-te/index.html").unlink()  # beside an edit: the full build, not the edit build, runs
    news.write("content/kinh-te/bai-04/index.md",
               article("Bài số 4", date="2024-05-05 08:00", tags='["nông thôn mới", "Quy Nhơn"]', views="40",
                       body="Đoạn đầu sửa lần hai.\n\nĐoạn hai."))
    time.sleep(0.06)
    both = assert_same_as_clean(news, tmp_path, jobs=1)
    assert both.restored == ("kinh-te/index.html",) and not both.edited
    (news.public / "kinh-te/index.html").unlink()  # beside an addition: the full build, not the shift, runs
    news.write("content/thoi-su/bai-moi-2/index.md", article("Bài mới hai", date="2024-06-02 08:00"))
    time.sleep(0.06)
    added = assert_same_as_clean(news, tmp_path, jobs=1)
    assert added.restored == ("kinh-te/index.html",) and not added.edited
    (news.public / "thoi-su/index.html").unlink()
    cli = news.cli("build")  # and the command line says what it did
    assert cli.returncode == 0 and "1 tệp đã bị xóa khỏi" in cli.stdout and "thoi-su/index.html" in cli.stdout
    assert (news.public / "thoi-su/index.html").is_file()


# A build whose inputs are all unchanged since the last successful one stops before reading any article
# (sitegen.build.inputs). These tests wait out the racy window: a file changed within a few milliseconds of a build
# cannot be told apart from a later change by its timestamps, so such a build is never remembered as skippable.
def settled_build(site, **kw):
    time.sleep(0.06)
    return site.build(**kw)


def inodes(folder):
    return {p.relative_to(folder).as_posix(): p.stat().st_ino for p in folder.rglob("*") if p.is_file()}


def test_unchanged_inputs_skip_the_build_and_leave_the_output_alone(news, tmp_path):
    body = news.root / "content/kinh-te/bai-04/index.md"  # a change, so that the first build is never skipped
    body.write_text(body.read_text(encoding="utf-8").replace("Đoạn hai", "Đoạn ba"), encoding="utf-8")
    first = settled_build(news, jobs=1)
    before = inodes(news.public)
    again = news.build(jobs=1)
    assert again.skipped and not first.skipped
    assert (again.pages, again.articles, again.rendered) == (first.pages, first.articles, 0)
    assert inodes(news.public) == before  # not even swapped with the spare
    assert_same_as_clean(news, tmp_path, jobs=1)


@pytest.mark.parametrize("change", [
    "edit article", "touch article", "add photo", "new template", "edit asset", "site.toml", "strict", "drafts",
    "output replaced", "code", "library upgraded"])
def test_any_changed_input_builds_again(news, tmp_path, change, monkeypatch):
    settled_build(news, jobs=1)
    assert news.build(jobs=1).skipped
    kw = {"jobs": 1}
    body = news.root / "content/kinh-te/bai-04/index.md"
    if change == "edit article":
        body.write_text(body.read_text(encoding="utf-8").replace("Đoạn hai", "Đoạn ba"), encoding="utf-8")
    elif change == "touch article":
        body.touch()
    elif change == "add photo":
        news.write("content/kinh-te/bai-04/anh.txt", "not an article")
    elif change == "new template":
        news.write("templates/404.html", "{% extends 'base.html' %}{% block main %}<p>Không thấy</p>{% endblock %}")
    elif change == "edit asset":
        news.write("assets/css/extra.css", "body { color: #111 }\n")
    elif change == "site.toml":
        toml = news.root / "site.toml"
        toml.write_text('title = "Khác"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    elif change == "strict":
        kw["strict"] = True
    elif change == "drafts":
        kw["drafts"] = True
    elif change == "output replaced":
        (news.public / "sitegen-probe.txt").write_text("x")
        os.setxattr(news.public, ATTRIBUTE, b"someone-else")  # another build's token
    elif change == "code":
        import sitegen.build.inputs as inputs_mod
        code = tmp_path / "code"
        shutil.copytree(inputs_mod.CODE, code)
        (code / "extra.py").write_text("# a new module\n")
        original = inputs_mod.CODE
        inputs_mod.CODE = code
        try:
            assert not news.build(jobs=1).skipped
        finally:
            inputs_mod.CODE = original
        return
    elif change == "library upgraded":  # a newer Markdown, installed ahead of the one imported so far
        import sys
        ahead = tmp_path / "site-packages"
        (ahead / "Markdown-99.0.dist-info").mkdir(parents=True)
        monkeypatch.setattr(sys, "path", [str(ahead), *sys.path])
    result = news.build(**kw)
    assert not result.skipped
    if change in ("edit article", "site.toml", "output replaced"):
        if change == "output replaced":
            assert not (news.public / "sitegen-probe.txt").exists()
        assert_same_as_clean(news, tmp_path, **kw)


def test_scheduled_article_appears_without_any_edit(news, tmp_path):
    import datetime as dt

    tz = news.config().tz
    news.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date="2024-07-01 08:00"))
    before = dt.datetime(2024, 6, 30, 12, 0, tzinfo=tz)
    settled_build(news, jobs=1, now=before)
    assert news.build(jobs=1, now=before).skipped
    assert not (news.public / "thoi-su/hen-gio").exists()
    after = dt.datetime(2024, 7, 1, 8, 0, tzinfo=tz)
    result = news.build(jobs=1, now=after)
    assert not result.skipped
    assert (news.public / "thoi-su/hen-gio/index.html").is_file()
    clean = tmp_path / "clean"
    news.build(output=clean, use_cache=False, jobs=1, now=after)
    assert snapshot(news.public) == snapshot(clean)


def test_skipped_build_repeats_the_warnings(news):
    news.write("content/thoi-su/co-canh-bao/index.md",  # the headline of bai-01: a warning (META006) on both
               article("Bài số 1", date="2024-06-02 08:00"))
    first = settled_build(news, jobs=1)
    again = news.build(jobs=1)
    assert again.skipped
    assert [d.code for d in again.diagnostics] == [d.code for d in first.diagnostics] != []


def test_racy_inputs_are_not_remembered(news):
    from sitegen.build import inputs

    time.sleep(0.06)
    assert inputs.scan(news.config(), ())[0].key != ""
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00"))
    assert inputs.scan(news.config(), ())[0].key == ""  # changed a moment ago: a build now is not remembered
    assert not news.build(jobs=1).skipped
    time.sleep(0.06)
    assert inputs.scan(news.config(), ())[0].key != ""


def test_link_to_an_article_follows_its_new_address(news, tmp_path):
    """A body link written as a content path is rewritten to the target's URL: when the target's slug changes,
    the linking article's page must change with it, though its own file did not."""
    news.write("content/thoi-su/bai-lien-ket/index.md",
               article("Bài có liên kết", date="2024-06-03 08:00", body="Xem [bài số 4](../../kinh-te/bai-04/index.md)."))
    news.build(jobs=1)
    page = news.public / "thoi-su/bai-lien-ket/index.html"
    assert 'href="/kinh-te/bai-04/"' in page.read_text(encoding="utf-8")
    target = news.root / "content/kinh-te/bai-04/index.md"
    target.write_text(target.read_text(encoding="utf-8").replace('title: "Bài số 4"', 'title: "Bài số 4"\nslug: "bai-bon"'),
                      encoding="utf-8")
    assert_same_as_clean(news, tmp_path, jobs=1)
    assert 'href="/kinh-te/bai-bon/"' in page.read_text(encoding="utf-8")


def test_two_articles_with_the_same_bytes_keep_their_own_links(news, tmp_path):
    """A copied folder: the same file bytes in two places. Each body's relative links start from its own folder
    and each article's warnings name its own file, in the first build and from the cache."""
    text = article("Bản sao", date="2024-06-04 08:00", body="Xem [bài bên cạnh](../ben-canh/index.md).")
    news.write("content/thoi-su/ban-sao/index.md", text)
    news.write("content/kinh-te/ban-sao-2/index.md", text)
    news.write("content/thoi-su/ben-canh/index.md", article("Bên cạnh", date="2024-06-01 08:00"))
    news.write("content/kinh-te/ben-canh/index.md", article("Bên cạnh nháp", date="2024-06-01 08:00", draft="true"))
    for result in (news.build(jobs=1), assert_same_as_clean(news, tmp_path, jobs=1)):
        assert [(d.path, d.code) for d in result.diagnostics if d.code.startswith("LINK")] == [
            ("content/kinh-te/ban-sao-2/index.md", "LINK003")]  # links to a draft: a warning, in its own file
    assert 'href="/thoi-su/ben-canh/"' in (news.public / "thoi-su/ban-sao/index.html").read_text(encoding="utf-8")
    assert "/thoi-su/ben-canh/" not in (news.public / "kinh-te/ban-sao-2/index.html").read_text(encoding="utf-8")


def test_records_of_an_older_tree_are_never_trusted(news, tmp_path, monkeypatch):
    """A build killed after publishing but before saving what its pages read leaves the older build's records
    beside the newer tree: going back to the older content must not carry the newer pages over as they are."""
    from sitegen.build import stages

    before = (news.root / "content/kinh-te/bai-04/index.md").read_text(encoding="utf-8")
    news.write("content/kinh-te/bai-04/index.md", before.replace("Bài số 4", "Bài số 4 đã sửa"))
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00"))  # a full build
    time.sleep(0.06)

    def killed(*args):
        raise KeyboardInterrupt  # as if SIGKILL landed right after the swap

    # The records are written before the swap, in the transaction committed after it (stages.publish): the first
    # write after the swap stands for "killed before the commit", which leaves the older build's records.
    with monkeypatch.context() as m:
        m.setattr(stages, "_remember_trees", killed)
        with pytest.raises(KeyboardInterrupt):
            news.build(jobs=1)
    assert "Bài số 4 đã sửa" in (news.public / "kinh-te/bai-04/index.html").read_text(encoding="utf-8")
    news.write("content/kinh-te/bai-04/index.md", before)
    (news.root / "content/thoi-su/bai-moi/index.md").unlink()
    time.sleep(0.06)
    assert_same_as_clean(news, tmp_path, jobs=1)


def test_a_spare_nobody_remembers_keeps_the_files_it_shares_with_the_live_tree(news, tmp_path, monkeypatch):
    """After a killed build the spare tree is marked dirty: no manifest says what it holds. It still holds mostly
    the live tree's own files (the trees share every unchanged file), which stay as they are; only what differs
    is linked or written, nothing is left under a temporary name, and the site equals a clean build."""
    from sitegen.build import write

    news.write("content/kinh-te/bai-04/index.md", article("Bài số 4", date="2024-05-05 08:00", body="Sửa lần một."))
    settled_build(news, jobs=1)  # now the spare is the tree before, sharing most files with the live one
    spare = news.root / ".public.spare"
    write._mark(spare, write.DIRTY)  # as a build killed before its swap leaves it
    linked = []
    real_link = os.link
    monkeypatch.setattr(write.os, "link", lambda src, dst: linked.append(dst) or real_link(src, dst))
    news.write("content/kinh-te/bai-04/index.md", article("Bài số 4", date="2024-05-05 08:00", body="Sửa lần hai."))
    result = settled_build(news, jobs=1)
    files = sum(1 for p in news.public.rglob("*") if p.is_file())
    assert result.rendered and len(linked) < files / 4, (len(linked), files)
    assert not [p for p in news.public.rglob("*") if ".tmp" in p.name]
    monkeypatch.undo()
    clean = tmp_path / "clean"
    news.build(output=clean, use_cache=False, jobs=1)
    assert snapshot(news.public) == snapshot(clean)


def test_a_preview_readies_the_spare_so_that_its_next_save_links_only_what_it_changes(news, tmp_path, monkeypatch):
    """After a full build (a preview's first, an addition) nearly every file differs between the live tree and the
    spare, and the next save linked them all (3 s at 10 000 articles). While the editor pauses the preview makes
    the spare what the live tree holds (pipeline.ready_spare): then the save links nothing it did not change,
    and the site equals a clean build; stopped by a save, the spare is left for the next build to sort out."""
    from sitegen.build import write
    from sitegen.build.pipeline import Warm, build, ready_spare

    config = news.config()
    warm = Warm()  # a preview started on a site built before: its memory knows nothing of the spare
    build(config, warm=warm, jobs=1)
    spare = news.root / ".public.spare"
    assert not shares_every_file(news.public, spare)
    assert not ready_spare(config, warm, lambda: True)  # a save came at once: nothing done, the spare is dirty
    assert write.output_token(spare) == write.DIRTY
    assert ready_spare(config, warm, lambda: False)
    assert shares_every_file(news.public, spare)
    assert write.output_token(spare) in warm.tables["trees"]
    linked = []
    real_link = os.link
    monkeypatch.setattr(write.os, "link", lambda src, dst: linked.append(dst) or real_link(src, dst))
    path = news.root / "content/kinh-te/bai-04/index.md"
    news.write("content/kinh-te/bai-04/index.md", article("Bài số 4 đã sửa", date="2024-05-05 08:00", views="40",
                                                          tags='["nông thôn mới", "Quy Nhơn"]', body="Sửa."))
    result = build(config, warm=warm, jobs=1, changed=[str(path)])
    assert result.edited and result.rendered and not linked, linked
    monkeypatch.undo()
    clean = tmp_path / "clean"
    news.build(output=clean, use_cache=False, jobs=1)
    assert snapshot(news.public) == snapshot(clean)
    # A full build again (an article added), its spare readied, then a deletion: still a clean build's site.
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00", body="Mới."))
    build(config, warm=warm, jobs=1, changed=[str(news.root / "content/thoi-su/bai-moi/index.md")])
    assert ready_spare(config, warm, lambda: False) and shares_every_file(news.public, spare)
    shutil.rmtree(news.root / "content/thoi-su/bai-moi")
    build(config, warm=warm, jobs=1, changed=[str(news.root / "content/thoi-su/bai-moi")])
    shutil.rmtree(clean)
    news.build(output=clean, use_cache=False, jobs=1)
    assert snapshot(news.public) == snapshot(clean)


def test_a_preview_keeps_its_templates_compiled_when_articles_come_and_go(news, tmp_path):
    """Which files exist outside content/ decides whether a compiled template may now be overridden by a new one;
    articles coming and going do not (they made a preview compile every template again at each addition). A new
    site template still takes over at once."""
    from sitegen.build.pipeline import Warm, build

    config, warm = news.config(), Warm()
    build(config, warm=warm, jobs=1)
    env = warm.templates.env
    compiled = env.get_template("article.html")
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00", body="Mới."))
    build(config, warm=warm, jobs=1, changed=[str(news.root / "content/thoi-su/bai-moi/index.md")])
    assert warm.templates.env.get_template("article.html") is compiled
    news.write("templates/article.html", '{% extends "base.html" %}{% block main %}<h1>Riêng: {{ entry.title }}</h1>'
                                         '{% endblock %}')
    build(config, warm=warm, jobs=1, changed=[str(news.root / "templates/article.html")])
    assert warm.templates.env.get_template("article.html") is not compiled
    assert "Riêng: Bài mới" in (news.public / "thoi-su/bai-moi/index.html").read_text(encoding="utf-8")
    clean = tmp_path / "clean"
    news.build(output=clean, use_cache=False, jobs=1)
    assert snapshot(news.public) == snapshot(clean)


def test_a_kept_fragment_whose_reads_changed_while_no_page_used_it_is_not_taken_back(site, tmp_path):
    """Memoised fragments (an article's teaser) are kept between builds and taken wherever what they read is
    unchanged. Here B's teaser as a related article (A's page only) is used by no page while B's title changes
    (A lost the tag they shared), then used again (A has it back): it must show the new title, not the kept one."""
    site.write("site.toml", '[[categories]]\nname = "Kinh tế"\nslug = "kinh-te"\n'
                            '[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n')
    for i in range(3):
        site.write(f"content/kinh-te/bai-{i}/index.md", article(f"Bài kinh tế {i}", date=f"2024-05-0{i + 3} 08:00"))

    def write(tagged: bool, title: str) -> None:
        site.write("content/kinh-te/a/index.md", article("Bài A", date="2024-05-01 08:00",
                                                         **({"tags": '["hiếm"]'} if tagged else {})))
        site.write("content/thoi-su/b/index.md", article(title, date="2024-05-02 08:00", tags='["hiếm"]'))

    def related_of_a() -> str:
        doc = parse_html((site.public / "kinh-te/a/index.html").read_bytes())
        found = doc.find(".//section[@aria-labelledby='related-title']")
        return "".join(found.itertext()) if found is not None else ""

    write(True, "Tiêu đề cũ của B")
    assert_same_as_clean(site, tmp_path, jobs=1)
    assert "Tiêu đề cũ của B" in related_of_a()
    write(False, "Tiêu đề mới của B")
    assert_same_as_clean(site, tmp_path, jobs=1)
    assert "của B" not in related_of_a()
    write(True, "Tiêu đề mới của B")
    assert_same_as_clean(site, tmp_path, jobs=1)
    assert "Tiêu đề mới của B" in related_of_a()


def test_kept_fragments_no_page_uses_are_not_kept_for_ever(news, tmp_path):
    """Rows of fragments nobody uses (old arguments, old figures) accumulate between template changes: once they
    are well over what the fragments in use need, the table is started afresh (and the output stays right)."""
    import pickle
    import sqlite3

    db = news.root / ".sitegen/cache/build.sqlite"
    with sqlite3.connect(db) as conn:
        used = conn.execute("SELECT count(*) FROM fragments WHERE k LIKE 'o:%'").fetchone()[0]
        assert used > 0  # the theme's teasers and most-read block, kept by the first build
        conn.executemany("INSERT INTO fragments VALUES (?, ?)",
                         ((f"o:junk{i}", pickle.dumps("<p>cũ</p>")) for i in range(10_000)))
    # A build of the whole model counts them (Deps.fragments' `tidy`), whatever the timing: an article added with a
    # headline another has (its warning, META006, is the full build's to report). A plain addition is a shift when
    # the last build's files were settled as it walked, and that depended on the machine's speed.
    news.write("content/thoi-su/bai-moi/index.md", article("Bài số 3", date="2024-06-01 08:00"))
    assert not assert_same_as_clean(news, tmp_path, jobs=1).edited
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM fragments WHERE k LIKE 'o:junk%'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM fragments WHERE k LIKE 'o:%'").fetchone()[0] > 0  # made again


def test_an_addition_reads_the_kept_teasers_of_the_pages_it_shifts_at_once(news, tmp_path, monkeypatch):
    """An addition renders again every page of the listings it shifts; their teasers are kept fragments, each
    read from the cache where it still holds. They are read at once before the pages render (the ones their
    records say they used: Templates.prefetch_kept), not one query each as the pages come to them; those the
    records did not foresee (a teaser moved onto a page from the one before) are still read one by one."""
    from sitegen.build.cache import Reader

    one_by_one, at_once = [], []
    get, get_many = Reader.get, Reader.get_many
    monkeypatch.setattr(Reader, "get", lambda self, key: (one_by_one.append(key), get(self, key))[1])
    monkeypatch.setattr(Reader, "get_many", lambda self, keys: (at_once.extend(
        keys := [k for k in keys]), get_many(self, keys))[1])
    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00", views="5",
                                                           tags='["nông thôn mới"]'))
    result = assert_same_as_clean(news, tmp_path, jobs=1)
    taken = [k for k in at_once if k.startswith("o:")]
    assert result.rendered > 5 and len(taken) >= 5, (result.rendered, at_once)
    assert len([k for k in one_by_one if k.startswith("o:")]) < len(taken) / 2, (one_by_one, taken)


def test_the_walk_apart_answers_in_order_and_leaves_no_process():
    """workers.Aside: a forked task's answers come back in the order it yields them; a task that raises midway
    gives None from there on (its caller then does that part itself); `close` reaps the process, done or not.
    workers.Later: one answer, made apart, or here when the process gives none."""
    from sitegen.build import workers

    def task():
        yield {"first": list(range(5))}
        yield "x" * 200_000  # (bigger than a pipe's buffer)
        raise RuntimeError("the walk's process fails")

    if sys.platform != "linux" or workers.default_jobs() < 2:
        pytest.skip("the walk runs apart only on Linux, with a second core")
    aside = workers.Aside(task)
    assert aside.next() == {"first": [0, 1, 2, 3, 4]}
    assert aside.next() == "x" * 200_000
    assert aside.next() is None
    aside.close()
    unread = workers.Aside(lambda: iter(["y" * 1_000_000, "z"]))  # a build without changes reads none of it
    unread.close()
    # Its last answer read, the walk's process is ended without waiting (`close(wait=False)`): the next answer is
    # None, and the owner's `close()` reaps it, gone down by then or not.
    walk = workers.Aside(lambda: iter(["scan", "discovery", "never read"]))
    assert (walk.next(), walk.next()) == ("scan", "discovery")
    walk.close(wait=False)
    assert walk.next() is None and walk.ready()
    walk.close()
    here = os.getpid()
    apart = workers.Later(lambda: (os.getpid() != here, sum(range(10))))
    assert apart.result() == (True, 45)  # made apart; its process reaped by `close()`, as its owner does
    apart.close()
    # A process that dies gives no answer: the answer is made here instead.
    died = workers.Later(lambda: os._exit(9) if os.getpid() != here else "here")
    assert died.result() == "here"
    died.close()
    workers.Later(lambda: "never asked").close()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # (no child of this process is left, running or unreaped)


def test_a_few_slices_run_each_in_a_process_of_its_own_and_one_that_dies_is_made_here():
    """workers.stream with no more slices than workers (an addition's render): the first slice here, each other
    in a forked process; every slice's result reaches `consume` once, in slice order, a result of None too; a
    slice whose process dies is made here, one that raises raises here, and no process is left behind."""
    from sitegen.build import workers

    if sys.platform != "linux" or workers.default_jobs() < 2:
        pytest.skip("slices run apart only on Linux, with a second core")
    here = os.getpid()

    def run(task, count=250, jobs=2):  # (two slices of 125)
        got = []
        workers.stream(task, count, jobs, lambda start, result: got.append((start, result)), min_per_job=100)
        return got

    assert run(lambda a, b: (os.getpid() == here, sum(range(a, b)))) == [(0, (True, 7750)), (125, (False, 23375))]
    assert run(lambda a, b: None) == [(0, None), (125, None)]
    # A slice whose process dies (killed, out of memory) is made here: the same results.
    assert run(lambda a, b: os._exit(9) if os.getpid() != here else (a, b)) == [(0, (0, 125)), (125, (125, 250))]

    def fails(a, b):
        raise ValueError(f"slice {a}")

    with pytest.raises(ValueError, match="slice 0"):
        run(fails)
    with pytest.raises(ValueError, match="slice 125"):
        run(lambda a, b: (a, b) if a == 0 else fails(a, b))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # (no child of this process is left, running or unreaped)


def test_reading_ahead_stops_when_the_walk_answers_and_gives_what_reading_then_would():
    """cache.ReadAhead: reads until `ready()` says the walk has answered; `take` gives what a read read ahead (once),
    or reads it then; a read that fails stops the reading ahead, and is read then (meeting its failure there)."""
    from sitegen.build.cache import ReadAhead

    calls = []

    def read(name, fails=False):
        def f(cache):
            calls.append((name, cache))
            if fails:
                raise OSError(name)
            return f"{name} of {cache}"
        return f

    a, b, c = read("a"), read("b"), read("c")
    ahead = ReadAhead("ahead", (a, b, c))
    answered = iter([False, False, True])
    ahead.fill(lambda: next(answered))
    assert calls == [("a", "ahead"), ("b", "ahead")]  # (c: the walk had answered)
    assert ahead.take(b, "build") == "b of ahead" and ahead.take(c, "build") == "c of build"
    assert ahead.take(b, "build") == "b of build"  # (taken once: a second take reads)
    calls.clear()
    broken = read("broken", fails=True)
    ahead = ReadAhead("ahead", (a, broken, c))
    ahead.fill(lambda: False)
    assert calls == [("a", "ahead"), ("broken", "ahead")]
    with pytest.raises(OSError):
        ahead.take(broken, "build")
    ahead.close()
    assert ahead.take(a, "build") == "a of build"  # (closed: nothing read ahead is kept)
    calls.clear()
    held = iter([100, 120, 200, 400])  # the process's memory before reading, then before each read
    ahead = ReadAhead("ahead", (a, b, c))
    ahead.fill(lambda: False, budget=250, resident=lambda: next(held))
    assert calls == [("a", "ahead"), ("b", "ahead")]  # (c: 300 bytes more held than at the start, over budget)
    assert ahead.take(c, "build") == "c of build"


def test_a_walk_whose_process_dies_is_made_here(news, tmp_path, monkeypatch):
    """The build walks its inputs in a process of its own (pipeline._Walk). Should that process die, before its
    first answer or between its two, the build walks or discovers here instead: the same site as a clean build."""
    from sitegen.build import inputs
    from sitegen.content import discovery

    here = os.getpid()
    real_scan, real_discover = inputs.scan, discovery.discover

    def dying_scan(*args, **kwargs):
        if os.getpid() != here:
            os._exit(9)
        return real_scan(*args, **kwargs)

    def dying_discovery(*args, **kwargs):
        if os.getpid() != here:
            os._exit(9)
        return real_discover(*args, **kwargs)

    news.write("content/thoi-su/bai-moi/index.md", article("Bài mới", date="2024-06-01 08:00", views="5"))
    monkeypatch.setattr(inputs, "scan", dying_scan)
    assert_same_as_clean(news, tmp_path, jobs=1)
    monkeypatch.setattr(inputs, "scan", real_scan)
    monkeypatch.setattr(discovery, "discover", dying_discovery)
    news.write("content/kinh-te/bai-them/index.md", article("Bài thêm", date="2024-06-02 08:00", views="7"))
    result = assert_same_as_clean(news, tmp_path, jobs=1)
    assert result.articles == 14
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_an_edit_build_ends_the_walks_process_before_its_model(news, tmp_path, monkeypatch):
    """The walk's process waits to give discovery's answer, which only a shift or a full build reads: an edit build
    ends it once it knows what it is, before its model and render (at 100 000 articles that process holds some
    150 MB of walk), and renders the same site as a clean build."""
    from sitegen.build import stages, workers

    if sys.platform != "linux" or workers.default_jobs() < 2:
        pytest.skip("the walk runs apart only on Linux, with a second core")
    children = []
    real = stages.edited

    def edited(*args, **kwargs):
        try:
            children.append(os.waitpid(-1, os.WNOHANG))
        except ChildProcessError:
            children.append(None)  # (no child process left: the walk's has ended and been reaped)
        return real(*args, **kwargs)

    monkeypatch.setattr(stages, "edited", edited)
    news.write("content/kinh-te/bai-04/index.md",
               article("Bài số 4", date="2024-05-05 08:00", tags='["nông thôn mới", "Quy Nhơn"]', views="40",
                       body="Đoạn đầu đã sửa lần nữa.\n\nĐoạn hai."))
    result = assert_same_as_clean(news, tmp_path, jobs=1)
    assert result.edited and not result.shifted
    assert children == [None]
