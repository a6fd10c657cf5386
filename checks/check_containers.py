"""Container builds: Dockerfiles copy files that exist and start a script that exists; Cloud Build
configs parse and build an existing Dockerfile."""

from __future__ import annotations

import posixpath
from typing import Any

import pytest

from checks.cases import Case
from checks.findings import finding
from checks.inspect.build_steps import docker_builds, workspace_copies
from checks.inspect.cloudbuild import CloudBuildError, load_cloudbuild
from checks.inspect.dockerfile import Stage, final_stage_chain, parse_dockerfile, parse_stages, start_command
from checks.inspect.dockerignore import load_dockerignore
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


def _source_root(script: Script) -> str:
    """What a Cloud Build config is submitted with: `context` when the manifest says (a trigger
    builds from the repository root), else the config's own folder (`gcloud builds submit`)."""
    return script.context if script.context is not None else posixpath.dirname(script.path) or "."


def _in_context(
    manifest: LoadedManifest, context: str, src: str, produced: frozenset[str] = frozenset()
) -> bool:
    rel = posixpath.normpath(posixpath.join(context, src.lstrip("/")))
    if rel == ".." or rel.startswith("../"):
        return False
    if rel in produced:
        return True
    if any(ch in src for ch in "*?["):
        return any((manifest.root / context).glob(src.lstrip("/")))
    target = (manifest.root / rel).resolve()
    return target.is_relative_to(manifest.root) and target.exists()


def _source_findings(
    manifest: LoadedManifest,
    dockerfile: str,
    context: str,
    produced: frozenset[str] = frozenset(),
) -> tuple[list[str], list[str], list[str]]:
    """(sources, missing, ignored) of a Dockerfile's COPY/ADD from `context`, as messages."""
    stages = parse_stages(parse_dockerfile(_text(manifest, dockerfile)))
    ignore = load_dockerignore(manifest.root, context, dockerfile)
    sources, missing, ignored = [], [], []
    for copy in (c for stage in stages for c in stage.copies):
        for src in copy.sources:
            sources.append(src)
            if not _in_context(manifest, context, src, produced):
                missing.append(f"{src} (line {copy.line})")
            elif ignore is not None and (pattern := ignore.excludes(src)) is not None:
                ignored.append(f"{src} (line {copy.line}, by {ignore.file}: {pattern})")
    return sources, missing, ignored


@pytest.mark.criterion("docker_sources")
def check_docker_sources(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    script = _script(case)
    context = _context(script)
    sources, missing, ignored = _source_findings(manifest, script.path, context)
    facts["copies"] = sources
    if missing:
        finding(f"{script.path}: COPY/ADD sources missing from context {context!r}: {', '.join(missing)}")
    if ignored:
        finding(
            f"{script.path}: COPY/ADD sources excluded from the build by .dockerignore: {', '.join(ignored)}"
        )


@pytest.mark.criterion("docker_entrypoint")
def check_docker_entrypoint(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    script = _script(case)
    chain = final_stage_chain(parse_stages(parse_dockerfile(_text(manifest, script.path))))
    if not chain:
        finding(f"{script.path}: no FROM: not a Dockerfile")
    started = start_command(chain)
    if started is None:
        base = chain[0].base
        if base.lower() == "scratch":
            finding(f"{script.path}: no ENTRYPOINT or CMD, and FROM scratch provides none")
        facts["entrypoint"] = f"the base image's ({base})"
        return
    command, line = started
    target = next((w for w in command if _looks_like_script(w)), None)
    facts["command"] = command
    if target is None:
        return  # runs a plain executable of the image (gunicorn, python -m ...), not a file of the repo
    facts["entrypoint"] = target
    workdir = chain[-1].workdir
    image_path = posixpath.normpath(posixpath.join(workdir, target))
    context = _context(script)
    ignore = load_dockerignore(manifest.root, context, script.path)
    origin = _image_origin(manifest, chain, context, image_path)
    if origin is True:
        return
    if isinstance(origin, str):
        excluded = ignore.excludes(origin) if ignore is not None else None
        if excluded is None:
            return
        finding(
            f"{script.path}:{line}: {target!r} is started but excluded from the build by "
            f"{ignore.file if ignore else '.dockerignore'} ({excluded})"
        )
    in_repo = (manifest.root / posixpath.normpath(posixpath.join(context, target.lstrip("/")))).is_file()
    if in_repo:
        finding(
            f"{script.path}:{line}: {target!r} is started but no COPY/ADD puts it at {image_path} in the image"
        )
    finding(f"{script.path}:{line}: entrypoint script {target!r} is not in the repository")


def _looks_like_script(word: str) -> bool:
    return word.endswith((".py", ".sh")) or (word.startswith(("./", "/app/", "/opt/")) and "." in word)


def _image_origin(
    manifest: LoadedManifest, chain: list[Stage], context: str, image_path: str
) -> str | bool | None:
    """Where the file at `image_path` comes from: its path in the context (a str), True when a
    here-document or another stage provides it, None when nothing puts it there."""
    origin: str | bool | None = None
    for copy in (c for stage in chain for c in stage.copies):
        dest = copy.dest.rstrip("/") or "/"
        into_dir = copy.dest.endswith("/") or len(copy.sources) > 1
        if copy.heredoc or copy.from_stage is not None:
            if image_path == dest or image_path.startswith(dest + "/"):
                origin = True
            continue
        for src in copy.sources:
            src_rel = posixpath.normpath(posixpath.join(context, src.lstrip("/")))
            if (manifest.root / src_rel).is_dir():
                if image_path == dest or image_path.startswith(dest.rstrip("/") + "/"):
                    inner = posixpath.relpath(image_path, dest)
                    if (manifest.root / src_rel / inner).is_file():
                        origin = posixpath.normpath(posixpath.join(src, inner))
                continue
            for match in _matches(manifest, context, src):
                name = posixpath.basename(match)
                landing = posixpath.join(dest, name) if into_dir or "*" in src else dest
                if landing == image_path or (not into_dir and posixpath.join(dest, name) == image_path):
                    origin = match
    return origin


def _matches(manifest: LoadedManifest, context: str, src: str) -> list[str]:
    """Context paths a COPY source names (globs expanded), relative to the context."""
    base = manifest.root / context
    if any(ch in src for ch in "*?["):
        return [p.relative_to(base).as_posix() for p in base.glob(src.lstrip("/")) if p.is_file()]
    return [src.lstrip("/")] if (base / src.lstrip("/")).is_file() else []


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
    root = _source_root(script)
    builds = docker_builds(config)
    facts["source_root"] = root
    facts["dockerfiles"] = [
        posixpath.normpath(posixpath.join(root, b.dockerfile)) for b in builds if b.dockerfile
    ]
    if not builds:
        facts["builds"] = "no image (no docker build step)"
        return
    copies = workspace_copies(config)
    missing: list[str] = []
    sources: list[str] = []
    for build in builds:
        # A file an earlier step fetched into /workspace is there when this step runs.
        produced = frozenset(posixpath.normpath(posixpath.join(root, p)) for i, p in copies if i < build.step)
        if build.dockerfile is None or "$" in build.dockerfile or "$" in build.context:
            continue  # stdin or an unset substitution: nothing to look up
        dockerfile = posixpath.normpath(posixpath.join(root, build.dockerfile))
        context = posixpath.normpath(posixpath.join(root, build.context))
        if dockerfile in produced:
            continue
        if not (manifest.root / dockerfile).is_file():
            missing.append(f"steps[{build.step}]: {dockerfile}")
            continue
        _, absent, ignored = _source_findings(manifest, dockerfile, context, produced)
        sources += [f"steps[{build.step}]: {dockerfile}: {m}" for m in absent]
        sources += [f"steps[{build.step}]: {dockerfile}: excluded: {m}" for m in ignored]
    if missing:
        finding(f"{script.path}: Dockerfile not found: {', '.join(missing)} (source root {root!r})")
    if sources:
        finding(f"{script.path}: COPY/ADD sources missing from the build's context: {', '.join(sources)}")
