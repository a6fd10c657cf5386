"""What a Cloud Build config's steps do to the source tree: the images they build (docker build in
`args`, in a `script:`, or in `bash -c`; kaniko) and the files they copy into /workspace first.

Paths are relative to the build's source root (what is uploaded to /workspace): a step's `dir`
is relative to it, and so are a docker build's context and `-f` file (from the step's folder).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Any

__all__ = ["DockerBuild", "docker_builds", "workspace_copies"]

#: `docker build` options that take no value (every other option takes the next word).
_FLAGS = frozenset(
    {"--no-cache", "--pull", "--push", "--load", "-q", "--quiet", "--rm", "--force-rm", "--squash",
     "--compress", "--disable-content-trust"}
)  # fmt: skip
_SHELLS = frozenset({"bash", "sh", "/bin/bash", "/bin/sh", "/usr/bin/env"})
_SUBSTITUTION = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)\}?")


@dataclass(frozen=True, slots=True)
class DockerBuild:
    step: int
    #: The Dockerfile and the build context, relative to the source root; dockerfile is None
    #: when it comes from stdin (`-f -`).
    dockerfile: str | None
    context: str
    #: The command as written, for messages.
    command: str


def _substitute(text: str, subs: dict[str, str]) -> str:
    return _SUBSTITUTION.sub(lambda m: subs.get(m.group(1), subs.get("_" + m.group(1), m.group(0))), text)


def _commands(step: dict[str, Any]) -> list[list[str]]:
    """The commands a step runs, as word lists: its args (with its entrypoint), or the shell
    commands of its `script` / `bash -c` text."""
    args = [str(a) for a in step.get("args") or []]
    entrypoint = str(step.get("entrypoint") or "")
    script = step.get("script")
    if isinstance(script, str):
        return _shell_commands(script)
    if entrypoint in _SHELLS and args and args[0] in ("-c", "-ec", "-xc", "-exc", "-euc", "-eux"):
        return _shell_commands(" ".join(args[1:2]))
    name = str(step["name"]).rsplit("/", 1)[-1].split(":", 1)[0]
    program = entrypoint or name
    return [[program, *args]]


def _shell_commands(text: str) -> list[list[str]]:
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                words = part.split()
            if words:
                out.append(words)
    return out


def docker_builds(config: dict[str, Any], subs: dict[str, str] | None = None) -> list[DockerBuild]:
    values = {str(k): str(v) for k, v in (config.get("substitutions") or {}).items()} | (subs or {})
    found = []
    for index, step in enumerate(config["steps"]):
        step_dir = str(step.get("dir") or ".")
        for words in _commands(step):
            words = [_substitute(w, values) for w in words]
            build = _docker_build(words) or _kaniko(words)
            if build is None:
                continue
            dockerfile, context = build
            context_rel = posixpath.normpath(posixpath.join(step_dir, context))
            file_rel = None if dockerfile == "-" else posixpath.normpath(posixpath.join(step_dir, dockerfile))
            found.append(DockerBuild(index, file_rel, context_rel, " ".join(words)))
    return found


def _docker_build(words: list[str]) -> tuple[str, str] | None:
    if not words or posixpath.basename(words[0]) != "docker":
        return None
    rest = words[1:]
    if rest[:2] == ["buildx", "build"] or rest[:2] == ["image", "build"]:
        rest = rest[2:]
    elif rest[:1] == ["build"]:
        rest = rest[1:]
    else:
        return None
    dockerfile: str | None = None
    positional: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in ("-f", "--file") and i + 1 < len(rest):
            dockerfile = rest[i + 1]
            i += 2
            continue
        if word.startswith("--file="):
            dockerfile = word.split("=", 1)[1]
        elif word.startswith("-f") and len(word) > 2:
            dockerfile = word[2:]
        elif word.startswith("-") and "=" not in word and word not in _FLAGS:
            i += 1  # the option's value
        elif not word.startswith("-"):
            positional.append(word)
        i += 1
    context = positional[0] if positional else "."
    if "://" in context or context == "-":
        return None  # a remote or stdin context: nothing of the source tree
    return dockerfile or posixpath.join(context, "Dockerfile"), context


def _kaniko(words: list[str]) -> tuple[str, str] | None:
    if not words or ("executor" not in words[0] and "kaniko" not in words[0]):
        return None
    options = dict(w.split("=", 1) for w in words[1:] if w.startswith("--") and "=" in w)
    context = options.get("--context", "dir:///workspace").removeprefix("dir://")
    if "://" in context:
        return None
    context = posixpath.relpath(context, "/workspace") if context.startswith("/") else context
    dockerfile = options.get("--dockerfile", posixpath.join(context, "Dockerfile"))
    return dockerfile, context


def workspace_copies(config: dict[str, Any]) -> list[tuple[int, str]]:
    """(step, path relative to the source root) of each file a step copies into the workspace
    from elsewhere (`gcloud storage cp gs://... /workspace/x`, `gsutil cp`, `curl -o`)."""
    found = []
    for index, step in enumerate(config["steps"]):
        step_dir = str(step.get("dir") or ".")
        for words in _commands(step):
            dest = _copy_destination(words)
            if dest is None:
                continue
            path, source = dest
            if path.startswith("/workspace"):
                path = posixpath.relpath(path, "/workspace")
            elif path.startswith("/"):
                continue
            else:
                path = posixpath.join(step_dir, path)
            if path.endswith("/") or posixpath.basename(path) in (".", ""):
                path = posixpath.join(path, posixpath.basename(source.rstrip("/")))
            found.append((index, posixpath.normpath(path)))
    return found


def _copy_destination(words: list[str]) -> tuple[str, str] | None:
    """(destination, source) of a copy into the file system, else None."""
    program = posixpath.basename(words[0]) if words else ""
    args = [w for w in words[1:] if not w.startswith("-")]
    if program == "gsutil" and args[:1] == ["cp"]:
        paths = args[1:]
    elif program == "gcloud" and args[:2] == ["storage", "cp"]:
        paths = args[2:]
    elif program in ("cp", "wget", "curl"):
        out = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-o", "-O", "--output")), None)
        if program != "cp":
            return (out, out) if out else None
        paths = args
    else:
        return None
    if len(paths) < 2 or "://" in paths[-1]:
        return None
    return paths[-1], paths[0]
