"""Check recorded sandbox responses against Google's own API references (issue 14).

The sandbox's servers append every exchange to a JSONL file when READINESS_SANDBOX_RECORD
names one (sandbox/fakes/http.py). Each 200 body is checked against the response schema of the
method its request matches in the discovery document google-api-python-client ships (field
names, JSON types, int64-as-string, enum values); each error body against Google's error shape.
Cloud Quotas has no discovery document there: its bodies are parsed into google-cloud-quotas'
protobuf messages with unknown fields refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import googleapiclient

DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"

#: The sandbox server (its class name) -> the discovery documents of the APIs it stands for.
SERVER_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "CloudRunFake": ("run.v2",),
    "ServiceUsageFake": ("serviceusage.v1",),
    "ResourceManagerFake": ("cloudresourcemanager.v3",),
    "IamFake": ("iam.v1", "iamcredentials.v1"),
    "BigQueryFront": ("bigquery.v2",),
    "StorageFront": ("storage.v1",),
}
#: Exchanges that no discovery document describes, and why they are not checked.
NOT_DESCRIBED = {
    "oauth2.token": "the OAuth token endpoint is RFC 6749, not a discovery API",
}

_ERROR_KEYS = {"code", "message", "status", "errors", "details"}
_LEGACY_ERROR_KEYS = {"message", "domain", "reason", "location", "locationType", "debugInfo"}


@dataclass(frozen=True)
class Method:
    id: str
    http_method: str
    pattern: re.Pattern[str]
    response: str | None  # the schema name of the 200 body
    document: str


@dataclass(frozen=True)
class Problem:
    where: str  # "run.projects.locations.jobs.get GET /v2/...: terminalCondition.state"
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@cache
def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DOCUMENTS / f"{name}.json").read_text())
    return loaded


def _walk(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from resource.get("methods", {}).values()
    for child in resource.get("resources", {}).values():
        yield from _walk(child)


def _template_regex(template: str) -> str:
    # {+name} may span slashes (reserved expansion); {name} is one segment.
    out, pos = "", 0
    for match in re.finditer(r"\{(\+?)([^}]+)\}", template):
        out += re.escape(template[pos : match.start()])
        out += "(.+)" if match.group(1) else "([^/]+)"
        pos = match.end()
    return out + re.escape(template[pos:])


@cache
def methods(name: str) -> tuple[Method, ...]:
    doc = document(name)
    base = "/" + doc["servicePath"]
    found: list[Method] = []
    for method in _walk(doc):
        response = method.get("response", {}).get("$ref")
        # flatPath has one segment per variable; path's {+name} would let a dataset id swallow
        # "/tables/t".
        regexes = [re.escape(base) + _template_regex(method.get("flatPath") or method["path"])]
        for protocol in method.get("mediaUpload", {}).get("protocols", {}).values():
            regexes.append(_template_regex(protocol["path"]))
        for regex in regexes:
            found.append(Method(method["id"], method["httpMethod"], re.compile(regex), response, name))
    # The most literal path first: ".../jobs/{job}:run" before ".../jobs/{job}", whose segment
    # pattern would also take "x:run".
    found.sort(key=lambda m: -len(re.sub(r"\([^)]*\)", "", m.pattern.pattern)))
    return tuple(found)


def match_method(server: str, http_method: str, target: str) -> Method | None:
    path = urlsplit(target).path
    for name in SERVER_DOCUMENTS.get(server, ()):
        for method in methods(name):
            if method.http_method == http_method and method.pattern.fullmatch(path):
                return method
    return None


def check_value(
    doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str, int_enums: bool
) -> Iterator[str]:
    """Problems of `value` against a discovery schema, each naming its JSON path."""
    if "$ref" in schema:
        schema = doc["schemas"][schema["$ref"]]
    kind = schema.get("type")
    if "enum" in schema:
        if int_enums and isinstance(value, int) and not isinstance(value, bool):
            return  # numbers are the client's request; discovery lists names only
        if value not in schema["enum"]:
            yield f"{where}: {value!r} is not one of the enum values"
        return
    if kind == "object":
        if not isinstance(value, dict):
            yield f"{where}: expected an object, got {type(value).__name__}"
            return
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                yield from check_value(doc, properties[key], item, f"{where}.{key}", int_enums)
            elif extra is not None:
                yield from check_value(doc, extra, item, f"{where}.{key}", int_enums)
            else:
                yield f"{where}.{key}: no such field in {schema.get('id', 'the schema')}"
    elif kind == "array":
        if not isinstance(value, list):
            yield f"{where}: expected an array, got {type(value).__name__}"
            return
        for index, item in enumerate(value):
            yield from check_value(doc, schema.get("items", {}), item, f"{where}[{index}]", int_enums)
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{where}: expected a string ({schema.get('format', 'text')}), got {value!r}"
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            yield f"{where}: expected an integer, got {value!r}"
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            yield f"{where}: expected a number, got {value!r}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{where}: expected a boolean, got {value!r}"
    elif kind == "any" or kind is None:
        return


def check_error(body: Any, where: str) -> Iterator[str]:
    """Google's error body: {"error": {"code", "message", "status"[, "errors"][, "details"]}}."""
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        yield f'{where}: an error body is {{"error": {{...}}}}, got {str(body)[:80]}'
        return
    error = body["error"]
    for key in set(error) - _ERROR_KEYS:
        yield f"{where}: error.{key} is not a field of Google's error body"
    if not isinstance(error.get("code"), int):
        yield f"{where}: error.code must be an integer"
    if not isinstance(error.get("message"), str):
        yield f"{where}: error.message must be a string"
    if not isinstance(error.get("status"), str) or not re.fullmatch(r"[A-Z_]+", error.get("status", "")):
        yield f"{where}: error.status must be a google.rpc.Code name"
    for index, entry in enumerate(error.get("errors", [])):
        for key in set(entry) - _LEGACY_ERROR_KEYS:
            yield f"{where}: error.errors[{index}].{key} is not a field"
    for index, detail in enumerate(error.get("details", [])):
        if not str(detail.get("@type", "")).startswith("type.googleapis.com/google.rpc."):
            yield f"{where}: error.details[{index}] has no google.rpc @type"


_QUOTAS = re.compile(r"/v1/projects/[^/]+/locations/global/services/[^/]+/quotaInfos(?P<one>/[^/]+)?")


def check_quotas(target: str, body: Any, where: str) -> Iterator[str]:
    """Cloud Quotas against its protobuf types (no discovery document ships for it)."""
    from google.cloud.cloudquotas_v1.types import ListQuotaInfosResponse, QuotaInfo
    from google.protobuf import json_format

    match = _QUOTAS.fullmatch(urlsplit(target).path)
    if match is None:
        yield f"{where}: not a Cloud Quotas method"
        return
    message = QuotaInfo.pb() if match["one"] else ListQuotaInfosResponse.pb()
    try:
        json_format.ParseDict(body, message(), ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        yield f"{where}: {exc}"


def check_exchange(entry: dict[str, Any]) -> list[Problem]:
    """Problems of one recorded exchange (see sandbox/fakes/http.py `_record`)."""
    server, route, target = entry["server"], entry["route"], entry["target"]
    where = f"{server} {entry['method']} {urlsplit(target).path}"
    body, status = entry["body"], entry["status"]
    if route in NOT_DESCRIBED or body is None:
        return []
    if status >= 400:
        return [Problem(where, p) for p in check_error(body, "body")]
    if server == "QuotasFake":
        return [Problem(where, p) for p in check_quotas(target, body, "body")]
    method = match_method(server, entry["method"], target)
    if method is None:
        return [Problem(where, "no method of its discovery document serves this request")]
    if method.response is None or not (200 <= status < 300):
        return []
    doc = document(method.document)
    schema = {"$ref": method.response}
    found = check_value(doc, schema, body, method.response, bool(entry.get("enum_numbers")))
    return [Problem(f"{method.id} {where}", p) for p in found]


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def validate(entries: Iterable[dict[str, Any]]) -> list[Problem]:
    return [problem for entry in entries for problem in check_exchange(entry)]
