"""One metadata pass per BigQuery dataset, shared by every case of that dataset in this process;
likewise one dry run per query.

Thousands of tables must never mean thousands of API calls (issue 3): a dataset is read with
one get_dataset and two INFORMATION_SCHEMA queries (the tables joined with `__TABLES__` storage
stats, their expiration option and view definition; the columns aggregated per table), however
many tables it holds. Failures are remembered too, so a dataset that times out costs one
deadline per run, not one per case.

The cache lives in `config.stash`, not in a module-level functools cache: the sandbox runs the
suite in-process, and a module cache would hand one run's snapshot (or error) to the next.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import pytest
from google.api_core import exceptions as api_exceptions

from checks.findings import unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.answers import Read
from checks.gcp.errors import ApiCallError, api_call, denied_permission, describe, recall, remember
from checks.gcp.handover_file import wait_for
from checks.gcp.scratch import proven_scratch
from readiness.manifest import LoadedManifest

__all__ = [
    "BigQueryMetadata",
    "DatasetInfo",
    "DatasetRef",
    "DatasetSnapshot",
    "DatasetState",
    "DryRun",
    "TableInfo",
    "bigquery_metadata",
    "bytes_accuracy",
    "dry_run_read",
    "handed_over",
]

API: Final = "BigQuery"
#: workerinput key: the file holding the controller's metadata (see checks/gcp/handover.py).
HANDOVER_INPUT: Final = "readiness_bigquery_metadata"
#: workerinput key: how long a worker waits for that file (the controller is still reading).
HANDOVER_WAIT_INPUT: Final = "readiness_bigquery_metadata_wait"


_METADATA_KEY: Final = pytest.StashKey["BigQueryMetadata"]()
_HANDED_KEY: Final = pytest.StashKey["dict[str, Any] | str | None"]()

_TABLES_SQL: Final = """
SELECT t.table_name, t.table_type, t.creation_time,
       s.row_count, s.size_bytes, s.last_modified_time,
       o.option_value AS expiration, l.option_value AS labels, v.view_definition
FROM {ds}.INFORMATION_SCHEMA.TABLES AS t
LEFT JOIN {ds}.__TABLES__ AS s ON s.table_id = t.table_name
LEFT JOIN {ds}.INFORMATION_SCHEMA.TABLE_OPTIONS AS o
  ON o.table_name = t.table_name AND o.option_name = 'expiration_timestamp'
LEFT JOIN {ds}.INFORMATION_SCHEMA.TABLE_OPTIONS AS l
  ON l.table_name = t.table_name AND l.option_name = 'labels'
LEFT JOIN {ds}.INFORMATION_SCHEMA.VIEWS AS v ON v.table_name = t.table_name
"""

# One row per table, not per column: 5,800 tables of ~50 columns would otherwise page through
# hundreds of thousands of rows.
_COLUMNS_SQL: Final = """
SELECT table_name, ARRAY_AGG(column_name ORDER BY ordinal_position) AS columns
FROM {ds}.INFORMATION_SCHEMA.COLUMNS
GROUP BY table_name
"""

# When data was last written, per table: INFORMATION_SCHEMA.PARTITIONS.LAST_MODIFIED_TIME is
# "the time when the data was last written to the partition" (BigQuery's PARTITIONS view docs);
# a non-partitioned table has one row. `__TABLES__.last_modified_time` and tables.get's
# lastModifiedTime also move on metadata-only changes (a description edit), so neither can say
# a source is fresh.
_DATA_WRITTEN_SQL: Final = """
SELECT table_name, UNIX_MILLIS(MAX(last_modified_time)) AS data_modified_ms
FROM {ds}.INFORMATION_SCHEMA.PARTITIONS
GROUP BY table_name
"""

# TABLE_OPTIONS renders timestamps as a literal: TIMESTAMP "2026-12-01T00:00:00.000Z".
_QUOTED: Final = re.compile(r'"([^"]+)"')
# ...and labels as [STRUCT("key", "value"), ...].
_LABEL: Final = re.compile(r'STRUCT\(\s*"([^"]*)"\s*,\s*"([^"]*)"\s*\)')


@dataclass(frozen=True, slots=True, order=True)
class DatasetRef:
    project: str
    dataset: str

    @classmethod
    def parse(cls, name: str, default_project: str) -> DatasetRef:
        """`dataset` or `project.dataset`, as datasets and legacy views name them."""
        project, _, dataset = name.rpartition(".")
        return cls(project or default_project, dataset)

    @property
    def sql(self) -> str:
        return f"`{self.project}.{self.dataset}`"

    def __str__(self) -> str:
        return f"{self.project}.{self.dataset}"


class DatasetState(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not found"
    DENIED = "access denied"


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    ref: DatasetRef
    state: DatasetState
    location: str = ""
    #: For DENIED: the permission IAM named as missing ("" when the 403 named none).
    lacks: str = ""


@dataclass(frozen=True, slots=True)
class TableInfo:
    name: str
    #: INFORMATION_SCHEMA table_type: "BASE TABLE", "VIEW", "MATERIALIZED VIEW", ...
    type: str
    created: dt.datetime | None
    modified: dt.datetime | None
    rows: int
    size_bytes: int
    expires: dt.datetime | None
    view_definition: str
    columns: tuple[str, ...]

    @property
    def is_view(self) -> bool:
        return self.type == "VIEW"


@dataclass(frozen=True, slots=True)
class DatasetSnapshot:
    info: DatasetInfo
    #: The dataset's tables and views by name; the suite's own scratch tables are left out.
    tables: Mapping[str, TableInfo]
    #: Scratch tables found (a crashed or concurrent probe's), reported, never judged.
    scratch: tuple[str, ...] = ()

    @property
    def ref(self) -> DatasetRef:
        return self.info.ref

    def base_tables(self) -> list[TableInfo]:
        """Everything but logical views: the legacy-name views keep old names by design."""
        return [t for t in self.tables.values() if not t.is_view]

    def views(self) -> list[TableInfo]:
        return [t for t in self.tables.values() if t.is_view]


#: totalBytesProcessedAccuracy values that make the bytes no more than a floor (external
#: tables, federated sources): a budget check cannot pass on them.
NOT_PRECISE: Final = ("LOWER_BOUND", "UNKNOWN")


@dataclass(frozen=True, slots=True)
class DryRun:
    #: Bytes the query would process; None when BigQuery refused the query.
    bytes: int | None
    #: Why it was refused (syntax, missing table, no permission to run jobs).
    rejected: str = ""
    #: BigQuery's totalBytesProcessedAccuracy: PRECISE, LOWER_BOUND, UPPER_BOUND or UNKNOWN.
    accuracy: str = "PRECISE"

    @property
    def lower_bound(self) -> bool:
        return self.accuracy in NOT_PRECISE


class BigQueryMetadata:
    """Dataset metadata for this process, each dataset read at most once."""

    def __init__(self, google: GoogleAccess) -> None:
        self._google = google
        # A cached failure is kept as its message and raised afresh for each case.
        self._datasets: dict[DatasetRef, DatasetInfo | str] = {}
        self._snapshots: dict[DatasetRef, DatasetSnapshot | str] = {}
        self._data_written: dict[DatasetRef, dict[str, dt.datetime | None] | str] = {}
        #: Set when an xdist worker was not handed the controller's read: why.
        self._failure = ""
        #: Reads made ahead by checks/gcp/prefetch.py, each the export of one dataset's read.
        self._pending: dict[DatasetRef, Future[dict[str, Any]]] = {}

    def adopt(self, pending: Mapping[DatasetRef, Future[dict[str, Any]]]) -> None:
        self._pending.update(pending)

    def _landed(self, ref: DatasetRef) -> None:
        """A read of `ref` made ahead: wait for it (for it alone) and keep what it found."""
        future = self._pending.pop(ref, None)
        if future is not None:
            exported = future.result()
            self._merge(exported)

    def dataset(self, ref: DatasetRef) -> DatasetInfo:
        """get_dataset once; NotFound and Forbidden are answers, anything else raises ApiCallError."""
        if self._failure:
            raise ApiCallError(self._failure)
        self._landed(ref)
        if ref not in self._datasets:
            self._datasets[ref] = remember(lambda: self._get_dataset(ref))
        return recall(self._datasets[ref])

    def snapshot(self, ref: DatasetRef) -> DatasetSnapshot:
        if self._failure:
            raise ApiCallError(self._failure)
        self._landed(ref)
        if ref not in self._snapshots:
            self._snapshots[ref] = remember(lambda: self._take(ref))
        return recall(self._snapshots[ref])

    def found(self, ref: DatasetRef) -> DatasetSnapshot:
        """The snapshot of a dataset that exists and is readable; otherwise the case is unverified
        (dataset_reachable reports the missing or denied dataset once, as its finding)."""
        __tracebackhide__ = True
        snapshot = self.snapshot(ref)
        if snapshot.info.state is not DatasetState.FOUND:
            unverified(f"{ref}: dataset {snapshot.info.state.value} (see dataset_reachable)")
        return snapshot

    def data_written(self, ref: DatasetRef) -> dict[str, dt.datetime | None]:
        """When data was last written to each table of a found dataset (PARTITIONS), once."""
        self._landed(ref)
        if ref not in self._data_written:
            where = self.dataset(ref).location or None
            self._data_written[ref] = remember(
                lambda: {
                    str(r["table_name"]): _from_millis(r["data_modified_ms"])
                    for r in self._query(_DATA_WRITTEN_SQL.format(ds=ref.sql), where)
                }
            )
        return recall(self._data_written[ref])

    def dry_run(self, sql: str) -> DryRun:
        """Bytes a query would scan; a query BigQuery refuses is an answer (`rejected`)."""
        answer: DryRun = self._google.answer(dry_run_read(sql))
        return answer

    def _get_dataset(self, ref: DatasetRef) -> DatasetInfo:
        google = self._google
        with api_call(API):
            try:
                found = google.bigquery.get_dataset(
                    str(ref), retry=google.read_retry(API), timeout=google.timeout
                )
            except api_exceptions.NotFound:
                return DatasetInfo(ref, DatasetState.NOT_FOUND)
            except api_exceptions.Forbidden as exc:
                return DatasetInfo(ref, DatasetState.DENIED, lacks=denied_permission(exc) or "")
        return DatasetInfo(ref, DatasetState.FOUND, str(found.location or ""))

    def _take(self, ref: DatasetRef) -> DatasetSnapshot:
        info = self.dataset(ref)
        if info.state is not DatasetState.FOUND:
            # The local emulator answers INFORMATION_SCHEMA of a missing dataset with no rows
            # (BigQuery says 404): existence comes from get_dataset, never from an empty result.
            return DatasetSnapshot(info, {})
        # Jobs run where the dataset is: its get says where (a dataset outside gcp.location is
        # read there, and dataset_reachable reports the mismatch once).
        where = info.location or None
        rows = self._query(_TABLES_SQL.format(ds=ref.sql), where)
        columns = {
            str(r["table_name"]): tuple(r["columns"] or ())
            for r in self._query(_COLUMNS_SQL.format(ds=ref.sql), where)
        }
        tables: dict[str, TableInfo] = {}
        scratch: list[str] = []
        for row in rows:
            name = str(row["table_name"])
            # Only a table carrying all three scratch marks is the suite's: a user's look-alike
            # (a manual backup named with the prefix) stays in the inventory and is judged.
            if proven_scratch(name, _labels(row.get("labels")), row.get("expiration")).run:
                scratch.append(name)
                continue
            tables[name] = _table(row, columns.get(name, ()))
        return DatasetSnapshot(info, dict(sorted(tables.items())), tuple(sorted(scratch)))

    def _query(self, sql: str, location: str | None = None) -> list[Mapping[str, Any]]:
        google = self._google
        with api_call(API, google.identity.principal):
            # query_and_wait is one jobs.query request for a small result; job_retry=None keeps
            # the whole read inside the manifest's deadline (a re-run would start a new one).
            result = google.bigquery.query_and_wait(
                sql,
                location=location,
                api_timeout=google.timeout,
                wait_timeout=google.timeout,
                retry=google.read_retry(API),
                job_retry=None,
            )
            # dict(zip(...)) rather than row.items(): the latter copies every value, which a
            # large COLUMNS result pays once per table.
            keys = [field.name for field in result.schema]
            return [dict(zip(keys, row, strict=True)) for row in result]

    # -- the xdist handover (checks/gcp/handover.py) ---------------------------------------------

    def export(self) -> dict[str, Any]:
        """What was read, failures included, for workers to start from instead of the API."""
        for ref in list(self._pending):
            self._landed(ref)
        return {
            "datasets": dict(self._datasets),
            "snapshots": dict(self._snapshots),
            "data_written": dict(self._data_written),
        }

    def _merge(self, exported: Mapping[str, Any]) -> None:
        kept_by_key: dict[str, dict[DatasetRef, Any]] = {
            "datasets": self._datasets,
            "snapshots": self._snapshots,
            "data_written": self._data_written,
        }
        for key, kept in kept_by_key.items():
            for ref, value in exported.get(key, {}).items():
                kept.setdefault(ref, value)

    def fail_all(self, message: str) -> None:
        self._failure = message

    def preload(self, exported: Mapping[str, Any]) -> None:
        self._merge(exported)


def dataset_refs(loaded: LoadedManifest, project: str) -> list[DatasetRef]:
    """Every dataset whose metadata some case of the manifest reads (datasets, mandate families,
    legacy views, source tables), each once."""
    m = loaded.manifest
    names = [d.subject for d in m.datasets] + [v.dataset for v in m.legacy_views]
    names += [s.table.rpartition(".")[0] for s in m.source_tables]
    return sorted({DatasetRef.parse(name, project) for name in names})


def dry_run_read(sql: str) -> Read:
    """One dry run per query text and run (query_cost and quota_headroom ask the same ones)."""

    def fetch(google: GoogleAccess) -> DryRun:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        with api_call(API):
            try:
                job = google.bigquery.query(
                    sql,
                    job_config=config,
                    retry=google.read_retry(API),
                    timeout=google.timeout,
                    job_retry=None,
                )
            except (api_exceptions.BadRequest, api_exceptions.NotFound, api_exceptions.Forbidden) as exc:
                return DryRun(None, describe(API, exc, who=google.identity.principal))
        return DryRun(int(job.total_bytes_processed or 0), accuracy=bytes_accuracy(job))

    return Read(f"bigquery.jobs.query dryRun {sql}", fetch)


def handed_over(config: pytest.Config) -> dict[str, Any] | str | None:
    """On an xdist worker: the controller's reads (waited for once), or why they did not
    come; None in a single process (nothing is handed over)."""
    if _HANDED_KEY not in config.stash:
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        handed = workerinput.get(HANDOVER_INPUT) if workerinput else None
        result: dict[str, Any] | str | None = None
        if handed:
            assert workerinput is not None
            try:
                result = wait_for(Path(handed), float(workerinput[HANDOVER_WAIT_INPUT]))
            except ApiCallError as exc:
                result = str(exc)
        config.stash[_HANDED_KEY] = result
    return config.stash[_HANDED_KEY]


def bigquery_metadata(
    config: pytest.Config,
    google: GoogleAccess,
    pending: Mapping[DatasetRef, Future[dict[str, Any]]] | None = None,
) -> BigQueryMetadata:
    """The process's metadata cache (one per pytest run); an xdist worker starts from the
    controller's handover, so the workers never each read the same dataset; `pending`: the
    reads checks/gcp/prefetch.py started for this run."""
    metadata = config.stash.get(_METADATA_KEY, None)
    if metadata is None:
        metadata = config.stash[_METADATA_KEY] = BigQueryMetadata(google)
        handed = handed_over(config)
        if isinstance(handed, dict):
            metadata.preload(handed)
        elif isinstance(handed, str):
            # Not handed over: every metadata read of this worker is unverified with the
            # reason, at once (waiting again per check would multiply the wait).
            metadata.fail_all(handed)
    if pending:
        metadata.adopt(pending)
    return metadata


def bytes_accuracy(job: Any) -> str:
    """A dry run's totalBytesProcessedAccuracy (the client has no property for it)."""
    statistics = job._properties.get("statistics", {}).get("query", {})
    return str(statistics.get("totalBytesProcessedAccuracy") or "PRECISE")


def _table(row: Mapping[str, Any], columns: tuple[str, ...]) -> TableInfo:
    return TableInfo(
        name=str(row["table_name"]),
        type=str(row["table_type"] or ""),
        created=_aware(row["creation_time"]),
        modified=_from_millis(row["last_modified_time"]),
        rows=int(row["row_count"] or 0),
        size_bytes=int(row["size_bytes"] or 0),
        expires=_option_timestamp(row["expiration"]),
        view_definition=str(row["view_definition"] or ""),
        columns=columns,
    )


def _aware(value: object) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _from_millis(value: object) -> dt.datetime | None:
    # __TABLES__ gives epoch milliseconds (an INT64, so a str in some client versions).
    if value is None or value == "":
        return None
    return dt.datetime.fromtimestamp(int(str(value)) / 1000, dt.UTC)


def _labels(value: object) -> dict[str, str]:
    return dict(_LABEL.findall(str(value or "")))


def _option_timestamp(value: object) -> dt.datetime | None:
    if not value:
        return None
    text = str(value)
    match = _QUOTED.search(text)
    inner = (match.group(1) if match else text).replace(" UTC", "+00:00")
    try:
        return _aware(dt.datetime.fromisoformat(inner))
    except ValueError:
        return None
