"""The trend chart read as its viewer reads it: one line per priority whose dots sit higher for
more open blockers, the pass rate on its own scale, a readable number of dates, the title as text."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree

from readiness.priorities import Priority
from reporting.trend import TrendPoint, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def _point(day: int, p0: int, rate: float, p1: int = 0) -> TrendPoint:
    opened = {Priority.P0: p0, Priority.P1: p1, Priority.P2: 0, Priority.P3: 0}
    return TrendPoint(f"run-{day}", dt.datetime(2026, 11, day, 6, tzinfo=dt.UTC), opened, rate)


def _dots(chart: ElementTree.Element, priority: str) -> list[tuple[float, float]]:
    """(x, y) of the priority's dots, in run order."""
    return [
        (float(c.attrib["cx"]), float(c.attrib["cy"]))
        for c in chart.iter(f"{SVG}circle")
        if (c.findtext(f"{SVG}title") or "").startswith(f"{priority}:")
    ]


def test_more_open_blockers_sit_higher_and_runs_go_left_to_right() -> None:
    chart = ElementTree.fromstring(
        render_svg([_point(20, 1, 0.5), _point(21, 3, 0.9), _point(22, 0, 1.0)], "t")
    )
    dots = _dots(chart, "P0")
    assert [x for x, _ in dots] == sorted(x for x, _ in dots)
    first, second, third = (y for _, y in dots)
    assert second < first < third  # SVG's y grows downwards: 3 open above 1 open above 0
    tips = [c.findtext(f"{SVG}title") for c in chart.iter(f"{SVG}circle")]
    assert "P0: 3 open, 2026-11-21 06:00" in tips


def test_gridlines_are_whole_numbers_that_reach_the_highest_count() -> None:
    chart = ElementTree.fromstring(render_svg([_point(20, 0, 0.5, p1=17)], "t"))
    labels = [t.text for t in chart.iter(f"{SVG}text")]
    assert "20" in labels and "15" in labels and "17" not in labels  # steps of 5, up to 20
    assert "100%" in labels and "0%" in labels  # the pass rate's own scale


def test_a_long_history_keeps_its_dates_readable() -> None:
    points = [_point(1 + i % 28, i % 4, 0.5) for i in range(40)]
    chart = ElementTree.fromstring(render_svg(points, "t"))
    dates = [t for t in chart.iter(f"{SVG}text") if "rotate(-30" in t.attrib.get("transform", "")]
    assert 2 <= len(dates) <= 13
    assert len(_dots(chart, "P0")) == 40  # every run still has its dot


def test_title_is_text_not_markup() -> None:
    title = "BQX <script>alert(1)</script> & co"
    chart = ElementTree.fromstring(render_svg([_point(20, 1, 0.5)], title))
    assert chart.find(f"{SVG}script") is None
    assert any(t.text == title for t in chart.iter(f"{SVG}text"))
