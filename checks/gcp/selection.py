"""The cases an xdist worker collected, as the controller (which collects nothing) can know them."""

from __future__ import annotations

from readiness.cases import Case, cases_for
from readiness.criteria import CRITERIA
from readiness.manifest import LoadedManifest
from readiness.memo import RunMemo

__all__ = ["cases_of_nodeids"]


def cases_of_nodeids(loaded: LoadedManifest, nodeids: list[str], memo: RunMemo) -> list[Case]:
    """The cases a worker's collected node ids name (`...::check_<criterion>[<subject>]`); a
    criterion whose ids cannot be matched one by one (pytest made a duplicate id unique) gives
    all its cases: a read too many, never one missing."""
    wanted: dict[str, set[str]] = {}
    for nodeid in nodeids:
        name, _, param = nodeid.rpartition("::")[2].partition("[")
        criterion = name.removeprefix("check_")
        if criterion in CRITERIA and CRITERIA[criterion].subject.google:
            wanted.setdefault(criterion, set()).add(param.removesuffix("]"))
    selected: list[Case] = []
    for criterion, ids in wanted.items():
        cases = cases_for(criterion, loaded, memo)
        matched = [c for c in cases if c.subject in ids]
        selected += matched if len(matched) == len(ids) else list(cases)
    return selected
