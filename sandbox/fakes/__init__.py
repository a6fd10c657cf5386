"""Honest local fakes of the Google REST APIs the readiness checks call.

Each fake is a `FakeServer`: real URL paths, real JSON shapes, Google-format errors, a
request counter per route and fault rules. Drive them with the official clients using
`transport="rest"`, `client_options={"api_endpoint": server.url}` and anonymous credentials.
"""

from sandbox.fakes.cloud_run import CloudRunFake, RunCondition, RunExecution, RunJob
from sandbox.fakes.fronts import BigQueryFront, ProxyFront, StorageFront
from sandbox.fakes.http import (
    UNMATCHED,
    ApiError,
    FakeServer,
    FaultKind,
    FaultRule,
    JsonDict,
    Request,
    Response,
)
from sandbox.fakes.quotas import QuotaInfoSeed, QuotaLimit, QuotasFake
from sandbox.fakes.resource_manager import ProjectSeed, ResourceManagerFake
from sandbox.fakes.service_usage import ConsumerProject, ServiceUsageFake

__all__ = [
    "UNMATCHED",
    "ApiError",
    "BigQueryFront",
    "CloudRunFake",
    "ConsumerProject",
    "FakeServer",
    "FaultKind",
    "FaultRule",
    "JsonDict",
    "ProjectSeed",
    "ProxyFront",
    "QuotaInfoSeed",
    "QuotaLimit",
    "QuotasFake",
    "Request",
    "ResourceManagerFake",
    "Response",
    "RunCondition",
    "RunExecution",
    "RunJob",
    "ServiceUsageFake",
    "StorageFront",
]
