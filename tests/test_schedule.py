"""Scheduled publishing: future articles wait for their time (shown, marked, in preview), `expires` takes
articles down, and `sitegen schedule` says when the next rebuild is due."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from conftest import article, parse_html, text_of

from sitegen.diagnostics import Reporter
from sitegen.content.schedule import EXPIRE, PUBLISH, as_table, upcoming, when_vi

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def _future(days: int, hour: int = 8) -> dt.datetime:
    day = dt.datetime.now(VN).date() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=VN)


def _scheduled_site(site):
    site.write("content/thoi-su/da-dang/index.md", article("Bài đã đăng", date="2024-03-29 17:58"))
    site.write("content/thoi-su/hen-gio/index.md", article("Bài hẹn giờ", date=f"{_future(3):%Y-%m-%d %H:%M}"))
    site.write("content/thoi-su/het-han/index.md",
               article("Bài hết hạn", date="2024-01-01 08:00", expires='"2024-06-01 00:00"'))
    site.write("content/thoi-su/sap-go/index.md",
               article("Bài sắp gỡ", date="2024-01-02 08:00", expires=f'"{_future(10, 17):%Y-%m-%d %H:%M}"'))
    site.write("content/thoi-su/nhap/index.md", article("Bài nháp tương lai", date=f"{_future(1):%Y-%m-%d %H:%M}",
                                                        draft="true"))


def test_future_article_absent_from_build_present_and_marked_in_preview(site, tmp_path):
    _scheduled_site(site)
    result = site.cli("build")
    assert result.returncode == 0, result.stderr
    assert (site.public / "thoi-su/da-dang/index.html").is_file()
    assert (site.public / "thoi-su/sap-go/index.html").is_file()
    for gone in ("hen-gio", "het-han", "nhap"):
        assert not (site.public / f"thoi-su/{gone}").exists(), gone
    everywhere = "".join(p.read_text(encoding="utf-8") for p in site.public.rglob("*") if p.suffix in (".html", ".xml"))
    assert "Bài hẹn giờ" not in everywhere and "hen-gio" not in everywhere and "Bài hết hạn" not in everywhere

    preview = tmp_path / "preview"
    result = site.cli("build", "--drafts", "--output", str(preview))
    assert result.returncode == 0, result.stderr
    doc = parse_html((preview / "thoi-su/hen-gio/index.html").read_bytes())
    flags = [text_of(p) for p in doc.iter("p") if "schedule-flag" in (p.get("class") or "")]
    assert flags == [f"Bài hẹn giờ: sẽ đăng lúc {when_vi(_future(3), site.config())}"]
    doc = parse_html((preview / "thoi-su/het-han/index.html").read_bytes())
    flags = [text_of(p) for p in doc.iter("p") if "schedule-flag" in (p.get("class") or "")]
    assert flags == ["Bài đã hết hạn lúc Thứ Bảy - 01/06/2024 00:00: không còn xuất bản."]
    doc = parse_html((preview / "thoi-su/da-dang/index.html").read_bytes())
    assert not [p for p in doc.iter("p") if "schedule-flag" in (p.get("class") or "")]


def test_schedule_lists_what_publishes_and_expires_next_with_its_time(site):
    _scheduled_site(site)
    result = site.cli("schedule", env={"TZ": "America/Los_Angeles", "LC_ALL": "C"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    cfg = site.config()
    publish, expire = when_vi(_future(3), cfg), when_vi(_future(10, 17), cfg)
    rows = [l for l in lines if "(content/" in l]
    assert len(rows) == 2  # the draft never publishes on its own; past moments are not listed
    assert rows[0].startswith(publish) and "đăng bài" in rows[0] and "Bài hẹn giờ (content/thoi-su/hen-gio/index.md)" in rows[0]
    assert rows[1].startswith(expire) and "gỡ bài" in rows[1] and "Bài sắp gỡ" in rows[1]
    assert publish.endswith(" 08:00") and publish.split(" - ")[0].startswith(("Thứ ", "Chủ Nhật"))
    assert f"Lần dựng lại trang tiếp theo cần chạy sau: {publish} (Asia/Ho_Chi_Minh)." in result.stdout

    machine = site.cli("schedule", "--json")
    assert machine.returncode == 0, machine.stderr
    data = json.loads(machine.stdout)
    assert data["timezone"] == "Asia/Ho_Chi_Minh"
    assert data["next_rebuild"] == _future(3).isoformat()
    assert [(e["action"], e["time"], e["source"]) for e in data["events"]] == [
        ("publish", _future(3).isoformat(), "content/thoi-su/hen-gio/index.md"),
        ("expire", _future(10, 17).isoformat(), "content/thoi-su/sap-go/index.md"),
    ]


def test_upcoming_is_computed_for_any_moment(site):
    site.write("content/thoi-su/a/index.md", article("A", date="2030-05-01 08:00", expires='"2030-06-01 00:00"'))
    site.write("content/thoi-su/b/index.md", article("B", date="2030-04-01T01:00:00+00:00"))
    cfg = site.config()
    report = Reporter()
    events = upcoming(cfg, report, dt.datetime(2030, 1, 1, tzinfo=VN))
    assert [(e.action, e.title, e.time.isoformat()) for e in events] == [
        (PUBLISH, "B", "2030-04-01T08:00:00+07:00"),  # an offset in the file, shown in the site's zone
        (PUBLISH, "A", "2030-05-01T08:00:00+07:00"),
        (EXPIRE, "A", "2030-06-01T00:00:00+07:00"),
    ]
    assert [e.action for e in upcoming(cfg, report, dt.datetime(2030, 5, 2, tzinfo=VN))] == [EXPIRE]
    assert upcoming(cfg, report, dt.datetime(2031, 1, 1, tzinfo=VN)) == []
    assert "Không có bài hẹn giờ" in as_table([], cfg, dt.datetime(2031, 1, 1, tzinfo=VN))
    assert not report.diagnostics


def test_schedule_with_nothing_planned_and_with_a_broken_article(site):
    site.write("content/thoi-su/a/index.md", article("A"))
    result = site.cli("schedule")
    assert result.returncode == 0 and "Không có bài hẹn giờ" in result.stdout
    assert json.loads(site.cli("schedule", "--json").stdout)["next_rebuild"] is None
    site.write("content/thoi-su/b/index.md", article("B", date="mai"))
    broken = site.cli("schedule")  # listed as an article whose time is unknown (test_schedule_broken.py)
    assert broken.returncode == 0
    assert "content/thoi-su/b/index.md:3: lỗi[META003]" in broken.stderr and "Traceback" not in broken.stderr
    assert "\nchưa rõ    chưa rõ   có lỗi: META003  content/thoi-su/b/index.md:3: " in broken.stdout and "Lần dựng lại" not in broken.stdout
