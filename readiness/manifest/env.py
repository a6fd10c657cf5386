"""Run environments: which interpreter and packages run each script (the pipeline's, not ours)."""

from __future__ import annotations

import posixpath
import re

from pydantic import Field, field_validator

from readiness.manifest.base import StrictModel

__all__ = ["DEFAULT_ENVIRONMENT", "Environment"]

#: The environment of a manifest that declares none: `project.python` (or the suite's own).
DEFAULT_ENVIRONMENT = "default"

_VERSION = re.compile(r"3\.\d{1,2}")


class Environment(StrictModel):
    """One image or virtualenv a job runs in."""

    name: str = Field(min_length=1)
    #: Interpreter that runs the scripts (a path or a command on PATH). When absent, the
    #: environment is built from `requirements` into a cached virtualenv with uv.
    python: str | None = None
    #: The Python version the pipeline runs ("3.8"): the interpreter the environment is built
    #: with, and the version the scripts are compiled for.
    python_version: str | None = None
    #: Requirements files of this environment, relative to the target root.
    requirements: list[str] = []
    #: A Dockerfile whose `pip install -r` lines name the requirements (and whose
    #: `FROM python:X.Y` gives the version when `python_version` is not set).
    dockerfile: str | None = None
    #: Folders the runtime puts on PYTHONPATH ("src", "."), relative to the target root.
    python_path: list[str] = []

    @field_validator("python_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not _VERSION.fullmatch(value):
            raise ValueError(f"python_version {value!r} must look like '3.11'")
        return value

    @field_validator("requirements", "python_path")
    @classmethod
    def _relative(cls, value: list[str]) -> list[str]:
        return [relative_path(v) for v in value]

    @field_validator("dockerfile")
    @classmethod
    def _relative_file(cls, value: str | None) -> str | None:
        return None if value is None else relative_path(value)


def relative_path(value: str) -> str:
    """A path inside the target root, normalised; anything else is refused with its reason."""
    if not value or value.startswith("/") or "\\" in value:
        raise ValueError(f"path {value!r} must be relative to the target root")
    norm = posixpath.normpath(value)
    if norm == ".." or norm.startswith("../"):
        raise ValueError(f"path {value!r} escapes the target root")
    return norm
