"""The trend chart: open blockers per priority and pass rate over the last N runs of a scope.

Drawn by matplotlib with the Agg backend (no display on CI machines), saved as a PNG next to
the Markdown documents and embedded (base64) in the HTML page (reporting.standup).
"""

from __future__ import annotations

import atexit
import datetime as dt
import io
import threading
from dataclasses import dataclass

from readiness.priorities import Priority
from readiness.records import Outcome
from reporting.history.store import RunEntry

__all__ = ["TrendPoint", "file_name", "point_from_entry", "render_png", "warm_up_in_background"]

_COLOURS = {Priority.P0: "#cf222e", Priority.P1: "#bc4c00", Priority.P2: "#9a6700", Priority.P3: "#57606a"}


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
    return f"READINESS_TREND_{date:%Y%m%d}.png"


#: The warm-up thread of this process, if one was started: render_png waits for it, so two
#: charts are never drawn at once (matplotlib's font caches are not made for threads).
_warming: list[threading.Thread] = []


def warm_up_in_background() -> None:
    """Draw a throw-away chart in a daemon thread while the checks run (render_png is then warm)."""
    if not _warming:
        thread = threading.Thread(target=_warm_up, name="readiness-trend-warm-up", daemon=True)
        _warming.append(thread)
        thread.start()
        # Joined before the interpreter finalizes: a daemon thread still inside matplotlib's C++
        # code then is unwound by pthread_exit through noexcept frames, and the process aborts
        # ("terminate called without an active exception", exit -6) after writing everything.
        # A run that draws no chart (history not written) exited that way in CI.
        atexit.register(thread.join)


def _warm_up() -> None:
    # A whole throw-away chart: importing is not enough, the first draw loads fonts, builds the
    # text layout caches and the Agg canvas, most of the chart's cost.
    point = TrendPoint("warm-up", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dict.fromkeys(Priority, 0), 1.0)
    render_png([point], "warm-up")


def render_png(points: list[TrendPoint], title: str) -> bytes:
    """The chart as PNG bytes; points oldest first."""
    if _warming and _warming[0] is not threading.current_thread():
        _warming[0].join()
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    # A Figure without pyplot: no global state, nothing left open between runs.
    fig = Figure(figsize=(8, 3.6), dpi=100)
    ax = fig.add_subplot()
    xs = list(range(len(points)))
    for priority in Priority:
        ax.plot(
            xs,
            [p.open_by_priority[priority] for p in points],
            marker="o",
            color=_COLOURS[priority],
            label=f"open {priority.value}",
        )
    ax.set_ylabel("open blockers")
    # Blocker counts are whole numbers; leave headroom above the highest line for the legend.
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    highest = max((max(p.open_by_priority.values()) for p in points), default=0)
    ax.set_ylim(0, max(1, highest) * 1.35)
    ax.set_xticks(xs, [f"{p.started:%m-%d %H:%M}" for p in points], rotation=30, ha="right", fontsize=7)
    rate = ax.twinx()
    rate.plot(xs, [100 * p.pass_rate for p in points], linestyle="--", color="#1a7f37", label="pass rate %")
    rate.set_ylim(0, 135)
    rate.set_yticks([0, 25, 50, 75, 100])
    rate.set_ylabel("pass rate (%)")
    handles, labels = ax.get_legend_handles_labels()
    handles2, labels2 = rate.get_legend_handles_labels()
    ax.legend(handles + handles2, labels + labels2, loc="upper left", fontsize=7, ncols=5)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
