"""A local Google Cloud: every API the suite calls, on 127.0.0.1, behind real credentials.

The BigQuery emulator and fake-gcs-server sit behind fronts (which also answer IAM tests and
dry-run costs, count requests and inject faults); Cloud Run, Quotas, Service Usage, Resource
Manager and IAM are REST fakes. A service-account key file whose token_uri points at the IAM
fake is the world's Application Default Credentials, so google-auth really signs and exchanges
a JWT. `env()` gives a suite process everything it needs to use the world instead of Google.

Used by our tests (small seeds) and by `pytest --sandbox` (the example pipeline's seed).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from google.auth.credentials import AnonymousCredentials

from sandbox.credentials import write_service_account_key
from sandbox.fakes import (
    BigQueryFront,
    CloudRunFake,
    FakeServer,
    ProjectSeed,
    QuotasFake,
    ResourceManagerFake,
    ServiceUsageFake,
    StorageFront,
)
from sandbox.fakes.auth import IamFake
from sandbox.fakes.http import Request, permission_denied, service_disabled
from sandbox.processes import LocalServer

__all__ = ["RUNNER_NAME", "World", "environment_applied"]

#: The identity the suite's ADC names inside the world (the operator running the checks).
RUNNER_NAME: Final = "readiness-runner"
#: The discard port on loopback: nothing listens, so a connection is refused at once.
_DEAD_PROXY: Final = "http://127.0.0.1:9"


class World:
    """Start with `with World(work_dir, project) as world:`; seed through the attributes."""

    def __init__(
        self,
        work_dir: Path,
        project: str,
        *,
        bigquery: bool = True,
        storage: bool = True,
        location: str = "US",
        bigquery_server: LocalServer | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.project = project
        self.location = location
        self._want_bigquery = bigquery
        #: A BigQuery emulator already running for `project` (tests share one per process: it
        #: takes seconds to start); this world empties it instead of starting its own.
        self._given_bigquery = bigquery_server
        self._want_storage = storage
        self.runner = f"{RUNNER_NAME}@{project}.iam.gserviceaccount.com"
        self.iam = IamFake()
        self.cloud_run = CloudRunFake()
        self.quotas = QuotasFake()
        self.service_usage = ServiceUsageFake()
        self.resource_manager = ResourceManagerFake()
        self.bq_emulator: LocalServer | None = None
        self.bq_front: BigQueryFront | None = None
        self.gcs_emulator: LocalServer | None = None
        self.gcs_front: StorageFront | None = None
        self.key_file = work_dir / "adc-service-account.json"
        #: Principals held to their seeded grants on every call (least privilege); any other
        #: caller may call everything, and only testIamPermissions answers from the grants.
        self.least_privilege: set[str] = set()
        self._stack = contextlib.ExitStack()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            for fake in self.fakes():
                fake.guard = self._guard
                fake.start()
                self._stack.callback(fake.stop)
            public = write_service_account_key(
                self.key_file, self.runner, self.project, f"{self.iam.url}/token"
            )
            self.iam.add_account(self.runner, public)
            self.service_usage.add_project(self.project)
            self.resource_manager.add_project(ProjectSeed(project_id=self.project))
            if self._want_bigquery:
                self._start_bigquery()
            if self._want_storage:
                self._start_storage()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_bigquery(self) -> None:
        from sandbox.bigquery_emulator import start_bigquery_emulator

        if self._given_bigquery is not None:
            self.bq_emulator = self._given_bigquery
            self._empty_bigquery()
        else:
            self.bq_emulator = start_bigquery_emulator(self.work_dir / "bigquery", self.project)
            self._stack.callback(self.bq_emulator.stop)
        self.bq_front = BigQueryFront(self.bq_emulator.url, location=self.location)
        self.bq_front.guard = self._guard
        self.bq_front.start()
        self._stack.callback(self.bq_front.stop)

    def _empty_bigquery(self) -> None:
        """Drop every dataset a world before this one left in the shared emulator."""
        admin = self.bigquery_admin()
        for dataset in list(admin.list_datasets(self.project)):
            admin.delete_dataset(dataset.reference, delete_contents=True, not_found_ok=True)

    def _start_storage(self) -> None:
        from sandbox.gcs_emulator import start_gcs_emulator

        self.gcs_emulator = start_gcs_emulator(self.work_dir / "gcs")
        self._stack.callback(self.gcs_emulator.stop)
        self.gcs_front = StorageFront(self.gcs_emulator.url)
        self.gcs_front.guard = self._guard
        self.gcs_front.start()
        self._stack.callback(self.gcs_front.stop)

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what every call is held to -------------------------------------------------------------

    def _guard(self, fake: FakeServer, request: Request, route_permission: str | None) -> None:
        """Google's order: a disabled service refuses every call; then IAM refuses a call the
        caller's grants (on the resource, or inherited from the project) do not allow."""
        project = fake.project_of(request) or self.project
        consumer = self.service_usage.projects.get(project)
        # Only a service the seed disabled explicitly: a world seeds the APIs it uses, not all.
        if fake.service and consumer is not None and consumer.services.get(fake.service) == "DISABLED":
            raise service_disabled(fake.service, consumer.number)
        permission = fake.permission_for(request, route_permission)
        if permission is None or not self.least_privilege:
            return
        principal = self.iam.principal_of(request)
        if principal not in self.least_privilege:
            return
        seed = self.resource_manager.projects.get(project)
        granted = set(seed.permissions) if seed else set()
        resource = f"projects/{project}"
        own = fake.resource_grants(request)
        if own is not None:
            resource, on_resource = own
            granted |= on_resource
        if permission not in granted:
            raise permission_denied(permission, resource)

    def fakes(self) -> list[FakeServer]:
        return [self.iam, self.cloud_run, self.quotas, self.service_usage, self.resource_manager]

    # -- what a suite process needs -------------------------------------------------------------

    def endpoints(self) -> dict[str, str]:
        urls = {
            "run": self.cloud_run.url,
            "quotas": self.quotas.url,
            "serviceusage": self.service_usage.url,
            "resourcemanager": self.resource_manager.url,
            "iam": self.iam.url,
            "iamcredentials": self.iam.url,
        }
        if self.bq_front is not None:
            urls["bigquery"] = self.bq_front.url
        if self.gcs_front is not None:
            urls["storage"] = self.gcs_front.url
        return urls

    def env(self) -> dict[str, str]:
        """Environment for a suite process: the world's ADC and endpoints, nothing of the host's."""
        return {
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.key_file),
            "READINESS_ENDPOINTS": json.dumps(self.endpoints(), sort_keys=True),
            # Never fall back to the host's gcloud login or a metadata server.
            "CLOUDSDK_CONFIG": str(self.work_dir / "no-gcloud-config"),
            "NO_GCE_CHECK": "true",
            # google-cloud-storage otherwise fetches bucket metadata in the background
            # (extra, uncounted requests that also consume injected faults).
            "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA": "true",
            # The world is offline by construction: google-auth looks up "regional access
            # boundaries" at the real iamcredentials.googleapis.com in the background, whatever
            # our endpoints say. Everything not on loopback goes to a proxy port where nothing
            # listens, so such a call fails at once on this machine instead of leaving it.
            "HTTPS_PROXY": _DEAD_PROXY,
            "HTTP_PROXY": _DEAD_PROXY,
            "NO_PROXY": "127.0.0.1,localhost",
        }

    @contextlib.contextmanager
    def applied(self) -> Iterator[Self]:
        """Set env() in this process for the duration (the sandbox runs the suite in-process)."""
        with environment_applied(self.env()):
            yield self

    # -- seeding clients (anonymous, straight to the emulators: seeding is not counted) -------------

    def bigquery_admin(self) -> Any:
        from google.cloud import bigquery

        assert self.bq_emulator is not None, "world started without BigQuery"
        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            location=self.location,
            client_options={"api_endpoint": self.bq_emulator.url},
        )

    def storage_admin(self) -> Any:
        from google.cloud import storage  # type: ignore[attr-defined]

        assert self.gcs_emulator is not None, "world started without Cloud Storage"
        return storage.Client(
            project=self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.gcs_emulator.url},
        )

    def pipeline_account(self, name: str = "pipeline") -> str:
        """A service account the runner may impersonate (as the pipeline's identity)."""
        email = f"{name}@{self.project}.iam.gserviceaccount.com"
        self.iam.add_account(email)
        self.iam.allow_impersonation(self.runner, email)
        return email


@contextlib.contextmanager
def environment_applied(env: Mapping[str, str]) -> Iterator[None]:
    """`env` set in this process for the duration; what was there before comes back after."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
