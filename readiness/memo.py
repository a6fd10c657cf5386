"""Answers worked out once per run: the run's cases, the interpreter probes, the scripts an
environment compiles.

A RunMemo belongs to one run (pytest keeps it in `config.stash`: readiness.stash.run_memo), never
to a module: the sandbox and our tests run the suite several times in one process, and a module
cache would hand one run's answers (of a tree or an interpreter that has changed since) to the
next, and keep every manifest it was asked about alive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, final

__all__ = ["RunMemo"]

T = TypeVar("T")


@final
class RunMemo:
    """`once(fn, *args)`: fn(*args), computed on the first ask and remembered for the run.

    An exception is not remembered: the next ask tries again (as functools.cache does)."""

    __slots__ = ("_lock", "_values")

    def __init__(self) -> None:
        self._values: dict[tuple[Any, ...], Any] = {}
        #: Checks of one process may ask from several threads (the Google prefetch).
        self._lock = threading.Lock()

    def once(self, fn: Callable[..., T], *args: Hashable) -> T:
        key = (fn, *args)
        try:
            value: T = self._values[key]
            return value
        except KeyError:
            pass
        value = fn(*args)
        with self._lock:
            # Two threads may both compute it; the first answer stays, so every reader sees one.
            kept: T = self._values.setdefault(key, value)
        return kept
