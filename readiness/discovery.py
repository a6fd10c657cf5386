"""Finding the scripts, Dockerfiles and Cloud Build configs of a repository, by name and text only.

Nothing found here is executed: a Python file counts as an entry point by its `__main__` guard
or shebang, a YAML file as a Cloud Build config by its top-level `steps:`.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["DEFAULT_EXCLUDE", "MAX_SOURCE_BYTES", "Found", "discover", "excluded", "guess_category"]

#: Scripts larger than this are not parsed: a generated or vendored blob is not a script.
MAX_SOURCE_BYTES: Final = 5 * 1024 * 1024

#: What a fresh audit leaves out: tests, virtualenvs and vendored trees, and the suite's own
#: output. Hidden folders (`.git`, `.venv`, `.github`) are always skipped; a folder holding a
#: `pyvenv.cfg` is a virtualenv whatever its name.
DEFAULT_EXCLUDE: Final = (
    "tests",
    "test",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "venv",
    "env",
    "site-packages",
    "node_modules",
    "__pycache__",
    "readiness-reports",
)

_MAIN_GUARD: Final = re.compile(r"""(?m)^if\s+__name__\s*==\s*['"]__main__['"]\s*:""")
_CLOUDBUILD_STEPS: Final = re.compile(r"(?m)^steps\s*:")
_SHELL_SHEBANG: Final = re.compile(r"^#!\s*\S*(?:/|env\s+)(?:ba|z|k|da)?sh\b")
_PYTHON_SHEBANG: Final = re.compile(r"^#!\s*\S*(?:/|env\s+)python[0-9.]*\b")


@dataclass(frozen=True, slots=True)
class Found:
    #: Relative to the root, with forward slashes.
    path: str
    #: "python", "shell", "dockerfile" or "cloudbuild".
    kind: str


def excluded(rel: str, patterns: Sequence[str]) -> bool:
    """True when a pattern matches the path: one without '/' matches any single name along it
    (like .gitignore), one with '/' the path itself or one of its folders."""
    parts = rel.split("/")
    for pattern in patterns:
        if "/" not in pattern.strip("/"):
            name = pattern.strip("/")
            if any(fnmatch.fnmatchcase(p, name) for p in parts):
                return True
            continue
        pattern = pattern.strip("/")
        if any(fnmatch.fnmatchcase("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
            return True
    return False


def discover(root: Path, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> list[Found]:
    """Every script, Dockerfile and Cloud Build config below root, sorted by path."""
    patterns = tuple(exclude)
    found: list[Found] = []
    for folder, dirs, files in os.walk(root):
        rel_dir = Path(folder).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        keep = []
        for d in dirs:
            rel = posixpath.join(rel_dir, d)
            if d.startswith(".") or excluded(rel, patterns) or (Path(folder, d, "pyvenv.cfg")).exists():
                continue
            if Path(folder, d).is_symlink():  # a link may lead out of the repository or loop
                continue
            keep.append(d)
        dirs[:] = sorted(keep)
        for name in sorted(files):
            rel = posixpath.join(rel_dir, name)
            if name.startswith(".") or excluded(rel, patterns):
                continue
            kind = _kind(Path(folder, name), name)
            if kind:
                found.append(Found(rel, kind))
    return sorted(found, key=lambda f: f.path)


def _kind(path: Path, name: str) -> str:
    # `docker build .` also reads a lower-case `dockerfile`.
    if name in ("Dockerfile", "dockerfile") or name.startswith("Dockerfile.") or name.endswith(".Dockerfile"):
        return "dockerfile"
    suffix = posixpath.splitext(name)[1]
    if suffix not in ("", ".py", ".sh", ".bash", ".yaml", ".yml"):
        return ""
    text = _head(path)
    if text is None:
        return ""
    if suffix in (".sh", ".bash"):
        return "shell"
    if suffix == ".py":
        return "python" if _MAIN_GUARD.search(text) or _PYTHON_SHEBANG.match(text) else ""
    if suffix in (".yaml", ".yml"):
        return "cloudbuild" if name.startswith("cloudbuild") or _CLOUDBUILD_STEPS.search(text) else ""
    if _SHELL_SHEBANG.match(text):
        return "shell"
    return "python" if _PYTHON_SHEBANG.match(text) else ""


def _head(path: Path) -> str | None:
    """The file's text for sniffing; None for links, huge, binary or unreadable files."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_SOURCE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


#: Words in a script's path or name, and the manifest category they suggest (first match wins).
_CATEGORY_WORDS: Final = (
    ("validation", ("validate", "validation", "verify", "check", "qa", "audit", "compare", "test")),
    ("extraction/merge", ("extract", "extraction", "merge", "export", "import", "load", "ingest", "download", "upload", "sync", "copy")),
    ("deployment", ("deploy", "deployment", "docker", "dockerfile", "cloudbuild", "build", "setup", "install", "provision", "release", "create_legacy", "view", "views", "infra", "terraform", "job", "jobs")),
    ("analysis", ("analyze", "analyse", "analysis", "report", "stats", "coverage", "inspect", "profile", "summarize", "summary", "explore", "plot")),
    ("generation", ("generate", "generation", "gen", "feature", "features", "compute", "calculate", "train", "transform", "rename", "fix", "create", "backfill", "build_features")),
)  # fmt: skip


def guess_category(path: str, kind: str) -> tuple[str, str]:
    """(category, the word that decided it, or "" when nothing did) from the path and name.

    The name decides before the folders (scripts/validation/extract_x.py extracts); a Dockerfile
    or Cloud Build config is deployment.
    """
    if kind in ("dockerfile", "cloudbuild"):
        return "deployment", kind
    stem = posixpath.splitext(posixpath.basename(path))[0].lower()
    folders = [f.lower() for f in path.split("/")[:-1]]
    for words in (re.split(r"[^a-z0-9]+", stem), *([w] for w in reversed(folders))):
        for category, hints in _CATEGORY_WORDS:
            for word in words:
                if word in hints:
                    return category, word
    return "generation", ""
