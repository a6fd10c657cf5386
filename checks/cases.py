"""Cases: one criterion applied to one manifest item, at the priority it has for the audited phase."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Final

import pytest

from checks.criteria import CRITERIA, Criterion, SubjectKind
from checks.discovery import UNDECLARED_CRITERIA, UndeclaredScript, undeclared_scripts
from checks.manifest import SECTION_SUBJECT, Blocker, LoadedManifest, Script
from checks.manifest_base import AuditedItem
from checks.manifest_gcp import Bucket, Dataset, FamilyTarget, Identity
from checks.manifest_tables import TABLE_CRITERIA, table_criterion_applies
from checks.priority import Priority

__all__ = ["FACTS_KEY", "Case", "Item", "case_at", "cases_for", "param_for"]

Item = AuditedItem

#: Facts a check gathered while it ran (versions found, imports seen); they travel on the report.
FACTS_KEY: Final = pytest.StashKey[dict[str, Any]]()

#: cases_for's results per manifest; weak, so a manifest's cases go with it (tests load many).
_BUILT: Final[weakref.WeakKeyDictionary[LoadedManifest, dict[str, tuple[Case, ...]]]] = (
    weakref.WeakKeyDictionary()
)

#: Criteria that only make sense once the script is there; a missing script is reported once,
#: by script_exists, instead of once per criterion.
_NEEDS_PRESENT_FILE: Final = frozenset(
    c.id for c in CRITERIA.values() if c.subject is SubjectKind.SCRIPT and c.id != "script_exists"
)


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


def case_at(loaded: LoadedManifest, reference: list[Any]) -> Case | None:
    """The case a report's `Case.reference` names in this process's manifest, or None when it
    has no such case: the manifest or the target tree changed between the controller's reading
    and a worker's."""
    criterion_id, index, subject = str(reference[0]), int(reference[1]), str(reference[2])
    if criterion_id not in CRITERIA:
        return None
    cases = cases_for(criterion_id, loaded)
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


def _items(loaded: LoadedManifest, kind: SubjectKind) -> list[Item]:
    if kind is SubjectKind.IDENTITY:
        return _identities(loaded)
    if kind is SubjectKind.FAMILY:
        return _family_targets(loaded)
    if kind is SubjectKind.BILLING:
        billing = loaded.manifest.billing
        return [billing] if billing is not None else []
    section = next(s for s, k in SECTION_SUBJECT.items() if k is kind)
    items: list[Item] = list(getattr(loaded.manifest, section))
    if kind is SubjectKind.SCRIPT:
        items.extend(undeclared_scripts(loaded))
    return items


def _applies(criterion: Criterion, item: Item, loaded: LoadedManifest) -> bool:
    cid = criterion.id
    if isinstance(item, UndeclaredScript) and cid not in UNDECLARED_CRITERIA:
        return False
    if isinstance(item, Script):
        if criterion.script_kinds and item.script_kind.value not in criterion.script_kinds:
            return False
        if cid == "cli_flags" and not item.flags:
            return False
        if cid in TABLE_CRITERIA and not table_criterion_applies(cid, item, loaded.manifest):
            return False
        if cid in _NEEDS_PRESENT_FILE:
            return (loaded.root / item.path).is_file()
        return True
    if isinstance(item, Identity):
        gcp = loaded.manifest.gcp
        return cid != "credentials_impersonation" or bool(gcp and gcp.impersonate)
    if isinstance(item, Dataset):
        return cid != "bq_write_probe" or item.writes
    if isinstance(item, FamilyTarget):
        if cid == "schema_mandate":
            return bool(item.family.required_columns)
        return bool(item.family.table_pattern or item.family.column_pattern)
    if isinstance(item, Bucket):
        if cid == "checkpoint_fresh":
            return bool(item.checkpoint_prefix)
        return cid != "gcs_write_probe" or item.writes
    return True


def cases_for(criterion_id: str, loaded: LoadedManifest) -> tuple[Case, ...]:
    """The criterion's cases for this manifest; built once per manifest (collection and the
    results plugin's count of all cases both ask, and a large manifest has thousands)."""
    built = _BUILT.setdefault(loaded, {})
    if criterion_id not in built:
        built[criterion_id] = tuple(_build_cases(criterion_id, loaded))
    return built[criterion_id]


def _build_cases(criterion_id: str, loaded: LoadedManifest) -> list[Case]:
    criterion = CRITERIA[criterion_id]
    settings = loaded.manifest.criteria.get(criterion_id)
    defaults = Blocker(impact=criterion.impact, mitigation=criterion.mitigation, action=criterion.action)
    base = settings.blocker.over(defaults) if settings else defaults
    phase = loaded.phase.id
    cases: list[Case] = []
    for item in _items(loaded, criterion.subject):
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
    return cases


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


def param_for(case: Case) -> Any:
    """A pytest.param carrying the case's own priority marker, so `-m p0` selects per case."""
    return pytest.param(case, id=case.subject, marks=[getattr(pytest.mark, case.priority.marker)])
