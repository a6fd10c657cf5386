"""`[billing]`: where the Cloud Billing export lands, and how fresh it must be (cost monitoring)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from readiness.manifest.base import AuditedItem

if TYPE_CHECKING:
    from readiness.manifest import Manifest

__all__ = ["BillingExport", "billing_references"]

_DATASET = re.compile(r"^(?:[A-Za-z0-9_.:-]+\.)?[A-Za-z0-9_]+$")


class BillingExport(AuditedItem):
    #: The export's dataset: "dataset" (in gcp.project) or "project.dataset".
    dataset: str = Field(min_length=1)
    #: Its export tables (fnmatch); Cloud Billing names them gcp_billing_export_v1_<account>
    #: (standard usage cost) and gcp_billing_export_resource_v1_<account> (detailed).
    tables: str = "gcp_billing_export_*"
    #: The newest export data must be younger than this (Cloud Billing writes several times a day).
    max_age_hours: float = Field(default=48, gt=0)

    @property
    def subject(self) -> str:
        return self.dataset

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, value: str) -> str:
        if not _DATASET.match(value):
            raise ValueError(f"dataset {value!r} must be 'dataset' or 'project.dataset'")
        return value


def billing_references(manifest: Manifest) -> None:
    billing = manifest.billing
    if billing is None:
        return
    if manifest.gcp is None:
        raise ValueError("billing: needs a [gcp] section (project, location, region)")
    phases = {p.id for p in manifest.phases}
    for phase in billing.phase_ids():
        if phase not in phases:
            raise ValueError(f"billing: unknown phase {phase!r}")
    for crit_id in billing.criteria:
        if crit_id != "billing_export":
            raise ValueError(f"billing.criteria: unknown criterion {crit_id!r} for billing")
