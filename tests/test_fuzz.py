"""Hypothesis fuzzing of everything an editor types: front matter (YAML-ish text and random typed values) and
Markdown (with links, photos, raw HTML). Whatever the input, the result is a page or located diagnostics —
never a traceback. Example counts are capped so the file runs in well under 30 s on two cores."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from sitegen import config as config_mod
from sitegen.content import read
from sitegen.diagnostics import CODES, BuildFailed, Reporter
from sitegen.content.model import KNOWN_FIELDS
from sitegen.build.pipeline import build

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VI = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵĐ"
YAMLISH = st.lists(st.one_of(
    st.text(alphabet=st.sampled_from(list(VI + "0123456789 :-[]{},'\"#!&*|>%@`\n\t?~.=\\")), max_size=12),
    st.sampled_from(["---", "...", "title: ", "date: ", "!!python/object", "- ", "\r\n", "\ufeff", "\n  ",
                     "2024-03-29 17:58", "&a ", "*a", "<<: ", "? ", "!!binary ", "%YAML 1.1\n"])), max_size=25).map("".join)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=30), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
                    st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30)),
                    st.sampled_from(["2024-03-29 17:58", "2024-02-30", "2024-03-31T02:30:00+07:00", "../../x",
                                     "/etc/passwd", "anh.jpg", "<script>alert(1)</script>", "", " ", "Thời sự"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
front_matter_dicts = st.dictionaries(st.one_of(st.sampled_from(sorted(KNOWN_FIELDS)), st.text(max_size=10)),
                                     values, max_size=10)

HREFS = st.one_of(st.sampled_from(["../b/index.md", "../b/", "../b", "#muc", "../b/#x", "/", "/thoi-su/",
                                   "../../../../../etc/passwd", "..\\..\\x", "%2e%2e/%2e%2e/x", "javascript:alert(1)",
                                   "//evil.example/", "?q=1", "#", "http://localhost:8000/x/", "anh.png",
                                   "<../b/index.md>", "../b/index.md#ket-qua", "data:text/html,<b>"]),
                  st.text(alphabet=st.sampled_from(list("./#?%:\\ab ệ")), max_size=20))
MD_PIECES = st.one_of(
    st.text(alphabet=st.sampled_from(list(VI + " *_`#>|-+[]()!<>&;\\\n0123456789")), max_size=40),
    st.sampled_from(["\n\n", "## Tiêu đề\n", "```\n", "<div>", "</div>", "<script>x()</script>", "[^1]",
                     "[^1]: chú thích\n", "| a | b |\n|---|---|\n| 1 | 2 |\n", "Nguồn: Báo tỉnh", "<!--", "-->",
                     "&#0;", "&amp;", "\x0b", "\u202e", "\r", "<img src=x onerror=alert(1)>", "*[HTML]: x"]),
    HREFS.map(lambda h: f"[liên kết]({h})"),
    HREFS.map(lambda h: f"![ảnh]({h})"),
    HREFS.map(lambda h: f"\n[r]: {h}\n"),
)
MARKDOWN = st.lists(MD_PIECES, max_size=25).map("".join)


@FAST
@given(YAMLISH, st.text(max_size=80))
def test_split_front_matter_never_raises(yaml_text, body):
    report = Reporter()
    text = f"---\n{yaml_text}\n---\n{body}"
    result = read.split_front_matter(text, "content/a.md", report)
    if result is None:
        assert report.errors, "refused without saying why"
        assert all(d.line >= 1 for d in report.errors)
        return
    meta, lines, rest, body_line = result
    assert isinstance(meta, dict)
    assert text.split("\n")[body_line - 1:] == rest.split("\n")  # body_line points at the body's first line


@FAST
@given(st.binary(max_size=300))
@example(b"\r\x01")  # a lone CR ends a line (old Mac files): the control character is on line 2
@example(b"a\rb\r\xff")
def test_decode_never_raises_and_reports_the_line(raw):
    report = Reporter()
    text = read.decode(raw, "content/a.md", report)
    if text is None:
        lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
        assert report.errors and 1 <= report.errors[0].line <= lines
    else:
        assert "\r" not in text


DATES = st.one_of(st.dates(), st.datetimes(), st.datetimes(timezones=st.timezones()),
                  st.from_regex(r"\A\d{1,5}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)?)?\Z"),
                  st.sampled_from(["0001-01-01", "9999-12-31 23:59", "9999-12-31T23:59:00-12:00", "2024-03-31"]))


@FAST
@given(DATES)
def test_parse_date_never_raises(value):
    from zoneinfo import ZoneInfo

    from sitegen.content.model import parse_date

    for tz in ("Asia/Ho_Chi_Minh", "Europe/Berlin", "Pacific/Kiritimati"):
        result = parse_date(value, ZoneInfo(tz))
        assert isinstance(result, (str, dt.datetime))


@SLOW
@given(DATES, DATES)
def test_whole_build_with_extreme_dates_never_crashes(date, updated):
    meta = {"title": "Bài", "date": date, "updated": updated, "expires": None}
    _build_one(f"---\n{yaml.safe_dump(meta, allow_unicode=True)}---\nThân bài.\n", False)


@FAST
@given(front_matter_dicts)
def test_random_typed_front_matter_parses_or_is_located(meta):
    try:
        dumped = yaml.safe_dump(meta, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return
    report = Reporter()
    result = read.split_front_matter(f"---\n{dumped}---\nThân bài.\n", "content/a.md", report)
    assert result is not None or report.errors


def _build_one(text: str | bytes, safe: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "site.toml").write_text('raw_html = "safe"\n' if safe else "", encoding="utf-8")
        for rel, data in (("content/thoi-su/a/index.md", text),
                          ("content/thoi-su/b/index.md", '---\ntitle: "B"\ndate: "2024-01-01"\n---\n## Kết quả\n')):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
        try:
            build(config_mod.load(root), publish=False)
        except BuildFailed as failed:
            assert failed.diagnostics
            for d in failed.diagnostics:
                assert d.code in CODES and d.path and "Traceback" not in d.message


@SLOW
@given(front_matter_dicts, MARKDOWN, st.booleans())
def test_whole_build_of_random_front_matter_and_markdown_never_crashes(meta, body, safe):
    meta = {"title": "Bài", "date": "2024-03-29 17:58", **meta}
    try:
        dumped = yaml.safe_dump(meta, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return
    _build_one(f"---\n{dumped}---\n{body}", safe)


@SLOW
@given(YAMLISH, MARKDOWN)
def test_whole_build_of_yamlish_text_never_crashes(yaml_text, body):
    _build_one(f"---\ntitle: \"Bài\"\n{yaml_text}\n---\n{body}", False)


def test_a_bad_byte_in_a_file_with_old_mac_line_ends_is_named_on_its_line():
    report = Reporter()
    assert read.decode(b"---\rtitle: x\r---\r\rab\xff", "content/a.md", report) is None
    assert [(d.code, d.line, d.col) for d in report.errors] == [("ENC001", 5, 3)]
