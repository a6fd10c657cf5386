"""Under pytest-xdist, the controller reads each dataset's metadata once and hands it to workers.

Without this every worker would read every dataset again (a 6,000-table dataset is a few
INFORMATION_SCHEMA queries, but per worker, and per worker they count against quotas and the
nightly's time). The controller starts the read in a thread when it sets up the first worker,
so the read (seconds against real BigQuery) overlaps with the workers' start-up and their local
checks instead of delaying them; it names the file the result will be in, in each worker's
`workerinput`, and a worker waits for the file only when a check first needs BigQuery metadata
(checks/gcp/handover_file.py). Workers run the local checks first for that reason. Failures
travel too: a dataset the controller could not read is the same unverified error on every
worker, without a retry each. A single-process run does not need this: its one cache already
reads each dataset once.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from checks.gcp.access import GoogleAccess, endpoints_for
from checks.gcp.bq_snapshot import (
    HANDOVER_INPUT,
    HANDOVER_WAIT_INPUT,
    BigQueryMetadata,
    DatasetRef,
    dataset_refs,
)
from checks.gcp.credentials import CredentialsError, resolve_identity
from checks.gcp.handover_file import publish, publish_failure
from readiness.cases import Case
from readiness.manifest.gcp import Gcp
from readiness.stash import loaded_manifest

__all__ = ["Handover", "start_handover"]

_KEY: Final = pytest.StashKey["Handover | None"]()
#: How long the controller's end waits for a read still running (an interrupted run).
_JOIN_SECONDS: Final = 2.0


@dataclass(frozen=True)
class Handover:
    path: Path
    #: How long a worker waits for the file: every request of the read at its deadline.
    wait_seconds: float
    thread: threading.Thread


def start_handover(config: pytest.Config) -> Handover | None:
    """Start reading every manifest dataset in the background; None if there is nothing to read."""
    loaded = loaded_manifest(config)
    gcp = loaded.manifest.gcp
    if gcp is None:
        return None
    refs = dataset_refs(loaded, gcp.project)
    if not refs:
        return None
    path = Path(tempfile.mkdtemp(prefix="readiness-handover-")) / "bigquery-metadata.pickle"
    # A token, then a dataset get and two queries per dataset, each within the deadline.
    wait = float(gcp.timeout_seconds) * (3 * len(refs) + 1)
    thread = threading.Thread(
        target=_read_and_publish, args=(gcp, refs, path), name="readiness-handover", daemon=True
    )
    thread.start()
    return Handover(path, wait, thread)


def _read_and_publish(gcp: Gcp, refs: list[DatasetRef], path: Path) -> None:
    try:
        endpoints = endpoints_for(gcp)
        try:
            identity = resolve_identity(gcp.impersonate, endpoints.iamcredentials, gcp.timeout_seconds)
        except CredentialsError:
            # Nothing handed over: each worker's `google` fixture reports it, case by case.
            publish(path, {"datasets": {}, "snapshots": {}})
            return
        metadata = BigQueryMetadata(GoogleAccess(gcp, identity, endpoints))
        for ref in refs:
            with contextlib.suppress(Exception):
                metadata.snapshot(ref)  # an API failure is remembered inside, as its message
        publish(path, metadata.export())
    except Exception as exc:
        # Whatever went wrong, the workers must not wait for a file that will never come.
        with contextlib.suppress(OSError):
            publish_failure(path, f"{type(exc).__name__}: {exc}")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    config: pytest.Config = node.config
    if _KEY not in config.stash:
        config.stash[_KEY] = start_handover(config)
    handover = config.stash[_KEY]
    if handover is not None:
        node.workerinput[HANDOVER_INPUT] = str(handover.path)
        node.workerinput[HANDOVER_WAIT_INPUT] = handover.wait_seconds


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker that is handed the metadata: local checks first, Google-side checks last, so
    the wait for the controller's read (if any is left) comes after the work that needs none.
    Every worker sorts alike, so their collections stay identical, as xdist requires."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if not workerinput or HANDOVER_INPUT not in workerinput:
        return

    def google_side(item: pytest.Item) -> bool:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec is not None else None
        return isinstance(case, Case) and (case.criterion.subject.google or case.criterion.reads_google)

    items.sort(key=google_side)


def pytest_unconfigure(config: pytest.Config) -> None:
    handover = config.stash.get(_KEY, None)
    if handover is not None:
        handover.thread.join(_JOIN_SECONDS)
        shutil.rmtree(handover.path.parent, ignore_errors=True)
