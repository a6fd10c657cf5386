"""The trend chart: open blockers per priority and pass rate over the last N runs of a scope.

An SVG written by hand: a few lines and labels need no plotting library (drawing them with one
cost seconds of CPU on every audit that keeps history, the `-m p0` gate included). Written next
to the Markdown documents and embedded in the HTML page (reporting.standup) as an image, where
a browser shows it without running anything it contains.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from html import escape
from typing import Final

from readiness.priorities import Priority
from readiness.records import Outcome
from reporting.history.store import RunEntry

__all__ = ["TrendPoint", "file_name", "point_from_entry", "render_svg"]

_COLOURS: Final = {
    Priority.P0: "#cf222e",
    Priority.P1: "#bc4c00",
    Priority.P2: "#9a6700",
    Priority.P3: "#57606a",
}
_PASS_COLOUR: Final = "#1a7f37"
_WIDTH: Final = 800
_HEIGHT: Final = 360
#: The plot area: room on the left for blocker counts, on the right for the pass rate, above for
#: the title and legend, below for the runs' dates.
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, _WIDTH - 60, 62, _HEIGHT - 70
#: At most this many date labels under the axis; between them, runs get a tick only.
_MAX_LABELS: Final = 12


@dataclass(frozen=True, slots=True)
class TrendPoint:
    run_id: str
    started: dt.datetime
    open_by_priority: dict[Priority, int]
    #: Share of the run's cases that passed, 0..1 (waived failures do not count as passed).
    pass_rate: float

    def to_json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "started": self.started.isoformat(),
            "open": {p.value: n for p, n in self.open_by_priority.items()},
            "pass_rate": round(self.pass_rate, 4),
        }


def point(run_id: str, started: dt.datetime, outcomes: list[tuple[Priority, Outcome]]) -> TrendPoint:
    opened = dict.fromkeys(Priority, 0)
    for priority, outcome in outcomes:
        if outcome.is_open:
            opened[priority] += 1
    passed = sum(1 for _, o in outcomes if o is Outcome.PASSED)
    return TrendPoint(run_id, started, opened, passed / len(outcomes) if outcomes else 0.0)


def point_from_entry(run: RunEntry) -> TrendPoint:
    return point(run.run_id, run.started, [(Priority(c.priority), Outcome(c.outcome)) for c in run.cases])


def file_name(date: dt.date) -> str:
    return f"READINESS_TREND_{date:%Y%m%d}.svg"


def render_svg(points: list[TrendPoint], title: str) -> str:
    """The chart as an SVG document; points oldest first."""
    highest = max((max(p.open_by_priority.values()) for p in points), default=0)
    step = _step(highest)
    top = max(step, math.ceil(highest / step) * step)
    xs = _xs(len(points))

    def y_open(count: int) -> float:
        return _BOTTOM - (_BOTTOM - _TOP) * count / top

    def y_rate(rate: float) -> float:
        return _BOTTOM - (_BOTTOM - _TOP) * rate

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' height='{_HEIGHT}' "
        f"viewBox='0 0 {_WIDTH} {_HEIGHT}' font-family='system-ui, sans-serif' font-size='11'>",
        f"<rect width='{_WIDTH}' height='{_HEIGHT}' fill='#ffffff'/>",
        f"<text x='{_WIDTH / 2:g}' y='18' text-anchor='middle' font-size='13'>{escape(title)}</text>",
        *_legend(),
    ]
    for count in range(0, top + 1, step):
        y = y_open(count)
        parts.append(f"<line x1='{_LEFT}' x2='{_RIGHT}' y1='{y:.1f}' y2='{y:.1f}' stroke='#d0d7de'/>")
        parts.append(f"<text x='{_LEFT - 6}' y='{y + 4:.1f}' text-anchor='end'>{count}</text>")
    for percent in (0, 25, 50, 75, 100):
        y = y_rate(percent / 100)
        parts.append(f"<text x='{_RIGHT + 6}' y='{y + 4:.1f}' fill='{_PASS_COLOUR}'>{percent}%</text>")
    parts.append(_axis_title("open blockers", 14, rotate=-90))
    parts.append(_axis_title("pass rate (%)", _WIDTH - 10, rotate=90))
    every = math.ceil(len(points) / _MAX_LABELS) if points else 1
    for index, (x, point) in enumerate(zip(xs, points, strict=True)):
        parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{_BOTTOM}' y2='{_BOTTOM + 4}' stroke='#57606a'/>")
        if index % every == 0 or index == len(points) - 1:
            parts.append(
                f"<text x='{x:.1f}' y='{_BOTTOM + 14}' text-anchor='end' font-size='10' "
                f"transform='rotate(-30 {x:.1f} {_BOTTOM + 14})'>{point.started:%m-%d %H:%M}</text>"
            )
    parts.append(
        _series(
            [(x, y_rate(p.pass_rate)) for x, p in zip(xs, points, strict=True)], _PASS_COLOUR, dashed=True
        )
    )
    for priority in reversed(Priority):  # P0 drawn last, on top
        coords = [(x, y_open(p.open_by_priority[priority])) for x, p in zip(xs, points, strict=True)]
        parts.append(_series(coords, _COLOURS[priority]))
        for (x, y), point in zip(coords, points, strict=True):
            tip = f"{priority.value}: {point.open_by_priority[priority]} open, {point.started:%Y-%m-%d %H:%M}"
            parts.append(
                f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{_COLOURS[priority]}'><title>{tip}</title></circle>"
            )
    parts.append(f"<line x1='{_LEFT}' x2='{_RIGHT}' y1='{_BOTTOM}' y2='{_BOTTOM}' stroke='#57606a'/>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _step(highest: int) -> int:
    """Whole-number gridline spacing giving at most six lines above zero."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if highest <= 6 * step:
            return step
    return int(10 ** math.ceil(math.log10(highest / 6)))


def _xs(count: int) -> list[float]:
    if count == 1:
        return [(_LEFT + _RIGHT) / 2]
    inner_left, inner_right = _LEFT + 16, _RIGHT - 16
    return [inner_left + (inner_right - inner_left) * i / (count - 1) for i in range(count)]


def _series(coords: list[tuple[float, float]], colour: str, dashed: bool = False) -> str:
    dash = " stroke-dasharray='6 4'" if dashed else ""
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    return f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='2'{dash}/>"


def _legend() -> list[str]:
    entries = [(f"open {p.value}", _COLOURS[p], False) for p in Priority] + [
        ("pass rate %", _PASS_COLOUR, True)
    ]
    parts = []
    x = float(_LEFT)
    for label, colour, dashed in entries:
        dash = " stroke-dasharray='6 4'" if dashed else ""
        parts.append(
            f"<line x1='{x:.0f}' x2='{x + 22:.0f}' y1='38' y2='38' stroke='{colour}' stroke-width='2'{dash}/>"
        )
        parts.append(f"<text x='{x + 27:.0f}' y='42'>{label}</text>")
        x += 27 + 7 * len(label) + 18
    return parts


def _axis_title(text: str, x: float, rotate: int) -> str:
    y = (_TOP + _BOTTOM) / 2
    return (
        f"<text x='{x}' y='{y:g}' text-anchor='middle' transform='rotate({rotate} {x} {y:g})'>{text}</text>"
    )
