"""The suite only touches what it created: a fault, or a Ctrl-C, at every step of every probe.

The BigQuery probe creates, renames and deletes a scratch table; the Cloud Storage probe
writes, reads back and deletes a scratch object. One run faults each of those six steps twice,
in its own dataset or bucket: with a 503 (the step did not happen) and with an answer slower
than the deadline (the step happens after the client gave up, the ambiguous case). Then six
runs are interrupted with SIGINT while one step is in flight (a slow answer holds it there).
After all of them: every scratch object left carries its expiry, every leftover is a scratch
name, and every table, view and blob that is not scratch is exactly as before (names, schemas,
row counts, view definitions, modification times; blob names, md5, crc32c, sizes, generations).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from bq_support import create_table, create_view, run_shared, write_manifest
from gcp_support import PROJECT, outcome, started_world

from checks.gcp.scratch import SCRATCH_PREFIX, SCRATCH_TTL, looks_like_scratch
from conftest import REPO, AuditRun
from sandbox.fakes import FaultRule
from sandbox.fakes.http import FakeServer
from sandbox.world import World

DEADLINE: Final = 2
#: A "slow" step answers after this: past the deadline, so the client has given up by then.
SLOW: Final = DEADLINE + 1.5
#: How long an interrupted step is held in flight.
HELD: Final = 5.0

BQ_STEPS: Final = ("create", "rename", "delete")
GCS_STEPS: Final = ("write", "read", "delete")
KINDS: Final = ("503", "slow")

#: Every dataset and bucket of the module (faulted runs, interrupted runs, healthy controls).
DATASETS: Final = [f"s_{step}_{kind}" for step in BQ_STEPS for kind in KINDS] + [
    *(f"i_{step}" for step in BQ_STEPS),
    "s_ok",
]
BUCKETS: Final = [f"s-{step}-{kind}" for step in GCS_STEPS for kind in KINDS] + [
    *(f"i-{step}" for step in GCS_STEPS),
    "s-ok",
]

# The rename is an ALTER TABLE job: POST .../jobs, one path for every dataset. The faulted run
# puts the two rename datasets first, so the first two job inserts of the run are theirs.
_RENAME_ORDER: Final = ["s_rename_503", "s_rename_slow"]


def _rule(kind: str, method: str, path: str, **kw: Any) -> FaultRule:
    if kind == "503":
        return FaultRule.error(503, method=method, path=path, **kw)
    return FaultRule.slow(SLOW, method=method, path=path, **kw)


def step_rules(world: World) -> list[tuple[FakeServer, FaultRule]]:
    """A fault at each step of each probe, each aimed at its own dataset or bucket."""
    bq, gcs = world.bq_front, world.gcs_front
    assert bq is not None and gcs is not None
    rules: list[tuple[FakeServer, FaultRule]] = []
    for kind in KINDS:
        rules += [
            (bq, _rule(kind, "POST", rf"/datasets/s_create_{kind}/tables$", count=None)),
            (bq, _rule(kind, "DELETE", rf"/datasets/s_delete_{kind}/tables/{SCRATCH_PREFIX}", count=None)),
            (gcs, _rule(kind, "POST", rf"/upload/storage/v1/b/s-write-{kind}/o$", count=None)),
            (gcs, _rule(kind, "GET", rf"/b/s-read-{kind}/o/{SCRATCH_PREFIX}", count=None)),
            (gcs, _rule(kind, "DELETE", rf"/b/s-delete-{kind}/o/{SCRATCH_PREFIX}", count=None)),
        ]
    # The statement is never retried: one firing each is the whole step (skip 0: the first rule
    # takes the run's first job insert, the second rule the next).
    rules += [(bq, _rule(kind, "POST", rf"/projects/{PROJECT}/jobs$", count=1)) for kind in KINDS]
    return rules


#: Interrupted runs, all at once: (dataset or bucket, method, path of the step held in flight).
#: The rename is a job insert, POST /projects/<job project>/jobs, the one path every rename
#: shares: the i_rename run runs its jobs in a project of its own (its dataset stays in the
#: world's project), so holding its rename holds no other run's.
INTERRUPTS: Final = [
    ("i_create", "POST", r"/datasets/i_create/tables$"),
    ("i_rename", "POST", r"/projects/interrupt-rename/jobs$"),
    ("i_delete", "DELETE", rf"/datasets/i_delete/tables/{SCRATCH_PREFIX}"),
    ("i-write", "POST", r"/upload/storage/v1/b/i-write/o$"),
    ("i-read", "GET", rf"/b/i-read/o/{SCRATCH_PREFIX}"),
    ("i-delete", "DELETE", rf"/b/i-delete/o/{SCRATCH_PREFIX}"),
]


def gcp(world: World, timeout: float, project: str = "") -> str:
    return f'\n[gcp]\nproject = "{project or world.project}"\ntimeout_seconds = {timeout}\n'


def probes(datasets: list[str], buckets: list[str], dataset_project: str = "") -> str:
    where = f'project = "{dataset_project}"\n' if dataset_project else ""
    text = "".join(f'\n[[datasets]]\nid = "{d}"\n{where}writes = true\n' for d in datasets)
    return text + "".join(f'\n[[buckets]]\nname = "{b}"\nwrites = true\n' for b in buckets)


# -- snapshots -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    #: Everything that is not scratch: "dataset.table" or "gs://bucket/name" -> its description.
    kept: dict[str, tuple[Any, ...]]
    #: Scratch objects: name -> expiry (None: none set).
    scratch: dict[str, Any]


def snapshot(world: World) -> Snapshot:
    """Straight from the emulators (admin clients): nothing of this goes through the fronts."""
    bq, gcs = world.bigquery_admin(), world.storage_admin()
    kept: dict[str, tuple[Any, ...]] = {}
    scratch: dict[str, Any] = {}
    kept["datasets"] = tuple(sorted(d.dataset_id for d in bq.list_datasets()))
    kept["buckets"] = tuple(sorted(b.name for b in gcs.list_buckets()))
    for dataset in DATASETS:
        for item in bq.list_tables(dataset):
            table = bq.get_table(f"{PROJECT}.{dataset}.{item.table_id}")
            where = f"{dataset}.{table.table_id}"
            if looks_like_scratch(table.table_id):
                scratch[where] = table.expires
                continue
            schema = tuple((f.name, f.field_type, f.mode) for f in table.schema)
            kept[where] = (table.table_type, schema, table.num_rows, table.view_query, table.modified)
    for bucket in BUCKETS:
        for blob in gcs.list_blobs(bucket):
            where = f"gs://{bucket}/{blob.name}"
            if looks_like_scratch(blob.name):
                scratch[where] = (blob.custom_time, (blob.metadata or {}).get("readiness-expires"))
                continue
            kept[where] = (blob.md5_hash, blob.crc32c, blob.size, blob.generation, blob.metageneration)
    return Snapshot(kept, scratch)


def seed(world: World) -> None:
    bq, gcs = world.bigquery_admin(), world.storage_admin()
    for dataset in DATASETS:
        bq.create_dataset(dataset)
        create_table(bq, f"{PROJECT}.{dataset}.features", ("interval_time", "value"), rows=2)
        create_view(
            bq, f"{PROJECT}.{dataset}.v_features", f"SELECT value FROM `{PROJECT}.{dataset}.features`"
        )
    for bucket in BUCKETS:
        gcs.create_bucket(bucket)
        gcs.bucket(bucket).blob("ckpt/part-0.json").upload_from_string(b'{"step": 0}')
        gcs.bucket(bucket).blob("data.csv").upload_from_string(b"a,b\n1,2\n")


# -- runs ------------------------------------------------------------------------------------------


@dataclass
class Interrupted:
    subject: str
    proc_ret: int
    output: str
    out_dir: Path
    #: The log of the step's server from the held request on (it included).
    after: list[tuple[str, str, str]]


@dataclass
class Results:
    before: Snapshot
    after: Snapshot
    faulted: AuditRun
    #: The fronts' logs of the faulted run.
    bq_log: list[tuple[str, str, str]]
    gcs_log: list[tuple[str, str, str]]
    interrupted: list[Interrupted]


def _server(world: World, subject: str) -> FakeServer:
    server = world.bq_front if "_" in subject else world.gcs_front
    assert server is not None
    return server


def _interrupt(world: World, tmp: pytest.TempPathFactory) -> list[Interrupted]:
    """Start the six runs, SIGINT each once its step is held, wait for the held steps to land."""
    started: list[tuple[str, str, str, subprocess.Popen[str], Path, FakeServer]] = []
    for subject, method, path in INTERRUPTS:
        server = _server(world, subject)
        server.add_fault(FaultRule.slow(HELD, method=method, path=path, count=1))
        work = tmp.mktemp(f"interrupt-{subject}")
        is_bq = "_" in subject
        job_project = "interrupt-rename" if subject == "i_rename" else ""
        manifest = write_manifest(
            work,
            gcp(world, 30, job_project)
            + probes([subject] if is_bq else [], [] if is_bq else [subject], PROJECT if job_project else ""),
        )
        cmd = [
            sys.executable, "-m", "pytest", f"--basetemp={work / 'basetemp'}",
            "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO), str(REPO / "checks"),
            "--manifest", str(manifest), "--readiness-out", str(work / "out"), "-k", "write_probe",
        ]  # fmt: skip
        drop = {"PYTEST_ADDOPTS", "GOOGLE_APPLICATION_CREDENTIALS", "READINESS_ENDPOINTS"}
        env = {k: v for k, v in os.environ.items() if k not in drop} | world.env() | {"PY_COLORS": "0"}
        proc = subprocess.Popen(
            cmd, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append((subject, method, path, proc, work / "out", server))
    # Watch all six at once: each gets its SIGINT as soon as its step's request is held.
    marks: dict[str, int] = {}
    held_since = []
    deadline = time.monotonic() + 120
    while len(marks) < len(started) and time.monotonic() < deadline:
        for subject, method, path, proc, _, server in started:
            if subject in marks or proc.poll() is not None:
                continue
            log = server.request_log
            mark = next(
                (i for i, (_, m, t) in enumerate(log) if m == method and re.search(path, t.split("?")[0])), -1
            )
            if mark >= 0:
                proc.send_signal(signal.SIGINT)  # the step's request is held: mid-step
                marks[subject] = mark
                held_since.append(time.monotonic())
        time.sleep(0.02)
    results = []
    for subject, _, _, proc, out_dir, server in started:
        stdout, stderr = proc.communicate(timeout=60)
        assert subject in marks, f"{subject}: the held step never arrived: {stdout}{stderr}"
        after = server.request_log[marks[subject] :]
        results.append(Interrupted(subject, proc.returncode, stdout + stderr, out_dir, after))
    # Let every held request land (the server answers it after HELD seconds) before looking.
    time.sleep(max(0.0, max(held_since) + HELD + 1 - time.monotonic()))
    for _, _, _, _, _, server in started:
        server.clear_faults()
    return results


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Results]:
    with started_world(tmp_path_factory.mktemp("probe-world"), bigquery=True) as world:
        seed(world)
        before = snapshot(world)
        bq, gcs = world.bq_front, world.gcs_front
        assert bq is not None and gcs is not None
        for server, rule in step_rules(world):
            server.add_fault(rule)
        bq.reset_counts()
        gcs.reset_counts()
        datasets = _RENAME_ORDER + [d for d in DATASETS if d.startswith("s_") and d not in _RENAME_ORDER]
        buckets = [b for b in BUCKETS if b.startswith("s-")]
        work = tmp_path_factory.mktemp("faulted-run")
        faulted = run_shared(
            work,
            write_manifest(work, gcp(world, DEADLINE) + probes(datasets, buckets)),
            world.env(),
            "-k",
            "write_probe",
        )
        bq_log, gcs_log = bq.request_log, gcs.request_log
        bq.clear_faults()
        gcs.clear_faults()
        time.sleep(SLOW + 0.5)  # the slow steps land after the client gave up
        interrupted = _interrupt(world, tmp_path_factory)
        yield Results(before, snapshot(world), faulted, bq_log, gcs_log, interrupted)


# -- faults at every step --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("step", BQ_STEPS)
def test_a_fault_at_a_bigquery_probe_step_is_an_error_naming_the_step(
    results: Results, step: str, kind: str
) -> None:
    state, message = outcome(results.faulted, "bq_write_probe", f"s_{step}_{kind}")
    assert state == "error", message
    assert message.startswith("BigQuery: "), message
    assert message.endswith(f"(at the {step} step)"), message


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("step", GCS_STEPS)
def test_a_fault_at_a_storage_probe_step_is_an_error_naming_the_step(
    results: Results, step: str, kind: str
) -> None:
    state, message = outcome(results.faulted, "gcs_write_probe", f"gs://s-{step}-{kind}")
    assert state == "error", message
    named = {"write": "write", "read": "read back", "delete": "delete"}[step]
    assert message.startswith(f"gs://s-{step}-{kind}: write probe interrupted at {named}: Cloud Storage: "), (
        message
    )


def test_healthy_probes_in_the_same_run_pass(results: Results) -> None:
    assert outcome(results.faulted, "bq_write_probe", "s_ok") == ("passed", "")
    assert outcome(results.faulted, "gcs_write_probe", "gs://s-ok") == ("passed", "")


def test_probe_writes_are_sent_exactly_once_even_when_faulted(results: Results) -> None:
    for dataset in (d for d in DATASETS if d.startswith("s_")):
        creates = [t for _, m, t in results.bq_log if m == "POST" and f"/datasets/{dataset}/tables?" in t]
        assert len(creates) == 1, (dataset, creates)
    # One rename statement per probe that got past its create: s_rename_*, s_delete_*, s_ok.
    renames = [t for route, _, t in results.bq_log if route == "bigquery.jobs.insert"]
    assert len(renames) == 5, renames
    for bucket in (b for b in BUCKETS if b.startswith("s-")):
        uploads = [
            t for _, m, t in results.gcs_log if m == "POST" and f"/upload/storage/v1/b/{bucket}/o" in t
        ]
        assert len(uploads) == 1, (bucket, uploads)


# -- what is left afterwards (faulted and interrupted runs alike) ---------------------------------


def test_every_scratch_object_left_carries_its_expiry(results: Results) -> None:
    for where, expiry in results.after.scratch.items():
        if where.startswith("gs://"):
            custom_time, stamped = expiry
            assert custom_time is not None and stamped, where
            expires = custom_time
        else:
            assert expiry is not None, where
            expires = expiry
        assert expires <= dt.datetime.now(dt.UTC) + SCRATCH_TTL, where


def test_leftovers_are_only_scratch_names(results: Results) -> None:
    new = set(results.after.kept) - set(results.before.kept)
    assert new == set()
    assert results.before.scratch == {}


def test_every_table_view_and_blob_that_is_not_scratch_is_unchanged(results: Results) -> None:
    assert results.after.kept == results.before.kept
    # The snapshot really covers the seeds: a table, a view and two blobs in each place.
    assert len(results.before.kept) == 2 + 2 * len(DATASETS) + 2 * len(BUCKETS)


# -- interrupted mid-step --------------------------------------------------------------------------


def test_six_runs_were_interrupted_mid_step_and_wrote_no_documents(results: Results) -> None:
    assert [i.subject for i in results.interrupted] == [s for s, _, _ in INTERRUPTS]
    for run in results.interrupted:
        assert run.proc_ret == pytest.ExitCode.INTERRUPTED, (run.subject, run.output)
        assert "KeyboardInterrupt" in run.output, run.subject
        assert not list(run.out_dir.glob("READINESS_RESULTS_*.json")), run.subject


@pytest.mark.parametrize("subject", ["i_create", "i_rename", "i_delete", "i-write", "i-read"])
def test_an_interrupted_probe_still_removes_its_scratch_object(results: Results, subject: str) -> None:
    run = next(i for i in results.interrupted if i.subject == subject)
    where = f"/datasets/{subject}/tables/" if "_" in subject else f"/b/{subject}/o/"
    deletes = [t for _, m, t in run.after[1:] if m == "DELETE" and where + SCRATCH_PREFIX in t]
    assert deletes, f"{subject}: no cleanup after the interrupt: {run.after}"
