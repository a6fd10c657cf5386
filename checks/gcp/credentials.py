"""Finding and proving the credentials the checks run with.

Application Default Credentials, optionally impersonating the pipeline's service account, so
that every permission is tested as the pipeline has it. Off Google Cloud, the metadata server
is not consulted: google.auth would otherwise wait seconds for it before saying "none".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Final

import google.auth
import google.auth.exceptions
import google.auth.transport.requests
from google.auth import impersonated_credentials
from google.auth.compute_engine import _metadata
from google.auth.credentials import Credentials

__all__ = ["NO_CREDENTIALS", "CredentialsError", "Identity", "resolve_identity"]

SCOPES: Final = ("https://www.googleapis.com/auth/cloud-platform",)

NO_CREDENTIALS: Final = "unverified: no credentials; run `gcloud auth application-default login`"


class CredentialsError(Exception):
    """Credentials are absent or unusable; the message is safe to report (no token material)."""


@dataclass(frozen=True, slots=True)
class Identity:
    credentials: Credentials
    #: The principal checks act as: the impersonated service account, or the ADC principal.
    principal: str
    #: The ADC principal itself (before impersonation).
    source_principal: str
    #: The project ADC names, if any (the manifest's gcp.project is what checks use).
    adc_project: str | None


def _on_google_cloud() -> bool:
    """Cheap signs that a metadata server exists: on GCE/Cloud Run, or pointed at an emulator."""
    if os.environ.get("GCE_METADATA_HOST") or os.environ.get("GCE_METADATA_IP"):
        return True
    if os.environ.get("K_SERVICE") or os.environ.get("CLOUD_RUN_JOB"):
        return True
    return bool(_metadata.detect_gce_residency_linux())


class _NoMetadataRequest:
    """A transport for google.auth.default that refuses at once instead of probing the network."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise google.auth.exceptions.TransportError("metadata server not consulted: not on Google Cloud")


def _principal(credentials: Credentials) -> str:
    email = getattr(credentials, "service_account_email", None)
    if isinstance(email, str) and email and email != "default":
        return email
    return "user credentials" if type(credentials).__name__ == "Credentials" else type(credentials).__name__


def resolve_identity(impersonate: str, iamcredentials_endpoint: str, timeout: float) -> Identity:
    """ADC, refreshed once to prove a token can be had, then impersonation when asked.

    Raises CredentialsError with a one-line reason; the reason never carries token material.
    """
    request: Any = None if _on_google_cloud() else _NoMetadataRequest()
    try:
        source, project = google.auth.default(scopes=list(SCOPES), request=request)
    except google.auth.exceptions.DefaultCredentialsError:
        raise CredentialsError(NO_CREDENTIALS) from None
    http = google.auth.transport.requests.Request()
    try:
        source.refresh(http)
    except google.auth.exceptions.GoogleAuthError as exc:
        raise CredentialsError(f"unverified: credentials found but no token: {_safe(exc)}") from None
    source_principal = _principal(source)
    if not impersonate:
        return Identity(source, source_principal, source_principal, project)
    endpoint = None
    if iamcredentials_endpoint:
        endpoint = (
            f"{iamcredentials_endpoint.rstrip('/')}/v1/projects/-/serviceAccounts/"
            f"{impersonate}:generateAccessToken"
        )
    target = impersonated_credentials.Credentials(
        source_credentials=source,
        target_principal=impersonate,
        target_scopes=list(SCOPES),
        lifetime=900,
        iam_endpoint_override=endpoint,
    )
    try:
        target.refresh(http)
    except google.auth.exceptions.GoogleAuthError as exc:
        raise CredentialsError(
            f"unverified: cannot impersonate {impersonate} as {source_principal}: {_safe(exc)}"
        ) from None
    return Identity(target, impersonate, source_principal, project)


def _safe(exc: Exception) -> str:
    """The first line of an auth error, without the response body google.auth appends."""
    # google.auth puts the token endpoint's whole JSON reply in args[1]; keep only the summary,
    # plus the status and message when that reply is a Google error (which carries no token).
    first = exc.args[0] if exc.args else exc
    summary = str(first).split("\n", 1)[0][:200]
    reason = _error_reason(exc.args[1]) if len(exc.args) > 1 else ""
    return f"{summary} ({reason})" if reason else summary


def _error_reason(body: object) -> str:
    """`STATUS: message` of an error reply; "" for anything else (a reply with a token, say)."""
    if not isinstance(body, str):
        return ""
    try:
        reply = json.loads(body)
    except ValueError:
        return ""
    error = reply.get("error") if isinstance(reply, dict) else None
    if isinstance(error, dict):  # Google APIs: {"error": {"code", "message", "status"}}
        text = f"{error.get('status', '')}: {error.get('message', '')}"
    elif isinstance(error, str):  # OAuth token endpoint: {"error", "error_description"}
        text = f"{error}: {reply.get('error_description', '')}"
    else:
        return ""
    return text.strip(": ").split("\n", 1)[0][:200]
