"""The xdist handover file: a worker waits for the controller's read, takes it whole, and turns a
failed or missing read into one clear unverified reason instead of waiting forever."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from checks.gcp.errors import ApiCallError
from checks.gcp.handover_file import publish, publish_failure, wait_for


def test_worker_waits_for_a_read_that_lands_later(tmp_path: Path) -> None:
    path = tmp_path / "metadata.pickle"
    exported = {"datasets": {"p.d": "info"}, "snapshots": {}}
    writer = threading.Timer(0.3, publish, args=(path, exported))
    started = time.monotonic()
    writer.start()
    try:
        assert wait_for(path, limit_seconds=10) == exported
    finally:
        writer.join()
    assert time.monotonic() - started >= 0.3
    # Written aside and renamed: nothing half-written is ever under the name a worker reads.
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.pickle"]


def test_failed_read_is_reported_with_the_controllers_reason(tmp_path: Path) -> None:
    path = tmp_path / "metadata.pickle"
    publish_failure(path, "RuntimeError: token endpoint unreachable")
    with pytest.raises(ApiCallError, match="controller could not read the datasets: RuntimeError: token"):
        wait_for(path, limit_seconds=10)


def test_read_that_never_comes_ends_the_wait_with_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "metadata.pickle"
    with pytest.raises(ApiCallError, match=r"did not arrive within 0\.2 s \(xdist handover"):
        wait_for(path, limit_seconds=0.2)
