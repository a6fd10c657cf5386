"""IAM: the phase's permissions, tested with testIamPermissions as the pipeline identity.

testIamPermissions answers with the subset of the asked permissions the caller holds on the
resource, including what it inherits from above (project -> dataset -> table, project -> bucket,
project -> job). A permission it leaves out is verifiably missing there. A 403 on the test
itself means the caller may not even ask: that is unverified, never a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import pytest
from google.api_core import exceptions as api_exceptions

from checks.check_cloud_run import job_name
from checks.findings import finding, unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.answers import Read
from checks.gcp.errors import api_call
from readiness.cases import Case
from readiness.manifest import LoadedManifest
from readiness.manifest.gcp import Job, PermissionSet

#: Permissions on the dataset itself (or on creating/listing its tables): a table cannot hold
#: them, so a table's testIamPermissions cannot answer for them.
_DATASET_ONLY: Final = ("bigquery.datasets.", "bigquery.tables.create", "bigquery.tables.list")


@dataclass
class Answer:
    """What one resource's testIamPermissions showed."""

    #: Where the permissions were tested, in words ("project bqx-ml", "table d.t").
    on: str
    granted: set[str] = field(default_factory=set)
    #: Asked permissions the test cannot settle (see the dataset case).
    unknown: list[str] = field(default_factory=list)
    note: str = ""


def _permission_set(case: Case) -> PermissionSet:
    assert isinstance(case.item, PermissionSet)
    return case.item


def _answer(resource: str, api: str, fn: Any, who: str = "") -> Any:
    """Run one test call: a missing resource is a finding; any other failure is unverified."""
    __tracebackhide__ = True
    with api_call(api, who):
        try:
            return fn()
        except api_exceptions.NotFound:
            finding(f"{resource}: not found")


def _project(google: GoogleAccess, permissions: list[str]) -> Answer:
    response = _answer(
        f"project {google.project}",
        "Resource Manager",
        lambda: google.projects.test_iam_permissions(
            request={"resource": f"projects/{google.project}", "permissions": permissions},
            retry=google.read_retry("Resource Manager"),
            timeout=google.timeout,
        ),
    )
    return Answer(f"project {google.project}", set(response.permissions))


def _bucket(google: GoogleAccess, name: str, permissions: list[str]) -> Answer:
    granted = _answer(
        f"gs://{name}",
        "Cloud Storage",
        lambda: google.storage.bucket(name).test_iam_permissions(
            permissions, retry=google.read_retry("Cloud Storage"), timeout=google.timeout
        ),
    )
    return Answer(f"gs://{name}", set(granted))


def _job(google: GoogleAccess, manifest: LoadedManifest, name: str, permissions: list[str]) -> Answer:
    # The job's region comes from its [[jobs]] entry when the manifest declares it.
    declared = next((j for j in manifest.manifest.jobs if j.name == name), Job(name=name))
    resource = job_name(declared, google)
    response = _answer(
        f"job {resource}",
        "Cloud Run",
        lambda: google.run_jobs.test_iam_permissions(
            request={"resource": resource, "permissions": permissions},
            retry=google.read_retry("Cloud Run"),
            timeout=google.timeout,
        ),
    )
    return Answer(f"job {resource}", set(response.permissions))


def _table_id(google: GoogleAccess, name: str) -> str:
    return name if name.count(".") == 2 else f"{google.project}.{name}"


def _table(google: GoogleAccess, name: str, permissions: list[str], *, listed: bool = False) -> Answer:
    """Google documents that tables.testIamPermissions "may fail open" and answers an empty set
    for a table that does not exist: the table is read first (`listed`: it was just listed)."""
    table_id = _table_id(google, name)
    if not listed:
        _answer(
            f"table {table_id}",
            "BigQuery",
            lambda: google.bigquery.get_table(
                table_id, retry=google.read_retry("BigQuery"), timeout=google.timeout
            ),
            google.identity.principal,
        )
    response = _answer(
        f"table {table_id}",
        "BigQuery",
        lambda: google.bigquery.test_iam_permissions(
            table_id, permissions, retry=google.read_retry("BigQuery"), timeout=google.timeout
        ),
    )
    return Answer(f"table {table_id}", set(response.get("permissions", [])))


def dataset_permissions(google: GoogleAccess, name: str, permissions: list[str]) -> Answer:
    """Dataset permissions, honestly: the BigQuery client (and API) has no dataset-level test.

    Testing on the project would miss the usual grant (roles/bigquery.dataEditor on the
    dataset) and report a false "missing". A table of the dataset inherits the dataset's
    grants, so table-level permissions are tested on one of its tables and a missing one is
    verified. Dataset-only permissions (create/list tables, datasets.*) are tested on the
    project: granted there is proof (it is inherited); not granted there is not known, since a
    dataset-level grant is invisible to every testIamPermissions; they stay unverified (the
    write probe, bq_write_probe, exercises them for real).
    """
    dataset_id = name if "." in name else f"{google.project}.{name}"
    on_table = [p for p in permissions if not p.startswith(_DATASET_ONLY)]
    on_project = [p for p in permissions if p.startswith(_DATASET_ONLY)]
    tested = Answer(f"dataset {dataset_id}")
    if on_table:
        with api_call("BigQuery"):
            try:
                tables = list(
                    google.bigquery.list_tables(
                        dataset_id, max_results=1, retry=google.read_retry("BigQuery"), timeout=google.timeout
                    )
                )
            except api_exceptions.NotFound:
                finding(f"dataset {dataset_id}: not found")
        if tables:
            table = _table(google, f"{dataset_id}.{tables[0].table_id}", on_table, listed=True)
            tested.granted |= table.granted
            tested.note = f"table-level permissions tested on {table.on}, which inherits the dataset's grants"
        else:
            on_project += on_table  # no table to inherit through: the project is all that is left
            tested.note = "the dataset has no table to test on"
    if on_project:
        project = _project(google, on_project)
        tested.granted |= project.granted
        tested.unknown = [p for p in on_project if p not in project.granted]
    return tested


def _test(google: GoogleAccess, manifest: LoadedManifest, resource: str, permissions: list[str]) -> Answer:
    if resource == "project":
        return _project(google, permissions)
    kind, _, name = resource.partition(":")
    if kind == "bucket":
        return _bucket(google, name, permissions)
    if kind == "job":
        return _job(google, manifest, name, permissions)
    if kind == "table":
        return _table(google, name, permissions)
    return dataset_permissions(google, name, permissions)


def permissions_read(wanted: PermissionSet, manifest: LoadedManifest) -> Read:
    """One permission set's testIamPermissions (with the reads it needs first, for a table or a
    dataset): a missing resource is a finding, any other failure unverified."""
    permissions = list(dict.fromkeys(wanted.permissions))
    return Read(
        f"testIamPermissions {wanted.resource} {','.join(permissions)}",
        lambda google: _test(google, manifest, wanted.resource, permissions),
    )


@pytest.mark.criterion("iam_permissions")
def check_iam_permissions(
    case: Case, google: GoogleAccess, manifest: LoadedManifest, facts: dict[str, Any]
) -> None:
    wanted = _permission_set(case)
    permissions = list(dict.fromkeys(wanted.permissions))
    tested: Answer = google.answer(permissions_read(wanted, manifest))
    facts["tested_on"] = tested.on
    facts["principal"] = google.identity.principal
    facts["granted"] = sorted(tested.granted)
    if tested.note:
        facts["note"] = tested.note
    missing = [p for p in permissions if p not in tested.granted and p not in tested.unknown]
    who = google.identity.principal
    if missing:
        finding(f"{tested.on}: {who} lacks {len(missing)} of {len(permissions)}: {', '.join(missing)}")
    if tested.unknown:
        unverified(
            f"{tested.on}: {', '.join(tested.unknown)} not granted at project level; a dataset-level "
            "grant cannot be seen by testIamPermissions (the write probe exercises it)"
        )
