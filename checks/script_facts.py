"""What the inventory says of a script (lines, dependencies, execution mode, last change),
recorded by the one case per script that reads it (`Criterion.describes`), so the documents
never read the target repository again after the run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Final

import pytest

from checks.inspect.dockerfile import parse_dockerfile
from checks.inspect.files import RepoFileError, read_text
from checks.inspect.git_history import last_commit_dates
from checks.inspect.python_source import installed_projects, local_modules, parse_python, third_party
from checks.inspect.shell_source import called_tools
from readiness.cases import Case
from readiness.manifest import LoadedManifest, Script, ScriptKind
from readiness.stash import SCRIPT_FACTS_KEY, loaded_manifest, run_memo
from readiness.undeclared import undeclared_scripts

__all__ = ["script_facts"]

#: Per process: every script's last commit date, from one `git log` walk (None: not a git tree).
_DATES_KEY: Final = pytest.StashKey[dict[str, str] | None]()


@pytest.fixture(autouse=True)
def script_facts(request: pytest.FixtureRequest) -> None:
    """Records the inventory facts of the script a describing case is about."""
    callspec = getattr(request.node, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    if not isinstance(case, Case) or not case.criterion.describes or not isinstance(case.item, Script):
        return
    loaded = loaded_manifest(request.config)
    memo = run_memo(request.config)
    deps, mode, lines = _facts(loaded.root, case.item, memo.once(installed_projects, loaded.root))
    request.node.stash[SCRIPT_FACTS_KEY] = {
        "lines": lines,
        "last_modified": _last_modified(loaded, case.item.path, _dates(request.config, loaded)),
        "dependencies": deps,
        "execution_mode": mode,
    }


def _dates(config: pytest.Config, loaded: LoadedManifest) -> dict[str, str] | None:
    if _DATES_KEY not in config.stash:
        paths = [s.path for s in (*loaded.manifest.scripts, *undeclared_scripts(loaded, run_memo(config)))]
        config.stash[_DATES_KEY] = last_commit_dates(loaded.root, paths)
    return config.stash[_DATES_KEY]


def _last_modified(loaded: LoadedManifest, rel: str, dates: dict[str, str] | None) -> str:
    if dates is not None and rel in dates:
        return dates[rel]
    # Not a git repo, or the file is not committed yet: the file's own time is the best we have.
    try:
        mtime = (loaded.root / rel).stat().st_mtime
        stamp = dt.datetime.fromtimestamp(mtime, tz=dt.UTC).date().isoformat()
    except (OverflowError, ValueError, OSError):  # a time beyond year 9999, or no file
        stamp = "unknown"
    return f"{stamp} (mtime)" if dates is not None else stamp


def _facts(root: Path, script: Script, projects: tuple[Path, ...]) -> tuple[list[str], str, int | None]:
    """(top-level dependencies, execution mode, non-blank lines); unreadable files give blanks."""
    try:
        text = read_text(root, script.path)
    except RepoFileError:
        return [], "unreadable", None
    lines = sum(1 for line in text.splitlines() if line.strip())
    kind = script.script_kind
    if kind is ScriptKind.PYTHON:
        try:
            source = parse_python(text, script.path)
        except SyntaxError:
            return [], "python (does not parse)", lines
        flags = " ".join(source.flags)
        deps = third_party(source.imports, local_modules(root, script.path, projects))
        return deps, f"python CLI {flags}".strip(), lines
    if kind is ScriptKind.SHELL:
        return called_tools(text), "shell", lines
    if kind is ScriptKind.DOCKERFILE:
        bases = [i.args.split()[0] for i in parse_dockerfile(text) if i.keyword == "FROM" and i.args]
        return bases, "container image", lines
    return [], "Cloud Build", lines
