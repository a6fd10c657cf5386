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

__all__ = ["DockerBuild", "Produced", "docker_builds", "produced_paths"]

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
    #: `--build-arg NAME=VALUE` values (they replace the Dockerfile's ARG defaults).
    build_args: dict[str, str]


@dataclass(frozen=True, slots=True)
class Produced:
    """A path a step puts into the workspace, relative to the source root."""

    step: int
    path: str
    #: A folder (a `git clone`): everything below it counts as present.
    folder: bool = False


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


_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "\n", ";;"})


def _shell_commands(text: str) -> list[list[str]]:
    """Simple commands of a shell text, split at `;`, `&&`, `||`, `|`, `&` and newlines (quotes
    may span lines); redirections stay as `>` / `>>` words."""
    text = re.sub(r"\\\n", " ", text)
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace = " \t\r"
    lexer.wordchars += ":$@%+,{}[]!^~="  # URLs, ${VARS}, gs://b/x, --opt=value stay one word
    lexer.commenters = "#"
    out: list[list[str]] = []
    words: list[str] = []
    try:
        for token in lexer:
            if token in _SEPARATORS:
                if words:
                    out.append(words)
                words = []
            else:
                words.append(token)
    except ValueError:  # an unclosed quote: fall back to plain words, line by line
        return [line.split() for line in text.splitlines() if line.split()]
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
            dockerfile, context, build_args = build
            context_rel = posixpath.normpath(posixpath.join(step_dir, context))
            file_rel = None if dockerfile == "-" else posixpath.normpath(posixpath.join(step_dir, dockerfile))
            found.append(DockerBuild(index, file_rel, context_rel, " ".join(words), build_args))
    return found


def _docker_build(words: list[str]) -> tuple[str, str, dict[str, str]] | None:
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
    build_args: dict[str, str] = {}
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in ("-f", "--file", "--build-arg") and i + 1 < len(rest):
            if word == "--build-arg":
                name, _, value = rest[i + 1].partition("=")
                build_args[name] = value
            else:
                dockerfile = rest[i + 1]
            i += 2
            continue
        if word.startswith("--build-arg="):
            name, _, value = word.split("=", 1)[1].partition("=")
            build_args[name] = value
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
    return dockerfile or posixpath.join(context, "Dockerfile"), context, build_args


def _kaniko(words: list[str]) -> tuple[str, str, dict[str, str]] | None:
    if not words or ("executor" not in words[0] and "kaniko" not in words[0]):
        return None
    options = dict(w.split("=", 1) for w in words[1:] if w.startswith("--") and "=" in w)
    context = options.get("--context", "dir:///workspace").removeprefix("dir://")
    if "://" in context:
        return None
    context = posixpath.relpath(context, "/workspace") if context.startswith("/") else context
    dockerfile = options.get("--dockerfile", "Dockerfile")
    if dockerfile.startswith("/"):
        dockerfile = posixpath.relpath(dockerfile, "/workspace")
    else:
        dockerfile = posixpath.join(context, dockerfile)
    build_args = dict(
        w.split("=", 1)[1].partition("=")[::2] for w in words[1:] if w.startswith("--build-arg=")
    )
    return dockerfile, context, build_args


#: Programs whose steps change nothing of the source tree (or whose outputs are read above).
_INERT = frozenset(
    {"docker", "gcloud", "gsutil", "git", "kubectl", "gke-deploy", "echo", "printf", "cat", "ls"}
)


def produced_paths(config: dict[str, Any]) -> tuple[list[Produced], list[int]]:
    """What steps put into the workspace (`gcloud storage cp gs://... /workspace/x`, `gsutil cp`,
    `curl -o`, `git clone`, `cmd > file`), and the steps that run other programs (a gradle or
    npm build), whose outputs the suite cannot know."""
    found: list[Produced] = []
    builders: list[int] = []
    for index, step in enumerate(config["steps"]):
        step_dir = str(step.get("dir") or ".")
        for words in _commands(step):
            for path, folder in _outputs(words):
                rel = _workspace_path(path, step_dir)
                if rel is not None:
                    found.append(Produced(index, rel, folder))
                elif "$" in path:
                    builders.append(index)  # copies something named at build time: unknowable
            program = posixpath.basename(words[0]) if words else ""
            if program and program not in _INERT and program not in ("cp", "curl", "wget", "mkdir", "cd"):
                builders.append(index)
    return found, builders


def _workspace_path(path: str, step_dir: str) -> str | None:
    if "$" in path:
        return None
    if path.startswith("/workspace"):
        return posixpath.normpath(posixpath.relpath(path, "/workspace"))
    if path.startswith("/") or "://" in path:
        return None
    return posixpath.normpath(posixpath.join(step_dir, path))


def _outputs(words: list[str]) -> list[tuple[str, bool]]:
    """(path, is a folder) each command writes."""
    out: list[tuple[str, bool]] = []
    for i, word in enumerate(words[:-1]):
        if word in (">", ">>"):
            out.append((words[i + 1], False))
    words = [
        w for i, w in enumerate(words) if w not in (">", ">>") and (i == 0 or words[i - 1] not in (">", ">>"))
    ]
    program = posixpath.basename(words[0]) if words else ""
    args = [w for w in words[1:] if not w.startswith("-")]
    if program == "git" and args[:1] == ["clone"] and len(args) >= 2:
        name = args[2] if len(args) >= 3 else posixpath.basename(args[1].rstrip("/")).removesuffix(".git")
        out.append((name, True))
        return out
    if program in ("curl", "wget"):
        target = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-o", "-O", "--output")), None)
        return [*out, (target, False)] if target else out
    if program == "gsutil" and args[:1] == ["cp"]:
        paths = args[1:]
    elif program == "gcloud" and args[:2] == ["storage", "cp"]:
        paths = args[2:]
    elif program == "cp":
        paths = args
    else:
        return out
    if len(paths) < 2 or "://" in paths[-1]:
        return out
    dest, source = paths[-1], paths[0]
    if dest.endswith("/") or posixpath.basename(dest) in (".", "") or dest == "/workspace":
        dest = posixpath.join(dest, posixpath.basename(source.rstrip("/")))
    out.append((dest, False))
    return out
