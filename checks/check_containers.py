"""Container builds: Dockerfiles copy files that exist and start a script that exists; Cloud Build
configs parse and build an existing Dockerfile."""

from __future__ import annotations

import posixpath
from typing import Any

import pytest

from checks.cases import Case
from checks.findings import finding
from checks.inspect.cloudbuild import CloudBuildError, dockerfiles, load_cloudbuild
from checks.inspect.dockerfile import copy_sources, entrypoint_script, parse_dockerfile
from checks.inspect.files import RepoFileError, read_text
from checks.manifest import LoadedManifest, Script


def _script(case: Case) -> Script:
    assert isinstance(case.item, Script)
    return case.item


def _text(manifest: LoadedManifest, path: str) -> str:
    __tracebackhide__ = True
    try:
        return read_text(manifest.root, path)
    except RepoFileError as exc:
        finding(str(exc))


def _context(script: Script) -> str:
    return script.context if script.context is not None else posixpath.dirname(script.path) or "."


def _in_context(manifest: LoadedManifest, context: str, src: str) -> bool:
    rel = posixpath.normpath(posixpath.join(context, src.lstrip("/")))
    if rel == ".." or rel.startswith("../"):
        return False
    if any(ch in src for ch in "*?["):
        return any((manifest.root / context).glob(src.lstrip("/")))
    target = (manifest.root / rel).resolve()
    return target.is_relative_to(manifest.root) and target.exists()


@pytest.mark.criterion("docker_sources")
def check_docker_sources(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    script = _script(case)
    instructions = parse_dockerfile(_text(manifest, script.path))
    context = _context(script)
    sources = copy_sources(instructions)
    facts["copies"] = [src for _, src in sources]
    missing = [f"{src} (line {line})" for line, src in sources if not _in_context(manifest, context, src)]
    if missing:
        finding(f"{script.path}: COPY/ADD sources missing from context {context!r}: {', '.join(missing)}")


@pytest.mark.criterion("docker_entrypoint")
def check_docker_entrypoint(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    script = _script(case)
    instructions = parse_dockerfile(_text(manifest, script.path))
    found = entrypoint_script(instructions)
    if found is None:
        if not any(i.keyword in ("ENTRYPOINT", "CMD") for i in instructions):
            finding(f"{script.path}: no ENTRYPOINT or CMD")
        return  # runs a plain executable of the image, not a file of the repo
    line, target = found
    facts["entrypoint"] = target
    # The script runs from where it was copied to; find which COPY put it there.
    name = posixpath.basename(target)
    copied = [src for _, src in copy_sources(instructions)]
    context = _context(script)
    candidates = [
        posixpath.join(context, src) for src in copied if posixpath.basename(src.rstrip("/")) == name
    ]
    candidates += [posixpath.join(context, src.rstrip("/"), name) for src in copied]
    candidates.append(posixpath.join(context, target.lstrip("/")))
    if not any((manifest.root / posixpath.normpath(c)).is_file() for c in candidates):
        finding(f"{script.path}:{line}: entrypoint script {target!r} is not in the repository")


@pytest.mark.criterion("cloudbuild_parses")
def check_cloudbuild_parses(case: Case, manifest: LoadedManifest) -> None:
    script = _script(case)
    try:
        load_cloudbuild(_text(manifest, script.path))
    except CloudBuildError as exc:
        finding(f"{script.path}: {exc}")


@pytest.mark.criterion("cloudbuild_dockerfile")
def check_cloudbuild_dockerfile(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    script = _script(case)
    try:
        config = load_cloudbuild(_text(manifest, script.path))
    except CloudBuildError as exc:
        finding(f"{script.path}: {exc}")
    # Cloud Build runs from the directory the build is submitted from: the config's folder.
    base = posixpath.dirname(script.path)
    named = [(i, posixpath.normpath(posixpath.join(base, p))) for i, p in dockerfiles(config)]
    facts["dockerfiles"] = [p for _, p in named]
    if not named:
        finding(f"{script.path}: no docker build step")
    missing = [f"steps[{i}]: {p}" for i, p in named if not (manifest.root / p).is_file()]
    if missing:
        finding(f"{script.path}: Dockerfile not found: {', '.join(missing)}")
