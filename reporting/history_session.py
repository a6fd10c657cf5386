"""The run's history session: where the history lives, the past runs read for the audit, the
run recorded after it; the store stays open in between and is always closed."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from readiness.manifest import LoadedManifest
from reporting.activities import nightly_scope
from reporting.audit import Audit
from reporting.history import HistoryError, HistoryStore, open_store, scope_key
from reporting.history_facts import Past, read_past

__all__ = ["HistorySession"]


class HistorySession:
    """`read` before the audit is built (its past is an input), `record` once it is; `close`
    at the end of the run whatever happened between."""

    def __init__(self, given: str, invocation_dir: Path, started: dt.datetime) -> None:
        #: `--history`, which wins over the manifest's `history.store`.
        self.given = given
        self.invocation_dir = invocation_dir
        self.started = started
        self.store: HistoryStore | None = None
        #: Seconds the history write took (shown in the terminal summary).
        self.seconds: float | None = None
        self._closed = False

    def location(self, loaded: LoadedManifest) -> tuple[str, Path]:
        """(location, folder a relative SQLite path is resolved against); "" = no history."""
        if self.given:
            return self.given, self.invocation_dir
        return loaded.manifest.history.store, loaded.path.parent

    def read(self, loaded: LoadedManifest, markexpr: str, keyword: str) -> tuple[str, Past | None, str]:
        """(location, the past runs of this scope, the problem that kept them from being read)."""
        location, base = self.location(loaded)
        if not location:
            return "", None, ""
        manifest = loaded.manifest
        project, phase = manifest.project.name, loaded.phase.id
        try:
            self.store = open_store(location, base, _bigquery_endpoint(manifest))
            location = self.store.location
            past = read_past(
                self.store,
                project,
                phase,
                scope_key(project, phase, markexpr, keyword),
                before=self.started,
                window=manifest.history.trend_runs,
                nightly_scope=nightly_scope(loaded),
            )
        except HistoryError as exc:
            return location, None, str(exc)
        return location, past, ""

    def record(self, audit: Audit) -> None:
        ops = audit.ops
        if self.store is None or ops.history_status != "read":
            if ops.history_status == "unavailable":
                ops.history_status = "not written"
            return
        begin = time.perf_counter()
        try:
            self.store.record(audit.history_entry())
        except HistoryError as exc:
            ops.history_status, ops.history_detail = "not written", str(exc)
        else:
            ops.history_status = "recorded"
        finally:
            self.seconds = time.perf_counter() - begin
            self.close()

    def skipped(self) -> list[str]:
        """What the store could not read (rows of an unknown shape), for the terminal."""
        return list(self.store.skipped) if self.store is not None else []

    def close(self) -> None:
        if self.store is not None and not self._closed:
            self._closed = True
            self.store.close()


def _bigquery_endpoint(manifest: Any) -> str:
    """The manifest's BigQuery endpoint override (the local emulator), if it has one."""
    gcp = getattr(manifest, "gcp", None)
    endpoints = getattr(gcp, "endpoints", None)
    return str(getattr(endpoints, "bigquery", "") or "")
