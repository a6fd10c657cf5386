"""Dockerfile instructions that name files of the repository: COPY/ADD sources and the entrypoint."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

__all__ = ["Instruction", "copy_sources", "entrypoint_script", "parse_dockerfile"]

#: A parser directive (`# escape=``), only valid before the first instruction or comment.
_DIRECTIVE = re.compile(r"^\s*#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined, as Docker reads them.

    Comment and blank lines are dropped also inside a continuation (Docker skips them there
    rather than ending the instruction), a continuation still open at the end of the file
    ends with it, and the `# escape=` parser directive (backtick on Windows images) is honoured.
    """
    lines = text.splitlines()
    escape = "\\"
    for raw in lines:
        directive = _DIRECTIVE.match(raw)
        if directive is None:
            break
        if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
            escape = directive.group(2)
    out: list[Instruction] = []
    buf: list[str] = []
    start = 0

    def flush() -> None:
        joined = " ".join(part for part in buf if part)
        buf.clear()
        keyword, _, args = joined.partition(" ")
        if keyword:
            out.append(Instruction(start, keyword.upper(), args.strip()))

    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not buf:
            start = number
        if stripped.endswith(escape):
            buf.append(stripped[: -len(escape)].strip())
            continue
        buf.append(stripped)
        flush()
    if buf:
        flush()
    return out


def _words(args: str) -> list[str]:
    if args.startswith("["):
        try:
            value = json.loads(args)
        except json.JSONDecodeError:
            pass
        else:
            if isinstance(value, list):
                return [str(v) for v in value]
    try:
        return shlex.split(args)
    except ValueError:
        return args.split()


def copy_sources(instructions: list[Instruction]) -> list[tuple[int, str]]:
    """(line, source) for each COPY/ADD source taken from the build context.

    Sources copied from another stage (--from) and ADD from a URL are not files of the repo.
    """
    found = []
    for ins in instructions:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        words = _words(ins.args)
        if any(w.startswith("--from") for w in words):
            continue
        paths = [w for w in words if not w.startswith("--")]
        for src in paths[:-1]:
            if ins.keyword == "ADD" and "://" in src:
                continue
            found.append((ins.line, src))
    return found


def entrypoint_script(instructions: list[Instruction]) -> tuple[int, str] | None:
    """(line, path) of the script the image runs: the last ENTRYPOINT, else the last CMD.

    Only a word that looks like a script path counts (`python main.py` -> main.py); a plain
    executable such as `gunicorn` is not a file of the repository.
    """
    for keyword in ("ENTRYPOINT", "CMD"):
        chosen = [i for i in instructions if i.keyword == keyword]
        if not chosen:
            continue
        ins = chosen[-1]
        for word in _words(ins.args):
            if word.endswith((".py", ".sh")) or (word.startswith(("./", "/app/", "/opt/")) and "." in word):
                return ins.line, word
        return None
    return None
