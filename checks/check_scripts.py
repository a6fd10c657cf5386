"""Scripts: they exist, parse, can be executed, find their imports and accept the runbook's flags."""

from __future__ import annotations

import functools
import stat
from typing import Any

import pytest

from checks.cases import Case
from checks.discovery import undeclared_scripts
from checks.findings import finding, unverified
from checks.inspect.files import RepoFileError, read_text, resolve_inside
from checks.inspect.interpreter import InterpreterError, probe
from checks.inspect.python_source import PythonSource, local_modules, parse_python, third_party
from checks.inspect.shell_source import bash_syntax_error, handles_flag
from checks.manifest import LoadedManifest, Script, ScriptKind


def _script(case: Case) -> Script:
    assert isinstance(case.item, Script)
    return case.item


def _source(manifest: LoadedManifest, path: str) -> str:
    __tracebackhide__ = True
    try:
        return read_text(manifest.root, path)
    except RepoFileError as exc:
        finding(str(exc))


@pytest.mark.criterion("script_exists")
def check_script_exists(case: Case, manifest: LoadedManifest) -> None:
    script = _script(case)
    try:
        real = resolve_inside(manifest.root, script.path)
    except RepoFileError as exc:
        hours = f"; estimated {script.create_hours:g} h to create" if script.create_hours else ""
        finding(f"{exc}{hours}")
    if not real.is_file():
        finding(f"{script.path}: not a regular file")


@pytest.mark.criterion("python_parses")
def check_python_parses(case: Case, manifest: LoadedManifest) -> None:
    path = _script(case).path
    text = _source(manifest, path)
    error = _syntax_error(text, path)
    if error:
        finding(error)


def _syntax_error(text: str, path: str) -> str:
    try:
        parse_python(text, path)
    except SyntaxError as exc:
        return f"{path}:{exc.lineno}: syntax error: {exc.msg}"
    return ""


def _parsed(manifest: LoadedManifest, path: str) -> PythonSource:
    """The parsed script; a script that does not parse leaves the criterion unverified."""
    __tracebackhide__ = True
    text = _source(manifest, path)
    error = _syntax_error(text, path)
    if error:
        unverified(f"not verified: {error} (see python_parses)")
    return parse_python(text, path)


@pytest.mark.criterion("shell_parses")
def check_shell_parses(case: Case, manifest: LoadedManifest) -> None:
    path = _script(case).path
    _source(manifest, path)  # refuses binary, huge and escaping files before bash reads them
    error = bash_syntax_error(resolve_inside(manifest.root, path))
    if error is not None:
        finding(f"{path}: bash -n: {error.split(': ', 1)[-1]}")


@pytest.mark.criterion("shell_executable")
def check_shell_executable(case: Case, manifest: LoadedManifest) -> None:
    path = _script(case).path
    try:
        mode = resolve_inside(manifest.root, path).stat().st_mode
    except (RepoFileError, OSError) as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        finding(problem)
    if not mode & stat.S_IXUSR:
        finding(f"{path}: not executable (mode {stat.S_IMODE(mode):04o})")


@pytest.mark.criterion("imports_resolve")
def check_imports_resolve(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    path = _script(case).path
    needed = _needed_imports(_parsed(manifest, path), manifest, path)
    facts["imports"] = needed
    # Ask about every script's imports at once: the probe is a subprocess, and one per script
    # was 14 of them for 145 scripts (bench/); the answer is cached for the whole process.
    everything = _imports_of_all_scripts(manifest)
    asked = everything if set(needed) <= set(everything) else tuple(sorted(needed))
    try:
        found, _ = probe(manifest.manifest.project.python, asked, ())
    except InterpreterError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        unverified(f"{path}: imports not verified: {problem}")
    missing = [m for m in needed if not found.get(m, False)]
    if missing:
        finding(f"{path}: imports not found in the run environment: {', '.join(missing)}")


def _needed_imports(source: PythonSource, manifest: LoadedManifest, path: str) -> list[str]:
    """The script's imports that must come from the environment: not stdlib, not the repo's."""
    tops = third_party(source.imports, local_modules(manifest.root, path))
    return [m for m in source.imports if m.split(".", 1)[0] in tops]


@functools.cache
def _imports_of_all_scripts(manifest: LoadedManifest) -> tuple[str, ...]:
    names: set[str] = set()
    for script in (*manifest.manifest.scripts, *undeclared_scripts(manifest)):
        if script.script_kind is not ScriptKind.PYTHON:
            continue
        try:
            source = parse_python(read_text(manifest.root, script.path), script.path)
        except (RepoFileError, SyntaxError):
            continue  # its own imports_resolve case reports it
        names.update(_needed_imports(source, manifest, script.path))
    return tuple(sorted(names))


@pytest.mark.criterion("cli_flags")
def check_cli_flags(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    script = _script(case)
    text = _source(manifest, script.path)
    if script.path.endswith(".sh") or script.script_kind.value == "shell":
        missing = [f for f in script.flags if not handles_flag(text, f)]
    else:
        source = _parsed(manifest, script.path)
        facts["flags"] = list(source.flags)
        if not source.flags and source.reads_argv:
            unverified(f"{script.path}: parses sys.argv by hand; flags cannot be verified statically")
        missing = [f for f in script.flags if f not in source.flags]
    if missing:
        finding(f"{script.path}: does not define {', '.join(missing)}")
