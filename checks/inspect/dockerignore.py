"""`.dockerignore`: which context paths a build never sees (Docker's rules: Go `filepath.Match`
patterns plus `**`, a leading `!` re-includes, the last matching line wins, a pattern that matches
a folder excludes what is inside it)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from checks.inspect.files import RepoFileError, read_text

__all__ = ["DockerIgnore", "load_dockerignore"]


@dataclass(frozen=True, slots=True)
class DockerIgnore:
    #: Where the rules came from, relative to the target root.
    file: str
    rules: tuple[tuple[bool, re.Pattern[str], str], ...]

    def excludes(self, path: str) -> str | None:
        """The pattern that leaves `path` (relative to the context) out of the build, else None."""
        path = posixpath.normpath(path.lstrip("/"))
        parts = path.split("/")
        excluded_by: str | None = None
        for include, pattern, text in self.rules:
            # A pattern matching the path or one of its parent folders decides for it.
            prefixes = ("/".join(parts[: i + 1]) for i in range(len(parts)))
            if any(pattern.fullmatch(prefix) for prefix in prefixes):
                excluded_by = None if include else text
        return excluded_by


def load_dockerignore(root: Path, context: str, dockerfile: str) -> DockerIgnore | None:
    """The rules that apply to a build: `<Dockerfile>.dockerignore` beside the Dockerfile
    (BuildKit), else `.dockerignore` at the context's root."""
    for candidate in (f"{dockerfile}.dockerignore", posixpath.join(context, ".dockerignore")):
        candidate = posixpath.normpath(candidate)
        if not (root / candidate).is_file():
            continue
        try:
            text = read_text(root, candidate)
        except RepoFileError:
            return None
        return DockerIgnore(candidate, tuple(_rules(text)))
    return None


def _rules(text: str) -> list[tuple[bool, re.Pattern[str], str]]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line[1:].strip() if include else line
        pattern = posixpath.normpath(pattern.lstrip("/"))
        if pattern == ".":
            continue
        rules.append((include, re.compile(_translate(pattern)), line))
    return rules


def _translate(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            if pattern.startswith("/", i):
                out.append("/?")
                i += 1
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                body = "^" + body[1:] if body.startswith("^") else body
                out.append(f"[{body}]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)
