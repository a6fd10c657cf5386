"""Scripts: they exist, parse, can be executed, find their imports and accept the runbook's flags."""

from __future__ import annotations

import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from checks.findings import finding, unverified
from checks.inspect.files import RepoFileError, read_text, resolve_inside
from checks.inspect.interpreter import (
    InterpreterError,
    compile_sources,
    import_distributions,
    package_folder,
    probe_imports,
)
from checks.inspect.python_flags import BEAM_STANDARD_OPTIONS, option_strings_in
from checks.inspect.python_source import (
    ImportNeed,
    PythonSource,
    installed_projects,
    is_local_import,
    local_module_file,
    local_roots,
    parse_python,
    parse_tree,
)
from checks.inspect.shell_source import bash_syntax_error, crlf_line, handles_flag, start_problem
from checks.run_env import compiler_of, python_path_of, run_env
from readiness.cases import Case
from readiness.manifest import LoadedManifest, Script, ScriptKind, environment_of
from readiness.memo import RunMemo
from readiness.undeclared import undeclared_scripts


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
def check_python_parses(case: Case, manifest: LoadedManifest, facts: dict[str, Any], memo: RunMemo) -> None:
    script = _script(case)
    text = _source(manifest, script.path)
    env_name = environment_of(manifest.manifest, script)
    python, version = memo.once(compiler_of, manifest, env_name)
    facts["environment"] = env_name
    if python:
        # The pipeline's own interpreter judges the syntax (a `match` on 3.8 fails, PEP 695 on
        # 3.13 passes); compile() also refuses what the parser accepts (`return` at top level).
        try:
            errors = memo.once(compile_sources, python, memo.once(_sources_of, manifest, env_name))
        except InterpreterError as exc:
            unverified(f"{script.path}: not compiled in environment {env_name!r}: {exc}")
        facts["interpreter"] = python
        error = errors.get(script.path) if script.path in errors else _compile_here(text, script.path, None)
        suffix = ""
    elif version is None:
        unverified(f"{script.path}: not compiled: the interpreter of environment {env_name!r} was not found")
    else:
        error = _compile_here(text, script.path, version)
        facts["interpreter"] = f"none: checked by Python {sys.version_info[0]}.{sys.version_info[1]}"
        suffix = (
            f" (no Python {version} on this machine: checked with ast feature_version={version}, best effort)"
        )
    if error is not None:
        line, message = error
        if line is None and "\0" in text:  # "cannot contain null bytes" comes without a line
            line = text.count("\n", 0, text.find("\0")) + 1
        finding(f"{script.path}:{line or 1}: syntax error: {message}{suffix}")


def _compile_here(text: str, path: str, version: str | None) -> tuple[int | None, str] | None:
    """Parse for `version`'s grammar and compile in this process (never run)."""
    feature = tuple(int(p) for p in version.split(".")) if version else None
    try:
        tree = parse_tree(text, path, feature_version=(feature[0], feature[1]) if feature else None)
        compile(tree, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return exc.lineno, exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:
        return None, str(exc) or type(exc).__name__
    return None


def _sources_of(manifest: LoadedManifest, env_name: str) -> tuple[tuple[str, str], ...]:
    """Every readable Python script of one environment: compiled in one subprocess."""
    found: list[tuple[str, str]] = []
    for script in manifest.manifest.scripts:
        if (
            script.script_kind is not ScriptKind.PYTHON
            or environment_of(manifest.manifest, script) != env_name
        ):
            continue
        try:
            found.append((script.path, read_text(manifest.root, script.path)))
        except RepoFileError:
            continue  # its own cases report it
    return tuple(found)


def _syntax_error(text: str, path: str) -> str:
    try:
        parse_python(text, path)
    except SyntaxError as exc:
        return f"{path}:{exc.lineno}: syntax error: {exc.msg}"
    return ""


def _parsed(manifest: LoadedManifest, script: Script, memo: RunMemo) -> PythonSource:
    """The parsed script; a script that does not parse leaves the criterion unverified."""
    __tracebackhide__ = True
    path = script.path
    text = _source(manifest, path)
    error = _syntax_error(text, path)
    if error:
        env_name = environment_of(manifest.manifest, script)
        python, version = memo.once(compiler_of, manifest, env_name)
        ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
        if python and version and version != ours:
            try:
                sources = memo.once(_sources_of, manifest, env_name)
                fine = memo.once(compile_sources, python, sources).get(path, "") is None
            except InterpreterError:
                fine = False
            if fine:  # newer syntax than the suite's own Python reads (PEP 695 on 3.13)
                unverified(
                    f"{path}: not verified: written for Python {version}, whose syntax the suite's "
                    f"Python {ours} cannot read"
                )
        unverified(f"not verified: {error} (see python_parses)")
    return parse_python(text, path)


@pytest.mark.criterion("shell_parses")
def check_shell_parses(case: Case, manifest: LoadedManifest) -> None:
    path = _script(case).path
    text = _source(manifest, path)  # refuses binary, huge and escaping files before bash reads them
    error = bash_syntax_error(resolve_inside(manifest.root, path))
    if error is not None:
        finding(f"{path}: bash -n: {error.split(': ', 1)[-1]}")
    line = crlf_line(text)
    if line is not None:
        finding(
            f"{path}:{line}: CRLF line endings: bash reads the carriage return as part of each "
            "command ($'\\r': command not found); convert with dos2unix"
        )


@pytest.mark.criterion("shell_executable")
def check_shell_executable(case: Case, manifest: LoadedManifest) -> None:
    """The runbook runs `./script.sh` (`started_with = "path"`, the default; no case for one run
    with `bash x.sh` or sourced): it needs the executable bit and a shebang that starts."""
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
    # Started as `./x.sh` by a shell: a missing shebang is the shell's to fall back on (a file a
    # container starts by its path is held to its shebang by docker_entrypoint).
    problem = start_problem(path, _source(manifest, path), from_a_shell=True) or ""
    if problem:
        finding(problem)


@pytest.mark.criterion("imports_resolve")
def check_imports_resolve(case: Case, manifest: LoadedManifest, facts: dict[str, Any], memo: RunMemo) -> None:
    script = _script(case)
    path = script.path
    source = _parsed(manifest, script, memo)
    env_name = environment_of(manifest.manifest, script)
    env = memo.once(run_env, manifest, env_name)
    needed = _needed_imports(source, manifest, path, env.python_path, memo)
    facts["imports"] = list(dict.fromkeys(n.module for n in needed if not _stdlib(n)))
    facts["environment"] = env.name
    facts["interpreter"] = env.python
    if env.problem:
        unverified(f"{path}: imports not verified in the run environment {env.name!r}: {env.problem}")
    # Ask about every script's imports at once: the probe is a subprocess, and one per script
    # would start one per script; the answer is kept for the run.
    everything = memo.once(_imports_of_env, manifest, env_name, memo)
    pairs = tuple(sorted({(n.module, n.name) for n in needed}))
    asked = everything if set(pairs) <= set(everything) else pairs
    try:
        found = memo.once(probe_imports, env.python, asked)
    except InterpreterError as exc:
        unverified(f"{path}: imports not verified in the run environment {env.name!r}: {exc}")
    # Shown as distributions (google-cloud-bigquery), as the environment's metadata says.
    third_party = tuple(
        sorted({f"{m}.{n}" if n else m for m, n in asked if m.split(".")[0] not in sys.stdlib_module_names})
    )
    providers = memo.once(import_distributions, env.python, third_party)
    facts["distributions"] = sorted(
        {d for n in needed if not _stdlib(n) for d in providers.get(n.dotted, [])}
    )
    missing = list(dict.fromkeys(n.dotted for n in needed if not found.get(n.dotted, False)))
    facts["missing_imports"] = missing
    if missing:
        finding(
            f"{path}: imports not found in the run environment {env.name!r} ({env.python}): "
            f"{', '.join(missing)}"
        )


def _stdlib(need: ImportNeed) -> bool:
    return need.module.split(".", 1)[0] in sys.stdlib_module_names


def _needed_imports(
    source: PythonSource, manifest: LoadedManifest, path: str, python_path: tuple[str, ...], memo: RunMemo
) -> list[ImportNeed]:
    """The script's imports that must come from the environment: not the repository's own.

    Standard-library imports are asked too: the pipeline's Python may be another version
    (tomllib on 3.8, distutils on 3.12).
    """
    projects = memo.once(installed_projects, manifest.root)
    roots = local_roots(manifest.root, path, python_path, source.path_additions, projects)
    return [n for n in source.needs if not is_local_import(n, roots)]


def _imports_of_env(manifest: LoadedManifest, env_name: str, memo: RunMemo) -> tuple[tuple[str, str], ...]:
    pairs: set[tuple[str, str]] = set()
    env = memo.once(run_env, manifest, env_name)
    for script in (*manifest.manifest.scripts, *undeclared_scripts(manifest, memo)):
        if (
            script.script_kind is not ScriptKind.PYTHON
            or environment_of(manifest.manifest, script) != env_name
        ):
            continue
        try:
            source = parse_python(read_text(manifest.root, script.path), script.path)
        except (RepoFileError, SyntaxError):
            continue  # its own imports_resolve case reports it
        pairs.update(
            (n.module, n.name) for n in _needed_imports(source, manifest, script.path, env.python_path, memo)
        )
    return tuple(sorted(pairs))


@pytest.mark.criterion("cli_flags")
def check_cli_flags(case: Case, manifest: LoadedManifest, facts: dict[str, Any], memo: RunMemo) -> None:
    script = _script(case)
    text = _source(manifest, script.path)
    if script.path.endswith(".sh") or script.script_kind.value == "shell":
        missing = [f for f in script.flags if not handles_flag(text, f)]
    else:
        source = _parsed(manifest, script, memo)
        flags = _defined_flags(manifest, script, source, memo)
        facts["flags"] = sorted(f for f in flags if f not in BEAM_STANDARD_OPTIONS and f != "**")
        if source.flag_facts.uses_beam_options:
            facts["beam_standard_options"] = True
        if not flags and source.reads_argv:
            unverified(f"{script.path}: parses sys.argv by hand; flags cannot be verified statically")
        if "**" in flags:
            unverified(f"{script.path}: fire passes **kwargs on; flags cannot be verified statically")
        missing = [f for f in script.flags if f not in flags]
    if missing:
        finding(f"{script.path}: does not define {', '.join(missing)}")


def _beam_options(manifest: LoadedManifest, env_name: str, memo: RunMemo) -> frozenset[str]:
    """The options the environment's own apache_beam defines (a newer Beam adds some); empty
    when it cannot be read, leaving the built-in list."""
    env = memo.once(run_env, manifest, env_name)
    folder = memo.once(package_folder, env.python, "apache_beam") if env.python else None
    if folder is None:
        return frozenset()
    try:
        text = Path(folder, "options", "pipeline_options.py").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    return option_strings_in(text)


#: How many of the repository's own modules a script's flags are followed into.
_MAX_FLAG_MODULES = 20


def _defined_flags(manifest: LoadedManifest, script: Script, source: PythonSource, memo: RunMemo) -> set[str]:
    """The script's flags and those of parsers in the repository modules it imports."""
    env_name = environment_of(manifest.manifest, script)
    python_path = python_path_of(manifest, env_name)
    flags = set(source.flags)
    seen: set[Path] = set()
    queue = [(script.path, source)]
    fields: dict[str, tuple[str, ...]] = {}
    while queue and len(seen) < _MAX_FLAG_MODULES:
        rel, current = queue.pop()
        fields.update(current.flag_facts.class_fields)
        roots = local_roots(
            manifest.root,
            rel,
            python_path,
            current.path_additions,
            memo.once(installed_projects, manifest.root),
        )
        for need in current.needs:
            file = local_module_file(need, roots) if is_local_import(need, roots) else None
            if file is None or file in seen:
                continue
            seen.add(file)
            module_rel = file.relative_to(manifest.root.resolve()).as_posix()
            try:
                module = parse_python(read_text(manifest.root, module_rel), module_rel)
            except (RepoFileError, SyntaxError, ValueError):
                continue
            flags.update(module.flags)
            queue.append((module_rel, module))
    if "--runner" in flags and "--temp_location" in flags:  # some file hands arguments to Beam
        flags.update(memo.once(_beam_options, manifest, env_name, memo))
    # fire: `lambda **kwargs: main(Params(**kwargs))` accepts the fields of Params, both spellings.
    for target in source.flag_facts.kwargs_classes:
        if target not in fields:
            flags.add("**")
            continue
        for name in fields[target]:
            flags.update((f"--{name}", f"--{name.replace('_', '-')}"))
    return flags
