"""Credentials: a token can actually be obtained, impersonation works, no stale user-managed keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from google.api_core import exceptions as api_exceptions

from checks.findings import finding
from checks.gcp.access import GoogleAccess
from checks.gcp.answers import Read
from checks.gcp.errors import api_call
from readiness.cases import Case


@pytest.mark.criterion("credentials_token")
def check_credentials_token(case: Case, google: GoogleAccess, facts: dict[str, Any]) -> None:
    # The fixture refreshed the credentials once; a token that is absent or already expired
    # means the refresh "worked" without yielding anything usable.
    credentials = google.identity.credentials
    facts["principal"] = google.identity.principal
    if not credentials.token or not credentials.valid:
        finding(f"{google.identity.source_principal}: credentials yielded no valid access token")


@pytest.mark.criterion("credentials_impersonation")
def check_credentials_impersonation(case: Case, google: GoogleAccess, facts: dict[str, Any]) -> None:
    facts["source_principal"] = google.identity.source_principal
    if google.identity.principal != google.gcp.impersonate:
        finding(f"checks run as {google.identity.principal}, not as {google.gcp.impersonate}")
    if not google.identity.credentials.valid:
        finding(f"impersonated token for {google.gcp.impersonate} is not valid")


def _service_account(google: GoogleAccess) -> bool:
    return google.identity.principal.endswith(".gserviceaccount.com")


def keys_read() -> Read:
    """The run's identity's user-managed keys (one identity per run, so one key)."""

    def fetch(google: GoogleAccess) -> Any:
        principal = google.identity.principal
        if not _service_account(google):
            return None
        url = f"{google.iam_url}/v1/projects/{google.project}/serviceAccounts/{principal}/keys"

        def list_keys() -> Any:
            response = google.http.get(url, params={"keyTypes": "USER_MANAGED"}, timeout=google.timeout)
            if response.status_code >= 400:
                raise api_exceptions.from_http_response(response)
            return response.json().get("keys", [])

        # A listing is a read: retried on 429/5xx/resets inside the deadline, like every other read.
        with api_call("IAM", principal):
            return google.read_retry("IAM")(list_keys)()

    return Read("iam.serviceAccounts.keys.list", fetch)


@pytest.mark.criterion("sa_key_age")
def check_sa_key_age(case: Case, google: GoogleAccess, facts: dict[str, Any]) -> None:
    principal = google.identity.principal
    if not _service_account(google):
        facts["keys"] = "not a service account"
        return
    listed: list[dict[str, Any]] = google.answer(keys_read())
    # A disabled key authenticates nothing: it is no risk to rotate (ServiceAccountKey.disabled).
    keys = [k for k in listed if not k.get("disabled")]
    limit = dt.timedelta(days=google.gcp.key_max_age_days)
    now = dt.datetime.now(dt.UTC)
    old = []
    for key in keys:
        created = dt.datetime.fromisoformat(key["validAfterTime"].replace("Z", "+00:00"))
        if now - created > limit:
            old.append(f"{key['name'].rsplit('/', 1)[-1]} ({(now - created).days} days)")
    facts["user_managed_keys"] = len(keys)
    if len(listed) > len(keys):
        facts["disabled_keys"] = len(listed) - len(keys)
    if old:
        finding(
            f"{principal}: {len(old)} user-managed key(s) older than {google.gcp.key_max_age_days} days: "
            + ", ".join(old)
        )
