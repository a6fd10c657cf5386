"""Front proxies for the BigQuery and Cloud Storage emulators.

The emulators grant every testIamPermissions (BigQuery) or have no bucket IAM at all
(fake-gcs-server), and BigQuery dry runs report 0 bytes. A front answers exactly those calls
from configured state and relays every other request to the emulator unchanged, so the
clients see one endpoint, and fault rules can hit any call, forwarded or not. The world's
guard holds every call, forwarded ones included, to the seeded grants (permission_for says
which permission a forwarded call needs).

testIamPermissions answers as Google does: a bucket the front was not told about is a 404;
a table it was not told about answers an empty set (BigQuery "may fail open" and does not
say whether the table exists), so a check must read the table before trusting the answer.
Dry runs go to the emulator first, which refuses a syntax error (400 invalidQuery) and a
missing table (404 notFound) as BigQuery does; the front then states the bytes from the
registered sizes, else the emulator's numBytes of each referenced table.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from sandbox.fakes.http import ApiError, FakeServer, JsonDict, Request, Response

# RFC 9110 section 7.6.1 hop-by-hop headers, never relayed by a proxy; Host and
# Content-Length are rewritten for the new hop, and bodies are relayed de-chunked.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class ProxyFront(FakeServer):
    """Relays every request no route answers to `upstream_url`."""

    legacy_error_reasons = True  # BigQuery and Storage JSON APIs send errors[].reason

    def __init__(self, upstream_url: str, upstream_timeout: float = 30.0) -> None:
        super().__init__()
        self.upstream_url = upstream_url.rstrip("/")
        self.upstream_timeout = upstream_timeout
        self.fallback(self.forward, "forward")

    def forward(self, request: Request) -> Response:
        upstream = urlsplit(self.upstream_url)
        connection_type = (
            http.client.HTTPSConnection if upstream.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_type(
            upstream.hostname or "127.0.0.1", upstream.port, timeout=self.upstream_timeout
        )
        # Headers named in Connection are hop-by-hop too.
        named = {
            token.strip().lower()
            for token in (request.header("Connection") or "").split(",")
            if token.strip()
        }
        try:
            connection.putrequest(
                request.method,
                upstream.path + request.target,
                skip_host=True,
                skip_accept_encoding=True,
            )
            connection.putheader("Host", upstream.netloc)
            for name, value in request.header_items:
                if name.lower() not in _HOP_BY_HOP and name.lower() not in named:
                    connection.putheader(name, value)
            if request.body or request.method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(request.body)))
            connection.endheaders(request.body or None)
            reply = connection.getresponse()
            body = self._rewrite_links(reply.getheader("Content-Type") or "", reply.read())
            headers = [
                (name, self._rewrite_location(name, value))
                for name, value in reply.getheaders()
                if name.lower() not in _HOP_BY_HOP
            ]
            return Response(reply.status, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            raise ApiError(502, f"Upstream {self.upstream_url} failed: {exc}") from exc
        finally:
            connection.close()

    def _rewrite_links(self, content_type: str, body: bytes) -> bytes:
        # Resources carry absolute links (an object's mediaLink, selfLink); the storage client
        # downloads from mediaLink, which would otherwise bypass the front (uncounted, unfaultable).
        if "json" not in content_type.lower():
            return body
        return body.replace(self.upstream_url.encode(), self.url.encode())

    def _rewrite_location(self, name: str, value: str) -> str:
        # Resumable uploads send the client on to a Location URL; pointing it at the front
        # keeps the follow-up requests countable and faultable.
        if name.lower() == "location" and value.startswith(self.upstream_url):
            return self.url + value[len(self.upstream_url) :]
        return value


def _granted(asked: Iterable[str], granted: set[str]) -> list[str]:
    return [p for p in asked if p in granted]


_P, _SEG = r"(?P<project>[^/:]+)", r"[^/:]+"
# Backticked names: `p.d.t`, `d.t` (job project) or `t` (default dataset); `p`.`d`.`t` is
# folded into the first form before matching.
_BACKTICKED = re.compile(r"`([^`\s]+)`")


_PARTITIONS = re.compile(r"(`[^`]+`)\.INFORMATION_SCHEMA\.PARTITIONS", re.IGNORECASE)
# A statement that writes data into a table (DML), and the table it writes.
_DML = re.compile(
    r"^\s*(?:INSERT(?:\s+INTO)?|UPDATE|DELETE(?:\s+FROM)?|MERGE(?:\s+INTO)?|TRUNCATE\s+TABLE)\s+`([^`]+)`",
    re.IGNORECASE | re.MULTILINE,
)

_BQ_PATH = re.compile(
    r"/bigquery/v2/projects/(?P<project>[^/:]+)"
    r"(?:/(?P<kind>datasets|jobs|queries)(?:/(?P<dataset>[^/:]+)"
    r"(?:/tables(?:/(?P<table>[^/:]+)(?P<rest>/.*)?)?)?)?)?"
)
# BigQuery's documented permission per REST call (tables.* on a table, else the dataset).
_TABLE_CALLS = {"GET": "bigquery.tables.get", "PATCH": "bigquery.tables.update", "PUT": "bigquery.tables.update",
                "DELETE": "bigquery.tables.delete"}  # fmt: skip


class BigQueryFront(ProxyFront):
    """Answers table testIamPermissions and dry-run queries; relays the rest.

    google-cloud-bigquery 3.x only has table-level `Client.test_iam_permissions`
    (POST .../tables/{t}:testIamPermissions); there is no dataset-level method to answer.
    """

    service = "bigquery.googleapis.com"

    def __init__(self, upstream_url: str, location: str = "US") -> None:
        super().__init__(upstream_url)
        self.location = location
        self.table_permissions: dict[str, set[str]] = {}  # "project.dataset.table" -> granted
        self.dataset_permissions: dict[str, set[str]] = {}  # "project.dataset" -> granted
        self.table_bytes: dict[str, int] = {}  # "project.dataset.table" -> bytes a scan reads
        #: "project.dataset.table" -> totalBytesProcessedAccuracy of a dry run reading it
        #: (an external table is LOWER_BOUND or UNKNOWN in BigQuery).
        self.table_accuracy: dict[str, str] = {}
        #: "project.dataset.table" -> epoch ms of the last data write the front knows of (seeded,
        #: or DML / insertAll through the front): what INFORMATION_SCHEMA.PARTITIONS answers.
        self.data_written: dict[str, int] = {}
        base = rf"/bigquery/v2/projects/{_P}"
        self.route(
            "POST",
            rf"{base}/datasets/(?P<dataset>{_SEG})/tables/(?P<table>{_SEG}):testIamPermissions",
            self._test_table_iam,
            "bigquery.tables.testIamPermissions",
        )
        self.route("POST", rf"{base}/jobs", self._jobs_insert, "bigquery.jobs.insert")
        self.route("POST", rf"{base}/queries", self._jobs_query, "bigquery.jobs.query")
        self.route(
            "GET",
            rf"{base}/queries/(?P<job>{_SEG})",
            self._get_query_results,
            "bigquery.jobs.getQueryResults",
        )
        self.route(
            "POST",
            rf"{base}/datasets/(?P<dataset>{_SEG})/tables/(?P<table>{_SEG})/insertAll",
            self._insert_all,
            "bigquery.tabledata.insertAll",
        )

    def _get_query_results(self, request: Request) -> Response:
        # local-bigquery 0.4.0 adds statementType, which GetQueryResultsResponse does not have
        # (tests/test_google_shapes.py): answered as Google shapes it.
        reply = self.forward(request)
        if reply.status != 200:
            return reply
        answer = json.loads(reply.body)
        answer.pop("statementType", None)
        return Response(reply.status, json.dumps(answer).encode(), reply.headers)

    def _dataset_elsewhere(self, sql: str, location: str) -> str:
        """BigQuery runs a job in one location and cannot see a dataset in another: its error
        text for the first dataset the query names outside `location`, else ""."""
        for name in _BACKTICKED.findall(sql.replace("`.`", ".")):
            parts = name.split(".")
            if len(parts) != 2:
                continue
            path = f"/bigquery/v2/projects/{parts[0]}/datasets/{quote(parts[1])}"
            reply = self.forward(Request("GET", path, path, {}, [], b""))
            found = json.loads(reply.body).get("location", "") if reply.status == 200 else ""
            if found and found.lower() != location.lower():
                return f"Not found: Dataset {parts[0]}:{parts[1]} was not found in location {location}"
        return ""

    def set_data_written(self, table_id: str, epoch_ms: int) -> None:
        self.data_written[table_id] = epoch_ms

    def _note_writes(self, sql: str, project: str, default_dataset: JsonDict | None) -> None:
        now = int(time.time() * 1000)
        for name in _DML.findall(sql):
            for table_id in self._referenced(f"`{name}`", project, default_dataset):
                self.data_written[table_id] = now

    def _insert_all(self, request: Request) -> Response:
        reply = self.forward(request)
        if reply.status == 200:
            p = request.params
            self.data_written[f"{p['project']}.{p['dataset']}.{p['table']}"] = int(time.time() * 1000)
        return reply

    def _partitions(self, request: Request, body: JsonDict, dataset: str) -> Response:
        """INFORMATION_SCHEMA.PARTITIONS' last data write per table: the emulator has no such
        column, so the front asks it for the tables (`__TABLES__`) and states the data times it
        knows; a table it never saw written keeps the emulator's time."""
        sql = (
            f"SELECT table_id AS table_name, last_modified_time AS data_modified_ms FROM {dataset}.__TABLES__"
        )
        rewritten = json.dumps({**body, "query": sql}).encode()
        reply = self.forward(
            Request(
                request.method, request.path, request.target, request.query, request.header_items, rewritten
            )
        )
        if reply.status != 200:
            return reply
        answer = json.loads(reply.body)
        prefix = dataset.strip("`") + "."
        for row in answer.get("rows", []):
            cells = row["f"]
            known = self.data_written.get(prefix + str(cells[0]["v"]))
            if known is not None:
                cells[1]["v"] = str(known)
        return Response(reply.status, json.dumps(answer).encode(), reply.headers)

    def grant_table(self, table_id: str, permissions: Iterable[str]) -> None:
        """Declare table `project.dataset.table` with the permissions the caller holds."""
        self.table_permissions[table_id] = set(permissions)

    def grant_dataset(self, dataset_id: str, permissions: Iterable[str]) -> None:
        """Permissions the caller holds on dataset `project.dataset` (its tables inherit them)."""
        self.dataset_permissions[dataset_id] = self.dataset_permissions.get(dataset_id, set()) | set(
            permissions
        )

    def set_table_bytes(self, table_id: str, size: int, accuracy: str = "PRECISE") -> None:
        self.table_bytes[table_id] = size
        self.table_accuracy[table_id] = accuracy

    # -- what the guard asks ------------------------------------------------------------------

    def project_of(self, request: Request) -> str | None:
        match = _BQ_PATH.match(request.path)
        return match["project"] if match else None

    def permission_for(self, request: Request, route_permission: str | None) -> str | None:
        if route_permission is not None or request.path.endswith(":testIamPermissions"):
            return route_permission
        match = _BQ_PATH.match(request.path)
        if match is None:
            return None
        kind, dataset, table, rest = match["kind"], match["dataset"], match["table"], match["rest"]
        method = request.method
        if kind in ("jobs", "queries"):
            # Reading one's own job back needs nothing beyond having been allowed to create it.
            return "bigquery.jobs.create"
        if kind is None:
            return None
        if dataset is None:
            return "bigquery.datasets.create" if method == "POST" else None
        if table is not None:
            if rest == "/data":
                return "bigquery.tables.getData"
            if rest == "/insertAll":
                return "bigquery.tables.updateData"
            return _TABLE_CALLS.get(method)
        if request.path.endswith("/tables"):
            return "bigquery.tables.create" if method == "POST" else "bigquery.tables.list"
        return {"GET": "bigquery.datasets.get", "DELETE": "bigquery.datasets.delete"}.get(
            method, "bigquery.datasets.update"
        )

    def resource_grants(self, request: Request) -> tuple[str, set[str]] | None:
        match = _BQ_PATH.match(request.path)
        if match is None or match["dataset"] is None:
            return None
        dataset_id = f"{match['project']}.{match['dataset']}"
        granted = set(self.dataset_permissions.get(dataset_id, set()))
        if match["table"] is not None:
            table_id = f"{dataset_id}.{match['table']}"
            return (
                f"projects/{match['project']}/datasets/{match['dataset']}/tables/{match['table']}",
                granted | (self.table_permissions.get(table_id, set())),
            )
        return f"projects/{match['project']}/datasets/{match['dataset']}", granted

    def _test_table_iam(self, request: Request) -> Response:
        p = request.params
        table_id = f"{p['project']}.{p['dataset']}.{p['table']}"
        # Google: "may fail open"; a table that does not exist answers an empty set, not 404.
        if table_id not in self.table_permissions and self._emulator_bytes(table_id) is None:
            return Response.of_json({})
        granted = self.table_permissions.get(table_id, set()) | self.dataset_permissions.get(
            f"{p['project']}.{p['dataset']}", set()
        )
        permissions = _granted(request.json().get("permissions", []), granted)
        return Response.of_json({"permissions": permissions} if permissions else {})

    def _referenced(self, sql: str, project: str, default_dataset: JsonDict | None) -> list[str]:
        found: list[str] = []
        for name in _BACKTICKED.findall(sql.replace("`.`", ".")):
            parts = name.split(".")
            if len(parts) == 2:
                parts = [project, *parts]
            elif len(parts) == 1 and default_dataset:
                parts = [
                    default_dataset.get("projectId", project),
                    default_dataset["datasetId"],
                    *parts,
                ]
            table_id = ".".join(parts)
            if len(parts) == 3 and table_id not in found:
                found.append(table_id)
        return found

    def _emulator_bytes(self, table_id: str) -> int | None:
        """numBytes of a table as the emulator stores it (it knows its rows' sizes)."""
        project, dataset, table = table_id.split(".")
        path = f"/bigquery/v2/projects/{project}/datasets/{dataset}/tables/{quote(table)}"
        probe = Request("GET", path, path, {}, [], b"")
        reply = self.forward(probe)
        if reply.status != 200:
            return None
        found = json.loads(reply.body)
        if found.get("type") == "VIEW":
            return 0  # a view's own bytes are its tables', referenced by name in the SQL too
        return int(found.get("numBytes") or 0)

    def _dry_run_stats(
        self, sql: str, project: str, default_dataset: JsonDict | None
    ) -> tuple[str, str, list[JsonDict]]:
        """(bytes, accuracy, referencedTables): registered sizes, else the emulator's."""
        tables = self._referenced(sql, project, default_dataset)
        total, accuracy = 0, "PRECISE"
        for table_id in tables:
            if table_id.rsplit(".", 1)[-1].startswith("__"):
                continue  # __TABLES__ and kin are metadata: no table bytes are scanned
            size = self.table_bytes.get(table_id)
            if size is None:
                size = self._emulator_bytes(table_id)
            if size is None:
                accuracy = "UNKNOWN"
                continue
            total += size
            if self.table_accuracy.get(table_id, "PRECISE") != "PRECISE":
                accuracy = self.table_accuracy[table_id]
        references = [
            dict(zip(("projectId", "datasetId", "tableId"), t.split("."), strict=True)) for t in tables
        ]
        return str(total), accuracy, references  # int64 is a JSON string in BigQuery responses

    def _validated(self, request: Request) -> Response | None:
        """The emulator's answer to the dry run when it refuses the query (syntax, missing
        table), else None: BigQuery validates a dry run fully."""
        reply = self.forward(request)
        return reply if reply.status >= 400 else None

    def _jobs_insert(self, request: Request) -> Response:
        job = request.json()
        configuration = job.get("configuration", {})
        if not (configuration.get("dryRun") and "query" in configuration):
            reply = self.forward(request)
            query = configuration.get("query", {})
            if reply.status == 200 and query:
                self._note_writes(
                    query.get("query", ""), request.params["project"], query.get("defaultDataset")
                )
            return reply
        refused = self._validated(request)
        if refused is not None:
            return refused
        query = configuration["query"]
        reference = job.get("jobReference", {})
        project = reference.get("projectId", request.params["project"])
        total, accuracy, tables = self._dry_run_stats(
            query.get("query", ""), project, query.get("defaultDataset")
        )
        statistics: JsonDict = {
            "totalBytesProcessed": total,
            "totalBytesProcessedAccuracy": accuracy,
            "totalBytesBilled": "0",
            "cacheHit": False,
            "statementType": "SELECT",
        }
        if tables:
            statistics["referencedTables"] = tables
        return Response.of_json(
            {
                "kind": "bigquery#job",
                "etag": '"dry-run"',
                # Real dry runs create no job: the reference has no jobId.
                "jobReference": {
                    "projectId": project,
                    "location": reference.get("location") or self.location,
                },
                "configuration": {**configuration, "jobType": "QUERY"},
                "status": {"state": "DONE"},
                "statistics": {
                    "creationTime": "1704067200000",
                    "totalBytesProcessed": total,
                    "query": statistics,
                },
            }
        )

    def _jobs_query(self, request: Request) -> Response:
        body = request.json()
        elsewhere = self._dataset_elsewhere(body.get("query", ""), body.get("location") or self.location)
        if elsewhere:
            raise ApiError(404, elsewhere)
        if not body.get("dryRun"):
            partitions = _PARTITIONS.search(body.get("query", ""))
            if partitions:
                return self._partitions(request, body, partitions.group(1))
            reply = self.forward(request)
            if reply.status == 200:
                self._note_writes(
                    body.get("query", ""), request.params["project"], body.get("defaultDataset")
                )
            return reply
        refused = self._validated(request)
        if refused is not None:
            return refused
        project = request.params["project"]
        total, _, _ = self._dry_run_stats(body.get("query", ""), project, body.get("defaultDataset"))
        return Response.of_json(
            {
                "kind": "bigquery#queryResponse",
                "jobReference": {
                    "projectId": project,
                    "location": body.get("location") or self.location,
                },
                "totalBytesProcessed": total,
                "cacheHit": False,
            }
        )


_GCS_PATH = re.compile(r"/(?:upload/|download/)?storage/v1/b(?:/(?P<bucket>[^/]+)(?P<rest>/.*)?)?")


class StorageFront(ProxyFront):
    """Answers bucket iam/testPermissions; relays objects, uploads and downloads."""

    service = "storage.googleapis.com"

    def permission_for(self, request: Request, route_permission: str | None) -> str | None:
        if request.path.endswith("/iam/testPermissions"):
            return None
        match = _GCS_PATH.match(request.path)
        if match is None or match["bucket"] is None:
            return "storage.buckets.create" if request.method == "POST" else "storage.buckets.list"
        rest, method = match["rest"] or "", request.method
        if not rest:
            return {"GET": "storage.buckets.get", "DELETE": "storage.buckets.delete"}.get(
                method, "storage.buckets.update"
            )
        if rest == "/o" and method == "GET":
            return "storage.objects.list"
        if rest.startswith("/o") or "/upload/" in request.path:
            if method == "GET":
                return "storage.objects.get"
            return "storage.objects.delete" if method == "DELETE" else "storage.objects.create"
        return None

    def resource_grants(self, request: Request) -> tuple[str, set[str]] | None:
        match = _GCS_PATH.match(request.path)
        if match is None or match["bucket"] is None:
            return None
        bucket = match["bucket"]
        return f"projects/_/buckets/{bucket}", set(self.bucket_permissions.get(bucket, set()))

    def __init__(self, upstream_url: str) -> None:
        super().__init__(upstream_url)
        self.bucket_permissions: dict[str, set[str]] = {}
        self.route(
            "GET",
            r"/storage/v1/b/(?P<bucket>[^/]+)/iam/testPermissions",
            self._test_bucket_iam,
            "storage.buckets.testIamPermissions",
        )

    def grant_bucket(self, bucket: str, permissions: Iterable[str]) -> None:
        """Declare `bucket` with the permissions the caller holds on it."""
        self.bucket_permissions[bucket] = set(permissions)

    def _test_bucket_iam(self, request: Request) -> Response:
        bucket = request.params["bucket"]
        granted = self.bucket_permissions.get(bucket)
        if granted is None:
            raise ApiError(404, "The specified bucket does not exist.")
        # The permissions come as repeated query parameters: ?permissions=a&permissions=b
        permissions = _granted(request.query.get("permissions", []), granted)
        body: JsonDict = {"kind": "storage#testIamPermissionsResponse"}
        if permissions:
            body["permissions"] = permissions
        return Response.of_json(body)
