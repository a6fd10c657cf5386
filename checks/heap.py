"""The garbage collector and a large run: what the whole suite keeps is kept out of its walks.

Every full collection walks the whole heap, which holds every collected item and every report
until the session ends; the audit's per-case records make collections more frequent. On a
large manifest the walking, not our code, is most of the results plugin's cost. So what
exists after collection, and again before the session finishes, is frozen (kept out of
collections, never freed meanwhile: it lives on anyway), and unfrozen when the session has
finished.

The same at exit: the interpreter's last collections walk whatever is left, most of the run's
heap (and again on each xdist worker before the controller can finish). Frozen from the first exit handler on, it is left to the operating system, as it would
be anyway; documents and the history store are closed before then, and nothing of ours relies on
a finaliser at exit.

A plugin of its own (not the results plugin's), so a run without the results plugin
(`-p no:reporting.plugin`, the overhead benchmark's baseline) manages its heap the same way.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Generator

import pytest


def _freeze_at_exit() -> None:
    gc.freeze()


def pytest_configure() -> None:
    # Registered last, so it runs first at exit; once per process (a test may run pytest
    # in-process more than once).
    atexit.unregister(_freeze_at_exit)
    atexit.register(_freeze_at_exit)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish() -> None:
    gc.freeze()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish() -> Generator[None]:
    """Around every session-finish step (the audit's, the HTML report's): see above."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
