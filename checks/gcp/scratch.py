"""Names and expiry of the scratch objects the probes create: the only things the suite writes.

Every scratch object starts with SCRATCH_PREFIX and carries the run id, so it can never be
mistaken for (or collide with) a pipeline object, and a sweeper can find the leftovers of a
crashed run by prefix alone.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Final

__all__ = ["SCRATCH_PREFIX", "SCRATCH_TTL", "ScratchNames", "is_scratch"]

SCRATCH_PREFIX: Final = "zz_readiness_scratch_"
#: Scratch objects expire on their own after this, even if every cleanup failed.
SCRATCH_TTL: Final = dt.timedelta(hours=1)

_SAFE = re.compile(r"[^a-z0-9_]")


def is_scratch(name: str) -> bool:
    return name.rsplit("/", 1)[-1].startswith(SCRATCH_PREFIX)


@dataclass(frozen=True, slots=True)
class ScratchNames:
    run_id: str

    @property
    def prefix(self) -> str:
        """What every scratch name of this run starts with (the sweeper spares these)."""
        return f"{SCRATCH_PREFIX}{_SAFE.sub('_', self.run_id.lower())}_"

    def name(self, purpose: str) -> str:
        """A fresh scratch name: prefix, run id, purpose, random suffix (unique per call)."""
        what = _SAFE.sub("_", purpose.lower())
        return f"{self.prefix}{what}_{secrets.token_hex(3)}"

    @staticmethod
    def expiry(now: dt.datetime | None = None) -> dt.datetime:
        return (now or dt.datetime.now(dt.UTC)) + SCRATCH_TTL
