"""A BigQuery REST stand-in for the benchmarks: the generated metadata, served to the official client.

The local emulators cannot hold 6,000 tables at useful speed (issue 5), so the benchmarks
measure what the suite controls, the way real BigQuery would see it: how many requests it
makes and how long they take at a fixed per-request latency (default 100 ms). This server is
for the bench alone; the tests of the checks run on the real emulator.

What it answers (paths of BigQuery API v2, JSON as the real API: int64 and timestamps as
strings, rows as {"f": [{"v": ...}]}):

- datasets.get, datasets.list, tables.get, tables.list (paged by maxResults/pageToken; 50 a page
  by default), tabledata.list (no rows: metadata only);
- jobs.insert, jobs.get, jobs.query, jobs.getQueryResults for SELECTs over the metadata views
  `INFORMATION_SCHEMA.{TABLES, COLUMNS, COLUMN_FIELD_PATHS, TABLE_OPTIONS, VIEWS, TABLE_STORAGE,
  SCHEMATA}` (dataset- or region-qualified) and the legacy `__TABLES__` / `__TABLES_SUMMARY__`.
  The SQL runs on SQLite over those views after the view references are resolved, so any
  ordinary SELECT (filters, joins, GROUP BY, ORDER BY, LIMIT, named parameters, `IN
  UNNEST(@list)`) works; BigQuery-only constructs it cannot run are refused with a 400 that names
  the construct, never answered wrongly;
- dry runs (jobs.insert / jobs.query with dryRun): bytes of the referenced tables.

Result pages hold `maxResults` rows when the client asks, else as many as fit in 10 MiB of
JSON, like the real API; every query bills at least 10 MiB (on-demand minimum), which is what
`bytes_billed` adds up.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sandbox.fakes.http import ApiError, FakeServer, JsonDict, Request, Response

__all__ = ["MIN_BILLED_BYTES", "PAGE_BYTES", "BigQueryStandin", "Hit", "QueryShape"]

#: On-demand queries bill at least 10 MB (INFORMATION_SCHEMA pricing note).
MIN_BILLED_BYTES: Final = 10 * 1024 * 1024
#: A result page without maxResults stops at about this much JSON.
PAGE_BYTES: Final = 10 * 1024 * 1024
LIST_PAGE: Final = 50
ANON_DATASET: Final = "_bench_anonymous"

# View name -> ordered (column, BigQuery type). TIMESTAMP values are stored as int microseconds.
_VIEWS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "TABLES": (
        ("table_catalog", "STRING"),
        ("table_schema", "STRING"),
        ("table_name", "STRING"),
        ("table_type", "STRING"),
        ("is_insertable_into", "STRING"),
        ("is_typed", "STRING"),
        ("is_change_history_enabled", "STRING"),
        ("creation_time", "TIMESTAMP"),
        ("base_table_catalog", "STRING"),
        ("base_table_schema", "STRING"),
        ("base_table_name", "STRING"),
        ("snapshot_time_ms", "TIMESTAMP"),
        ("ddl", "STRING"),
        ("default_collation_name", "STRING"),
        ("upsert_stream_apply_watermark", "TIMESTAMP"),
    ),
    "COLUMNS": (
        ("table_catalog", "STRING"),
        ("table_schema", "STRING"),
        ("table_name", "STRING"),
        ("column_name", "STRING"),
        ("ordinal_position", "INTEGER"),
        ("is_nullable", "STRING"),
        ("data_type", "STRING"),
        ("is_generated", "STRING"),
        ("generation_expression", "STRING"),
        ("is_stored", "STRING"),
        ("is_hidden", "STRING"),
        ("is_updatable", "STRING"),
        ("is_system_defined", "STRING"),
        ("is_partitioning_column", "STRING"),
        ("clustering_ordinal_position", "INTEGER"),
        ("collation_name", "STRING"),
        ("column_default", "STRING"),
        ("rounding_mode", "STRING"),
    ),
    "COLUMN_FIELD_PATHS": (
        ("table_catalog", "STRING"),
        ("table_schema", "STRING"),
        ("table_name", "STRING"),
        ("column_name", "STRING"),
        ("field_path", "STRING"),
        ("data_type", "STRING"),
        ("description", "STRING"),
        ("collation_name", "STRING"),
        ("rounding_mode", "STRING"),
    ),
    "TABLE_OPTIONS": (
        ("table_catalog", "STRING"),
        ("table_schema", "STRING"),
        ("table_name", "STRING"),
        ("option_name", "STRING"),
        ("option_type", "STRING"),
        ("option_value", "STRING"),
    ),
    "VIEWS": (
        ("table_catalog", "STRING"),
        ("table_schema", "STRING"),
        ("table_name", "STRING"),
        ("view_definition", "STRING"),
        ("check_option", "STRING"),
        ("use_standard_sql", "STRING"),
    ),
    "TABLE_STORAGE": (
        ("project_id", "STRING"),
        ("project_number", "INTEGER"),
        ("table_catalog", "STRING"),
        ("table_schema", "STRING"),
        ("table_name", "STRING"),
        ("creation_time", "TIMESTAMP"),
        ("total_rows", "INTEGER"),
        ("total_partitions", "INTEGER"),
        ("total_logical_bytes", "INTEGER"),
        ("active_logical_bytes", "INTEGER"),
        ("long_term_logical_bytes", "INTEGER"),
        ("total_physical_bytes", "INTEGER"),
        ("storage_last_modified_time", "TIMESTAMP"),
        ("deleted", "BOOLEAN"),
        ("table_type", "STRING"),
    ),
    "SCHEMATA": (
        ("catalog_name", "STRING"),
        ("schema_name", "STRING"),
        ("schema_owner", "STRING"),
        ("creation_time", "TIMESTAMP"),
        ("last_modified_time", "TIMESTAMP"),
        ("location", "STRING"),
        ("ddl", "STRING"),
        ("default_collation_name", "STRING"),
    ),
    "__TABLES__": (
        ("project_id", "STRING"),
        ("dataset_id", "STRING"),
        ("table_id", "STRING"),
        ("creation_time", "INTEGER"),  # milliseconds, as the legacy meta-table has them
        ("last_modified_time", "INTEGER"),
        ("row_count", "INTEGER"),
        ("size_bytes", "INTEGER"),
        ("type", "INTEGER"),
    ),
    "__TABLES_SUMMARY__": (
        ("project_id", "STRING"),
        ("dataset_id", "STRING"),
        ("table_id", "STRING"),
        ("creation_time", "INTEGER"),
        ("type", "INTEGER"),
    ),
}
# Views only a region qualifier reaches (the rest also take a dataset qualifier).
_REGION_ONLY: Final = frozenset({"TABLE_STORAGE", "SCHEMATA"})
_LEGACY: Final = frozenset({"__TABLES__", "__TABLES_SUMMARY__"})
_BQ_TYPE: Final = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN"}

_SEGMENT = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"
_PATH = re.compile(rf"{_SEGMENT}(?:\s*\.\s*{_SEGMENT})*")
_UNSUPPORTED = re.compile(
    r"\b(STRUCT|QUALIFY|WINDOW|PIVOT|UNPIVOT|TABLESAMPLE|FOR\s+SYSTEM_TIME|ANY_VALUE|"
    r"APPROX_\w+|ML\.\w+|SAFE\.\w+|EXCEPT\s*\(|REPLACE\s*\()",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class QueryShape:
    """What a query read: the metadata views it referenced, per dataset (or region)."""

    views: tuple[tuple[str, str], ...]  # (view, "project.dataset" or "region-xx")
    sql: str


@dataclass(frozen=True)
class Hit:
    """One request the stand-in received."""

    time: float
    route: str
    target: str
    #: Datasets the request was about (its path's, or the datasets its query read).
    datasets: frozenset[str]


@dataclass
class _Job:
    job_id: str
    project: str
    location: str
    query: str
    schema: list[JsonDict]
    rows: list[str]  # each row already serialized as the API's {"f": [...]} JSON
    processed: int
    billed: int
    shape: QueryShape
    created_ms: int
    resource: JsonDict = field(default_factory=dict)

    @property
    def datasets(self) -> frozenset[str]:
        return frozenset(scope.split(".", 1)[-1] for _, scope in self.shape.views)


def _ts_micros(ms: int | None) -> int | None:
    return None if ms is None else int(ms) * 1000


class BigQueryStandin(FakeServer):
    """Serves `metadata.json` (bench/generate.py) at a fixed latency; counts every request.

    `timeline` keeps (unix time, route, target) per request, so a benchmark can tell which phase
    of a run (collection, checks) made which calls; `queries` keeps the shape of each query.
    """

    legacy_error_reasons = True

    def __init__(self, metadata: dict[str, Any] | Path, latency: float = 0.1) -> None:
        super().__init__()
        if isinstance(metadata, Path):
            metadata = json.loads(metadata.read_text())
        assert isinstance(metadata, dict)
        self.latency = latency
        self.project: str = metadata["project"]
        self.location: str = metadata.get("location", "US")
        self.datasets: dict[str, dict[str, JsonDict]] = {
            ds["id"]: {t["name"]: t for t in ds["tables"]} for ds in metadata["datasets"]
        }
        self._created_ms = 1_600_000_000_000
        self.timeline: list[Hit] = []
        self._local = threading.local()
        self.queries: list[QueryShape] = []
        self.bytes_billed = 0
        self.bytes_processed = 0
        self._jobs: dict[str, _Job] = {}
        self._results: dict[str, tuple[list[JsonDict], list[str], QueryShape]] = {}
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db_lock = threading.Lock()
        self._view_names: set[str] = set()
        self._load()
        self._add_routes()

    # -- bookkeeping ------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Any:
        stamp = time.time()
        route, _ = self._match(request.method, request.path)
        self._local.datasets = set()
        if self.latency:
            time.sleep(self.latency)
        outcome = super().dispatch(request)
        datasets: set[str] = set(self._local.datasets)
        path_dataset = re.search(r"/datasets/([^/?]+)", request.path)
        if path_dataset:
            datasets.add(path_dataset.group(1))
        follow_up = re.search(r"/(?:jobs|queries)/([^/?]+)", request.path)
        if follow_up and follow_up.group(1) in self._jobs:
            datasets |= self._jobs[follow_up.group(1)].datasets
        with self._lock:
            self.timeline.append(
                Hit(stamp, route.name if route else "<unmatched>", request.target, frozenset(datasets))
            )
        return outcome

    def reset_counts(self) -> None:
        super().reset_counts()
        with self._lock:
            self.timeline.clear()
            self.queries.clear()
            self.bytes_billed = self.bytes_processed = 0

    def hits(self, start: float = 0.0, end: float = float("inf")) -> list[Hit]:
        """Requests that arrived in [start, end) (unix time)."""
        with self._lock:
            return [h for h in self.timeline if start <= h.time < end]

    @staticmethod
    def per_dataset(hits: Iterable[Hit]) -> dict[str, int]:
        """Requests per dataset: a REST path names it; a query counts for each dataset it read;
        requests about no dataset (tokens aside, which go to the IAM fake) are "<none>"."""
        per: dict[str, int] = {}
        for hit in hits:
            for name in hit.datasets or {"<none>"}:
                per[name] = per.get(name, 0) + 1
        return dict(sorted(per.items()))

    # -- the metadata views, in SQLite ---------------------------------------------------------------

    def _load(self) -> None:
        """Declare the views and the SQL functions; rows are loaded when a query first reads a view
        (COLUMNS alone is ~150,000 rows at 6,000 tables: no need to pay for views nobody reads)."""
        db = self._db
        self._loaded: set[str] = set()
        for view, columns in _VIEWS.items():
            cols = ", ".join(f'"{name}"' for name, _ in columns)
            db.execute(f'CREATE TABLE "all_{view.lower()}" (_ds TEXT, {cols})')
        db.create_function("STARTS_WITH", 2, lambda s, p: None if s is None else int(s.startswith(p)))
        db.create_function("ENDS_WITH", 2, lambda s, p: None if s is None else int(s.endswith(p)))
        db.create_function(
            "REGEXP_CONTAINS", 2, lambda s, p: None if s is None else int(re.search(p, s) is not None)
        )
        db.create_function(
            "CONTAINS_SUBSTR", 2, lambda s, p: None if s is None else int(p.lower() in str(s).lower())
        )
        db.create_function("TIMESTAMP_MILLIS", 1, lambda v: None if v is None else int(v) * 1000)
        db.create_function("TIMESTAMP_MICROS", 1, lambda v: v)
        db.create_function("TIMESTAMP_SECONDS", 1, lambda v: None if v is None else int(v) * 1_000_000)
        db.create_function("UNIX_MILLIS", 1, lambda v: None if v is None else int(v) // 1000)
        db.create_function("UNIX_MICROS", 1, lambda v: v)
        db.create_function("UNIX_SECONDS", 1, lambda v: None if v is None else int(v) // 1_000_000)
        db.create_function("REGEXP_EXTRACT", 2, _regexp_extract)
        db.create_aggregate("_bench_array_agg", 2, _ArrayAgg)
        db.create_function("SPLIT_PART", 3, lambda s, sep, i: (s.split(sep) + [""] * i)[i - 1] if s else None)
        db.commit()

    def _populate(self, view: str) -> None:
        if view in self._loaded:
            return
        self._loaded.add(view)
        marks = ", ".join("?" * (len(_VIEWS[view]) + 1))
        self._db.executemany(f'INSERT INTO "all_{view.lower()}" VALUES ({marks})', self._rows(view))
        names = [c for c, _ in _VIEWS[view]]
        key = next((c for c in ("table_name", "table_id") if c in names), None)
        # Joins between the views (TABLES with __TABLES__, TABLE_OPTIONS, VIEWS) go by name.
        indexed = f"_ds, {key}" if key else "_ds"
        self._db.execute(f'CREATE INDEX "idx_{view.lower()}" ON "all_{view.lower()}" ({indexed})')

    def _rows(self, view: str) -> Iterator[tuple[Any, ...]]:
        project = self.project
        for dataset, tables in self.datasets.items():
            ds = f"{project}.{dataset}"
            if view == "SCHEMATA":
                created = _ts_micros(self._created_ms)
                yield (
                    ds,
                    project,
                    dataset,
                    None,
                    created,
                    created,
                    self.location,
                    f"CREATE SCHEMA `{ds}`",
                    None,
                )
                continue
            for name, t in tables.items():
                kind = t.get("type", "TABLE")
                table_type = "BASE TABLE" if kind == "TABLE" else kind
                created, modified = t["created"], t["modified"]
                type_code = {"TABLE": 1, "VIEW": 2}.get(kind, 3)
                if view == "TABLES":
                    ddl = (
                        f"CREATE VIEW `{ds}.{name}` AS {t['view_query']}"
                        if kind == "VIEW"
                        else f"CREATE TABLE `{ds}.{name}` ({', '.join(f'{c} {ty}' for c, ty in t['columns'])});"
                    )
                    yield (ds, project, dataset, name, table_type, "YES" if kind == "TABLE" else "NO", "NO", "NO",
                           _ts_micros(created), None, None, None, None, ddl, "NULL", None)  # fmt: skip
                elif view == "COLUMNS":
                    for pos, (column, data_type) in enumerate(t["columns"], 1):
                        yield (ds, project, dataset, name, column, pos, "YES", data_type, "NEVER", None, None,
                               "NO", "YES", "NO", "NO", None, None, "NULL", None)  # fmt: skip
                elif view == "COLUMN_FIELD_PATHS":
                    for column, data_type in t["columns"]:
                        yield (ds, project, dataset, name, column, column, data_type, None, None, None)
                elif view == "TABLE_OPTIONS" and "expires" in t:
                    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t["expires"] / 1000))
                    yield (
                        ds,
                        project,
                        dataset,
                        name,
                        "expiration_timestamp",
                        "TIMESTAMP",
                        f'TIMESTAMP "{iso}.000Z"',
                    )
                elif view == "VIEWS" and kind == "VIEW":
                    yield (ds, project, dataset, name, t["view_query"], "NONE", "YES")
                elif view == "TABLE_STORAGE":
                    yield (ds, project, 1234567890, project, dataset, name, _ts_micros(created), t["rows"], None,
                           t["bytes"], t["bytes"], 0, t["bytes"] // 3, _ts_micros(modified), 0, table_type)  # fmt: skip
                elif view == "__TABLES__":
                    yield (ds, project, dataset, name, created, modified, t["rows"], t["bytes"], type_code)
                elif view == "__TABLES_SUMMARY__":
                    yield (ds, project, dataset, name, created, type_code)

    def _view_table(self, view: str, scope: str) -> str:
        """A SQLite view of `view` restricted to one dataset ("p.d") or a whole region."""
        self._populate(view)
        name = f"v_{view.lower()}__{re.sub(r'[^A-Za-z0-9]', '_', scope)}"
        if name not in self._view_names:
            cols = ", ".join(f'"{c}"' for c, _ in _VIEWS[view])
            where = "" if scope.startswith("region-") else f" WHERE _ds = '{scope}'"
            self._db.execute(f'CREATE VIEW "{name}" AS SELECT {cols} FROM "all_{view.lower()}"{where}')
            self._view_names.add(name)
        return name

    # -- SQL ---------------------------------------------------------------------------------------

    def _resolve(self, parts: list[str], project: str, default: JsonDict | None) -> tuple[str, str] | None:
        """(view, scope) for a reference to a metadata view, None for anything else."""
        upper = [p.upper() for p in parts]
        if upper[-1] in _LEGACY:
            view, qualifier = upper[-1], parts[:-1]
        elif "INFORMATION_SCHEMA" in upper:
            at = upper.index("INFORMATION_SCHEMA")
            if at + 1 >= len(parts):
                raise ApiError(
                    400, "Syntax error: INFORMATION_SCHEMA needs a view name", reason="invalidQuery"
                )
            view, qualifier = upper[at + 1], parts[:at]
            if view.endswith("_BY_PROJECT"):
                view = view.removesuffix("_BY_PROJECT")
            if view not in _VIEWS or view in _LEGACY:
                raise ApiError(
                    400, f"Table INFORMATION_SCHEMA.{parts[at + 1]} is not supported by the bench stand-in",
                    reason="invalidQuery",
                )  # fmt: skip
        else:
            return None
        if not qualifier and default:
            qualifier = [default.get("projectId", project), default["datasetId"]]
        if not qualifier:
            raise ApiError(
                400, f"Table \"{view}\" must be qualified with a dataset (e.g. dataset.table).",
                reason="invalidQuery",
            )  # fmt: skip
        if len(qualifier) == 1:
            qualifier = [project, qualifier[0]]
        proj, dataset = qualifier[-2], qualifier[-1]
        if dataset.lower().startswith("region-"):
            if view in _LEGACY:
                raise ApiError(400, f"{view} cannot be region-qualified", reason="invalidQuery")
            return view, dataset.lower()
        if view in _REGION_ONLY:
            raise ApiError(400, f"INFORMATION_SCHEMA.{view} must be region-qualified", reason="invalidQuery")
        if proj != self.project or dataset not in self.datasets:
            raise ApiError(
                404, f"Not found: Dataset {proj}:{dataset} was not found in location {self.location}"
            )
        return view, f"{proj}.{dataset}"

    def _translate(self, sql: str, project: str, default: JsonDict | None) -> tuple[str, QueryShape]:
        unsupported = _UNSUPPORTED.search(sql)
        if unsupported:
            raise ApiError(
                400, f"The bench stand-in cannot run {unsupported.group(1)!r}; simplify the query or "
                "extend bench/standin.py", reason="invalidQuery",
            )  # fmt: skip
        views: list[tuple[str, str]] = []

        def replace(match: re.Match[str]) -> str:
            raw = match.group(0)
            parts = [p for seg in re.split(r"\s*\.\s*(?=(?:[^`]*`[^`]*`)*[^`]*$)", raw) for p in _split(seg)]
            resolved = self._resolve(parts, project, default)
            if resolved is None:
                return raw
            views.append(resolved)
            return f'"{self._view_table(*resolved)}"'

        translated = _PATH.sub(replace, _single_quotes(sql))
        if not views:
            raise ApiError(
                400, "The bench stand-in answers queries over INFORMATION_SCHEMA and __TABLES__ only",
                reason="invalidQuery",
            )  # fmt: skip
        translated = _ARRAY_AGG.sub(_array_agg_call, translated)
        translated = re.sub(r"\bAS\s+STRING\b", "AS TEXT", translated, flags=re.IGNORECASE)
        translated = re.sub(r"\bAS\s+INT64\b", "AS INTEGER", translated, flags=re.IGNORECASE)
        translated = re.sub(r"\bAS\s+FLOAT64\b", "AS REAL", translated, flags=re.IGNORECASE)
        translated = re.sub(
            r"\bIN\s+UNNEST\s*\(\s*@(\w+)\s*\)", r"IN (SELECT value FROM json_each(@\1))", translated,
            flags=re.IGNORECASE,
        )  # fmt: skip
        translated = re.sub(r"\bCURRENT_TIMESTAMP\s*\(\s*\)", str(int(time.time() * 1e6)), translated)
        return translated, QueryShape(tuple(views), sql)

    def run_sql(
        self, sql: str, project: str, default: JsonDict | None = None, parameters: Sequence[JsonDict] = ()
    ) -> tuple[list[JsonDict], list[tuple[Any, ...]], QueryShape]:
        """(schema fields, rows, shape) of a metadata query; ApiError 400/404 like BigQuery."""
        params = _parameters(parameters)
        with self._db_lock:
            translated, shape = self._translate(sql, project, default)
            try:
                cursor = self._db.execute(translated, params)
                rows = cursor.fetchall()
            except sqlite3.Error as exc:
                raise ApiError(
                    400, f"Query error (bench stand-in, SQLite): {exc}", reason="invalidQuery"
                ) from exc
            names = [d[0] for d in cursor.description or ()]
        schema = []
        for index, name in enumerate(names):
            kind, repeated = _column_type(name, index, rows, sql, shape)
            schema.append({"name": name, "type": kind, "mode": "REPEATED" if repeated else "NULLABLE"})
        return schema, rows, shape

    # -- routes ------------------------------------------------------------------------------------

    def _add_routes(self) -> None:
        base = r"/bigquery/v2/projects/(?P<project>[^/]+)"
        ds = rf"{base}/datasets/(?P<dataset>[^/]+)"
        self.route("GET", rf"{base}/datasets", self._datasets_list, "bigquery.datasets.list")
        self.route("GET", ds, self._datasets_get, "bigquery.datasets.get")
        self.route("GET", rf"{ds}/tables", self._tables_list, "bigquery.tables.list")
        self.route("GET", rf"{ds}/tables/(?P<table>[^/]+)", self._tables_get, "bigquery.tables.get")
        self.route(
            "GET", rf"{ds}/tables/(?P<table>[^/]+)/data", self._tabledata_list, "bigquery.tabledata.list"
        )
        self.route("POST", rf"{base}/jobs", self._jobs_insert, "bigquery.jobs.insert")
        self.route("GET", rf"{base}/jobs/(?P<job>[^/]+)", self._jobs_get, "bigquery.jobs.get")
        self.route("POST", rf"{base}/queries", self._jobs_query, "bigquery.jobs.query")
        self.route(
            "GET", rf"{base}/queries/(?P<job>[^/]+)", self._get_query_results, "bigquery.jobs.getQueryResults"
        )

    def _authorized(self, request: Request) -> None:
        if not (request.header("Authorization") or "").startswith("Bearer "):
            raise ApiError(401, "Request is missing required authentication credential.")

    def _dataset(self, request: Request) -> dict[str, JsonDict]:
        self._authorized(request)
        project, dataset = request.params["project"], request.params["dataset"]
        tables = self.datasets.get(dataset) if project == self.project else None
        if tables is None:
            raise ApiError(404, f"Not found: Dataset {project}:{dataset}")
        return tables

    def _table(self, request: Request) -> JsonDict:
        tables = self._dataset(request)
        table = tables.get(request.params["table"])
        if table is None:
            p = request.params
            raise ApiError(404, f"Not found: Table {p['project']}:{p['dataset']}.{p['table']}")
        return table

    def _dataset_resource(self, dataset: str) -> JsonDict:
        return {
            "kind": "bigquery#dataset",
            "etag": f'"{dataset}"',
            "id": f"{self.project}:{dataset}",
            "selfLink": f"{self.url}/bigquery/v2/projects/{self.project}/datasets/{dataset}",
            "datasetReference": {"projectId": self.project, "datasetId": dataset},
            "location": self.location,
            "creationTime": str(self._created_ms),
            "lastModifiedTime": str(self._created_ms),
            "type": "DEFAULT",
        }

    def _datasets_list(self, request: Request) -> Response:
        self._authorized(request)
        items = [
            {"kind": "bigquery#dataset", "id": f"{self.project}:{d}", "location": self.location,
             "datasetReference": {"projectId": self.project, "datasetId": d}}
            for d in sorted(self.datasets)
        ]  # fmt: skip
        page, token = _page(items, request)
        body: JsonDict = {"kind": "bigquery#datasetList", "etag": '"list"', "datasets": page}
        if token:
            body["nextPageToken"] = token
        return Response.of_json(body)

    def _datasets_get(self, request: Request) -> Response:
        self._dataset(request)
        return Response.of_json(self._dataset_resource(request.params["dataset"]))

    def _table_ref(self, dataset: str, name: str) -> JsonDict:
        return {"projectId": self.project, "datasetId": dataset, "tableId": name}

    def _tables_list(self, request: Request) -> Response:
        tables = self._dataset(request)
        dataset = request.params["dataset"]
        items = []
        for name in sorted(tables):
            t = tables[name]
            item: JsonDict = {
                "kind": "bigquery#table",
                "id": f"{self.project}:{dataset}.{name}",
                "tableReference": self._table_ref(dataset, name),
                "type": t.get("type", "TABLE"),
                "creationTime": str(t["created"]),
            }
            if "expires" in t:
                item["expirationTime"] = str(t["expires"])
            if t.get("type") == "VIEW":
                item["view"] = {"useLegacySql": False}
            items.append(item)
        page, token = _page(items, request)
        body: JsonDict = {
            "kind": "bigquery#tableList",
            "etag": '"list"',
            "tables": page,
            "totalItems": len(items),
        }
        if token:
            body["nextPageToken"] = token
        return Response.of_json(body)

    def _tables_get(self, request: Request) -> Response:
        t = self._table(request)
        dataset, name = request.params["dataset"], request.params["table"]
        kind = t.get("type", "TABLE")
        body: JsonDict = {
            "kind": "bigquery#table",
            "etag": f'"{name}"',
            "id": f"{self.project}:{dataset}.{name}",
            "selfLink": f"{self.url}/bigquery/v2/projects/{self.project}/datasets/{dataset}/tables/{name}",
            "tableReference": self._table_ref(dataset, name),
            "schema": {
                "fields": [
                    {"name": c, "type": _BQ_TYPE.get(ty, ty), "mode": "NULLABLE"} for c, ty in t["columns"]
                ]
            },
            "numBytes": str(t["bytes"]),
            "numLongTermBytes": "0",
            "numRows": str(t["rows"]),
            "creationTime": str(t["created"]),
            "lastModifiedTime": str(t["modified"]),
            "type": kind,
            "location": self.location,
        }
        if "expires" in t:
            body["expirationTime"] = str(t["expires"])
        if kind == "VIEW":
            body["view"] = {"query": t["view_query"], "useLegacySql": False}
            body["numBytes"] = body["numRows"] = "0"
        return Response.of_json(body)

    def _tabledata_list(self, request: Request) -> Response:
        if request.params["dataset"] == ANON_DATASET:
            self._authorized(request)
            job = self._jobs.get(request.params["table"])
            if job is None:
                raise ApiError(404, f"Not found: Table {request.params['table']}")
            return self._rows_response(job, request, "bigquery#tableDataList", page_key="pageToken")
        self._table(request)
        return Response.of_json({"kind": "bigquery#tableDataList", "etag": '"data"', "totalRows": "0"})

    # -- jobs --------------------------------------------------------------------------------------

    def _dry_run_bytes(self, sql: str, project: str, default: JsonDict | None) -> int:
        total = 0
        for name in re.findall(r"`([^`\s]+)`", sql.replace("`.`", ".")):
            parts = name.split(".")
            if len(parts) == 2:
                parts = [project, *parts]
            if len(parts) == 1 and default:
                parts = [default.get("projectId", project), default["datasetId"], parts[0]]
            if len(parts) == 3 and parts[0] == self.project:
                t = self.datasets.get(parts[1], {}).get(parts[2])
                if t is not None:
                    total += int(t["bytes"])
        return total

    def _run(
        self,
        sql: str,
        project: str,
        location: str,
        default: JsonDict | None,
        params: Sequence[JsonDict],
        job_id: str,
    ) -> _Job:
        key = json.dumps([sql, project, default, list(params)], sort_keys=True)
        cached = self._results.get(key)
        if cached is None:
            schema, rows, shape = self.run_sql(sql, project, default, params)
            serialized = [_row_json(row, schema) for row in rows]
            # The metadata never changes: the stand-in's own SQL and JSON work is done once per
            # distinct query, so what a run measures is the suite plus the fixed latency.
            cached = self._results[key] = (schema, serialized, shape)
        schema, serialized, shape = cached
        processed = sum(len(r) for r in serialized)  # what the metadata scan returned, roughly
        billed = max(MIN_BILLED_BYTES, -(-processed // (1024 * 1024)) * 1024 * 1024)
        now_ms = int(time.time() * 1000)
        job = _Job(job_id, project, location, sql, schema, serialized, processed, billed, shape, now_ms)
        with self._lock:
            self._jobs[job_id] = job
            self.queries.append(shape)
            self.bytes_billed += billed
            self.bytes_processed += processed
        self._local.datasets = set(job.datasets)
        return job

    def _job_resource(self, job: _Job, configuration: JsonDict) -> JsonDict:
        stats = {
            "totalBytesProcessed": str(job.processed),
            "totalBytesBilled": str(job.billed),
            "cacheHit": False,
            "statementType": "SELECT",
            "totalSlotMs": "10",
            "billingTier": 1,
        }
        query_config = dict(configuration.get("query", {}))
        query_config["destinationTable"] = self._table_ref(ANON_DATASET, job.job_id)
        return {
            "kind": "bigquery#job",
            "etag": f'"{job.job_id}"',
            "id": f"{job.project}:{job.location}.{job.job_id}",
            "selfLink": f"{self.url}/bigquery/v2/projects/{job.project}/jobs/{job.job_id}?location={job.location}",
            "jobReference": {"projectId": job.project, "jobId": job.job_id, "location": job.location},
            "configuration": {**configuration, "query": query_config, "jobType": "QUERY"},
            "status": {"state": "DONE"},
            "statistics": {
                "creationTime": str(job.created_ms),
                "startTime": str(job.created_ms),
                "endTime": str(job.created_ms + 1),
                "totalBytesProcessed": str(job.processed),
                "query": stats,
            },
            "user_email": "bench@example.com",
        }

    def _dry_run_resource(self, project: str, location: str, configuration: JsonDict, total: int) -> JsonDict:
        return {
            "kind": "bigquery#job",
            "etag": '"dry-run"',
            "jobReference": {"projectId": project, "location": location},
            "configuration": {**configuration, "jobType": "QUERY"},
            "status": {"state": "DONE"},
            "statistics": {
                "creationTime": str(int(time.time() * 1000)),
                "totalBytesProcessed": str(total),
                "query": {
                    "totalBytesProcessed": str(total),
                    "totalBytesProcessedAccuracy": "PRECISE",
                    "totalBytesBilled": "0",
                    "cacheHit": False,
                    "statementType": "SELECT",
                },
            },
        }

    def _jobs_insert(self, request: Request) -> Response:
        self._authorized(request)
        body = request.json()
        configuration = body.get("configuration", {})
        query = configuration.get("query")
        if not isinstance(query, dict) or "query" not in query:
            raise ApiError(400, "The bench stand-in runs query jobs only", reason="invalid")
        reference = body.get("jobReference", {})
        project = reference.get("projectId", request.params["project"])
        location = reference.get("location") or self.location
        if configuration.get("dryRun"):
            self._local.datasets = {"<dry run>"}
            total = self._dry_run_bytes(query["query"], project, query.get("defaultDataset"))
            return Response.of_json(self._dry_run_resource(project, location, configuration, total))
        job_id = reference.get("jobId") or f"bench_{uuid.uuid4().hex}"
        if job_id in self._jobs:
            raise ApiError(409, f"Already Exists: Job {project}:{location}.{job_id}")
        job = self._run(
            query["query"],
            project,
            location,
            query.get("defaultDataset"),
            query.get("queryParameters", []),
            job_id,
        )
        job.resource = self._job_resource(job, configuration)
        return Response.of_json(job.resource)

    def _stored_job(self, request: Request) -> _Job:
        self._authorized(request)
        job = self._jobs.get(request.params["job"])
        if job is None:
            raise ApiError(404, f"Not found: Job {request.params['project']}:{request.params['job']}")
        return job

    def _jobs_get(self, request: Request) -> Response:
        job = self._stored_job(request)
        return Response.of_json(job.resource or self._job_resource(job, {"query": {"query": job.query}}))

    def _jobs_query(self, request: Request) -> Response:
        self._authorized(request)
        body = request.json()
        project = request.params["project"]
        location = body.get("location") or self.location
        if body.get("dryRun"):
            self._local.datasets = {"<dry run>"}
            total = self._dry_run_bytes(body.get("query", ""), project, body.get("defaultDataset"))
            return Response.of_json(
                {"kind": "bigquery#queryResponse", "jobReference": {"projectId": project, "location": location},
                 "totalBytesProcessed": str(total), "jobComplete": True, "cacheHit": False}
            )  # fmt: skip
        job_id = f"bench_{uuid.uuid4().hex}"
        job = self._run(
            body.get("query", ""),
            project,
            location,
            body.get("defaultDataset"),
            body.get("queryParameters", []),
            job_id,
        )
        job.resource = self._job_resource(job, {"query": {"query": job.query}})
        int64_ts = bool(body.get("formatOptions", {}).get("useInt64Timestamp"))
        return self._rows_response(
            job, request, "bigquery#queryResponse", max_results=body.get("maxResults"), int64_ts=int64_ts,
        )  # fmt: skip

    def _get_query_results(self, request: Request) -> Response:
        job = self._stored_job(request)
        return self._rows_response(job, request, "bigquery#getQueryResultsResponse")

    def _rows_response(
        self,
        job: _Job,
        request: Request,
        kind: str,
        *,
        max_results: int | None = None,
        int64_ts: bool | None = None,
        page_key: str = "pageToken",
    ) -> Response:
        if max_results is None and request.query_one("maxResults") is not None:
            max_results = int(request.query_one("maxResults") or 0)
        if int64_ts is None:
            int64_ts = (request.query_one("formatOptions.useInt64Timestamp") or "").lower() == "true"
        token = request.query_one("pageToken")
        start = int(token) if token and token.isdigit() else int(request.query_one("startIndex") or 0)
        limit = len(job.rows) if max_results is None else min(len(job.rows), start + max_results)
        page: list[str] = []
        size = 0
        for row in itertools.islice(job.rows, start, limit):
            if not int64_ts:
                row = _float_timestamps(row, job.schema)
            size += len(row) + 1
            if max_results is None and size > PAGE_BYTES and page:
                break
            page.append(row)
        head: JsonDict = {
            "kind": kind,
            "etag": f'"{job.job_id}"',
            "jobReference": {"projectId": job.project, "jobId": job.job_id, "location": job.location},
            "jobComplete": True,
            "schema": {"fields": job.schema},
            "totalRows": str(len(job.rows)),
            "totalBytesProcessed": str(job.processed),
            "cacheHit": False,
        }
        if kind == "bigquery#tableDataList":
            head = {"kind": kind, "etag": head["etag"], "totalRows": head["totalRows"]}
        consumed = start + len(page)
        # maxResults=0 is the client's "wait for the job" poll: no rows and no token.
        if consumed < len(job.rows) and max_results != 0:
            head[page_key] = str(consumed)
        text = json.dumps(head)
        if page:
            text = text[:-1] + ', "rows": [' + ",".join(page) + "]}"
        return Response(200, text.encode(), [("Content-Type", "application/json; charset=UTF-8")])


# -- helpers ---------------------------------------------------------------------------------------


def _split(segment: str) -> list[str]:
    segment = segment.strip()
    if segment.startswith("`") and segment.endswith("`"):
        return [p for p in segment[1:-1].split(".") if p]
    return [segment]


def _single_quotes(sql: str) -> str:
    """BigQuery's "string" literals as SQLite's 'string' (SQLite reads "x" as an identifier)."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                out.append("'" if quote == '"' else char)
                quote = ""
            else:
                out.append("''" if char == "'" and quote == '"' else char)
            continue
        if char in "'`":
            quote = char
            out.append(char)
        elif char == '"':
            quote = '"'
            out.append("'")
        else:
            out.append(char)
    return "".join(out)


def _regexp_extract(value: str | None, pattern: str) -> str | None:
    if value is None:
        return None
    match = re.search(pattern, value)
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group(0)


def _parameters(parameters: Iterable[JsonDict]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for p in parameters:
        name = p.get("name")
        if not name:
            raise ApiError(
                400, "The bench stand-in supports named query parameters only", reason="invalidQuery"
            )
        value = p.get("parameterValue", {})
        if "arrayValues" in value or p.get("parameterType", {}).get("type") == "ARRAY":
            values[name] = json.dumps([v.get("value") for v in value.get("arrayValues", [])])
        else:
            values[name] = value.get("value")
    return values


_TYPE_FUNCTIONS: Final = (
    (
        re.compile(
            r"^\s*(TIMESTAMP_MILLIS|TIMESTAMP_MICROS|TIMESTAMP_SECONDS|TIMESTAMP|CURRENT_TIMESTAMP)\b", re.I
        ),
        "TIMESTAMP",
    ),
    (re.compile(r"^\s*(COUNT|COUNTIF|UNIX_MILLIS|UNIX_MICROS|UNIX_SECONDS|LENGTH)\s*\(", re.I), "INTEGER"),
    (re.compile(r"^\s*(STARTS_WITH|ENDS_WITH|REGEXP_CONTAINS|CONTAINS_SUBSTR)\s*\(", re.I), "BOOLEAN"),
)


def _select_items(sql: str) -> list[str]:
    """Top-level items of the outermost SELECT list (enough to type aliased expressions)."""
    match = re.search(r"\bSELECT\b(.*?)\bFROM\b", sql, re.IGNORECASE | re.DOTALL)
    if not match:
        return []
    items, depth, current = [], 0, []
    for char in match.group(1):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [i.strip() for i in items]


_ARRAY_AGG: Final = re.compile(
    r"\bARRAY_AGG\s*\(\s*([\w.`]+)\s*(?:ORDER\s+BY\s+([\w.`]+)(?:\s+(ASC|DESC))?\s*)?\)", re.IGNORECASE
)


def _array_agg_call(match: re.Match[str]) -> str:
    value, key, direction = match.group(1), match.group(2), (match.group(3) or "").upper()
    if direction == "DESC":
        raise ApiError(400, "The bench stand-in orders ARRAY_AGG ascending only", reason="invalidQuery")
    return f"_bench_array_agg({value}, {key or 'NULL'})"


class _ArrayAgg:
    """ARRAY_AGG(value ORDER BY key) for SQLite < 3.44 (no ORDER BY inside aggregates)."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, int, Any]] = []

    def step(self, value: Any, key: Any) -> None:
        if value is not None:  # BigQuery's ARRAY_AGG refuses NULLs; the views have none
            self.items.append((key, len(self.items), value))

    def finalize(self) -> str:
        ordered = sorted(self.items, key=lambda i: (i[0] is None, i[0] if i[0] is not None else 0, i[1]))
        return json.dumps([v for _, _, v in ordered])


def _column_type(
    name: str, index: int, rows: list[tuple[Any, ...]], sql: str, shape: QueryShape
) -> tuple[str, bool]:
    """(BigQuery type, repeated) of one output column."""
    items = _select_items(sql)
    item = items[index] if index < len(items) and "*" not in sql.split("FROM", 1)[0] else ""
    expr = re.sub(r"\s+AS\s+`?\w+`?\s*$", "", item, flags=re.IGNORECASE) if item else ""
    array = _ARRAY_AGG.search(expr) if expr else None
    if array:
        inner = array.group(1).split(".")[-1].strip("`").lower()
        kinds = [k for view, _ in shape.views for c, k in _VIEWS[view] if c == inner]
        return (kinds[0] if kinds else "STRING"), True
    return _scalar_type(name, index, rows, expr, shape), False


def _scalar_type(name: str, index: int, rows: list[tuple[Any, ...]], expr: str, shape: QueryShape) -> str:
    cast = re.search(r"^\s*(?:SAFE_)?CAST\s*\(.*\bAS\s+(\w+)\s*\)\s*$", expr, re.IGNORECASE | re.DOTALL)
    if cast:
        kind = cast.group(1).upper()
        return {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "TEXT": "STRING"}.get(kind, kind)
    for pattern, kind in _TYPE_FUNCTIONS:
        if expr and pattern.search(expr):
            return kind
    column = (expr.split(".")[-1].strip("` ") if expr and re.fullmatch(r"[\w.`]+", expr) else name).lower()
    for view, _ in shape.views:
        for col, kind in _VIEWS[view]:
            if col == column:
                return kind
    for row in rows:
        value = row[index]
        if value is not None:
            return "INTEGER" if isinstance(value, int) else "FLOAT" if isinstance(value, float) else "STRING"
    return "STRING"


def _cell(value: Any, kind: str, mode: str = "NULLABLE") -> Any:
    if mode == "REPEATED":
        return [{"v": _cell(v, kind)} for v in (json.loads(value) if value else [])]
    if value is None:
        return None
    if kind == "BOOLEAN":
        return "true" if value in (1, "YES", "true", True) else "false"
    if kind == "FLOAT":
        return repr(float(value))
    if kind in ("INTEGER", "TIMESTAMP"):
        return str(int(value))  # timestamps: int64 microseconds (useInt64Timestamp)
    return str(value)


def _row_json(row: tuple[Any, ...], schema: list[JsonDict]) -> str:
    return json.dumps(
        {"f": [{"v": _cell(v, f["type"], f["mode"])} for v, f in zip(row, schema, strict=True)]}
    )


def _float_timestamps(row: str, schema: list[JsonDict]) -> str:
    """A row for a client that did not ask for int64 timestamps: float seconds, as BigQuery sends."""
    if not any(f["type"] == "TIMESTAMP" for f in schema):
        return row
    cells = json.loads(row)["f"]
    for cell, f in zip(cells, schema, strict=True):
        if f["type"] == "TIMESTAMP" and f["mode"] != "REPEATED" and cell["v"] is not None:
            cell["v"] = f"{int(cell['v']) / 1e6:.6E}"
    return json.dumps({"f": cells})


def _page(items: list[JsonDict], request: Request) -> tuple[list[JsonDict], str | None]:
    token = request.query_one("pageToken") or "0"
    size_text = request.query_one("maxResults") or str(LIST_PAGE)
    if not token.isdigit() or not size_text.isdigit():
        raise ApiError(400, "Invalid page token or maxResults.")
    start, size = int(token), int(size_text) or LIST_PAGE
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
