"""The run's "now" given on the command line (`--readiness-now`, the review's `--now`), and the
dated folder a run writes to by default."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Final

__all__ = ["EARLIEST", "LATEST", "default_out_dir", "parse_now"]

#: The supported range: ages, SLA due dates and review windows are computed from "now" and must
#: stay inside what a datetime can hold (its limits would raise OverflowError mid-report).
EARLIEST: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST: Final = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def parse_now(text: str) -> dt.datetime:
    """An ISO date or datetime, in UTC when no offset is given; ValueError says what is wrong."""
    try:
        when = dt.datetime.fromisoformat(text)
        when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        when = when.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not an ISO date or datetime (e.g. 2026-11-23T06:00:00)") from None
    if not EARLIEST <= when < LATEST:
        raise ValueError(f"{text!r} is outside the supported range {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}")
    return when


def default_out_dir(base: Path, when: dt.datetime) -> Path:
    """Where a run's documents go without --readiness-out: `readiness-reports/YYYYMMDD` under
    the folder pytest was started from, dated by the run's start."""
    return base / "readiness-reports" / f"{when:%Y%m%d}"
