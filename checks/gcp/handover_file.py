"""The file in which the controller hands its BigQuery metadata to the xdist workers.

The controller reads the datasets while the workers start (checks/gcp/handover.py), so a worker
may ask before the file is there: it waits for it. The file appears whole or not at all
(written aside, then renamed), and a controller that could not read at all says so in it, so a
worker never waits for a file that will not come, nor reads half of one.
"""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any, Final

from checks.gcp.errors import ApiCallError

__all__ = ["publish", "publish_failure", "wait_for"]

#: How often a waiting worker looks for the file: small against a snapshot's seconds.
_POLL_SECONDS: Final = 0.02


def publish(path: Path, exported: dict[str, Any]) -> None:
    part = path.with_name(path.name + ".part")
    with part.open("wb") as file:
        pickle.dump(exported, file)
    os.replace(part, path)


def publish_failure(path: Path, message: str) -> None:
    publish(path, {"failure": message})


def wait_for(path: Path, limit_seconds: float) -> dict[str, Any]:
    """The controller's export, once it is there; ApiCallError if it failed or never came."""
    deadline = time.monotonic() + limit_seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise ApiCallError(
                f"BigQuery: the controller's read of the datasets did not arrive within "
                f"{limit_seconds:g} s (xdist handover, {path})"
            )
        time.sleep(_POLL_SECONDS)
    with path.open("rb") as file:
        exported: dict[str, Any] = pickle.load(file)
    if "failure" in exported:
        raise ApiCallError(f"BigQuery: the controller could not read the datasets: {exported['failure']}")
    return exported
