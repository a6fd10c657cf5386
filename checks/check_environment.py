"""The run environment: Python packages at the required versions, here and as pinned; system tools."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from checks.findings import finding, unverified
from checks.inspect.interpreter import InterpreterError, probe
from checks.inspect.requirements import python_version_of, read_requirements, requirement_files
from checks.inspect.tools import ToolMissing, VersionUnreadable, tool_version
from checks.run_env import requirement_files_of, run_env
from readiness.cases import Case
from readiness.manifest import LoadedManifest, Package, ScriptKind, Tool, environment_of
from readiness.manifest.env import DEFAULT_ENVIRONMENT
from readiness.memo import RunMemo


def _package(case: Case) -> Package:
    assert isinstance(case.item, Package)
    return case.item


@pytest.mark.criterion("package_installed")
def check_package_installed(
    case: Case, manifest: LoadedManifest, facts: dict[str, Any], memo: RunMemo
) -> None:
    package = _package(case)
    names = tuple(sorted(p.name for p in manifest.manifest.packages))
    problems: list[str] = []
    unknown: list[str] = []
    installed: dict[str, str | None] = {}
    for env_name in package_environments(manifest, package.name):
        env = memo.once(run_env, manifest, env_name)
        where = f"in the run environment {env.name!r}" + (f" ({env.python})" if env.python else "")
        if env.problem:
            unknown.append(f"{where}: {env.problem}")
            continue
        try:
            _, versions = memo.once(probe, env.python, (), names)
        except InterpreterError as exc:
            unknown.append(f"{where}: {exc}")
            continue
        version = installed[env.name] = versions.get(package.name)
        if version is None:
            problems.append(f"not installed {where}")
        elif package.spec and not package.specifier.contains(version, prereleases=True):
            problems.append(f"{version} installed {where}")
    facts["environments"] = installed
    if len(installed) == 1:
        facts["installed"] = next(iter(installed.values()))
    elif installed:
        facts["installed"] = ", ".join(f"{v or 'none'} ({e})" for e, v in installed.items())
    requires = f"requires {package.spec or 'any version'}"
    if problems:
        finding(f"{package.name}: {'; '.join(problems)}; {requires}")
    if unknown:
        unverified(f"{package.name}: not verified {'; '.join(unknown)}")


def package_environments(manifest: LoadedManifest, package: str) -> list[str]:
    """The environments that must provide `package`: those of the manifest's Python scripts
    whose requirements list it (one image per job need not carry every job's packages), else
    all of them (a package no requirements file lists is still asked for everywhere)."""
    m = manifest.manifest
    used = list(dict.fromkeys(environment_of(m, s) for s in m.scripts if s.script_kind is ScriptKind.PYTHON))
    if not used:
        used = [m.project.environment or (m.environments[0].name if m.environments else DEFAULT_ENVIRONMENT)]
    if len(used) == 1:
        return used
    name = canonicalize_name(package)
    listing = [e for e in used if name in _listed(manifest, e)]
    return listing or used


def _listed(manifest: LoadedManifest, env_name: str) -> set[str]:
    files = requirement_files_of(manifest, env_name)
    if not files:
        return set()
    return set(read_requirements(manifest.root, files, None).pins)


@pytest.mark.criterion("package_pinned")
def check_package_pinned(case: Case, manifest: LoadedManifest, facts: dict[str, Any], memo: RunMemo) -> None:
    package = _package(case)
    project = manifest.manifest.project
    files = requirement_files(manifest.root, project.requirements)
    if not files:
        finding(f"{package.name}: no requirements files declared (project.requirements)")
    found = read_requirements(manifest.root, files, memo.once(python_version_of, project.python))
    name = canonicalize_name(package.name)
    pin = found.pins.get(name)
    if found.problems:
        # pip would refuse the whole file: one blocker, on the manifest's first package, and the
        # others say what they could not verify (issue 11: one bad line made six P0 blockers).
        first = manifest.manifest.packages[0].name
        more = f" (and {len(found.problems) - 1} more)" if len(found.problems) > 1 else ""
        if canonicalize_name(first) == name:
            finding(f"{found.problems[0]}{more}")
        if pin is None:
            unverified(f"{package.name}: not verified: {found.problems[0]} (the blocker is on {first})")
    if pin is None:
        finding(f"{package.name}: not listed in {', '.join(files)}")
    where = f"{pin.file}:{pin.line}"
    specifier = pin.requirement.specifier
    constraint = found.constraints.get(name)
    if constraint is not None:
        specifier &= constraint.requirement.specifier
        where += f" (constrained by {constraint.file}:{constraint.line})"
    facts["pinned"] = str(specifier) or (pin.requirement.url or "")
    pinned = _pinned_version(pin.requirement.url, specifier)
    if pinned is None:
        if package.spec:
            finding(
                f"{package.name}: {where} does not pin a version ({pin.requirement}); requires {package.spec}"
            )
        return
    if package.spec and not package.specifier.contains(pinned, prereleases=True):
        shown = pinned if str(specifier) in (f"=={pinned}", f"==={pinned}") else str(specifier) or pinned
        finding(f"{package.name}: {where} pins {shown}, requires {package.spec}")


def _pinned_version(url: str | None, specifier: SpecifierSet) -> str | None:
    """The version a pin installs: `==X` (or `===X`), the start of an `==X.*` series, or the
    version in a direct URL's wheel name; None when the pin leaves the version open."""
    for spec in specifier:
        if spec.operator in ("==", "==="):
            return spec.version.removesuffix(".*")
    if url:
        filename = url.split("#", 1)[0].rsplit("/", 1)[-1]
        if filename.endswith(".whl"):
            try:
                return str(parse_wheel_filename(filename)[1])
            except InvalidWheelFilename:
                return None
    return None


@pytest.mark.criterion("tool_available")
def check_tool_available(case: Case, facts: dict[str, Any]) -> None:
    tool = case.item
    assert isinstance(tool, Tool)
    # Unset, each known tool's own version command (bq: `bq version`); set, the manifest's.
    configured = tool.version_args if "version_args" in tool.model_fields_set else None
    try:
        path, version = tool_version(tool.name, configured)
    except ToolMissing as exc:
        finding(str(exc))
    except VersionUnreadable as exc:
        unverified(f"version not verified: {exc}")
    facts["version"] = str(version)
    facts["path"] = path
    if tool.min_version and version < Version(tool.min_version):
        finding(f"{tool.name}: version {version} at {path}, requires >= {tool.min_version}")
