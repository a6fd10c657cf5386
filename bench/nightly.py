"""Benchmark 2: the whole nightly suite at 6,000 tables (collection, checks, all documents, HTML)
with the stand-in's latency: target at most 30 s, reports at most 10 % of it, and its wall at
most 1.3x its own CPU time (the reads overlap: what is left of waiting is the chains of reads
that depend on each other); and `pytest -m p0` (what runs right before execution) at most 4 s,
reading only what its cases need."""

from __future__ import annotations

from typing import Final

from bench.harness import Figure, Session, run_alone

NAME: Final = "2 nightly"


def run(session: Session) -> list[Figure]:
    nightly = session.nightly("large")
    p0 = session.run("large", "p0", ["-m", "p0"])
    share = 100 * nightly.reports_seconds / nightly.wall
    waiting = nightly.wall / nightly.cpu_seconds if nightly.cpu_seconds else float("nan")
    p0_requests = len(p0.hits) + sum(p0.services.values())
    items = nightly.probe.get("facts", {}).get("items")
    return [
        Figure(NAME, "nightly suite, 6,000 tables, serial, with HTML", nightly.wall, "s", "≤ 30 s",
               nightly.wall <= 30,
               f"{items} cases; start-up+collection {nightly.startup_seconds:.1f} s, checks "
               f"{nightly.checks_seconds:.1f} s, reports {nightly.reports_seconds:.1f} s"),
        Figure(NAME, "reports share of the nightly run", share, "%", "≤ 10 %", share <= 10,
               "documents, results JSON, history, trend chart and HTML (session finish + summary)"),
        Figure(NAME, "nightly wall vs its own CPU time", waiting, "x", "≤ 1.3x", waiting <= 1.3,
               f"wall {nightly.wall:.1f} s, CPU {nightly.cpu_seconds:.1f} s (controller and the processes it "
               f"started); {len(nightly.hits)} BigQuery requests, {sum(nightly.services.values())} to the others"),
        Figure(NAME, "pytest -m p0, 6,000 tables", p0.wall, "s", "≤ 4 s", p0.wall <= 4,
               f"{p0.probe.get('facts', {}).get('items')} cases; start-up {p0.startup_seconds:.1f} s, checks "
               f"{p0.checks_seconds:.1f} s, reports {p0.reports_seconds:.1f} s; CPU {p0.cpu_seconds:.1f} s; "
               f"{p0_requests} requests ({len(p0.hits)} BigQuery)"),
    ]  # fmt: skip


def main() -> None:
    run_alone(run)


if __name__ == "__main__":
    main()
