"""`readiness audit [pytest args]`: pytest with the suite's own configuration and rootdir, from any
folder, so option values are never mistaken for test paths (checks/options.py says why)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pytest

from checks.options import SUITE_INI, suite_args

__all__ = ["main"]


def main(argv: Sequence[str]) -> int:
    if not SUITE_INI.is_file():
        print(
            f"readiness audit: the suite's configuration {SUITE_INI} is missing; "
            "install the suite from its checkout (pip install -e .)",
            file=sys.stderr,
        )
        return 4
    return int(pytest.main([*suite_args(), *argv]))
