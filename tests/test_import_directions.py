"""The layers hold: the core model imports neither side nor pytest; reporting never reaches into
checks, checks never into reporting.

A change that breaks a direction fails here with the importing file and the module it names,
instead of surfacing later as an import cycle or a controller that re-reads the repository.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parent.parent

#: The shared model: both plugins and the `readiness` command use it; it imports only itself.
CORE: Final = frozenset(
    {
        "readiness",
        "readiness.cases",
        "readiness.clock",
        "readiness.criteria",
        "readiness.discovery",
        "readiness.manifest",
        "readiness.manifest.base",
        "readiness.manifest.billing",
        "readiness.manifest.env",
        "readiness.manifest.gcp",
        "readiness.manifest.tables",
        "readiness.memo",
        "readiness.priorities",
        "readiness.records",
        "readiness.statuses",
        "readiness.textsafe",
        "readiness.undeclared",
        "readiness.unverified",
    }
)
#: pytest glue both plugins share (stash keys): pytest and the core, nothing else.
GLUE: Final = frozenset({"readiness.stash"})
#: The `readiness` command (init, audit, review): it may import what it runs.
COMMAND: Final = frozenset(
    {
        "readiness.audit",
        "readiness.cli",
        "readiness.environment",
        "readiness.gcp_listing",
        "readiness.init_manifest",
        "readiness.invocations",
        "readiness.render",
        "readiness.scan",
    }
)
_PYTEST: Final = ("pytest", "_pytest", "pluggy", "xdist")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        yield _module_name(path), path


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (function-level and TYPE_CHECKING imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from readiness import scan` names the module scan, not the package.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _readiness_modules(names: set[str]) -> set[str]:
    known = CORE | GLUE | COMMAND
    return {n for n in names if n in known}


def test_every_readiness_module_is_placed_in_a_layer() -> None:
    found = {name for name, _ in _modules("readiness")}
    assert found - (CORE | GLUE | COMMAND) == set(), "new readiness module: add it to CORE, GLUE or COMMAND"
    assert (CORE | GLUE | COMMAND) - found == set(), "listed module no longer exists"


@pytest.mark.parametrize("name", sorted(CORE))
def test_core_imports_only_the_core(name: str) -> None:
    path = dict(_modules("readiness"))[name]
    names = _imports(path)
    assert {n for n in names if _within(n, ("checks", "reporting", "sandbox", *_PYTEST))} == set()
    assert _readiness_modules(names) - CORE == set()


@pytest.mark.parametrize("name", sorted(GLUE))
def test_glue_imports_the_core_and_pytest_only(name: str) -> None:
    names = _imports(dict(_modules("readiness"))[name])
    assert {n for n in names if _within(n, ("checks", "reporting", "sandbox"))} == set()
    assert _readiness_modules(names) - CORE == set()


def test_reporting_imports_no_checks_and_no_command() -> None:
    offending = {
        f"{name}: {imported}"
        for name, path in _modules("reporting")
        for imported in _imports(path)
        if _within(imported, ("checks",)) or imported in COMMAND
    }
    assert offending == set()


def test_checks_import_no_reporting_and_no_command() -> None:
    offending = {
        f"{name}: {imported}"
        for name, path in _modules("checks")
        for imported in _imports(path)
        if _within(imported, ("reporting",)) or imported in COMMAND
    }
    assert offending == set()


def test_the_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    """What the rules rely on: function-level, aliased and `from` imports are all seen."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pytest\n"
        "def f() -> None:\n    import checks.plugin as p\n    from reporting import plugin\n"
    )
    assert {"checks.plugin", "reporting.plugin", "pytest"} <= _imports(probe)
