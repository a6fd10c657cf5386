"""Loads the readiness plugins: manifest and case generation (checks), the heap's handling, Google
access, the scratch sweeper (--sweep-scratch), results and documents (reporting), the offline
sandbox."""

from __future__ import annotations

import pytest

from checks.options import ENTRY_POINT, add_options

pytest_plugins = [
    "checks.plugin",
    "checks.script_facts",
    "checks.heap",
    "checks.gcp.fixtures",
    "checks.gcp.handover",
    "checks.gcp.sweeper",
    "reporting.plugin",
    "reporting.escalation",
    "sandbox.plugin",
]


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Installed (`pip install -e .`), the options come from the entry point, early enough for
    # pytest to know them before it picks the rootdir; a bare checkout gets them here.
    if not pluginmanager.has_plugin(ENTRY_POINT):
        add_options(parser)
