"""Every command-line option of the suite, in one plugin that pytest loads before anything else.

Installed, this module is a `pytest11` entry point, so pytest knows the options while it is
still deciding the rootdir from the command line. Registered only by a conftest, they would
come too late: `pytest --manifest ../x/readiness.toml` would take the manifest for a test path,
pick the rootdir from it, miss pytest.ini, and stop with "unrecognized arguments". Without the
installation (a bare checkout), the root conftest registers them as a fallback.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

__all__ = ["AUDIT_OPTIONS", "ENTRY_POINT", "SUITE_INI", "SUITE_ROOT", "add_options", "suite_args"]

#: The name of the entry point (and so of the plugin) in pyproject.toml.
ENTRY_POINT = "readiness"

#: The suite's own folder, its configuration and its checks: an audit always runs these,
#: whatever folder it is started from.
SUITE_ROOT = Path(__file__).resolve().parents[1]
SUITE_INI = SUITE_ROOT / "pytest.ini"
SUITE_CHECKS = SUITE_ROOT / "checks"

#: Options that make a run an audit (their `dest` names).
AUDIT_OPTIONS = ("manifest", "target_root", "phase", "sandbox", "readiness_out", "sweep_scratch")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("readiness", "execution readiness")
    # -- what to audit ------------------------------------------------------------------------
    group.addoption(
        "--manifest",
        metavar="PATH",
        default=None,
        help="readiness manifest (default: $READINESS_MANIFEST, else readiness.toml beside pytest.ini)",
    )
    group.addoption(
        "--target-root",
        metavar="DIR",
        default=None,
        help="the pipeline repository to audit, instead of the manifest's project.root",
    )
    group.addoption(
        "--phase",
        metavar="ID",
        default=None,
        help="audit this phase instead of the manifest's project.phase",
    )
    group.addoption(
        "--sandbox",
        action="store_true",
        default=False,
        help="run against a local Google Cloud (emulators and fakes on 127.0.0.1) seeded from the "
        "manifest's [sandbox] seed, else from the manifest itself; without --manifest, audits "
        "the example pipeline (examples/bqx_demo); also writes <out>/report.html",
    )
    group.addoption(
        "--sweep-scratch",
        action="store_true",
        default=False,
        help="before the checks, delete scratch tables and objects (zz_readiness_scratch_*) that "
        "crashed earlier runs left in the manifest's datasets and buckets; nothing else",
    )
    # -- results --------------------------------------------------------------------------------
    group.addoption(
        "--readiness-out",
        metavar="DIR",
        default=None,
        help="where the audit documents go (default: readiness-reports/YYYYMMDD)",
    )
    group.addoption(
        "--readiness-exit",
        choices=("pytest", "verdict"),
        default="pytest",
        help="exit status: pytest's own (default), or the verdict's: 0 GO, 10 CONDITIONAL GO, 11 NO-GO",
    )
    group.addoption(
        "--readiness-now",
        metavar="ISO-DATETIME",
        default=None,
        help="the time the audit is taken at (rehearsals and tests); default: now",
    )
    group.addoption(
        "--history",
        metavar="PATH|bq://PROJECT.DATASET.TABLE",
        default=None,
        help="run history store: an SQLite file or a BigQuery table (default: the manifest's "
        "[history] store; none: no history)",
    )
    group.addoption(
        "--notify",
        action="store_true",
        default=False,
        help="post the verdict and the open P0/P1 and overdue blockers to the webhook whose URL is "
        "in the variable named by the manifest's [notify] webhook_env",
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def suite_args() -> list[str]:
    """The arguments that make pytest take the suite's own configuration and rootdir."""
    return ["-c", str(SUITE_INI), "--rootdir", str(SUITE_ROOT)]


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    # pytest decides its rootdir and ini file from the command line before any plugin's options
    # are known, so in `pytest --manifest /x/readiness.toml --target-root /x/repo` the values are
    # taken for test paths: the rootdir (and the ini file, maybe the audited repo's own) comes
    # from them, and the suite's own tests get collected instead of its checks (issue 11).
    # By now the options are known, so the mistake can be seen and the run restarted correctly.
    ns = early_config.known_args_namespace
    if early_config.inipath == SUITE_INI:
        # The suite's configuration from another folder: testpaths only applies in the rootdir.
        if not ns.file_or_dir and not ns.pyargs and early_config.invocation_params.dir != SUITE_ROOT:
            # Both: the initial conftests are found from the namespace, collection from `args`.
            args.append(str(SUITE_CHECKS))
            ns.file_or_dir.append(str(SUITE_CHECKS))
        return
    is_audit = any(getattr(ns, name, None) for name in AUDIT_OPTIONS)
    if not is_audit or ns.inifilename or ns.rootdir:
        return  # another project's run (our own tests pass -c tests/pytest.ini), or chosen on purpose
    invocation = list(early_config.invocation_params.args)
    if _is_pytest_command(invocation):
        # pytest is capturing output at this point; the restarted process must own the terminal.
        capture = early_config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.stop_global_capturing()
        sys.stdout.flush()
        sys.stderr.flush()
        argv = [sys.executable, "-m", "pytest", *suite_args(), *invocation]
        os.execv(sys.executable, argv)
    found = early_config.inipath or early_config.rootpath
    raise pytest.UsageError(
        f"pytest took its configuration from {found}, not the readiness suite's {SUITE_INI}: "
        f"run `readiness audit ...`, or pass `-c {SUITE_INI} --rootdir {SUITE_ROOT}`"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # xdist starts each worker with the controller's command line and the worker picks its rootdir
    # from it again. By then `--readiness-out /x` names a folder the controller has just created,
    # so the worker takes /x for a test path, finds no pytest.ini there and cannot restart itself
    # (it is not the `pytest` command). Its configuration is pinned to the controller's instead.
    if config.inipath != SUITE_INI or hasattr(config, "workerinput"):
        return
    if not getattr(config.option, "numprocesses", None):
        return
    params = config.invocation_params
    config.invocation_params = dataclasses.replace(params, args=(*suite_args(), *params.args))


def _is_pytest_command(invocation: list[str]) -> bool:
    """True when this process is the `pytest` command itself, so restarting it is safe (never a
    program that called pytest.main in-process)."""
    program = Path(sys.argv[0]).name
    return program in {"pytest", "py.test", "__main__.py"} and sys.argv[1:] == invocation
