"""Cases: one criterion applied to one manifest item, at the priority it has for the audited phase."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from readiness.criteria import CRITERIA, Criterion, Needs, SubjectKind
from readiness.manifest import Blocker, LoadedManifest, Script
from readiness.manifest.base import AuditedItem
from readiness.manifest.gcp import Bucket, Dataset, FamilyTarget, Identity
from readiness.manifest.tables import cost_judged, names_judged, schema_judged
from readiness.memo import RunMemo
from readiness.priorities import Priority
from readiness.undeclared import UndeclaredScript, undeclared_scripts

__all__ = ["Case", "Item", "case_at", "cases_for"]

Item = AuditedItem

#: Whether an item has what a criterion needs (`Criterion.needs`), one test per `Needs`.
_HAS: Final[dict[Needs, Callable[[AuditedItem, LoadedManifest], bool]]] = {
    Needs.FILE: lambda item, loaded: isinstance(item, Script) and (loaded.root / item.path).is_file(),
    Needs.FLAGS: lambda item, _: isinstance(item, Script) and bool(item.flags),
    Needs.IMPERSONATION: lambda _, loaded: bool(loaded.manifest.gcp and loaded.manifest.gcp.impersonate),
    Needs.WRITES: lambda item, _: isinstance(item, Dataset | Bucket) and item.writes,
    Needs.REQUIRED_COLUMNS: lambda item, _: (
        isinstance(item, FamilyTarget) and bool(item.family.required_columns)
    ),
    Needs.NAME_PATTERN: lambda item, _: (
        isinstance(item, FamilyTarget) and bool(item.family.table_pattern or item.family.column_pattern)
    ),
    Needs.CHECKPOINT_PREFIX: lambda item, _: isinstance(item, Bucket) and bool(item.checkpoint_prefix),
    Needs.DECLARED_TABLES: lambda item, loaded: (
        isinstance(item, Script) and names_judged(item, loaded.manifest)
    ),
    Needs.DECLARED_WRITES: lambda item, loaded: (
        isinstance(item, Script) and schema_judged(item, loaded.manifest)
    ),
    Needs.DECLARED_READS: lambda item, loaded: (
        isinstance(item, Script) and cost_judged(item, loaded.manifest)
    ),
    Needs.RUN_BY_PATH: lambda item, _: isinstance(item, Script) and item.runs_by_path,
}


@dataclass(frozen=True, slots=True)
class Case:
    criterion: Criterion
    item: Item
    priority: Priority
    phase: str
    #: Blocker metadata: the item's, over the manifest's for the criterion, over the defaults.
    blocker: Blocker
    owner: str
    #: The case's place among its criterion's cases (see `reference`).
    index: int = 0

    @property
    def subject(self) -> str:
        return self.item.subject

    @property
    def category(self) -> str:
        if isinstance(self.item, Script):
            return self.item.category.value
        return self.criterion.subject.value

    def reference(self) -> list[Any]:
        """What names this case on its test report: the criterion, the case's place among the
        criterion's cases and its subject. The controller, which loaded the same manifest, finds
        its own copy of the case with `case_at` instead of receiving a description of it."""
        return [self.criterion.id, self.index, self.subject]


def case_at(loaded: LoadedManifest, reference: list[Any], memo: RunMemo) -> Case | None:
    """The case a report's `Case.reference` names in this process's manifest, or None when it
    has no such case: the manifest or the target tree changed between the controller's reading
    and a worker's."""
    criterion_id, index, subject = str(reference[0]), int(reference[1]), str(reference[2])
    if criterion_id not in CRITERIA:
        return None
    cases = cases_for(criterion_id, loaded, memo)
    if 0 <= index < len(cases) and cases[index].subject == subject:
        return cases[index]
    return None


def _identities(loaded: LoadedManifest) -> list[Item]:
    gcp = loaded.manifest.gcp
    if gcp is None:
        return []
    name = gcp.impersonate or "application default credentials"
    return [Identity(name=name, priority=gcp.priority)]


def _family_targets(loaded: LoadedManifest) -> list[Item]:
    mandates = {m.id: m for m in loaded.manifest.mandates}
    targets: list[Item] = []
    for dataset in loaded.manifest.datasets:
        for mandate_id in dataset.mandates:
            for family in mandates[mandate_id].families:
                targets.append(
                    FamilyTarget(
                        dataset=dataset.subject,
                        mandate=mandate_id,
                        family=family,
                        phases=dataset.phases,
                        priority=dataset.priority,
                        criteria=dataset.criteria,
                        blocker=dataset.blocker,
                        owner=dataset.owner,
                    )
                )
    return targets


def _items(loaded: LoadedManifest, kind: SubjectKind, memo: RunMemo) -> list[Item]:
    if kind is SubjectKind.IDENTITY:
        return _identities(loaded)
    if kind is SubjectKind.FAMILY:
        return _family_targets(loaded)
    if kind is SubjectKind.BILLING:
        billing = loaded.manifest.billing
        return [billing] if billing is not None else []
    items: list[Item] = list(getattr(loaded.manifest, kind.manifest_field))
    if kind is SubjectKind.SCRIPT:
        items.extend(undeclared_scripts(loaded, memo))
    return items


def _applies(criterion: Criterion, item: Item, loaded: LoadedManifest) -> bool:
    if isinstance(item, UndeclaredScript) and not criterion.undeclared:
        return False
    kinds = criterion.script_kinds
    if kinds and isinstance(item, Script) and item.script_kind.value not in kinds:
        return False
    return all(_HAS[need](item, loaded) for need in criterion.needs)


def cases_for(criterion_id: str, loaded: LoadedManifest, memo: RunMemo) -> tuple[Case, ...]:
    """The criterion's cases for this manifest; built once per run (collection and the results
    plugin's count of all cases both ask, and a large manifest has thousands). Built once also
    so that every reader sees the same cases, whatever the tree does meanwhile."""
    return memo.once(_build_cases, criterion_id, loaded, memo)


def _build_cases(criterion_id: str, loaded: LoadedManifest, memo: RunMemo) -> tuple[Case, ...]:
    criterion = CRITERIA[criterion_id]
    settings = loaded.manifest.criteria.get(criterion_id)
    defaults = Blocker(impact=criterion.impact, mitigation=criterion.mitigation, action=criterion.action)
    base = settings.blocker.over(defaults) if settings else defaults
    phase = loaded.phase.id
    cases: list[Case] = []
    for item in _items(loaded, criterion.subject, memo):
        if not _applies(criterion, item, loaded):
            continue
        blocker = item.blocker.over(base)
        if criterion_id == "script_exists" and isinstance(item, Script) and blocker.delay_hours is None:
            # A missing script delays the phase by the time it takes to write it.
            blocker = blocker.model_copy(update={"delay_hours": item.create_hours})
        owner = _owner(loaded, item, criterion, settings.owner if settings else "")
        cases.append(
            Case(criterion, item, item.priority_for(criterion_id, phase), phase, blocker, owner, len(cases))
        )
    return tuple(cases)


def _owner(loaded: LoadedManifest, item: Item, criterion: Criterion, criterion_owner: str) -> str:
    """The item's owner, else the criterion's, else by category or area, else the default."""
    owners = loaded.manifest.owners
    category = item.category.value if isinstance(item, Script) else ""
    return (
        item.owner
        or criterion_owner
        or owners.by_category.get(category, "")
        or owners.by_category.get(criterion.area.value, "")
        or owners.default
    )
