"""Fixtures for the Google-side checks: one authenticated access per process, scratch naming.

The access fixture is session-scoped: credentials are resolved once per process (per xdist
worker), and when there are none, pytest re-raises the same cached error for every Google case,
so a run without credentials ends in seconds with every Google case unverified.
"""

from __future__ import annotations

import pytest

from checks.gcp.access import GoogleAccess, endpoints_for
from checks.gcp.credentials import CredentialsError, resolve_identity
from checks.gcp.scratch import ScratchNames
from readiness.stash import loaded_manifest
from readiness.unverified import CheckError

__all__ = ["google", "scratch"]


@pytest.fixture(scope="session")
def google(request: pytest.FixtureRequest) -> GoogleAccess:
    """Authenticated access to the manifest's project, as the pipeline identity."""
    gcp = loaded_manifest(request.config).manifest.gcp
    assert gcp is not None, "Google cases exist only when the manifest has [gcp]"
    endpoints = endpoints_for(gcp)
    try:
        identity = resolve_identity(gcp.impersonate, endpoints.iamcredentials, gcp.timeout_seconds)
    except CredentialsError as exc:
        raise CheckError(str(exc)) from None
    return GoogleAccess(gcp, identity, endpoints)


@pytest.fixture(scope="session")
def scratch(request: pytest.FixtureRequest) -> ScratchNames:
    """Names for the objects this run may create: unmistakable prefix plus the run id."""
    results = request.config.pluginmanager.get_plugin("readiness-results")
    run_id = str(getattr(results, "run_id", "") or "norun")
    return ScratchNames(run_id)
