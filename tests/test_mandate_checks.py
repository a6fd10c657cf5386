"""Naming and schema mandates and legacy-name views, end to end against the BigQuery emulator.

Two datasets under the same mandates: `m_small` (3 objects, all compliant, one good legacy
view) and `m_large` (9 objects, each defect once). One suite run covers every case; it leaves
out dataset_reachable so that the front's log falls into one segment per dataset (its
get_dataset, then its queries), which is how the requests per dataset are counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from bq_support import case, create_table, create_view, facts, run_shared, write_manifest
from gcp_support import gcp_section, started_world

from checks.inspect.mandates import RenamesFileError, TableVerdict, naming_message, read_renames, short_list
from conftest import AuditRun
from sandbox.world import World

MANDATES = """
[[mandates]]
id = "M008"
title = "Table and column naming"

[[mandates.families]]
family = "COV"
match = "^cov_"
table_pattern = "cov_[a-z]{6}_[0-9]+"
column_pattern = "[a-z][a-z0-9_]*"

[[mandates.families]]
family = "TRI"
match = "^tri_"
table_pattern = "tri_[a-z]{6}_[0-9]+"
column_pattern = "[a-z][a-z0-9_]*"

[[mandates]]
id = "M005"
title = "Required columns"

[[mandates.families]]
family = "COV"
match = "^cov_"
required_columns = ["interval_time", "pair"]

[[mandates.families]]
family = "TRI"
match = "^tri_"
required_columns = ["interval_time"]

[[datasets]]
id = "m_small"
mandates = ["M008", "M005"]

[[datasets]]
id = "m_large"
mandates = ["M008", "M005"]

[[legacy_views]]
dataset = "m_small"
renames = [{ old = "cov_eurusd", new = "cov_eurusd_45" }]

[[legacy_views]]
dataset = "m_large"
renames_file = "renames.csv"
"""

RENAMES_CSV = """\
old,new
v_ok,tri_gbpusd_45
v_far,tri_gbpusd_45
v_noexp,tri_gbpusd_45
v_wrong,tri_gbpusd_45
legacy_tbl,tri_gbpusd_45

gone_view,tri_gbpusd_45
"""

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
FAR = NOW + dt.timedelta(days=60)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("mandate-world"), bigquery=True, storage=False) as world:
        _seed(world)
        yield world


def _seed(world: World) -> None:
    admin = world.bigquery_admin()
    soon = NOW + dt.timedelta(days=10)

    small = f"{world.project}.m_small"
    admin.create_dataset("m_small")
    create_table(admin, f"{small}.cov_eurusd_45", ["interval_time", "pair", "value"], rows=2)
    create_table(admin, f"{small}.tri_eurusd_45", ["interval_time", "value"])
    create_view(admin, f"{small}.cov_eurusd", f"SELECT * FROM `{small}.cov_eurusd_45`", soon)

    large = f"{world.project}.m_large"
    admin.create_dataset("m_large")
    create_table(admin, f"{large}.COV_GBPUSD", ["interval_time", "pair"])  # name: upper case
    create_table(admin, f"{large}.cov_audusd_45", ["interval_time", "pair", "Val"])  # column
    create_table(admin, f"{large}.cov_nzdusd_45", ["interval_time", "value"])  # lacks pair
    create_table(admin, f"{large}.tri_gbpusd_45", ["interval_time", "value"])
    create_table(admin, f"{large}.legacy_tbl", ["x"])  # an old name that is still a table
    tri = f"SELECT * FROM `{large}.tri_gbpusd_45`"
    create_view(admin, f"{large}.v_ok", tri, NOW + dt.timedelta(days=5))
    create_view(admin, f"{large}.v_far", tri, FAR)
    create_view(admin, f"{large}.v_noexp", tri)
    create_view(admin, f"{large}.v_wrong", f"SELECT * FROM `{large}.legacy_tbl`", soon)


@pytest.fixture(scope="module")
def recorded(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditRun, list[str]]:
    """The run, and the front's log as 'GET <dataset>' / 'query' entries in arrival order."""
    workdir = tmp_path_factory.mktemp("mandate-run")
    # A long deadline: jobs.query then waits for the (slow, emulated) INFORMATION_SCHEMA join
    # instead of answering "not complete yet" and making the client poll with extra requests.
    manifest = write_manifest(workdir, gcp_section(world, timeout=30) + MANDATES)
    (manifest.parent / "renames.csv").write_text(RENAMES_CSV)
    front = world.bq_front
    assert front is not None
    front.reset_counts()
    run = run_shared(workdir, manifest, world.env(), "-k", "not dataset_reachable")
    log = []
    for route, method, target in front.request_log:
        path = target.split("?")[0]
        if method == "GET" and path.rsplit("/", 2)[-2] == "datasets":
            log.append(f"GET {path.rsplit('/', 1)[-1]}")
        else:
            log.append("query" if route == "bigquery.jobs.query" else f"{method} {path}")
    return run, log


@pytest.fixture(scope="module")
def run(recorded: tuple[AuditRun, list[str]]) -> AuditRun:
    return recorded[0]


# -- naming ----------------------------------------------------------------------------------------


def test_compliant_families_pass_the_naming_mandate(run: AuditRun) -> None:
    for subject in ("m_small:M008:COV", "m_small:M008:TRI", "m_large:M008:TRI"):
        assert case(run, "naming_mandate", subject) == ("passed", ""), subject
    assert facts(run, "naming_mandate", "m_small:M008:COV")["tables"] == 1  # the view is not judged


def test_non_compliant_table_and_column_names_are_listed_with_their_count(run: AuditRun) -> None:
    assert case(run, "naming_mandate", "m_large:M008:COV") == (
        "failed",
        "COV: 2 of 3 tables non-compliant (COV_GBPUSD, cov_audusd_45 [columns Val])",
    )
    found = facts(run, "naming_mandate", "m_large:M008:COV")
    assert found["bad_names"] == ["COV_GBPUSD"]
    assert found["bad_columns"] == {"cov_audusd_45": ["Val"]}


def test_naming_finding_for_a_whole_family_counts_in_full_and_cuts_the_list() -> None:
    bad = [TableVerdict(f"COV_PAIR_{i:04d}", False, (), ()) for i in range(1596)]
    message = naming_message("COV", bad, 1596)
    assert message.startswith("COV: 1,596 of 1,596 tables non-compliant (COV_PAIR_0000, COV_PAIR_0001, ")
    assert message.endswith(", COV_PAIR_0019, … and 1,576 more)")
    assert short_list(["a" * 150] * 5) == f"{'a' * 150}, {'a' * 150}, … and 3 more"  # character budget


# -- schema ----------------------------------------------------------------------------------------


def test_tables_missing_required_columns_are_named_with_what_they_miss(run: AuditRun) -> None:
    for subject in ("m_small:M005:COV", "m_small:M005:TRI", "m_large:M005:TRI"):
        assert case(run, "schema_mandate", subject) == ("passed", ""), subject
    assert case(run, "schema_mandate", "m_large:M005:COV") == (
        "failed",
        "COV: 1 of 3 tables lack required columns (cov_nzdusd_45 lacks pair)",
    )
    assert facts(run, "schema_mandate", "m_large:M005:COV")["missing"] == {"cov_nzdusd_45": ["pair"]}
    # Families without patterns have no naming case, families without columns no schema case.
    criteria = {(c["criterion"], c["subject"]) for c in run.json()["cases"]}
    assert ("naming_mandate", "m_small:M005:COV") not in criteria
    assert ("schema_mandate", "m_small:M008:COV") not in criteria


# -- legacy views ----------------------------------------------------------------------------------


def test_legacy_view_onto_the_new_table_expiring_within_the_grace_period_passes(run: AuditRun) -> None:
    assert case(run, "legacy_views", "m_small legacy views") == ("passed", "")
    assert facts(run, "legacy_views", "m_small legacy views")["renames"] == 1


def test_legacy_names_that_are_missing_tables_or_wrong_views_are_findings(
    run: AuditRun, world: World
) -> None:
    state, message = case(run, "legacy_views", "m_large legacy views")
    assert state == "failed"
    assert message == (
        f"{world.project}.m_large: 5 of 6 legacy names not served as required ("
        f"v_far: expires {FAR:%Y-%m-%d}, after the 30-day grace period; v_noexp: no expiration; "
        "v_wrong: view does not select from tri_gbpusd_45; legacy_tbl: a base table, not a view; "
        "gone_view: missing)"
    )
    assert "v_ok" not in facts(run, "legacy_views", "m_large legacy views")["problems"]


def test_unreadable_or_malformed_renames_file_leaves_the_case_unverified(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("old,new\na,b\nc\n")
    with pytest.raises(RenamesFileError, match=r"bad.csv:3: expected 'old,new', got 'c'"):
        read_renames(tmp_path / "bad.csv", "bad.csv")
    with pytest.raises(RenamesFileError, match=r"none.csv: cannot read the renames file"):
        read_renames(tmp_path / "none.csv", "none.csv")


# -- inventory and request counts ------------------------------------------------------------------


def test_inventory_marks_each_table_with_its_family_and_compliance(run: AuditRun) -> None:
    rows = {r[0]: r for r in facts(run, "dataset_inventory", "m_large")["inventory"]["rows"]}
    assert len(rows) == 9
    assert rows["COV_GBPUSD"][1:4] == ["BASE TABLE", "COV", False]
    assert rows["cov_nzdusd_45"][1:4] == ["BASE TABLE", "COV", False]  # fails the schema mandate
    assert rows["tri_gbpusd_45"][1:4] == ["BASE TABLE", "TRI", True]
    assert rows["legacy_tbl"][1:4] == ["BASE TABLE", "", None]
    assert rows["v_far"][1:4] == ["VIEW", "", None]
    assert facts(run, "dataset_inventory", "m_small")["rows"] == 2


def test_each_dataset_costs_the_same_few_requests_whatever_its_table_count(
    recorded: tuple[AuditRun, list[str]],
) -> None:
    """3 objects or 9: one get_dataset and two INFORMATION_SCHEMA queries, for every case of it."""
    _, log = recorded
    per_dataset: dict[str, list[str]] = {}
    current: list[str] = per_dataset.setdefault("(before any dataset)", [])
    for entry in log:
        if entry.startswith("GET "):
            current = per_dataset.setdefault(entry.removeprefix("GET "), [])
        current.append(entry)
    assert per_dataset == {
        "(before any dataset)": [],
        "m_small": ["GET m_small", "query", "query"],
        "m_large": ["GET m_large", "query", "query"],
    }, log
