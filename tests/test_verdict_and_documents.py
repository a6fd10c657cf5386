"""The verdict, the run's scope and exit status, and the documents an audit leaves behind."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import MANIFEST_HEAD, PYTHON_LINE, REPO, AuditRun, TargetRepo, run_shared, run_suite
from readiness.priorities import Priority
from readiness.records import CaseRecord, Outcome
from reporting.verdict import Verdict, decide

EXAMPLE = REPO / "examples" / "bqx_demo"
DOCUMENT_STEMS = (
    "IMPLEMENTATION_SCRIPT_INVENTORY",
    "PHASE_4C_READINESS_REPORT",
    "INFRASTRUCTURE_READINESS_REPORT",
    "DEPENDENCY_ANALYSIS",
    "EXECUTION_BLOCKER_ANALYSIS",
    "AUDIT_SUMMARY",
)


def _script(path: str, priority: str, **extra: str) -> str:
    lines = [f'[[scripts]]\npath = "{path}"\npurpose = "p"\ncategory = "generation"\npriority = "{priority}"']
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n\n"


def _section(doc: str, heading: str) -> str:
    """The text under a `## heading` up to the next `## `."""
    start = doc.index(heading)
    end = doc.find("\n## ", start + len(heading))
    return doc[start : end if end != -1 else len(doc)]


# -- verdict rules, end to end ----------------------------------------------------------------


def _p0_fails(repo: TargetRepo) -> Path:
    repo.write("ok.py", "print(1)\n")
    return repo.manifest(_script("ok.py", "P0") + _script("gone.py", "P0", create_hours="3"))


def _p0_errors(repo: TargetRepo) -> Path:
    repo.write("requirements.txt", "packaging==24.1\n")
    head = MANIFEST_HEAD.replace(PYTHON_LINE, 'python = "/nonexistent/python3"')
    return repo.manifest(
        '[[packages]]\nname = "packaging"\npriority = "P0"\ncriteria = { package_pinned = "P3" }\n', head=head
    )


def _p1_fails(repo: TargetRepo) -> Path:
    repo.write("ok.py", "print(1)\n")
    repo.write("merge.sh", "#!/bin/bash\necho merge\n", mode=0o644)
    return repo.manifest(_script("ok.py", "P0") + _script("merge.sh", "P1") + _script("gone.py", "P2"))


def _all_pass(repo: TargetRepo) -> Path:
    repo.write("ok.py", "import argparse\nargparse.ArgumentParser().add_argument('--workers')\n")
    repo.write("run.sh", "#!/bin/bash\necho run\n", mode=0o755)
    return repo.manifest(_script("ok.py", "P0", flags='["--workers"]') + _script("run.sh", "P1"))


VERDICT_MODE = ("--readiness-exit", "verdict")


@pytest.mark.parametrize(
    ("build", "args", "verdict", "reason", "exit_code"),
    [
        pytest.param(
            _p0_fails, VERDICT_MODE, "NO-GO", "1 P0 blocker (1 case)", 11,
            id="missing-p0-script-is-no-go",
        ),
        pytest.param(
            _p0_errors, VERDICT_MODE, "NO-GO", "1 P0 blocker (1 case)", 11,
            id="unverified-p0-is-no-go",
        ),
        pytest.param(
            _p1_fails, VERDICT_MODE, "CONDITIONAL GO", "1 P1 blocker (1 case)", 10,
            id="p1-failure-only-is-conditional-go",
        ),
        pytest.param(
            _all_pass, VERDICT_MODE, "GO", "every selected P0 and P1 case passed", 0, id="all-pass-is-go"
        ),
        # Default mode: pytest's own status, whatever the verdict.
        pytest.param(
            _p1_fails, (), "CONDITIONAL GO", "1 P1 blocker (1 case)", 1,
            id="default-exit-is-pytest-failures",
        ),
        pytest.param(_all_pass, (), "GO", "every selected P0 and P1 case passed", 0, id="default-exit-is-pytest-ok"),
    ],
)  # fmt: skip
def test_verdict_and_exit_code(
    pytester: pytest.Pytester,
    target: TargetRepo,
    build: Callable[[TargetRepo], Path],
    args: tuple[str, ...],
    verdict: str,
    reason: str,
    exit_code: int,
) -> None:
    run = run_suite(pytester, build(target), *args)
    assert run.ret == exit_code, run.output
    assert run.json()["verdict"]["verdict"] == verdict
    assert run.json()["verdict"]["reasons"] == [reason]
    # These manifests have no [gcp]: the verdict line says what it does not cover.
    headline = run.json()["verdict"]["headline"]
    assert headline.startswith(verdict) and "not audited" in headline
    assert f"readiness: {headline} (risk " in run.output
    assert f"Verdict: **{verdict}**" in run.doc("AUDIT_SUMMARY")


def test_nothing_collected_is_never_go(pytester: pytest.Pytester, target: TargetRepo) -> None:
    # Nothing was verified: no verdict at all (never a GO), no documents, pytest's own status.
    run = run_suite(pytester, _all_pass(target), "-k", "nothing_matches", *VERDICT_MODE)
    assert run.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "readiness: no case ran (no case was selected): no verdict, no documents written" in run.output
    assert "readiness: GO" not in run.output
    assert not run.out_dir.exists()


SKIPPER = """\
import pytest


def pytest_runtest_setup(item):
    if item.get_closest_marker("p0"):
        pytest.skip("maintenance window: P0 checks paused")
"""


def test_skipped_p0_makes_verdict_no_go(pytester: pytest.Pytester, target: TargetRepo) -> None:
    # No check skips by itself; another plugin (or a conftest) can. A skip is not a pass.
    pytester.makepyfile(skipper=SKIPPER)
    run = run_suite(pytester, _all_pass(target), "-p", "skipper", "--readiness-exit", "verdict")
    case = run.case("script_exists", "ok.py")
    assert case["outcome"] == "skipped"
    assert case["message"] == "maintenance window: P0 checks paused"
    assert run.ret == 11
    assert run.json()["verdict"]["verdict"] == "NO-GO"


def _record(priority: Priority, outcome: Outcome, subject: str = "a.py") -> CaseRecord:
    return CaseRecord(
        nodeid=f"checks/check_scripts.py::check_script_exists[{subject}]",
        criterion="script_exists",
        title="script exists",
        area="scripts",
        subject=subject,
        subject_kind="script",
        category="generation",
        priority=priority,
        phase="4C",
        needed=True,
        phases=[],
        owner="",
        blocker={},
        outcome=outcome,
    )


@pytest.mark.parametrize(
    ("records", "verdict"),
    [
        pytest.param([], Verdict.NO_GO, id="nothing-ran"),
        pytest.param([(Priority.P0, Outcome.SKIPPED)], Verdict.NO_GO, id="p0-skipped"),
        pytest.param([(Priority.P0, Outcome.ERROR)], Verdict.NO_GO, id="p0-error"),
        pytest.param(
            [(Priority.P0, Outcome.PASSED), (Priority.P1, Outcome.SKIPPED)],
            Verdict.CONDITIONAL_GO,
            id="p1-skipped",
        ),
        pytest.param(
            [(Priority.P0, Outcome.WAIVED), (Priority.P2, Outcome.FAILED)],
            Verdict.GO,
            id="waived-p0-p2-failed",
        ),
        pytest.param(
            [(Priority.P3, Outcome.ERROR), (Priority.P0, Outcome.PASSED)], Verdict.GO, id="p3-error"
        ),
    ],
)
def test_decide(records: list[tuple[Priority, Outcome]], verdict: Verdict) -> None:
    recs = [_record(p, o, subject=f"s{i}.py") for i, (p, o) in enumerate(records)]
    assert decide(recs).verdict is verdict


def test_decide_counts_a_skipped_p0_as_a_blocker() -> None:
    result = decide([_record(Priority.P0, Outcome.SKIPPED), _record(Priority.P0, Outcome.PASSED, "b.py")])
    assert result.reasons == ("1 P0 blocker (1 case)",)
    assert result.risk_reasons == ("HIGH: 1 P0 blocker: a.py: script exists: skipped",)


# -- selection: -m and -k ---------------------------------------------------------------------

SELECTION = (
    _script("jobs/p0_ok.py", "P0", flags='["--dry-run"]')
    + _script("jobs/p0_gone.py", "P0")
    + _script("jobs/p1_merge.sh", "P1")
    + _script("jobs/p2_extract.py", "P2")
    + _script("jobs/p3_report.py", "P3")
    + '[[packages]]\nname = "packaging"\npriority = "P0"\n\n'
    + '[[tools]]\nname = "bash"\npriority = "P1"\n'
)


@pytest.fixture(scope="module")
def selection_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("selection")
    repo = TargetRepo(work / "target")
    repo.write("jobs/p0_ok.py", "import argparse\nargparse.ArgumentParser().add_argument('--dry-run')\n")
    repo.write("jobs/p1_merge.sh", "#!/bin/bash\necho merge\n", mode=0o644)
    repo.write("jobs/p2_extract.py", "import os\n")
    repo.write("jobs/p3_report.py", "import os\n")
    repo.write("requirements.txt", "packaging==26.0\n")
    return work, repo.manifest(SELECTION)


@pytest.fixture(scope="module")
def full_run(selection_repo: tuple[Path, Path]) -> AuditRun:
    work, manifest = selection_repo
    (work / "full").mkdir()
    return run_shared(work / "full", manifest)


@pytest.fixture(scope="module")
def p0_run(selection_repo: tuple[Path, Path]) -> AuditRun:
    work, manifest = selection_repo
    (work / "p0").mkdir()
    return run_shared(work / "p0", manifest, "-m", "p0")


def test_marker_selects_exactly_the_p0_cases(full_run: AuditRun, p0_run: AuditRun) -> None:
    all_cases = full_run.json()["cases"]
    expected = {c["nodeid"] for c in all_cases if c["priority"] == "P0"}
    selected = p0_run.json()["cases"]
    assert expected and len(expected) < len(all_cases)
    assert {c["nodeid"] for c in selected} == expected
    assert {c["priority"] for c in selected} == {"P0"}
    # pytest ran exactly those items, nothing more.
    outcomes = p0_run.result.parseoutcomes()
    assert sum(outcomes.get(k, 0) for k in ("passed", "failed", "error", "skipped")) == len(expected)


def test_partial_run_states_its_scope(full_run: AuditRun, p0_run: AuditRun) -> None:
    total = len(full_run.json()["cases"])
    run_n = len(p0_run.json()["cases"])
    no_gcp = "; Google Cloud not audited (the manifest has no [gcp] section)"
    scope = f"PARTIAL audit: -m 'p0'; {run_n} of {total} cases run{no_gcp}"
    assert p0_run.json()["scope"]["description"] == scope
    assert f"scope: {scope}" in p0_run.output
    assert f"- Scope: {scope}" in p0_run.doc("AUDIT_SUMMARY")
    assert (
        full_run.json()["scope"]["description"]
        == f"repository checks only: no selection (full suite); {total} of {total} cases run{no_gcp}"
    )


def test_keyword_selects_one_script(selection_repo: tuple[Path, Path]) -> None:
    work, manifest = selection_repo
    (work / "k").mkdir()
    run = run_shared(work / "k", manifest, "-k", "p1_merge")
    data = run.json()
    assert {c["subject"] for c in data["cases"]} == {"jobs/p1_merge.sh"}
    assert {c["criterion"] for c in data["cases"]} == {"script_exists", "shell_parses", "shell_executable"}
    assert data["scope"]["keyword"] == "p1_merge"
    assert "PARTIAL audit: -k 'p1_merge'" in data["scope"]["description"]
    assert data["verdict"]["verdict"] == "CONDITIONAL GO"
    assert run.script("jobs/p0_ok.py")["status"] == "NOT AUDITED"


# -- the example audit ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    run = run_shared(tmp_path_factory.mktemp("example"), EXAMPLE / "readiness.toml")
    assert run.ret == 1, run.output
    return run


def test_all_documents_are_written_with_the_run_date(example: AuditRun) -> None:
    names = sorted(p.name for p in example.out_dir.iterdir())
    assert names == sorted(
        [f"{stem}_20261122.md" for stem in DOCUMENT_STEMS]
        + ["READINESS_RESULTS_20261122.json", "TABLE_INVENTORY_20261122.csv"]
    )
    for stem in DOCUMENT_STEMS:
        assert "- Audit date: 2026-11-22 (run 20261122T060000-" in example.doc(stem)


#: The core's criteria: what an offline audit (no Google project) can find. The README's
#: Google-side defects are found with `pytest --sandbox` and tested with the sandbox.
CORE_CRITERIA = frozenset(
    {
        "script_exists", "python_parses", "shell_parses", "shell_executable", "imports_resolve",
        "cli_flags", "docker_sources", "docker_entrypoint", "cloudbuild_parses",
        "cloudbuild_dockerfile", "package_installed", "package_pinned", "tool_available",
    }
)  # fmt: skip


def _readme_defects() -> list[tuple[str, str, str]]:
    """(defect, criterion, priority) for each row of the README's defect table the core finds."""
    defects = []
    for line in (EXAMPLE / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 3 and cells[1] in CORE_CRITERIA:
            defects.append((cells[0], cells[1], cells[2]))
    return defects


DEFECTS = _readme_defects()


def test_readme_lists_the_core_defects() -> None:
    assert len(DEFECTS) == 8, DEFECTS


@pytest.mark.parametrize(
    ("defect", "criterion", "priority"), DEFECTS, ids=[f"{c}-{p}" for _, c, p in DEFECTS]
)
def test_example_audit_finds_each_listed_defect(
    example: AuditRun, defect: str, criterion: str, priority: str
) -> None:
    found = [
        b for b in example.json()["blockers"] if b["criterion"] == criterion and f"`{b['subject']}" in defect
    ]
    assert len(found) == 1, f"{defect}: {[b['key'] for b in example.json()['blockers']]}"
    blocker = found[0]
    assert blocker["priority"] == priority
    assert blocker["outcome"] == "failed", blocker["message"]
    doc = example.doc("EXECUTION_BLOCKER_ANALYSIS")
    section = _section(doc, f"## {priority} blockers")
    assert re.search(
        rf"^### {priority}-\d+: {re.escape(blocker['subject'])}: {re.escape(blocker['title'])}$",
        section,
        re.M,
    )


def test_example_inventory_statuses(example: AuditRun) -> None:
    missing = example.script("scripts/phase4c/rename_var_tables.py")
    assert (missing["status"], missing["create_hours"]) == ("MISSING", 6)
    assert example.script("scripts/validation/validate_row_counts.py")["status"] == "BLOCKED"
    doc = example.doc("IMPLEMENTATION_SCRIPT_INVENTORY")
    row = next(
        line for line in doc.splitlines() if line.startswith("| scripts/phase4c/rename_var_tables.py ")
    )
    assert "| MISSING " in row and "Create (estimated 6 h): Rename VAR tables" in row
    row = next(
        line for line in doc.splitlines() if line.startswith("| scripts/validation/validate_row_counts.py ")
    )
    assert "| BLOCKED " in row


def test_example_phase_report_lists_what_must_be_created(example: AuditRun) -> None:
    doc = example.doc("PHASE_4C_READINESS_REPORT")
    created = _section(doc, "## What must be created")
    rows = [line for line in created.splitlines() if line.startswith("| scripts/")]
    assert len(rows) == 1
    assert rows[0].startswith("| scripts/phase4c/rename_var_tables.py ") and "| 6 h " in rows[0]
    assert (
        "Total creation effort: **6 h** for 1 missing script(s); "
        "1 day until the planned start (2026-11-23)." in created
    )


def test_example_summary_says_phase_cannot_start(example: AuditRun) -> None:
    doc = example.doc("AUDIT_SUMMARY")
    answer = doc.split("### Can phase 4C start on 2026-11-23 with zero delays?\n\n", 1)[1].splitlines()[0]
    assert answer.startswith("**No.**")
    assert "## Verdict: NO-GO" in doc


GOOGLE_SECTIONS = (
    "Credentials and identity",
    "BigQuery datasets",
    "Naming and schema mandates",
    "Data dependencies",
    "Cloud Storage",
    "Cloud Run jobs",
    "IAM permissions",
    "Quotas and cost",
    "Enabled APIs",
)


def test_infrastructure_report_keeps_unaudited_sections_marked_not_audited(full_run: AuditRun) -> None:
    # A scripts-only manifest: no Google check ran, and no Dockerfile or Cloud Build config either.
    doc = full_run.doc("INFRASTRUCTURE_READINESS_REPORT")
    for section in (*GOOGLE_SECTIONS, "Container builds"):
        assert "**Not audited**: no check of this section ran in this audit." in _section(
            doc, f"## {section}"
        ), section


def test_example_infrastructure_report_shows_container_build_findings(example: AuditRun) -> None:
    builds = _section(example.doc("INFRASTRUCTURE_READINESS_REPORT"), "## Container builds")
    assert "Not audited" not in builds
    assert "docker/Dockerfile.merge" in builds and "scripts/merge/" in builds


def test_terminal_summary_shows_verdict_counts_and_documents(example: AuditRun) -> None:
    lines = example.result.stdout.lines
    start = next(
        i for i, line in enumerate(lines) if re.fullmatch(r"=+ readiness: NO-GO \(risk HIGH\) =+", line)
    )
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line)
    # The counts as a table: a header, a rule, then one row per priority that had cases.
    counts = example.json()["counts"]
    header = block.index(next(line for line in block if line.split()[:3] == ["priority", "open", "total"]))
    outcomes = block[header].split()[3:]
    assert outcomes == ["passed", "failed", "error", "skipped", "waived"]
    count_lines = block[header + 2 : header + 2 + sum(1 for p in counts if sum(counts[p].values()))]
    for line in count_lines:
        priority, open_n, total, *by_outcome = line.split()
        row = counts[priority]
        assert int(total) == sum(row.values())
        assert int(open_n) == int(total) - row["passed"] - row["waived"]
        assert [int(n) for n in by_outcome] == [row[o] for o in outcomes]
    assert [line.split()[0] for line in count_lines] == [p for p in counts if sum(counts[p].values())]
    documents = f"  documents: {example.out_dir} (8 files)"
    assert documents in block, block
    # Verdict first, then the counts in priority order, then where the documents are.
    assert block.index(count_lines[-1]) < block.index(documents)


# -- markup in manifest values ----------------------------------------------------------------

MARKUP_HEAD = """\
[project]
name = "Demo <img src=x>"
root = "."
phase = "4C<i>"
requirements = ["requirements.txt"]

[[phases]]
id = "4C<i>"
name = "Naming <b>remediation</b>"
start = 2026-11-23
"""

MARKUP = """\
[[packages]]
name = "<script>alert(1)</script>"
priority = "P1"

[[scripts]]
path = "gone.py"
purpose = "Make <script>x</script> tables"
category = "generation"
priority = "P1"
create_hours = 2
"""


@pytest.fixture(scope="module")
def markup_run(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("markup")
    repo = TargetRepo(work / "target")
    repo.write("requirements.txt", "packaging==26.0\n")
    manifest = repo.manifest(MARKUP, head=MARKUP_HEAD)
    return run_shared(work, manifest, "--html", str(work / "report.html"), "--self-contained-html")


def _markdown(run: AuditRun) -> dict[str, str]:
    docs = {p.name: p.read_text() for p in run.out_dir.glob("*.md")}
    assert len(docs) == 6, sorted(docs)
    return docs


def test_markup_in_a_package_name_stays_escaped_in_markdown(markup_run: AuditRun) -> None:
    for name, text in _markdown(markup_run).items():
        assert "<script>" not in text, f"{name}: " + next(ln for ln in text.splitlines() if "<script>" in ln)
    assert "&lt;script>alert(1)&lt;/script>" in markup_run.doc("DEPENDENCY_ANALYSIS")
    assert "&lt;script>alert(1)&lt;/script>" in markup_run.doc("EXECUTION_BLOCKER_ANALYSIS")


def test_markup_in_phase_and_project_names_stays_escaped_in_markdown(markup_run: AuditRun) -> None:
    for name, text in _markdown(markup_run).items():
        for tag in ("<b>", "<i>", "<img"):
            assert tag not in text, f"{name}: " + next(ln for ln in text.splitlines() if tag in ln)
    assert "Naming &lt;b>remediation&lt;/b>" in markup_run.doc("AUDIT_SUMMARY")


def _html_rows(report: str) -> list[list[str]]:
    blob = re.search(r'data-jsonblob="([^"]*)"', report)
    assert blob, "no data-jsonblob in the HTML report"
    data = json.loads(html.unescape(blob.group(1)))
    return [row["resultsTableRow"] for results in data["tests"].values() for row in results]


def test_html_report_has_verdict_banner_columns_and_escaped_subjects(markup_run: AuditRun) -> None:
    report = (markup_run.out_dir.parent / "report.html").read_text()
    assert "<div id='readiness-verdict'" in report
    assert "Verdict: CONDITIONAL GO (risk MEDIUM)" in report
    for column in ("priority", "category", "subject"):
        assert f'data-column-type="{column}">{column.capitalize()}</th>' in report
    assert "<script>alert(1)" not in report
    cells = [cell for row in _html_rows(report) for cell in row]
    subject_cells = [c for c in cells if 'class="col-subject"' in c]
    assert '<td class="col-subject">&lt;script&gt;alert(1)&lt;/script&gt;</td>' in subject_cells
    assert not any("<script>" in c for c in cells)


# -- documents that cannot be written ---------------------------------------------------------


def test_out_dir_that_is_a_file_gives_documents_not_written(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    blocker = pytester.path / "out"
    blocker.write_text("not a folder\n")
    run = run_suite(pytester, _p1_fails(target))
    assert re.search(
        rf"documents NOT written: {re.escape(str(blocker))}: cannot create the output folder", run.output
    )
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output
    assert blocker.read_text() == "not a folder\n"
    assert not list(pytester.path.glob("*.md")) and not list(pytester.path.glob(".*.tmp"))
    assert "readiness: CONDITIONAL GO" in run.output


def test_failed_rename_leaves_no_partial_documents(pytester: pytest.Pytester, target: TargetRepo) -> None:
    out = pytester.path / "out"
    (out / "AUDIT_SUMMARY_20261122.md").mkdir(parents=True)  # a document's name is taken by a folder
    run = run_suite(pytester, _p1_fails(target))
    assert "documents NOT written" in run.output
    assert "INTERNALERROR" not in run.output and "Traceback" not in run.output
    assert sorted(p.name for p in out.iterdir()) == ["AUDIT_SUMMARY_20261122.md"]
