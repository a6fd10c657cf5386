"""History in a BigQuery table: the shared store for nightly runs on throw-away CI machines.

Selected by `--history bq://PROJECT.DATASET.TABLE` (or `[history] store` in the manifest). The
dataset must exist; the table is created on first use with this schema, one row per run:

    run_id       STRING    REQUIRED  unique per run ("20261122T060000-a1b2c3")
    project      STRING    REQUIRED  manifest project.name
    phase        STRING    REQUIRED  phase under audit
    scope_key    STRING    REQUIRED  "project|phase|m=<markexpr>|k=<keyword>"
    markexpr     STRING              -m used ("" = none)
    keyword      STRING              -k used ("" = none)
    manifest     STRING              manifest path on the machine that ran
    started      TIMESTAMP REQUIRED  (the table is partitioned by day on it)
    finished     TIMESTAMP
    verdict      STRING              GO / CONDITIONAL GO / NO-GO
    risk         STRING              LOW / MEDIUM / HIGH
    cases_run    INT64
    cases_total  INT64
    cases        RECORD    REPEATED  one per case:
        key, criterion, subject, title, area, category, priority, outcome, message, owner,
        waiver STRING; first_seen TIMESTAMP; consecutive_failures INT64; previous_outcome STRING

A run is appended with one load job (atomic: a reader sees the whole run or none of it; no
streaming buffer, no streaming cost). The client is the official google-cloud-bigquery one,
with Application Default Credentials (Workload Identity Federation in CI) unless an endpoint
is given (the local emulator), which is reached anonymously.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from reporting.history.store import CaseEntry, HistoryError, HistoryStore, RunEntry

__all__ = ["BigQueryStore", "parse_location"]

_LOCATION: Final = re.compile(r"^bq://([a-z][a-z0-9.:-]*[a-z0-9])\.([A-Za-z0-9_]+)\.([A-Za-z0-9_$-]+)$")
#: Seconds one API call (retries included) may take; a hung endpoint must not hold the run.
TIMEOUT: Final = 60.0

_CASE_FIELDS: Final = (
    "key",
    "criterion",
    "subject",
    "title",
    "area",
    "category",
    "priority",
    "outcome",
    "message",
    "owner",
    "waiver",
)


def parse_location(location: str) -> tuple[str, str, str]:
    """bq://project.dataset.table -> (project, dataset, table); ValueError names the form."""
    match = _LOCATION.match(location)
    if match is None:
        raise ValueError(f"{location!r} is not a BigQuery history location (bq://project.dataset.table)")
    project, dataset, table = match.groups()
    return project, dataset, table


def _schema() -> list[Any]:
    from google.cloud import bigquery

    field = bigquery.SchemaField
    cases = [field(name, "STRING") for name in _CASE_FIELDS] + [
        field("first_seen", "TIMESTAMP"),
        field("consecutive_failures", "INT64"),
        field("previous_outcome", "STRING"),
    ]
    return [
        field("run_id", "STRING", mode="REQUIRED"),
        field("project", "STRING", mode="REQUIRED"),
        field("phase", "STRING", mode="REQUIRED"),
        field("scope_key", "STRING", mode="REQUIRED"),
        field("markexpr", "STRING"),
        field("keyword", "STRING"),
        field("manifest", "STRING"),
        field("started", "TIMESTAMP", mode="REQUIRED"),
        field("finished", "TIMESTAMP"),
        field("verdict", "STRING"),
        field("risk", "STRING"),
        field("cases_run", "INT64"),
        field("cases_total", "INT64"),
        field("cases", "RECORD", mode="REPEATED", fields=cases),
    ]


def _ts(when: dt.datetime | None) -> str | None:
    return when.astimezone(dt.UTC).isoformat() if when is not None else None


def _as_utc(value: Any) -> dt.datetime:
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


class BigQueryStore(HistoryStore):
    def __init__(self, location: str, endpoint: str = "", client: Any = None) -> None:
        self.location = location
        self.skipped: list[str] = []
        self.project, self.dataset, self.table = parse_location(location)
        self.table_id = f"{self.project}.{self.dataset}.{self.table}"
        self._endpoint = endpoint
        self._client = client
        self._ready = False

    def _bq(self) -> Any:
        if self._client is None:
            try:
                from google.cloud import bigquery

                if self._endpoint:
                    from google.auth.credentials import AnonymousCredentials

                    self._client = bigquery.Client(
                        project=self.project,
                        credentials=AnonymousCredentials(),
                        client_options={"api_endpoint": self._endpoint},
                    )
                else:
                    self._client = bigquery.Client(project=self.project)
            except Exception as exc:  # no credentials, bad project: say so, keep the reports
                raise HistoryError(
                    f"{self.location}: cannot create the BigQuery client: {_short(exc)}"
                ) from None
        return self._client

    def _ensure_table(self) -> None:
        if self._ready:
            return
        from google.cloud import bigquery

        table = bigquery.Table(self.table_id, schema=_schema())
        table.time_partitioning = bigquery.TimePartitioning(field="started")
        try:
            self._bq().create_table(table, exists_ok=True, timeout=TIMEOUT)
        except HistoryError:
            raise
        except Exception as exc:
            raise HistoryError(
                f"{self.location}: cannot create the history table (does dataset "
                f"{self.project}.{self.dataset} exist?): {_short(exc)}"
            ) from None
        self._ready = True

    def record(self, run: RunEntry) -> None:
        from google.cloud import bigquery

        self._ensure_table()
        row = {
            "run_id": run.run_id,
            "project": run.project,
            "phase": run.phase,
            "scope_key": run.scope_key,
            "markexpr": run.markexpr,
            "keyword": run.keyword,
            "manifest": run.manifest,
            "started": _ts(run.started),
            "finished": _ts(run.finished),
            "verdict": run.verdict,
            "risk": run.risk,
            "cases_run": run.cases_run,
            "cases_total": run.cases_total,
            "cases": [
                {
                    **{name: getattr(c, name) for name in _CASE_FIELDS},
                    "first_seen": _ts(c.first_seen),
                    "consecutive_failures": c.consecutive_failures,
                    "previous_outcome": c.previous_outcome,
                }
                for c in run.cases
            ],
        }
        config = bigquery.LoadJobConfig(
            schema=_schema(),
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        )
        try:
            job = self._bq().load_table_from_json([row], self.table_id, job_config=config, timeout=TIMEOUT)
            job.result(timeout=TIMEOUT)
        except Exception as exc:
            raise HistoryError(f"{self.location}: cannot write the run to history: {_short(exc)}") from None

    def _query(self, sql: str, params: list[tuple[str, str, Any]]) -> list[Any]:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter(n, t, v) for n, t, v in params]
        )
        try:
            job = self._bq().query(sql, job_config=config, timeout=TIMEOUT)
            return list(job.result(timeout=TIMEOUT))
        except Exception as exc:
            raise HistoryError(f"{self.location}: cannot read history: {_short(exc)}") from None

    def _filters(
        self,
        project: str,
        phase: str,
        scope: str | None,
        before: dt.datetime | None,
        since: dt.datetime | None,
    ) -> tuple[str, list[tuple[str, str, Any]]]:
        where = ["project = @project", "phase = @phase"]
        params: list[tuple[str, str, Any]] = [("project", "STRING", project), ("phase", "STRING", phase)]
        if scope is not None:
            where.append("scope_key = @scope")
            params.append(("scope", "STRING", scope))
        if before is not None:
            where.append("started < @before")
            params.append(("before", "TIMESTAMP", _ts(before)))
        if since is not None:
            where.append("started >= @since")
            params.append(("since", "TIMESTAMP", _ts(since)))
        return " AND ".join(where), params

    def runs(
        self,
        project: str,
        phase: str,
        *,
        scope: str | None = None,
        before: dt.datetime | None = None,
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[RunEntry]:
        self._ensure_table()
        where, params = self._filters(project, phase, scope, before, since)
        sql = f"SELECT * FROM `{self.table_id}` WHERE {where} ORDER BY started DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT @limit"
            params.append(("limit", "INT64", limit))
        return [_run(row) for row in self._query(sql, params)]

    def latest_cases(
        self, project: str, phase: str, before: dt.datetime | None = None
    ) -> dict[str, CaseEntry]:
        self._ensure_table()
        where, params = self._filters(project, phase, None, before, None)
        sql = (
            f"SELECT c.* FROM `{self.table_id}` AS r, UNNEST(r.cases) AS c WHERE {where} "
            "QUALIFY ROW_NUMBER() OVER (PARTITION BY c.key ORDER BY r.started DESC, r.run_id DESC) = 1"
        )
        entries = [_case(dict(row.items())) for row in self._query(sql, params)]
        return {e.key: e for e in entries}


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _case(data: dict[str, Any]) -> CaseEntry:
    first = data.get("first_seen")
    return CaseEntry(
        **{name: str(data.get(name) or "") for name in _CASE_FIELDS},
        first_seen=_as_utc(first) if first else None,
        consecutive_failures=int(data.get("consecutive_failures") or 0),
        previous_outcome=str(data.get("previous_outcome") or ""),
    )


def _run(row: Any) -> RunEntry:
    data = dict(row.items())
    return RunEntry(
        run_id=str(data["run_id"]),
        project=str(data["project"]),
        phase=str(data["phase"]),
        scope_key=str(data["scope_key"]),
        markexpr=str(data.get("markexpr") or ""),
        keyword=str(data.get("keyword") or ""),
        manifest=str(data.get("manifest") or ""),
        started=_as_utc(data["started"]),
        finished=_as_utc(data.get("finished") or data["started"]),
        verdict=str(data.get("verdict") or ""),
        risk=str(data.get("risk") or ""),
        cases_run=int(data.get("cases_run") or 0),
        cases_total=int(data.get("cases_total") or 0),
        cases=tuple(sorted((_case(dict(c)) for c in data.get("cases") or []), key=lambda e: e.key)),
    )
