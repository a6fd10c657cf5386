"""Helpers for the BigQuery tests: seeding the emulator, and suite runs a whole module shares.

Each suite run is its own process (forked from a warm interpreter, warm_pytest.py, it still
collects, reads the world and writes every document), so the BigQuery tests put many scenarios
into one manifest, run it once per module, and let several tests read the same results; the seeding client goes straight to the emulator (not counted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from google.cloud import bigquery

import conftest
from checks.gcp.scratch import SCRATCH_PREFIX
from conftest import MANIFEST_HEAD, AuditRun, TargetRepo
from sandbox.world import World


def write_manifest(workdir: Path, body: str, head: str = MANIFEST_HEAD) -> Path:
    target = TargetRepo(workdir / "target")
    target.write("requirements.txt", "")
    return target.manifest(body, head=head)


def run_shared(workdir: Path, manifest: Path, env: Mapping[str, str], *args: str) -> AuditRun:
    """The real suite in a subprocess with the world's `env` over ours."""
    return conftest.run_shared(workdir, manifest, *args, env=env)


def create_table(
    admin: Any,
    table_id: str,
    columns: Sequence[str],
    rows: int = 0,
    expires: dt.datetime | None = None,
) -> None:
    """A table of STRING columns (the first one TIMESTAMP when named interval_time)."""
    schema = [bigquery.SchemaField(c, "TIMESTAMP" if c == "interval_time" else "STRING") for c in columns]
    table = bigquery.Table(table_id, schema=schema)
    if expires is not None:
        table.expires = expires
    admin.create_table(table)
    if rows:
        names = ", ".join(f"`{c}`" for c in columns)
        values = ", ".join(
            "("
            + ", ".join("CURRENT_TIMESTAMP()" if c == "interval_time" else f"'{i}'" for c in columns)
            + ")"
            for i in range(rows)
        )
        admin.query_and_wait(f"INSERT INTO `{table_id}` ({names}) VALUES {values}")


def create_view(admin: Any, view_id: str, sql: str, expires: dt.datetime | None = None) -> None:
    view = bigquery.Table(view_id)
    view.view_query = sql
    if expires is not None:
        view.expires = expires
    admin.create_table(view)


def scratch_tables(world: World, dataset: str) -> list[str]:
    admin = world.bigquery_admin()
    return [t.table_id for t in admin.list_tables(dataset) if t.table_id.startswith(SCRATCH_PREFIX)]


def case(run: AuditRun, criterion: str, subject: str) -> tuple[str, str]:
    found = run.case(criterion, subject)
    return str(found["outcome"]), str(found["message"])


def facts(run: AuditRun, criterion: str, subject: str) -> dict[str, Any]:
    return dict(run.case(criterion, subject)["facts"])
