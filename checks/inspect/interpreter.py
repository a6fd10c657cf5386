"""Ask the interpreter that will run the scripts which modules and distributions it has.

The probe runs in a subprocess: finding a dotted module imports its parent packages, which we
must not do inside the test process, and the target interpreter may not be ours. One probe per
process answers every question, cached, so a 200-script inventory costs one subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

__all__ = ["InterpreterError", "probe"]

_PROBE = r"""
import importlib.metadata as md, importlib.util as iu, json, sys
mods, dists = json.loads(sys.stdin.read())
found = {}
for name in mods:
    try:
        found[name] = iu.find_spec(name) is not None
    except Exception:
        found[name] = False
versions = {}
for name in dists:
    try:
        versions[name] = md.version(name)
    except md.PackageNotFoundError:
        versions[name] = None
print(json.dumps([found, versions]))
"""


class InterpreterError(Exception):
    pass


@cache
def probe(
    python: str | None, modules: tuple[str, ...], dists: tuple[str, ...]
) -> tuple[dict[str, bool], dict[str, str | None]]:
    """(module -> importable, distribution -> installed version) in interpreter `python`."""
    exe = python or sys.executable
    try:
        proc = subprocess.run(
            [exe, "-I", "-c", _PROBE],
            input=json.dumps([list(modules), list(dists)]),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except FileNotFoundError:
        raise InterpreterError(f"interpreter {exe!r} not found") from None
    except subprocess.TimeoutExpired:
        raise InterpreterError(f"interpreter {exe!r} did not answer within 60 s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(f"interpreter {exe!r} failed: {last}")
    found, versions = json.loads(proc.stdout)
    return dict(found), dict(versions)
