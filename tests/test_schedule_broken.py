"""`sitegen schedule` with broken articles (issue 16 leftover): one article whose date or front matter cannot be
read no longer hides everyone else's schedule. It is listed as 'chưa rõ' (time unknown) with 'có lỗi: CODE', its
file, line and message, in the table and under `errors` in --json; an article whose date reads but has other errors
stays at its time with its status; the exit status is that of any schedule with articles not ready (0). Errors
that belong to no article file still stop it."""

from __future__ import annotations

import datetime as dt
import json
import os
from zoneinfo import ZoneInfo

from conftest import article

from sitegen.content.schedule import when_vi

VN = ZoneInfo("Asia/Ho_Chi_Minh")
READY = "content/thoi-su/hen-gio/index.md"
BAD_DATE = "content/thoi-su/ngay-sai/index.md"
BAD_YAML = "content/thoi-su/yaml-sai/index.md"
BAD_CATEGORY = "content/thoi-su/sai-chuyen-muc/index.md"


def _future(days: int, hour: int = 8) -> dt.datetime:
    day = dt.datetime.now(VN).date() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=VN)


def _site(site):
    site.write("site.toml", 'search = false\n[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n')
    site.write("content/thoi-su/da-dang/index.md", article("Bài đã đăng", date="2024-03-29 17:58"))
    site.write(READY, article("Bài hẹn giờ", date=f"{_future(3):%Y-%m-%d %H:%M}"))
    site.write("content/thoi-su/sap-go/index.md",
               article("Bài sắp gỡ", date="2024-01-02 08:00", expires=f'"{_future(10, 17):%Y-%m-%d %H:%M}"'))
    site.write(BAD_DATE, article("Bài ngày sai", date="mai"))
    site.write(BAD_YAML, f'---\ntitle: Hội nghị: tổng kết\ndate: "{_future(1):%Y-%m-%d %H:%M}"\n---\nNội dung.\n')
    site.write(BAD_CATEGORY, article("Bài sai chuyên mục", date=f"{_future(5):%Y-%m-%d %H:%M}", category='"Thoi su x"'))
    # A draft with a broken field never publishes on its own: not the schedule's business.
    site.write("content/thoi-su/nhap/index.md", article("Bản nháp", date=f"{_future(2):%Y-%m-%d %H:%M}", draft="true",
                                                         category='"Khong co"'))


def test_the_table_lists_every_upcoming_article_and_each_broken_one_with_its_error(site):
    _site(site)
    result = site.cli("schedule")
    assert result.returncode == 0, result.stderr
    cfg = site.config()
    ready, due, expire = when_vi(_future(3), cfg), when_vi(_future(5), cfg), when_vi(_future(10, 17), cfg)
    width = max(len(ready), len(due), len(expire))
    assert result.stdout.splitlines() == [
        f"{'Thời điểm':<{width}}  Việc      Tình trạng       Bài",
        f"{ready:<{width}}  đăng bài  sẵn sàng         Bài hẹn giờ ({READY})",
        f"{due:<{width}}  đăng bài  có lỗi: META004  Bài sai chuyên mục ({BAD_CATEGORY})",
        f"{expire:<{width}}  gỡ bài    {'':<15}  Bài sắp gỡ (content/thoi-su/sap-go/index.md)",  # no status
        f"{'chưa rõ':<{width}}  chưa rõ   có lỗi: META003  {BAD_DATE}:3: 'date' không hợp lệ: 'mai'",
        f"{'chưa rõ':<{width}}  chưa rõ   có lỗi: FM002    {BAD_YAML}:2: lỗi cú pháp YAML: mapping values are not "
        "allowed in this context",
        "",
        f"Lần dựng lại trang tiếp theo cần chạy sau: {ready} (Asia/Ho_Chi_Minh).",
        "Chưa biết giờ đăng của 2 bài có lỗi (dòng 'chưa rõ', lỗi đầy đủ ở trên): sửa lỗi rồi chạy lại sitegen "
        "schedule.",
    ]
    errors = [ln for ln in result.stderr.splitlines() if "lỗi[" in ln]
    assert [ln.split(": lỗi[")[0] for ln in errors] == [  # every error of the reading, the draft's too
        BAD_DATE + ":3", "content/thoi-su/nhap/index.md:5", BAD_CATEGORY + ":4", f"{BAD_YAML}:2:16"]
    assert "Traceback" not in result.stderr and "nhap" not in result.stdout


def test_json_lists_the_broken_ones_under_errors(site):
    _site(site)
    result = site.cli("schedule", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["next_rebuild"] == _future(3).isoformat()
    assert [(e["source"], e["action"], e.get("ready"), e.get("errors")) for e in data["events"]] == [
        (READY, "publish", True, []), (BAD_CATEGORY, "publish", False, ["META004"]),
        ("content/thoi-su/sap-go/index.md", "expire", None, None)]
    assert data["errors"] == [
        {"source": BAD_DATE, "line": 3, "code": "META003", "message": "'date' không hợp lệ: 'mai'",
         "hint": 'viết dạng "YYYY-MM-DD HH:MM", ví dụ "2024-03-29 17:58"'},
        {"source": BAD_YAML, "line": 2, "code": "FM002",
         "message": "lỗi cú pháp YAML: mapping values are not allowed in this context",
         "hint": 'đặt giá trị trong dấu ngoặc kép: title: "Hội nghị: tổng kết"; phần còn lại của bài (các trường, '
                 "ảnh, liên kết) chỉ được kiểm tra sau khi sửa xong lỗi này"}]
    # Fixed, they take their place in the schedule, and `errors` is empty.
    site.write(BAD_DATE, article("Bài ngày sai", date=f"{_future(4):%Y-%m-%d %H:%M}"))
    site.write(BAD_YAML, article("Hội nghị: tổng kết", date=f"{_future(1):%Y-%m-%d %H:%M}"))
    fixed = json.loads(site.cli("schedule", "--json").stdout)
    assert fixed["errors"] == [] and fixed["next_rebuild"] == _future(1).isoformat()
    assert [e["source"] for e in fixed["events"] if e.get("ready")] == [BAD_YAML, READY, BAD_DATE]


def test_an_error_outside_any_article_file_still_stops_the_schedule(site, tmp_path):
    _site(site)
    outside = tmp_path / "ngoai"
    outside.mkdir()
    (outside / "index.md").write_text(article("Bài ngoài"), encoding="utf-8")
    os.symlink(outside, site.root / "content/thoi-su/lien-ket-ra-ngoai")
    result = site.cli("schedule")
    assert result.returncode == 1 and result.stdout == "", result.stdout
    assert "content/thoi-su/lien-ket-ra-ngoai: lỗi[READ003]" in result.stderr
    assert result.stderr.rstrip().endswith("Không lập được lịch: 5 lỗi trong bài viết.")
