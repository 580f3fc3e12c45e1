"""Readers' figures as a build takes them: what readers added to each article, read from the collector.

The build (`sitegen build --stats DB-or-URL`) reads the collected totals and adds them to the front matter
figures with `apply`, a pure function on the model, so pages are right without JavaScript.

This is the only module of `sitegen.readers` a build imports: it reads the collector's SQLite file read-only,
through `store.export` (WAL: the service may keep writing meanwhile), or its PostgreSQL database in one
read-only snapshot (`store_pg.read_export`, loaded only then), or asks the collector's URL for the same export,
and so never loads the collector's request rules (`collector`) or its HTTP server (`server`).

An article's id is its site-relative URL (`thoi-su/hoi-nghi/`), as `routes.article_url` makes it: public,
and the same for the widget, the collector and the build. A changed slug or `permalink` changes it; the old URL
then goes into the article's `aliases` (so old links redirect), and each alias is also a former id
(`former_ids`): the figures collected under it are added to the article's, by the build here and by the
collector in the totals it answers, and a reader who voted under it cannot vote again under the new id.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..config import SiteConfig
from ..diagnostics import Reporter
from ..content.model import Article, Site
from ..structure.routes import article_url
from .store import Unavailable, export, is_url

MAX_EXPORT = 50_000_000  # bytes the build accepts from GET /api/export
# A figure past this is no count of real readers but a damaged or hostile export; far below it the pages'
# number formatting still works (it fails from 10**25).
MAX_FIGURE = 10**15


@dataclass(frozen=True)
class Comment:
    """An approved reader's comment, as the build bakes it into the article page."""

    id: int
    name: str
    text: str
    at: dt.datetime  # aware (UTC); templates show it in the site's zone


@dataclass(frozen=True)
class Figures:
    """What readers added to one article: counted by the collector, on top of the front matter figures."""

    views: int = 0
    rating_total: int = 0
    rating_count: int = 0
    comments: tuple[Comment, ...] = ()


def article_id(article: Article, config: SiteConfig) -> str:
    return article_url(article, config.permalink)


def alias_id(alias: str) -> str:
    """The id an article had at an old URL listed in its `aliases`: the alias as the site-relative URL the
    build publishes its redirect at (`/tin-cu/bai/` -> `tin-cu/bai/`, `/tin-cu/bai.html` stays a file)."""
    clean = posixpath.normpath("/" + alias.strip()).lstrip("/")
    if alias.strip().endswith("/") or not posixpath.splitext(clean)[1]:
        return clean + "/"
    return clean


def former_ids(articles: Sequence[Article], config: SiteConfig) -> dict[str, tuple[str, ...]]:
    """Each published article's id and its former ids: its aliases, except one that is another article's id
    today (a slug given to a new article: its figures are that article's) or that two articles both claim."""
    current = [article_id(a, config) for a in articles]
    claims: dict[str, int] = {}
    for a in articles:
        for old in {alias_id(x) for x in a.aliases}:
            claims[old] = claims.get(old, 0) + 1
    taken = set(current)
    return {now: tuple(sorted(old for old in {alias_id(x) for x in a.aliases}
                              if old not in taken and claims[old] == 1))
            for now, a in zip(current, articles)}


def _merged(parts: list[Figures]) -> Figures:
    if len(parts) == 1:
        return parts[0]
    comments = sorted((c for f in parts for c in f.comments), key=lambda c: (c.at, c.id))
    return Figures(sum(f.views for f in parts), sum(f.rating_total for f in parts),
                   sum(f.rating_count for f in parts), tuple(comments))


def apply(site: Site, totals: Mapping[str, Figures] | None) -> Site:
    """The site with the collected figures added to each article's front matter baseline (order unchanged).
    Figures collected under an article's former ids (`former_ids`) are its own."""
    if not totals:
        return site
    articles = []
    former = former_ids(site.articles, site.config)
    for a in site.articles:
        now = article_id(a, site.config)
        parts = [totals[i] for i in (now, *former[now]) if i in totals]
        f = _merged(parts) if parts else None
        if f is None:
            articles.append(a)
            continue
        articles.append(replace(a, views=a.views + f.views, comments=a.comments + len(f.comments),
                                rating_total=a.rating_total + f.rating_total,
                                rating_count=a.rating_count + f.rating_count, collected=f))
    return replace(site, articles=tuple(articles))


# --- reading totals for the build ------------------------------------------------------------------------------

def load_totals(source: str, report: Reporter) -> dict[str, Figures] | None:
    """Totals from a collector's SQLite file (a relative path starts at the working folder, like every path on
    the command line) or its URL; a warning (error with --strict) when unreadable, so a collector that is down
    never holds back a scheduled article: the pages then show front matter figures."""
    try:
        if source.startswith(("http://", "https://")):
            data = _fetch_export(source)
        elif is_url(source):
            data = _read_postgres(source)
        else:
            path = Path(source)
            if not path.is_file():
                raise ValueError(f"không có tệp {path}")
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
            try:
                data = export(db)
            finally:
                db.close()
        return _parse_export(data)
    except (OSError, ValueError, sqlite3.Error, Unavailable) as exc:
        if is_url(source):
            from .store_pg import shown

            source = shown(source)
        report.warning("STATS001", source, 0, f"không đọc được số liệu bạn đọc: {exc}",
                       "kiểm tra đường dẫn tệp SQLite hoặc địa chỉ máy thu số liệu (sitegen stats serve); "
                       "trang được dựng với số liệu trong phần đầu bài")
        return None


def _read_postgres(url: str) -> Any:
    from .store_pg import read_export  # psycopg is loaded only by builds that read a PostgreSQL database

    return read_export(url)


def _fetch_export(url: str) -> Any:
    from urllib.request import Request, urlopen

    endpoint = url.rstrip("/") + "/api/export"
    with urlopen(Request(endpoint, headers={"Accept": "application/json"}), timeout=15) as resp:  # noqa: S310
        body = resp.read(MAX_EXPORT + 1)
    if len(body) > MAX_EXPORT:
        raise ValueError(f"{endpoint} trả về quá {MAX_EXPORT} byte")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{endpoint} không trả về JSON ({exc})") from None


def _parse_export(data: Any) -> dict[str, Figures]:
    if not isinstance(data, dict) or not isinstance(data.get("articles"), dict):
        raise ValueError("dữ liệu không đúng dạng {\"articles\": {...}}")
    out = {}
    for article, v in data["articles"].items():
        nums = [v.get(k) if isinstance(v, dict) else None for k in ("views", "rating_total", "rating_count")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_FIGURE for n in nums):
            raise ValueError(f"số liệu của '{article}' không hợp lệ (số nguyên từ 0 đến {MAX_FIGURE})")
        if not nums[2] <= nums[1] <= 5 * nums[2]:  # each vote is 1 to 5 points
            raise ValueError(f"số liệu của '{article}' không hợp lệ: tổng điểm {nums[1]} không khớp {nums[2]} lượt "
                             "đánh giá (mỗi lượt 1-5 điểm)")
        comments = []
        for c in v.get("comments", []):
            try:
                comments.append(Comment(int(c["id"]), str(c["name"]), str(c["text"]), dt.datetime.fromisoformat(c["at"])))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"ý kiến của '{article}' không hợp lệ") from None
        out[article] = Figures(nums[0], nums[1], nums[2], tuple(comments))
    return out
