"""Before/after of the fixes proposed for the figures that miss their targets (see
bench/experiments.py: the fixes are tried by monkeypatching the suite process, never by editing
checks/ or reporting/). `python -m bench.fixes` prints one table; not part of `python -m bench`."""

from __future__ import annotations

import os
import statistics
from typing import Final

from bench import plugin_overhead
from bench.experiments import ENV
from bench.harness import OUT, Figure, Session, run_alone

NAME: Final = "fixes"
ALL: Final = "markdown,record,probe,trend"


def run(session: Session) -> list[Figure]:
    figures: list[Figure] = []
    html = str(OUT / "runs" / "fix.html")
    pairs = {
        "nightly": ["--html", html, "--self-contained-html"],
        "p0": ["-m", "p0"],
    }
    for label, args in pairs.items():
        before = session.run("large", f"{label}-before", [*args, "-p", "bench.experiments"])
        os.environ[ENV] = ALL
        try:
            after = session.run("large", f"{label}-after", [*args, "-p", "bench.experiments"])
        finally:
            os.environ.pop(ENV, None)
        figures.append(
            Figure(NAME, f"{label}, 6,000 tables: wall before -> after", after.wall, "s", "", None,
                   f"{before.wall:.1f} s -> {after.wall:.1f} s; checks {before.checks_seconds:.1f} -> "
                   f"{after.checks_seconds:.1f} s, reports {before.reports_seconds:.1f} -> "
                   f"{after.reports_seconds:.1f} s ({100 * after.reports_seconds / after.wall:.0f} % of the run)")
        )  # fmt: skip
    root = plugin_overhead._project(plugin_overhead.CASES)
    before_on, after_on, off = [], [], []
    for _ in range(plugin_overhead.REPEAT):
        off.append(plugin_overhead._run(root, enabled=False)[0])
        before_on.append(plugin_overhead._run(root, enabled=True)[0])
        os.environ[ENV] = "markdown,record"
        try:
            after_on.append(plugin_overhead._run(root, enabled=True, extra=["-p", "bench.experiments"])[0])
        finally:
            os.environ.pop(ENV, None)
    base = statistics.median(off)
    b, a = statistics.median(before_on), statistics.median(after_on)
    figures.append(
        Figure(NAME, "results plugin overhead before -> after", 100 * (a - base) / base, "%", "≤ 10 %",
               (a - base) / base <= 0.10,
               f"{100 * (b - base) / base:.1f} % -> {100 * (a - base) / base:.1f} % (without plugin {base:.2f} s)")
    )  # fmt: skip
    return figures


def main() -> None:
    run_alone(run, "fixes.json")


if __name__ == "__main__":
    main()
