"""Enabled APIs: every API the phase calls is enabled on the project (Service Usage)."""

from __future__ import annotations

from typing import Any, Final

import pytest

from checks.findings import finding, unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.answers import Read
from checks.gcp.enums import enum_name, is_known
from checks.gcp.errors import api_call
from readiness.cases import Case
from readiness.manifest.gcp import Api, Gcp

API: Final = "Service Usage"


def service_read(api: Api, gcp: Gcp) -> Read:
    name = f"projects/{gcp.project}/services/{api.name}"

    def fetch(google: GoogleAccess) -> Any:
        # A 403 here (no serviceusage.services.get, or an unknown project) says nothing about
        # the API's state: it escapes as unverified rather than a finding.
        with api_call(API, google.identity.principal):
            return google.service_usage.get_service(
                request={"name": name}, retry=google.read_retry(API), timeout=google.timeout
            )

    return Read(f"serviceusage.services.get {name}", fetch)


@pytest.mark.criterion("api_enabled")
def check_api_enabled(case: Case, google: GoogleAccess, facts: dict[str, Any]) -> None:
    api = case.item
    assert isinstance(api, Api)
    service = google.answer(service_read(api, google.gcp))
    state = enum_name(service.state)
    facts["state"] = state
    if not is_known(service.state):
        unverified(
            f"{api.name}: state {state} on project {google.project}; upgrade google-cloud-service-usage"
        )
    if state != "ENABLED":
        finding(
            f"{api.name}: {state.lower()} on project {google.project} "
            f"(gcloud services enable {api.name} --project {google.project})"
        )
