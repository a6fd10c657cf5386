"""Commands the repository itself runs: `python x.py --flag`, `python -m pkg.mod`, `./x.sh`.

Read from shell scripts, Makefile recipes, Cloud Build steps, Dockerfile RUN/CMD/ENTRYPOINT
and the fenced shell blocks of Markdown files; text only, nothing is run.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = [
    "Invocation",
    "command_lines",
    "invocations_in",
    "makefile_commands",
    "markdown_commands",
    "program_commands",
]

#: Words that end a command: what follows runs separately or redirects its output.
_SEPARATORS: Final = frozenset({";", "&&", "||", "|", "&", ">", ">>", "2>", "2>&1", "<", ")"})
_FLAG: Final = re.compile(r"^--?[A-Za-z][\w-]*")
_PYTHON: Final = re.compile(r"^(?:\S*/)?python[0-9.]*$|^\$[({]?\w*PYTHON\w*[)}]?$", re.IGNORECASE)
_SHELLS: Final = frozenset({"bash", "sh", "zsh", "/bin/bash", "/bin/sh", "/usr/bin/env"})
#: Prefixes a script uses to name its own folder (`"$(dirname "$0")"/x.sh`).
_OWN_DIR: Final = re.compile(
    r"""^["']?\$(?:\(dirname\s+["']?\$\{?0\}?["']?\)|\{?(?:SCRIPT_?DIR|DIR|HERE|BASEDIR)\}?)["']?/"""
)


@dataclass(frozen=True, slots=True)
class Invocation:
    #: The script as written, relative to the folder the command runs in ("" for a module).
    script: str
    #: For `python -m`, the dotted module.
    module: str
    #: Options passed, without values ("--workers").
    flags: tuple[str, ...]
    #: Where it was seen: "Makefile:12".
    where: str
    #: True when the path was written relative to the invoking file's own folder.
    own_dir: bool = False
    #: True for `source x.sh` / `. x.sh`: settings read into the shell, often generated (by
    #: Terraform, by a setup step), so a missing one is not a script somebody must write.
    sourced: bool = False
    #: How the script is started: "path" (`./x.sh`, `exec x.sh`), "source", or the shell named
    #: before it (`bash x.sh` -> "bash"); "" for Python.
    started_with: str = ""


def command_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, command) with `\\` continuations joined and comments dropped."""
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf:
            start = number
            if line.lstrip().startswith("#"):
                continue
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        joined = " ".join(buf).strip()
        buf = []
        if joined:
            yield start, joined
    if buf:
        yield start, " ".join(buf).strip()


def makefile_commands(text: str) -> Iterator[tuple[int, str]]:
    """Recipe lines of a Makefile (tab-indented), without the `@`/`-` prefixes."""
    for number, line in command_lines(text):
        if text.splitlines()[number - 1].startswith("\t"):
            yield number, line.lstrip("@-+ \t")


def markdown_commands(text: str) -> Iterator[tuple[int, str]]:
    """Lines of the fenced shell blocks of a Markdown file, without `$ ` prompts."""
    fence = ""  # the open fence's marker, "" outside a block
    shell = False
    block: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), 1):
        opening = re.match(r"^\s*(```|~~~)\s*([\w+-]*)", line)
        if not fence:
            if opening:
                fence, shell, block, first = (
                    opening.group(1),
                    opening.group(2).lower() in _SHELL_FENCES,
                    [],
                    number + 1,
                )
            continue
        if line.strip().startswith(fence):
            if shell:
                for offset, command in command_lines("\n".join(block)):
                    yield first + offset - 1, command
            fence = ""
            continue
        block.append(re.sub(r"^\s*[$>]\s+", "", line))


_SHELL_FENCES: Final = frozenset({"", "bash", "sh", "shell", "console", "zsh", "shell-session"})

#: A program starting a command from string literals: Go's `exec.Command("/bin/sh", "x.sh")`
#: (and CommandContext, whose first argument is the context) and Python's
#: `subprocess.run(["bash", "x.sh"])`; the arguments up to the closing parenthesis.
_EXEC_CALL: Final = re.compile(
    r"\bexec\.Command(?P<ctx>Context)?\s*\((?P<go>[^()]*(?:\([^()]*\)[^()]*)*)\)"
    r"|\bsubprocess\.(?:run|call|check_call|check_output|Popen)\s*\(\s*\[(?P<py>[^\]]*)\]"
)
_LITERAL: Final = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'|`([^`]*)`')


def program_commands(text: str) -> Iterator[tuple[int, str]]:
    """Commands a Go or Python program starts with literal arguments, as shell words.

    Only calls whose every argument (after Go's context) is a string literal: a variable could
    be anything, and a guess would name the wrong script."""
    for match in _EXEC_CALL.finditer(text):
        args = match.group("go") if match.group("py") is None else match.group("py")
        parts = [p.strip() for p in (args or "").split(",") if p.strip()]
        if match.group("ctx"):
            parts = parts[1:]
        words = []
        for part in parts:
            literal = _LITERAL.fullmatch(part)
            if literal is None:
                break
            words.append(next(g for g in literal.groups() if g is not None))
        else:
            if words:
                yield text.count("\n", 0, match.start()) + 1, shlex.join(words)


def _words(command: str) -> list[str]:
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        lexer.commenters = ""
        return list(lexer)
    except ValueError:
        return command.split()


def invocations_in(command: str, where: str) -> list[Invocation]:
    """The scripts one command line runs (several when it chains commands)."""
    words = _words(command)
    found: list[Invocation] = []
    for index, word in enumerate(words):
        if _PYTHON.match(word):
            found.extend(_python_call(words[index + 1 :], where))
        elif _is_script_word(word) and (
            index == 0 or words[index - 1] in _SEPARATORS or _is_launcher(words, index)
        ):
            call = _call(word, "", words[index + 1 :], where)
            started = _started_with(words, index) if not word.endswith(".py") else ""
            call = dataclasses.replace(call, sourced=started == "source", started_with=started)
            found.append(call)
    return found


def _is_launcher(words: list[str], index: int) -> bool:
    """`bash x.sh`, `bash -e x.sh`, `exec ./x.sh`, `sudo x.sh`, `env A=1 x.sh`: the words
    before run it."""
    before = words[index - 1]
    return (
        before in _SHELLS
        or before in ("exec", "sudo", "time", "nohup", "source", ".")
        or "=" in before
        or bool(_shell_before(words, index))
    )


def _shell_before(words: list[str], index: int) -> str:
    """The shell whose script argument words[index] is (`bash -eu x.sh` -> "bash"), or ""."""
    at = index - 1
    while at >= 0 and words[at].startswith("-") and words[at] not in ("-c", "--"):
        at -= 1  # shell options (-e, -x, -eu); `-c` makes the next word a command, not a file
    if at < 0:
        return ""
    name = posixpath.basename(words[at])
    return name if words[at] in _SHELLS and name != "env" else ""


def _started_with(words: list[str], index: int) -> str:
    """How words[index], a shell script, is started: "source", a shell's name, or "path"."""
    if index > 0 and words[index - 1] in ("source", "."):
        return "source"
    return _shell_before(words, index) or "path"


def _is_script_word(word: str) -> bool:
    return word.endswith((".sh", ".bash", ".py")) or (word.startswith("./") and "$" not in word)


def _python_call(rest: list[str], where: str) -> list[Invocation]:
    index = 0
    while index < len(rest) and rest[index].startswith("-") and rest[index] not in ("-m", "-c"):
        index += 1  # interpreter options (-u, -O, -X dev takes one value: rare enough)
    if index >= len(rest) or rest[index] == "-c":
        return []
    if rest[index] == "-m":
        if index + 1 >= len(rest):
            return []
        return [_call("", rest[index + 1], rest[index + 2 :], where)]
    if not rest[index].endswith(".py"):
        return []
    return [_call(rest[index], "", rest[index + 1 :], where)]


def _call(script: str, module: str, args: list[str], where: str) -> Invocation:
    flags: list[str] = []
    for arg in args:
        if arg in _SEPARATORS:
            break
        match = _FLAG.match(arg)
        if match and arg != "--":
            flags.append(match.group())
    own = bool(_OWN_DIR.match(script))
    path = _OWN_DIR.sub("", script) if own else script
    return Invocation(path, module, tuple(dict.fromkeys(flags)), where, own)


def resolve(invocation: Invocation, invoker: str, exists: set[str], folders: set[str]) -> str:
    """The repository path an invocation names, or "" when it names none we can tell.

    A command runs from the folder of the file that writes it or from one above (a pipeline's
    `scripts/run.sh` runs `python main.py` from the pipeline's folder; a root runbook from the
    root): the nearest folder where the file exists wins. A file that exists nowhere is named
    only when it is a path whose folder exists (`scripts/phase4c/new.py`): a bare `python
    my_script.py` in a README is an example, not a missing script.
    """
    bases = _bases(invoker, invocation.own_dir)
    if invocation.module:
        rel = invocation.module.replace(".", "/")
        for base in bases:
            for candidate in (f"{rel}.py", f"{rel}/__main__.py", f"src/{rel}.py"):
                path = posixpath.normpath(posixpath.join(base, candidate))
                if path in exists:
                    return path
        return ""
    script = invocation.script
    if "$" in script or "`" in script or not script or script.startswith("/"):
        return ""
    paths = [posixpath.normpath(posixpath.join(base, script.removeprefix("./"))) for base in bases]
    paths = [p for p in paths if not p.startswith("../")]
    for path in paths:
        if path in exists:
            return path
    if "/" not in script.removeprefix("./"):
        return ""
    return next((p for p in paths if posixpath.dirname(p) in folders), "")


def _bases(invoker: str, own_dir: bool) -> list[str]:
    """The invoker's folder and each folder above it, nearest first, the root ("") last."""
    here = posixpath.dirname(invoker)
    bases = []
    while here:
        bases.append(here)
        here = posixpath.dirname(here)
    if own_dir:
        return bases[:1] or [""]
    return [*bases, ""]
