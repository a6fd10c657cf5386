"""A criterion is one declaration (readiness/criteria.py) plus one check function: the wiring
between them, and to the infrastructure report, fails here rather than silently in a report.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path
from typing import Final

import pytest

from readiness.cases import _HAS
from readiness.criteria import CRITERIA, Needs, Section, SubjectKind
from readiness.manifest import Manifest, ScriptKind
from reporting.documents.infrastructure import COLUMNS

CHECKS: Final = Path(__file__).resolve().parent.parent / "checks"

#: The subject kinds each need can be met by; a need declared on another kind would drop every
#: case of its criterion.
NEED_KINDS: Final = {
    Needs.FILE: {SubjectKind.SCRIPT},
    Needs.FLAGS: {SubjectKind.SCRIPT},
    Needs.IMPERSONATION: {SubjectKind.IDENTITY},
    Needs.WRITES: {SubjectKind.DATASET, SubjectKind.BUCKET},
    Needs.REQUIRED_COLUMNS: {SubjectKind.FAMILY},
    Needs.NAME_PATTERN: {SubjectKind.FAMILY},
    Needs.CHECKPOINT_PREFIX: {SubjectKind.BUCKET},
    Needs.DECLARED_TABLES: {SubjectKind.SCRIPT},
    Needs.DECLARED_WRITES: {SubjectKind.SCRIPT},
    Needs.DECLARED_READS: {SubjectKind.SCRIPT},
    Needs.RUN_BY_PATH: {SubjectKind.SCRIPT},
}


def _check_functions() -> list[tuple[str, str, str]]:
    """(criterion id, file, function) for every `@pytest.mark.criterion("id")` under checks/."""
    found = []
    for path in sorted(CHECKS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and ast.unparse(deco.func) == "pytest.mark.criterion"
                    and deco.args
                    and isinstance(deco.args[0], ast.Constant)
                ):
                    found.append((str(deco.args[0].value), path.name, node.name))
    return found


def test_every_criterion_has_exactly_one_check_function() -> None:
    counts = Counter(cid for cid, _, _ in _check_functions())
    assert {cid: n for cid, n in counts.items() if n != 1} == {}
    assert set(CRITERIA) - set(counts) == set(), "criteria without a check function"
    assert set(counts) - set(CRITERIA) == set(), "check functions naming an unknown criterion"


def test_check_functions_are_collected_by_the_suite() -> None:
    """pytest.ini collects `check_*` functions in `check_*.py`: any other name never runs."""
    misnamed = [
        f"{file}::{name}"
        for _, file, name in _check_functions()
        if not (file.startswith("check_") and name.startswith("check_"))
    ]
    assert misnamed == []


def test_every_section_has_its_columns_and_a_criterion() -> None:
    assert set(COLUMNS) == set(Section)
    filled = {c.section for c in CRITERIA.values() if c.section is not None}
    assert set(Section) - filled == set(), "a section no criterion fills is always 'Not audited'"


def test_every_need_has_its_test_and_fits_its_criterion() -> None:
    assert set(_HAS) == set(Needs)
    assert set(NEED_KINDS) == set(Needs)
    misfits = [
        f"{c.id}: {need}" for c in CRITERIA.values() for need in c.needs if c.subject not in NEED_KINDS[need]
    ]
    assert misfits == []


def test_a_missing_script_is_reported_once_by_script_exists() -> None:
    """Every other script criterion needs the file, so a missing script is one blocker."""
    script_criteria = [c for c in CRITERIA.values() if c.subject is SubjectKind.SCRIPT]
    assert [c.id for c in script_criteria if Needs.FILE not in c.needs] == ["script_exists"]


@pytest.mark.parametrize("kind", [k for k in SubjectKind if k.manifest_field])
def test_every_listed_subject_kind_names_a_manifest_list(kind: SubjectKind) -> None:
    assert kind.manifest_field in Manifest.model_fields


def test_undeclared_scripts_get_only_criteria_that_need_no_declaration() -> None:
    undeclared = {c.id for c in CRITERIA.values() if c.undeclared}
    assert undeclared == {
        "python_parses",
        "shell_parses",
        "imports_resolve",
        "docker_sources",
        "cloudbuild_parses",
    }
    assert all(CRITERIA[cid].subject is SubjectKind.SCRIPT for cid in undeclared)
    assert all(Needs.FLAGS not in CRITERIA[cid].needs for cid in undeclared)


@pytest.mark.parametrize("kind", list(ScriptKind))
def test_every_script_kind_has_one_case_that_records_its_inventory_facts(kind: ScriptKind) -> None:
    """The inventory's lines, dependencies and mode come from this case alone: it must reach
    every script of the kind that is there, declared or not."""
    describing = [
        c for c in CRITERIA.values() if c.describes and (not c.script_kinds or kind.value in c.script_kinds)
    ]
    assert len(describing) == 1, [c.id for c in describing]
    assert describing[0].undeclared
    assert describing[0].needs == (Needs.FILE,)
