"""Names, labels and expiry of the scratch objects the probes create: the only things the suite writes.

A scratch object is provably the suite's only when it carries all three marks set at creation:
- its name matches NAME_PATTERN exactly (prefix, run stamp, purpose, random suffix);
- the label SCRATCH_LABEL (BigQuery table label; Cloud Storage object metadata) naming the
  same run as the name;
- an expiry (BigQuery `expirationTime`; Cloud Storage `customTime`).
A user's own table that merely starts with the prefix (a manual backup) lacks the label and is
never deleted by the sweeper nor left out of the table inventory.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "SCRATCH_LABEL",
    "SCRATCH_PREFIX",
    "SCRATCH_TTL",
    "ScratchMarks",
    "ScratchNames",
    "looks_like_scratch",
    "proven_scratch",
]

SCRATCH_PREFIX: Final = "zz_readiness_scratch_"
#: The label (BigQuery) / metadata key (Cloud Storage) naming the run that created the object.
SCRATCH_LABEL: Final = "readiness-scratch"
#: Scratch objects expire on their own after this, even if every cleanup failed.
SCRATCH_TTL: Final = dt.timedelta(hours=1)

_SAFE = re.compile(r"[^a-z0-9_]")
#: prefix, run (stamp `20261122t060000` + `_` + 6 hex), purpose, `_` + 6 hex random suffix.
NAME_PATTERN: Final = re.compile(
    rf"^{re.escape(SCRATCH_PREFIX)}(?P<run>(?P<stamp>\d{{8}}t\d{{6}})_[0-9a-f]{{6}})_"
    r"(?P<purpose>[a-z0-9_]+)_[0-9a-f]{6}$"
)


def looks_like_scratch(name: str) -> bool:
    """The name has the scratch prefix: a candidate only, never proof."""
    return name.rsplit("/", 1)[-1].startswith(SCRATCH_PREFIX)


@dataclass(frozen=True, slots=True)
class ScratchMarks:
    """What one listed object carries; `why_not` says which mark is missing."""

    #: The run (as written in the name and the label) and its start, when all three marks hold.
    run: str
    started: dt.datetime | None
    why_not: str = ""


def proven_scratch(
    name: str, labels: Mapping[str, str] | None, expires: dt.datetime | str | None
) -> ScratchMarks:
    """Check the three marks; never raises (an impossible stamp is a reason, not an error)."""
    match = NAME_PATTERN.match(name)
    if match is None:
        return ScratchMarks("", None, "name does not match the scratch pattern")
    try:
        started = dt.datetime.strptime(match["stamp"], "%Y%m%dt%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return ScratchMarks("", None, f"impossible run stamp {match['stamp']}")
    label = (labels or {}).get(SCRATCH_LABEL)
    if label is None:
        return ScratchMarks("", None, f"no {SCRATCH_LABEL} label")
    if label != match["run"]:
        return ScratchMarks("", None, f"{SCRATCH_LABEL} label names another run")
    if not expires:
        return ScratchMarks("", None, "no expiry")
    return ScratchMarks(match["run"], started)


@dataclass(frozen=True, slots=True)
class ScratchNames:
    run_id: str

    @property
    def run(self) -> str:
        """The run id as names and labels carry it (label values: lowercase, digits, `_`, `-`)."""
        return _SAFE.sub("_", self.run_id.lower())[:63]

    @property
    def prefix(self) -> str:
        """What every scratch name of this run starts with (the sweeper spares these)."""
        return f"{SCRATCH_PREFIX}{self.run}_"

    @property
    def labels(self) -> dict[str, str]:
        """Set at creation on every scratch object: the sweeper's proof that it is ours."""
        return {SCRATCH_LABEL: self.run}

    def name(self, purpose: str) -> str:
        """A fresh scratch name: prefix, run id, purpose, random suffix (unique per call)."""
        what = _SAFE.sub("_", purpose.lower())
        return f"{self.prefix}{what}_{secrets.token_hex(3)}"

    @staticmethod
    def expiry(now: dt.datetime | None = None) -> dt.datetime:
        return (now or dt.datetime.now(dt.UTC)) + SCRATCH_TTL
