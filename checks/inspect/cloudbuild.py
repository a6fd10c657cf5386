"""Cloud Build configs: parse the YAML and find the Dockerfiles its docker build steps use."""

from __future__ import annotations

import posixpath
from typing import Any, Final

import yaml

__all__ = ["MAX_YAML_DEPTH", "MAX_YAML_NODES", "CloudBuildError", "dockerfiles", "load_cloudbuild"]

#: Values a config may expand to once aliases are followed. A real Cloud Build config has a few
#: hundred; nine nested aliases of nine items (a "billion laughs") expand to 10**9, which
#: safe_load builds cheaply as shared references but any walk over the steps would not survive.
MAX_YAML_NODES: Final = 100_000
#: Nesting a config may have; PyYAML composes recursively, and hitting Python's recursion limit
#: first costs seconds and a RecursionError.
MAX_YAML_DEPTH: Final = 100


class CloudBuildError(Exception):
    pass


class _TooDeep(Exception):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """safe_load's loader (no Python tags), refusing nesting deeper than MAX_YAML_DEPTH."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _TooDeep
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_cloudbuild(text: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_BoundedLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CloudBuildError(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except _TooDeep:
        raise CloudBuildError(f"invalid YAML: nested more than {MAX_YAML_DEPTH} levels deep") from None
    _check_expansion(data)
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


def _check_expansion(data: Any) -> None:
    """Refuse a document whose aliases expand beyond MAX_YAML_NODES (also a recursive alias).

    Counts values as a walk that follows aliases would meet them, and stops at the limit, so
    the cost is bounded by the limit, never by the expansion.
    """
    seen = 0
    stack = [data]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_YAML_NODES:
            raise CloudBuildError(
                f"expands to more than {MAX_YAML_NODES:,} values through aliases "
                "(recursive or exponential anchors, a YAML bomb?): not parsed"
            )
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
