"""Per-script tables against the BigQuery emulator: the source tables a script's reads match, the
schema of the output tables its writes match, and its cost estimate against the phase budget.

One world, one suite run over scripts that each pass or fail one way; the tables come from the
same dataset snapshots the dataset checks read.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bq_support import case, create_table, facts, run_shared, write_manifest
from gcp_support import gcp_section, started_world

from checks.costs import MIN_BILLED_BYTES
from conftest import AuditRun
from sandbox.world import World

HEAD = """\
[project]
name = "Demo"
root = "."
phase = "4C"
requirements = ["requirements.txt"]

[[phases]]
id = "4C"
name = "Naming remediation"
start = 2026-11-23
budget_usd = 1.0
"""

TIB = 2**40

MANIFEST = """
[[mandates]]
id = "M008"
[[mandates.families]]
family = "COV"
match = "^cov_"
table_pattern = "^cov_(agg|align)_[a-z]{6}$"
[[mandates.families]]
family = "REG"
match = "^reg_"
table_pattern = "^reg_(bqx|idx)_[a-z]{6}$"

[[mandates]]
id = "M005"
[[mandates.families]]
family = "COV"
match = "^cov_"
required_columns = ["interval_time", "pair"]
[[mandates.families]]
family = "REG"
match = "^reg_"
required_columns = ["interval_time", "pair"]

[[datasets]]
id = "feat"

[[datasets]]
id = "src"

[[queries]]
name = "big scan"
sql = "SELECT * FROM `{project}.src.ohlc_a`"
runs = 3

[[scripts]]
path = "s/cov_partial.py"
purpose = "rename COV"
category = "generation"
priority = "P0"
reads = ["COV"]
writes = ["cov_agg_{pair}"]

[[scripts]]
path = "s/cov_clean.py"
purpose = "align COV"
category = "generation"
priority = "P1"
reads = ["feat.cov_agg_*"]
writes = ["cov_align_{pair}"]

[[scripts]]
path = "s/reg.py"
purpose = "generate REG"
category = "generation"
priority = "P1"
reads = ["src.ohlc_*"]
writes = ["reg_idx_{pair}"]

[[scripts]]
path = "s/scan.py"
purpose = "scan everything, often"
category = "analysis"
priority = "P2"
reads = ["feat.*"]
runs = 20000

[[scripts]]
path = "s/query.py"
purpose = "run the big scan"
category = "analysis"
priority = "P2"
queries = ["big scan"]
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("script-tables-world"), bigquery=True, storage=False) as world:
        admin = world.bigquery_admin()
        admin.create_dataset("feat")
        admin.create_dataset("src")
        keys = ["interval_time", "pair"]
        for name in ("cov_agg_eurusd", "cov_agg_gbpusd", "COV_AGG_AUDUSD", "reg_idx_eurusd"):
            create_table(admin, f"{world.project}.feat.{name}", keys)
        create_table(admin, f"{world.project}.feat.reg_idx_gbpusd", ["ts", "pair"])
        create_table(admin, f"{world.project}.src.ohlc_a", [*keys, "open"])
        front = world.bq_front
        assert front is not None
        front.set_table_bytes(f"{world.project}.src.ohlc_a", TIB)
        yield world


@pytest.fixture(scope="module")
def run(world: World, tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("script-tables-run")
    body = gcp_section(world, timeout=30) + MANIFEST.replace("{project}", world.project)
    manifest = write_manifest(work, body, head=HEAD)
    for script in ("cov_partial", "cov_clean", "reg", "scan", "query"):
        (manifest.parent / "s").mkdir(exist_ok=True)
        (manifest.parent / "s" / f"{script}.py").write_text("print('tables')\n")
    audit = run_shared(work, manifest, world.env(), "-k", "script_")
    assert audit.ret == 1, audit.output
    return audit


# -- naming: the source tables its reads match ------------------------------------------------------


def test_reading_a_family_with_non_compliant_tables_is_partial_at_the_scripts_priority(run: AuditRun) -> None:
    found = run.case("script_naming", "s/cov_partial.py")
    assert (found["outcome"], found["priority"]) == ("failed", "P0")
    assert found["message"] == (
        "s/cov_partial.py: M008 PARTIAL: creates compliant names, but may process non-compliant "
        "source tables (1 of 3 tables its reads match break M008 (COV_AGG_AUDUSD))"
    )
    assert run.script("s/cov_partial.py")["naming_mandate"].startswith(
        "M008 PARTIAL (creates compliant names"
    )


def test_reading_only_compliant_tables_is_compliant(run: AuditRun) -> None:
    assert case(run, "script_naming", "s/cov_clean.py") == ("passed", "")
    assert facts(run, "script_naming", "s/cov_clean.py")["naming_reason"] == (
        "creates compliant names; its 2 source tables comply"
    )


# -- schema: the output tables its writes match ---------------------------------------------------------


def test_an_output_table_without_the_mandated_columns_makes_the_script_not_ready(run: AuditRun) -> None:
    assert case(run, "script_schema", "s/reg.py") == (
        "failed",
        "s/reg.py: M005 ready: NO (missing interval_time in output schema (reg_idx_gbpusd lacks interval_time))",
    )
    assert run.script("s/reg.py")["schema_mandate"].startswith("M005 ready: NO (missing interval_time")


def test_output_tables_with_the_mandated_columns_are_ready(run: AuditRun) -> None:
    assert case(run, "script_schema", "s/cov_partial.py") == ("passed", "")
    assert facts(run, "script_schema", "s/cov_partial.py")["output_tables"] == 2
    assert run.script("s/cov_partial.py")["schema_mandate"] == (
        "M005 ready: YES (2 output tables carry the mandated columns)"
    )
    # Nothing written yet: nothing to hold against the mandate.
    assert (
        facts(run, "script_schema", "s/cov_clean.py")["schema_reason"]
        == "no output table of a mandated family yet"
    )


# -- cost ---------------------------------------------------------------------------------------------


def test_cost_from_table_bytes_is_a_range_over_the_runs_and_may_exceed_the_budget(run: AuditRun) -> None:
    low = 5 * MIN_BILLED_BYTES / TIB * 6.25  # five small tables, each billed at the 10 MB floor
    high = low * 20000
    found = facts(run, "script_cost", "s/scan.py")
    assert (found["tables"], found["runs"]) == (5, 20000)
    assert (found["usd_low"], found["usd_high"]) == (round(low, 2), round(high, 2))
    assert case(run, "script_cost", "s/scan.py") == (
        "failed",
        f"s/scan.py: $0.00-{high:,.2f} (5 tables, 20,000 runs) may exceed phase 4C's budget $1.00",
    )


def test_cost_within_the_budget_passes_and_is_shown_in_the_inventory(run: AuditRun) -> None:
    assert case(run, "script_cost", "s/cov_partial.py") == ("passed", "")
    assert run.script("s/cov_partial.py")["cost_estimate"] == "$0.00 (3 tables, 1 run)"


def test_cost_of_declared_queries_comes_from_their_dry_runs(run: AuditRun) -> None:
    # 1 TiB x $6.25 x 3 runs.
    assert case(run, "script_cost", "s/query.py") == (
        "failed",
        "s/query.py: $19 (1 query, 3 runs) exceeds phase 4C's budget $1.00",
    )
    assert facts(run, "script_cost", "s/query.py")["usd_high"] == 18.75
    assert run.script("s/query.py")["cost_estimate"] == "$19 (1 query, 3 runs): over the phase budget ($1.00)"
