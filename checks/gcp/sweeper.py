"""`--sweep-scratch`: remove the scratch tables and objects that crashed earlier runs left behind.

Before the checks, once, on the controller only (never on an xdist worker), with the suite's own
identity and endpoints (the `google` fixture's: ADC, impersonating gcp.impersonate, honouring
READINESS_ENDPOINTS), the sweeper lists every manifest dataset's tables and every manifest
bucket's top-level objects named SCRATCH_PREFIX..., and deletes those of other runs that carry
all three scratch marks (scratch.py: the exact name pattern, the `readiness-scratch` label naming
the same run, an expiry). A prefixed name missing a mark (a user's manual backup, an impossible
run stamp) is skipped and named, never deleted, and never fails the sweep. It never touches the
current run's own names, nor those of a run that started within SCRATCH_TTL of this one (it may
still be running: deleting its scratch table mid-probe would turn its rename into a false
finding); those expire on their own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import pytest
from google.api_core import exceptions as api_exceptions

from checks.gcp.access import GoogleAccess, endpoints_for
from checks.gcp.bq_snapshot import DatasetRef
from checks.gcp.credentials import CredentialsError, resolve_identity
from checks.gcp.errors import ApiCallError, api_call
from checks.gcp.scratch import SCRATCH_PREFIX, SCRATCH_TTL, ScratchNames, proven_scratch
from readiness.manifest import Manifest
from readiness.stash import SWEEP_KEY, loaded_manifest, run_start
from readiness.textsafe import visible

__all__ = ["SWEEPER_KEY", "Fate", "ScratchSweeper", "SweepResult", "fate", "sweep"]

SWEEPER_KEY: Final = pytest.StashKey["ScratchSweeper"]()


class Fate(StrEnum):
    #: Not a scratch name: never touched.
    OTHER = "other"
    #: This run's own scratch object: its probe removes it.
    OURS = "ours"
    #: Another run's, started within SCRATCH_TTL of this one: may still be running, kept.
    RECENT = "recent"
    #: A stale leftover of an earlier run, all three marks present: deleted.
    STALE = "stale"
    #: The scratch prefix without the other marks (no label, no expiry, a bad stamp): skipped.
    UNPROVEN = "unproven"


def fate(
    name: str,
    current: ScratchNames,
    started: dt.datetime,
    labels: Mapping[str, str] | None = None,
    expires: dt.datetime | str | None = None,
) -> tuple[Fate, str]:
    """What the sweeper does with an object of this (top-level) name, and why when skipped."""
    if not name.startswith(SCRATCH_PREFIX):
        return Fate.OTHER, ""
    marks = proven_scratch(name, labels, expires)
    if marks.started is None:
        return Fate.UNPROVEN, marks.why_not
    if marks.run == current.run:
        return Fate.OURS, ""
    if abs(started - marks.started) < SCRATCH_TTL:
        return Fate.RECENT, ""
    return Fate.STALE, ""


@dataclass
class SweepResult:
    #: Deleted: `project.dataset.table` and `gs://bucket/object`.
    swept: list[str] = field(default_factory=list)
    #: Scratch objects of another recent run, left alone.
    kept: list[str] = field(default_factory=list)
    #: Prefixed names lacking a scratch mark, with the missing mark: never deleted.
    skipped: list[str] = field(default_factory=list)
    #: What could not be listed or deleted, with the reason.
    failed: list[str] = field(default_factory=list)
    #: Why nothing was swept at all (no [gcp], no credentials, an unexpected failure).
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "swept": len(self.swept),
            "kept": len(self.kept),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "swept_names": list(self.swept),
            "kept_names": list(self.kept),
            "skipped_names": list(self.skipped),
            "failures": list(self.failed),
            "error": self.error,
        }

    def line(self) -> str:
        if self.error:
            return f"not swept: {self.error}"
        return (
            f"{len(self.swept)} stale scratch object(s) deleted, {len(self.kept)} of a recent run kept, "
            f"{len(self.skipped)} not provably scratch skipped, {len(self.failed)} failure(s)"
        )


def sweep(
    google: GoogleAccess,
    datasets: list[DatasetRef],
    buckets: list[str],
    current: ScratchNames,
    started: dt.datetime,
) -> SweepResult:
    result = SweepResult()
    for ref in datasets:
        _sweep_dataset(google, ref, current, started, result)
    for bucket in buckets:
        _sweep_bucket(google, bucket, current, started, result)
    return result


def _sweep_dataset(
    google: GoogleAccess, ref: DatasetRef, current: ScratchNames, started: dt.datetime, result: SweepResult
) -> None:
    try:
        with api_call("BigQuery"):
            try:
                # tables.list carries each table's labels and expirationTime: no call per table.
                tables = list(
                    google.bigquery.list_tables(
                        str(ref), retry=google.read_retry("BigQuery"), timeout=google.timeout
                    )
                )
            except api_exceptions.NotFound:
                return  # nothing to sweep; dataset_reachable reports the missing dataset
    except ApiCallError as exc:
        result.failed.append(f"{ref}: cannot list tables: {exc}")
        return
    for table in sorted(tables, key=lambda t: str(t.table_id)):
        where = f"{ref}.{table.table_id}"
        verdict = _classify(
            where, fate(str(table.table_id), current, started, table.labels, table.expires), result
        )
        if verdict is not Fate.STALE:
            continue
        try:
            # The name is a scratch name of a finished run: deleting it twice is harmless, so the
            # delete may be retried like a read (not_found_ok).
            with api_call("BigQuery"):
                google.bigquery.delete_table(
                    where, not_found_ok=True, retry=google.read_retry("BigQuery"), timeout=google.timeout
                )
        except ApiCallError as exc:
            result.failed.append(f"{where}: {exc}")
        else:
            result.swept.append(where)


def _classify(where: str, judged: tuple[Fate, str], result: SweepResult) -> Fate:
    verdict, why = judged
    if verdict is Fate.RECENT:
        result.kept.append(where)
    elif verdict is Fate.UNPROVEN:
        result.skipped.append(f"{where} ({why})")
    return verdict


def _sweep_bucket(
    google: GoogleAccess, bucket: str, current: ScratchNames, started: dt.datetime, result: SweepResult
) -> None:
    try:
        with api_call("Cloud Storage"):
            try:
                # Top level only: the probes write there, and a deeper name is never ours.
                blobs = list(
                    google.storage.list_blobs(
                        bucket,
                        prefix=SCRATCH_PREFIX,
                        delimiter="/",
                        retry=google.read_retry("Cloud Storage"),
                        timeout=google.timeout,
                    )
                )
            except api_exceptions.NotFound:
                return
    except ApiCallError as exc:
        result.failed.append(f"gs://{bucket}: cannot list objects: {exc}")
        return
    for blob in sorted(blobs, key=lambda b: str(b.name)):
        where = f"gs://{bucket}/{blob.name}"
        verdict = _classify(
            where, fate(str(blob.name), current, started, blob.metadata, blob.custom_time), result
        )
        if verdict is not Fate.STALE:
            continue
        try:
            # Pinned to the listed generation: a retried delete cannot remove a newer object.
            with api_call("Cloud Storage"), contextlib.suppress(api_exceptions.NotFound):
                blob.delete(
                    if_generation_match=blob.generation,
                    retry=google.read_retry("Cloud Storage"),
                    timeout=google.timeout,
                )
        except ApiCallError as exc:
            result.failed.append(f"{where}: {exc}")
        else:
            result.swept.append(where)


def _targets(manifest: Manifest, project: str) -> tuple[list[DatasetRef], list[str]]:
    datasets = sorted({DatasetRef.parse(d.subject, project) for d in manifest.datasets})
    buckets = sorted({b.name for b in manifest.buckets})
    return datasets, buckets


class ScratchSweeper:
    """Registered on the controller when --sweep-scratch is given; sweeps at session start."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.result: SweepResult | None = None

    # tryfirst: before xdist starts its workers (its own sessionstart is trylast), so no check
    # of this run runs while the sweep does.
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        try:
            self.result = self._sweep()
        except Exception as exc:  # a sweep must never stop the audit it precedes
            self.result = SweepResult(error=f"sweep failed: {type(exc).__name__}: {exc}")
        self.config.stash[SWEEP_KEY] = self.result.to_json()

    def _sweep(self) -> SweepResult:
        manifest = loaded_manifest(self.config).manifest
        gcp = manifest.gcp
        if gcp is None:
            return SweepResult(error="the manifest has no [gcp] section")
        start = run_start(self.config)
        endpoints = endpoints_for(gcp)
        try:
            identity = resolve_identity(gcp.impersonate, endpoints.iamcredentials, gcp.timeout_seconds)
        except CredentialsError as exc:
            return SweepResult(error=str(exc))
        datasets, buckets = _targets(manifest, gcp.project)
        return sweep(
            GoogleAccess(gcp, identity, endpoints),
            datasets,
            buckets,
            ScratchNames(start.run_id),
            start.started,
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        result = self.result
        if result is None:
            return
        tr = terminalreporter
        tr.write_sep("-", "scratch sweep")
        tr.write_line(f"  {result.line()}", red=bool(result.error or result.failed))
        for name in result.swept:
            tr.write_line(f"  deleted {visible(name, newlines=False)}")
        for name in result.kept:
            tr.write_line(
                f"  kept {visible(name, newlines=False)} (a run started within {SCRATCH_TTL} of this one)"
            )
        for name in result.skipped:
            tr.write_line(
                f"  skipped {visible(name, newlines=False)}: not provably the suite's scratch, left alone"
            )
        for failure in result.failed:
            tr.write_line(f"  FAILED {visible(failure, newlines=False)}", red=True)


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("sweep_scratch") or hasattr(config, "workerinput"):
        return
    if config.getoption("help") or config.getoption("collectonly"):
        return
    sweeper = config.stash[SWEEPER_KEY] = ScratchSweeper(config)
    config.pluginmanager.register(sweeper, "readiness-sweeper")


def pytest_unconfigure(config: pytest.Config) -> None:
    sweeper = config.stash.get(SWEEPER_KEY, None)
    if sweeper is not None:
        config.pluginmanager.unregister(sweeper)
        del config.stash[SWEEPER_KEY]
