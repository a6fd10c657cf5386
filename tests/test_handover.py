"""Under -n 2 the workers do not each read the datasets: the controller reads them once.

The BigQuery front counts what reaches the emulator; a serial run and a `-n 2` run of the
same manifest must send the same metadata requests (one dataset get and the snapshot's
queries per dataset), and give the same outcomes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bq_support import create_table
from gcp_support import gcp_section, shared_run, started_world

from conftest import AuditRun
from sandbox.world import World

pytestmark = pytest.mark.emulator

DATASETS = ("feat_a", "feat_b")

BODY = """
[[mandates]]
id = "M008"
[[mandates.families]]
family = "COV"
match = "^cov_"
table_pattern = "^cov_[a-z]+_[a-z]{6}$"
[[mandates.families]]
family = "LAG"
match = "^lag_"
table_pattern = "^lag_[a-z]+_[a-z]{6}$"
required_columns = ["pair"]

[[datasets]]
id = "feat_a"
mandates = ["M008"]
priority = "P1"

[[datasets]]
id = "feat_b"
mandates = ["M008"]
priority = "P1"

[[source_tables]]
table = "feat_a.cov_agg_eurusd"
max_age_hours = 24
min_rows = 0
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("world"), bigquery=True, storage=False) as world:
        admin = world.bigquery_admin()
        for dataset in DATASETS:
            admin.create_dataset(f"{world.project}.{dataset}")
            for name in ("cov_agg_eurusd", "COV_BAD_GBPUSD", "lag_bqx_eurusd"):
                create_table(admin, f"{world.project}.{dataset}.{name}", ["pair", "value"])
        yield world


def _metadata_requests(world: World) -> list[str]:
    """What the metadata reads sent: dataset gets and queries, by dataset, sorted."""
    assert world.bq_front is not None
    seen = []
    for _, method, target in world.bq_front.request_log:
        path = target.split("?")[0]
        for dataset in DATASETS:
            if method == "GET" and path.endswith(f"/datasets/{dataset}"):
                seen.append(f"get {dataset}")
        if method == "POST" and path.endswith("/queries"):
            seen.append("query")
    return sorted(seen)


def _run(world: World, work: Path, *args: str) -> tuple[AuditRun, list[str]]:
    assert world.bq_front is not None
    world.bq_front.reset_counts()
    run = shared_run(work, world, gcp_section(world, timeout=30) + BODY, *args)
    return run, _metadata_requests(world)


def test_workers_share_one_read_of_each_dataset(world: World, tmp_path: Path) -> None:
    serial, serial_requests = _run(world, tmp_path / "serial")
    parallel, parallel_requests = _run(world, tmp_path / "parallel", "-n", "2")

    # One get per dataset, the snapshot's two queries per dataset and one PARTITIONS read (when
    # data was last written) for the dataset holding a source table: nothing per worker.
    assert serial_requests == ["get feat_a", "get feat_b"] + ["query"] * 5
    assert parallel_requests == serial_requests
    outcomes = {(c["criterion"], c["subject"], c["outcome"]) for c in serial.json()["cases"]}
    assert outcomes == {(c["criterion"], c["subject"], c["outcome"]) for c in parallel.json()["cases"]}
    assert ("naming_mandate", "feat_b:M008:COV", "failed") in outcomes


def test_workers_start_while_the_controller_reads_and_wait_for_it(world: World, tmp_path: Path) -> None:
    """The controller's read is slow (as INFORMATION_SCHEMA is on a large dataset): the workers
    run the local checks meanwhile and take the read when it lands: same outcomes, same requests."""
    from sandbox.fakes.http import FaultRule

    assert world.bq_front is not None
    serial, serial_requests = _run(world, tmp_path / "serial")
    slow = world.bq_front.add_fault(FaultRule.slow(1.0, method="POST", path=r"/queries$", count=None))
    try:
        parallel, parallel_requests = _run(world, tmp_path / "parallel", "-n", "2")
    finally:
        world.bq_front.clear_faults()
    assert slow.fired == 5, "the read was not slowed: the test proves nothing"
    assert parallel_requests == serial_requests
    outcomes = {(c["criterion"], c["subject"], c["outcome"], c["message"]) for c in serial.json()["cases"]}
    assert outcomes == {
        (c["criterion"], c["subject"], c["outcome"], c["message"]) for c in parallel.json()["cases"]
    }
