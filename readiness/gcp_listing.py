"""`readiness init --gcp-project P`: what the project holds, as manifest sections to review.

Reads only (lists datasets and their tables, buckets, Cloud Run jobs, enabled APIs), through
the clients the checks use, so `READINESS_ENDPOINTS` points it at the sandbox like the suite.
A listing that fails becomes a comment naming why; the rest of the manifest is still written.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from checks.gcp.access import GoogleAccess, endpoints_for
from checks.gcp.credentials import CredentialsError, resolve_identity
from readiness.manifest.gcp import Gcp

__all__ = ["GcpListing", "gcp_text", "list_project"]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(slots=True)
class GcpListing:
    gcp: Gcp
    #: Dataset id -> table family (name prefix before the first "_") -> tables.
    datasets: dict[str, Counter[str]] = field(default_factory=dict)
    buckets: list[str] = field(default_factory=list)
    #: (job name, image, service account)
    jobs: list[tuple[str, str, str]] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)
    #: One line per listing that failed.
    problems: list[str] = field(default_factory=list)


def list_project(project: str, location: str, region: str, timeout: float = 30) -> GcpListing:
    gcp = Gcp(project=project, location=location, region=region, timeout_seconds=timeout)
    listing = GcpListing(gcp)
    endpoints = endpoints_for(gcp)
    try:
        identity = resolve_identity("", endpoints.iamcredentials, timeout)
    except CredentialsError as exc:
        listing.problems.append(f"credentials: {exc}")
        return listing
    access = GoogleAccess(gcp, identity, endpoints)
    _try(listing, "datasets", lambda: _datasets(access, listing))
    _try(
        listing,
        "buckets",
        lambda: listing.buckets.extend(sorted(b.name for b in access.storage.list_buckets(timeout=timeout))),
    )
    _try(listing, "Cloud Run jobs", lambda: _jobs(access, listing))
    _try(listing, "enabled APIs", lambda: _apis(access, listing))
    return listing


def _try(listing: GcpListing, what: str, read: Any) -> None:
    try:
        read()
    except Exception as exc:  # any API failure: the listing says so and goes on
        message = _CONTROL.sub(" ", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        listing.problems.append(f"{what}: not listed ({type(exc).__name__}: {message[:200]})")


def _datasets(access: GoogleAccess, listing: GcpListing) -> None:
    client = access.bigquery
    for dataset in client.list_datasets(timeout=access.timeout):
        families: Counter[str] = Counter()
        for table in client.list_tables(dataset.dataset_id, timeout=access.timeout):
            families[table.table_id.split("_", 1)[0].lower()] += 1
        listing.datasets[dataset.dataset_id] = families


def _jobs(access: GoogleAccess, listing: GcpListing) -> None:
    parent = f"projects/{access.project}/locations/{access.gcp.region}"
    for job in access.run_jobs.list_jobs(parent=parent, timeout=access.timeout):
        containers = job.template.template.containers
        image = containers[0].image if containers else ""
        listing.jobs.append((job.name.rsplit("/", 1)[-1], image, job.template.template.service_account))


def _apis(access: GoogleAccess, listing: GcpListing) -> None:
    request = {"parent": f"projects/{access.project}", "filter": "state:ENABLED"}
    for service in access.service_usage.list_services(request=request, timeout=access.timeout):
        listing.apis.append(service.config.name or service.name.rsplit("/", 1)[-1])
    listing.apis.sort()


def _s(value: str) -> str:
    return json.dumps(_CONTROL.sub(" ", value), ensure_ascii=False)


def gcp_text(listing: GcpListing) -> str:
    """`[gcp]` and the resource sections, every item at P3 with a comment to review."""
    gcp = listing.gcp
    out = [
        "",
        "# --- the Google side (listed from the project by `readiness init --gcp-project`) -----------",
        "# Everything below is what the project holds today, at P3: keep what the phase needs, raise",
        "# its priority, delete the rest. Set `impersonate` to the pipeline's service account.",
        "[gcp]",
        f"project = {_s(gcp.project)}",
        f"location = {_s(gcp.location)}",
        f"region = {_s(gcp.region)}",
    ]
    out += [f"# {line}" for line in listing.problems]
    for dataset, families in sorted(listing.datasets.items()):
        total = sum(families.values())
        counts = ", ".join(f"{name}: {count}" for name, count in sorted(families.items()))
        out += [
            "",
            f"# {total} tables; families by name prefix: {counts or 'none'}.",
            "# Mandates ([[mandates]]) for these families are yours to write; min_tables guards a lost table.",
            "[[datasets]]",
            f"id = {_s(dataset)}",
            f"min_tables = {total}",
            'priority = "P3"',
        ]
    for bucket in listing.buckets:
        out += ["", "[[buckets]]", f"name = {_s(bucket)}", 'priority = "P3"']
    for name, image, account in listing.jobs:
        out += ["", f"# Runs {image or 'an unknown image'}.", "[[jobs]]", f"name = {_s(name)}"]
        if image:
            out.append(f"image = {_s(image.split('@', 1)[0].rsplit(':', 1)[0] if '/' in image else image)}")
        if account:
            out.append(f"service_account = {_s(account)}")
        out.append('priority = "P3"')
    if listing.apis:
        out += ["", "# Enabled today; keep those the pipeline calls."]
    for api in listing.apis:
        out += ["[[apis]]", f"name = {_s(api)}", 'priority = "P3"']
    return "\n".join(out) + "\n"
