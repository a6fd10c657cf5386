"""A target's requirements, read as pip reads them.

pip's requirements format: `\\` continues a line (a `pip-compile --generate-hashes` file is one
requirement per several lines), ` #` starts a comment, options follow a requirement on its own
line (`--hash=...`) or stand alone (`-r`/`-c` includes, `-rfile`, `--requirement=file`, index
options), environment markers choose the lines that apply to the target's Python, and a line may
be a direct URL. `pyproject.toml` contributes its `[project] dependencies`.

packaging's `Requirement` parses each requirement (PEP 508, what pip itself uses); the line
structure around it is pip's `req_file.py` logic, small enough to keep here.
pip-requirements-parser (pip's own code, vendored) has had no release since 2022.
"""

from __future__ import annotations

import re
import shlex
import stat
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName, default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from readiness.discovery import MAX_SOURCE_BYTES

__all__ = [
    "Pin",
    "Requirements",
    "RequirementsError",
    "python_version_of",
    "read_pins",
    "read_requirements",
    "redact_url_credentials",
    "requirement_files",
]

#: pip's comment rule: `#` at the start of a line or after whitespace (`pkg#egg` is not one).
_COMMENT = re.compile(r"(^|\s+)#.*$")
#: `scheme://user:secret@host`: what must never be quoted.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
#: `name[extras] @ ...`: a direct reference written the PEP 508 way.
_NAMED_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tar.bz2", ".tgz")
#: Options pip accepts on a line of their own (pip's `SUPPORTED_OPTIONS`), with whether they take a value.
_FILE_OPTIONS = {
    "-i": True, "--index-url": True, "--extra-index-url": True, "--no-index": False,
    "-c": True, "--constraint": True, "-r": True, "--requirement": True,
    "-e": True, "--editable": True, "-f": True, "--find-links": True,
    "--no-binary": True, "--only-binary": True, "--prefer-binary": False, "--require-hashes": False,
    "--pre": False, "--trusted-host": True, "--use-feature": True,
}  # fmt: skip
#: Options pip accepts after a requirement on the same line.
_REQUIREMENT_OPTIONS = ("--hash", "--global-option", "--config-settings", "-C")


class RequirementsError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Pin:
    requirement: Requirement
    file: str
    line: int


@dataclass(slots=True)
class Requirements:
    #: Canonical distribution name -> the first requirement naming it that applies.
    pins: dict[str, Pin] = field(default_factory=dict)
    #: The same for constraints files (`-c`): they pin what the requirements leave open.
    constraints: dict[str, Pin] = field(default_factory=dict)
    #: "file:line: what is wrong", in reading order; the first is the one to report.
    problems: list[str] = field(default_factory=list)


def redact_url_credentials(text: str) -> str:
    """`https://user:token@host/...` -> `https://***@host/...`, anywhere in `text`."""
    return _URL_CREDENTIALS.sub("***@", text)


def python_version_of(python: str | None) -> str:
    """The full version of the interpreter that will install the requirements (markers depend on
    it); ours when none is named or it cannot answer (its own check reports that)."""
    if python:
        try:
            proc = subprocess.run(
                [python, "-I", "-B", "-c", "import platform; print(platform.python_version())"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            if proc.returncode == 0 and proc.stdout.strip():
                return proc.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    return ".".join(str(n) for n in sys.version_info[:3])


def requirement_files(root: Path, declared: list[str]) -> list[str]:
    """The declared requirements files; none declared, the root's `pyproject.toml` when its
    `[project]` lists dependencies (the packages pip installs with `pip install .`)."""
    if declared:
        return list(declared)
    pyproject = root / "pyproject.toml"
    try:
        small = pyproject.is_file() and pyproject.stat().st_size <= MAX_SOURCE_BYTES
        if small and tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get(
            "dependencies"
        ):
            return ["pyproject.toml"]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        pass
    return []


def read_requirements(root: Path, files: list[str], python_version: str | None = None) -> Requirements:
    """Every requirement of `files` (relative to `root`) that applies to `python_version`."""
    reader = _Reader(root, python_version or python_version_of(None))
    for name in files:
        reader.read(root / name, None)
    return reader.result


def read_pins(root: Path, files: list[str], python_version: str | None = None) -> dict[str, Pin]:
    """Canonical distribution name -> pin; RequirementsError with the first problem, if any."""
    result = read_requirements(root, files, python_version)
    if result.problems:
        raise RequirementsError(result.problems[0])
    return result.pins


class _Reader:
    def __init__(self, root: Path, python_version: str) -> None:
        self.root = root
        self.result = Requirements()
        self.reading: list[Path] = []
        self.done: set[tuple[Path, bool]] = set()
        env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
        major_minor = ".".join(python_version.split(".")[:2])
        env.update(python_version=major_minor, python_full_version=python_version, extra="")
        self.environment = env

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)

    def _problem(self, where: str, message: str) -> None:
        self.result.problems.append(redact_url_credentials(f"{where}: {message}"))

    def read(self, path: Path, included_at: str | None, constraint: bool = False) -> None:
        rel = self._rel(path)
        where = f"{included_at}: {rel}" if included_at else rel
        try:
            real = path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop: RuntimeError before 3.13
            return self._problem(where, f"cannot resolve ({exc})")
        if not real.is_relative_to(self.root.resolve()):
            return self._problem(where, "outside the target root")
        if real in self.reading or (real, constraint) in self.done:
            return  # an include loop, or a file already read: pip would read it once
        text = self._text(real, rel, where)
        if text is None:
            return
        self.reading.append(real)
        try:
            if real.name == "pyproject.toml":
                self._pyproject(text, rel)
            else:
                for number, line in _logical_lines(text):
                    self._line(line, real, rel, number, constraint)
        finally:
            self.reading.pop()
            self.done.add((real, constraint))

    def _text(self, real: Path, rel: str, where: str) -> str | None:
        try:
            info = real.stat()
        except FileNotFoundError:
            self._problem(where, "requirements file not found")
            return None
        except OSError as exc:
            self._problem(where, f"unreadable ({exc.strerror})")
            return None
        # A FIFO would block the read forever; a device or a huge file is not a requirements file.
        if not stat.S_ISREG(info.st_mode):
            self._problem(where, "not a regular file")
            return None
        if info.st_size > MAX_SOURCE_BYTES:
            self._problem(where, f"{info.st_size:,} bytes, larger than {MAX_SOURCE_BYTES:,}: not read")
            return None
        try:
            return real.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            self._problem(where, f"unreadable ({exc})")
            return None

    def _pyproject(self, text: str, rel: str) -> None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            return self._problem(rel, f"not valid TOML ({exc})")
        deps = data.get("project", {}).get("dependencies", [])
        if not isinstance(deps, list):
            return self._problem(rel, "[project] dependencies is not a list")
        for dep in deps:
            line = _line_of(text, str(dep))
            self._requirement(str(dep), rel, line, constraint=False)

    def _line(self, line: str, real: Path, rel: str, number: int, constraint: bool) -> None:
        args, options = _split_args_options(line)
        where = f"{rel}:{number}"
        if args:
            bad = [o for o in _option_names(options) if not o.startswith(_REQUIREMENT_OPTIONS)]
            if bad:
                return self._problem(where, f"option {bad[0]} is not allowed after a requirement")
            return self._requirement(args, rel, number, constraint)
        try:
            tokens = shlex.split(options)
        except ValueError as exc:
            return self._problem(where, f"does not parse ({exc})")
        while tokens:
            token = tokens.pop(0)
            name, value = _option(token)
            if name not in _FILE_OPTIONS:
                return self._problem(where, f"unknown option {name}")
            if _FILE_OPTIONS[name] and value is None:
                if not tokens:
                    return self._problem(where, f"option {name} needs a value")
                value = tokens.pop(0)
            if name in {"-r", "--requirement", "-c", "--constraint"} and value is not None:
                if "://" in value:
                    continue  # a remote file: pip fetches it, the suite never does
                is_constraint = constraint or name in {"-c", "--constraint"}
                self.read(real.parent / value, where, is_constraint)

    def _requirement(self, text: str, rel: str, number: int, constraint: bool) -> None:
        where = f"{rel}:{number}"
        req = _parse_requirement(text)
        if isinstance(req, str):
            return self._problem(where, req)
        if req is None:
            return  # a local path or a URL that names no distribution: nothing to pin
        if req.marker is not None:
            try:
                if not req.marker.evaluate(self.environment):
                    return  # not for this Python (or platform): pip skips the line
            except (UndefinedComparison, UndefinedEnvironmentName) as exc:
                return self._problem(where, f"marker {req.marker} cannot be evaluated ({exc})")
        if req.url:
            req.url = redact_url_credentials(req.url)
        table = self.result.constraints if constraint else self.result.pins
        table.setdefault(canonicalize_name(req.name), Pin(req, rel, number))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """pip's `join_lines` and `ignore_comments`: (first physical line number, logical line)."""
    out: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.endswith("\\") or _COMMENT.match(raw):
            if _COMMENT.match(raw):
                raw = " " + raw  # a comment ends a continued line
            if parts:
                parts.append(raw)
                out.append((start, "".join(parts)))
                parts = []
            else:
                out.append((number, raw))
        else:
            if not parts:
                start = number
            parts.append(raw[:-1])
    if parts:
        out.append((start, "".join(parts)))
    cleaned = [(n, _COMMENT.sub("", line).strip()) for n, line in out]
    return [(n, line) for n, line in cleaned if line]


def _split_args_options(line: str) -> tuple[str, str]:
    """pip's `break_args_options`: the requirement is every token before the first `-` one."""
    tokens = line.split(" ")
    args: list[str] = []
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(args).strip(), " ".join(tokens[index:])
        args.append(token)
    return " ".join(args).strip(), ""


def _option_names(options: str) -> list[str]:
    return [_option(token)[0] for token in options.split() if token.startswith("-")]


def _option(token: str) -> tuple[str, str | None]:
    """`--requirement=x` -> ("--requirement", "x"); `-rx` -> ("-r", "x"); `-r` -> ("-r", None)."""
    if token.startswith("--"):
        name, eq, value = token.partition("=")
        return name, value if eq else None
    if len(token) > 2:
        return token[:2], token[2:]
    return token, None


def _parse_requirement(text: str) -> Requirement | str | None:
    """A Requirement, None for a path or URL naming no distribution, or the reason it is invalid."""
    if _looks_like_location(text):
        # pip: after a URL or path, only `; ` (with the space) starts the markers.
        location, _, marker = text.partition("; ")
        name = _name_of_location(location.strip())
        if name is None:
            return None
        text = f"{name} @ {location.strip()}" + (f" ; {marker.strip()}" if marker.strip() else "")
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        return f"invalid requirement {text!r}: {reason}"


def _looks_like_location(text: str) -> bool:
    head = text.split(";", 1)[0].strip()
    if _NAMED_URL.match(head):
        return False  # `name @ url`: PEP 508 itself
    return "://" in head or head.startswith((".", "/", "~")) or head.endswith(_ARCHIVES)


def _name_of_location(location: str) -> str | None:
    fragment = urlsplit(location).fragment
    for part in fragment.split("&"):
        if part.startswith("egg="):
            return part[4:].split("[", 1)[0] or None
    filename = urlsplit(location).path.rsplit("/", 1)[-1]
    if filename.endswith(".whl"):
        try:
            return str(parse_wheel_filename(filename)[0])
        except InvalidWheelFilename:
            return None
    return None


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 1
