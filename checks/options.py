"""Every command-line option of the suite, in one plugin that pytest loads before anything else.

Installed, this module is a `pytest11` entry point, so pytest knows the options while it is
still deciding the rootdir from the command line. Registered only by a conftest, they would
come too late: `pytest --manifest ../x/readiness.toml` would take the manifest for a test path,
pick the rootdir from it, miss pytest.ini, and stop with "unrecognized arguments". Without the
installation (a bare checkout), the root conftest registers them as a fallback.
"""

from __future__ import annotations

import pytest

__all__ = ["ENTRY_POINT", "add_options"]

#: The name of the entry point (and so of the plugin) in pyproject.toml.
ENTRY_POINT = "readiness"


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
