"""The selected cases' independent Google reads, issued at once, early, by a bounded pool.

A run's checks mostly wait on Google: made one after another, 46 reads of 100 ms cost 4.6 s
of a nightly whose CPU work is a few seconds (issue 19). Once the cases are selected (after
`-m`/`-k`: only their reads), the credentials are resolved, then every read of
checks/gcp/reads.py (each dataset's get and queries, each job and its latest execution, each
testIamPermissions, quota and API state, the key listing) goes to a pool of threads; a check
waits for its own answer alone (`GoogleAccess.answer`). Each read keeps its own retry and
deadline, so a fault ends a read exactly as when the check made it; writes and probes stay in
the checks.

The threads are daemons and each has its own clients (`GoogleAccess.for_thread`): a read
still hanging when the run ends (a check that hit its time limit) does not hold the process.
"""

from __future__ import annotations

import contextlib
import importlib
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, Final

from checks.gcp.access import GoogleAccess, endpoints_for
from checks.gcp.answers import Ended, How, Read, settle
from checks.gcp.bq_snapshot import BigQueryMetadata, DatasetRef, DatasetState
from checks.gcp.credentials import CredentialsError, Identity, resolve_identity
from checks.gcp.errors import ApiCallError
from checks.gcp.reads import Need, Planned, plan_reads
from readiness.cases import Case
from readiness.manifest import LoadedManifest
from readiness.manifest.gcp import Gcp

__all__ = ["Prefetch", "start_prefetch"]

#: Reads in flight at once: enough to overlap a nightly's few dozen reads, few enough that a
#: project's quotas (per-user request rates) never see a burst.
MAX_THREADS: Final = 8

#: The proto-plus client packages the reads of checks/gcp/reads.py use.
_GAPIC: Final = (
    "google.cloud.run_v2",
    "google.cloud.cloudquotas_v1",
    "google.cloud.service_usage_v1",
    "google.cloud.resourcemanager_v3",
)

_Task = tuple["Future[Any]", Callable[[GoogleAccess], Any]]


class Prefetch:
    """The reads of one run: futures made at once (so a check finds its read registered), filled
    by the pool once the credentials are known."""

    def __init__(self, gcp: Gcp, planned: Planned) -> None:
        self.gcp = gcp
        self.planned = planned
        self.identity: Future[Identity] = Future()
        self.answers: dict[str, Any] = {key: Future() for key in planned.reads}
        self.datasets: dict[DatasetRef, Future[dict[str, Any]]] = {ref: Future() for ref in planned.datasets}
        self._access: GoogleAccess | None = None
        self._lock = threading.Lock()

    def start(self) -> Prefetch:
        threading.Thread(target=self._run, name="readiness-prefetch", daemon=True).start()
        return self

    def access(self) -> GoogleAccess:
        """The run's access, holding the reads' answers; CredentialsError if there is none."""
        identity = self.identity.result()
        with self._lock:
            if self._access is None:
                self._access = self._new_access(identity)
            return self._access

    def _new_access(self, identity: Identity) -> GoogleAccess:
        return GoogleAccess(self.gcp, identity, endpoints_for(self.gcp), answers=self.answers)

    def wait(self) -> None:
        for future in [*self.answers.values(), *self.datasets.values()]:
            if isinstance(future, Future):
                future.exception()

    def export(self) -> dict[str, Any]:
        """Every answer, once all landed: what the xdist controller hands to the workers."""
        self.wait()
        metadata = BigQueryMetadata(self.access()) if self.datasets else None
        if metadata is not None:
            metadata.adopt(self.datasets)
            exported = metadata.export()
        else:
            exported = {"datasets": {}, "snapshots": {}, "data_written": {}}
        answers = {key: f.result() if isinstance(f, Future) else f for key, f in self.answers.items()}
        return {**exported, "answers": answers}

    def _run(self) -> None:
        gcp = self.gcp
        try:
            identity = resolve_identity(
                gcp.impersonate, endpoints_for(gcp).iamcredentials, gcp.timeout_seconds
            )
        except CredentialsError as exc:
            self.identity.set_exception(exc)
            self._fail_all(str(exc))
            return
        except BaseException as exc:
            self.identity.set_exception(exc)
            self._fail_all(f"credentials: {type(exc).__name__}: {exc}")
            raise
        self.identity.set_result(identity)
        access = self.access()
        # The datasets one after another, on one thread of their own: the local BigQuery
        # emulator times out on concurrent INFORMATION_SCHEMA queries (the sweeper's two
        # datasets, tests/test_sweeper.py), and a run has few datasets.
        datasets = [
            (self.datasets[ref], _dataset_read(ref, need, self.planned.sources.get(ref, set())))
            for ref, need in self.planned.datasets.items()
        ]
        _run_pool(datasets, access, min(1, len(datasets)))
        tasks = [(self.answers[read.key], _answer_of(read)) for read in self.planned.ordered()]
        _run_pool(tasks, access, min(MAX_THREADS, len(tasks)))

    def _fail_all(self, message: str) -> None:
        for future in self.answers.values():
            future.set_result(Ended(How.UNVERIFIED, message))
        for future in self.datasets.values():
            future.set_exception(CredentialsError(message))


def _import_clients() -> None:
    """Every gapic client package, in the thread that starts the reads and before them:
    proto-plus registers one marshal per package when the package is imported, and a thread
    converting a message meanwhile iterates that registry (proto/marshal/marshal.py, get_rule):
    "dictionary changed size during iteration" (seen in the fault matrix, one run in six)."""
    for name in _GAPIC:
        importlib.import_module(name)


def _answer_of(read: Read) -> Callable[[GoogleAccess], Any]:
    return lambda google: settle(read.fetch, google)


def _dataset_read(ref: DatasetRef, need: Need, sources: set[str]) -> Callable[[GoogleAccess], dict[str, Any]]:
    def read(google: GoogleAccess) -> dict[str, Any]:
        metadata = BigQueryMetadata(google)
        with contextlib.suppress(ApiCallError):  # remembered inside, as its message
            if need is Need.GET:
                metadata.dataset(ref)
            else:
                metadata.snapshot(ref)
            found = metadata.snapshot(ref) if need is Need.WRITTEN else None
            if found is not None and found.info.state is DatasetState.FOUND and sources & set(found.tables):
                metadata.data_written(ref)
        return metadata.export()

    return read


def _run_pool(tasks: list[_Task], access: GoogleAccess, size: int) -> None:
    """Run every task on `size` daemon threads, each with clients of its own; returns at once."""
    pending: queue.SimpleQueue[_Task] = queue.SimpleQueue()
    for task in tasks:
        pending.put(task)

    def work() -> None:
        mine = access.for_thread()
        while True:
            try:
                future, fn = pending.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(mine))
            except BaseException as exc:  # a bug in a read: its check raises it
                future.set_exception(exc)

    for number in range(size):
        threading.Thread(target=work, name=f"readiness-read-{number}", daemon=True).start()


def start_prefetch(loaded: LoadedManifest, cases: Iterable[Case]) -> Prefetch | None:
    """Start the reads of `cases` (the run's selected ones); None when none talks to Google."""
    gcp = loaded.manifest.gcp
    if gcp is None:
        return None
    planned = plan_reads(cases, loaded)
    if not planned.google:
        return None
    if planned.reads:
        _import_clients()
    return Prefetch(gcp, planned).start()
