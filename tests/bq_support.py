"""Helpers for the BigQuery tests: seeding the emulator, and suite runs a whole module shares.

Each suite run is a fresh interpreter (about 4 s of imports before the first check), so the
BigQuery tests put many scenarios into one manifest, run it once per module, and let several
tests read the same results; the seeding client goes straight to the emulator (not counted).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from checks.gcp.scratch import SCRATCH_PREFIX
from conftest import MANIFEST_HEAD, REPO, AuditRun, TargetRepo
from sandbox.world import World


def write_manifest(workdir: Path, body: str, head: str = MANIFEST_HEAD) -> Path:
    target = TargetRepo(workdir / "target")
    target.write("requirements.txt", "")
    return target.manifest(body, head=head)


def run_shared(workdir: Path, manifest: Path, env: Mapping[str, str], *args: str) -> AuditRun:
    """The real suite in a subprocess with `env` over ours (minus any host credentials)."""
    out_dir = workdir / "out"
    cmd = [
        sys.executable, "-m", "pytest", f"--basetemp={workdir / 'basetemp'}",
        "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO), str(REPO / "checks"),
        "--manifest", str(manifest), "--readiness-out", str(out_dir),
        "--readiness-now", "2026-11-22T06:00:00", *args,
    ]  # fmt: skip
    drop = {"PYTEST_ADDOPTS", "GOOGLE_APPLICATION_CREDENTIALS", "READINESS_ENDPOINTS"}
    full_env = {k: v for k, v in os.environ.items() if k not in drop}
    full_env.update(env, PY_COLORS="0")
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=workdir, env=full_env, capture_output=True, text=True, timeout=120)
    result = pytest.RunResult(
        proc.returncode, proc.stdout.splitlines(), proc.stderr.splitlines(), time.monotonic() - start
    )
    return AuditRun(result, out_dir)


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
