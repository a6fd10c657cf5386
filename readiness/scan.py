"""What `readiness init` learns from a repository: its scripts, how they are run, what they need.

Text and `ast` only: nothing of the repository is imported or executed.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from checks.inspect.build_steps import docker_builds
from checks.inspect.cloudbuild import CloudBuildError, load_cloudbuild
from checks.inspect.dockerfile import (
    Instruction,
    copy_sources,
    final_stage_chain,
    looks_like_script,
    parse_dockerfile,
    parse_stages,
    start_command,
)
from checks.inspect.files import RepoFileError, read_text
from checks.inspect.python_source import installed_projects, local_modules, parse_python, third_party
from checks.inspect.shell_source import called_tools
from readiness.discovery import DEFAULT_EXCLUDE, discover, excluded, guess_category
from readiness.environment import (
    EnvironmentFound,
    PackageFound,
    assign_environment,
    console_scripts,
    environments,
    mark_needed,
    packages,
    requirements_files,
)
from readiness.invocations import (
    Invocation,
    command_lines,
    invocations_in,
    makefile_commands,
    markdown_commands,
    program_commands,
    resolve,
)

__all__ = ["Entry", "PackageFound", "RepoScan", "scan"]

_FROM_IMPORT: Final = re.compile(r"(?m)^\s*from\s+([\w.]+)\s+import\s+\(?\s*([\w, ]+)")
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(slots=True)
class Entry:
    """One script, Dockerfile or Cloud Build config, found or named by an invocation."""

    path: str
    kind: str
    exists: bool
    purpose: str = ""
    category: str = "generation"
    #: The word of the path that decided the category ("" = nothing did: a default).
    category_word: str = ""
    #: Flags its parser defines (argparse/click/typer as checks.inspect reads them).
    defined_flags: tuple[str, ...] = ()
    #: Flags the repository passes when it runs the script, in first-seen order.
    invoked_flags: list[str] = field(default_factory=list)
    #: Every flag any invocation passes (invoked_flags keeps those the script can be checked on).
    passed_flags: list[str] = field(default_factory=list)
    #: Where the repository runs it ("Makefile:12").
    invoked_by: list[str] = field(default_factory=list)
    #: Docker build context (Dockerfiles), and where it was learned.
    context: str | None = None
    context_why: str = ""
    #: Third-party imports (Python) or command-line tools (shell).
    needs: list[str] = field(default_factory=list)
    #: Dotted modules a Python script imports (which packages it needs).
    modules: list[str] = field(default_factory=list)
    #: Console-script names that run it (pyproject [project.scripts]).
    console_scripts: list[str] = field(default_factory=list)
    note: str = ""
    #: The run environment of a Python script (the nearest requirements file's), if one is known.
    environment: str | None = None
    #: How the repository starts a shell script, each way once ("path", "source", "bash"...).
    started: list[str] = field(default_factory=list)
    #: A review comment on how a shell script nothing runs is started ("" = none).
    started_note: str = ""

    @property
    def needed(self) -> bool:
        return bool(self.invoked_by)

    @property
    def started_with(self) -> str | None:
        """How the manifest should say the script is started; None leaves the default ("path").

        Started both ways, `./x.sh` wins: the stricter one is what must work."""
        if self.kind != "shell" or not self.started:
            return None
        if "path" in self.started:
            return "path"
        return self.started[0]


@dataclass(slots=True)
class RepoScan:
    root: Path
    entries: list[Entry]
    packages: list[PackageFound]
    #: Tool -> scripts that call it.
    tools: dict[str, list[str]]
    requirements: list[str]
    #: Invoked files that the repository does not have, and who runs them (for review comments).
    unresolved: list[str]
    #: Files that could not be read or parsed while scanning (one line each).
    problems: list[str]
    #: One run environment per requirements file.
    environments: list[EnvironmentFound] = field(default_factory=list)


def scan(root: Path, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> RepoScan:
    root = root.resolve()  # read_text refuses what resolves outside the (resolved) root
    patterns = tuple(exclude)
    found = discover(root, patterns)
    entries = {f.path: Entry(f.path, f.kind, True) for f in found if not _CONTROL.search(f.path)}
    problems: list[str] = []
    texts: dict[str, str] = {}
    for entry in entries.values():
        try:
            texts[entry.path] = read_text(root, entry.path)
        except RepoFileError as exc:
            problems.append(str(exc))
    console = console_scripts(root)
    _invocations(root, patterns, entries, texts, console, problems)
    own = _OwnModules(root)
    for entry in entries.values():
        _describe(root, entry, texts.get(entry.path), own)
        _expected_flags(entry, texts.get(entry.path))
        for name, path in console.items():
            if path == entry.path:
                entry.console_scripts.append(name)
    requirements = requirements_files(root, patterns)
    found_packages = packages(root, requirements, problems)
    tools: dict[str, list[str]] = {}
    for entry in entries.values():
        if entry.kind == "shell" and entry.exists:
            tools.setdefault("bash", []).append(entry.path)
            for tool in entry.needs:
                tools.setdefault(tool, []).append(entry.path)
    mark_needed(
        found_packages, (m for e in entries.values() if e.needed and e.kind == "python" for m in e.modules)
    )
    unresolved = sorted(e.note for e in entries.values() if not e.exists and e.note and not e.needed)
    kept = sorted((e for e in entries.values() if e.exists or e.needed), key=lambda e: e.path)
    envs = environments(root, requirements, [e.path for e in kept if e.kind == "dockerfile" and e.exists])
    for entry in kept:
        if entry.kind == "python":
            entry.environment = assign_environment(entry.path, envs)
    return RepoScan(root, kept, found_packages, tools, requirements, unresolved, problems, envs)


# -- invocations --------------------------------------------------------------------------------


def _sources_of_commands(
    root: Path, patterns: tuple[str, ...], entries: dict[str, Entry], texts: dict[str, str]
) -> Iterator[tuple[str, int, str]]:
    """(file, line, command) for every command the repository writes down."""
    for path, text in texts.items():
        kind = entries[path].kind
        if kind == "shell":
            for line, command in command_lines(text):
                for part in re.split(r"\s(?:&&|\|\||;)\s", command):
                    yield path, line, part
        elif kind == "dockerfile":
            for ins in parse_dockerfile(text):
                if ins.keyword in ("RUN", "CMD", "ENTRYPOINT"):
                    yield path, ins.line, _exec_form(ins.args)
        elif kind == "cloudbuild":
            yield from _cloudbuild_commands(path, text)
        elif kind == "python":
            for line, command in program_commands(text):
                yield path, line, command
    for rel in _other_files(root, patterns):
        try:
            text = read_text(root, rel)
        except RepoFileError:
            continue
        lower = rel.lower()
        reader = (
            markdown_commands
            if lower.endswith((".md", ".markdown"))
            else program_commands
            if lower.endswith(".go")
            else makefile_commands
        )
        for line, command in reader(text):
            yield rel, line, command


def _exec_form(args: str) -> str:
    if args.startswith("["):
        try:
            words = ast.literal_eval(args)
        except (ValueError, SyntaxError):
            return args
        if isinstance(words, list):
            return " ".join(str(w) for w in words)
    return args


def _cloudbuild_commands(path: str, text: str) -> Iterator[tuple[str, int, str]]:
    try:
        config = load_cloudbuild(text)
    except CloudBuildError:
        return
    for step in config["steps"]:
        args = [_in_workspace(str(a)) for a in step.get("args") or []]
        entry = str(step.get("entrypoint") or "")
        yield path, 0, " ".join([entry, *args]).strip()
        for index, arg in enumerate(args):
            if " " in arg or (index > 0 and args[index - 1] == "-c"):
                # `bash -c "python x.py --a"`: the string is a command of its own
                for _, command in command_lines(arg):
                    yield path, 0, command
        script = step.get("script")
        if isinstance(script, str):  # `script: |` runs its text in the step's shell
            for _, command in command_lines(_in_workspace(script)):
                yield path, 0, command


def _in_workspace(text: str) -> str:
    """`/workspace/lib/x.sh` -> `lib/x.sh`: a step's /workspace is the build's source, whose
    folder `resolve` looks for from the config's folder upwards."""
    return _WORKSPACE.sub("", text)


_WORKSPACE: Final = re.compile(r"(?<![\w./$-])/workspace/")


def _other_files(root: Path, patterns: tuple[str, ...]) -> list[str]:
    """Makefiles and Markdown files, where runbooks live, and Go programs (which start scripts)."""
    out = []
    for folder, dirs, files in os.walk(root):
        rel_dir = Path(folder).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and not excluded(posixpath.join(rel_dir, d), patterns)
            and not Path(folder, d, "pyvenv.cfg").exists()
        )  # fmt: skip
        for name in sorted(files):
            lower = name.lower()
            if lower in ("makefile", "gnumakefile") or lower.endswith((".mk", ".md", ".markdown", ".go")):
                rel = posixpath.join(rel_dir, name)
                if not excluded(rel, patterns):
                    out.append(rel)
    return out


def _invocations(
    root: Path,
    patterns: tuple[str, ...],
    entries: dict[str, Entry],
    texts: dict[str, str],
    console: dict[str, str],
    problems: list[str],
) -> None:
    exists = set(entries) | _python_files(root, patterns)
    folders: set[str] = set()
    for path in exists:
        while (path := posixpath.dirname(path)) and path not in folders:
            folders.add(path)
    copies = {
        path: _copy_map(texts[path])
        for path, e in entries.items()
        if e.kind == "dockerfile" and path in texts
    }
    for where_file, line, command in list(_sources_of_commands(root, patterns, entries, texts)):
        where = f"{where_file}:{line}" if line else where_file
        calls = invocations_in(command, where)
        first = command.split(maxsplit=1)[0] if command.split() else ""
        config = re.search(r"\bgcloud\s+builds\s+submit\b.*?--config[= ](\S+)", command)
        if config:
            calls.append(Invocation(config.group(1).strip("'\""), "", (), where))
        if first in console:
            calls.append(Invocation(console[first], "", _flags_after(command), where))
        for call in calls:
            target = _target(call, where_file, exists, folders, copies.get(where_file))
            if not target and where_file in copies and call.script and "$" not in call.script:
                # The image runs a file the repository lacks: a review note (docker_entrypoint
                # reports it as a finding).
                target = posixpath.normpath(call.script.lstrip("/"))
            if not target or target == where_file:
                continue
            entry = entries.get(target)
            if entry is None:
                if target.endswith((".yaml", ".yml")):
                    continue  # a config the repository does not have: cloudbuild checks need the file
                kind = "shell" if target.endswith((".sh", ".bash")) else "python"
                entry = entries[target] = Entry(target, kind, (root / target).is_file())
            from_dockerfile = where_file in entries and entries[where_file].kind == "dockerfile"
            if from_dockerfile and not entry.exists:
                # The docker_entrypoint check reports it on the Dockerfile; not listed twice.
                entry.note = f"{target}: run by {where}, not in the repository (docker_entrypoint reports it)"
                continue
            if call.sourced and not entry.exists:
                entry.note = (
                    f"{target}: sourced by {where}, not in the repository (generated by a setup step?)"
                )
                continue
            entry.invoked_by.append(where)
            if call.started_with and call.started_with not in entry.started:
                entry.started.append(call.started_with)
            entry.passed_flags.extend(f for f in call.flags if f not in entry.passed_flags)
    for path, entry in entries.items():
        if entry.kind == "cloudbuild" and path in texts:
            _contexts_from_cloudbuild(path, texts[path], entries)


def _flags_after(command: str) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(w.split("=", 1)[0] for w in command.split()[1:] if re.match(r"^--?[A-Za-z]", w))
    )


def _target(
    call: Invocation, invoker: str, exists: set[str], folders: set[str], copies: dict[str, str] | None
) -> str:
    if copies is not None and call.script and "$" not in call.script:
        # A command in the image: its path is in the image (relative ones from the WORKDIR);
        # the COPY lines say where it came from in the build context.
        inside = posixpath.normpath(posixpath.join(copies.get("", "/"), call.script))
        for dest in sorted((d for d in copies if d), key=len, reverse=True):
            src = copies[dest]
            if inside == dest:
                return src
            if inside.startswith(dest.rstrip("/") + "/"):
                return posixpath.normpath(posixpath.join(src, inside[len(dest.rstrip("/")) + 1 :]))
        if call.script.startswith("/"):
            return ""
    target = resolve(call, invoker, exists, folders)
    if target and not target.endswith((".py", ".sh", ".bash", ".yaml", ".yml")) and target not in exists:
        return ""
    return target


def _copy_map(text: str) -> dict[str, str]:
    """COPY destination (absolute, in the image) -> source in the build context; "" -> WORKDIR."""
    workdir = "/"
    out: dict[str, str] = {}
    instructions = parse_dockerfile(text)
    sources: dict[int, list[str]] = {}
    for line, src in copy_sources(instructions):
        sources.setdefault(line, []).append(src)
    for ins in instructions:
        if ins.keyword == "WORKDIR":
            workdir = posixpath.join(workdir, ins.args.strip())
        elif ins.keyword in ("COPY", "ADD") and ins.line in sources:
            dest = ins.args.split()[-1].strip('"[]')
            dest = posixpath.normpath(posixpath.join(workdir, dest))
            for src in sources[ins.line]:
                src_norm = posixpath.normpath(src.removeprefix("./"))
                raw_dest = ins.args.split()[-1].strip('"[]')
                if len(sources[ins.line]) == 1 and not raw_dest.endswith("/") and raw_dest not in (".", "./"):
                    out[dest] = src_norm
                else:
                    out[posixpath.join(dest, posixpath.basename(src_norm))] = src_norm
                    out.setdefault(dest, src_norm)
    out[""] = workdir  # the last WORKDIR: where CMD's relative paths start
    return out


def _contexts_from_cloudbuild(path: str, text: str, entries: dict[str, Entry]) -> None:
    try:
        config = load_cloudbuild(text)
    except CloudBuildError:
        return
    base = posixpath.dirname(path)
    for build in docker_builds(config):
        if build.dockerfile is None:
            continue  # `-f -`: the Dockerfile comes from stdin, no file of the repository
        index = build.step
        target = posixpath.normpath(posixpath.join(base, build.dockerfile))
        context = posixpath.normpath(posixpath.join(base, build.context))
        entry = entries.get(target)
        if entry is not None:
            entry.invoked_by.append(f"{path} step {index}")
            if entry.context is None:
                entry.context = context
                entry.context_why = f"the build context of {path} step {index}"


# -- facts about each entry ---------------------------------------------------------------------


def _describe(root: Path, entry: Entry, text: str | None, own: _OwnModules) -> None:
    entry.category, entry.category_word = guess_category(entry.path, entry.kind)
    if text is None:
        return
    entry.purpose = _clean(_purpose(entry.kind, text))
    if entry.kind == "python":
        try:
            source = parse_python(text, entry.path)
        except SyntaxError as exc:
            entry.note = f"does not parse (line {exc.lineno}): flags and imports not read"
            return
        entry.defined_flags = source.flags
        tops = third_party(source.imports, own.seen_from(posixpath.dirname(entry.path)))
        entry.modules = [m for m in source.imports if m.split(".", 1)[0] in tops]
        entry.needs = list(entry.modules)
        # `from google.cloud import bigquery` imports google.cloud.bigquery: the name says which
        # distribution (google-cloud-bigquery, not -storage) the script needs.
        for module, names in _FROM_IMPORT.findall(text):
            if module.split(".", 1)[0] in tops:
                entry.modules += [
                    f"{module}.{n.split(' as ')[0].strip()}" for n in names.split(",") if n.strip()
                ]
    elif entry.kind == "shell":
        entry.defined_flags = tuple(
            dict.fromkeys(re.findall(r"(?m)^\s*\(?\s*((?:--?[\w-]+\|?)+)\s*\)", text))
        )
        entry.needs = called_tools(text)
        if not entry.started and not text.startswith("#!"):
            # Not guessed: on five public repositories every such script that anything runs
            # was run as ./x.sh (interactive bash runs a shebang-less file itself), none sourced.
            entry.started_note = (
                "No shebang and nothing here runs it: if it is sourced or run with `bash x.sh`, "
                'set started_with = "source" or "bash"; as ./x.sh (the default) it needs a shebang.'
            )
    elif entry.kind == "dockerfile":
        instructions = parse_dockerfile(text)
        found = _started_script(instructions)
        if found:
            entry.needs = [found[1]]
        if not entry.purpose:
            base = next((i.args.split()[0] for i in instructions if i.keyword == "FROM" and i.args), "")
            runs = f", runs {found[1]}" if found else ""
            entry.purpose = _clean(f"Container image (FROM {base}{runs})") if base else ""
        if entry.context is None:
            _guess_context(root, entry, [src for _, src in copy_sources(instructions)])


def _started_script(instructions: list[Instruction]) -> tuple[int, str] | None:
    """(line, path) of the script the image starts (ENTRYPOINT then CMD, across its stages):
    only a word that looks like a script path counts (`python main.py` -> main.py)."""
    started = start_command(final_stage_chain(parse_stages(instructions)))
    if started is None:
        return None
    command, line = started
    word = next((w for w in command if looks_like_script(w)), None)
    return (line, word) if word else None


def _expected_flags(entry: Entry, text: str | None) -> None:
    """The passed flags become expected ones, except on a shell script that reads no option
    itself (`./gradlew run -Pargs=...` hands them to Java; cli_flags could only be wrong)."""
    reads_options = entry.defined_flags or re.search(r"getopts?\b|\$\{?1\b|\$\{?#\b", text or "")
    if entry.kind == "shell" and text is not None and not reads_options:
        if entry.passed_flags:
            entry.note = f"passes {' '.join(entry.passed_flags)} on to another program: flags not checked"
        return
    entry.invoked_flags = list(entry.passed_flags)


def _guess_context(root: Path, entry: Entry, srcs: list[str]) -> None:
    """The repository root when the COPY sources resolve from there and not from the file's folder."""
    here = posixpath.dirname(entry.path) or "."
    plain = [s for s in srcs if not any(c in s for c in "*?[$")]
    from_root = sum((root / s).exists() for s in plain)
    if here != "." and from_root > sum((root / here / s).exists() for s in plain):
        # A missing source (a defect) must not turn the guess: more sources resolve from the root.
        entry.context, entry.context_why = ".", "guessed: its COPY sources resolve from the repository root"


class _OwnModules:
    """The repository's own modules seen from each folder, for one scan: each folder listed once,
    the installed projects walked once (not per script)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._projects: tuple[Path, ...] | None = None
        self._by_folder: dict[str, frozenset[str]] = {}

    def seen_from(self, folder: str) -> frozenset[str]:
        found = self._by_folder.get(folder)
        if found is None:
            if self._projects is None:
                self._projects = installed_projects(self._root)
            script = posixpath.join(folder, "x.py")
            found = self._by_folder[folder] = frozenset(local_modules(self._root, script, self._projects))
        return found


def _purpose(kind: str, text: str) -> str:
    if kind == "python":
        try:
            doc = ast.get_docstring(ast.parse(text))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            match = re.match(r'\s*(?:#.*\n\s*)*[rRuU]?("""|\'\'\')(.*?)(?:\1|\n)', text, re.S)
            doc = match.group(2) if match else None
        if doc:
            return doc.strip().split("\n\n", 1)[0].replace("\n", " ")
    lines = text.splitlines()
    comments = []
    for line in lines[1:] if lines and lines[0].startswith("#!") else lines:
        stripped = line.strip()
        if stripped.startswith("#") and not re.match(r"#\s*(-\*-|syntax=|escape=|shellcheck|vim:)", stripped):
            comments.append(stripped.lstrip("#").strip())
        elif stripped or comments:
            break
    return " ".join(c for c in comments if c)


def _clean(text: str) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text[:197] + "..." if len(text) > 200 else text


def _python_files(root: Path, patterns: tuple[str, ...]) -> set[str]:
    """Every .py and .sh path of the repository (a module run with -m need not have a main guard)."""
    out: set[str] = set()
    for folder, dirs, files in os.walk(root):
        rel_dir = Path(folder).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        dirs[:] = [
            d for d in dirs if not d.startswith(".") and not excluded(posixpath.join(rel_dir, d), patterns)
            and not Path(folder, d, "pyvenv.cfg").exists()
        ]  # fmt: skip
        out.update(posixpath.join(rel_dir, f) for f in files if f.endswith((".py", ".sh", ".bash")))
    return out
