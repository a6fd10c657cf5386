"""Dockerfile instructions that name files of the repository: COPY/ADD sources and the command the
image starts, read stage by stage as BuildKit reads them (ARG/ENV substitution, heredocs,
`--from`, WORKDIR)."""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field

__all__ = [
    "Copy",
    "Instruction",
    "Stage",
    "copy_sources",
    "final_stage_chain",
    "is_exec_form",
    "looks_like_script",
    "made_executable",
    "parse_dockerfile",
    "parse_stages",
    "start_command",
]

#: A parser directive (`# escape=``), only valid before the first instruction or comment.
_DIRECTIVE = re.compile(r"^\s*#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
#: `<<EOF`, `<<-EOF`, `<<"EOF"`: a here-document whose body follows the instruction.
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
#: `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:+alt}`.
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    keyword: str
    args: str
    #: Here-document bodies that followed the instruction (`COPY <<EOF /app/x`).
    heredocs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Copy:
    line: int
    keyword: str
    #: Sources in the build context, ARG/ENV defaults substituted (none for --from or heredocs).
    sources: tuple[str, ...]
    #: Sources naming a variable with no default (set by --build-arg): cannot be checked.
    unresolved: tuple[str, ...]
    #: Sources whose path comes from an ARG default, which a `--build-arg` may replace.
    from_arg: tuple[str, ...]
    #: Where they land in the image, absolute (WORKDIR applied).
    dest: str
    #: `--from=<stage or image>`: files of another stage or image, not of the context.
    from_stage: str | None
    #: Files written by a here-document (`COPY <<EOF /app/main.py`).
    heredoc: bool


@dataclass(slots=True)
class Stage:
    line: int
    base: str
    name: str | None
    copies: list[Copy] = field(default_factory=list)
    #: The last ENTRYPOINT and CMD of the stage (words, line), if any.
    entrypoint: tuple[list[str], int] | None = None
    cmd: tuple[list[str], int] | None = None
    workdir: str = "/"


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined, as Docker reads them.

    Comment and blank lines are dropped also inside a continuation (Docker skips them there
    rather than ending the instruction), a continuation still open at the end of the file
    ends with it, the `# escape=` parser directive (backtick on Windows images) is honoured,
    and here-document bodies belong to their instruction (they are not instructions).
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
    index = 0
    while index < len(lines):
        raw = lines[index]
        index += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not buf:
            start = index
        if stripped.endswith(escape):
            buf.append(stripped[: -len(escape)].strip())
            continue
        buf.append(stripped)
        joined = " ".join(part for part in buf if part)
        buf.clear()
        keyword, _, args = joined.partition(" ")
        bodies: list[str] = []
        for match in _HEREDOC.finditer(args):
            strip_tabs, word = match.group(1) == "-", match.group(3)
            body: list[str] = []
            while index < len(lines):
                line = lines[index]
                index += 1
                if (line.lstrip("\t") if strip_tabs else line) == word:
                    break
                body.append(line)
            bodies.append("\n".join(body))
        out.append(Instruction(start, keyword.upper(), args.strip(), tuple(bodies)))
    if buf:
        keyword, _, args = " ".join(part for part in buf if part).partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
    return out


def words(args: str) -> list[str]:
    """An instruction's arguments: its JSON (exec) form, else shell words."""
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


def _substitute(text: str, values: dict[str, str]) -> str | None:
    """`text` with variables replaced as BuildKit does; None when one has no value to use."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1) or match.group(4)
        value = values.get(name)
        if match.group(2) == "-":
            return value if value else match.group(3)
        if match.group(2) == "+":
            return match.group(3) if value else ""
        if value is None:
            missing = True
            return ""
        return value

    result = _VARIABLE.sub(replace, text)
    return None if missing else result


def _key_values(args: str) -> dict[str, str]:
    """`ARG A=1 B`, `ENV A=1 B=2`, legacy `ENV A 1`: name -> value ("" declared without one)."""
    parts = words(args)
    if len(parts) >= 2 and "=" not in parts[0]:
        return {parts[0]: " ".join(parts[1:])}
    out: dict[str, str] = {}
    for part in parts:
        name, eq, value = part.partition("=")
        out[name] = value if eq else ""
    return out


def parse_stages(instructions: list[Instruction], build_args: dict[str, str] | None = None) -> list[Stage]:
    """The build stages, in order, with what each copies and starts; `build_args` are the
    build's `--build-arg` values (they replace ARG defaults)."""
    given = build_args or {}
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    values: dict[str, str] = {}
    overridable: set[str] = set()
    for ins in instructions:
        if ins.keyword == "FROM":
            parts = words(ins.args)
            parts = [p for p in parts if not p.startswith("--")]
            base = _substitute(parts[0], global_args) if parts else None
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            stages.append(Stage(ins.line, base or (parts[0] if parts else ""), name))
            values = {}
            overridable = set()
            continue
        if ins.keyword == "ARG":
            declared = _key_values(ins.args)
            if not stages:
                global_args.update({k: given.get(k, v) for k, v in declared.items() if v or k in given})
                continue
            for key, value in declared.items():
                if key in given:
                    values[key] = given[key]
                    continue
                overridable.add(key)
                # An ARG without a default inside a stage takes the global default, if any.
                if value:
                    values[key] = _substitute(value, values) or value
                elif key in global_args:
                    values[key] = global_args[key]
            continue
        if not stages:
            continue
        stage = stages[-1]
        if ins.keyword == "ENV":
            for key, value in _key_values(ins.args).items():
                values[key] = _substitute(value, values) or value
                overridable.discard(key)
        elif ins.keyword == "WORKDIR":
            path = _substitute(ins.args.strip(), values) or ins.args.strip()
            stage.workdir = posixpath.normpath(posixpath.join(stage.workdir, path))
        elif ins.keyword in ("COPY", "ADD"):
            stage.copies.append(_copy(ins, values, stage.workdir, overridable))
        elif ins.keyword == "ENTRYPOINT":
            stage.entrypoint = (words(ins.args), ins.line)
            stage.cmd = None  # Docker resets an inherited CMD when ENTRYPOINT is set
        elif ins.keyword == "CMD":
            stage.cmd = (words(ins.args), ins.line)
    return stages


def _copy(ins: Instruction, values: dict[str, str], workdir: str, overridable: set[str]) -> Copy:
    parts = words(ins.args)
    options = [p for p in parts if p.startswith("--")]
    paths = [p for p in parts if not p.startswith("--")]
    from_stage = next((o.split("=", 1)[1] for o in options if o.startswith("--from=")), None)
    heredoc = bool(ins.heredocs)
    dest_raw = paths[-1] if paths else "."
    dest = _substitute(dest_raw, values) or dest_raw
    dest_abs = posixpath.normpath(posixpath.join(workdir, dest)) + (
        "/" if dest in (".", "./") or dest.endswith(("/", "/.")) else ""
    )
    sources: list[str] = []
    unresolved: list[str] = []
    from_arg: list[str] = []
    for src in paths[:-1]:
        if src.startswith("<<") or (ins.keyword == "ADD" and "://" in src) or src.startswith("git@"):
            continue  # a here-document or a download, not a file of the context
        value = _substitute(src, values)
        if value is None:
            unresolved.append(src)
        elif from_stage is None:
            sources.append(value)
            names = {m.group(1) or m.group(4) for m in _VARIABLE.finditer(src)}
            if names & overridable:
                from_arg.append(value)
    return Copy(
        ins.line,
        ins.keyword,
        tuple(sources),
        tuple(unresolved),
        tuple(from_arg),
        dest_abs,
        from_stage,
        heredoc,
    )


def final_stage_chain(stages: list[Stage]) -> list[Stage]:
    """The stage the image is, preceded by the stages it is built FROM (`FROM build AS run`)."""
    if not stages:
        return []
    by_name = {s.name.lower(): s for s in stages if s.name}
    chain = [stages[-1]]
    while chain[0].base.lower() in by_name and by_name[chain[0].base.lower()] not in chain:
        chain.insert(0, by_name[chain[0].base.lower()])
    return chain


def copy_sources(instructions: list[Instruction]) -> list[tuple[int, str]]:
    """(line, source) for each COPY/ADD source taken from the build context, in every stage."""
    return [(c.line, src) for stage in parse_stages(instructions) for c in stage.copies for src in c.sources]


def start_command(chain: list[Stage]) -> tuple[list[str], int] | None:
    """(words, line) of what the image starts: ENTRYPOINT followed by CMD, as the stages set them."""
    entrypoint: tuple[list[str], int] | None = None
    cmd: tuple[list[str], int] | None = None
    for stage in chain:
        if stage.entrypoint is not None:
            entrypoint, cmd = stage.entrypoint, None
        if stage.cmd is not None:
            cmd = stage.cmd
    if entrypoint is None and cmd is None:
        return None
    line = (entrypoint or cmd or ([], 0))[1]
    return [*(entrypoint[0] if entrypoint else []), *(cmd[0] if cmd else [])], line


def looks_like_script(word: str) -> bool:
    """A word of a start command that names a file of the repository (`main.py`, `./run.sh`),
    not a plain executable of the image (`gunicorn`, `python`)."""
    return word.endswith((".py", ".sh")) or (word.startswith(("./", "/app/", "/opt/")) and "." in word)


def is_exec_form(instructions: list[Instruction], line: int) -> bool:
    """Whether the ENTRYPOINT/CMD at `line` is the JSON form: its first word is exec'd as is,
    with no shell to fall back on for a file without a shebang."""
    ins = next((i for i in instructions if i.line == line), None)
    return ins is not None and words(ins.args) != [] and ins.args.lstrip().startswith("[")


#: `chmod +x`, `chmod a+rx`, `chmod 755`, `chmod -R 0775`: a mode that lets the owner execute.
_EXEC_MODE = re.compile(r"^(?:[ugoa]*[+=][rwxXst]*x[rwxXst]*|0?[1357][0-7]{2})$")


def made_executable(chain: list[Stage], instructions: list[Instruction], image_path: str) -> bool:
    """Whether the build marks `image_path` executable: `COPY --chmod=755` of it, or a
    `RUN chmod +x` naming it, its folder (`-R`) or a glob matching it, in the image's stages."""
    lines = range(chain[0].line, 10**9) if chain else range(0)
    folder = posixpath.dirname(image_path)
    for ins in instructions:
        if ins.line not in lines:
            continue
        parts = words(ins.args) if ins.keyword in ("COPY", "ADD", "RUN") else []
        if ins.keyword in ("COPY", "ADD"):
            chmod = next((p.split("=", 1)[1] for p in parts if p.startswith("--chmod=")), None)
            if chmod and _EXEC_MODE.match(chmod) and _names(parts[-1], image_path, folder):
                return True
            continue
        if ins.keyword != "RUN":
            continue
        for index, word in enumerate(parts):
            if posixpath.basename(word) != "chmod":
                continue
            rest = [w.rstrip(";&|") for w in parts[index + 1 :]]
            if not any(_EXEC_MODE.match(w) for w in rest[:3]):
                continue
            recursive = any(w in ("-R", "--recursive") for w in rest[:3])
            for arg in rest:
                if arg in ("&&", "||", ";") or not arg:
                    break
                if _names(arg, image_path, folder) or (
                    recursive and image_path.startswith(arg.rstrip("/") + "/")
                ):
                    return True
    return False


def _names(arg: str, image_path: str, folder: str) -> bool:
    """Whether a path argument (absolute, relative to WORKDIR, or a glob) names `image_path`."""
    if arg.startswith("/"):
        arg = posixpath.normpath(arg)
        return arg in (image_path, folder) or fnmatch.fnmatchcase(image_path, arg)
    return posixpath.basename(image_path) == posixpath.basename(arg) or fnmatch.fnmatchcase(
        posixpath.basename(image_path), posixpath.basename(arg)
    )
