"""Writing the documents so that a reader never finds a half-written one.

Every document is rendered before the first byte is written; each file is written beside its
final name and renamed into place, and a failure part-way removes what it wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DocumentWriteError", "write_documents"]


class DocumentWriteError(Exception):
    pass


def write_documents(out_dir: Path, documents: dict[str, str]) -> list[Path]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DocumentWriteError(f"{out_dir}: cannot create the output folder: {exc.strerror}") from None
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in documents.items():
            final = out_dir / name
            tmp = out_dir / f".{name}.{os.getpid()}.tmp"
            tmp.write_text(text, encoding="utf-8")
            staged.append((tmp, final))
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise DocumentWriteError(f"{out_dir}: cannot write the documents: {exc.strerror}") from None
    blocked = [final for _, final in staged if final.is_dir()]
    if blocked:
        _discard(staged, renamed=[])
        raise DocumentWriteError(f"{blocked[0]}: a folder is in the way of the document")
    renamed: list[Path] = []
    try:
        for tmp, final in staged:
            os.replace(tmp, final)
            renamed.append(final)
    except OSError as exc:
        # All or nothing: a reader must not find half of this run's documents beside the rest.
        _discard(staged, renamed)
        raise DocumentWriteError(f"{out_dir}: cannot write the documents: {exc.strerror}") from None
    return renamed


def _discard(staged: list[tuple[Path, Path]], renamed: list[Path]) -> None:
    for tmp, _ in staged:
        tmp.unlink(missing_ok=True)
    for final in renamed:
        final.unlink(missing_ok=True)
