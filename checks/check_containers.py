"""Container builds: Dockerfiles copy files that exist and start a script that exists; Cloud Build
configs parse and build an existing Dockerfile."""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from checks.findings import finding, unverified
from checks.inspect.build_steps import DockerBuild, Produced, docker_builds, produced_paths
from checks.inspect.cloudbuild import CloudBuildError, load_cloudbuild
from checks.inspect.dockerfile import (
    Instruction,
    Stage,
    final_stage_chain,
    is_exec_form,
    looks_like_script,
    made_executable,
    parse_dockerfile,
    parse_stages,
    start_command,
)
from checks.inspect.dockerignore import load_dockerignore
from checks.inspect.files import RepoFileError, read_text, resolve_inside
from readiness.cases import Case
from readiness.manifest import LoadedManifest, Script, ScriptKind
from readiness.memo import RunMemo
from readiness.undeclared import undeclared_scripts


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


def _in_context(manifest: LoadedManifest, context: str, src: str, present: Callable[[str], bool]) -> bool:
    rel = posixpath.normpath(posixpath.join(context, src.lstrip("/")))
    if rel == ".." or rel.startswith("../"):
        return False
    if present(rel):
        return True
    if any(ch in src for ch in "*?["):
        return any((manifest.root / context).glob(src.lstrip("/")))
    target = (manifest.root / rel).resolve()
    return target.is_relative_to(manifest.root) and target.exists()


def _nothing(_: str) -> bool:
    return False


@dataclass
class _Sources:
    copied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    #: Missing, but named by an ARG default that a --build-arg may replace.
    missing_arg: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _sources(
    manifest: LoadedManifest,
    dockerfile: str,
    context: str,
    present: Callable[[str], bool] = _nothing,
    build_args: dict[str, str] | None = None,
) -> _Sources:
    """A Dockerfile's COPY/ADD sources from `context`, sorted by what is wrong with them."""
    stages = parse_stages(parse_dockerfile(_text(manifest, dockerfile)), build_args)
    ignore = load_dockerignore(manifest.root, context, dockerfile)
    out = _Sources()
    for copy in (c for stage in stages for c in stage.copies):
        for src in copy.sources:
            out.copied.append(src)
            if not _in_context(manifest, context, src, present):
                (out.missing_arg if src in copy.from_arg else out.missing).append(f"{src} (line {copy.line})")
            elif ignore is not None and (pattern := ignore.excludes(src)) is not None:
                out.ignored.append(f"{src} (line {copy.line}, by {ignore.file}: {pattern})")
    return out


@pytest.mark.criterion("docker_sources")
def check_docker_sources(case: Case, manifest: LoadedManifest, facts: dict[str, Any], memo: RunMemo) -> None:
    script = _script(case)
    # Built by a declared Cloud Build config, the build says what the context holds: its
    # context, the files its earlier steps fetch, its --build-arg values.
    view = _declared_build(manifest, script.path, memo)
    if view is None:
        context = _context(script)
        found = _sources(manifest, script.path, context)
        where = f"context {context!r}"
    else:
        context = view.context
        found = _sources(manifest, script.path, context, view.present, view.build_args)
        where = f"the context {context!r} of {view.config} steps[{view.step}]"
        facts["built by"] = f"{view.config} steps[{view.step}]"
    facts["copies"] = found.copied
    if found.ignored:
        finding(
            f"{script.path}: COPY/ADD sources excluded from the build by .dockerignore: {', '.join(found.ignored)}"
        )
    if view is not None and view.after_builder and (found.missing or found.missing_arg):
        # A gradle or npm step before the build may have made them: not knowable from here.
        facts["sources left to earlier build steps"] = found.missing + found.missing_arg
        return
    if found.missing or (view is not None and found.missing_arg):
        finding(
            f"{script.path}: COPY/ADD sources missing from {where}: {', '.join(found.missing + found.missing_arg)}"
        )
    if found.missing_arg:
        # `ARG JAR_FILE=MUST_BE_SET` + `COPY ${JAR_FILE}`: only the build that passes --build-arg can say.
        unverified(
            f"{script.path}: COPY/ADD sources depend on a build argument whose default is not in {where}: "
            f"{', '.join(found.missing_arg)}; declare the Cloud Build config that builds it"
        )


@pytest.mark.criterion("docker_entrypoint")
def check_docker_entrypoint(case: Case, manifest: LoadedManifest, facts: dict[str, Any]) -> None:
    script = _script(case)
    instructions = parse_dockerfile(_text(manifest, script.path))
    chain = final_stage_chain(parse_stages(instructions))
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
    target = next((w for w in command if looks_like_script(w)), None)
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
            if command[0] == target:
                _startable(manifest, f"{script.path}:{line}", posixpath.join(context, origin), image_path, chain,
                           instructions, is_exec_form(instructions, line))  # fmt: skip
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


def _startable(
    manifest: LoadedManifest,
    where: str,
    source: str,
    image_path: str,
    chain: list[Stage],
    instructions: list[Instruction],
    exec_form: bool,
) -> None:
    """A file the image starts by its own path (not `bash x.sh`, `python main.py`) is exec'd:
    it needs the executable bit (from the repository, `COPY --chmod` or `RUN chmod +x`) and, in
    the JSON form where no shell falls back to reading it, a shebang."""
    rel = posixpath.normpath(source)
    try:
        mode = resolve_inside(manifest.root, rel).stat().st_mode
        first = read_text(manifest.root, rel).split("\n", 1)[0]
    except (RepoFileError, OSError):
        return  # unreadable: the COPY check of the same file reports it
    problems = []
    if not mode & stat.S_IXUSR and not made_executable(chain, instructions, image_path):
        problems.append(
            f"{rel} is not executable (mode {stat.S_IMODE(mode):04o}) and the Dockerfile does not "
            f"chmod +x it: the container fails with 'permission denied' (git update-index --chmod=+x {rel})"
        )
    if exec_form and (not first.startswith("#!") or first.endswith("\r")):
        what = "has no shebang line" if not first.startswith("#!") else "has a shebang ending in CR"
        problems.append(f"{rel} {what}: exec of {image_path} fails with 'exec format error'")
    if problems:
        finding(f"{where}: the image starts {image_path} directly, but {'; '.join(problems)}")


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
def check_cloudbuild_dockerfile(
    case: Case, manifest: LoadedManifest, facts: dict[str, Any], memo: RunMemo
) -> None:
    script = _script(case)
    try:
        config = load_cloudbuild(_text(manifest, script.path))
    except CloudBuildError as exc:
        finding(f"{script.path}: {exc}")
    views = _build_views(manifest, script, config)
    if not views:
        facts["builds"] = "no image (no docker build step)"
        return
    facts["source_root"] = views[0].root
    facts["dockerfiles"] = [v.dockerfile for v in views]
    declared = {s.path for s in manifest.manifest.scripts if s.script_kind == ScriptKind.DOCKERFILE}
    missing: list[str] = []
    absent: list[str] = []
    left: list[str] = []
    for view in views:
        if view.present(view.dockerfile):
            continue  # written by an earlier step: not readable here
        if not (manifest.root / view.dockerfile).is_file():
            missing.append(f"steps[{view.step}]: {view.dockerfile}")
            continue
        if view.dockerfile in declared and _declared_build(manifest, view.dockerfile, memo) == view:
            continue  # the Dockerfile's own case (docker_sources) checks its sources in this build
        found = _sources(manifest, view.dockerfile, view.context, view.present, view.build_args)
        unknown = [f"steps[{view.step}]: {view.dockerfile}: {m}" for m in found.missing + found.missing_arg]
        (left if view.after_builder else absent).extend(unknown)
        absent += [f"steps[{view.step}]: {view.dockerfile}: excluded: {m}" for m in found.ignored]
    if left:
        facts["sources left to earlier build steps"] = left
    if missing:
        finding(f"{script.path}: Dockerfile not found: {', '.join(missing)} (source root {views[0].root!r})")
    if absent:
        finding(f"{script.path}: COPY/ADD sources missing from the build's context: {', '.join(absent)}")


@dataclass(frozen=True)
class _BuildView:
    """One docker build of a Cloud Build config, with paths relative to the target root."""

    config: str
    step: int
    root: str
    dockerfile: str
    context: str
    build_args: dict[str, str]
    #: Whether a path was put there by a step up to this one.
    present: Callable[[str], bool] = field(compare=False)
    #: A step up to this one runs a program whose outputs are unknown (gradle, npm...).
    after_builder: bool = field(compare=False)


def _build_views(manifest: LoadedManifest, script: Script, config: dict[str, Any]) -> list[_BuildView]:
    builds = [b for b in docker_builds(config) if b.dockerfile and "$" not in b.dockerfile + b.context]
    produced, builders = produced_paths(config)
    root = _build_root(manifest, script, builds, produced)
    return [
        _BuildView(
            script.path,
            b.step,
            root,
            posixpath.normpath(posixpath.join(root, str(b.dockerfile))),
            posixpath.normpath(posixpath.join(root, b.context)),
            b.build_args,
            _present_before(root, b.step, produced),
            any(i <= b.step for i in builders),
        )
        for b in builds
    ]


def _declared_build(manifest: LoadedManifest, dockerfile: str, memo: RunMemo) -> _BuildView | None:
    """The first build of `dockerfile` in the declared Cloud Build configs, else in the configs
    the repository has that the manifest does not name (dataflow-solution-guides: a build that
    fetches the model from Cloud Storage before `docker build` is how the image is made)."""
    for other in (*manifest.manifest.scripts, *undeclared_scripts(manifest, memo)):
        if other.script_kind != ScriptKind.CLOUDBUILD:
            continue
        try:
            config = load_cloudbuild(read_text(manifest.root, other.path))
        except (RepoFileError, CloudBuildError):
            continue
        for view in _build_views(manifest, other, config):
            if view.dockerfile == dockerfile:
                return view
    return None


def _present_before(root: str, step: int, produced: list[Produced]) -> Callable[[str], bool]:
    """Whether a path (relative to the target root) was put there by a step up to `step`."""
    files = {
        posixpath.normpath(posixpath.join(root, p.path)) for p in produced if p.step <= step and not p.folder
    }
    folders = [
        posixpath.normpath(posixpath.join(root, p.path)) for p in produced if p.step <= step and p.folder
    ]

    def present(path: str) -> bool:
        return path in files or any(path == f or path.startswith(f + "/") for f in folders)

    return present


def _build_root(
    manifest: LoadedManifest, script: Script, builds: list[DockerBuild], produced: list[Produced]
) -> str:
    root = _source_root(script)

    def resolves(base: str) -> bool:
        return all(_dockerfile_present(manifest, base, b, produced) for b in builds)

    # Paths that resolve from the repository root only: the config is built by a trigger (or
    # submitted from the root), whose source is the whole repository.
    if script.context is None and root != "." and not resolves(root) and resolves("."):
        return "."
    return root


def _dockerfile_present(
    manifest: LoadedManifest, root: str, build: DockerBuild, produced: list[Produced]
) -> bool:
    path = posixpath.normpath(posixpath.join(root, str(build.dockerfile)))
    return _present_before(root, build.step, produced)(path) or (manifest.root / path).is_file()
