"""Per-script naming mandate compliance from the tables a script declares and spells in its source.

The pure judgements first (a pattern can or cannot produce a compliant name; which names a
source spells), then one repository-only audit (mandates, no `[gcp]`) whose scripts each
comply or break the mandate in one way, read back from the cases, the inventory's JSON and
its Markdown table. The BigQuery-backed parts (source tables, output schema, cost) are in
tests/test_script_tables_bigquery.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.costs import usd_range
from checks.inspect.table_names import can_comply, family_of, parse_entry, source_table_names
from conftest import AuditRun, TargetRepo, run_shared
from readiness.manifest import ManifestError, load_manifest
from readiness.manifest.gcp import Family
from readiness.priorities import Priority
from readiness.records import CaseRecord, Outcome
from reporting.script_tables import table_columns

COV = Family(family="COV", match="^cov_", table_pattern="^cov_(agg|align)_[a-z]{6}$")
LAG = Family(family="LAG", match="^lag_", table_pattern="^lag_(bqx|idx)_[a-z]{6}$")
FAMILIES = [COV, LAG]


@pytest.mark.parametrize(
    ("entry", "complies"),
    [
        ("cov_agg_{pair}", True),
        ("cov_agg_eurusd", True),
        ("bqx_ml_v3_features.cov_align_{pair}", True),
        ("cov_*", True),
        ("COV_AGG_{pair}", False),  # upper case: no pair makes it compliant
        ("cov_agg_gbp", False),  # the pair is six letters
        ("lag_bqx_{pair}_{window}", False),  # a placeholder is one segment: one `_` too many
        ("lag_tmp", False),
        ("cov_{pair}_agg", False),  # the legacy order
    ],
)
def test_a_name_or_pattern_complies_when_some_name_it_makes_follows_the_family(
    entry: str, complies: bool
) -> None:
    ref = parse_entry(entry, FAMILIES)
    family = family_of(ref, FAMILIES)
    assert family is not None
    assert can_comply(ref, family) is complies


def test_a_family_entry_matches_every_table_of_the_family_whatever_its_case() -> None:
    ref = parse_entry("COV", FAMILIES)
    assert ref.family is COV
    assert ref.matches("COV_AGG_AUDUSD") and ref.matches("cov_agg_eurusd") and not ref.matches("lag_bqx_x")


def test_a_name_outside_every_family_is_not_the_mandates_business() -> None:
    assert family_of(parse_entry("ohlc_m1_*", FAMILIES), FAMILIES) is None


SOURCE = '''\
"""Writes lag tables INTO the new dataset FROM the old one (prose, not SQL)."""
from google.cloud import bigquery

client = bigquery.Client()
client.query(f"INSERT INTO `{project}.features.lag_bqx_{pair}` SELECT * FROM src.ohlc_m1_{pair}")
client.load_table_from_dataframe(frame, "lag_tmp")
client.get_table("features.COV_AGG_AUDUSD")
client.query(f"SELECT 1 FROM `{dataset}.INFORMATION_SCHEMA.TABLES`")
label = "lag_value"  # a column name: no table context
export = f"lag_bqx_{pair}_{day}.csv"  # a file name, not dataset.table
'''


def test_source_names_are_found_in_sql_table_calls_and_dotted_ids_never_in_prose() -> None:
    found = {(r.dataset, r.name, r.line) for r in source_table_names(SOURCE, "x.py")}
    assert found == {
        ("features", "lag_bqx_*", 5),
        ("src", "ohlc_m1_*", 5),
        ("", "lag_tmp", 6),
        ("features", "COV_AGG_AUDUSD", 7),
    }


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

[[mandates]]
id = "M008"
[[mandates.families]]
family = "COV"
match = "^cov_"
table_pattern = "^cov_(agg|align)_[a-z]{6}$"
"""


def _script(path: str, priority: str, tables: str) -> str:
    return f"""
[[scripts]]
path = "{path}"
purpose = "x"
category = "generation"
priority = "{priority}"
{tables}
"""


WRITER = (
    'from google.cloud import bigquery\nbigquery.Client().query(f"INSERT INTO `d.cov_agg_{p}` SELECT 1")\n'
)
TMP_WRITER = (
    'from google.cloud import bigquery\nbigquery.Client().load_table_from_dataframe(f, "d.cov_tmp")\n'
)
# From sm-etl-cloud-run: the script reads public tables and upserts one of its configuration
# schema; the name in the other dataset is not covered by `reads = ["public.cov_*"]`.
UPSERTER = 'tabela = tabelas["config.cov_meta"]\nq = "SELECT * FROM public.cov_eurusd_old"\n'
PUBLIC_READER = 'q = "SELECT * FROM public.cov_eurusd_old"\n'
LEGACY_READER = (
    'from google.cloud import bigquery\nbigquery.Client().query("SELECT * FROM `d.cov_eurusd_agg`")\n'
)


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("script-naming")
    repo = TargetRepo(work / "target")
    repo.write("requirements.txt", "")
    for path, text in (
        ("jobs/good.py", WRITER),
        ("jobs/tmp_writer.py", TMP_WRITER),
        ("jobs/upper.py", "print('x')\n"),
        ("jobs/legacy_reader.py", LEGACY_READER),
        ("jobs/undeclared_tables.py", TMP_WRITER),
        ("jobs/upserter.py", UPSERTER),
        ("jobs/public_reader.py", PUBLIC_READER),
    ):
        repo.write(path, text)
    body = "".join(
        (
            _script("jobs/good.py", "P0", 'writes = ["cov_agg_{pair}"]'),
            _script("jobs/tmp_writer.py", "P2", 'writes = ["COV"]'),
            _script("jobs/upper.py", "P1", 'writes = ["COV_AGG_{pair}"]'),
            _script("jobs/legacy_reader.py", "P1", 'reads = ["cov_{pair}_agg"]\nwrites = ["cov_agg_{pair}"]'),
            _script("jobs/undeclared_tables.py", "P1", ""),
            _script("jobs/upserter.py", "P1", 'reads = ["public.cov_*"]'),
            _script("jobs/public_reader.py", "P1", 'reads = ["public.cov_*"]'),
        )
    )
    run = run_shared(work, repo.manifest(body, head=HEAD), "-k", "script_naming")
    assert run.ret == 1, run.output
    return run


def test_compliant_writes_pass_at_the_scripts_priority(audit: AuditRun) -> None:
    case = audit.case("script_naming", "jobs/good.py")
    assert (case["outcome"], case["priority"], case["facts"]["naming"]) == ("passed", "P0", "COMPLIANT")
    assert audit.script("jobs/good.py")["naming_mandate"] == (
        "M008 COMPLIANT (creates compliant names; no mandated source)"
    )


def test_a_non_compliant_name_in_the_source_makes_the_script_non_compliant(audit: AuditRun) -> None:
    case = audit.case("script_naming", "jobs/tmp_writer.py")
    assert (case["outcome"], case["priority"]) == ("failed", "P2")
    assert case["message"].startswith(
        "jobs/tmp_writer.py: M008 NON-COMPLIANT: writes names that break M008: "
    )
    assert "d.cov_tmp (line 2) (COV: ^cov_(agg|align)_[a-z]{6}$)" in case["message"]
    assert audit.script("jobs/tmp_writer.py")["naming_mandate"].startswith("M008 NON-COMPLIANT (writes ")


def test_a_declared_pattern_no_name_of_which_complies_is_non_compliant(audit: AuditRun) -> None:
    case = audit.case("script_naming", "jobs/upper.py")
    assert (case["outcome"], case["priority"], case["facts"]["naming"]) == ("failed", "P1", "NON-COMPLIANT")
    assert "COV_AGG_{pair}" in case["message"]


def test_reading_legacy_names_while_writing_compliant_ones_is_partial(audit: AuditRun) -> None:
    case = audit.case("script_naming", "jobs/legacy_reader.py")
    assert (case["outcome"], case["facts"]["naming"]) == ("failed", "PARTIAL")
    # The legacy name its source spells is covered by `reads`: read, not written.
    assert case["facts"]["bad_writes"] == []
    assert case["message"].startswith(
        "jobs/legacy_reader.py: M008 PARTIAL: creates compliant names, but may process non-compliant "
        "source tables (reads names that break M008: cov_{pair}_agg (COV: "
    )
    assert "d.cov_eurusd_agg (line 2)" in case["message"]


def test_a_read_entry_covers_only_names_in_its_own_dataset(audit: AuditRun) -> None:
    upserter = audit.case("script_naming", "jobs/upserter.py")
    assert upserter["facts"]["naming"] == "NON-COMPLIANT"
    assert upserter["facts"]["bad_writes"] == ["config.cov_meta (line 1) (COV: ^cov_(agg|align)_[a-z]{6}$)"]
    reader = audit.case("script_naming", "jobs/public_reader.py")
    assert (reader["facts"]["naming"], reader["facts"]["bad_writes"]) == ("PARTIAL", [])


def test_a_script_that_declares_no_tables_is_not_judged(audit: AuditRun) -> None:
    with pytest.raises(AssertionError, match="no case script_naming"):
        audit.case("script_naming", "jobs/undeclared_tables.py")
    assert audit.script("jobs/undeclared_tables.py")["naming_mandate"] == ""


def test_inventory_document_lists_the_mandate_columns_per_script(audit: AuditRun) -> None:
    doc = audit.doc("IMPLEMENTATION_SCRIPT_INVENTORY")
    section = doc.split("## Tables: mandates and cost", 1)[1]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| jobs/")}
    assert set(rows) == {
        "jobs/good.py",
        "jobs/tmp_writer.py",
        "jobs/upper.py",
        "jobs/legacy_reader.py",
        "jobs/upserter.py",
        "jobs/public_reader.py",
    }
    assert "| PARTIAL (P1) " in rows["jobs/legacy_reader.py"]
    assert "M008 PARTIAL (creates compliant names, but may process" in rows["jobs/legacy_reader.py"]
    assert "| READY " in rows["jobs/good.py"] and "M008 COMPLIANT" in rows["jobs/good.py"]


# -- the manifest's fields, validated at load ---------------------------------------------------------


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        ('writes = ["cov agg"]', "scripts[0] 'a.py'.writes: table 'cov agg': expected a name, a pattern"),
        ('reads = ["a.b.c.d"]', "scripts[0] 'a.py'.reads: table 'a.b.c.d'"),
        (
            'queries = ["nightly"]',
            "scripts[0] 'a.py'.queries: unknown query 'nightly' (the [[queries]]: none",
        ),
        ("runs = 0", "scripts[0] 'a.py'.runs: Input should be greater than or equal to 1"),
    ],
)
def test_bad_table_declarations_are_one_line_naming_the_key(
    tmp_path: Path, tables: str, expected: str
) -> None:
    manifest = tmp_path / "readiness.toml"
    manifest.write_text(HEAD + _script("a.py", "P1", tables))
    with pytest.raises(ManifestError) as raised:
        load_manifest(manifest)
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_dataset_the_manifest_does_not_audit_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "readiness.toml"
    manifest.write_text(
        HEAD
        + _script("a.py", "P1", 'reads = ["elsewhere.cov_*"]')
        + '\n[gcp]\nproject = "p"\n\n[[datasets]]\nid = "features"\n'
    )
    with pytest.raises(
        ManifestError, match=r"reads: dataset 'elsewhere' of 'elsewhere.cov_\*' is not audited"
    ):
        load_manifest(manifest)
    manifest.write_text(manifest.read_text().replace("elsewhere.cov_*", "features.cov_*"))
    assert load_manifest(manifest).manifest.scripts[0].reads == ["features.cov_*"]


# -- the inventory's columns, from the records alone ---------------------------------------------------


def _record(criterion: str, outcome: str, message: str = "", **facts: object) -> CaseRecord:
    return CaseRecord(
        nodeid=f"checks/x.py::check_{criterion}[a.py]",
        criterion=criterion,
        title="",
        area="",
        subject="a.py",
        subject_kind="script",
        category="generation",
        priority=Priority.P1,
        phase="4C",
        needed=True,
        phases=[],
        owner="",
        blocker={},
        outcome=Outcome(outcome),
        message=message,
        facts=dict(facts),
    )


def test_inventory_columns_come_from_the_facts_and_say_once_what_could_not_be_verified() -> None:
    columns = table_columns(
        [
            _record("script_naming", "passed", mandates=["M008"], naming="COMPLIANT", naming_reason="fine"),
            _record("script_schema", "error", "unverified: no credentials; run gcloud auth"),
            _record("script_cost", "failed", "over", estimate="$5-10 (194 tables, 2 runs)", budget_usd=8.0),
        ]
    )
    assert columns.naming == "M008 COMPLIANT (fine)"
    assert columns.schema == "unverified: no credentials; run gcloud auth"
    assert columns.cost == "$5-10 (194 tables, 2 runs): over the phase budget ($8.00)"
    assert table_columns([]).naming == ""
    assert (
        usd_range(5.0, 10.0) == "$5-10"
        and usd_range(0.2, 5.96) == "$0.20-5.96"
        and usd_range(0.001, 0.002) == "$0.00"
    )
