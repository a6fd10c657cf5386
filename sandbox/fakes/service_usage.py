"""Fake Service Usage API v1: get one service and list services of a project.

Like the real API, a service never enabled on a known project reads as DISABLED, and a
project the caller cannot see answers 403 PERMISSION_DENIED (not 404).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.fakes.http import ApiError, FakeServer, JsonDict, Request, Response, paginate

_PROJECT = r"/v1/projects/(?P<project>[^/:]+)"
_STATES = ("ENABLED", "DISABLED")


@dataclass
class ConsumerProject:
    number: str  # the real API names resources by project number
    #: service name -> ENABLED/DISABLED, or a State number newer than the clients know
    services: dict[str, str | int] = field(default_factory=dict)


class ServiceUsageFake(FakeServer):
    """Seed with `add_project(project_id, number)` and `set_service(project, name, state)`."""

    enum_numbers = {"state": {"STATE_UNSPECIFIED": 0, "DISABLED": 1, "ENABLED": 2}}

    def __init__(self) -> None:
        super().__init__()
        self.projects: dict[str, ConsumerProject] = {}  # keyed by id and by number
        self.route(
            "GET",
            rf"{_PROJECT}/services",
            self._list,
            "serviceusage.services.list",
            "serviceusage.services.list",
        )
        self.route(
            "GET",
            rf"{_PROJECT}/services/(?P<service>[^/:]+)",
            self._get,
            "serviceusage.services.get",
            "serviceusage.services.get",
        )

    def add_project(self, project_id: str, number: str = "123456789012") -> ConsumerProject:
        project = ConsumerProject(number)
        self.projects[project_id] = self.projects[number] = project
        return project

    def set_service(self, project_id: str, service: str, state: str | int = "ENABLED") -> None:
        if isinstance(state, str) and state not in _STATES:
            raise ValueError(f"state must be one of {_STATES}")
        self.projects[project_id].services[service] = state

    def _project(self, request: Request) -> ConsumerProject:
        project = self.projects.get(request.params["project"])
        if project is None:
            raise ApiError(
                403,
                f"Permission denied to get service [{request.params.get('service', '')}]; "
                f"project {request.params['project']} not found or permission denied.",
            )
        return project

    @staticmethod
    def _to_json(project: ConsumerProject, service: str, state: str | int) -> JsonDict:
        return {
            "name": f"projects/{project.number}/services/{service}",
            "parent": f"projects/{project.number}",
            "config": {"name": service, "title": service.split(".")[0]},
            "state": state,
        }

    def _get(self, request: Request) -> Response:
        project, service = self._project(request), request.params["service"]
        state = project.services.get(service, "DISABLED")
        return Response.of_json(self._to_json(project, service, state))

    def _list(self, request: Request) -> Response:
        project = self._project(request)
        wanted = request.query_one("filter")
        if wanted not in (None, "", "state:ENABLED", "state:DISABLED"):
            raise ApiError(400, f"Invalid filter: {wanted}")
        items = [
            self._to_json(project, name, state)
            for name, state in sorted(project.services.items())
            if not wanted or wanted == f"state:{state}"
        ]
        page, token = paginate(items, request)
        body: JsonDict = {"services": page} if page else {}
        if token:
            body["nextPageToken"] = token
        return Response.of_json(body)
