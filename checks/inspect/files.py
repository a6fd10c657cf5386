"""Reading files of the target repository safely: never outside its root, never unbounded."""

from __future__ import annotations

import io
import os
import tokenize
from pathlib import Path

from readiness.discovery import MAX_SOURCE_BYTES

__all__ = ["RepoFileError", "is_executable", "read_text", "resolve_inside"]


class RepoFileError(Exception):
    pass


def resolve_inside(root: Path, rel: str) -> Path:
    """The real path of `rel` below root; a symlink that leads outside is refused."""
    path = root / rel
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise RepoFileError(f"{rel}: not found") from None
    except (OSError, RuntimeError) as exc:  # symlink loops raise RuntimeError or ELOOP
        raise RepoFileError(f"{rel}: cannot resolve ({exc})") from None
    if not real.is_relative_to(root):
        raise RepoFileError(f"{rel}: resolves outside the target root")
    return real


def read_text(root: Path, rel: str) -> str:
    real = resolve_inside(root, rel)
    if not real.is_file():
        raise RepoFileError(f"{rel}: not a regular file")
    size = real.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise RepoFileError(f"{rel}: {size:,} bytes, larger than {MAX_SOURCE_BYTES:,}: not parsed")
    try:
        data = real.read_bytes()
    except PermissionError:
        raise RepoFileError(f"{rel}: not readable (permission denied)") from None
    if b"\0" in data[:8192]:
        raise RepoFileError(f"{rel}: binary file, not a script")
    encoding = _python_encoding(data) if rel.endswith(".py") else "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        label = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else f"valid {encoding}"
        raise RepoFileError(f"{rel}: not {label} (invalid byte at offset {exc.start})") from None
    except (UnicodeError, LookupError) as exc:
        # A cookie naming a codec that fails or is not a text codec (punycode, rot13): Python
        # itself refuses to run the file, so it is a finding, never a crash of the inventory.
        raise RepoFileError(
            f"{rel}: its coding cookie names {encoding!r}, which cannot decode it ({' '.join(str(exc).split())})"
        ) from None


def _python_encoding(data: bytes) -> str:
    """The encoding Python itself would read the file with: a PEP 263 cookie, a BOM, else UTF-8.

    A script that declares `# -*- coding: latin-1 -*-` runs fine, so it must not be reported
    as "not UTF-8"; an unknown or malformed cookie falls back to UTF-8 (and is then a finding).
    """
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return "utf-8"
    return encoding


def is_executable(path: Path) -> bool:
    return os.access(path, os.X_OK)
