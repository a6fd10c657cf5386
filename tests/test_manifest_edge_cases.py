"""Manifest inputs that used to slip through or crash: ids equal but for case or Unicode form,
infinite numbers, and a manifest replaced by invalid TOML while an `-n 2` run is starting."""

from __future__ import annotations

import textwrap

import pytest

from conftest import AuditRun, TargetRepo, run_suite

SCRIPT = '\n[[scripts]]\npath = "a.py"\npurpose = "p"\ncategory = "analysis"\n'


def _usage_line(run: AuditRun) -> str:
    __tracebackhide__ = True
    assert run.ret == pytest.ExitCode.USAGE_ERROR, run.output
    lines = [line for line in run.result.stderr.lines if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in run.output
    assert not run.out_dir.exists()
    return lines[0]


def test_phase_ids_equal_but_for_case_are_one_phase(pytester: pytest.Pytester, target: TargetRepo) -> None:
    target.write("requirements.txt", "")
    manifest = target.manifest(SCRIPT + '\n[[phases]]\nid = "4c"\nname = "again"\nstart = 2026-11-30\n')
    line = _usage_line(run_suite(pytester, manifest))
    assert "phases: duplicate entry '4c' (same as '4C' once case and Unicode form are ignored)" in line


@pytest.mark.parametrize(
    ("first", "second"),
    [("Foo_Bar", "foo-bar"), ("requests", "ＲＥＱＵＥＳＴＳ"), ("cafe\u0301-lib", "café-lib")],
)
def test_package_names_equal_for_pip_are_duplicates(
    pytester: pytest.Pytester, target: TargetRepo, first: str, second: str
) -> None:
    target.write("requirements.txt", "")
    body = "".join(f'\n[[packages]]\nname = "{n}"\nspec = ">=1"\n' for n in (first, second))
    line = _usage_line(run_suite(pytester, target.manifest(body)))
    assert "packages: duplicate entry" in line


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_an_infinite_or_nan_create_hours_is_rejected(
    pytester: pytest.Pytester, target: TargetRepo, value: str
) -> None:
    target.write("requirements.txt", "")
    line = _usage_line(run_suite(pytester, target.manifest(SCRIPT + f"create_hours = {value}\n")))
    assert "create_hours" in line


CLOBBER = """
import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # On the controller, after it loaded the manifest and before any worker starts.
    if not hasattr(config, "workerinput"):
        from readiness.stash import loaded_manifest

        loaded_manifest(config).path.write_text("this is = [not valid TOML")
"""


def test_a_manifest_replaced_mid_run_under_xdist_changes_nothing(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    target.write("requirements.txt", "")
    target.write("a.py", "A = 1\n")
    manifest = target.manifest(SCRIPT)
    serial = run_suite(pytester, manifest, out="serial")
    original = manifest.read_text()
    pytester.makepyfile(clobber=textwrap.dedent(CLOBBER))
    run = run_suite(pytester, manifest, "-n", "2", "-p", "clobber", out="parallel")
    assert manifest.read_text() != original  # the file really was replaced during the run
    assert "node down" not in run.output and "Traceback" not in run.output, run.output
    assert run.ret == serial.ret
    outcomes = sorted((c["key"], c["outcome"]) for c in run.json()["cases"])
    assert outcomes == sorted((c["key"], c["outcome"]) for c in serial.json()["cases"])
