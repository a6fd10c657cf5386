"""A pytest plugin the benchmarks load into the suite's controller (`-p bench.probe`).

It notes when each phase of the run ends (wall clock, so the stand-in's request timeline can be
split by phase) and the controller's peak RSS, and writes them as JSON to $BENCH_PROBE_OUT at
unconfigure. Workers write their timeline beside it ($BENCH_PROBE_OUT.gw0, ...); memory is the
controller's alone, which is what the memory target is about.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, Final

import pytest

OUT_ENV: Final = "BENCH_PROBE_OUT"

#: When the interpreter got to loading this plugin: its start-up and the imports before it.
_marks: dict[str, float] = {"loaded": time.time()}
_facts: dict[str, Any] = {}


def _controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _marks["configure"] = time.time()


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _marks["sessionstart"] = time.time()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    _marks["collection_start"] = time.time()
    try:
        return (yield)
    finally:
        _marks["collection_end"] = time.time()
        _facts["items"] = len(session.items)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    _marks["runtestloop_start"] = time.time()
    try:
        return (yield)
    finally:
        _marks["runtestloop_end"] = time.time()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, object, object]:
    # Outermost wrapper: everything inside is the reports (documents, JSON, history, HTML).
    _marks["sessionfinish_start"] = time.time()
    try:
        return (yield)
    finally:
        _marks["sessionfinish_end"] = time.time()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> Generator[None, object, object]:
    _marks["summary_start"] = time.time()
    try:
        return (yield)
    finally:
        _marks["summary_end"] = time.time()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    target = os.environ.get(OUT_ENV)
    if not target:
        return
    _marks["unconfigure"] = time.time()
    if not _controller(config):
        # A worker's timeline (start-up, collection, its share of the checks) beside the
        # controller's file: where a -n run's time goes.
        worker = str(getattr(config, "workerinput", {}).get("workerid", "worker"))
        Path(f"{target}.{worker}").write_text(json.dumps({"marks": _marks}, indent=2))
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = {
        "marks": _marks,
        "facts": _facts,
        "controller_max_rss_bytes": _peak_rss(usage),
        "controller_cpu_seconds": usage.ru_utime + usage.ru_stime,
        # The processes the run started and waited for (git, the imports check's interpreter).
        "children_cpu_seconds": children.ru_utime + children.ru_stime,
        "workers": int(getattr(config.option, "numprocesses", 0) or 0),
    }
    Path(target).write_text(json.dumps(data, indent=2))


def _peak_rss(usage: resource.struct_rusage) -> int:
    """Peak resident memory of this process image, in bytes.

    Not ru_maxrss: Linux carries it across fork and exec, so a suite started by a 250 MB bench
    process would report the bench's size. VmHWM belongs to the new address space of the exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return usage.ru_maxrss * 1024  # KiB on Linux
