"""Cost monitoring (`billing_export`) against the BigQuery emulator: the Cloud Billing export's
dataset exists, received data within `max_age_hours`, and the audited phase declares a budget.

One world holds a fresh export, a stale one and a dataset without export tables; each scenario
is one manifest, run with only this criterion, and each failure has its passing counterpart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bq_support import create_table, run_shared, write_manifest
from gcp_support import gcp_section, started_world

from conftest import MANIFEST_HEAD, AuditRun
from sandbox.world import World

EXPORT = "gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
#: MANIFEST_HEAD's phase 4C with a budget; phase 5 has none.
BUDGETED = MANIFEST_HEAD.replace("start = 2026-11-23\n", "start = 2026-11-23\nbudget_usd = 50\n", 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("billing-world"), bigquery=True, storage=False) as world:
        admin = world.bigquery_admin()
        front = world.bq_front
        assert front is not None
        now = dt.datetime.now(dt.UTC)
        for dataset, table, age in (
            ("billing_fresh", EXPORT, dt.timedelta(hours=3)),
            ("billing_stale", EXPORT, dt.timedelta(days=5)),
            ("billing_other", "cost_report_manual", dt.timedelta(hours=1)),
        ):
            admin.create_dataset(dataset)
            table_id = f"{world.project}.{dataset}.{table}"
            create_table(admin, table_id, ["usage_start_time", "cost"], rows=2)
            front.set_data_written(table_id, int((now - age).timestamp() * 1000))
        yield world


def _billing(dataset: str) -> str:
    return f'\n[billing]\ndataset = "{dataset}"\nmax_age_hours = 48\npriority = "P1"\n'


SCENARIOS = {
    "fresh": (BUDGETED, "billing_fresh", ()),
    "stale": (BUDGETED, "billing_stale", ()),
    "missing": (BUDGETED, "billing_gone", ()),
    "no_export_table": (BUDGETED, "billing_other", ()),
    "no_budget": (BUDGETED, "billing_fresh", ("--phase", "5")),
}


@pytest.fixture(scope="module")
def runs(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, AuditRun]:
    def audit(name: str, work: Path) -> tuple[str, AuditRun]:
        head, dataset, args = SCENARIOS[name]
        manifest = write_manifest(work, gcp_section(world, timeout=30) + _billing(dataset), head=head)
        return name, run_shared(work, manifest, world.env(), "-k", "billing_export", *args)

    folders = {name: tmp_path_factory.mktemp(f"billing-{name}") for name in SCENARIOS}
    # Side by side: each run spends most of its time starting an interpreter, not in BigQuery.
    with ThreadPoolExecutor(len(SCENARIOS)) as pool:
        return dict(pool.map(lambda name: audit(name, folders[name]), SCENARIOS))


def _case(run: AuditRun) -> dict[str, object]:
    return next(c for c in run.json()["cases"] if c["criterion"] == "billing_export")


def test_a_fresh_export_and_a_declared_budget_pass(runs: dict[str, AuditRun]) -> None:
    run = runs["fresh"]
    assert run.ret == 0, run.output
    case = _case(run)
    assert (case["outcome"], case["priority"]) == ("passed", "P1")
    facts = case["facts"]
    assert isinstance(facts, dict)
    assert facts["export_tables"] == [EXPORT] and 2.9 < facts["age_hours"] < 4
    report = run.doc("INFRASTRUCTURE_READINESS_REPORT")
    cost = report.split("## Quotas and cost", 1)[1].split("\n## ", 1)[0]
    assert "**Cost monitoring: in place.** Billing export bqx-ml.billing_fresh last written " in cost
    assert "; phase budget $50.00." in cost
    # What the phase needs on the Google side includes its cost tracking.
    phase = run.doc("PHASE_4C_READINESS_REPORT")
    assert "| billing_fresh " in phase and "| billing export " in phase


def test_an_export_older_than_its_window_is_a_finding(runs: dict[str, AuditRun], world: World) -> None:
    case = _case(runs["stale"])
    assert case["outcome"] == "failed"
    assert str(case["message"]).startswith(f"{world.project}.billing_stale: newest export data written ")
    assert str(case["message"]).endswith("(5.0 days ago, limit 48 h)")
    report = runs["stale"].doc("INFRASTRUCTURE_READINESS_REPORT")
    assert "**Cost monitoring: NOT in place** (P1): bqx-ml.billing_stale: newest export data" in report


def test_a_missing_export_dataset_is_a_finding(runs: dict[str, AuditRun], world: World) -> None:
    case = _case(runs["missing"])
    assert (case["outcome"], case["message"]) == (
        "failed",
        f"billing export dataset {world.project}.billing_gone not found",
    )


def test_a_dataset_without_export_tables_is_a_finding(runs: dict[str, AuditRun], world: World) -> None:
    case = _case(runs["no_export_table"])
    assert (case["outcome"], case["message"]) == (
        "failed",
        f"{world.project}.billing_other: no export table (gcp_billing_export_*): the billing export writes nothing here",
    )


def test_a_phase_without_a_budget_is_a_finding_even_with_a_fresh_export(runs: dict[str, AuditRun]) -> None:
    case = _case(runs["no_budget"])
    assert (case["outcome"], case["message"]) == ("failed", "phase 5 declares no budget (budget_usd)")
