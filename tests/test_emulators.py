"""The local emulators, driven only through the official Google clients.

Each emulator starts once per module. Every BigQuery test uses its own dataset so the
tests do not depend on their order, and the data stays tiny: the emulator slows down
as tables accumulate. If the emulators are not installed these tests fail (never skip)
with a message naming sandbox/install_emulators.sh.
"""

from __future__ import annotations

import datetime
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.cloud.storage import Client as StorageClient

from sandbox.bigquery_emulator import emulator_python, start_bigquery_emulator
from sandbox.gcs_emulator import fake_gcs_binary, start_gcs_emulator
from sandbox.processes import (
    EmulatorNotInstalledError,
    LocalServer,
    ServerStartError,
    free_port,
    start_server,
)

PROJECT = "readiness-local"
SCHEMA = [
    bigquery.SchemaField("id", "INT64", mode="REQUIRED"),
    bigquery.SchemaField("name", "STRING"),
]
# Short per-call timeouts: a hung emulator must fail the test, not stall the run.
TIMEOUT = 30.0


def _require_installed() -> None:
    """Fail (never skip) with one line naming install_emulators.sh when emulators are missing."""
    try:
        emulator_python()
        fake_gcs_binary()
        return
    except EmulatorNotInstalledError as error:
        problem = str(error)
    # Failing outside the except block keeps the report to that one line.
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="module")
def bigquery_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    _require_installed()
    with start_bigquery_emulator(tmp_path_factory.mktemp("bq"), PROJECT) as server:
        yield server


@pytest.fixture(scope="module")
def bq(bigquery_server: LocalServer) -> bigquery.Client:
    return bigquery.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": bigquery_server.url},
    )


@pytest.fixture
def dataset(bq: bigquery.Client) -> Iterator[str]:
    dataset_id = f"ds_{uuid.uuid4().hex[:8]}"
    bq.create_dataset(dataset_id, timeout=TIMEOUT)
    yield f"{PROJECT}.{dataset_id}"
    bq.delete_dataset(dataset_id, delete_contents=True, not_found_ok=True, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    _require_installed()
    with start_gcs_emulator(tmp_path_factory.mktemp("gcs")) as server:
        yield server


@pytest.fixture(scope="module")
def gcs(gcs_server: LocalServer) -> StorageClient:
    return StorageClient(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": gcs_server.url},
    )


def _rows(bq: bigquery.Client, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row.values()) for row in bq.query(sql).result(timeout=TIMEOUT)]


def _create_table(bq: bigquery.Client, table_id: str, **properties: object) -> bigquery.Table:
    table = bigquery.Table(table_id, schema=SCHEMA)
    for name, value in properties.items():
        setattr(table, name, value)
    return bq.create_table(table, timeout=TIMEOUT)


# --- installation -------------------------------------------------------------------------


@pytest.mark.emulator
def test_emulators_are_installed() -> None:
    """Fails, naming install_emulators.sh, when the emulator venv is missing."""
    _require_installed()
    assert emulator_python().is_file()
    assert fake_gcs_binary().is_file()


# --- BigQuery -----------------------------------------------------------------------------


@pytest.mark.emulator
def test_tables_with_expiration_listed_and_in_information_schema(bq: bigquery.Client, dataset: str) -> None:
    expires = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=1)
    _create_table(bq, f"{dataset}.alpha")
    _create_table(bq, f"{dataset}.beta")
    _create_table(bq, f"{dataset}.gamma", expires=expires)

    assert bq.get_table(f"{dataset}.gamma", timeout=TIMEOUT).expires == expires
    listed = {t.table_id: t.expires for t in bq.list_tables(dataset, timeout=TIMEOUT)}
    assert listed == {"alpha": None, "beta": None, "gamma": expires}

    tables = _rows(bq, f"SELECT table_name, table_type FROM `{dataset}`.INFORMATION_SCHEMA.TABLES ORDER BY 1")
    assert tables == [(name, "BASE TABLE") for name in ("alpha", "beta", "gamma")]
    columns = _rows(
        bq,
        "SELECT table_name, column_name, data_type, is_nullable "
        f"FROM `{dataset}`.INFORMATION_SCHEMA.COLUMNS ORDER BY table_name, ordinal_position",
    )
    assert columns == [
        (table, column, kind, nullable)
        for table in ("alpha", "beta", "gamma")
        for column, kind, nullable in (("id", "INT64", "NO"), ("name", "STRING", "YES"))
    ]
    options = _rows(bq, f"SELECT table_name, option_name FROM `{dataset}`.INFORMATION_SCHEMA.TABLE_OPTIONS")
    assert options == [("gamma", "expiration_timestamp")]


@pytest.mark.emulator
@pytest.mark.parametrize(
    "qualifier",
    ["`{project}.{dataset}`", "`{project}`.{dataset}", "{dataset}", "`region-us`", "`{project}.region-us`"],
    ids=["project.dataset", "project-then-dataset", "dataset-only", "region-us", "project.region-us"],
)
def test_information_schema_qualifiers(bq: bigquery.Client, dataset: str, qualifier: str) -> None:
    """Documents which INFORMATION_SCHEMA spellings the emulator accepts (all of these)."""
    project, dataset_id = dataset.split(".")
    _create_table(bq, f"{dataset}.only")
    source = qualifier.format(project=project, dataset=dataset_id)
    rows = _rows(
        bq,
        f"SELECT table_schema, table_name FROM {source}.INFORMATION_SCHEMA.TABLES "
        f"WHERE table_schema = '{dataset_id}'",
    )
    assert rows == [(dataset_id, "only")]


@pytest.mark.emulator
def test_expired_table_disappears(bq: bigquery.Client, dataset: str) -> None:
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
    _create_table(bq, f"{dataset}.ephemeral", expires=soon)
    time.sleep(1.5)
    with pytest.raises(exceptions.NotFound):
        bq.get_table(f"{dataset}.ephemeral", timeout=TIMEOUT)
    assert list(bq.list_tables(dataset, timeout=TIMEOUT)) == []


@pytest.mark.emulator
def test_alter_table_rename_keeps_rows(bq: bigquery.Client, dataset: str) -> None:
    _create_table(bq, f"{dataset}.t")
    _rows(bq, f"INSERT INTO `{dataset}.t` (id, name) VALUES (1, 'one')")

    _rows(bq, f"ALTER TABLE `{dataset}.t` RENAME TO t2")

    renamed = bq.get_table(f"{dataset}.t2", timeout=TIMEOUT)
    assert [field.name for field in renamed.schema] == ["id", "name"]
    assert _rows(bq, f"SELECT id, name FROM `{dataset}.t2`") == [(1, "one")]
    with pytest.raises(exceptions.NotFound):
        bq.get_table(f"{dataset}.t", timeout=TIMEOUT)


@pytest.mark.emulator
def test_dry_run_validates_without_executing(bq: bigquery.Client, dataset: str) -> None:
    _create_table(bq, f"{dataset}.t")
    dry = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)

    job = bq.query(f"SELECT id, name FROM `{dataset}.t`", job_config=dry)
    # Like BigQuery: answered at once, no job id, schema and referenced tables filled in.
    assert job.state == "DONE"
    assert job.job_id is None
    assert job.total_bytes_processed == 0
    assert [field.name for field in job.schema or []] == ["id", "name"]
    assert [t.table_id for t in job.referenced_tables] == ["t"]

    dropped = bq.query(f"DROP TABLE `{dataset}.t`", job_config=dry)
    assert dropped.statement_type == "DROP_TABLE"
    assert bq.get_table(f"{dataset}.t", timeout=TIMEOUT).table_id == "t"  # not executed

    with pytest.raises(exceptions.BadRequest, match="Unrecognized name: nope"):
        bq.query(f"SELECT nope FROM `{dataset}.t`", job_config=dry)
    with pytest.raises(exceptions.NotFound, match="missing"):
        bq.query(f"SELECT 1 FROM `{dataset}.missing`", job_config=dry)


@pytest.mark.emulator
def test_view_filters_rows(bq: bigquery.Client, dataset: str) -> None:
    _create_table(bq, f"{dataset}.t")
    bq.insert_rows_json(f"{dataset}.t", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    view = bigquery.Table(f"{dataset}.v")
    view.view_query = f"SELECT name FROM `{dataset}.t` WHERE id > 1"
    bq.create_table(view, timeout=TIMEOUT)

    fetched = bq.get_table(f"{dataset}.v", timeout=TIMEOUT)
    assert (fetched.table_type, fetched.view_query) == ("VIEW", view.view_query)
    assert _rows(bq, f"SELECT * FROM `{dataset}.v`") == [("b",)]
    view_type = _rows(
        bq, f"SELECT table_type FROM `{dataset}`.INFORMATION_SCHEMA.TABLES WHERE table_name = 'v'"
    )
    assert view_type == [("VIEW",)]


@pytest.mark.emulator
def test_copy_job_copies_rows(bq: bigquery.Client, dataset: str) -> None:
    _create_table(bq, f"{dataset}.src")
    _rows(bq, f"INSERT INTO `{dataset}.src` (id, name) VALUES (7, 'seven')")
    job = bq.copy_table(f"{dataset}.src", f"{dataset}.dst")
    job.result(timeout=TIMEOUT)
    assert job.state == "DONE"
    assert _rows(bq, f"SELECT id, name FROM `{dataset}.dst`") == [(7, "seven")]


@pytest.mark.emulator
def test_conflict_not_found_and_delete(bq: bigquery.Client, dataset: str) -> None:
    _create_table(bq, f"{dataset}.t")
    with pytest.raises(exceptions.Conflict):
        _create_table(bq, f"{dataset}.t")
    with pytest.raises(exceptions.Conflict):
        bq.create_dataset(dataset, timeout=TIMEOUT)

    bq.delete_table(f"{dataset}.t", timeout=TIMEOUT)
    with pytest.raises(exceptions.NotFound):
        bq.get_table(f"{dataset}.t", timeout=TIMEOUT)
    with pytest.raises(exceptions.NotFound):
        bq.delete_table(f"{dataset}.t", timeout=TIMEOUT)

    bq.delete_dataset(dataset, timeout=TIMEOUT)
    with pytest.raises(exceptions.NotFound):
        bq.get_dataset(dataset, timeout=TIMEOUT)


# --- GCS ----------------------------------------------------------------------------------


@pytest.mark.emulator
def test_bucket_and_blob_round_trip(gcs: StorageClient) -> None:
    bucket = gcs.create_bucket(f"b-{uuid.uuid4().hex[:8]}", timeout=TIMEOUT)
    assert bucket.name in {b.name for b in gcs.list_buckets(timeout=TIMEOUT)}

    bucket.blob("dir/a.txt").upload_from_string(b"hello", timeout=TIMEOUT)
    bucket.blob("other.txt").upload_from_string(b"x", timeout=TIMEOUT)
    assert bucket.blob("dir/a.txt").download_as_bytes(timeout=TIMEOUT) == b"hello"
    listed = [b.name for b in gcs.list_blobs(bucket, prefix="dir/", timeout=TIMEOUT)]
    assert listed == ["dir/a.txt"]

    bucket.blob("dir/a.txt").delete(timeout=TIMEOUT)
    assert bucket.get_blob("dir/a.txt", timeout=TIMEOUT) is None
    with pytest.raises(exceptions.NotFound):
        bucket.blob("dir/a.txt").download_as_bytes(timeout=TIMEOUT)


@pytest.mark.emulator
def test_many_sequential_requests_do_not_hang(gcs: StorageClient) -> None:
    """Regression: the wrapper's start() piped stderr unread and froze after ~300 requests."""
    bucket = gcs.create_bucket(f"many-{uuid.uuid4().hex[:8]}", timeout=TIMEOUT)
    for i in range(250):  # 250 uploads + 250 downloads = 500 requests
        blob = bucket.blob(f"n/{i:03d}")
        blob.upload_from_string(str(i).encode(), timeout=10)
        assert blob.download_as_bytes(timeout=10) == str(i).encode()
    assert len(list(gcs.list_blobs(bucket, timeout=TIMEOUT))) == 250


# --- process handling ---------------------------------------------------------------------


def test_start_failure_reports_log_tail(tmp_path: Path) -> None:
    script = "import sys; print('bad flag --frobnicate', flush=True); sys.exit(3)"
    with pytest.raises(ServerStartError, match=r"(?s)exited with code 3.*bad flag --frobnicate"):
        start_server(
            "doomed",
            [sys.executable, "-c", script],
            url="http://127.0.0.1:9",
            probe=lambda: False,
            log_path=tmp_path / "doomed.log",
            timeout=10,
        )


def test_start_timeout_stops_the_server(tmp_path: Path) -> None:
    script = "import time; print('still starting', flush=True); time.sleep(60)"
    with pytest.raises(ServerStartError, match=r"(?s)not ready after.*still starting"):
        start_server(
            "slow",
            [sys.executable, "-c", script],
            url="http://127.0.0.1:9",
            probe=lambda: False,
            log_path=tmp_path / "slow.log",
            timeout=1,
        )


def _alive(pid: int) -> bool:
    """True unless the process is gone or a zombie (killed, waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A server's own children (here a stray `sleep`) must die with it."""
    port = free_port()
    pid_file = tmp_path / "child.pid"
    shell = f"sleep 300 & echo $! > {pid_file}; exec {sys.executable} -m http.server {port} --bind 127.0.0.1"
    server = start_server(
        "http.server",
        ["sh", "-c", shell],
        url=f"http://127.0.0.1:{port}",
        probe=f"http://127.0.0.1:{port}/",
        log_path=tmp_path / "http.log",
        timeout=20,
    )
    child = int(pid_file.read_text())
    assert _alive(child)

    server.stop()

    assert server.process.returncode is not None
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
