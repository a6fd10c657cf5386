"""Is the stand-in measuring the real request pattern? The suite's snapshot on the real emulator
(local-bigquery, behind the sandbox's counting front) at 20, 60 and 180 tables, against the
stand-in serving the same datasets: same API methods, same counts, constant per dataset.

`python -m bench.emulator_check [--sizes 20,60,180]` (needs sandbox/install_emulators.sh; creating
180 tables in the emulator takes about a minute).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

from bench.harness import OUT, Figure, print_figures, write_results

NAME: Final = "emulator check"
PROJECT: Final = "bench-local"
_METHODS: Final = (
    ("POST", r"/queries$", "jobs.query"),
    ("GET", r"/queries/[^/]+$", "jobs.getQueryResults"),
    ("POST", r"/jobs$", "jobs.insert"),
    ("GET", r"/jobs/[^/]+$", "jobs.get"),
    ("GET", r"/datasets/[^/]+$", "datasets.get"),
    ("GET", r"/datasets/[^/]+/tables$", "tables.list"),
    ("GET", r"/datasets/[^/]+/tables/[^/]+$", "tables.get"),
)


def classify(method: str, target: str) -> str:
    path = target.split("?", 1)[0]
    for verb, pattern, name in _METHODS:
        if method == verb and re.search(pattern, path):
            return name
    return f"{method} {path}"


class _Access:
    """What bq_snapshot needs of GoogleAccess: a client, a project, a deadline and a retry."""

    def __init__(self, client: Any, project: str) -> None:
        self.bigquery = client
        self.project = project
        self.timeout = 900.0
        # Whom a refused call names (checks.gcp.errors.api_call).
        self.identity = SimpleNamespace(principal=f"emulator@{project}.iam.gserviceaccount.com")

    def read_retry(self, api: str) -> Any:
        from google.api_core import retry as api_retry

        return api_retry.Retry(predicate=api_retry.if_transient_error, timeout=self.timeout)


def _spec(count: int) -> list[dict[str, Any]]:
    """`count` tables of the M008 families (a few violating), two legacy-name views."""
    now = int(time.time() * 1000)
    families = ("tri", "cov", "corr", "mkt", "reg", "lag", "var")
    tables: list[dict[str, Any]] = []
    for i in range(count):
        name = f"{families[i % 7]}_agg_eurusd_w{45 + i}"
        if i % 10 == 3:
            name = name.upper()
        columns = [["interval_time", "TIMESTAMP"], ["pair", "STRING"], [f"f_{i % 5}", "FLOAT64"]]
        tables.append({"name": name, "type": "TABLE", "columns": columns, "rows": 0, "bytes": 0,
                       "created": now, "modified": now})  # fmt: skip
    return tables


def _snapshot(client: Any, dataset: str) -> int:
    from checks.gcp.bq_snapshot import BigQueryMetadata, DatasetRef

    metadata = BigQueryMetadata(_Access(client, PROJECT))  # type: ignore[arg-type]
    return len(metadata.snapshot(DatasetRef(PROJECT, dataset)).tables)


def _pattern(log: list[tuple[str, str, str]]) -> dict[str, int]:
    return dict(sorted(Counter(classify(method, target) for _, method, target in log).items()))


def run(sizes: list[int]) -> tuple[list[Figure], dict[str, Any]]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery
    from google.oauth2.credentials import Credentials

    from bench.standin import BigQueryStandin
    from sandbox.bigquery_emulator import start_bigquery_emulator
    from sandbox.fakes.fronts import BigQueryFront

    details: dict[str, Any] = {}
    figures: list[Figure] = []
    specs = {n: _spec(n) for n in sizes}
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        emulator = start_bigquery_emulator(Path(tmp), PROJECT, timeout=120)
        front = BigQueryFront(emulator.url)
        # The emulator needs tens of seconds for one INFORMATION_SCHEMA join at these sizes.
        front.upstream_timeout = 900.0
        with emulator, front:
            admin = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                                    location="US", client_options={"api_endpoint": emulator.url})  # fmt: skip
            via_front = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                                        location="US", client_options={"api_endpoint": front.url})  # fmt: skip
            for n, tables in specs.items():
                dataset = f"bench_{n}"
                started = time.perf_counter()
                admin.create_dataset(dataset)
                for t in tables:
                    schema = [bigquery.SchemaField(c, ty) for c, ty in t["columns"]]
                    admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.{t['name']}", schema=schema))
                seeded = time.perf_counter() - started
                front.reset_counts()
                started = time.perf_counter()
                seen = _snapshot(via_front, dataset)
                took = time.perf_counter() - started
                details[f"emulator {n}"] = {"pattern": _pattern(front.request_log), "tables": seen,
                                            "seed_seconds": round(seeded, 1), "snapshot_seconds": round(took, 2)}  # fmt: skip
    metadata = {
        "project": PROJECT,
        "location": "US",
        "datasets": [{"id": f"bench_{n}", "tables": tables} for n, tables in specs.items()],
    }
    with BigQueryStandin(metadata, latency=0.0) as standin:
        client = bigquery.Client(project=PROJECT, credentials=Credentials(token="bench"),  # type: ignore[no-untyped-call]
                                 location="US", client_options={"api_endpoint": standin.url})  # fmt: skip
        for n in sizes:
            standin.reset_counts()
            seen = _snapshot(client, f"bench_{n}")
            details[f"stand-in {n}"] = {"pattern": _pattern(standin.request_log), "tables": seen}
    patterns = {k: v["pattern"] for k, v in details.items()}
    emulator_patterns = [patterns[f"emulator {n}"] for n in sizes]
    constant = all(p == emulator_patterns[0] for p in emulator_patterns)
    same = all(patterns[f"emulator {n}"] == patterns[f"stand-in {n}"] for n in sizes)
    complete = all(
        details[f"emulator {n}"]["tables"] == n == details[f"stand-in {n}"]["tables"] for n in sizes
    )
    sizes_text = ", ".join(map(str, sizes))
    figures.append(
        Figure(NAME, f"emulator requests per dataset at {sizes_text} tables",
               float(sum(emulator_patterns[0].values())), "", "constant", constant,
               f"{emulator_patterns[0]}; snapshot times "
               + ", ".join(f"{details[f'emulator {n}']['snapshot_seconds']} s" for n in sizes))
    )  # fmt: skip
    figures.append(
        Figure(NAME, "stand-in pattern = emulator pattern", None, "", "same methods and counts", same and complete,
               "per size: " + "; ".join(f"{n}: {patterns[f'stand-in {n}']}" for n in sizes))
    )  # fmt: skip
    details["checked_at"] = dt.datetime.now(dt.UTC).isoformat()
    return figures, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="20,60,180")
    args = parser.parse_args()
    figures, details = run([int(s) for s in args.sizes.split(",")])
    print_figures(figures)
    write_results(OUT / "results.json", figures, {NAME: details})


if __name__ == "__main__":
    main()
