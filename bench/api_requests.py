"""Benchmark 1: API requests per dataset for the naming, schema and freshness audits, and wall time
against a naive audit that calls tables.get once per table (same stand-in, same latency).

Measured two ways:
- in this process, the suite's own snapshot (checks/gcp/bq_snapshot.py) of every dataset of the
  manifest, side by side with the naive loop through the same official client;
- the suite itself (subprocess) restricted to the dataset audits, serial and with `-n 2`, counting
  what the stand-in received per dataset.

The naive loop at 6,000 tables is 7,000+ calls (over 12 minutes at 100 ms each); by default it is
timed on a sample (the first pages of tables.list and `NAIVE_SAMPLE` tables.get calls) and
extrapolated linearly, which is exact for a loop of identical calls; `--full-naive` runs it all.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any, Final

from bench.harness import OUT, Figure, Session, print_figures, write_results

NAME: Final = "1 api requests"
AUDITS: Final = "dataset_reachable or dataset_inventory or naming_mandate or schema_mandate or source_fresh or legacy_views"
NAIVE_SAMPLE: Final = 100
LIST_SAMPLE_PAGES: Final = 5


def _access(session: Session, size: str) -> Any:
    from checks.gcp.access import GoogleAccess, endpoints_for
    from checks.gcp.credentials import resolve_identity
    from readiness.manifest import load_manifest

    made, be = session.backend(size)
    loaded = load_manifest(made.manifest)
    gcp = loaded.manifest.gcp
    assert gcp is not None
    with be.applied():
        endpoints = endpoints_for(gcp)
        identity = resolve_identity(gcp.impersonate, endpoints.iamcredentials, gcp.timeout_seconds)
    return loaded, GoogleAccess(gcp, identity, endpoints)


def snapshot_pass(session: Session, size: str) -> dict[str, Any]:
    """The suite's snapshot of every manifest dataset, in process: time and requests per dataset."""
    from checks.gcp.bq_snapshot import BigQueryMetadata, DatasetRef

    _, be = session.backend(size)
    loaded, google = _access(session, size)
    refs = [DatasetRef.parse(d.subject, google.project) for d in loaded.manifest.datasets]
    be.reset()
    metadata = BigQueryMetadata(google)
    started = time.perf_counter()
    tables = sum(len(metadata.snapshot(ref).tables) for ref in refs)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "tables": tables,
        "requests": len(be.standin.hits()),
        "per_dataset": be.standin.per_dataset(be.standin.hits()),
        "bytes_billed": be.standin.bytes_billed,
    }


def naive_pass(session: Session, size: str, full: bool = False) -> dict[str, Any]:
    """list_tables, then get_table per table: measured on a sample unless `full`."""
    _, be = session.backend(size)
    loaded, google = _access(session, size)
    client = google.bigquery
    datasets = [f"{google.project}.{d.id}" for d in loaded.manifest.datasets]
    total_tables = sum(len(be.standin.datasets[d.split(".", 1)[1]]) for d in datasets)
    be.reset()
    started = time.perf_counter()
    list_pages = 0
    names: list[str] = []
    for dataset in datasets:
        for page in client.list_tables(dataset).pages:
            list_pages += 1
            names += [f"{dataset}.{t.table_id}" for t in page]
            if not full and list_pages >= LIST_SAMPLE_PAGES:
                break
        if not full and list_pages >= LIST_SAMPLE_PAGES:
            break
    list_seconds = time.perf_counter() - started
    sample = names if full else names[:NAIVE_SAMPLE]
    started = time.perf_counter()
    for table_id in sample:
        client.get_table(table_id)
    get_seconds = time.perf_counter() - started
    pages_needed = sum(math.ceil(len(be.standin.datasets[d.split(".", 1)[1]]) / 50) for d in datasets)
    per_page = list_seconds / list_pages
    per_get = get_seconds / len(sample)
    estimate = pages_needed * per_page + total_tables * per_get
    return {
        "seconds": estimate,
        "measured": full,
        "requests": pages_needed + total_tables,
        "seconds_per_get": per_get,
        "seconds_per_list_page": per_page,
        "sampled_gets": len(sample),
        "tables": total_tables,
    }


def run(session: Session, full_naive: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    for size in ("small", "large"):
        made, _ = session.backend(size)
        snap = snapshot_pass(session, size)
        naive = naive_pass(session, size, full=full_naive)
        serial = session.run(size, "audits", ["-k", AUDITS])
        parallel = session.run(size, "audits-n2", ["-k", AUDITS, "-n", "2"])
        details[size] = {"snapshot": snap, "naive": naive}
        features = snap["per_dataset"].get("bqx_ml_v3_features", 0)
        worst = max(v for k, v in serial.per_dataset().items() if not k.startswith("<"))
        label = f"{made.size.tables:,} tables"
        figures.append(
            Figure(NAME, f"requests per dataset, audits, serial ({label})", worst, "",
                   "constant, ≤ 5", worst <= 5, f"per dataset: {_fmt(serial.per_dataset())}")
        )  # fmt: skip
        n2 = max(v for k, v in parallel.per_dataset().items() if not k.startswith("<"))
        figures.append(
            Figure(NAME, f"requests per dataset, audits, -n 2 ({label})", n2, "",
                   "≤ 5, one snapshot shared", n2 <= 5 and n2 <= worst,
                   f"the controller reads each dataset once for all workers: {_fmt(parallel.per_dataset())}")
        )  # fmt: skip
        speedup = naive["seconds"] / snap["seconds"]
        how = "measured" if naive["measured"] else f"extrapolated from {naive['sampled_gets']} gets"
        figures.append(
            Figure(NAME, f"snapshot vs naive per-table loop ({label})", speedup, "x",
                   "≥ 50x at 6,000" if size == "large" else "",
                   speedup >= 50 if size == "large" else None,
                   f"snapshot {snap['seconds']:.2f} s, {snap['requests']} requests ({features} for the features "
                   f"dataset); naive {naive['seconds']:.0f} s, {naive['requests']:,} requests ({how})")
        )  # fmt: skip
    session.details[NAME] = details
    return figures


def _fmt(per: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in per.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--full-naive", action="store_true", help="run the whole naive loop (12+ minutes)")
    args = parser.parse_args()
    with Session() as session:
        figures = run(session, full_naive=args.full_naive)
        print_figures(figures)
        write_results(OUT / "results.json", figures, session.details)


if __name__ == "__main__":
    main()
