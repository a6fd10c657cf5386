"""Under pytest-xdist, the controller reads each dataset's metadata once and hands it to workers.

Without this every worker would read every dataset again (a 6,000-table dataset is a few
INFORMATION_SCHEMA queries, but per worker, and per worker they count against quotas and the
nightly's time). The controller takes the snapshots before the workers start, writes them to a
private temporary file, and names the file in each worker's `workerinput`; a worker's metadata
cache starts from it (checks/gcp/bq_snapshot.py). Failures travel too: a dataset the
controller could not read is the same unverified error on every worker, without a retry each.
A single-process run does not need this: its one cache already reads each dataset once.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

import pytest

from checks.gcp.access import GoogleAccess, endpoints_for
from checks.gcp.bq_snapshot import HANDOVER_INPUT, BigQueryMetadata, dataset_refs
from checks.gcp.credentials import CredentialsError, resolve_identity
from checks.plugin import loaded_manifest

__all__ = ["prepare_handover"]

_FILE_KEY: Final = pytest.StashKey[str]()


def prepare_handover(config: pytest.Config) -> str:
    """Read every manifest dataset once; the path of the file holding it all, or "" if none."""
    loaded = loaded_manifest(config)
    gcp = loaded.manifest.gcp
    if gcp is None:
        return ""
    refs = dataset_refs(loaded, gcp.project)
    if not refs:
        return ""
    endpoints = endpoints_for(gcp)
    try:
        identity = resolve_identity(gcp.impersonate, endpoints.iamcredentials, gcp.timeout_seconds)
    except CredentialsError:
        return ""  # the workers report it, case by case, through the `google` fixture
    metadata = BigQueryMetadata(GoogleAccess(gcp, identity, endpoints))
    for ref in refs:
        try:
            metadata.snapshot(ref)  # a failure is remembered inside, as its message
        except Exception:
            continue
    folder = Path(tempfile.mkdtemp(prefix="readiness-handover-"))
    path = folder / "bigquery-metadata.pickle"
    with path.open("wb") as file:
        pickle.dump(metadata.export(), file)
    return str(path)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    config: pytest.Config = node.config
    path = config.stash.get(_FILE_KEY, None)
    if path is None:
        path = config.stash[_FILE_KEY] = prepare_handover(config)
    if path:
        node.workerinput[HANDOVER_INPUT] = path


def pytest_unconfigure(config: pytest.Config) -> None:
    path = config.stash.get(_FILE_KEY, None)
    if path:
        shutil.rmtree(Path(path).parent, ignore_errors=True)
