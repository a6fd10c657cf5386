"""Cloud Build configs: parse the YAML and find the Dockerfiles its docker build steps use."""

from __future__ import annotations

import posixpath
from typing import Any

import yaml

__all__ = ["CloudBuildError", "dockerfiles", "load_cloudbuild"]


class CloudBuildError(Exception):
    pass


def load_cloudbuild(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CloudBuildError(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise CloudBuildError("no 'steps' list: not a Cloud Build config")
    for index, step in enumerate(data["steps"]):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            raise CloudBuildError(f"steps[{index}]: a step needs a 'name' (the builder image)")
    return data


def dockerfiles(config: dict[str, Any]) -> list[tuple[int, str]]:
    """(step index, Dockerfile path relative to the config's folder) for each docker build step."""
    found = []
    for index, step in enumerate(config["steps"]):
        args = [str(a) for a in step.get("args") or []]
        if "docker" not in step["name"] or "build" not in args:
            continue
        step_dir = str(step.get("dir") or ".")
        path = None
        for i, arg in enumerate(args):
            if arg in ("-f", "--file") and i + 1 < len(args):
                path = args[i + 1]
            elif arg.startswith("--file="):
                path = arg.split("=", 1)[1]
        if path is None:
            context = args[-1] if args[-1] != "build" else "."
            path = posixpath.join(context, "Dockerfile")
        found.append((index, posixpath.normpath(posixpath.join(step_dir, path))))
    return found
