"""Every response the sandbox gives, checked against Google's own API references (issue 14).

The serial `pytest --sandbox` run of the example (sandbox_support.py, shared with
test_sandbox.py) records each exchange of every local server (READINESS_SANDBOX_RECORD); tests/discovery_validator.py checks each body against the method's
response schema in the discovery documents of google-api-python-client (Cloud Quotas: its
protobuf types). A negative control proves the validator flags broken bodies.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from discovery_validator import check_exchange, read_records, validate
from gcp_support import PROJECT, started_world
from sandbox_support import SandboxRun

from sandbox.fakes import RunCondition, RunJob
from sandbox.fakes.http import RECORD_ENV
from sandbox.world import World

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def sandbox_records(example_sandbox_runs: dict[str, SandboxRun]) -> list[dict[str, Any]]:
    run = example_sandbox_runs["serial"]
    assert run.returncode in (0, 1), run.output[-3000:]
    assert run.record is not None
    return read_records(run.record)


@pytest.fixture(scope="module")
def edge_records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    """The answers a healthy example never provokes: enums as numbers (an unknown one too),
    IAM's 403, SERVICE_DISABLED."""
    base = tmp_path_factory.mktemp("edges")
    record = base / "edges.jsonl"
    with started_world(base / "world", storage=False) as world:
        world.cloud_run.add_job(
            PROJECT, "us-central1", RunJob("new", "img", "sa", terminal_condition=RunCondition("Ready", 99))
        )
        os.environ[RECORD_ENV] = str(record)
        try:
            _provoke(world)
        finally:
            del os.environ[RECORD_ENV]
    yield read_records(record)


def _provoke(world: World) -> None:
    jobs = f"{world.cloud_run.url}/v2/projects/{PROJECT}/locations/us-central1/jobs"
    numbers = {"$alt": "json;enum-encoding=int"}
    requests.get(f"{jobs}/new", params=numbers, timeout=5)
    requests.get(jobs, params=numbers, timeout=5)
    requests.get(f"{jobs}/absent", timeout=5)
    world.service_usage.set_service(PROJECT, "run.googleapis.com", "DISABLED")
    requests.get(f"{jobs}/new", timeout=5)
    services = f"{world.service_usage.url}/v1/projects/{PROJECT}/services/run.googleapis.com"
    requests.get(services, params=numbers, timeout=5)


def test_every_sandbox_response_matches_googles_schema(sandbox_records: list[dict[str, Any]]) -> None:
    problems = validate(sandbox_records)
    assert not problems, "\n".join(str(p) for p in problems[:40])
    servers = Counter(entry["server"] for entry in sandbox_records)
    # The run really went through every kind of server (a recording that misses one proves nothing).
    assert set(servers) >= {"CloudRunFake", "ServiceUsageFake", "ResourceManagerFake", "IamFake",
                            "QuotasFake", "BigQueryFront", "StorageFront"}  # fmt: skip
    assert any(entry["enum_numbers"] for entry in sandbox_records)  # the gapic clients asked for ints


def test_enum_numbers_and_google_error_bodies_match_the_references(
    edge_records: list[dict[str, Any]],
) -> None:
    problems = validate(edge_records)
    assert not problems, "\n".join(str(p) for p in problems)
    statuses = sorted(entry["status"] for entry in edge_records)
    assert statuses == [200, 200, 200, 403, 404]


def _first(records: list[dict[str, Any]], server: str, status: int = 200) -> dict[str, Any]:
    return copy.deepcopy(
        next(e for e in records if e["server"] == server and e["status"] == status and e["body"])
    )


def test_the_validator_flags_a_broken_body(edge_records: list[dict[str, Any]]) -> None:
    good = _first(edge_records, "CloudRunFake")
    assert check_exchange(good) == []
    renamed = copy.deepcopy(good)
    renamed["body"]["terminalCondtion"] = renamed["body"].pop("terminalCondition")
    assert any("terminalCondtion: no such field" in str(p) for p in check_exchange(renamed))
    retyped = copy.deepcopy(good)
    retyped["body"]["generation"] = 1  # int64 is a JSON string
    assert any("generation: expected a string" in str(p) for p in check_exchange(retyped))
    misnamed = copy.deepcopy(good)
    misnamed["enum_numbers"] = False
    misnamed["body"]["terminalCondition"]["state"] = "READY"
    assert any("'READY' is not one of the enum values" in str(p) for p in check_exchange(misnamed))
    error = _first(edge_records, "CloudRunFake", 404)
    del error["body"]["error"]["status"]
    error["body"]["error"]["reason"] = "notFound"
    found = [str(p) for p in check_exchange(error)]
    assert any("error.status must be" in p for p in found) and any(
        "error.reason is not a field" in p for p in found
    )


def test_the_validator_flags_a_broken_quotas_body(sandbox_records: list[dict[str, Any]]) -> None:
    good = _first(sandbox_records, "QuotasFake")
    assert check_exchange(good) == []
    good["body"]["quotaIdentifier"] = "x"
    assert check_exchange(good)
