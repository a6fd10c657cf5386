"""Clients for every Google API the checks use, built from the manifest, never at import time.

Each client goes to Google's endpoint, or to `gcp.endpoints.<api>` when the manifest (or the
sandbox, through READINESS_ENDPOINTS) points it at a local server; the gapic clients use the
REST transport, which is what a local server speaks. Reads retry transient errors inside the
manifest's deadline; writes are never retried blindly (see the probes).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Final

from google.api_core import retry as api_retry
from google.api_core.client_options import ClientOptions

from checks.gcp.answers import Read, recall_answer, settle
from checks.gcp.credentials import Identity
from checks.gcp.errors import note_attempts
from readiness.manifest.gcp import Endpoints, Gcp

__all__ = ["ENDPOINTS_ENV", "GoogleAccess", "endpoints_for"]

#: JSON object {api: url} that overrides gcp.endpoints: how the sandbox reaches every worker.
ENDPOINTS_ENV: Final = "READINESS_ENDPOINTS"


def endpoints_for(gcp: Gcp) -> Endpoints:
    override = os.environ.get(ENDPOINTS_ENV)
    if not override:
        return gcp.endpoints
    merged = gcp.endpoints.model_dump() | json.loads(override)
    return Endpoints(**merged)


@dataclass
class GoogleAccess:
    gcp: Gcp
    identity: Identity
    endpoints: Endpoints
    #: Attempts the latest failed read of each API had made; the same count travels on the
    #: failure itself (errors.attempts_made), which is what an error message reports.
    attempts: dict[str, int] = field(default_factory=dict)
    #: Answers by read key (checks/gcp/answers.py): several criteria of one resource share one
    #: read (a Cloud Run job's get); a read made ahead of its cases is held as a Future until
    #: it lands (checks/gcp/prefetch.py); a controller's answers are preloaded on a worker.
    answers: dict[str, Any] = field(default_factory=dict)

    def answer(self, read: Read) -> Any:
        """The read's answer: made now if nobody made it, else waited for (that read alone)."""
        __tracebackhide__ = True
        held = self.answers.get(read.key)
        if held is None:
            held = self.answers[read.key] = settle(read.fetch, self)
        elif isinstance(held, Future):
            held = held.result()
        return recall_answer(held)

    def for_thread(self) -> GoogleAccess:
        """The same identity and answers with clients of its own, for another thread: the gapic
        REST transports and the Storage client sit on a requests.Session, which requests does
        not document as thread-safe (only the BigQuery client says it may be shared)."""
        return replace(self)

    @property
    def project(self) -> str:
        return self.gcp.project

    @property
    def timeout(self) -> float:
        return self.gcp.timeout_seconds

    def read_retry(self, api: str) -> api_retry.Retry:
        """Retry for idempotent reads: transient errors (429, 5xx, resets) inside the deadline.

        A fresh Retry per call: its predicate sees every failure of that call, retried or not,
        and notes on it the attempts made so far, so "after N attempts" is this call's count.
        """
        failures = 0

        def retryable(exc: Exception) -> bool:
            nonlocal failures
            failures += 1
            note_attempts(exc, failures)
            self.attempts[api] = failures
            return bool(api_retry.if_transient_error(exc))

        return api_retry.Retry(
            predicate=retryable,
            initial=0.2,
            maximum=2.0,
            multiplier=2.0,
            timeout=self.timeout,
        )

    def _options(self, url: str) -> ClientOptions | None:
        return ClientOptions(api_endpoint=url) if url else None

    @cached_property
    def bigquery(self) -> Any:
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=self.identity.credentials,
            location=self.gcp.location,
            client_options=self._options(self.endpoints.bigquery),
        )

    @cached_property
    def storage(self) -> Any:
        from google.cloud import storage  # type: ignore[attr-defined]  # no py.typed

        return storage.Client(
            project=self.project,
            credentials=self.identity.credentials,
            client_options=self._options(self.endpoints.storage),
        )

    @cached_property
    def run_jobs(self) -> Any:
        from google.cloud import run_v2

        return run_v2.JobsClient(
            credentials=self.identity.credentials,
            transport="rest",
            client_options=self._options(self.endpoints.run),
        )

    @cached_property
    def run_executions(self) -> Any:
        from google.cloud import run_v2

        return run_v2.ExecutionsClient(
            credentials=self.identity.credentials,
            transport="rest",
            client_options=self._options(self.endpoints.run),
        )

    @cached_property
    def quotas(self) -> Any:
        from google.cloud import cloudquotas_v1

        return cloudquotas_v1.CloudQuotasClient(
            credentials=self.identity.credentials,
            transport="rest",
            client_options=self._options(self.endpoints.quotas),
        )

    @cached_property
    def service_usage(self) -> Any:
        from google.cloud import service_usage_v1

        return service_usage_v1.ServiceUsageClient(
            credentials=self.identity.credentials,
            transport="rest",
            client_options=self._options(self.endpoints.serviceusage),
        )

    @cached_property
    def projects(self) -> Any:
        from google.cloud import resourcemanager_v3

        return resourcemanager_v3.ProjectsClient(
            credentials=self.identity.credentials,
            transport="rest",
            client_options=self._options(self.endpoints.resourcemanager),
        )

    @cached_property
    def http(self) -> Any:
        """An authorized HTTP session, for the IAM admin API whose Python client speaks only gRPC."""
        from google.auth.transport.requests import AuthorizedSession

        return AuthorizedSession(self.identity.credentials)

    @property
    def iam_url(self) -> str:
        return (self.endpoints.iam or "https://iam.googleapis.com").rstrip("/")
