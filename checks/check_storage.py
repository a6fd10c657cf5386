"""Cloud Storage: buckets reachable, checkpoints readable and recent, a write probe as the pipeline."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any, Final

import pytest
from google.api_core import exceptions as api_exceptions

from checks.findings import absent, age_text, finding, unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.errors import api_call, denied_permission, describe, service_disabled
from checks.gcp.scratch import ScratchNames, proven_scratch
from readiness.cases import Case
from readiness.manifest.gcp import Bucket, ProbeMode
from readiness.unverified import CheckError

API: Final = "Cloud Storage"

#: What the write probe needs, tested instead of probing when the manifest says read_only.
PROBE_PERMISSIONS: Final = ("storage.objects.create", "storage.objects.get", "storage.objects.delete")


def _bucket(case: Case) -> Bucket:
    assert isinstance(case.item, Bucket)
    return case.item


@contextlib.contextmanager
def _answers(
    subject: str, what: str, who: str = "", reports_absence: dict[str, Any] | None = None
) -> Iterator[None]:
    """NotFound and Forbidden are verified answers (findings); other failures leave it unverified.

    A 403 that names the permission the identity lacks, or a disabled API, says nothing about
    the bucket: unverified, naming what is missing. `reports_absence`: the facts of the case
    that reports a missing bucket as the bucket's absence (bucket_reachable)."""
    __tracebackhide__ = True
    with api_call(API, who):
        try:
            yield
        except api_exceptions.NotFound:
            message = f"{subject}: bucket not found ({what})"
            if reports_absence is not None:
                absent(reports_absence, message)
            finding(message)
        except api_exceptions.Forbidden as exc:
            if denied_permission(exc) or service_disabled(exc):
                unverified(f"{subject}: {describe(API, exc, who=who)}")
            finding(f"{subject}: access denied ({what}): {describe(API, exc)}")


@pytest.mark.criterion("bucket_reachable")
def check_bucket_reachable(case: Case, google: GoogleAccess, facts: dict[str, Any]) -> None:
    bucket = _bucket(case)
    who = google.identity.principal
    with _answers(bucket.subject, f"get bucket as {who}", who, facts):
        found = google.storage.get_bucket(bucket.name, retry=google.read_retry(API), timeout=google.timeout)
    facts["location"] = found.location
    facts["storage_class"] = found.storage_class


@pytest.mark.criterion("checkpoint_fresh")
def check_checkpoint_fresh(case: Case, google: GoogleAccess, facts: dict[str, Any]) -> None:
    bucket = _bucket(case)
    where = f"gs://{bucket.name}/{bucket.checkpoint_prefix}"
    # One listing of the prefix (paged by the client), names and times only: the newest
    # object is found locally, never by one metadata call per object.
    with _answers(where, "list checkpoints", google.identity.principal):
        blobs = list(
            google.storage.list_blobs(
                bucket.name,
                prefix=bucket.checkpoint_prefix,
                fields="items(name,timeCreated,metadata,customTime),nextPageToken",
                retry=google.read_retry(API),
                timeout=google.timeout,
            )
        )
    # A probe's object (all three scratch marks) is not a checkpoint; a look-alike name is.
    checkpoints = [b for b in blobs if not proven_scratch(b.name, b.metadata, b.custom_time).run]
    facts["checkpoints"] = len(checkpoints)
    if not checkpoints:
        finding(f"{where}: no checkpoints (0 objects under the prefix)")
    # timeCreated, not `updated`: a metadata-only change must not make an old checkpoint look new.
    newest = max(checkpoints, key=lambda b: b.time_created)
    age = dt.datetime.now(dt.UTC) - newest.time_created
    facts["newest"] = newest.name
    facts["newest_created"] = newest.time_created.isoformat()
    facts["newest_age_hours"] = round(age.total_seconds() / 3600, 2)
    limit = bucket.max_checkpoint_age_hours
    if limit is not None and age > dt.timedelta(hours=limit):
        finding(
            f"{where}: newest of {len(checkpoints)} checkpoint(s) is {age_text(age)} old "
            f"({newest.name}), limit {limit:g} h"
        )


@pytest.mark.criterion("gcs_write_probe")
def check_gcs_write_probe(
    case: Case, google: GoogleAccess, scratch: ScratchNames, facts: dict[str, Any]
) -> None:
    bucket = _bucket(case)
    mode: ProbeMode = "read-only (testIamPermissions)" if google.gcp.read_only else "write probe"
    facts["mode"] = mode
    if google.gcp.read_only:
        _test_probe_permissions(bucket, google, facts)
        return
    blob = google.storage.bucket(bucket.name).blob(scratch.name("probe"))
    facts["scratch_object"] = f"gs://{bucket.name}/{blob.name}"
    payload = f"readiness write probe {scratch.run_id} {secrets.token_hex(8)}\n".encode()
    completed = False
    try:
        _write(bucket, blob, payload, scratch, google)
        with _step(bucket, "read back"):
            data = blob.download_as_bytes(retry=google.read_retry(API), timeout=google.timeout)
        if data != payload:
            finding(
                f"{bucket.subject}: write probe failed at compare: read back {len(data)} bytes "
                f"that differ from the {len(payload)} written ({blob.name})"
            )
        completed = True
    finally:
        _remove(bucket, blob, google, facts, report=completed)


def _write(bucket: Bucket, blob: Any, payload: bytes, scratch: ScratchNames, google: GoogleAccess) -> None:
    expires = scratch.expiry()
    # custom_time lets a lifecycle rule (daysSinceCustomTime) sweep what a crashed run left.
    blob.custom_time = expires
    # The label (as metadata) and the expiry are two of the three marks the sweeper requires.
    blob.metadata = {**scratch.labels, "readiness-expires": expires.isoformat()}
    with _step(bucket, "write"):
        # No retry: a write that timed out may have landed, and a blind retry would hide that.
        # if_generation_match=0 refuses to overwrite anything that already has the name.
        blob.upload_from_string(
            payload, content_type="text/plain", if_generation_match=0, retry=None, timeout=google.timeout
        )


@contextlib.contextmanager
def _step(bucket: Bucket, step: str) -> Iterator[None]:
    """Name the failing probe step: a denial is a finding, anything else leaves it unverified."""
    __tracebackhide__ = True
    try:
        with api_call(API):
            try:
                yield
            except api_exceptions.Forbidden as exc:
                finding(f"{bucket.subject}: write probe failed at {step}: {describe(API, exc)}")
    except CheckError as exc:
        unverified(f"{bucket.subject}: write probe interrupted at {step}: {exc}")


def _remove(bucket: Bucket, blob: Any, google: GoogleAccess, facts: dict[str, Any], report: bool) -> None:
    """Delete the scratch object; its failure is the case's result only if nothing failed before.

    Attempted even when the write failed: a write that timed out may still have landed.
    """
    __tracebackhide__ = True
    generation = {"if_generation_match": blob.generation} if blob.generation else {}
    try:
        # NotFound: never written, or a retried delete that had already succeeded. The name is
        # unique to this call, so retrying the delete cannot hit another object.
        with _step(bucket, "delete"), contextlib.suppress(api_exceptions.NotFound):
            blob.delete(retry=google.read_retry(API), timeout=google.timeout, **generation)
        facts["scratch_removed"] = True
    except (pytest.fail.Exception, CheckError) as exc:
        facts["scratch_removed"] = False
        expires = blob.custom_time.isoformat() if blob.custom_time else ""
        facts["scratch_expires"] = expires
        # Checked, not assumed: a delete that timed out may have landed, a failed write left
        # nothing. When even that cannot be read, it is named as possibly present.
        try:
            present: bool | None = blob.exists(retry=google.read_retry(API), timeout=google.timeout)
        except Exception:  # the check of a cleanup must not mask the probe's outcome
            present = None
        if present is not False:
            name = f"gs://{bucket.name}/{blob.name}"
            facts["scratch_left"] = [{"name": name, "expires": expires, "confirmed": bool(present)}]
        if report:
            raise
        facts["cleanup_error"] = str(exc)


def _test_probe_permissions(bucket: Bucket, google: GoogleAccess, facts: dict[str, Any]) -> None:
    with _answers(bucket.subject, "testIamPermissions"):
        granted = google.storage.bucket(bucket.name).test_iam_permissions(
            list(PROBE_PERMISSIONS), retry=google.read_retry(API), timeout=google.timeout
        )
    facts["granted"] = sorted(granted)
    missing = [p for p in PROBE_PERMISSIONS if p not in granted]
    if missing:
        finding(
            f"{bucket.subject}: {google.identity.principal} lacks {', '.join(missing)} "
            "(read-only mode: tested with testIamPermissions, nothing written)"
        )
