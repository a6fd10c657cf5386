"""The benchmark tools: the generator is deterministic and has the promised shape, and the BigQuery
stand-in answers the official client as the real API would (paging, query rows and schemas,
latency, request counts)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import bigquery
from google.oauth2.credentials import Credentials

from bench.generate import FAMILIES, SIZES, Generated, generate, load_metadata
from bench.standin import MIN_BILLED_BYTES, BigQueryStandin

FEATURES = "bqx_ml_v3_features"
SOURCES = "bqx_bq_uscen1_v2"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("gen"), SIZES["small"])


@pytest.fixture(scope="module")
def metadata(small: Generated) -> dict[str, Any]:
    return load_metadata(small.metadata)


@pytest.fixture(scope="module")
def standin(small: Generated) -> Iterator[BigQueryStandin]:
    with BigQueryStandin(small.metadata, latency=0.0) as server:
        yield server


@pytest.fixture
def client(standin: BigQueryStandin) -> bigquery.Client:
    standin.reset_counts()
    standin.latency = 0.0
    return bigquery.Client(
        project=standin.project,
        credentials=Credentials(token="bench-token"),  # type: ignore[no-untyped-call]
        location="US",
        client_options={"api_endpoint": standin.url},
    )


def _head(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


# -- generator -------------------------------------------------------------------------------------


def test_same_seed_same_pipeline(small: Generated, tmp_path: Path) -> None:
    again = generate(tmp_path, SIZES["small"])
    assert again.metadata.read_bytes() == small.metadata.read_bytes()
    assert again.manifest.read_text() == small.manifest.read_text()
    assert again.renames.read_text() == small.renames.read_text()
    # Same files, modes, dates and messages: the same commit ids.
    assert _head(again.repo) == _head(small.repo)


def test_small_size_has_promised_counts(small: Generated, metadata: dict[str, Any]) -> None:
    expected = metadata["expected"]
    features = next(d for d in metadata["datasets"] if d["id"] == FEATURES)["tables"]
    tables = [t for t in features if t["type"] == "TABLE"]
    assert len(tables) == expected["tables"] == 600
    assert expected["scripts"] == 20
    assert set(expected["per_family"]) == set(FAMILIES)
    columns = [len(t["columns"]) for t in tables]
    assert 18 <= sum(columns) / len(columns) <= 22  # about 20 columns a table
    manifest = small.manifest.read_text()
    assert manifest.count("[[scripts]]") == 20
    assert "[gcp]" in manifest and 'id = "M008"' in manifest and 'id = "M005"' in manifest


def test_violation_shares_are_realistic(metadata: dict[str, Any]) -> None:
    expected = metadata["expected"]
    naming = sum(expected["naming_violations"].values()) / expected["tables"]
    assert 0.15 <= naming <= 0.5
    # COV is what the phase renames: most of its names still violate M008.
    cov = expected["naming_violations"]["COV"] / expected["per_family"]["COV"]
    assert cov > 0.4
    assert 0 < expected["column_violation_tables"] < 0.1 * expected["tables"]
    assert 0 < expected["schema_violation_tables"] < 0.1 * expected["tables"]
    assert expected["views"] == expected["renames"] - expected["missing_views"]


def test_repo_has_history_on_distinct_dates(small: Generated) -> None:
    log = subprocess.run(
        ["git", "-C", str(small.repo), "log", "--format=%cI"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(log) >= 3 and len(set(log)) == len(log)


def test_large_size_is_declared_at_real_scale() -> None:
    assert (SIZES["large"].tables, SIZES["large"].scripts) == (6000, 200)


# -- stand-in --------------------------------------------------------------------------------------


def test_tables_list_pages_with_page_tokens(client: bigquery.Client, standin: BigQueryStandin) -> None:
    total = len(standin.datasets[FEATURES])
    pages = list(client.list_tables(f"{standin.project}.{FEATURES}", page_size=100).pages)
    names = [t.table_id for page in pages for t in page]
    assert len(names) == total and len(set(names)) == total
    assert len(pages) == -(-total // 100)
    assert standin.request_count("bigquery.tables.list") == len(pages)


def test_tables_get_returns_schema_and_stats_as_strings(
    client: bigquery.Client, standin: BigQueryStandin, metadata: dict[str, Any]
) -> None:
    raw = next(t for t in metadata["datasets"][0]["tables"] if t["type"] == "TABLE")
    table = client.get_table(f"{standin.project}.{FEATURES}.{raw['name']}")
    assert table.num_rows == raw["rows"] and table.num_bytes == raw["bytes"]
    assert [f.name for f in table.schema] == [c[0] for c in raw["columns"]]
    assert int(table.modified.timestamp() * 1000) == raw["modified"]


def test_information_schema_columns_rows_and_schema(
    client: bigquery.Client, standin: BigQueryStandin
) -> None:
    sql = (
        f"SELECT table_name, column_name, ordinal_position FROM `{standin.project}.{FEATURES}`"
        ".INFORMATION_SCHEMA.COLUMNS ORDER BY table_name, ordinal_position"
    )
    rows = client.query_and_wait(sql)
    assert [(f.name, f.field_type) for f in rows.schema] == [
        ("table_name", "STRING"),
        ("column_name", "STRING"),
        ("ordinal_position", "INTEGER"),
    ]
    got = list(rows)
    expected = sum(len(t["columns"]) for t in standin.datasets[FEATURES].values())
    assert len(got) == expected
    assert isinstance(got[0]["ordinal_position"], int) and got[0]["ordinal_position"] == 1
    assert standin.request_counts() == {"bigquery.jobs.query": 1}
    assert standin.bytes_billed == MIN_BILLED_BYTES


def test_query_results_page_by_max_results(client: bigquery.Client, standin: BigQueryStandin) -> None:
    sql = f"SELECT table_id, row_count, last_modified_time FROM `{standin.project}.{FEATURES}.__TABLES__`"
    rows = list(client.query(sql).result(page_size=250))
    assert len(rows) == len(standin.datasets[FEATURES])
    assert isinstance(rows[0]["row_count"], int)
    pages = standin.request_count("bigquery.jobs.getQueryResults")
    assert pages >= -(-len(rows) // 250)


def test_timestamps_and_array_agg_as_the_client_expects(
    client: bigquery.Client, standin: BigQueryStandin
) -> None:
    sql = (
        f"SELECT t.table_name, t.creation_time, ARRAY_AGG(c.column_name ORDER BY c.ordinal_position) AS columns "
        f"FROM `{standin.project}.{SOURCES}`.INFORMATION_SCHEMA.TABLES AS t "
        f"JOIN `{standin.project}.{SOURCES}`.INFORMATION_SCHEMA.COLUMNS AS c ON c.table_name = t.table_name "
        "WHERE t.table_name = @name GROUP BY t.table_name, t.creation_time"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter("name", "STRING", "base_bqx_eurusd")]
    )
    (row,) = list(client.query_and_wait(sql, job_config=config))
    raw = standin.datasets[SOURCES]["base_bqx_eurusd"]
    assert row["columns"] == [c[0] for c in raw["columns"]]
    assert int(row["creation_time"].timestamp() * 1000) == raw["created"]


def test_missing_dataset_is_not_found_and_unknown_sql_is_refused(
    client: bigquery.Client, standin: BigQueryStandin
) -> None:
    with pytest.raises(exceptions.NotFound):
        client.query_and_wait(f"SELECT 1 FROM `{standin.project}.nope`.INFORMATION_SCHEMA.TABLES")
    with pytest.raises(exceptions.BadRequest, match="bench stand-in"):
        client.query_and_wait(f"SELECT * FROM `{standin.project}.{FEATURES}.some_table`")


def test_latency_is_applied_to_every_request(client: bigquery.Client, standin: BigQueryStandin) -> None:
    name = next(iter(standin.datasets[SOURCES]))
    standin.latency = 0.05
    started = time.perf_counter()
    for _ in range(3):
        client.get_table(f"{standin.project}.{SOURCES}.{name}")
    assert time.perf_counter() - started >= 0.15
    assert standin.request_count("bigquery.tables.get") == 3
    assert standin.per_dataset(standin.hits()) == {SOURCES: 3}


def test_requests_need_a_bearer_token(standin: BigQueryStandin) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{standin.url}/bigquery/v2/projects/{standin.project}/datasets/{SOURCES}")
    assert caught.value.code == 401


def test_suite_snapshot_costs_constant_requests_per_dataset(
    client: bigquery.Client, standin: BigQueryStandin
) -> None:
    """The suite's own snapshot, through the stand-in: the request pattern the bench measures."""
    from checks.gcp.bq_snapshot import BigQueryMetadata, DatasetRef

    class _Access:
        project = standin.project
        timeout = 30.0
        bigquery = client
        # Whom a refused call names (checks.gcp.errors.api_call).
        identity = SimpleNamespace(principal="bench@bqx-bench.iam.gserviceaccount.com")

        def read_retry(self, api: str) -> Any:
            return bigquery.DEFAULT_RETRY

    metadata = BigQueryMetadata(_Access())  # type: ignore[arg-type]
    snapshot = metadata.snapshot(DatasetRef(standin.project, FEATURES))
    assert len(snapshot.tables) == len(standin.datasets[FEATURES])
    per = standin.per_dataset(standin.hits())
    assert per[FEATURES] <= 5
    assert all(re.match(r"bigquery\.(datasets\.get|jobs\.\w+)$", h.route) for h in standin.hits())
    assert json.dumps(per)  # JSON-able, as results.json stores it


# -- the bench's other services ---------------------------------------------------------------------


def test_backend_serves_the_pipelines_jobs_at_the_same_latency(small: Generated) -> None:
    """Every Dockerfile of the generated pipeline runs as a Cloud Run job; the bench backend
    serves those jobs (seeded from the manifest) through the official client, each request at
    the injected latency, and counts what it served."""
    from bench.harness import backend
    from checks.gcp.access import GoogleAccess, endpoints_for
    from checks.gcp.credentials import resolve_identity
    from readiness.manifest import load_manifest

    loaded = load_manifest(small.manifest)
    gcp = loaded.manifest.gcp
    assert gcp is not None
    dockerfiles = [s.path for s in loaded.manifest.scripts if s.path.startswith("docker/Dockerfile")]
    jobs = loaded.manifest.jobs
    assert jobs and len(jobs) == len(dockerfiles)
    assert {p.resource for p in loaded.manifest.permissions} == {"project"} | {f"job:{j.name}" for j in jobs}
    with backend(small, latency=0.05) as be, be.applied():
        endpoints = endpoints_for(gcp)
        identity = resolve_identity(gcp.impersonate, endpoints.iamcredentials, gcp.timeout_seconds)
        google = GoogleAccess(gcp, identity, endpoints)
        be.reset()
        for job in jobs:
            started = time.perf_counter()
            found = google.run_jobs.get_job(
                name=f"projects/{gcp.project}/locations/{gcp.region}/jobs/{job.name}"
            )
            assert time.perf_counter() - started >= 0.05
            assert [c.image for c in found.template.template.containers] == [job.image]
        assert be.service_requests() == {"run.jobs.get": len(jobs)}
