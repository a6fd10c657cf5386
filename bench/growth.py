"""Benchmark 6: how the figures grow from 600 to 6,000 tables (20 to 200 scripts): target linear
or better in every column, i.e. a growth factor of at most 10 for 10 times the pipeline."""

from __future__ import annotations

from typing import Final

from bench.harness import Figure, Session, SuiteRun, run_alone

NAME: Final = "6 growth"
SCALE: Final = 10.0


def _columns(run: SuiteRun) -> dict[str, float]:
    per = [v for k, v in run.per_dataset().items() if not k.startswith("<")]
    return {
        "wall (s)": run.wall,
        "start-up+collection (s)": run.startup_seconds,
        "checks (s)": run.checks_seconds,
        "reports (s)": run.reports_seconds,
        "BigQuery requests": float(len(run.hits)),
        "requests per dataset": float(max(per)),
        "controller RSS (MB)": run.controller_rss_mb,
        "cases": float(run.probe.get("facts", {}).get("items") or 0),
    }


def run(session: Session) -> list[Figure]:
    small = _columns(session.nightly("small"))
    large = _columns(session.nightly("large"))
    figures = []
    for column, big in large.items():
        factor = big / small[column] if small[column] else float("nan")
        figures.append(
            Figure(NAME, f"{column}: 600 -> 6,000 tables", factor, "x", "≤ 10x (linear)", factor <= SCALE,
                   f"{small[column]:,.2f} -> {big:,.2f}")
        )  # fmt: skip
    return figures


def main() -> None:
    run_alone(run)


if __name__ == "__main__":
    main()
