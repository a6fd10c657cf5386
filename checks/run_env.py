"""The interpreter that runs a script: the manifest's run environment, found or built.

An environment with no interpreter is built from its requirements into an isolated virtualenv
with uv, cached across runs under READINESS_ENV_CACHE (default ~/.cache/readiness/envs), keyed by
the requirements' content and the base Python. A file lock makes the build happen once when
several xdist workers ask at the same time; the others wait and reuse it.

Nothing of the audited repository runs: requirement lines that point into the repository
(`-e .`, `./lib`, `file:`) are left out (its own code is found from the file tree), and only
named distributions are installed.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from checks.inspect.files import RepoFileError, read_text
from readiness.manifest import LoadedManifest
from readiness.manifest.env import DEFAULT_ENVIRONMENT, Environment

__all__ = ["RunEnv", "base_python", "compiler_of", "python_path_of", "requirement_files_of", "run_env"]

#: How long one environment may take to install (a Beam pipeline's requirements take minutes).
_INSTALL_TIMEOUT = 900.0


@dataclass(frozen=True, slots=True)
class RunEnv:
    name: str
    #: The interpreter to probe imports in; empty when it could not be found or built.
    python: str
    #: Why `python` is empty (the case is then unverified, never passed).
    problem: str
    #: The interpreter scripts are compiled with (the environment's base Python); may be empty.
    compiler: str
    #: The Python version the environment declares ("3.8"), if any.
    version: str | None
    #: PYTHONPATH folders, relative to the target root.
    python_path: tuple[str, ...]

    @property
    def label(self) -> str:
        """How findings name the environment: `environment 'dataflow' (/path/to/python)`."""
        return f"environment {self.name!r} ({self.python or 'no interpreter'})"


def _spec(manifest: LoadedManifest, name: str) -> Environment | None:
    """The declared environment `name`; for a manifest that declares none and names no
    interpreter, the default environment built from `project.requirements` (the pipeline's
    packages, not the suite's own virtualenv)."""
    spec = next((e for e in manifest.manifest.environments if e.name == name), None)
    project = manifest.manifest.project
    if spec is None and project.python is None and project.requirements:
        assert name == DEFAULT_ENVIRONMENT, name  # the manifest validated every reference
        # Not validated again: project.requirements were read as the manifest says them, and a
        # path outside the root is refused when it is read (RepoFileError), as for package_pinned.
        return Environment.model_construct(
            name=name,
            python=None,
            python_version=None,
            requirements=list(project.requirements),
            dockerfile=None,
            python_path=list(project.python_path),
        )
    return spec


def run_env(manifest: LoadedManifest, name: str) -> RunEnv:
    """The environment `name` of the manifest, its virtualenv built on first use."""
    spec = _spec(manifest, name)
    if spec is None:
        project = manifest.manifest.project
        assert name == DEFAULT_ENVIRONMENT, name  # the manifest validated every reference
        # Nothing says what runs the scripts (no interpreter, no requirements): the suite's own.
        python = _which(project.python) if project.python else sys.executable
        problem = "" if python else f"interpreter {project.python!r} not found (project.python)"
        return RunEnv(name, python, problem, python, None, tuple(project.python_path))
    version = spec.python_version or _dockerfile_version(manifest, spec)
    compiler = _which(spec.python) if spec.python else base_python(version)
    if spec.python:
        problem = "" if compiler else f"interpreter {spec.python!r} not found"
        return RunEnv(name, compiler, problem, compiler, version, tuple(spec.python_path))
    python, problem = _built(manifest, spec, compiler, version)
    return RunEnv(name, python, problem, compiler, version, tuple(spec.python_path))


def compiler_of(manifest: LoadedManifest, name: str) -> tuple[str, str | None]:
    """(interpreter, declared version) that judges the environment's syntax; nothing is built.

    The interpreter is "" when the declared version is not installed here.
    """
    spec = _spec(manifest, name)
    if spec is None:
        project = manifest.manifest.project
        return (_which(project.python) if project.python else sys.executable), None
    version = spec.python_version or _dockerfile_version(manifest, spec)
    return (_which(spec.python) if spec.python else base_python(version)), version


def python_path_of(manifest: LoadedManifest, name: str) -> tuple[str, ...]:
    """The environment's PYTHONPATH folders, without building it."""
    spec = _spec(manifest, name)
    return tuple(spec.python_path if spec else manifest.manifest.project.python_path)


def requirement_files_of(manifest: LoadedManifest, name: str) -> list[str]:
    """The requirements files environment `name` installs (its Dockerfile's too); empty for an
    environment given by its interpreter alone."""
    spec = _spec(manifest, name)
    if spec is None or spec.python:
        return list(spec.requirements) if spec else []
    return _requirement_files(manifest, spec)[0]


def _which(python: str) -> str:
    if "/" in python:
        return python if os.access(python, os.X_OK) else ""
    return shutil.which(python) or ""


def base_python(version: str | None) -> str:
    """An interpreter of `version` on this machine (PATH, then pyenv's versions), or ""."""
    if version is None:
        return sys.executable
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return sys.executable
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True)
    on_path = shutil.which(f"python{version}")
    if on_path and "/shims/" not in on_path:  # a pyenv shim may name a version not installed
        candidates.insert(0, on_path)
    return candidates[0] if candidates else ""


#: `FROM python:3.8-slim`, and Beam's SDK images `FROM apache/beam_python3.11_sdk:2.60.0`.
_FROM_PYTHON = re.compile(r"(?im)^\s*FROM\s+(?:--\S+\s+)*(?:\S*/)?(?:python:|beam_python)(3\.\d{1,2})")
_PIP_R = re.compile(r"(?:^|\s)(?:-r|--requirement)(?:\s+|=)([^\s;&|]+)")


def _dockerfile_version(manifest: LoadedManifest, spec: Environment) -> str | None:
    if spec.dockerfile is None:
        return None
    try:
        text = read_text(manifest.root, spec.dockerfile)
    except RepoFileError:
        return None
    found = _FROM_PYTHON.findall(text)
    return found[-1] if found else None


def _requirement_files(manifest: LoadedManifest, spec: Environment) -> tuple[list[str], str]:
    """The environment's requirements files; from its Dockerfile's `pip install -r` lines too."""
    files = list(spec.requirements)
    if spec.dockerfile is not None:
        try:
            text = read_text(manifest.root, spec.dockerfile)
        except RepoFileError as exc:
            return files, f"dockerfile: {exc}"
        folder = os.path.dirname(spec.dockerfile)
        for line in text.replace("\\\n", " ").splitlines():
            if "pip" not in line or not line.lstrip().upper().startswith("RUN"):
                continue
            for name in _PIP_R.findall(line):
                # The Dockerfile names the file as copied into the image: look for it beside
                # the Dockerfile, then at the root (the usual build context).
                base = os.path.basename(name) if name.startswith("/") else name
                for candidate in (os.path.normpath(os.path.join(folder, base)), os.path.normpath(base)):
                    if (manifest.root / candidate).is_file():
                        files.append(candidate)
                        break
                else:
                    return files, f"{spec.dockerfile}: requirements file {name!r} not found in the repository"
        if not files:
            return files, f"{spec.dockerfile}: no `pip install -r` line names a requirements file"
    return files, ""


def _requirements_text(manifest: LoadedManifest, files: list[str]) -> tuple[str, str]:
    """The lines uv installs, with includes inlined and the repository's own paths left out."""
    out: list[str] = []
    seen: set[str] = set()

    def read(rel: str) -> str:
        if rel in seen:
            return ""  # an include loop: each file once
        seen.add(rel)
        try:
            text = read_text(manifest.root, rel)
        except RepoFileError as exc:
            return str(exc)
        if os.path.basename(rel) == "pyproject.toml":
            lines, problem = _pyproject_requirements(text, rel)
            out.extend(lines)
            return problem
        for raw in text.replace("\\\n", " ").splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            include = re.match(r"(?:-r|--requirement)(?:\s+|=)(\S+)$", line)
            if include:
                problem = read(os.path.normpath(os.path.join(os.path.dirname(rel), include.group(1))))
                if problem:
                    return problem
                continue
            if re.match(r"(?:-c|--constraint|-e|--editable)\b", line) or line.startswith((".", "/", "file:")):
                continue
            if "@ file:" in line:
                continue
            out.append(line)
        return ""

    for rel in files:
        problem = read(rel)
        if problem:
            return "", problem
    return "\n".join(out) + "\n", ""


def _pyproject_requirements(text: str, rel: str) -> tuple[list[str], str]:
    """PEP 621 `[project].dependencies`, else Poetry's `[tool.poetry.dependencies]`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [], f"{rel}: invalid TOML: {exc}"
    project = data.get("project", {})
    if isinstance(project, dict) and isinstance(project.get("dependencies"), list):
        return [str(d) for d in project["dependencies"]], ""
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
    if not isinstance(poetry, dict) or not poetry:
        return [], f"{rel}: declares no dependencies ([project] or [tool.poetry])"
    lines = []
    for name, spec in poetry.items():
        if name == "python":
            continue
        version = spec.get("version", "*") if isinstance(spec, dict) else str(spec)
        if isinstance(spec, dict) and ("path" in spec or "git" in spec or "url" in spec):
            continue  # the repository's own code, or a source we do not fetch
        lines.append(f"{name}{_poetry_spec(str(version))}")
    return lines, ""


def _poetry_spec(version: str) -> str:
    """Poetry's `^1.2.3` / `~1.2` / `*` as a PEP 440 specifier."""
    version = version.strip()
    if version in ("", "*"):
        return ""
    if version[0] in "^~" and not version.startswith("~="):
        parts = [int(p) if p.isdigit() else 0 for p in version[1:].split(".")]
        if version[0] == "^":
            first = next((i for i, p in enumerate(parts) if p), len(parts) - 1)
        else:
            first = min(1, len(parts) - 1) if len(parts) > 1 else 0
        upper = [*parts[:first], parts[first] + 1]
        return f">={version[1:]},<{'.'.join(map(str, upper))}"
    return version if version[0] in "<>=!~" else f"=={version}"


def _cache_root() -> Path:
    return Path(os.environ.get("READINESS_ENV_CACHE") or Path.home() / ".cache" / "readiness" / "envs")


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv") or ""


def _built(manifest: LoadedManifest, spec: Environment, base: str, version: str | None) -> tuple[str, str]:
    """(python of the built virtualenv, "") or ("", why it could not be built)."""
    files, problem = _requirement_files(manifest, spec)
    if problem:
        return "", problem
    requirements, problem = _requirements_text(manifest, files)
    if problem:
        return "", problem
    if not base:
        return "", f"no Python {version} interpreter on this machine to build the environment with"
    uv = _uv()
    if not uv:
        return "", "uv not found (it builds the environment): install the suite's dependencies"
    key = hashlib.sha256(f"{base}\n{version}\n{requirements}".encode()).hexdigest()[:24]
    root = _cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        with (root / f"{key}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build per key, whichever worker comes first
            return _build_locked(uv, root / key, base, requirements)
    except OSError as exc:
        return "", f"environment cache {str(root)!r}: {exc.strerror or exc}"


def _build_locked(uv: str, venv: Path, base: str, requirements: str) -> tuple[str, str]:
    python = venv / "bin" / "python"
    done = venv / ".readiness-complete"
    if done.is_file():
        return str(python), ""
    shutil.rmtree(venv, ignore_errors=True)  # a build that died half-way
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PYTHON_DOWNLOADS"] = "never"  # the version asked for is on this machine, or it is not
    listing = venv.with_suffix(".requirements.txt")
    listing.write_text(requirements)
    steps = [
        [uv, "venv", "--quiet", "--python", base, str(venv)],
        [uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(listing)],
    ]
    for index, cmd in enumerate(steps):
        if index == 1 and not requirements.strip():
            break
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=_INSTALL_TIMEOUT,
                env=env,
                cwd=venv.parent,
            )
        except subprocess.TimeoutExpired:
            return "", f"installing the requirements took longer than {_INSTALL_TIMEOUT:g} s"
        if proc.returncode != 0:
            lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
            why = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "")
            what = "creating the virtualenv" if index == 0 else "installing the requirements"
            return "", f"{what} failed (uv exited {proc.returncode}): {why[:300]}"
    done.write_text("")
    return str(python), ""
