"""Publishing never stalls on one person's mistake (issue 16, points 1, 2 and 6; sitegen/build/hold.py).

Through the CLI on real files: an article with errors of its own is held back (a new one not published, an edited
one at its last good version) while everything else publishes; drafts never stop a build; scheduled articles are
validated now, as the site will be when they fall due; one run lists every stage's problems. Whole-site errors and
`--strict` still publish nothing."""

from __future__ import annotations

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

import pytest

from PIL import Image

from conftest import article, tree_snapshot

from sitegen.content.schedule import when_vi

VN = ZoneInfo("Asia/Ho_Chi_Minh")
OK = "content/thoi-su/on-dinh/index.md"
NEW = "content/thoi-su/moi/index.md"
DRAFT = "content/kinh-te/nhap/index.md"
HELD = 3


def jpeg() -> bytes:
    import io

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def lines(stderr: str, code: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if f"[{code}]" in ln]


def titles(site) -> list[str]:
    return [el.text for el in site.html("index.html").iter("a") if el.text and el.text.startswith("Bài")]


@pytest.fixture
def portal(site):
    site.write("site.toml", 'search = false\n[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n'
                            '[[categories]]\nname = "Kinh tế"\nslug = "kinh-te"\n')
    site.write(OK, article("Bài ổn định", date="2024-03-01 08:00", body="Nội dung ổn định."))
    site.write("content/kinh-te/khac/index.md", article("Bài kinh tế", date="2024-03-02 08:00"))
    first = site.cli("build")
    assert first.returncode == 0, first.stderr
    return site


def test_a_new_article_with_a_missing_photo_is_held_back_and_everything_else_publishes(portal):
    portal.write(NEW, article("Bài mới có ảnh thiếu", date="2024-03-03 08:00", body="Chữ.\n\n![Ảnh](chua-chep.jpg)"))
    portal.write("content/kinh-te/them/index.md", article("Bài thêm đúng", date="2024-03-04 08:00"))
    result = portal.cli("build")
    assert result.returncode == HELD, result.stderr
    assert lines(result.stderr, "IMG001")[0].startswith(f"{NEW}:8: lỗi[IMG001]: không tìm thấy ảnh 'chua-chep.jpg'")
    assert lines(result.stderr, "HOLD001") == [
        f"{NEW}: cảnh báo[HOLD001]: bài chưa được xuất bản vì có 1 lỗi (cách sửa: sửa các lỗi của tệp này "
        "(liệt kê ở trên)) [xem: sitegen help HOLD001]"]
    assert result.stderr.rstrip().endswith(f"Giữ lại 1 bài có lỗi (các bài khác vẫn được xuất bản): {NEW}.")
    assert not (portal.public / "thoi-su/moi").exists()
    assert (portal.public / "kinh-te/them/index.html").is_file()  # the other new article is out
    assert "Bài mới có ảnh thiếu" not in (portal.public / "index.html").read_text(encoding="utf-8")
    # Copying the photo in publishes it on the next run.
    portal.write("content/thoi-su/moi/chua-chep.jpg", jpeg())
    fixed = portal.cli("build")
    assert fixed.returncode == 0, fixed.stderr
    assert (portal.public / "thoi-su/moi/index.html").is_file()


def test_an_edited_article_with_errors_keeps_its_last_good_version(portal):
    page = portal.public / "thoi-su/on-dinh/index.html"
    portal.write(OK, article("Bài ổn định đã sửa", date="2024-03-01 08:00", body="Xem [bài](../khong-co/index.md)."))
    portal.write("content/kinh-te/khac/index.md", article("Bài kinh tế đã sửa", date="2024-03-02 08:00"))
    result = portal.cli("build")
    assert result.returncode == HELD, result.stderr
    assert lines(result.stderr, "LINK001")[0].startswith(f"{OK}:6: lỗi[LINK001]")
    assert f"{OK}: cảnh báo[HOLD001]: bài vừa sửa có 1 lỗi: trang vẫn giữ bản đã xuất bản lần trước" in result.stderr
    shown = page.read_text(encoding="utf-8")  # the version readers had, not the broken one and not a gap
    assert "Nội dung ổn định." in shown and "khong-co" not in shown
    assert portal.html("thoi-su/on-dinh/index.html").find(".//h1").text.strip() == "Bài ổn định"
    home = (portal.public / "index.html").read_text(encoding="utf-8")
    assert "Bài ổn định" in home and "Bài ổn định đã sửa" not in home
    assert "Bài kinh tế đã sửa" in home  # the other editor's change went out
    again = portal.cli("build")  # nothing changed: the same answer, from the last build's memory
    assert again.returncode == HELD and f"{OK}: cảnh báo[HOLD001]" in again.stderr
    portal.write(OK, article("Bài ổn định đã sửa", date="2024-03-01 08:00", body="Đã sửa liên kết."))
    fixed = portal.cli("build")
    assert fixed.returncode == 0, fixed.stderr
    assert "Bài ổn định đã sửa" in (portal.public / "index.html").read_text(encoding="utf-8")


def test_an_unreadable_edit_of_a_published_article_keeps_the_published_one(portal):
    before = (portal.public / "thoi-su/on-dinh/index.html").read_bytes()
    portal.write(OK, '---\ntitle: Hội nghị: tổng kết\ndate: "2024-03-01 08:00"\n---\nx\n')
    result = portal.cli("build")
    assert result.returncode == HELD and lines(result.stderr, "FM002"), result.stderr
    assert (portal.public / "thoi-su/on-dinh/index.html").read_bytes() == before


@pytest.mark.parametrize("draft", [
    article("Bản nháp", date="2024-03-05 08:00", draft="true", photos='\n  - src: "chua-co.jpg"'),  # not copied yet
    '---\ntitle: Bản nháp: chưa xong\ndraft: true\ndate: "2024-03-05 08:00"\n---\nx\n',  # a YAML mistake
])
def test_a_broken_draft_never_stops_a_build_and_check_tells_its_author(portal, draft):
    portal.write(DRAFT, draft)
    portal.write(NEW, article("Bài mới đúng", date="2024-03-03 08:00"))
    result = portal.cli("build")
    assert result.returncode == 0, result.stderr
    assert (portal.public / "thoi-su/moi/index.html").is_file()
    assert not lines(result.stderr, "IMG001") and not lines(result.stderr, "FM002")  # the cron log stays quiet
    assert [ln.split(": ")[0] for ln in lines(result.stderr, "HOLD002")] == [DRAFT]
    check = portal.cli("check")
    assert check.returncode == 0, check.stderr
    assert any(ln.startswith(f"{DRAFT}:") and "lỗi[" in ln for ln in check.stderr.splitlines()), check.stderr
    assert "lỗi của bản nháp: 1, không chặn việc xuất bản" in check.stdout
    strict = portal.cli("build", "--strict")  # CI that wants the whole site or nothing still gets it
    assert strict.returncode == 1


def test_a_drafts_body_is_validated_for_its_author_and_only_a_line_in_the_build_log(portal):
    portal.write(DRAFT, article("Bản nháp", date="2024-03-05 08:00", draft="true",
                                body="![Ảnh](chua-co.jpg)\n\nXem [bài](../khong-co/index.md)."))
    check = portal.cli("check")
    assert check.returncode == 0, check.stderr
    found = sorted(ln.split(": ")[1].split("[")[1].split("]")[0] for ln in check.stderr.splitlines()
                   if ln.startswith(DRAFT + ":") and ": lỗi[" in ln)
    assert found == ["IMG001", "LINK001"], check.stderr
    assert "khi bản nháp được đăng: " in check.stderr
    build = portal.cli("build")
    assert build.returncode == 0, build.stderr
    assert [ln.split(": ")[0] for ln in build.stderr.splitlines() if "]: " in ln] == [DRAFT]  # HOLD002 alone
    assert "bản nháp có 2 lỗi" in build.stderr
    assert portal.cli("build", "--strict").returncode == 0  # CI's strict build does not fail on a draft's body


def test_a_template_error_still_publishes_nothing(portal):
    before = tree_snapshot(portal.public)
    portal.write(NEW, article("Bài mới", date="2024-03-03 08:00"))
    portal.write("templates/article.html", "{% extends 'base.html' %}{% block main %}{{ entry.title.khong_co() }}"
                                           "{% endblock %}")
    result = portal.cli("build")
    assert result.returncode == 1 and lines(result.stderr, "TPL001"), result.stderr
    assert tree_snapshot(portal.public) == before


def test_strict_holds_nothing_back(portal):
    before = tree_snapshot(portal.public)
    portal.write(NEW, article("Bài mới có ảnh thiếu", date="2024-03-03 08:00", body="![Ảnh](chua-chep.jpg)"))
    result = portal.cli("build", "--strict")
    assert result.returncode == 1 and lines(result.stderr, "IMG001") and not lines(result.stderr, "HOLD001")
    assert tree_snapshot(portal.public) == before


def test_one_run_lists_every_problem(portal):
    """A missing photo used to stop the run before links were checked: the broken link came in a second wave."""
    portal.write(NEW, article("Bài mới", date="2024-03-03 08:00",
                              body="![Ảnh](chua-chep.jpg)\n\nXem [bài](../khong-co/index.md)."))
    portal.write("content/kinh-te/hai/index.md", article("Hai", date="2024-03-04 08:00", slug='"khac"'))
    check = portal.cli("check")
    codes = sorted({ln.split("[")[1].split("]")[0] for ln in check.stderr.splitlines() if "]: " in ln})
    assert codes == ["HOLD001", "IMG001", "LINK001", "ROUTE001"], check.stderr
    assert check.returncode == HELD
    printed = [ln for ln in check.stderr.splitlines() if "]: " in ln]
    assert printed == sorted(printed, key=lambda ln: (ln.split(":")[0], ln))  # one sorted list, file by file


@pytest.mark.parametrize("bad, good, code", [
    (('title: "Bài có lỗi"', 'category: "Thi đau"'), ('title: "Bài có lỗi"', 'category: "Thời sự"'), "META004"),
    (('title: "Bài có lỗi"', 'views: "nhiều"'), ('title: "Bài có lỗi"', "views: 5"), "META002"),
    (('title: ""', 'author: "Lê Hà"'), ('title: "Bài có lỗi"', 'author: "Lê Hà"'), "META001"),
])
def test_a_front_matter_error_does_not_hide_the_body_s_problems(portal, bad, good, code):
    """An article whose front matter has an error of its own is not published, but its photos and links are
    checked in the same run: fixing the field must not uncover a second wave of errors."""
    body = "Đoạn đầu.\n\n![Ảnh](chua-chep.jpg)\n\nXem [bài](../khong-co/index.md)."

    def source(fields: tuple[str, str]) -> str:  # the body starts on the same line either way
        return f'---\n{fields[0]}\ndate: "2024-03-03 08:00"\n{fields[1]}\n---\n\n{body}\n'

    def errors(stderr: str) -> set[tuple[str, str]]:
        return {(ln.split("[")[1].split("]")[0], ln.split(":")[1]) for ln in stderr.splitlines()
                if ln.startswith(NEW + ":") and "lỗi[" in ln}

    portal.write(NEW, source(bad))
    first = portal.cli("check")
    assert first.returncode == HELD, first.stderr
    found = errors(first.stderr)
    assert {c for c, _ in found} == {code, "IMG001", "LINK001"}, first.stderr
    assert ("IMG001", "9") in found and ("LINK001", "11") in found  # the body's own lines
    assert not [ln for ln in first.stderr.splitlines() if "khi b" in ln]  # about now, not a later time
    assert portal.cli("build").returncode == HELD
    assert not (portal.public / "thoi-su/moi").exists()
    portal.write(NEW, source(good))  # the field fixed: the rest of the list, nothing new
    second = portal.cli("check")
    assert errors(second.stderr) == {c for c in found if c[0] != code}, second.stderr


# --- scheduled articles: validated now, as the site will be when they fall due ------------------------------------

def _at(seconds: float) -> str:
    return (dt.datetime.now(VN) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def test_a_scheduled_article_with_a_broken_link_is_reported_now_and_held_when_due(portal):
    due = _at(12)
    portal.write(NEW, article("Bài hẹn giờ", date=due, body="Xem [bài](../khong-co/index.md)."))
    check = portal.cli("check")
    assert check.returncode == HELD, check.stderr
    link = lines(check.stderr, "LINK001")
    assert len(link) == 1 and link[0].startswith(f"{NEW}:6: lỗi[LINK001]: khi bài lên trang (")
    hold = lines(check.stderr, "HOLD001")[0]
    assert hold.startswith(f"{NEW}: cảnh báo[HOLD001]: bài hẹn giờ đăng lúc ") and "sẽ không được đăng" in hold
    planned = portal.cli("schedule")
    assert planned.returncode == 0, planned.stderr
    assert "có lỗi: LINK001" in planned.stdout and "Bài hẹn giờ" in planned.stdout
    machine = json.loads(portal.cli("schedule", "--json").stdout)
    assert machine["events"][0]["ready"] is False and machine["events"][0]["errors"] == ["LINK001"]
    build = portal.cli("build")
    assert build.returncode == HELD and lines(build.stderr, "LINK001"), build.stderr
    time.sleep(max(0.0, (dt.datetime.strptime(due, "%Y-%m-%d %H:%M:%S").replace(tzinfo=VN)
                         - dt.datetime.now(VN)).total_seconds()) + 1)
    portal.write("content/kinh-te/khac/index.md", article("Bài kinh tế mới sửa", date="2024-03-02 08:00"))
    when_due = portal.cli("build")
    assert when_due.returncode == HELD, when_due.stderr
    assert f"{NEW}: cảnh báo[HOLD001]: bài chưa được xuất bản vì có 1 lỗi" in when_due.stderr
    assert not (portal.public / "thoi-su/moi").exists()
    assert "Bài kinh tế mới sửa" in (portal.public / "index.html").read_text(encoding="utf-8")


def test_a_link_to_an_article_due_later_is_broken_at_its_time_and_the_other_way_is_fine(portal):
    early, late = _at(3600), _at(7200)
    portal.write("content/thoi-su/som/index.md", article("Bài sớm", date=early, body="Xem [bài muộn](../muon/index.md)."))
    portal.write("content/thoi-su/muon/index.md", article("Bài muộn", date=late, body="Xem [bài sớm](../som/index.md)."))
    check = portal.cli("check")
    # As for a published article linking to a scheduled one: a warning (LINK003), the link works a little later.
    assert [ln.split(":")[0] for ln in lines(check.stderr, "LINK003")] == ["content/thoi-su/som/index.md"]
    assert "khi bài lên trang (" in lines(check.stderr, "LINK003")[0] and not lines(check.stderr, "LINK001")
    planned = portal.cli("schedule").stdout
    row = {ln.split("(content/")[1].rstrip(")"): ln for ln in planned.splitlines() if "(content/" in ln}
    assert "sẵn sàng (cảnh báo: LINK003)  Bài sớm" in row["thoi-su/som/index.md"], planned
    assert "  sẵn sàng  " in row["thoi-su/muon/index.md"] and "cảnh báo" not in row["thoi-su/muon/index.md"]
    ready = json.loads(portal.cli("schedule", "--json").stdout)["events"]
    assert [(e["source"], e["ready"], e["warnings"]) for e in ready] == [
        ("content/thoi-su/som/index.md", True, ["LINK003"]), ("content/thoi-su/muon/index.md", True, [])]


# --- issue 17, item 7: a clock set backwards ----------------------------------------------------------------------

def test_a_clock_set_backwards_stops_the_build_instead_of_unpublishing(portal):
    """The last build's time is remembered; here it is moved 31 years ahead, which is what the next build sees when
    the machine's clock falls back 31 years (a dead clock battery)."""
    from sitegen import config as config_mod
    from sitegen.build.cache import Cache

    cfg = config_mod.load(portal.root)
    cache = Cache(portal.root / ".sitegen" / "cache", cfg.fingerprint)
    last = cache.get_many("meta", ["clock"])["clock"]
    cache.put_many("meta", {"clock": last.replace(year=last.year + 31)})
    cache.close()
    before = tree_snapshot(portal.public)
    portal.write(NEW, article("Bài mới", date="2024-03-03 08:00"))
    result = portal.cli("build")
    assert result.returncode == 1, result.stderr
    line = lines(result.stderr, "CLOCK001")[0]
    assert line.startswith("site: lỗi[CLOCK001]: đồng hồ của máy đang chỉ ") and "sớm hơn lần dựng trước" in line
    assert tree_snapshot(portal.public) == before  # nothing unpublished


# --- issue 17 leftover: an article that has expired by the time a scheduled one falls due is gone for it ---------

EXPIRING = "content/thoi-su/het-han/index.md"
LINKS_TO_IT = "Xem [bài cũ](../het-han/index.md) và [địa chỉ của nó](/thoi-su/het-han/).\n"


def _then(site, text: str) -> str:
    """The prefix of what ahead validation finds for an article due at `text` ('2026-12-02 23:10:05')."""
    moment = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=VN)
    return f"khi bài lên trang ({when_vi(moment, site.config())}): "


def _link_lines(stderr: str, path: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(path + ":") and "[LINK00" in ln]


def test_a_link_to_an_article_expired_by_then_is_reported_now_and_one_due_before_is_fine(portal):
    early, expires, late = _at(1800), _at(3600), _at(7200)
    portal.write(EXPIRING, article("Bài sắp hết hạn", date="2024-03-05 08:00", expires=f'"{expires}"'))
    portal.write("content/thoi-su/som/index.md", article("Bài đăng trước khi hết hạn", date=early, body=LINKS_TO_IT))
    portal.write("content/thoi-su/muon/index.md", article("Bài đăng sau khi hết hạn", date=late, body=LINKS_TO_IT))
    check = portal.cli("check")
    assert check.returncode == HELD, check.stderr
    assert _link_lines(check.stderr, "content/thoi-su/som/index.md") == []  # the article is still there at its time
    then = _then(portal, late)
    assert _link_lines(check.stderr, "content/thoi-su/muon/index.md") == [
        # By its address: no page there any more (an error: the reader would get a 404); by its file: the file is
        # still in content/, as for any unpublished article (a warning, as the build at that time will say).
        f"content/thoi-su/muon/index.md:6: lỗi[LINK001]: {then}liên kết '/thoi-su/het-han/' hỏng: không có trang "
        "nào ở địa chỉ này (cách sửa: liên kết tới bài khác bằng đường dẫn tệp, ví dụ [..](../bai-khac/index.md), "
        "hoặc địa chỉ bắt đầu bằng '/'; kiểm tra tên thư mục và chính tả) [xem: sitegen help LINK001]",
        f"content/thoi-su/muon/index.md:6: cảnh báo[LINK003]: {then}liên kết '../het-han/index.md' hỏng: bài này "
        "chưa được xuất bản (nháp, hẹn giờ, hết hạn hoặc đang có lỗi) (cách sửa: xuất bản bài đích trước, hoặc bỏ "
        "liên kết) [xem: sitegen help LINK003]"]
    assert check.stdout.strip().endswith("sẽ bị giữ lại (các bài khác vẫn được xuất bản): content/thoi-su/muon/index.md.")
    rows = json.loads(portal.cli("schedule", "--json").stdout)["events"]
    assert [(e["source"], e["action"], e.get("errors")) for e in rows] == [
        ("content/thoi-su/som/index.md", "publish", []), (EXPIRING, "expire", None),
        ("content/thoi-su/muon/index.md", "publish", ["LINK001"])]
    first = portal.cli("build")  # its findings ahead are remembered in the build cache
    assert first.returncode == HELD and _link_lines(first.stderr, "content/thoi-su/muon/index.md"), first.stderr
    # Expiring later than the scheduled article falls due: nothing to report, remembered findings notwithstanding.
    portal.write(EXPIRING, article("Bài sắp hết hạn", date="2024-03-05 08:00", expires=f'"{_at(9000)}"'))
    again = portal.cli("build")
    assert again.returncode == 0, again.stderr
    assert _link_lines(again.stderr, "content/thoi-su/muon/index.md") == []


def test_what_check_says_ahead_of_an_expiry_is_what_the_build_says_when_the_time_comes(portal):
    expires, due = _at(12), _at(16)
    portal.write(EXPIRING, article("Bài sắp hết hạn", date="2024-03-05 08:00", expires=f'"{expires}"'))
    portal.write(NEW, article("Bài hẹn giờ", date=due, body=LINKS_TO_IT))
    ahead = _link_lines(portal.cli("check").stderr, NEW)
    prefix = _then(portal, due)
    assert len(ahead) == 2 and all(prefix in ln for ln in ahead), ahead
    time.sleep(max(0.0, (dt.datetime.strptime(due, "%Y-%m-%d %H:%M:%S").replace(tzinfo=VN)
                         - dt.datetime.now(VN)).total_seconds()) + 1)
    when_due = portal.cli("build")
    assert when_due.returncode == HELD, when_due.stderr
    assert _link_lines(when_due.stderr, NEW) == [ln.replace(prefix, "") for ln in ahead]
    assert not (portal.public / "thoi-su/het-han").exists() and not (portal.public / "thoi-su/moi").exists()


def test_the_address_of_an_article_expired_by_then_is_free_for_a_scheduled_one(portal):
    portal.write(EXPIRING, article("Bài sắp hết hạn", date="2024-03-05 08:00", expires=f'"{_at(3600)}"'))
    portal.write(NEW, article("Bài thay thế", date=_at(7200), slug='"het-han"'))
    check = portal.cli("check")
    assert check.returncode == 0 and "[ROUTE" not in check.stderr, check.stderr
    portal.write(EXPIRING, article("Bài sắp hết hạn", date="2024-03-05 08:00", expires=f'"{_at(9000)}"'))
    taken = [ln for ln in portal.cli("check").stderr.splitlines() if "[ROUTE001]" in ln]
    assert len(taken) == 1 and taken[0].startswith(f"{NEW}:") and "lỗi[ROUTE001]: khi bài lên trang (" in taken[0], taken


# --- issue 17, last point: the photos of an article expired by then are gone with it -------------------------------

PHOTO = "content/thoi-su/het-han/anh.jpg"
SHOWS_PHOTO = "![Ảnh của bài sắp hết hạn](anh.jpg)"
LINKS_TO_PHOTO = "Xem [ảnh](../het-han/anh.jpg).\n\nVà [bản lớn của ảnh](/thoi-su/het-han/anh-64.jpg).\n"
NOT_PUBLISHED = "tệp này không được xuất bản (chỉ ảnh mà bài dùng mới được đưa lên trang)"
NO_PAGE = "không có trang nào ở địa chỉ này"


def _link_findings(diagnostics, path: str) -> list[tuple[int, str, str, str]]:
    return [(d.line, d.severity, d.code, d.message) for d in diagnostics if d.path == path and d.code.startswith("LINK")]


def _ahead_and_then(site, due: str, path: str) -> tuple[list, list]:
    """The link findings for `path` of a build now (ahead: each with its prefix, taken off here) and of a build at
    `due`, when it is published. The build at `due` comes last: a build now after it would be the clock going back."""
    prefix = _then(site, due)
    ahead = _link_findings(site.build(jobs=1).diagnostics, path)
    assert all(message.startswith(prefix) for *_, message in ahead), ahead
    moment = dt.datetime.strptime(due, "%Y-%m-%d %H:%M:%S").replace(tzinfo=VN)
    then = _link_findings(site.build(jobs=1, now=moment).diagnostics, path)
    return [(line, severity, code, message[len(prefix):]) for line, severity, code, message in ahead], then


def _expiring_photo(portal, expired_by_then: bool, photo: bytes) -> str:
    """An article showing PHOTO that expires before (or after) a scheduled article's time, which is returned."""
    due = _at(7200)
    expires = _at(3600) if expired_by_then else _at(9000)
    portal.write(PHOTO, photo)
    portal.write(EXPIRING, article("Bài sắp hết hạn", date="2024-03-05 08:00", expires=f'"{expires}"', body=SHOWS_PHOTO))
    return due


@pytest.mark.parametrize("expired_by_then", [True, False], ids=["expired-by-then", "still-there-then"])
def test_a_link_to_a_photo_of_an_article_expired_by_then_is_reported_now_as_the_build_then_reports_it(
        portal, expired_by_then):
    due = _expiring_photo(portal, expired_by_then, jpeg())
    portal.write(NEW, article("Bài hẹn giờ", date=due, body=LINKS_TO_PHOTO))
    ahead, then = _ahead_and_then(portal, due, NEW)
    # By its file: a file in content/ that no article publishes then; by its address: a folder gone with the article.
    expected = [(6, "error", "LINK001", f"liên kết '../het-han/anh.jpg' hỏng: {NOT_PUBLISHED}"),
                (8, "error", "LINK001", f"liên kết '/thoi-su/het-han/anh-64.jpg' hỏng: {NO_PAGE}")]
    assert then == (expected if expired_by_then else [])
    assert ahead == then


def test_a_photo_that_an_article_staying_on_publishes_too_is_still_published_then(portal):
    due = _at(7200)
    portal.write(PHOTO, jpeg())
    portal.write(EXPIRING, article("Bài sắp hết hạn", date="2024-03-05 08:00", expires=f'"{_at(3600)}"', body=SHOWS_PHOTO))
    other = "content/kinh-te/cung-anh/index.md"
    portal.write(other, article("Bài dùng chung ảnh", date="2024-03-04 08:00", body="Chưa có ảnh."))
    portal.write(NEW, article("Bài hẹn giờ", date=due,
                              body=LINKS_TO_PHOTO + "\nHay [bản của bài kia](/kinh-te/cung-anh/anh-64.jpg).\n"))
    alone = _link_findings(portal.build(jobs=1).diagnostics, NEW)
    assert [(line, code) for line, _, code, _ in alone] == [(6, "LINK001"), (8, "LINK001"), (10, "LINK001")], alone
    # The other article shows the photo now: the findings remembered ahead are not kept (today's site is the same
    # to its links, whose first copy of the photo is still the expiring article's).
    portal.write(other, article("Bài dùng chung ảnh", date="2024-03-04 08:00",
                                body="![Ảnh dùng chung](../../thoi-su/het-han/anh.jpg)"))
    ahead, then = _ahead_and_then(portal, due, NEW)
    # The file is still published (beside the other article, where a link to it then leads); the expired article's
    # copy is not, and the other article's copy is then the photo's address.
    assert then == [(8, "error", "LINK001", f"liên kết '/thoi-su/het-han/anh-64.jpg' hỏng: {NO_PAGE}")]
    assert ahead == then


def test_a_scheduled_article_showing_a_photo_of_an_article_expired_by_then_publishes_its_own_copy(portal):
    due = _at(7200)
    portal.write(PHOTO, jpeg())
    portal.write(EXPIRING, article("Bài sắp hết hạn", date="2024-03-05 08:00", expires=f'"{_at(3600)}"', body=SHOWS_PHOTO))
    portal.write(NEW, article("Bài hẹn giờ", date=due, body="![Ảnh mượn](../het-han/anh.jpg)\n\nXem [ảnh](../het-han/anh.jpg).\n"))
    ahead, then = _ahead_and_then(portal, due, NEW)
    assert ahead == then == []
    assert (portal.public / "thoi-su/moi/anh-64.jpg").is_file() and not (portal.public / "thoi-su/het-han").exists()


def test_the_photo_of_a_scheduled_article_expired_by_a_later_ones_time_stays_only_where_another_publishes_it(portal):
    due = _at(10800)
    portal.write("content/thoi-su/ngan-ngay/anh.jpg", jpeg())
    portal.write("content/thoi-su/ngan-ngay/index.md", article("Bài hẹn giờ ngắn ngày", date=_at(3600),
                                                               expires=f'"{_at(7200)}"', body="![Ảnh riêng](anh.jpg)"))
    portal.write("content/kinh-te/cung-anh/index.md", article("Bài dùng chung ảnh", date="2024-03-04 08:00",
                                                               body="![Ảnh dùng chung](../../thoi-su/ngan-ngay/anh.jpg)"))
    portal.write(NEW, article("Bài hẹn giờ sau", date=due, body="Xem [ảnh](../ngan-ngay/anh.jpg).\n\n"
                              "Và [bản lớn](/thoi-su/ngan-ngay/anh-64.jpg), [bản kia](/kinh-te/cung-anh/anh-64.jpg).\n"))
    ahead, then = _ahead_and_then(portal, due, NEW)
    assert then == [(8, "error", "LINK001", f"liên kết '/thoi-su/ngan-ngay/anh-64.jpg' hỏng: {NO_PAGE}")]
    assert ahead == then


def wide_jpeg() -> bytes:
    """Narrower than the largest default width (1600): variants 480, 960 and its own 1000, JPEG and WebP each."""
    import io

    out = io.BytesIO()
    Image.new("RGB", (1000, 500), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize("expired_by_then", [True, False], ids=["expired-by-then", "still-there-then"])
def test_a_link_to_a_smaller_variant_of_a_photo_of_an_article_expired_by_then_is_reported_now_as_then(
        portal, expired_by_then):
    due = _expiring_photo(portal, expired_by_then, wide_jpeg())
    portal.write("content/kinh-te/cung-anh/index.md", article("Bài dùng chung ảnh", date="2024-03-04 08:00",
                                                               body="![Ảnh dùng chung](../../thoi-su/het-han/anh.jpg)"))
    portal.write(NEW, article("Bài hẹn giờ", date=due, body="Xem [bản nhỏ](/thoi-su/het-han/anh-480.jpg).\n\n"
                              "Và [bản WebP](/thoi-su/het-han/anh-960.webp), [bản kia](/kinh-te/cung-anh/anh-480.webp).\n"))
    ahead, then = _ahead_and_then(portal, due, NEW)
    # The expired article's variants go with its folder; the other article's copy of the photo stays.
    expected = [(6, "error", "LINK001", f"liên kết '/thoi-su/het-han/anh-480.jpg' hỏng: {NO_PAGE}"),
                (8, "error", "LINK001", f"liên kết '/thoi-su/het-han/anh-960.webp' hỏng: {NO_PAGE}")]
    assert then == (expected if expired_by_then else [])
    assert ahead == then
    assert (portal.public / "kinh-te/cung-anh/anh-480.webp").is_file()
    assert (portal.public / "thoi-su/het-han/anh-480.jpg").is_file() == (not expired_by_then)
    assert (portal.public / "thoi-su/moi/index.html").is_file() == (not expired_by_then)


def test_a_scheduled_articles_photo_replaced_by_a_smaller_one_is_seen_by_the_links_to_its_variants(portal):
    """What ahead validation found is remembered while neither today's site nor the scheduled articles change: a
    photo of one of them is part of it (its size says which variants it has), though no article's text changed."""
    early, due = _at(3600), _at(7200)
    portal.write("content/thoi-su/som/anh.jpg", wide_jpeg())
    portal.write("content/thoi-su/som/index.md", article("Bài hẹn giờ sớm", date=early, body="![Ảnh](anh.jpg)"))
    portal.write(NEW, article("Bài hẹn giờ", date=due, body="Xem [bản WebP](/thoi-su/som/anh-960.webp).\n"))
    assert _link_findings(portal.build(jobs=1).diagnostics, NEW) == []
    small = portal.root / "content/thoi-su/som/anh.jpg"
    Image.new("RGB", (400, 200), (200, 30, 30)).save(small, "JPEG")  # variants 400 px wide only
    ahead, then = _ahead_and_then(portal, due, NEW)
    assert then == [(6, "error", "LINK001", f"liên kết '/thoi-su/som/anh-960.webp' hỏng: {NO_PAGE}")]
    assert ahead == then


@pytest.mark.parametrize("edited", [False, True])
def test_a_scheduled_article_that_falls_due_with_an_error_is_not_published_as_if_it_had_been(portal, edited):
    """Its last good version is the scheduled one, which no build published: an error found when it falls due
    (the article it links to was deleted in between) leaves it out, as a new article, instead of publishing that
    version with the broken link as "kept as published"."""
    due = dt.datetime(2030, 1, 1, 10, 0, tzinfo=VN)
    portal.write("content/thoi-su/dich/index.md", article("Bài đích", date="2024-03-03 08:00"))
    portal.write(NEW, article("Bài hẹn giờ", date="2030-01-01 10:00", body="Xem [bài đích](../dich/index.md)."))
    before = portal.build(now=due - dt.timedelta(hours=1))
    assert not [d for d in before.diagnostics if d.severity == "error"], before.diagnostics
    assert not (portal.public / "thoi-su/moi").exists()
    (portal.root / "content/thoi-su/dich/index.md").unlink()
    if edited:
        portal.write(NEW, article("Bài hẹn giờ đã sửa", date="2030-01-01 10:00", body="Xem [bài đích](../dich/index.md)."))
    when_due = portal.build(now=due + dt.timedelta(hours=1))
    notes = [d for d in when_due.diagnostics if d.code == "HOLD001"]
    assert [(d.path, d.message) for d in notes] == [(NEW, "bài chưa được xuất bản vì có 1 lỗi")]
    assert not (portal.public / "thoi-su/moi").exists()
    assert "Bài hẹn giờ" not in (portal.public / "index.html").read_text(encoding="utf-8")
    assert "Bài ổn định" in (portal.public / "index.html").read_text(encoding="utf-8")


def test_a_draft_published_with_an_error_is_said_to_be_unpublished_not_kept(portal):
    """Its last good version is a draft, which no build published: the line says it was not published."""
    portal.write(DRAFT, article("Bài nháp", date="2024-03-04 08:00", draft="true"))
    assert portal.cli("build").returncode == 0
    portal.write(DRAFT, article("Bài nháp", date="2024-03-04 08:00", body="Xem [bài](../khong-co/index.md)."))
    build = portal.cli("build")
    assert build.returncode == HELD, build.stderr
    assert [ln.split(" (cách sửa")[0] for ln in lines(build.stderr, "HOLD001")] == [
        f"{DRAFT}: cảnh báo[HOLD001]: bài chưa được xuất bản vì có 1 lỗi"]
    assert not (portal.public / "kinh-te/nhap").exists()
