"""Seeding a local world: building blocks, and a healthy world derived from any manifest.

`seed_from_manifest` is what `pytest --sandbox --manifest yours.toml` uses when the manifest has
no `[sandbox] seed` file: every declared dataset, source table, legacy view, bucket, Cloud Run
job, API, quota and permission exists and is healthy, so a team can rehearse its own manifest
offline and see every Google check run. What the world cannot hold (thousands of tables: the
BigQuery emulator slows down sharply past a few dozen) is said once, and the check concerned
then reports the shortfall honestly rather than passing by default.

The building blocks (`TableSpec`, `create_tables`, `create_views`, `grant`, ...) are also what
an example's own seed file uses (examples/bqx_demo/sandbox_seed.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from readiness.manifest import LoadedManifest
from readiness.manifest.gcp import Family, Gcp, Mandate
from sandbox.fakes import ProjectSeed, QuotaInfoSeed, QuotaLimit, RunExecution, RunJob
from sandbox.world import World

__all__ = [
    "MAX_SEEDED_ROWS",
    "MAX_SEEDED_TABLES",
    "TableSpec",
    "ViewSpec",
    "column_type",
    "create_tables",
    "create_views",
    "ensure_identity",
    "grant",
    "note",
    "rfc3339",
    "sample_name",
    "seed_from_manifest",
    "seed_services",
]

#: Tables per dataset the generic seed creates at most (the emulator's cost grows per table).
MAX_SEEDED_TABLES: Final = 40
#: Rows a seeded source table gets at most (CREATE TABLE AS over GENERATE_ARRAY stays quick).
MAX_SEEDED_ROWS: Final = 2_000_000
#: Every storage permission the bucket checks and probes ask about.
_BUCKET_PERMISSIONS: Final = (
    "storage.buckets.get",
    "storage.objects.create",
    "storage.objects.delete",
    "storage.objects.get",
    "storage.objects.list",
)
_SEED_TIMEOUT: Final = 120.0


def note(line: str) -> None:
    """Say something about the seed on the terminal (before the run's own output starts)."""
    print(f"sandbox: {line}", file=sys.stderr, flush=True)


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _millis(when: dt.datetime) -> str:
    return str(int(when.timestamp() * 1000))


# -- BigQuery -------------------------------------------------------------------------------------


def column_type(name: str) -> str:
    """A plausible BigQuery type for a column of a feature table, from its name alone."""
    lowered = name.lower()
    if lowered.endswith(("_time", "_ts")) or lowered in ("timestamp", "ts"):
        return "TIMESTAMP"
    if lowered.endswith("_date") or lowered == "date":
        return "DATE"
    if lowered in ("pair", "symbol", "family") or lowered.endswith(("_id", "_name")):
        return "STRING"
    return "FLOAT64"


@dataclass(frozen=True)
class TableSpec:
    """A table to create: its columns (types derived from the names) and how many rows."""

    name: str
    columns: Sequence[str] = ("interval_time", "pair", "value")
    rows: int = 3
    #: Pretend the table was last modified then (see `create_tables`); None = now.
    last_modified: dt.datetime | None = None
    #: Value of a `pair` column.
    pair: str = "eurusd"


@dataclass(frozen=True)
class ViewSpec:
    name: str
    #: Table (in the same dataset) the view selects from.
    target: str
    expires: dt.datetime | None = None


def _value(column: str, spec: TableSpec) -> str:
    kind = column_type(column)
    if kind == "TIMESTAMP":
        return "TIMESTAMP_ADD(TIMESTAMP '2026-01-01 00:00:00', INTERVAL n MINUTE)"
    if kind == "DATE":
        return "DATE_ADD(DATE '2026-01-01', INTERVAL n DAY)"
    if kind == "STRING":
        return f"'{spec.pair}'" if column.lower() == "pair" else "CONCAT('v', CAST(n AS STRING))"
    return "CAST(n AS FLOAT64) / 8"


def _select(spec: TableSpec) -> str:
    columns = ", ".join(f"{_value(c, spec)} AS `{c}`" for c in spec.columns)
    rows = min(spec.rows, MAX_SEEDED_ROWS)
    return f"SELECT {columns} FROM UNNEST(GENERATE_ARRAY(1, {max(rows, 1)})) AS n WHERE n <= {rows}"


def create_tables(world: World, dataset: str, specs: Iterable[TableSpec]) -> list[str]:
    """Create the tables with their rows in `dataset` (created if missing); return their ids.

    All tables go through one multi-statement query: one job instead of one per table, which
    is what makes a few dozen tables affordable on the emulator.

    A table with `last_modified` is created through tables.insert with lastModifiedTime in the
    body, and its rows are added by DML afterwards. Real BigQuery ignores that output-only
    field and would move it on the insert; local-bigquery 0.4.0 keeps the value it is given
    and moves it only on metadata updates. The checks then read the age through the ordinary
    API (tables.get, __TABLES__), exactly as they would read a table nobody loaded for days.
    """
    from google.cloud import bigquery

    client = world.bigquery_admin()
    client.create_dataset(dataset, exists_ok=True, timeout=_SEED_TIMEOUT)
    statements: list[str] = []
    created: list[str] = []
    specs_list = list(specs)
    for spec in specs_list:
        table_id = f"{world.project}.{dataset}.{spec.name}"
        created.append(table_id)
        if spec.last_modified is None:
            statements.append(f"CREATE TABLE `{table_id}` AS {_select(spec)}")
            continue
        table = bigquery.Table(
            table_id, schema=[bigquery.SchemaField(c, column_type(c)) for c in spec.columns]
        )
        table._properties["lastModifiedTime"] = _millis(spec.last_modified)
        client.create_table(table, timeout=_SEED_TIMEOUT)
        if spec.rows:
            statements.append(f"INSERT INTO `{table_id}` {_select(spec)}")
    if statements:
        client.query(";\n".join(statements)).result(timeout=_SEED_TIMEOUT)
    if world.bq_front is not None:
        # The seed writes straight to the emulator: tell the front when each table's data was
        # written (what INFORMATION_SCHEMA.PARTITIONS answers).
        now = dt.datetime.now(dt.UTC)
        for spec, table_id in zip(specs_list, created, strict=True):
            world.bq_front.set_data_written(table_id, int(_millis(spec.last_modified or now)))
    return created


def create_views(world: World, dataset: str, views: Iterable[ViewSpec]) -> list[str]:
    """Create views onto tables of the same dataset, with their expiration."""
    from google.cloud import bigquery

    client = world.bigquery_admin()
    created: list[str] = []
    for spec in views:
        view_id = f"{world.project}.{dataset}.{spec.name}"
        view = bigquery.Table(view_id)
        view.view_query = f"SELECT * FROM `{world.project}.{dataset}.{spec.target}`"
        view.expires = spec.expires
        client.create_table(view, timeout=_SEED_TIMEOUT)
        created.append(view_id)
    return created


# -- identity and permissions ------------------------------------------------------------------


def ensure_identity(world: World, gcp: Gcp) -> str:
    """Make the manifest's pipeline service account impersonable by the runner; its email."""
    email = gcp.impersonate
    if not email:
        return world.runner
    local, _, domain = email.partition("@")
    if domain == f"{world.project}.iam.gserviceaccount.com":
        return world.pipeline_account(local)
    world.iam.add_account(email)
    world.iam.allow_impersonation(world.runner, email)
    return email


def _project_seed(world: World) -> ProjectSeed:
    return world.resource_manager.projects[world.project]


def grant(world: World, resource: str, permissions: Iterable[str], *, tables: Iterable[str] = ()) -> None:
    """Grant the pipeline identity `permissions` on a manifest resource ("project", "bucket:b", ...).

    The fakes grant "to the caller": the checks call as the impersonated pipeline account.
    A dataset has no testIamPermissions of its own in the BigQuery API; its grant goes to
    every table of it named in `tables` (the seeded ones).
    """
    wanted = set(permissions)
    kind, _, name = resource.partition(":")
    if resource == "project":
        _project_seed(world).permissions.update(wanted)
    elif kind == "bucket":
        gcs = world.gcs_front
        assert gcs is not None, "world started without Cloud Storage"
        gcs.grant_bucket(name, gcs.bucket_permissions.get(name, set()) | wanted)
    elif kind in ("table", "dataset"):
        front = world.bq_front
        assert front is not None, "world started without BigQuery"
        if kind == "table":
            targets = [name if name.count(".") == 2 else f"{world.project}.{name}"]
        else:
            targets = [t for t in tables if t.startswith(f"{world.project}.{name}.")]
            front.grant_dataset(name if "." in name else f"{world.project}.{name}", wanted)
        for table_id in targets:
            front.grant_table(table_id, front.table_permissions.get(table_id, set()) | wanted)
    elif kind == "job":
        for job_name, job in world.cloud_run.jobs.items():
            if job_name.rsplit("/", 1)[-1] == name:
                job.permissions.update(wanted)


# -- names that follow a mandate ---------------------------------------------------------------------


def sample_name(pattern: str, variant: int = 0) -> str | None:
    """A string the regex matches in full (None for constructs we do not generate).

    `variant` changes the choices (branches, characters) so several distinct names come
    out of one pattern. Enough for table-name patterns; not a general regex inverter.
    """
    parser: Any = importlib.import_module("re._parser")  # the stdlib's regex parser (no stubs)
    constants: Any = importlib.import_module("re._constants")
    try:
        tree = parser.parse(pattern)
        text = _generate(list(tree), variant, constants)
    except (re.error, ValueError):
        return None
    return text if re.fullmatch(pattern, text) else None


def _generate(items: list[tuple[Any, Any]], k: int, c: Any) -> str:
    out: list[str] = []
    for op, arg in items:
        if op is c.LITERAL:
            out.append(chr(arg))
        elif op is c.ANY or op is c.NOT_LITERAL:
            out.append("x" if op is c.ANY or arg != ord("x") else "y")
        elif op is c.IN:
            out.append(_pick(arg, k + len(out), c))
        elif op is c.BRANCH:
            alternatives = arg[1]
            out.append(_generate(list(alternatives[k % len(alternatives)]), k, c))
        elif op is c.SUBPATTERN:
            out.append(_generate(list(arg[-1]), k, c))
        elif op is c.MAX_REPEAT or op is c.MIN_REPEAT:
            low, high, sub = arg
            count = low if low == high else max(low, min(3, high))
            out.extend(_generate(list(sub), k + i, c) for i in range(count))
        elif op is c.AT:
            continue
        else:
            raise ValueError(f"unsupported regex construct {op}")
    return "".join(out)


def _pick(members: list[tuple[Any, Any]], k: int, c: Any) -> str:
    for op, arg in members:
        if op is c.LITERAL:
            return chr(arg)
        if op is c.RANGE:
            low, high = arg
            return chr(low + k % (high - low + 1))
        if op is c.CATEGORY:
            return "0" if arg is c.CATEGORY_DIGIT else "a"
        if op is c.NEGATE:
            raise ValueError("negated class")
    raise ValueError("empty class")


def _family_names(family: Family, count: int) -> list[str]:
    """Up to `count` distinct table names that belong to the family and follow its pattern."""
    names: list[str] = []
    pattern = family.table_pattern or family.match.rstrip("$") + "[a-z]{6}"
    for variant in range(count * 4):
        name = sample_name(pattern, variant)
        if name and name not in names and re.search(family.match, name, re.IGNORECASE):
            names.append(name)
        if len(names) == count:
            break
    return names


def _required_columns(name: str, mandates: Iterable[Mandate]) -> list[str]:
    columns: list[str] = []
    for mandate in mandates:
        for family in mandate.families:
            if re.search(family.match, name, re.IGNORECASE):
                columns += [c for c in family.required_columns if c not in columns]
    return columns


def _spec(name: str, mandates: Sequence[Mandate], rows: int = 3) -> TableSpec:
    columns = _required_columns(name, mandates) or ["interval_time", "pair"]
    return TableSpec(name, [*columns, "value"], rows=rows)


# -- the generic seed ---------------------------------------------------------------------------


@dataclass
class _Plan:
    """Tables per dataset, gathered from every section before one batch per dataset."""

    tables: dict[str, dict[str, TableSpec]] = field(default_factory=dict)
    views: dict[str, list[ViewSpec]] = field(default_factory=dict)

    def add(self, dataset: str, spec: TableSpec) -> None:
        self.tables.setdefault(dataset, {}).setdefault(spec.name, spec)


def seed_from_manifest(world: World, loaded: LoadedManifest) -> None:
    """A healthy world for whatever the manifest declares (see the module docstring)."""
    manifest = loaded.manifest
    now = dt.datetime.now(dt.UTC)
    mandates = {m.id: m for m in manifest.mandates}
    plan = _Plan()
    for dataset in manifest.datasets:
        if dataset.project and dataset.project != world.project:
            note(f"dataset {dataset.subject}: other projects are not emulated; not seeded")
            continue
        plan.tables.setdefault(dataset.id, {})
        used = [mandates[m] for m in dataset.mandates]
        families = [f for m in used for f in m.families]
        want = max(dataset.min_tables or 0, len(families))
        if want > MAX_SEEDED_TABLES:
            note(
                f"dataset {dataset.id}: {want} tables expected, {MAX_SEEDED_TABLES} seeded "
                "(the emulator slows down past a few dozen tables)"
            )
            want = MAX_SEEDED_TABLES
        per_family = math.ceil(want / len(families)) if families else 0
        for family in families:
            for name in _family_names(family, per_family):
                plan.add(dataset.id, _spec(name, used))
        index = 0
        while len(plan.tables[dataset.id]) < want:
            index += 1
            plan.add(dataset.id, _spec(f"table_{index:03d}", used))

    for source in manifest.source_tables:
        parts = source.table.split(".")
        if len(parts) == 3 and parts[0] != world.project:
            note(f"source table {source.table}: other projects are not emulated; not seeded")
            continue
        rows = max(source.min_rows, 1)
        if rows > MAX_SEEDED_ROWS:
            note(f"source table {source.table}: {rows} rows expected, {MAX_SEEDED_ROWS} seeded")
        plan.add(parts[-2], TableSpec(parts[-1], ["interval_time", "pair", "value"], rows=rows))

    for legacy in manifest.legacy_views:
        renames = [(r.old, r.new) for r in legacy.renames] + _renames_file(loaded, legacy.renames_file)
        if len(renames) > MAX_SEEDED_TABLES:
            note(f"legacy views of {legacy.dataset}: {len(renames)} renames, {MAX_SEEDED_TABLES} seeded")
            renames = renames[:MAX_SEEDED_TABLES]
        used = [mandates[m] for d in manifest.datasets if d.id == legacy.dataset for m in d.mandates]
        expires = now + dt.timedelta(days=max(legacy.grace_days - 1, 1))
        for old, new in renames:
            plan.add(legacy.dataset, _spec(new, used))
            plan.views.setdefault(legacy.dataset, []).append(ViewSpec(old, new, expires))

    if manifest.billing is not None:
        _plan_billing(plan, manifest.billing.dataset, manifest.billing.tables, world.project)

    table_ids: list[str] = []
    for dataset_id, specs in plan.tables.items():
        table_ids += create_tables(world, dataset_id, specs.values())
    for dataset_id, views in plan.views.items():
        table_ids += create_views(world, dataset_id, views)

    for bucket in manifest.buckets:
        _seed_bucket(world, bucket.name, bucket.checkpoint_prefix)
    for table_id in table_ids:
        grant(world, f"table:{table_id}", ())
    seed_services(world, loaded, table_ids)


def _plan_billing(plan: _Plan, dataset: str, tables: str, project: str) -> None:
    """A Cloud Billing export that has just written: one cost table named as its pattern says."""
    owner, _, dataset_id = dataset.rpartition(".")
    if owner and owner != project:
        note(f"billing export {dataset}: other projects are not emulated; not seeded")
        return
    name = re.sub(r"[^A-Za-z0-9_]", "", tables.replace("*", "v1_000000_000000_000000"))
    plan.add(dataset_id, TableSpec(name, ["usage_start_time", "service_description", "cost"], rows=3))


def seed_services(world: World, loaded: LoadedManifest, table_ids: Sequence[str] = ()) -> None:
    """The REST services of a healthy world: the identity, API states, Cloud Run jobs (each with
    a recent successful execution), the declared permissions and quotas (the benchmarks use
    this alone, beside their BigQuery stand-in)."""
    manifest = loaded.manifest
    gcp = manifest.gcp
    assert gcp is not None, "the sandbox starts a world only for a manifest with [gcp]"
    now = dt.datetime.now(dt.UTC)
    ensure_identity(world, gcp)
    for api in manifest.apis:
        world.service_usage.set_service(world.project, api.name, "ENABLED")
    for job in manifest.jobs:
        world.cloud_run.add_job(
            world.project,
            job.region or gcp.region,
            RunJob(
                name=job.name,
                image=job.image or f"{gcp.region}-docker.pkg.dev/{world.project}/sandbox/{job.name}",
                service_account=job.service_account or gcp.impersonate or world.runner,
                timeout=f"{job.timeout_seconds or 600}s",
                create_time=rfc3339(now - dt.timedelta(days=1)),
                executions=[
                    RunExecution(
                        f"{job.name}-sandbox",
                        succeeded_count=1,
                        create_time=rfc3339(now - dt.timedelta(hours=2)),
                        completion_time=rfc3339(now - dt.timedelta(hours=1)),
                    )
                ],
            ),
        )
    for permission_set in manifest.permissions:
        grant(world, permission_set.resource, permission_set.permissions, tables=table_ids)
    for quota in manifest.quotas:
        # Unlimited where the plan adds query estimates (their unit is the check's business),
        # else ten times the plan: comfortably inside any max_share.
        limit = -1 if quota.add_query_estimates else math.ceil(quota.planned * 10) + 10
        world.quotas.add_quota(
            world.project,
            quota.service,
            QuotaInfoSeed(
                quota_id=quota.quota_id,
                metric=f"{quota.service}/{quota.quota_id.lower()}",
                limits=[QuotaLimit(limit, dict(quota.dimensions))],
                dimensions=list(quota.dimensions),
            ),
        )


def _renames_file(loaded: LoadedManifest, name: str) -> list[tuple[str, str]]:
    if not name:
        return []
    path = loaded.path.parent / name
    try:
        with path.open(newline="") as handle:
            rows = [r for r in csv.reader(handle) if len(r) >= 2 and r[0].strip()]
    except OSError as exc:
        note(f"renames file {path}: {exc.strerror}; its legacy views are not seeded")
        return []
    if rows and rows[0][0].strip().lower() == "old":
        rows = rows[1:]
    return [(r[0].strip(), r[1].strip()) for r in rows]


def _seed_bucket(world: World, name: str, checkpoint_prefix: str) -> None:
    client = world.storage_admin()
    bucket = client.create_bucket(name, timeout=_SEED_TIMEOUT)
    if checkpoint_prefix:
        blob = bucket.blob(f"{checkpoint_prefix.rstrip('/')}/sandbox/part-00000.parquet")
        blob.upload_from_string(b"PAR1 sandbox checkpoint", timeout=_SEED_TIMEOUT)
    grant(world, f"bucket:{name}", _BUCKET_PERMISSIONS)
