"""Pins from a target's requirements files (pip's format, `-r` includes followed inside the root)."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from checks.inspect.files import MAX_SOURCE_BYTES

__all__ = ["Pin", "RequirementsError", "read_pins"]


class RequirementsError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Pin:
    requirement: Requirement
    file: str
    line: int


def read_pins(root: Path, files: list[str]) -> dict[str, Pin]:
    """Canonical distribution name -> the first requirement naming it across the files."""
    pins: dict[str, Pin] = {}
    seen: set[Path] = set()
    for name in files:
        _read(root, root / name, pins, seen)
    return pins


def _read(root: Path, path: Path, pins: dict[str, Pin], seen: set[Path]) -> None:
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop: RuntimeError before 3.13
        raise RequirementsError(f"{rel}: cannot resolve ({exc})") from None
    if not real.is_relative_to(root):
        raise RequirementsError(f"{rel}: outside the target root")
    if real in seen:
        return
    seen.add(real)
    try:
        info = real.stat()
    except FileNotFoundError:
        raise RequirementsError(f"{rel}: requirements file not found") from None
    except OSError as exc:
        raise RequirementsError(f"{rel}: unreadable ({exc.strerror})") from None
    # A FIFO would block the read forever; a device or a huge file is not a requirements file.
    if not stat.S_ISREG(info.st_mode):
        raise RequirementsError(f"{rel}: not a regular file")
    if info.st_size > MAX_SOURCE_BYTES:
        raise RequirementsError(f"{rel}: {info.st_size:,} bytes, larger than {MAX_SOURCE_BYTES:,}: not read")
    try:
        text = real.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RequirementsError(f"{rel}: unreadable ({exc})") from None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            _read(root, real.parent / line.split(None, 1)[1], pins, seen)
            continue
        if line.startswith("-"):
            continue  # index options, -e, -c: not pins
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise RequirementsError(f"{rel}:{number}: invalid requirement {line!r}: {exc}") from None
        if req.url:
            # `pkg @ https://user:TOKEN@host/...`: the requirement is quoted in findings and
            # reports, its credentials never are.
            req.url = _without_credentials(req.url)
        pins.setdefault(canonicalize_name(req.name), Pin(req, rel, number))


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
