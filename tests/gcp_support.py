"""Helpers for the Google-side tests: a module's local world, its manifest head, a suite run in it.

Each test module starts one World (a few hundred milliseconds without BigQuery) and seeds it,
then runs the real suite in a subprocess with the world's environment, so the checks reach the
world by configuration alone. A suite run costs seconds (interpreter, imports, documents), so a
module runs the suite as few times as its scenarios allow: one shared run over a manifest that
holds every passing, failing and faulted subject, and its tests each read their cases from it;
only scenarios that need another environment or `[gcp]` setting run on their own (pytester).
"""

from __future__ import annotations

import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import AuditRun, TargetRepo, run_shared, run_suite
from sandbox.processes import LocalServer
from sandbox.world import World

PROJECT = "bqx-ml"

#: One BigQuery emulator per test process (it takes 15 s or more to start on a loaded 2-core
#: machine, and eight modules need one); each world empties it first (World._empty_bigquery),
#: so a module sees only the datasets it made. Stopped at exit (LocalServer registers that).
_shared_bigquery: list[LocalServer] = []


def shared_bigquery() -> LocalServer:
    if not _shared_bigquery or _shared_bigquery[0].process.poll() is not None:
        from sandbox.bigquery_emulator import start_bigquery_emulator

        work = Path(tempfile.mkdtemp(prefix="shared-bigquery-"))
        _shared_bigquery[:] = [start_bigquery_emulator(work, PROJECT)]
    return _shared_bigquery[0]


@contextmanager
def started_world(work: Path, *, bigquery: bool = False, storage: bool = True) -> Iterator[World]:
    server = shared_bigquery() if bigquery else None
    with World(work, PROJECT, bigquery=bigquery, storage=storage, bigquery_server=server) as world:
        yield world


def gcp_section(world: World, *, impersonate: str = "", timeout: float = 5, extra: str = "") -> str:
    """`[gcp]` for the world's project; a short timeout keeps injected-fault runs quick."""
    lines = [
        "[gcp]",
        f'project = "{world.project}"',
        f"timeout_seconds = {timeout}",
    ]
    if impersonate:
        lines.append(f'impersonate = "{impersonate}"')
    return "\n" + "\n".join(lines) + "\n" + textwrap.dedent(extra)


def run_in_world(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    target: TargetRepo,
    body: str,
    *args: str,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
) -> AuditRun:
    """Write the manifest and run the suite with the world's ADC and endpoints (or `env`),
    without the variables in `unset`."""
    if not (target.root / "requirements.txt").exists():
        target.write("requirements.txt", "")
    manifest = target.manifest(body)
    for key, value in (world.env() if env is None else env).items():
        monkeypatch.setenv(key, value)
    for key in unset:
        monkeypatch.delenv(key, raising=False)
    return run_suite(pytester, manifest, *args)


def shared_run(work: Path, world: World, body: str, *args: str, target: TargetRepo | None = None) -> AuditRun:
    """`run_in_world` for a whole module (pytester is per test): the same suite command."""
    target = target or TargetRepo(work / "target")
    if not (target.root / "requirements.txt").exists():
        target.write("requirements.txt", "")
    manifest = target.manifest(body)
    run = run_shared(work, manifest, *args, env=world.env(), timeout=120)
    assert run.ret in (0, 1), run.output
    return run


def outcome(run: AuditRun, criterion: str, subject: str) -> tuple[str, str]:
    case = run.case(criterion, subject)
    return str(case["outcome"]), str(case["message"])


def facts(run: AuditRun, criterion: str, subject: str) -> dict[str, Any]:
    return dict(run.case(criterion, subject)["facts"])


def infrastructure_status(run: AuditRun, resource: str) -> str:
    """The resource's status in the infrastructure report ("MISSING (P0)"): the Status cell of
    the first table row naming it (its section's summary table comes before the per-check one)."""
    for line in run.doc("INFRASTRUCTURE_READINESS_REPORT").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 1 and cells[0] == resource:
            return cells[1]
    raise AssertionError(f"{resource} is not in the infrastructure report")


def verdict(run: AuditRun) -> str:
    return str(run.json()["verdict"]["verdict"])
