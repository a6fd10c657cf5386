"""The stash keys both plugins share: the checks write them, the results plugin reads them.

Not part of the pytest-free core (it needs pytest's StashKey); it imports only the core, so
neither plugin imports the other.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from readiness.clock import default_out_dir, parse_now
from readiness.manifest import LoadedManifest
from readiness.memo import RunMemo

__all__ = [
    "FACTS_KEY",
    "MANIFEST_KEY",
    "MEMO_KEY",
    "RUN_START_KEY",
    "SCRIPT_FACTS_KEY",
    "SWEEP_KEY",
    "RunStart",
    "loaded_manifest",
    "out_dir",
    "run_memo",
    "run_start",
]

#: The validated manifest of this run (set in checks.plugin's pytest_configure).
MANIFEST_KEY: Final = pytest.StashKey[LoadedManifest]()

#: Who this run is and when it started (run_start).
RUN_START_KEY: Final = pytest.StashKey["RunStart"]()

#: What this run worked out once (its cases, the interpreter probes): see readiness.memo.
MEMO_KEY: Final = pytest.StashKey[RunMemo]()

#: Facts a check gathered while it ran (versions found, imports seen); they travel on the report.
FACTS_KEY: Final = pytest.StashKey[dict[str, Any]]()

#: What the inventory says of the script a describing case read (lines, dependencies, execution
#: mode, last change): travels on the report beside the facts, kept out of the case's own JSON.
SCRIPT_FACTS_KEY: Final = pytest.StashKey[dict[str, Any]]()

#: The scratch sweep's result as JSON (--sweep-scratch, controller only), for the documents.
SWEEP_KEY: Final = pytest.StashKey[dict[str, Any]]()


def loaded_manifest(config: pytest.Config) -> LoadedManifest:
    return config.stash[MANIFEST_KEY]


def run_memo(config: pytest.Config) -> RunMemo:
    """This run's memo, made on the first ask (collection asks before any plugin's hook could)."""
    memo = config.stash.get(MEMO_KEY, None)
    if memo is None:
        memo = config.stash[MEMO_KEY] = RunMemo()
    return memo


@dataclass(frozen=True, slots=True)
class RunStart:
    """Who this run is and when it started: made once on the controller and handed to every
    worker (workerinput), so that every process names the run's scratch objects alike."""

    #: Identifies this run in scratch-object names and history.
    run_id: str
    started: dt.datetime
    #: `--readiness-now`: the run starts and finishes then (reproducible documents); None when
    #: not given.
    given_now: dt.datetime | None

    def to_workerinput(self) -> dict[str, str | None]:
        return {
            "readiness_run_id": self.run_id,
            "readiness_started": self.started.isoformat(),
            "readiness_given_now": self.given_now.isoformat() if self.given_now else None,
        }


def run_start(config: pytest.Config) -> RunStart:
    """This run's RunStart, made on the first ask: the sandbox asks before any plugin's
    pytest_configure (its report.html goes into the run's folder), the results plugin otherwise."""
    start = config.stash.get(RUN_START_KEY, None)
    if start is None:
        start = config.stash[RUN_START_KEY] = _made(config)
    return start


def _made(config: pytest.Config) -> RunStart:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None and "readiness_run_id" in workerinput:
        given = workerinput.get("readiness_given_now")
        return RunStart(
            str(workerinput["readiness_run_id"]),
            dt.datetime.fromisoformat(str(workerinput["readiness_started"])),
            dt.datetime.fromisoformat(str(given)) if given else None,
        )
    given_now = _given_now(config)
    started = given_now or dt.datetime.now(dt.UTC)
    return RunStart(f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}", started, given_now)


def _given_now(config: pytest.Config) -> dt.datetime | None:
    """`--readiness-now`, parsed here and nowhere else; None when not given."""
    given = config.getoption("readiness_now", None)
    if not given:
        return None
    try:
        return parse_now(str(given))
    except ValueError as exc:
        raise pytest.UsageError(f"--readiness-now: {exc}") from None


def out_dir(config: pytest.Config) -> Path:
    """Where the run's documents go: `--readiness-out`, else the dated default folder."""
    given = config.getoption("readiness_out", None)
    return Path(given) if given else default_out_dir(config.invocation_params.dir, run_start(config).started)
