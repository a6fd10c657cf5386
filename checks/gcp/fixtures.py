"""Fixtures for the Google-side checks: one authenticated access per process, scratch naming;
and the start of the selected cases' reads (checks/gcp/prefetch.py) once collection is done.

The access fixture is session-scoped: credentials are resolved once per process (per xdist
worker), and when there are none, pytest re-raises the same cached error for every Google case,
so a run without credentials ends in seconds with every Google case unverified.
"""

from __future__ import annotations

from typing import Final

import pytest

from checks.findings import Unverified
from checks.gcp.access import GoogleAccess, endpoints_for
from checks.gcp.bq_snapshot import bigquery_metadata, handed_over
from checks.gcp.credentials import CredentialsError, resolve_identity
from checks.gcp.prefetch import Prefetch, start_prefetch
from checks.gcp.scratch import ScratchNames
from readiness.cases import Case
from readiness.stash import loaded_manifest, run_start

__all__ = ["google", "scratch", "selected_cases"]

_PREFETCH_KEY: Final = pytest.StashKey[Prefetch | None]()


def selected_cases(items: list[pytest.Item]) -> list[Case]:
    cases = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec is not None else None
        if isinstance(case, Case):
            cases.append(case)
    return cases


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """The selected cases' reads, started now, before the first check. On an xdist worker
    the controller makes them (checks/gcp/handover.py) and hands the answers over."""
    config = session.config
    if hasattr(config, "workerinput") or config.option.collectonly:
        return
    config.stash[_PREFETCH_KEY] = start_prefetch(loaded_manifest(config), selected_cases(session.items))


@pytest.fixture(scope="session")
def google(request: pytest.FixtureRequest) -> GoogleAccess:
    """Authenticated access to the manifest's project, as the pipeline identity."""
    config = request.config
    gcp = loaded_manifest(config).manifest.gcp
    assert gcp is not None, "Google cases exist only when the manifest has [gcp]"
    prefetch = config.stash.get(_PREFETCH_KEY, None)
    try:
        if prefetch is not None:
            access = prefetch.access()
            bigquery_metadata(config, access, prefetch.datasets)
            return access
        endpoints = endpoints_for(gcp)
        identity = resolve_identity(gcp.impersonate, endpoints.iamcredentials, gcp.timeout_seconds)
    except CredentialsError as exc:
        raise Unverified(str(exc)) from None
    access = GoogleAccess(gcp, identity, endpoints)
    handed = handed_over(config)
    if isinstance(handed, dict):
        access.answers.update(handed.get("answers", {}))
    return access


@pytest.fixture(scope="session")
def scratch(request: pytest.FixtureRequest) -> ScratchNames:
    """Names for the objects this run may create: unmistakable prefix plus the run id."""
    return ScratchNames(run_start(request.config).run_id)
