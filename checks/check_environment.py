"""The run environment: Python packages at the required versions, here and as pinned; system tools."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from checks.cases import Case
from checks.findings import finding, unverified
from checks.inspect.interpreter import InterpreterError, probe
from checks.inspect.requirements import RequirementsError, read_pins
from checks.inspect.tools import ToolError, tool_version
from checks.manifest import LoadedManifest, Package, Tool


def _package(case: Case) -> Package:
    assert isinstance(case.item, Package)
    return case.item


@pytest.mark.criterion("package_installed")
def check_package_installed(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    package = _package(case)
    names = tuple(sorted(p.name for p in manifest.manifest.packages))
    try:
        _, versions = probe(manifest.manifest.project.python, (), names)
    except InterpreterError as exc:
        unverified(f"{package.name}: not verified: {exc}")
    version = versions.get(package.name)
    facts["installed"] = version
    if version is None:
        finding(f"{package.name}: not installed (requires {package.spec or 'any version'})")
    if package.spec and not package.specifier.contains(version, prereleases=True):
        finding(f"{package.name}: {version} installed, requires {package.spec}")


@pytest.mark.criterion("package_pinned")
def check_package_pinned(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    package = _package(case)
    files = manifest.manifest.project.requirements
    if not files:
        finding(f"{package.name}: no requirements files declared (project.requirements)")
    try:
        pins = read_pins(manifest.root, files)
    except RequirementsError as exc:
        finding(str(exc))
    pin = pins.get(canonicalize_name(package.name))
    if pin is None:
        finding(f"{package.name}: not listed in {', '.join(files)}")
    where = f"{pin.file}:{pin.line}"
    facts["pinned"] = str(pin.requirement.specifier)
    exact = [s.version for s in pin.requirement.specifier if s.operator in ("==", "===")]
    if not exact:
        if package.spec:
            finding(
                f"{package.name}: {where} does not pin a version ({pin.requirement}); requires {package.spec}"
            )
        return
    try:
        Version(exact[0])
    except InvalidVersion:
        finding(f"{package.name}: {where} pins an invalid version {exact[0]!r}")
    if package.spec and not package.specifier.contains(exact[0], prereleases=True):
        finding(f"{package.name}: {where} pins {exact[0]}, requires {package.spec}")


@pytest.mark.criterion("tool_available")
def check_tool_available(case: Case, facts: dict[str, Any]) -> None:
    tool = case.item
    assert isinstance(tool, Tool)
    try:
        path, version = tool_version(tool.name, tool.version_args)
    except ToolError as exc:
        finding(str(exc))
    facts["version"] = str(version)
    facts["path"] = path
    if tool.min_version and version < Version(tool.min_version):
        finding(f"{tool.name}: version {version} at {path}, requires >= {tool.min_version}")
