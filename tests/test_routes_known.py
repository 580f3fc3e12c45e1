"""routes.plan given the output paths of an earlier plan (`known`, as a shift's build gives them) asks only about
the new paths: on random sites, with addresses that collide (also by case), aliases that are reserved or unsafe,
and files named as folders, its pages and its problems must be exactly those of the plan that asks about all."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from sitegen.config import load
from sitegen.content import model
from sitegen.build.delta import Shape
from sitegen.diagnostics import Reporter
from sitegen.structure import routes

BASE = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
SLUGS = ["hoi-nghi", "Hoi-Nghi", "bai", "bai/index.html", "tin", "a..b", "tin/bai"]
ALIASES = ["", "cu/", "cu", "Cu/", "assets/x/", "../ra-ngoai/", "thoi-su/bai/", "thoi-su/bai/index.html/", "tin.html",
           "tin.html/", "sitemap.xml", "tag/"]


def shape(n: int, slug: str, category: str, hours: int, tags: tuple[str, ...], aliases: tuple[str, ...]) -> Shape:
    return Shape(f"content/{n}.md", f"/site/content/{n}.md", False, slug, BASE + dt.timedelta(hours=hours), None,
                 category, tags, "", aliases, 0, 2, 3, False, False, "", False)


# Most articles have an address of their own ("": one made of their number), some share or nest in another's.
articles = st.lists(st.tuples(st.sampled_from(["", "", "", *SLUGS]), st.sampled_from(["thoi-su", "kinh-te"]),
                              st.integers(0, 24 * 60), st.lists(st.sampled_from(["a", "b", "c"]), max_size=2),
                              st.lists(st.sampled_from(ALIASES), max_size=1)),
                    min_size=0, max_size=14)


def site_of(config, rows: list[tuple[int, tuple]]) -> model.Site:
    shapes = [shape(n, slug or f"bai-{n}", cat, hours, tuple(dict.fromkeys(tags)), tuple(a for a in aliases if a))
              for n, (slug, cat, hours, tags, aliases) in rows]
    shapes.sort(key=lambda a: (a.date, a.source), reverse=True)
    tags = {t: model.Tag(t.upper(), t) for t in sorted({t for a in shapes for t in a.tags})}
    categories = (model.Category("Thời sự", "thoi-su"), model.Category("Kinh tế", "kinh-te"))
    return model.Site(config, tuple(shapes), categories, tags)  # type: ignore[arg-type]


def planned(site: model.Site, known=frozenset()):
    report = Reporter()
    pages = routes.plan(site, report, known)
    return [(p.kind, p.path, p.template, repr(sorted(p.data.items()))) for p in pages], report.diagnostics


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=articles, extra=articles, dropped=st.sets(st.integers(0, 13)),
       permalink=st.sampled_from(["{category}/{slug}/", "{year}/{month}/{slug}.html", "{slug}/"]))
def test_a_plan_asked_only_about_new_paths_says_and_keeps_what_a_whole_plan_does(tmp_path_factory, rows, extra,
                                                                                  dropped, permalink):
    root: Path = tmp_path_factory.mktemp("routes")
    (root / "site.toml").write_text(f'title = "T"\npermalink = "{permalink}"\n', encoding="utf-8")
    config = load(root)
    # The earlier plan: some of these articles, and others since gone; what it kept is what it passed.
    now = list(enumerate(rows))
    before = [(n, r) for n, r in now if n not in dropped] + [(100 + n, r) for n, r in enumerate(extra)]
    earlier, _ = planned(site_of(config, before))
    known = {path.casefold() for _, path, _, _ in earlier}
    site = site_of(config, now)
    assert planned(site, known) == planned(site)


@settings(deadline=None)
@given(case=st.sampled_from([("bai", "bai/index.html"), ("bai/index.html", "bai")]),
       permalink=st.sampled_from(["{category}/{slug}/", "{slug}/"]))
def test_a_new_address_named_as_a_known_one_s_folder_or_file_is_asked_about(tmp_path_factory, case, permalink):
    root: Path = tmp_path_factory.mktemp("routes")
    (root / "site.toml").write_text(f'title = "T"\npermalink = "{permalink}"\n', encoding="utf-8")
    config = load(root)
    old, new = [(0, (case[0], "thoi-su", 5, [], []))], [(1, (case[1], "thoi-su", 9, [], []))]
    known = {path.casefold() for _, path, _, _ in planned(site_of(config, old))[0]}
    site = site_of(config, old + new)
    found = planned(site, known)
    assert found == planned(site) and [d.code for d in found[1]] == ["ROUTE001"]
