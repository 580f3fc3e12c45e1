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

from . import model, read
from ..config import SiteConfig
from ..diagnostics import Reporter

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


def upcoming(config: SiteConfig, report: Reporter, now: dt.datetime | None = None) -> list[Event]:
    """Every publish and expire moment after `now`, soonest first. Drafts never publish on their own."""
    now = now or dt.datetime.now(config.tz)
    docs = [doc for path, bundle in read.discover(config.root, config.content_dir, report)
            if (doc := read.load_one(Path(path), _rel(Path(path), config), bundle, config.max_file_bytes, report))
            is not None]
    site = model.build_site(docs, config, report, drafts=True, now=now)  # drafts=True keeps future and expired
    events = []
    for a in site.articles:
        if a.draft:
            continue
        if a.date > now:
            events.append(Event(a.date, PUBLISH, a.source, a.title))
        if a.expires is not None and a.expires > now and a.expires > a.date:
            events.append(Event(a.expires, EXPIRE, a.source, a.title))
    return sorted(events)


def when_vi(moment: dt.datetime, config: SiteConfig) -> str:
    """'Thứ Hai - 01/12/2026 08:00', the way article pages show dates."""
    text = format_datetime(moment.astimezone(config.tz), "EEEE - dd/MM/yyyy HH:mm", locale=config.locale)
    return text[:1].upper() + text[1:]


def status_vi(event: Event, problems: Mapping[str, Sequence[str]] | None) -> str:
    """'sẵn sàng', or 'có lỗi: LINK001, IMG001' (an article due to publish, validated as the site will be then);
    '' when nothing was validated (taking an article down needs nothing of it)."""
    if problems is None or event.action != PUBLISH:
        return ""
    codes = problems.get(event.source)
    return f"có lỗi: {', '.join(codes)}" if codes else "sẵn sàng"


def as_table(events: list[Event], config: SiteConfig, now: dt.datetime,
             problems: Mapping[str, Sequence[str]] | None = None) -> str:
    """Plain text for a terminal: one line per event (with its status when `problems`, each file's error codes,
    is given), then when the next rebuild is due."""
    if not events:
        return (f"Không có bài hẹn giờ đăng hoặc gỡ sau {when_vi(now, config)} ({config.timezone}).\n"
                "Chưa cần dựng lại trang vì lịch.")
    width = max(len(when_vi(e.time, config)) for e in events)
    state = max((len(status_vi(e, problems)) for e in events), default=0)
    lines = [f"{'Thời điểm':<{width}}  {'Việc':<8}  " + (f"{'Tình trạng':<{state}}  " if state else "") + "Bài"]
    for e in events:
        shown = f"{status_vi(e, problems):<{max(state, 10)}}  " if state else ""
        lines.append(f"{when_vi(e.time, config):<{width}}  {ACTION_VI[e.action]:<8}  {shown}{e.title} ({e.source})")
    lines.append("")
    lines.append(f"Lần dựng lại trang tiếp theo cần chạy sau: {when_vi(events[0].time, config)} ({config.timezone}).")
    return "\n".join(lines)


def as_json(events: list[Event], config: SiteConfig, now: dt.datetime,
            problems: Mapping[str, Sequence[str]] | None = None) -> dict:
    """The same for machines: ISO 8601 times with the site's offset, and the next rebuild time (or null); with
    `problems`, each publish event's `ready` (true/false) and `errors` (codes)."""
    def iso(t: dt.datetime) -> str:
        return t.astimezone(config.tz).isoformat(timespec="seconds")

    return {
        "now": iso(now),
        "timezone": config.timezone,
        "next_rebuild": iso(events[0].time) if events else None,
        "events": [{"time": iso(e.time), "action": e.action, "source": e.source, "title": e.title,
                    **({"ready": not problems.get(e.source), "errors": list(problems.get(e.source, ()))}
                       if problems is not None and e.action == PUBLISH else {})} for e in events],
    }


def _rel(path, config: SiteConfig) -> str:
    try:
        return path.relative_to(config.root).as_posix()
    except ValueError:
        return path.as_posix()
