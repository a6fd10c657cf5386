"""Manifest sections for the Google side: project, datasets and mandates, buckets, Cloud Run jobs,
permissions, quotas, APIs and representative queries."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from readiness.manifest.base import AuditedItem, StrictModel
from readiness.priorities import Priority

__all__ = [
    "Api",
    "Bucket",
    "Dataset",
    "Endpoints",
    "Family",
    "FamilyTarget",
    "Gcp",
    "Identity",
    "Job",
    "LegacyViews",
    "Mandate",
    "PermissionSet",
    "Query",
    "Quota",
    "Rename",
    "SourceTable",
]

_NAME = re.compile(r"^[A-Za-z0-9_.:@/-]+$")


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


class Endpoints(StrictModel):
    """Where each API is reached. Empty means Google's own endpoint; the sandbox and rehearsals
    point these at local servers (http://127.0.0.1:PORT)."""

    bigquery: str = ""
    storage: str = ""
    run: str = ""
    quotas: str = ""
    serviceusage: str = ""
    resourcemanager: str = ""
    iam: str = ""
    iamcredentials: str = ""


class Gcp(StrictModel):
    project: str = Field(min_length=1)
    #: BigQuery location of the datasets (INFORMATION_SCHEMA region qualifier, dry runs).
    location: str = "US"
    #: Default Cloud Run region.
    region: str = "us-central1"
    #: Service account the pipeline runs as; when set, every check runs as it (impersonation).
    impersonate: str = ""
    #: No write probes at all; permissions are verified with testIamPermissions alone.
    read_only: bool = False
    #: On-demand price used for cost estimates.
    usd_per_tib: float = Field(default=6.25, ge=0)
    #: User-managed service-account keys older than this are a finding.
    key_max_age_days: int = Field(default=90, ge=1)
    #: Deadline of one API call, retries included.
    timeout_seconds: float = Field(default=30, gt=0, le=600)
    #: Priority of the credential checks (nothing on the Google side runs without them).
    priority: Priority = Field(default=Priority.P0, strict=False)
    endpoints: Endpoints = Endpoints()


class Identity(AuditedItem):
    """The identity the checks run as: derived from `[gcp]`, not written in the manifest."""

    name: str

    @property
    def subject(self) -> str:
        return self.name


class Family(StrictModel):
    """One table family of a mandate (COV, LAG, ...)."""

    family: str = Field(min_length=1)
    #: Which tables belong to the family (regex searched case-insensitively in the name).
    match: str
    #: The compliant table name (regex, full match); empty = names are not mandated.
    table_pattern: str = ""
    #: The compliant column name (regex, full match); empty = columns are not mandated.
    column_pattern: str = ""
    #: Columns every table of the family must have (the schema mandate).
    required_columns: list[str] = []

    _check_regexes = field_validator("match", "table_pattern", "column_pattern")(_regex)


class Mandate(StrictModel):
    id: str = Field(min_length=1)
    title: str = ""
    families: list[Family] = Field(min_length=1)


class Dataset(AuditedItem):
    id: str = Field(min_length=1)
    #: Project of the dataset; default: gcp.project.
    project: str = ""
    #: Ids of the mandates ([[mandates]]) its tables must follow.
    mandates: list[str] = []
    #: The dataset must hold at least this many tables (a lost or half-built dataset shows here).
    min_tables: int | None = Field(default=None, ge=0)
    #: The audited phase writes here: the write probe runs (scratch table, rename, delete).
    writes: bool = False

    @property
    def subject(self) -> str:
        return f"{self.project}.{self.id}" if self.project else self.id


class FamilyTarget(AuditedItem):
    """A mandate family applied to one dataset: derived, one naming/schema case each."""

    dataset: str
    mandate: str
    family: Family

    @property
    def subject(self) -> str:
        return f"{self.dataset}:{self.mandate}:{self.family.family}"


class SourceTable(AuditedItem):
    #: "dataset.table" (in gcp.project) or "project.dataset.table".
    table: str = Field(min_length=3)
    #: Newest data (last modification) must be younger than this.
    max_age_hours: float = Field(gt=0)
    min_rows: int = Field(default=1, ge=0)

    @property
    def subject(self) -> str:
        return self.table

    @field_validator("table")
    @classmethod
    def _qualified(cls, value: str) -> str:
        if not 2 <= len(value.split(".")) <= 3 or not _NAME.match(value):
            raise ValueError(f"table {value!r} must be 'dataset.table' or 'project.dataset.table'")
        return value


class Rename(StrictModel):
    old: str = Field(min_length=1)
    new: str = Field(min_length=1)


class LegacyViews(AuditedItem):
    """A rename's grace period: each old name is a view onto the new table, expiring in time."""

    dataset: str = Field(min_length=1)
    grace_days: int = Field(default=30, ge=1)
    renames: list[Rename] = []
    #: CSV file of `old,new` rows (relative to the manifest) for renames too many to list here.
    renames_file: str = ""

    @property
    def subject(self) -> str:
        return f"{self.dataset} legacy views"

    @model_validator(mode="after")
    def _has_renames(self) -> Self:
        if not self.renames and not self.renames_file:
            raise ValueError("give `renames` or `renames_file`")
        return self


class Query(AuditedItem):
    """A representative query of the phase, dry-run for its cost."""

    name: str = Field(min_length=1)
    sql: str = Field(min_length=1)
    #: How many times the phase runs it.
    runs: int = Field(default=1, ge=1)

    @property
    def subject(self) -> str:
        return self.name


class Bucket(AuditedItem):
    name: str = Field(min_length=3)
    #: Folder holding the pipeline's checkpoints; its newest object's age is checked.
    checkpoint_prefix: str = ""
    max_checkpoint_age_hours: float | None = Field(default=None, gt=0)
    #: The audited phase writes here: the write probe runs (write, read back, delete).
    writes: bool = False

    @property
    def subject(self) -> str:
        return f"gs://{self.name}"


class Job(AuditedItem):
    """A Cloud Run job the phase runs."""

    name: str = Field(min_length=1)
    region: str = ""
    #: Expected image (a prefix match: a tag or digest may follow).
    image: str = ""
    service_account: str = ""
    timeout_seconds: int | None = Field(default=None, gt=0)
    #: Script of the target repo the image runs; the image must be newer than its last change.
    script: str = ""

    @property
    def subject(self) -> str:
        return self.name


class PermissionSet(AuditedItem):
    #: "project", "dataset:ID", "table:DATASET.TABLE", "bucket:NAME" or "job:NAME".
    resource: str
    permissions: list[str] = Field(min_length=1)

    @property
    def subject(self) -> str:
        return self.resource

    @field_validator("resource")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        kind, _, name = value.partition(":")
        if value == "project":
            return value
        if kind not in ("dataset", "table", "bucket", "job") or not name:
            raise ValueError(
                f"resource {value!r}: expected 'project', 'dataset:ID', 'table:DATASET.TABLE', "
                "'bucket:NAME' or 'job:NAME'"
            )
        return value


class Quota(AuditedItem):
    service: str = Field(min_length=1)
    quota_id: str = Field(min_length=1)
    #: What the phase will use of it (the API reports limits only).
    planned: float = Field(ge=0)
    #: Add the dry-run bytes of the phase's queries to `planned` (BigQuery bytes quotas).
    add_query_estimates: bool = False
    #: Which limit applies when the quota has several (e.g. {region = "us-central1"}).
    dimensions: dict[str, str] = {}
    #: Fraction of the limit the plan may use before it is a finding.
    max_share: float = Field(default=0.8, gt=0, le=1)

    @property
    def subject(self) -> str:
        return f"{self.service}/{self.quota_id}"


class Api(AuditedItem):
    name: str = Field(min_length=1)

    @property
    def subject(self) -> str:
        return self.name


#: How a dataset's writes are probed, stated in every report.
ProbeMode = Literal["write probe", "read-only (testIamPermissions)"]
