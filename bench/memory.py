"""Benchmark 5: peak memory (RSS) of the controller at 6,000 tables: target at most 300 MB.

Read by bench.probe inside the controller (getrusage of the process itself at unconfigure), so
workers under -n 2 are not counted in it; serial runs have the controller do all the work."""

from __future__ import annotations

from typing import Final

from bench.harness import Figure, Session, run_alone

NAME: Final = "5 memory"


def run(session: Session) -> list[Figure]:
    serial = session.nightly("large")
    parallel = session.nightly("large", workers=2)
    return [
        Figure(NAME, "controller peak RSS, nightly serial, 6,000 tables", serial.controller_rss_mb, "MB",
               "≤ 300 MB", serial.controller_rss_mb <= 300, "the controller also runs every check"),
        Figure(NAME, "controller peak RSS, nightly -n 2, 6,000 tables", parallel.controller_rss_mb, "MB",
               "≤ 300 MB", parallel.controller_rss_mb <= 300, "aggregation and reports only"),
    ]  # fmt: skip


def main() -> None:
    run_alone(run)


if __name__ == "__main__":
    main()
