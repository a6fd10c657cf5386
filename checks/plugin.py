"""Options, manifest loading and case generation for the readiness checks.

The manifest is loaded and validated in `pytest_configure` (on the controller and on every
xdist worker alike: it is small and loading is deterministic), so a bad manifest stops the run
with a usage error before anything is collected or written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

import pytest

from readiness.cases import Case, cases_for
from readiness.criteria import CRITERIA
from readiness.manifest import LoadedManifest, ManifestError, load_manifest
from readiness.memo import RunMemo
from readiness.stash import FACTS_KEY, MANIFEST_KEY, loaded_manifest, run_memo
from readiness.textsafe import one_line

__all__ = ["param_for"]

_EMPTY_PARAMS_KEY: Final = pytest.StashKey[set[str]]()
#: workerinput key: the manifest's bytes as the controller read them.
_MANIFEST_INPUT: Final = "readiness_manifest_bytes"


def _manifest_path(config: pytest.Config) -> Path:
    given = config.getoption("manifest") or os.environ.get("READINESS_MANIFEST")
    if given:
        return Path(given)
    base = config.inipath.parent if config.inipath else config.rootpath
    return base / "readiness.toml"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    try:
        root = config.getoption("target_root")
        loaded = load_manifest(
            _manifest_path(config),
            config.getoption("phase"),
            Path(root) if root else None,
            raw=workerinput.get(_MANIFEST_INPUT) if workerinput else None,
        )
    except ManifestError as exc:
        # One line, however long or strange the quoted value (a 900 KB string, a newline, bidi).
        raise pytest.UsageError(one_line(str(exc))) from None
    config.stash[MANIFEST_KEY] = loaded
    config.stash[_EMPTY_PARAMS_KEY] = set()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker validates the very bytes the controller loaded."""
    node.workerinput[_MANIFEST_INPUT] = loaded_manifest(node.config).raw


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("criterion")
    if marker is None:
        return
    criterion_id = str(marker.args[0])
    if criterion_id not in CRITERIA:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: unknown criterion {criterion_id!r} in its marker"
        )
    cases = cases_for(criterion_id, loaded_manifest(metafunc.config), run_memo(metafunc.config))
    if not cases:
        # Nothing in the manifest to check: drop the function at collection instead of
        # reporting pytest's "empty parameter set" skip as a case of no priority.
        metafunc.config.stash[_EMPTY_PARAMS_KEY].add(metafunc.definition.nodeid)
    metafunc.parametrize("case", [param_for(c) for c in cases])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    empty = config.stash[_EMPTY_PARAMS_KEY]
    if not empty:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        base = item.nodeid.split("[", 1)[0]
        (drop if base in empty else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def facts(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A dict a check fills with what it found; it is reported with the case."""
    found: dict[str, Any] = {}
    request.node.stash[FACTS_KEY] = found
    return found


@pytest.fixture
def manifest(request: pytest.FixtureRequest) -> LoadedManifest:
    """The validated manifest with the target root and the audited phase."""
    return loaded_manifest(request.config)


@pytest.fixture
def memo(request: pytest.FixtureRequest) -> RunMemo:
    """What this run works out once (the interpreter probes, an environment's sources)."""
    return run_memo(request.config)


def param_for(case: Case) -> Any:
    """A pytest.param carrying the case's own priority marker, so `-m p0` selects per case."""
    return pytest.param(case, id=case.subject, marks=[getattr(pytest.mark, case.priority.marker)])
