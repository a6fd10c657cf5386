"""A tiny threaded HTTP server that the API fakes and fronts build on.

Routes map (method, path regex) to handlers that take a `Request` and return a `Response`
(or raise `ApiError`). Every request is counted per route so tests can assert how many calls
a check makes, and a per-server list of `FaultRule`s can turn chosen requests into errors,
delays, connection resets or malformed JSON before the handler runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qs, unquote, urlsplit

JsonDict = dict[str, Any]

# Canonical google.rpc.Code names, as Google APIs put them in `error.status`.
_STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# The older JSON APIs (BigQuery, Cloud Storage) also send `error.errors[].reason`; the
# BigQuery client decides whether to retry from that reason, so the fronts must send it.
_LEGACY_REASONS: dict[int, str] = {
    400: "invalid",
    401: "authError",
    403: "accessDenied",
    404: "notFound",
    409: "duplicate",
    412: "conditionNotMet",
    429: "rateLimitExceeded",
    500: "internalError",
    502: "badGateway",
    503: "backendError",
    504: "backendError",
}

UNMATCHED = "<unmatched>"

#: A JSONL file to which every server appends each exchange (route, target, status, body): what
#: tests/discovery_validator.py checks against Google's discovery documents.
RECORD_ENV = "READINESS_SANDBOX_RECORD"

#: {JSON field name: {enum value name: number}}: how a fake's enums go on the wire when the
#: client asks `$alt=json;enum-encoding=int` (every gapic REST client does).
EnumNumbers = Mapping[str, Mapping[str, int]]


class ApiError(Exception):
    """Raised by handlers; becomes a Google-format JSON error response."""

    def __init__(
        self,
        code: int,
        message: str,
        status: str | None = None,
        reason: str | None = None,
        *,
        domain: str = "global",
        details: Sequence[JsonDict] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_NAMES.get(code, "UNKNOWN")
        self.reason = reason or _LEGACY_REASONS.get(code, "unknown")
        self.domain = domain
        #: google.rpc status details (ErrorInfo, Help), each with its "@type".
        self.details = list(details)


def error_body(error: ApiError, *, legacy_reasons: bool) -> JsonDict:
    """`{"error": {"code", "message", "status"[, "errors"][, "details"]}}` as Google's
    frontends send it."""
    body: JsonDict = {"code": error.code, "message": error.message, "status": error.status}
    if legacy_reasons:
        body["errors"] = [{"message": error.message, "domain": error.domain, "reason": error.reason}]
    if error.details:
        body["details"] = error.details
    return {"error": body}


def permission_denied(permission: str, resource: str) -> ApiError:
    """Google's answer to a call the caller's grants do not allow."""
    return ApiError(
        403,
        f"Permission '{permission}' denied on resource '{resource}' (or it may not exist).",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": "iam.googleapis.com",
                "metadata": {"permission": permission, "resource": resource},
            }
        ],
    )


def service_disabled(service: str, project_number: str) -> ApiError:
    """Google's answer to any call of a service that is disabled on the consumer project."""
    title = service.split(".", 1)[0]
    url = f"https://console.developers.google.com/apis/api/{service}/overview?project={project_number}"
    return ApiError(
        403,
        f"{title} API has not been used in project {project_number} before or it is disabled. "
        f"Enable it by visiting {url} then retry.",
        reason="accessNotConfigured",
        domain="usageLimits",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {
                    "service": service,
                    "consumer": f"projects/{project_number}",
                    "activationUrl": url,
                },
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{"description": "Google developers console API activation", "url": url}],
            },
        ],
    )


def wants_enum_numbers(request: Request) -> bool:
    return "enum-encoding=int" in (request.query_one("$alt") or "")


def encode_enums(value: Any, numbers: EnumNumbers) -> Any:
    """`value` with every enum name under a key of `numbers` replaced by its number; a value
    that is already a number (newer than the table) stays what it is."""
    if isinstance(value, dict):
        out: JsonDict = {}
        for key, item in value.items():
            table = numbers.get(key)
            if table is not None and isinstance(item, str) and item in table:
                out[key] = table[item]
            else:
                out[key] = encode_enums(item, numbers)
        return out
    if isinstance(value, list):
        return [encode_enums(item, numbers) for item in value]
    return value


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded path without the query string; what routes match against
    target: str  # path and query exactly as received; what a proxy forwards
    query: Mapping[str, list[str]]
    header_items: Sequence[tuple[str, str]]  # in order, repeats kept, so proxies lose nothing
    body: bytes
    params: Mapping[str, str] = field(default_factory=dict)  # named groups of the route regex

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.header_items if k.lower() == lowered), None)

    def query_one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> JsonDict:
        """The body as a JSON object; a 400 like the real APIs when it is not one."""
        try:
            value = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise ApiError(400, f"Invalid JSON payload received. {exc}") from exc
        if not isinstance(value, dict):
            raise ApiError(400, "Invalid JSON payload received. Expected an object.")
        return value


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of_json(cls, payload: object, status: int = 200) -> Response:
        return cls(
            status,
            json.dumps(payload).encode(),
            [("Content-Type", "application/json; charset=UTF-8")],
        )


Handler = Callable[[Request], Response]
FaultKind = Literal["status", "slow", "reset", "malformed"]


@dataclass
class FaultRule:
    """Turns matching requests into a fault, `count` times, after letting `skip` through.

    Kinds: "status" answers `status` with a Google-format error body; "slow" sleeps `delay`
    seconds and then handles the request normally; "reset" aborts the TCP connection with an
    RST and no response; "malformed" answers 200 with a truncated JSON body.
    """

    kind: FaultKind
    method: str = "*"  # HTTP method, or "*" for any
    path: str = ".*"  # regex searched in the decoded request path
    count: int | None = 1  # how many times it fires; None fires forever
    skip: int = 0  # matching requests to let through before the first firing
    status: int = 503
    delay: float = 0.0
    message: str = "Injected fault."
    retry_after: int | None = None  # seconds, sent as Retry-After with "status" faults
    seen: int = field(default=0, init=False)  # matching requests so far
    fired: int = field(default=0, init=False)

    @classmethod
    def error(cls, status: int, path: str = ".*", method: str = "*", **kw: Any) -> FaultRule:
        return cls("status", method=method, path=path, status=status, **kw)

    @classmethod
    def slow(cls, delay: float, path: str = ".*", method: str = "*", **kw: Any) -> FaultRule:
        return cls("slow", method=method, path=path, delay=delay, **kw)

    @classmethod
    def reset(cls, path: str = ".*", method: str = "*", **kw: Any) -> FaultRule:
        return cls("reset", method=method, path=path, **kw)

    @classmethod
    def malformed(cls, path: str = ".*", method: str = "*", **kw: Any) -> FaultRule:
        return cls("malformed", method=method, path=path, **kw)

    def _applies(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and re.search(self.path, path) is not None

    def _take(self) -> bool:
        """Called under the server lock for each matching request: fire this time?"""
        self.seen += 1
        if self.seen <= self.skip or (self.count is not None and self.fired >= self.count):
            return False
        self.fired += 1
        return True


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    name: str
    #: The IAM permission the call needs, checked by the world's guard.
    permission: str | None = None


#: Called before every routed request (after fault rules): raises ApiError to refuse it.
Guard = Callable[["FakeServer", Request, str | None], None]


class _Reset:
    """Handler outcome meaning: drop the connection without answering."""


_RESET = _Reset()


class FakeServer:
    """Route table, counters and fault rules behind a ThreadingHTTPServer on 127.0.0.1."""

    # Fronts for BigQuery / Cloud Storage set this: those APIs add `errors[].reason`.
    legacy_error_reasons = False
    #: The API's service name, as Service Usage knows it ("" for auth, never disabled).
    service = ""
    #: Enum fields of this API's resources (see EnumNumbers).
    enum_numbers: EnumNumbers = {}

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self._fallback: _Route | None = None
        self._faults: list[FaultRule] = []
        self._counts: Counter[str] = Counter()
        self._log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: Set by the world: refuses calls of a disabled service or beyond the caller's grants.
        self.guard: Guard | None = None

    # -- routes -----------------------------------------------------------------------------

    def route(
        self, method: str, pattern: str, handler: Handler, name: str, permission: str | None = None
    ) -> None:
        """Serve `method` requests whose whole decoded path matches `pattern`; `permission` is
        what the caller must hold (enforced by the world's guard)."""
        self._routes.append(_Route(method, re.compile(pattern), handler, name, permission))

    # -- what the guard asks ------------------------------------------------------------------

    def project_of(self, request: Request) -> str | None:
        """The consumer project a request bills to (its `project` path segment by default)."""
        return request.params.get("project")

    def permission_for(self, request: Request, route_permission: str | None) -> str | None:
        """The permission a request needs; forwarding fronts derive it from the request."""
        return route_permission

    def resource_grants(self, request: Request) -> tuple[str, set[str]] | None:
        """(resource name, permissions seeded on it) for the request's resource, if any."""
        return None

    def fallback(self, handler: Handler, name: str) -> None:
        """Serve every request no route matches (a proxy's forwarding)."""
        self._fallback = _Route("*", re.compile(".*"), handler, name)

    # -- faults -----------------------------------------------------------------------------

    def add_fault(self, rule: FaultRule) -> FaultRule:
        """Append a rule; the first rule that applies and still has firings wins."""
        with self._lock:
            self._faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[FaultRule]:
        with self._lock:
            return list(self._faults)

    # -- request counting --------------------------------------------------------------------

    def request_count(self, route: str | None = None) -> int:
        """Requests received for a route name, or in total; faulted requests count too."""
        with self._lock:
            return self._counts[route] if route else sum(self._counts.values())

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def request_log(self) -> list[tuple[str, str, str]]:
        """(route name, method, target) of every request, in arrival order."""
        with self._lock:
            return list(self._log)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._log.clear()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Listen on a free 127.0.0.1 port in a daemon thread; return the endpoint URL."""
        if self._httpd is not None:
            return self.url
        self._httpd = _HTTPServer(("127.0.0.1", 0), _RequestHandler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-http",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        # Keep-alive connections would otherwise keep being served by their own threads.
        httpd.close_open_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- dispatch ----------------------------------------------------------------------------

    def error_response(self, error: ApiError) -> Response:
        response = Response.of_json(error_body(error, legacy_reasons=self.legacy_error_reasons), error.code)
        return response

    def _match(self, method: str, path: str) -> tuple[_Route | None, re.Match[str] | None]:
        for route in self._routes:
            if route.method == method:
                match = route.pattern.fullmatch(path)
                if match:
                    return route, match
        return self._fallback, None

    def _fault_for(self, method: str, path: str) -> FaultRule | None:
        for rule in self._faults:
            if rule._applies(method, path) and rule._take():
                return rule
        return None

    def dispatch(self, request: Request) -> Response | _Reset:
        route, match = self._match(request.method, request.path)
        with self._lock:
            name = route.name if route else UNMATCHED
            self._counts[name] += 1
            self._log.append((name, request.method, request.target))
            fault = self._fault_for(request.method, request.path)
        if fault is not None:
            if fault.kind == "reset":
                return _RESET
            if fault.kind == "malformed":
                return Response(200, b'{"malformed": ', [("Content-Type", "application/json")])
            if fault.kind == "status":
                response = self.error_response(ApiError(fault.status, fault.message))
                if fault.retry_after is not None:
                    response.headers.append(("Retry-After", str(fault.retry_after)))
                return response
            time.sleep(fault.delay)  # "slow": then answer normally
        if route is None:
            return self.error_response(
                ApiError(404, f"The requested URL {request.path} was not found on this server.")
            )
        params = match.groupdict() if match else {}
        bound = Request(
            request.method,
            request.path,
            request.target,
            request.query,
            request.header_items,
            request.body,
            params,
        )
        try:
            if self.guard is not None:
                self.guard(self, bound, route.permission)
            response = route.handler(bound)
        except ApiError as error:
            response = self.error_response(error)
        except Exception as exc:  # a fake's bug must surface as a 500, not a hung client
            response = self.error_response(ApiError(500, f"{type(exc).__name__}: {exc}"))
        if self.enum_numbers and response.status == 200 and wants_enum_numbers(bound):
            response = _with_enum_numbers(response, self.enum_numbers)
        _record(self, route.name, bound, response)
        return response


def _with_enum_numbers(response: Response, numbers: EnumNumbers) -> Response:
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    encoded = Response.of_json(encode_enums(payload, numbers), response.status)
    encoded.headers = response.headers
    return encoded


_RECORD_LOCK = threading.Lock()


def _record(server: FakeServer, route: str, request: Request, response: Response) -> None:
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    try:
        body = json.loads(response.body) if response.body else None
    except ValueError:
        body = None  # not JSON (a media download): nothing to validate
    entry = {
        "server": type(server).__name__,
        "route": route,
        "method": request.method,
        "target": request.target,
        "status": response.status,
        "enum_numbers": wants_enum_numbers(request),
        "body": body,
    }
    with _RECORD_LOCK, open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_RequestHandler], fake: FakeServer) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_open_connections(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 so clients keep connections alive as they do against Google.
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read counters, not stderr

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(split.path),
            target=self.path,
            query=parse_qs(split.query, keep_blank_values=True),
            header_items=list(self.headers.items()),
            body=self._read_body(),
        )
        outcome = self.server.fake.dispatch(request)
        if isinstance(outcome, _Reset):
            # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        try:
            self.send_response(outcome.status)
            for name, value in outcome.headers:
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(outcome.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(outcome.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (e.g. its timeout beat a "slow" fault): nothing to do.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


def paginate(items: Sequence[JsonDict], request: Request) -> tuple[list[JsonDict], str | None]:
    """Apply pageSize / pageToken as the real list methods do; the token is an offset."""
    token = request.query_one("pageToken") or "0"
    size_text = request.query_one("pageSize") or "0"
    if not token.isdigit() or not size_text.isdigit():
        raise ApiError(400, "Invalid page token or page size.")
    start, size = int(token), int(size_text) or 50
    end = start + size
    return list(items[start:end]), (str(end) if end < len(items) else None)
