"""The repository's environment as `readiness init` reads it: requirements, pyproject, packages."""

from __future__ import annotations

import os
import posixpath
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from checks.inspect.requirements import RequirementsError, read_pins
from readiness.discovery import excluded

__all__ = [
    "EnvironmentFound",
    "PackageFound",
    "assign_environment",
    "console_scripts",
    "environments",
    "mark_needed",
    "packages",
    "requirements_files",
]

_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
#: Import names that differ from the distribution's (the common ones of data pipelines).
_IMPORT_NAMES: Final = {
    "pyyaml": "yaml",
    "db-dtypes": "db_dtypes",
    "scikit-learn": "sklearn",
    "beautifulsoup4": "bs4",
    "pillow": "PIL",
    "protobuf": "google.protobuf",
    "opencv-python": "cv2",
    "python-dateutil": "dateutil",
    "apache-beam": "apache_beam",
    "google-cloud-bigquery-storage": "google.cloud.bigquery_storage",
    "absl-py": "absl",
}


@dataclass(slots=True)
class PackageFound:
    name: str
    #: The requirement as written where it was found ("google-cloud-storage==2.10.0").
    written: str
    where: str
    needed: bool = False


def console_scripts(root: Path) -> dict[str, str]:
    """Console-script name -> the module file it runs, from pyproject's [project.scripts]."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    scripts = data.get("project", {}).get("scripts", {})
    out = {}
    if isinstance(scripts, dict):
        for name, target in scripts.items():
            module = str(target).split(":", 1)[0].strip().replace(".", "/")
            for candidate in (f"{module}.py", f"src/{module}.py", f"{module}/__main__.py"):
                if (root / candidate).is_file():
                    out[str(name)] = candidate
                    break
    return out


# -- environment --------------------------------------------------------------------------------


def requirements_files(root: Path, patterns: tuple[str, ...]) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(root):
        rel_dir = Path(folder).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not excluded(posixpath.join(rel_dir, d), patterns)
            and not Path(folder, d, "pyvenv.cfg").exists()
        )  # fmt: skip
        for name in sorted(files):
            if re.fullmatch(r"requirements[\w.-]*\.txt", name) and "dev" not in name and "test" not in name:
                found.append(posixpath.join(rel_dir, name))
    return found


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()[:200]


def packages(root: Path, requirements: list[str], problems: list[str]) -> list[PackageFound]:
    out: dict[str, PackageFound] = {}
    for rel in requirements:
        try:
            pins = read_pins(root, [rel])
        except (RequirementsError, OSError) as exc:
            problems.append(f"{rel}: {exc}")
            continue
        for name, pin in pins.items():
            out.setdefault(name, PackageFound(name, _clean(str(pin.requirement)), f"{pin.file}:{pin.line}"))
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    deps = data.get("project", {}).get("dependencies", [])
    for index, dep in enumerate(deps if isinstance(deps, list) else []):
        try:
            req = Requirement(str(dep))
        except InvalidRequirement:
            continue
        name = canonicalize_name(req.name)
        out.setdefault(name, PackageFound(name, _clean(str(req)), f"pyproject.toml dependencies[{index}]"))
    return sorted(out.values(), key=lambda p: p.name)


def mark_needed(found: list[PackageFound], imported_modules: Iterable[str]) -> None:
    """Mark the packages that provide a module the run scripts import."""
    imported: set[str] = set()
    for module in imported_modules:
        parts = module.split(".")
        imported.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    for package in found:
        module = package.name.replace("-", "_")
        if package.name.startswith("google-cloud-"):
            module = "google.cloud." + package.name.removeprefix("google-cloud-").replace("-", "_")
        module = _IMPORT_NAMES.get(package.name, module)
        package.needed = module in imported


# -- run environments ---------------------------------------------------------------------------

#: `FROM python:3.11-slim`, `FROM apache/beam_python3.11_sdk`: the image's Python version.
_FROM_PYTHON: Final = re.compile(r"(?im)^\s*FROM\s+(?:--\S+\s+)*(?:\S*/)?(?:python:|beam_python)(3\.\d{1,2})")


@dataclass(slots=True)
class EnvironmentFound:
    name: str
    requirements: str
    #: The folder whose scripts it runs ("" = the repository root).
    folder: str
    #: The Python version a Dockerfile beside it names, and that Dockerfile.
    python_version: str | None = None
    dockerfile: str = ""


def environments(root: Path, requirements: list[str], dockerfiles: list[str]) -> list[EnvironmentFound]:
    """One run environment per requirements file: its folder's scripts run there (one image or
    virtualenv per job, as the repository lays them out); a Dockerfile in the same folder
    gives its Python version."""
    out: list[EnvironmentFound] = []
    names: set[str] = set()
    for rel in requirements:
        folder = posixpath.dirname(rel)
        stem = posixpath.basename(rel).removesuffix(".txt").removeprefix("requirements").strip("-_.")
        name = "-".join(p for p in (folder.replace("/", "-") or "root", stem) if p)
        unique, n = name, 2
        while unique in names:
            unique, n = f"{name}-{n}", n + 1
        names.add(unique)
        found = EnvironmentFound(unique, rel, folder)
        # The Dockerfile beside it, else one that copies its folder into the image.
        for dockerfile in sorted(dockerfiles, key=lambda d: posixpath.dirname(d) != folder):
            try:
                text = (root / dockerfile).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if posixpath.dirname(dockerfile) != folder and not _copies(
                text, posixpath.dirname(dockerfile), folder
            ):
                continue
            versions = _FROM_PYTHON.findall(text)
            if versions:
                found.python_version, found.dockerfile = versions[-1], dockerfile
                break
        out.append(found)
    return out


def _copies(text: str, context: str, folder: str) -> bool:
    """Whether a COPY/ADD of the Dockerfile (context: its own folder) takes `folder` whole."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[0].upper() not in ("COPY", "ADD"):
            continue
        sources = [p for p in parts[1:-1] if not p.startswith("--")]
        if any(posixpath.normpath(posixpath.join(context, src)) == folder for src in sources):
            return True
    return False


def assign_environment(path: str, found: list[EnvironmentFound]) -> str | None:
    """The environment of the nearest folder above `path` that has one, or None."""
    best: EnvironmentFound | None = None
    for env in found:
        inside = env.folder == "" or path.startswith(env.folder + "/")
        if inside and (best is None or len(env.folder) > len(best.folder)):
            best = env
    return best.name if best else None
