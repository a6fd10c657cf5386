"""Benchmark 4: with the injected latency, the nightly suite with `-n 2` against serial, as
information (on two cores each worker pays its own start-up and collection, and the reads
already overlap in one process: there is no target), and what the workers ask Google: the
same requests as serial (the controller makes the reads once and hands the answers over)."""

from __future__ import annotations

from typing import Final

from bench.harness import Figure, Session, run_alone

NAME: Final = "4 xdist"


def run(session: Session) -> list[Figure]:
    serial = session.nightly("large")
    parallel = session.nightly("large", workers=2)
    speedup = serial.wall / parallel.wall
    # What two processes can give at best: the serial run's start-up and reports stay one
    # process's work (the controller's), only its checks can be split (Amdahl).
    fixed = serial.wall - serial.checks_seconds
    bound = serial.wall / (fixed + serial.checks_seconds / 2)
    checks_speedup = serial.checks_seconds / parallel.checks_seconds
    # Where the -n run's time goes, from the workers' own timelines (bench.probe).
    ready = max(parallel.worker_seconds("_started", "runtestloop_start"), default=float("nan"))
    shares = parallel.worker_seconds("runtestloop_start", "runtestloop_end")
    last_check = max((m["runtestloop_end"] for m in parallel.workers.values()), default=float("nan"))
    after = parallel.mark("unconfigure") - last_check
    per = {k: v for k, v in parallel.per_dataset().items() if not k.startswith("<")}
    per_serial = {k: v for k, v in serial.per_dataset().items() if not k.startswith("<")}
    serial_requests = len(serial.hits) + sum(serial.services.values())
    parallel_requests = len(parallel.hits) + sum(parallel.services.values())
    return [
        Figure(NAME, "-n 2 vs serial, nightly, 6,000 tables", speedup, "x", "", None,
               f"serial {serial.wall:.1f} s (checks {serial.checks_seconds:.1f} s), -n 2 {parallel.wall:.1f} s "
               f"(checks {parallel.checks_seconds:.1f} s, reports {parallel.reports_seconds:.1f} s)"),
        Figure(NAME, "-n 2 vs serial, checks phase alone", checks_speedup, "x", "", None,
               f"the workers' start-up and collection ({parallel.checks_seconds - serial.checks_seconds / 2:.1f} s "
               "more than half the serial checks) is inside this phase"),
        Figure(NAME, "-n 2 timeline: workers ready, checks per worker, after the last check", ready, "s", "", None,
               f"workers checking from {ready:.1f} s after the start (serial: {serial.startup_seconds:.1f} s); "
               f"their checks {' and '.join(f'{s:.1f} s' for s in shares)} (serial {serial.checks_seconds:.1f} s); "
               f"{after:.1f} s from the last check to the controller's end (serial "
               f"{serial.mark('unconfigure') - serial.mark('runtestloop_end'):.1f} s)"),
        Figure(NAME, "best -n 2 could do on this run (serial start-up and reports stay)", bound, "x", "", None,
               f"serial: {fixed:.1f} s outside the checks, {serial.checks_seconds:.1f} s of checks; "
               f"{sum(serial.services.values())} requests to Cloud Run/IAM/quotas/APIs, {len(serial.hits)} to BigQuery"),
        Figure(NAME, "requests per dataset, nightly, -n 2", max(per.values()), "", "", None,
               f"-n 2: {per}; serial: {per_serial}; the controller reads each dataset once and hands "
               "the snapshot to the workers (checks/gcp/handover.py)"),
        Figure(NAME, "requests of the nightly, -n 2 / serial", parallel_requests, "", f"= {serial_requests}",
               parallel_requests == serial_requests,
               f"-n 2: {len(parallel.hits)} BigQuery, {parallel.services}; serial: {len(serial.hits)} BigQuery, "
               f"{serial.services}: no read repeated by a worker"),
    ]  # fmt: skip


def main() -> None:
    run_alone(run)


if __name__ == "__main__":
    main()
