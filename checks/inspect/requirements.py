"""Pins from a target's requirements files (pip's format, `-r` includes followed inside the root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

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
    real = path.resolve()
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    if not real.is_relative_to(root):
        raise RequirementsError(f"{rel}: outside the target root")
    if real in seen:
        return
    seen.add(real)
    try:
        text = real.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RequirementsError(f"{rel}: requirements file not found") from None
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
        pins.setdefault(canonicalize_name(req.name), Pin(req, rel, number))
