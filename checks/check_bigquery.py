"""BigQuery: datasets reachable and complete, the pipeline identity can write, sources fresh,
the phase's representative queries within its budget.

Metadata comes from one snapshot per dataset (checks/gcp/bq_snapshot.py), never one call per
table. Writes (the probe) are never retried: a blind retry of a rename could act twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import pytest
from google.api_core import exceptions as api_exceptions

from checks.check_iam import dataset_permissions
from checks.findings import absent, age_text, finding, unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.bq_snapshot import (
    API,
    BigQueryMetadata,
    DatasetRef,
    DatasetSnapshot,
    DatasetState,
    DryRun,
    TableInfo,
    bigquery_metadata,
)
from checks.gcp.errors import ApiCallError, api_call, describe
from checks.gcp.scratch import ScratchNames
from checks.inspect.mandates import in_family, judge
from readiness.cases import Case
from readiness.manifest import LoadedManifest
from readiness.manifest.gcp import Dataset, Family, ProbeMode, Query, SourceTable

#: What the write probe needs, asked of testIamPermissions when the manifest says read_only.
WRITE_PERMISSIONS: Final = ("bigquery.tables.create", "bigquery.tables.update", "bigquery.tables.delete")

#: Column order of the compact per-table inventory in the dataset_inventory facts.
INVENTORY_COLUMNS: Final = ("name", "type", "family", "compliant", "rows", "bytes", "modified")

TIB: Final = 2**40

#: Tables listed to find one for testIamPermissions (scratch leftovers are skipped).
_LISTED: Final = 50


@pytest.fixture
def bq(request: pytest.FixtureRequest, google: GoogleAccess) -> BigQueryMetadata:
    return bigquery_metadata(request.config, google)


def _dataset(case: Case) -> Dataset:
    assert isinstance(case.item, Dataset)
    return case.item


def _ref(case: Case, google: GoogleAccess) -> DatasetRef:
    return DatasetRef.parse(_dataset(case).subject, google.project)


# -- dataset_reachable ---------------------------------------------------------------------------


@pytest.mark.criterion("dataset_reachable")
def check_dataset_reachable(
    case: Case, google: GoogleAccess, bq: BigQueryMetadata, facts: dict[str, Any]
) -> None:
    ref = _ref(case, google)
    facts["principal"] = google.identity.principal
    info = bq.dataset(ref)
    if info.state is DatasetState.NOT_FOUND:
        absent(facts, f"{ref}: not found")
    if info.state is DatasetState.DENIED and info.lacks:
        # IAM named what the identity lacks: that says nothing of the dataset itself.
        unverified(f"{ref}: cannot verify: {google.identity.principal} lacks {info.lacks}")
    if info.state is DatasetState.DENIED:
        finding(f"{ref}: access denied for {google.identity.principal}")
    facts["location"] = info.location
    wanted = google.gcp.location
    # Jobs run in gcp.location; a dataset elsewhere is invisible to every query of the phase.
    if info.location and info.location.lower() != wanted.lower():
        finding(f"{ref}: in location {info.location}, but the manifest's gcp.location is {wanted}")


# -- dataset_inventory ---------------------------------------------------------------------------


@pytest.mark.criterion("dataset_inventory")
def check_dataset_inventory(
    case: Case, google: GoogleAccess, bq: BigQueryMetadata, manifest: LoadedManifest, facts: dict[str, Any]
) -> None:
    dataset = _dataset(case)
    snapshot = bq.found(_ref(case, google))
    tables = snapshot.base_tables()
    modified = [t.modified for t in tables if t.modified is not None]
    facts["tables"] = len(tables)
    facts["views"] = len(snapshot.views())
    facts["storage_bytes"] = sum(t.size_bytes for t in tables)
    facts["rows"] = sum(t.rows for t in tables)
    facts["last_modified"] = _iso(max(modified)) if modified else None
    if snapshot.scratch:
        facts["scratch_tables"] = list(snapshot.scratch)
    facts["inventory"] = _inventory(snapshot, _families(manifest, dataset))
    if dataset.min_tables is not None and len(tables) < dataset.min_tables:
        finding(f"{snapshot.ref}: {len(tables):,} tables, expected at least {dataset.min_tables:,}")


def _families(manifest: LoadedManifest, dataset: Dataset) -> list[Family]:
    return [f for m in manifest.manifest.mandates if m.id in dataset.mandates for f in m.families]


def _inventory(snapshot: DatasetSnapshot, families: list[Family]) -> dict[str, Any]:
    """Rows, not objects: 5,800 tables stay a compact table in the results JSON."""
    rows = []
    for table in snapshot.tables.values():
        family, compliant = _compliance(table, families)
        rows.append(
            [table.name, table.type, family, compliant, table.rows, table.size_bytes, _iso(table.modified)]
        )
    return {"columns": list(INVENTORY_COLUMNS), "rows": rows}


def _compliance(table: TableInfo, families: list[Family]) -> tuple[str, bool | None]:
    """The table's family (first match) and whether it follows every family it belongs to."""
    if table.is_view:
        return "", None  # legacy-name views are judged by legacy_views, not the mandates
    mine = [f for f in families if in_family(table.name, f)]
    if not mine:
        return "", None
    return mine[0].family, all(judge(table.name, table.columns, f).compliant for f in mine)


# -- bq_write_probe ------------------------------------------------------------------------------


@pytest.mark.criterion("bq_write_probe")
def check_bq_write_probe(
    case: Case, google: GoogleAccess, bq: BigQueryMetadata, scratch: ScratchNames, facts: dict[str, Any]
) -> None:
    ref = _ref(case, google)
    facts["principal"] = google.identity.principal
    mode: ProbeMode = "read-only (testIamPermissions)" if google.gcp.read_only else "write probe"
    facts["mode"] = mode
    state = bq.dataset(ref).state
    if state is not DatasetState.FOUND:
        unverified(f"{ref}: dataset {state.value} (see dataset_reachable)")
    if google.gcp.read_only:
        _permission_probe(google, ref, facts)
    else:
        _write_probe(google, ref, scratch, facts)


def _permission_probe(google: GoogleAccess, ref: DatasetRef, facts: dict[str, Any]) -> None:
    # The same honest test as iam_permissions: update/delete on a table of the dataset (it
    # inherits the dataset's grants); tables.create is a dataset permission that no
    # testIamPermissions can see when granted on the dataset, so only a project grant proves it.
    answer = dataset_permissions(google, str(ref), list(WRITE_PERMISSIONS))
    facts["tested_on"] = answer.on
    facts["granted"] = sorted(answer.granted)
    missing = [p for p in WRITE_PERMISSIONS if p not in answer.granted and p not in answer.unknown]
    if missing:
        finding(f"{ref}: {google.identity.principal} lacks {', '.join(missing)} ({answer.note or answer.on})")
    if answer.unknown:
        unverified(
            f"{ref}: {', '.join(answer.unknown)} not granted on the project; a grant on the dataset "
            "is invisible to testIamPermissions (read-only mode cannot verify it)"
        )


def _write_probe(google: GoogleAccess, ref: DatasetRef, scratch: ScratchNames, facts: dict[str, Any]) -> None:
    first, second = scratch.name("probe"), scratch.name("probe_renamed")
    facts["scratch"] = [first, second]
    try:
        _probe_steps(google, ref, first, second, scratch.labels)
    finally:
        # Also after a failed step: nothing of ours may stay behind (and if a delete is refused,
        # the table still expires on its own within the scratch TTL).
        left = _remove(google, ref, (first, second))
        if left:
            facts["left_behind"] = [item["name"].rsplit(".", 1)[-1] for item in left]
            facts["scratch_left"] = left


def _probe_steps(
    google: GoogleAccess, ref: DatasetRef, first: str, second: str, scratch_labels: dict[str, str]
) -> None:
    from google.cloud import bigquery

    client = google.bigquery
    principal = google.identity.principal
    table = bigquery.Table(f"{ref}.{first}", schema=[bigquery.SchemaField("probe", "STRING")])
    # The label and the expiry are two of the three marks the sweeper requires (scratch.py).
    table.expires = ScratchNames.expiry()
    table.labels = scratch_labels
    with _step("create", ref, principal):
        client.create_table(table, retry=None, timeout=google.timeout)
    with _step("rename", ref, principal):
        job = client.query(
            f"ALTER TABLE `{ref}.{first}` RENAME TO {second}",
            retry=None,
            job_retry=None,
            timeout=google.timeout,
        )
        # Waiting for the job only reads its state: that may be retried, the statement is not.
        job.result(retry=google.read_retry(API), job_retry=None, timeout=google.timeout)
    with _step("verify", ref, principal):
        if not _exists(google, f"{ref}.{second}"):
            finding(f"{ref}: rename: {second} not found after ALTER TABLE ... RENAME TO")
        if _exists(google, f"{ref}.{first}"):
            finding(f"{ref}: rename: reported success, but {first} still exists")
    with _step("delete", ref, principal):
        client.delete_table(f"{ref}.{second}", retry=None, timeout=google.timeout)


def _exists(google: GoogleAccess, table_id: str) -> bool:
    try:
        google.bigquery.get_table(table_id, retry=google.read_retry(API), timeout=google.timeout)
    except api_exceptions.NotFound:
        return False
    return True


@contextmanager
def _step(step: str, ref: DatasetRef, principal: str) -> Iterator[None]:
    """A refusal (4xx) is a finding naming the step; an outage leaves the probe unverified."""
    __tracebackhide__ = True
    try:
        with api_call(API):
            try:
                yield
            except api_exceptions.GoogleAPICallError as exc:
                code = exc.code or 0
                if code in (401, 403):
                    finding(f"{ref}: {step}: access denied for {principal}")
                if 400 <= code < 500 and code not in (408, 429):
                    finding(f"{ref}: {step}: {describe(API, exc).removeprefix(f'{API}: ')}")
                raise
    except ApiCallError as exc:
        raise ApiCallError(f"{exc} (at the {step} step)") from None


def _remove(google: GoogleAccess, ref: DatasetRef, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Delete the scratch tables; those still there afterwards, with their expiry.

    A failed delete is checked, not assumed: a delete that timed out may have landed, and a
    create that failed left nothing to delete.
    """
    left = []
    for name in names:
        try:
            google.bigquery.delete_table(
                f"{ref}.{name}", not_found_ok=True, retry=None, timeout=google.timeout
            )
        except Exception:  # cleanup must never mask the probe's own outcome
            still = _still_there(google, f"{ref}.{name}")
            if still is not None:
                left.append(still)
    return left


def _still_there(google: GoogleAccess, table_id: str) -> dict[str, Any] | None:
    """The table and its expiry if it exists; when that cannot be read either, it is named as
    possibly present (expiry unknown) rather than assumed gone."""
    try:
        table = google.bigquery.get_table(table_id, retry=google.read_retry(API), timeout=google.timeout)
    except api_exceptions.NotFound:
        return None
    except Exception:  # the check of a cleanup must not mask the probe's outcome either
        return {"name": table_id, "expires": "", "confirmed": False}
    return {
        "name": table_id,
        "expires": table.expires.isoformat() if table.expires else "",
        "confirmed": True,
    }


# -- source_fresh --------------------------------------------------------------------------------


@pytest.mark.criterion("source_fresh")
def check_source_fresh(case: Case, google: GoogleAccess, bq: BigQueryMetadata, facts: dict[str, Any]) -> None:
    source = case.item
    assert isinstance(source, SourceTable)
    dataset_name, _, table_name = source.table.rpartition(".")
    snapshot = bq.snapshot(DatasetRef.parse(dataset_name, google.project))
    if snapshot.info.state is DatasetState.NOT_FOUND:
        absent(facts, f"{source.table}: dataset {snapshot.ref} not found")
    snapshot = bq.found(snapshot.ref)  # denied: unverified, reported by dataset_reachable
    table = snapshot.tables.get(table_name)
    if table is None:
        absent(facts, f"{source.table}: not found")
    facts["rows"] = table.rows
    facts["bytes"] = table.size_bytes
    facts["last_modified"] = _iso(table.modified)
    # Data writes only: the table's own modification time also moves on metadata edits.
    written = bq.data_written(snapshot.ref).get(table_name)
    facts["data_written"] = _iso(written)
    problems = []
    if table.rows < source.min_rows:
        problems.append(f"{table.rows:,} rows (at least {source.min_rows:,} expected)")
    if written is None:
        problems.append("time of the last data write unknown (INFORMATION_SCHEMA.PARTITIONS)")
    else:
        age = dt.datetime.now(dt.UTC) - written
        facts["age_hours"] = round(age.total_seconds() / 3600, 3)
        if age > dt.timedelta(hours=source.max_age_hours):
            problems.append(
                f"last modified {_iso(written)} ({age_text(age)} ago, limit {source.max_age_hours:g} h)"
            )
    if problems:
        finding(f"{source.table}: " + "; ".join(problems))


# -- query_cost ----------------------------------------------------------------------------------


@pytest.mark.criterion("query_cost")
def check_query_cost(
    case: Case, google: GoogleAccess, bq: BigQueryMetadata, manifest: LoadedManifest, facts: dict[str, Any]
) -> None:
    query = case.item
    assert isinstance(query, Query)
    own = bq.dry_run(query.sql)
    if own.bytes is None:
        finding(f"{query.name}: dry run refused: {own.rejected.removeprefix(f'{API}: ')}")
    cost = _cost(google, own.bytes, query.runs)
    facts.update(bytes=own.bytes, runs=query.runs, usd=round(cost, 2))
    if own.accuracy != "PRECISE":
        facts["bytes_accuracy"] = own.accuracy
    own_text = f"{query.name}: {_size(own.bytes)} × {query.runs} run(s) ≈ ${cost:,.2f}"
    phase = manifest.phase
    if phase.budget_usd is None or not query.needed_by(phase.id):
        _no_pass_on_a_floor(query.name, own)
        return
    costs = _phase_costs(google, bq, manifest)
    total = sum(costs.values())
    facts.update(phase_usd={k: round(v, 2) for k, v in costs.items()}, phase_total_usd=round(total, 2))
    facts["budget_usd"] = phase.budget_usd
    if total > phase.budget_usd and cost > 0:
        shares = ", ".join(f"{name} ${usd:,.2f}" for name, usd in costs.items())
        # Over budget on a lower bound is still over budget: a floor proves a finding.
        finding(
            f"{own_text}; phase {phase.id} total ≈ ${total:,.2f} exceeds its budget "
            f"${phase.budget_usd:,.2f} ({shares})"
        )
    _no_pass_on_a_floor(query.name, own)
    floors = [n for n in costs if bq.dry_run(_sql(manifest, n)).lower_bound and n != query.name]
    if floors:
        unverified(
            f"{query.name}: phase {phase.id} total ≈ ${total:,.2f} is a lower bound "
            f"({', '.join(floors)}: BigQuery's estimate is not precise)"
        )


def _sql(manifest: LoadedManifest, name: str) -> str:
    return next(q.sql for q in manifest.manifest.queries if q.name == name)


def _no_pass_on_a_floor(name: str, estimate: DryRun) -> None:
    """A lower-bound (or unknown) estimate that fits the budget proves nothing."""
    __tracebackhide__ = True
    if estimate.lower_bound:
        unverified(
            f"{name}: BigQuery's estimate {_size(estimate.bytes or 0)} is {estimate.accuracy} "
            "(totalBytesProcessedAccuracy): the cost cannot be verified"
        )


def _phase_costs(google: GoogleAccess, bq: BigQueryMetadata, manifest: LoadedManifest) -> dict[str, float]:
    """Estimated cost of every query the audited phase runs; one that cannot be estimated
    leaves the total, and so every query's case, unverified."""
    __tracebackhide__ = True
    costs: dict[str, float] = {}
    for other in manifest.manifest.queries:
        if not other.needed_by(manifest.phase.id):
            continue
        try:
            estimate = bq.dry_run(other.sql)
        except ApiCallError as exc:
            unverified(f"phase {manifest.phase.id} total unknown: {other.name}: {exc}")
        if estimate.bytes is None:
            unverified(f"phase {manifest.phase.id} total unknown: {other.name} was refused (see its case)")
        costs[other.name] = _cost(google, estimate.bytes, other.runs)
    return costs


def _cost(google: GoogleAccess, scanned: int, runs: int) -> float:
    return scanned / TIB * google.gcp.usd_per_tib * runs


def _size(n: int) -> str:
    for unit, size in (("TiB", TIB), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} B"


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when else None
