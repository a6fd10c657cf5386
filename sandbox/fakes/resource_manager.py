"""Fake Resource Manager API v3: get a project and test the caller's permissions on it.

A project the caller cannot see answers 403 PERMISSION_DENIED, as the real API does so as
not to reveal whether a project id exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.fakes.http import ApiError, FakeServer, JsonDict, Request, Response

_PROJECT = r"/v3/projects/(?P<project>[^/:]+)"


@dataclass
class ProjectSeed:
    project_id: str
    number: str = "123456789012"
    state: str = "ACTIVE"  # or DELETE_REQUESTED
    parent: str = "organizations/1"
    display_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    permissions: set[str] = field(default_factory=set)  # granted to the caller


class ResourceManagerFake(FakeServer):
    """Seed with `add_project(ProjectSeed(...))`; lookups work by id or by number."""

    service = "cloudresourcemanager.googleapis.com"
    enum_numbers = {"state": {"STATE_UNSPECIFIED": 0, "ACTIVE": 1, "DELETE_REQUESTED": 2}}

    def __init__(self) -> None:
        super().__init__()
        self.projects: dict[str, ProjectSeed] = {}
        self.route(
            "GET", _PROJECT, self._get, "cloudresourcemanager.projects.get", "resourcemanager.projects.get"
        )
        self.route(
            "POST",
            rf"{_PROJECT}:testIamPermissions",
            self._test_iam,
            "cloudresourcemanager.projects.testIamPermissions",
        )

    def add_project(self, seed: ProjectSeed) -> ProjectSeed:
        self.projects[seed.project_id] = self.projects[seed.number] = seed
        return seed

    def _find(self, request: Request) -> ProjectSeed:
        seed = self.projects.get(request.params["project"])
        if seed is None:
            raise ApiError(403, "The caller does not have permission")
        return seed

    def _get(self, request: Request) -> Response:
        seed = self._find(request)
        body: JsonDict = {
            "name": f"projects/{seed.number}",
            "parent": seed.parent,
            "projectId": seed.project_id,
            "state": seed.state,
            "displayName": seed.display_name or seed.project_id,
            "createTime": "2024-01-01T00:00:00Z",
            "updateTime": "2024-01-01T00:00:00Z",
            "etag": f'W/"{seed.number}"',
            "labels": seed.labels,
        }
        if seed.state == "DELETE_REQUESTED":
            body["deleteTime"] = "2024-06-01T00:00:00Z"
        return Response.of_json(body)

    def _test_iam(self, request: Request) -> Response:
        seed = self._find(request)
        granted = [p for p in request.json().get("permissions", []) if p in seed.permissions]
        # Proto3 JSON omits empty repeated fields: nothing granted is `{}`.
        return Response.of_json({"permissions": granted} if granted else {})
