"""Cloud Storage checks end to end: fake-gcs-server behind the storage front, as the pipeline SA.

One world and one shared suite run hold every scenario: each bucket is one (passing, failing or
faulted) subject. fake-gcs-server has no IAM, so denials and broken steps are fault rules on the
front, each aimed at one bucket's paths. Only read-only mode (a `[gcp]` setting) runs apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from gcp_support import (
    facts,
    gcp_section,
    infrastructure_status,
    outcome,
    run_in_world,
    shared_run,
    started_world,
    verdict,
)

from conftest import AuditRun, TargetRepo
from sandbox.fakes import FaultRule, StorageFront
from sandbox.world import World

#: Fresh checkpoints under ckpt/ (and an object outside the prefix); every check passes on it.
READY = "ready-bkt"
#: Nothing under its checkpoint prefix.
EMPTY = "empty-bkt"
#: Its only checkpoint is older than its (tiny) limit by the time the suite runs.
STALE = "stale-bkt"
MISSING = "missing-bkt"
SCRATCH = "zz_readiness_scratch_"

_BUCKETS = f"""
[[buckets]]
name = "{READY}"
checkpoint_prefix = "ckpt/"
max_checkpoint_age_hours = 24
writes = true

[[buckets]]
name = "{MISSING}"

[[buckets]]
name = "denied-bkt"

[[buckets]]
name = "{EMPTY}"
checkpoint_prefix = "ckpt/"

# fake-gcs-server stamps objects with the real time and ignores a given timeCreated, so
# "stale" is a limit (0.0001 h = 0.36 s) shorter than the time since the module seeded it.
[[buckets]]
name = "{STALE}"
checkpoint_prefix = "ckpt/"
max_checkpoint_age_hours = 0.0001

[[buckets]]
name = "nowrite-bkt"
writes = true

[[buckets]]
name = "corrupt-bkt"
writes = true

[[buckets]]
name = "nodelete-bkt"
writes = true

[[buckets]]
name = "upload503-bkt"
writes = true

# The only P0 subject besides the credentials: the verdict turns on its unverified case alone.
[[buckets]]
name = "flaky-bkt"
priority = "P0"
"""


@dataclass
class Shared:
    run: AuditRun
    #: (route, method, target) of every request the run made, captured right after it.
    log: list[tuple[str, str, str]]
    faults: dict[str, FaultRule]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("storage-world")) as world:
        admin = world.storage_admin()
        for name in (READY, EMPTY, STALE, "nowrite-bkt", "nodelete-bkt", "corrupt-bkt", "denied-bkt"):
            admin.create_bucket(name)
        admin.create_bucket("upload503-bkt")
        admin.create_bucket("flaky-bkt")
        for i in range(3):
            admin.bucket(READY).blob(f"ckpt/part-{i}.json").upload_from_string(b"{}")
        admin.bucket(READY).blob("other/x.txt").upload_from_string(b"x")
        admin.bucket(EMPTY).blob("elsewhere/x.txt").upload_from_string(b"x")
        admin.bucket(STALE).blob("ckpt/old.json").upload_from_string(b"{}")
        yield world


@pytest.fixture(scope="module")
def pipeline(world: World) -> str:
    return world.pipeline_account()


@pytest.fixture(scope="module")
def shared(world: World, pipeline: str, tmp_path_factory: pytest.TempPathFactory) -> Shared:
    front = world.gcs_front
    assert front is not None
    faults = {
        "denied": FaultRule.error(403, method="GET", path=r"^/storage/v1/b/denied-bkt$", count=None),
        "flaky": FaultRule.error(503, method="GET", path=r"^/storage/v1/b/flaky-bkt$", count=None),
        "nowrite": FaultRule.error(403, method="POST", path=r"/b/nowrite-bkt/o$"),
        # A 200 with other bytes than were written (no hash header, so the client cannot object).
        "corrupt": FaultRule.malformed(method="GET", path=rf"/b/corrupt-bkt/o/{SCRATCH}"),
        "nodelete": FaultRule.error(403, method="DELETE", path=r"/b/nodelete-bkt/o/", count=None),
        "upload503": FaultRule.error(503, method="POST", path=r"/b/upload503-bkt/o$", count=None),
    }
    for rule in faults.values():
        front.add_fault(rule)
    front.reset_counts()
    time.sleep(0.4)  # past the stale bucket's 0.36 s limit, whatever the machine's speed
    try:
        body = gcp_section(world, impersonate=pipeline, timeout=2) + _BUCKETS
        run = shared_run(tmp_path_factory.mktemp("storage-run"), world, body)
        return Shared(run, front.request_log, faults)
    finally:
        front.clear_faults()


def _scratch_left(world: World, bucket: str) -> list[str]:
    return [b.name for b in world.storage_admin().list_blobs(bucket, prefix=SCRATCH)]


# -- bucket_reachable ---------------------------------------------------------------------------


def test_existing_bucket_is_reachable(shared: Shared) -> None:
    assert outcome(shared.run, "bucket_reachable", f"gs://{READY}") == ("passed", "")
    assert facts(shared.run, "bucket_reachable", f"gs://{READY}")["storage_class"] == "STANDARD"


def test_missing_bucket_is_a_finding(shared: Shared) -> None:
    state, message = outcome(shared.run, "bucket_reachable", f"gs://{MISSING}")
    assert state == "failed"
    assert message.startswith(f"gs://{MISSING}: bucket not found")
    assert infrastructure_status(shared.run, f"gs://{MISSING}").startswith("MISSING (")
    assert infrastructure_status(shared.run, "gs://denied-bkt").startswith("BLOCKED (")


def test_denied_bucket_is_a_finding_naming_the_403(shared: Shared) -> None:
    state, message = outcome(shared.run, "bucket_reachable", "gs://denied-bkt")
    assert state == "failed"
    assert "access denied" in message and "HTTP 403 Forbidden" in message


def test_503_on_get_bucket_is_an_error_naming_the_api_and_the_p0_verdict_is_no_go(shared: Shared) -> None:
    state, message = outcome(shared.run, "bucket_reachable", "gs://flaky-bkt")
    assert state == "error"
    assert message.startswith("Cloud Storage: HTTP 503 ServiceUnavailable")
    assert "retry deadline exceeded" in message
    assert shared.faults["flaky"].fired > 1  # reads are retried inside the deadline, then reported
    assert verdict(shared.run) == "NO-GO"
    assert shared.run.json()["verdict"]["reasons"] == ["1 P0 blocker (1 case)"]


# -- checkpoint_fresh ---------------------------------------------------------------------------


def test_fresh_checkpoints_pass_with_count_and_newest_age_from_one_listing(shared: Shared) -> None:
    assert outcome(shared.run, "checkpoint_fresh", f"gs://{READY}") == ("passed", "")
    found = facts(shared.run, "checkpoint_fresh", f"gs://{READY}")
    assert found["checkpoints"] == 3
    assert found["newest"].startswith("ckpt/part-")
    assert 0 <= found["newest_age_hours"] < 1
    listings = [t for _, m, t in shared.log if m == "GET" and t.startswith(f"/storage/v1/b/{READY}/o?")]
    assert len(listings) == 1, shared.log
    assert "prefix=ckpt%2F" in listings[0]


def test_prefix_without_objects_is_a_finding(shared: Shared) -> None:
    assert outcome(shared.run, "checkpoint_fresh", f"gs://{EMPTY}") == (
        "failed",
        f"gs://{EMPTY}/ckpt/: no checkpoints (0 objects under the prefix)",
    )


def test_checkpoint_older_than_the_limit_is_a_finding(shared: Shared) -> None:
    state, message = outcome(shared.run, "checkpoint_fresh", f"gs://{STALE}")
    assert state == "failed"
    assert message.startswith(f"gs://{STALE}/ckpt/: newest of 1 checkpoint(s) is ")
    assert message.endswith("old (ckpt/old.json), limit 0.0001 h")


def test_bucket_without_prefix_or_writes_gets_only_the_reachability_case(shared: Shared) -> None:
    criteria = {c["criterion"] for c in shared.run.json()["cases"] if c["subject"] == f"gs://{MISSING}"}
    assert criteria == {"bucket_reachable"}


# -- gcs_write_probe ----------------------------------------------------------------------------


def test_write_probe_writes_reads_back_and_removes_its_scratch_object(shared: Shared, world: World) -> None:
    assert outcome(shared.run, "gcs_write_probe", f"gs://{READY}") == ("passed", "")
    found = facts(shared.run, "gcs_write_probe", f"gs://{READY}")
    assert found["mode"] == "write probe"
    assert found["scratch_removed"] is True
    assert found["scratch_object"].startswith(f"gs://{READY}/{SCRATCH}")
    assert _scratch_left(world, READY) == []
    ready = [t for _, m, t in shared.log if f"/b/{READY}/o" in t]
    upload, download, delete = (
        [t for t in ready if t.startswith(f"/upload/storage/v1/b/{READY}/o?")],
        [t for t in ready if t.startswith(f"/download/storage/v1/b/{READY}/o/{SCRATCH}")],
        [t for _, m, t in shared.log if m == "DELETE" and f"/b/{READY}/o/{SCRATCH}" in t],
    )
    assert (len(upload), len(download), len(delete)) == (1, 1, 1), shared.log
    assert "ifGenerationMatch=0" in upload[0]  # never overwrites an existing object


def test_write_denied_is_a_finding_at_the_write_step(shared: Shared) -> None:
    state, message = outcome(shared.run, "gcs_write_probe", "gs://nowrite-bkt")
    assert state == "failed"
    assert message.startswith("gs://nowrite-bkt: write probe failed at write: Cloud Storage: HTTP 403")


def test_bytes_read_back_differ_is_a_finding_and_the_object_is_still_removed(
    shared: Shared, world: World
) -> None:
    state, message = outcome(shared.run, "gcs_write_probe", "gs://corrupt-bkt")
    assert state == "failed"
    assert message.startswith("gs://corrupt-bkt: write probe failed at compare: read back 14 bytes")
    assert shared.faults["corrupt"].fired == 1
    assert _scratch_left(world, "corrupt-bkt") == []  # removed in the finally, after the finding


def test_delete_denied_is_a_finding_and_the_leftover_carries_its_expiry(shared: Shared, world: World) -> None:
    state, message = outcome(shared.run, "gcs_write_probe", "gs://nodelete-bkt")
    assert state == "failed"
    assert message.startswith("gs://nodelete-bkt: write probe failed at delete: Cloud Storage: HTTP 403")
    assert shared.faults["nodelete"].fired == 1  # a denial is an answer: not retried
    assert facts(shared.run, "gcs_write_probe", "gs://nodelete-bkt")["scratch_expires"]
    left = _scratch_left(world, "nodelete-bkt")
    assert len(left) == 1
    blob = world.storage_admin().bucket("nodelete-bkt").get_blob(left[0])
    assert blob.custom_time is not None  # a lifecycle rule (daysSinceCustomTime) can sweep it
    assert blob.metadata["readiness-expires"]


def test_503_on_the_write_is_unverified_and_never_retried_blindly(shared: Shared, world: World) -> None:
    state, message = outcome(shared.run, "gcs_write_probe", "gs://upload503-bkt")
    assert state == "error"
    assert message.startswith("gs://upload503-bkt: write probe interrupted at write: Cloud Storage: HTTP 503")
    assert shared.faults["upload503"].fired == 1
    assert _scratch_left(world, "upload503-bkt") == []


# -- read-only mode: its own run ----------------------------------------------------------------


def test_read_only_mode_replaces_the_probe_with_test_iam_permissions(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    target: TargetRepo,
    pipeline: str,
) -> None:
    front = world.gcs_front
    assert isinstance(front, StorageFront)
    front.grant_bucket(READY, {"storage.objects.create", "storage.objects.get", "storage.objects.delete"})
    front.grant_bucket(EMPTY, {"storage.objects.get"})
    front.reset_counts()
    body = gcp_section(world, impersonate=pipeline, extra="read_only = true\n") + (
        f'\n[[buckets]]\nname = "{READY}"\nwrites = true\n\n[[buckets]]\nname = "{EMPTY}"\nwrites = true\n'
    )
    run = run_in_world(pytester, monkeypatch, world, target, body, "-k", "gcs_write_probe")
    assert outcome(run, "gcs_write_probe", f"gs://{READY}") == ("passed", "")
    assert facts(run, "gcs_write_probe", f"gs://{READY}")["mode"] == "read-only (testIamPermissions)"
    state, message = outcome(run, "gcs_write_probe", f"gs://{EMPTY}")
    assert state == "failed"
    assert f"{pipeline} lacks storage.objects.create, storage.objects.delete" in message
    assert front.request_count("storage.buckets.testIamPermissions") == 2
    assert not [t for _, m, t in front.request_log if m in ("POST", "DELETE")]  # nothing written
