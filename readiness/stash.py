"""The stash keys both plugins share: the checks write them, the results plugin reads them.

Not part of the pytest-free core (it needs pytest's StashKey); it imports only the core, so
neither plugin imports the other.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from readiness.manifest import LoadedManifest

__all__ = ["FACTS_KEY", "MANIFEST_KEY", "SCRIPT_FACTS_KEY", "SWEEP_KEY", "loaded_manifest"]

#: The validated manifest of this run (set in checks.plugin's pytest_configure).
MANIFEST_KEY: Final = pytest.StashKey[LoadedManifest]()

#: Facts a check gathered while it ran (versions found, imports seen); they travel on the report.
FACTS_KEY: Final = pytest.StashKey[dict[str, Any]]()

#: What the inventory says of the script a describing case read (lines, dependencies, execution
#: mode, last change): travels on the report beside the facts, kept out of the case's own JSON.
SCRIPT_FACTS_KEY: Final = pytest.StashKey[dict[str, Any]]()

#: The scratch sweep's result as JSON (--sweep-scratch, controller only), for the documents.
SWEEP_KEY: Final = pytest.StashKey[dict[str, Any]]()


def loaded_manifest(config: pytest.Config) -> LoadedManifest:
    return config.stash[MANIFEST_KEY]
