"""Fake Cloud Quotas API v1: QuotaInfo get and list for projects.

The API only has the `global` location; other locations are not routed and get a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.fakes.http import ApiError, FakeServer, JsonDict, Request, Response, paginate

_SEG = r"[^/:]+"
_SERVICE = rf"/v1/projects/(?P<project>{_SEG})/locations/global/services/(?P<service>{_SEG})"


@dataclass
class QuotaLimit:
    """One dimensionsInfos[] entry: the limit `value` for a dimension combination."""

    value: int  # -1 means unlimited, as in the real API
    dimensions: dict[str, str] = field(default_factory=dict)  # e.g. {"region": "us-central1"}
    applicable_locations: list[str] = field(default_factory=list)


@dataclass
class QuotaInfoSeed:
    quota_id: str  # e.g. "CPUS-per-project-region"
    metric: str  # e.g. "run.googleapis.com/cpu_allocation"
    limits: list[QuotaLimit]
    metric_unit: str = "1/{project}/{region}"
    refresh_interval: str = ""  # "" for allocation quotas, "day" / "minute" for rate quotas
    dimensions: list[str] = field(default_factory=list)  # e.g. ["region"]
    is_precise: bool = True
    is_fixed: bool = False
    is_concurrent: bool = False
    display_name: str = ""


class QuotasFake(FakeServer):
    """Serves seeded quota infos; add them with `add_quota(project, service, seed)`."""

    service = "cloudquotas.googleapis.com"
    enum_numbers = {
        "containerType": {"CONTAINER_TYPE_UNSPECIFIED": 0, "PROJECT": 1, "FOLDER": 2, "ORGANIZATION": 3}
    }

    def __init__(self) -> None:
        super().__init__()
        self.quotas: dict[tuple[str, str], list[QuotaInfoSeed]] = {}
        self.route(
            "GET",
            rf"{_SERVICE}/quotaInfos",
            self._list,
            "cloudquotas.quotaInfos.list",
            "cloudquotas.quotas.get",
        )
        self.route(
            "GET",
            rf"{_SERVICE}/quotaInfos/(?P<quota_id>{_SEG})",
            self._get,
            "cloudquotas.quotaInfos.get",
            "cloudquotas.quotas.get",
        )

    def add_quota(self, project: str, service: str, seed: QuotaInfoSeed) -> None:
        self.quotas.setdefault((project, service), []).append(seed)

    def _to_json(self, project: str, service: str, seed: QuotaInfoSeed) -> JsonDict:
        infos: list[JsonDict] = []
        for limit in seed.limits:
            # int64 fields are JSON strings in proto3 JSON.
            info: JsonDict = {
                "dimensions": limit.dimensions,
                "details": {"value": str(limit.value)},
            }
            if limit.applicable_locations:
                info["applicableLocations"] = limit.applicable_locations
            infos.append(info)
        parent = f"projects/{project}/locations/global/services/{service}"
        body: JsonDict = {
            "name": f"{parent}/quotaInfos/{seed.quota_id}",
            "quotaId": seed.quota_id,
            "metric": seed.metric,
            "service": service,
            "isPrecise": seed.is_precise,
            "containerType": "PROJECT",
            "dimensions": seed.dimensions,
            "metricDisplayName": seed.display_name or seed.metric,
            "quotaDisplayName": seed.display_name or seed.quota_id,
            "metricUnit": seed.metric_unit,
            "quotaIncreaseEligibility": {"isEligible": not seed.is_fixed},
            "isFixed": seed.is_fixed,
            "dimensionsInfos": infos,
            "isConcurrent": seed.is_concurrent,
        }
        if seed.refresh_interval:
            body["refreshInterval"] = seed.refresh_interval
        return body

    def _list(self, request: Request) -> Response:
        project, service = request.params["project"], request.params["service"]
        items = [self._to_json(project, service, s) for s in self.quotas.get((project, service), [])]
        page, token = paginate(items, request)
        body: JsonDict = {"quotaInfos": page} if page else {}
        if token:
            body["nextPageToken"] = token
        return Response.of_json(body)

    def _get(self, request: Request) -> Response:
        project, service = request.params["project"], request.params["service"]
        for seed in self.quotas.get((project, service), []):
            if seed.quota_id == request.params["quota_id"]:
                return Response.of_json(self._to_json(project, service, seed))
        raise ApiError(404, f"QuotaInfo {request.params['quota_id']} of service {service} not found.")
