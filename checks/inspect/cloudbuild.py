"""Cloud Build configs: parse the YAML (safely, bounded) and check its steps' shape."""

from __future__ import annotations

from typing import Any, Final

import yaml

__all__ = ["MAX_YAML_DEPTH", "MAX_YAML_NODES", "CloudBuildError", "load_cloudbuild"]

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
    #: Aliases met and nodes composed: the expansion check only matters when aliases exist.
    aliases = 0
    nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
        self.nodes += 1
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _TooDeep
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_cloudbuild(text: str) -> dict[str, Any]:
    loader = _BoundedLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CloudBuildError(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except _TooDeep:
        raise CloudBuildError(f"invalid YAML: nested more than {MAX_YAML_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    if loader.aliases:
        # Only aliases can make a document bigger than its text: a long config without them is fine.
        _check_expansion(data, MAX_YAML_NODES + loader.nodes)
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise CloudBuildError("no 'steps' list: not a Cloud Build config")
    for index, step in enumerate(data["steps"]):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            raise CloudBuildError(f"steps[{index}]: a step needs a 'name' (the builder image)")
        args = step.get("args")
        if args is not None and not isinstance(args, list):
            raise CloudBuildError(f"steps[{index}].args: must be a list of strings, not {args!r}")
        for key in ("script", "entrypoint", "dir"):
            if step.get(key) is not None and not isinstance(step[key], str):
                raise CloudBuildError(f"steps[{index}].{key}: must be a string, not {step[key]!r}")
    subs = data.get("substitutions")
    if subs is not None and not isinstance(subs, dict):
        raise CloudBuildError(f"substitutions: must be a mapping, not {subs!r}")
    return data


def _check_expansion(data: Any, limit: int) -> None:
    """Refuse a document whose aliases expand beyond MAX_YAML_NODES (also a recursive alias).

    Counts values as a walk that follows aliases would meet them, and stops at the limit, so
    the cost is bounded by the limit, never by the expansion.
    """
    seen = 0
    stack = [data]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > limit:
            raise CloudBuildError(
                f"expands to more than {MAX_YAML_NODES:,} values through aliases "
                "(recursive or exponential anchors, a YAML bomb?): not parsed"
            )
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
