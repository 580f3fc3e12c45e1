"""Scheduled publishing: which articles will appear or disappear next, so a cron job knows when to rebuild.

A static site cannot publish by itself: an article dated in the future is left out of `sitegen build` until a
build runs after its time, and `expires` needs a build after its date to take the article down. This module
reads every article (future ones and expired ones included) and lists those moments, soonest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from babel.dates import format_datetime

from . import discovery, model, read
from ..config import SiteConfig
from ..diagnostics import ERROR, Diagnostic, Reporter

PUBLISH = "publish"
EXPIRE = "expire"
ACTION_VI = {PUBLISH: "đăng bài", EXPIRE: "gỡ bài"}


@dataclass(frozen=True, order=True)
class Event:
    """One moment a rebuild changes the site: an article goes up (`publish`) or comes down (`expire`)."""

    time: dt.datetime  # aware, in the site's time zone
    action: str
    source: str  # the article file, relative to the site folder
    title: str


@dataclass(frozen=True)
class Plan:
    """What `sitegen schedule` shows: the moments, and the articles whose moment cannot be known yet."""

    events: list[Event]
    # Article file -> its errors, for each article with errors whose publishing time is unknown (its date or its
    # whole front matter unreadable): listed apart, so one broken file never hides everyone else's schedule.
    unknown: dict[str, tuple[Diagnostic, ...]]
    # Errors that belong to no article file (a folder that cannot be read): the whole list is doubtful.
    site_wide: tuple[Diagnostic, ...]


def upcoming(config: SiteConfig, report: Reporter, now: dt.datetime | None = None) -> list[Event]:
    """Every publish and expire moment after `now`, soonest first. Drafts never publish on their own."""
    return plan(config, report, now).events


def plan(config: SiteConfig, report: Reporter, now: dt.datetime | None = None) -> Plan:
    """`upcoming`'s events, with the articles that have errors of their own placed where they can be: at their
    date when it reads and is still to come (their status says what is wrong), in `unknown` when it does not
    read. Everything found is also in `report`."""
    now = now or dt.datetime.now(config.tz)
    files = {_rel(Path(path), config): (Path(path), bundle)
             for path, bundle in discovery.discover(config.root, config.content_dir, report)}
    docs = {rel: doc for rel, (path, bundle) in files.items()
            if (doc := read.load_one(path, rel, bundle, config.max_file_bytes, report)) is not None}
    site = model.build_site(list(docs.values()), config, report, drafts=True, now=now)  # keeps future and expired
    events = []
    for a in site.articles:
        if a.draft:
            continue
        if a.date > now:
            events.append(Event(a.date, PUBLISH, a.source, a.title))
        if a.expires is not None and a.expires > now and a.expires > a.date:
            events.append(Event(a.expires, EXPIRE, a.source, a.title))
    placed = {a.source for a in site.articles}
    broken: dict[str, list[Diagnostic]] = {}
    for d in report.diagnostics:
        if d.severity == ERROR and d.path in files and d.path not in placed:
            broken.setdefault(d.path, []).append(d)
    unknown = {}
    for source, errors in sorted(broken.items()):
        doc = docs.get(source)
        if doc is not None and doc.meta.get("draft") is True:
            continue  # a draft never publishes on its own, broken or not
        date = model.parse_date(doc.meta.get("date"), config.tz) if doc is not None else None
        if isinstance(date, dt.datetime):
            if date > now:  # due then, and not ready: its status (problems) names the errors
                title = doc.meta.get("title")
                events.append(Event(date, PUBLISH, source, title if isinstance(title, str) and title else source))
            continue  # already due: not the schedule's business (check and build report it)
        unknown[source] = tuple(sorted(errors))
    site_wide = tuple(d for d in report.errors if d.path not in files)
    return Plan(sorted(events), unknown, site_wide)


def when_vi(moment: dt.datetime, config: SiteConfig) -> str:
    """'Thứ Hai - 01/12/2026 08:00', the way article pages show dates."""
    text = format_datetime(moment.astimezone(config.tz), "EEEE - dd/MM/yyyy HH:mm", locale=config.locale)
    return text[:1].upper() + text[1:]


Problems = Mapping[str, Sequence[tuple[str, str]]]  # article file -> (code, severity) of what validation found


def status_vi(event: Event, problems: Problems | None) -> str:
    """'sẵn sàng', 'sẵn sàng (cảnh báo: LINK003)' or 'có lỗi: LINK001, IMG001' (an article due to publish,
    validated as the site will be then); '' when nothing was validated (taking an article down needs nothing)."""
    if problems is None or event.action != PUBLISH:
        return ""
    found = problems.get(event.source, ())
    errors = [c for c, severity in found if severity == "error"]
    warnings = [c for c, severity in found if severity != "error"]
    if errors:
        return f"có lỗi: {', '.join(errors)}"
    return f"sẵn sàng (cảnh báo: {', '.join(warnings)})" if warnings else "sẵn sàng"


UNKNOWN_VI = "chưa rõ"


def unknown_status_vi(errors: Sequence[Diagnostic]) -> str:
    """'có lỗi: META003', the status of an article whose time is unknown."""
    return "có lỗi: " + ", ".join(dict.fromkeys(d.code for d in errors))


def as_table(events: list[Event], config: SiteConfig, now: dt.datetime, problems: Problems | None = None,
             unknown: Mapping[str, Sequence[Diagnostic]] | None = None) -> str:
    """Plain text for a terminal: one line per event (with its status when `problems`, each file's error codes,
    is given), one per article whose time is unknown (`unknown`: its first error, where and what), then when the
    next rebuild is due."""
    unknown = unknown or {}
    if not events and not unknown:
        return (f"Không có bài hẹn giờ đăng hoặc gỡ sau {when_vi(now, config)} ({config.timezone}).\n"
                "Chưa cần dựng lại trang vì lịch.")
    rows = [(when_vi(e.time, config), ACTION_VI[e.action], status_vi(e, problems), f"{e.title} ({e.source})")
            for e in events]
    for source, errors in unknown.items():
        first = errors[0]
        where = f"{first.path}:{first.line}" if first.line else first.path
        rows.append((UNKNOWN_VI, UNKNOWN_VI, unknown_status_vi(errors), f"{where}: {first.message}"))
    width = max(len("Thời điểm"), *(len(r[0]) for r in rows))
    state = max(len(r[2]) for r in rows)
    lines = [f"{'Thời điểm':<{width}}  {'Việc':<8}  " + (f"{'Tình trạng':<{state}}  " if state else "") + "Bài"]
    for when, action, status, text in rows:
        shown = f"{status:<{max(state, 10)}}  " if state else ""
        lines.append(f"{when:<{width}}  {action:<8}  {shown}{text}")
    lines.append("")
    if events:
        lines.append(f"Lần dựng lại trang tiếp theo cần chạy sau: {when_vi(events[0].time, config)} ({config.timezone}).")
    if unknown:
        lines.append(f"Chưa biết giờ đăng của {len(unknown)} bài có lỗi (dòng '{UNKNOWN_VI}', lỗi đầy đủ ở trên): "
                     "sửa lỗi rồi chạy lại sitegen schedule.")
    return "\n".join(lines)


def as_json(events: list[Event], config: SiteConfig, now: dt.datetime, problems: Problems | None = None,
            unknown: Mapping[str, Sequence[Diagnostic]] | None = None) -> dict:
    """The same for machines: ISO 8601 times with the site's offset, and the next rebuild time (or null); with
    `problems`, each publish event's `ready` (true/false), `errors` and `warnings` (codes); under `errors`, every
    error of the articles whose time is unknown (source, line, code, message, hint)."""
    def codes(source: str, error: bool) -> list[str]:
        return [c for c, severity in (problems or {}).get(source, ()) if (severity == "error") == error]

    def iso(t: dt.datetime) -> str:
        return t.astimezone(config.tz).isoformat(timespec="seconds")

    return {
        "now": iso(now),
        "timezone": config.timezone,
        "next_rebuild": iso(events[0].time) if events else None,
        "events": [{"time": iso(e.time), "action": e.action, "source": e.source, "title": e.title,
                    **({"ready": not codes(e.source, True), "errors": codes(e.source, True),
                        "warnings": codes(e.source, False)}
                       if problems is not None and e.action == PUBLISH else {})} for e in events],
        "errors": [{"source": d.path, "line": d.line, "code": d.code, "message": d.message, "hint": d.hint}
                   for errors in (unknown or {}).values() for d in errors],
    }


def _rel(path, config: SiteConfig) -> str:
    try:
        return path.relative_to(config.root).as_posix()
    except ValueError:
        return path.as_posix()
