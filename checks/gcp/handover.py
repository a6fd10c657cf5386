"""Under pytest-xdist, the controller makes the selected cases' Google reads once and hands the
answers to the workers.

Without this every worker would read every dataset again (a 6,000-table dataset is a few
INFORMATION_SCHEMA queries, but per worker, and per worker they count against quotas and the
nightly's time), and a job's criteria landing on two workers would read the job twice. The
controller collects nothing, so it learns the selection (after `-m`/`-k`) from the first
worker's collection (`pytest_xdist_node_collection_finished`), starts the same reads a single
process would (checks/gcp/prefetch.py), and publishes their answers in the file it named in
each worker's `workerinput`; a worker waits for the file only when a check first needs Google
(checks/gcp/handover_file.py). Workers run the local checks first for that reason. Failures
travel too: a read that failed on the controller is the same unverified error on every worker,
without a retry each.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from checks.gcp.bq_snapshot import (
    HANDOVER_INPUT,
    HANDOVER_WAIT_INPUT,
)
from checks.gcp.credentials import CredentialsError
from checks.gcp.handover_file import publish, publish_failure
from checks.gcp.prefetch import start_prefetch
from checks.gcp.selection import cases_of_nodeids
from readiness.cases import Case, cases_for
from readiness.criteria import CRITERIA
from readiness.manifest import LoadedManifest
from readiness.stash import loaded_manifest, run_memo

__all__ = ["Handover", "start_handover"]

_KEY: Final = pytest.StashKey["Handover | None"]()
#: How long the controller's end waits for a read still running (an interrupted run).
_JOIN_SECONDS: Final = 2.0


@dataclass
class Handover:
    path: Path
    #: How long a worker waits for the file: every read of the manifest at its deadline.
    wait_seconds: float
    thread: threading.Thread | None = field(default=None)


def start_handover(config: pytest.Config) -> Handover | None:
    """Name the file the answers will be in; None if the manifest has no [gcp]."""
    gcp = loaded_manifest(config).manifest.gcp
    if gcp is None:
        return None
    path = Path(tempfile.mkdtemp(prefix="readiness-handover-")) / "google-answers.pickle"
    # The credentials, then at most four requests per case (a dataset's get and queries, a
    # job's get and execution), each within the deadline: a bound on a hung controller.
    cases = sum(
        len(cases_for(cid, loaded_manifest(config), run_memo(config)))
        for cid in CRITERIA
        if CRITERIA[cid].subject.google
    )
    return Handover(path, float(gcp.timeout_seconds) * (4 * cases + 2))


def _read_and_publish(loaded: LoadedManifest, cases: list[Case], path: Path) -> None:
    try:
        prefetch = start_prefetch(loaded, cases)
        if prefetch is None:
            publish(path, {"datasets": {}, "snapshots": {}, "answers": {}})
            return
        try:
            exported = prefetch.export()
        except CredentialsError:
            # Nothing handed over: each worker's `google` fixture reports it, case by case.
            exported = {"datasets": {}, "snapshots": {}, "answers": {}}
        publish(path, exported)
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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """The first worker's collection is the selection (every worker collects the same)."""
    handover = node.config.stash.get(_KEY, None)
    if handover is None or handover.thread is not None:
        return
    loaded = loaded_manifest(node.config)
    handover.thread = threading.Thread(
        target=_read_and_publish,
        args=(loaded, cases_of_nodeids(loaded, ids, run_memo(node.config)), handover.path),
        name="readiness-handover",
        daemon=True,
    )
    handover.thread.start()


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
        if handover.thread is not None:
            handover.thread.join(_JOIN_SECONDS)
        shutil.rmtree(handover.path.parent, ignore_errors=True)
