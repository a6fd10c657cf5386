"""BigQuery as BigQuery behaves (issue 14): dry runs, testIamPermissions, least privilege,
locations, against the emulator behind the front.

One world, one shared suite run as a least-privilege pipeline identity: it holds exactly the
seeded grants, on every call, forwarded writes included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import requests
from bq_support import case, create_table, facts, run_shared, write_manifest
from gcp_support import gcp_section, started_world
from google.cloud import bigquery

from conftest import AuditRun
from sandbox.fakes import BigQueryFront
from sandbox.seed import TableSpec, create_tables
from sandbox.world import World

COLUMNS = ("interval_time", "value")
READ = {"bigquery.datasets.get", "bigquery.tables.get", "bigquery.tables.list", "bigquery.tables.getData"}
WRITE = {"bigquery.tables.create", "bigquery.tables.update"}

_BODY = """
[[datasets]]
id = "fid"

[[datasets]]
id = "nodelete"
writes = true

[[datasets]]
id = "locked"

[[datasets]]
id = "eu_ds"

[[buckets]]
name = "locked-bkt"

[[source_tables]]
table = "fid.stale"
max_age_hours = 24

[[source_tables]]
table = "fid.fresh"
max_age_hours = 24

[[permissions]]
resource = "table:fid.ghost"
permissions = ["bigquery.tables.getData"]

[[queries]]
name = "syntax"
sql = "SELEC value FRM `{p}.fid.t`"

[[queries]]
name = "missing"
sql = "SELECT * FROM `{p}.fid.nope`"

[[queries]]
name = "unregistered"
sql = "SELECT * FROM `{p}.fid.t`"

[[queries]]
name = "external"
sql = "SELECT * FROM `{p}.fid.ext`"
"""


def _front(world: World) -> BigQueryFront:
    assert world.bq_front is not None
    return world.bq_front


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("bq-fidelity"), bigquery=True, storage=True) as world:
        world.storage_admin().create_bucket("locked-bkt")
        admin = world.bigquery_admin()
        for dataset in ("fid", "nodelete", "locked"):
            admin.create_dataset(dataset)
        eu = bigquery.Dataset(f"{world.project}.eu_ds")
        eu.location = "EU"
        admin.create_dataset(eu)
        create_table(admin, f"{world.project}.eu_ds.t", COLUMNS)
        create_table(admin, f"{world.project}.fid.t", COLUMNS, rows=5)
        create_table(admin, f"{world.project}.fid.ext", COLUMNS)
        create_table(admin, f"{world.project}.nodelete.t", COLUMNS)
        three_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
        create_tables(
            world, "fid", [TableSpec("stale", rows=2, last_modified=three_days_ago), TableSpec("fresh")]
        )
        # A metadata-only edit: BigQuery moves the table's last-modified time, not its data's.
        stale = admin.get_table(f"{world.project}.fid.stale")
        stale.description = "touched by a metadata edit"
        admin.update_table(stale, ["description"])
        front = _front(world)
        front.set_table_bytes(f"{world.project}.fid.ext", 10 * 2**30, accuracy="LOWER_BOUND")
        front.grant_dataset(f"{world.project}.fid", READ)
        front.grant_dataset(f"{world.project}.eu_ds", READ)
        front.grant_dataset(f"{world.project}.nodelete", READ | WRITE)
        world.resource_manager.projects[world.project].permissions.add("bigquery.jobs.create")
        yield world


@pytest.fixture(scope="module")
def run(world: World, tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    pipeline = world.pipeline_account()
    world.least_privilege.add(pipeline)
    work = tmp_path_factory.mktemp("bq-fidelity-run")
    body = gcp_section(world, impersonate=pipeline, timeout=30) + _BODY.format(p=world.project)
    return run_shared(work, write_manifest(work, body), world.env())


def test_dry_run_of_a_syntax_error_is_refused_not_priced_at_zero(run: AuditRun) -> None:
    state, message = case(run, "query_cost", "syntax")
    assert state == "failed"
    assert message.startswith("syntax: dry run refused: HTTP 400 BadRequest"), message
    assert "Syntax error" in message


def test_dry_run_of_a_missing_table_is_refused(run: AuditRun, world: World) -> None:
    state, message = case(run, "query_cost", "missing")
    assert state == "failed"
    assert message.startswith("missing: dry run refused: HTTP 404 NotFound"), message
    assert f"{world.project}:fid.nope" in message


def test_dry_run_of_an_unregistered_table_is_sized_from_the_table_not_zero(run: AuditRun) -> None:
    assert case(run, "query_cost", "unregistered") == ("passed", "")
    assert facts(run, "query_cost", "unregistered")["bytes"] > 0


def test_lower_bound_estimate_is_unverified_not_a_clean_pass(run: AuditRun) -> None:
    state, message = case(run, "query_cost", "external")
    assert state == "error"
    assert message == (
        "external: BigQuery's estimate 10.0 GiB is LOWER_BOUND (totalBytesProcessedAccuracy): "
        "the cost cannot be verified"
    )
    assert facts(run, "query_cost", "external")["bytes_accuracy"] == "LOWER_BOUND"


def test_test_iam_permissions_on_a_missing_table_answers_empty_and_the_check_reads_the_table(
    run: AuditRun, world: World
) -> None:
    url = f"{_front(world).url}/bigquery/v2/projects/{world.project}/datasets/fid/tables/ghost:testIamPermissions"
    answer = requests.post(url, json={"permissions": ["bigquery.tables.getData"]}, timeout=5)
    assert (answer.status_code, answer.json()) == (200, {})  # Google: "may fail open"
    assert case(run, "iam_permissions", "table:fid.ghost") == (
        "failed",
        f"table {world.project}.fid.ghost: not found",
    )


def test_write_refused_by_the_grants_is_a_finding_of_the_probe(run: AuditRun, world: World) -> None:
    state, message = case(run, "bq_write_probe", "nodelete")
    assert state == "failed"
    assert (
        message
        == f"{world.project}.nodelete: delete: access denied for pipeline@{world.project}.iam.gserviceaccount.com"
    )
    assert facts(run, "bq_write_probe", "nodelete")["left_behind"]  # the delete was really refused


def test_read_denied_is_unverified_naming_the_missing_permission(run: AuditRun, world: World) -> None:
    state, message = case(run, "dataset_reachable", "locked")
    assert state == "error"
    assert message == (
        f"{world.project}.locked: cannot verify: pipeline@{world.project}.iam.gserviceaccount.com "
        "lacks bigquery.datasets.get"
    )


def test_granted_reads_pass_for_the_least_privilege_identity(run: AuditRun) -> None:
    assert case(run, "dataset_reachable", "fid") == ("passed", "")
    assert case(run, "dataset_inventory", "fid") == ("passed", "")


def test_metadata_edit_does_not_make_a_stale_source_fresh(run: AuditRun) -> None:
    state, message = case(run, "source_fresh", "fid.stale")
    assert state == "failed"
    assert message.startswith("fid.stale: last modified "), message
    assert "limit 24 h" in message
    found = facts(run, "source_fresh", "fid.stale")
    assert found["last_modified"] > found["data_written"]  # the table moved, its data did not
    assert case(run, "source_fresh", "fid.fresh") == ("passed", "")


def test_dataset_outside_the_manifest_location_is_read_in_its_own(run: AuditRun, world: World) -> None:
    # dataset_reachable reports the mismatch once; the other criteria still read the dataset.
    assert case(run, "dataset_reachable", "eu_ds") == (
        "failed",
        f"{world.project}.eu_ds: in location EU, but the manifest's gcp.location is US",
    )
    assert case(run, "dataset_inventory", "eu_ds") == ("passed", "")
    assert facts(run, "dataset_inventory", "eu_ds")["tables"] == 1


def test_bucket_read_denied_is_unverified_naming_the_missing_permission(run: AuditRun, world: World) -> None:
    state, message = case(run, "bucket_reachable", "gs://locked-bkt")
    assert state == "error"
    assert message == (
        f"gs://locked-bkt: Cloud Storage: cannot verify: pipeline@{world.project}.iam.gserviceaccount.com "
        "lacks storage.buckets.get (HTTP 403)"
    )
