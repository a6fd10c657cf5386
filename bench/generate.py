"""A synthetic BQX-like pipeline at real scale, for the benchmarks: deterministic from a seed.

One size is written to `<out>/<size>/`:

- `repo/`: a git repository with history (a few commits on distinct dates) holding the scripts
  (Python, shell, Dockerfiles, Cloud Build configs across the five categories), some of them
  deliberately defective: syntax errors, missing flags and imports, shell scripts without the
  executable bit, COPY sources that do not exist, scripts the manifest names but nobody wrote;
  and `docs/RUNBOOK.md`, the commands that run each step with its flags (what `readiness init`
  reads to learn the expected flags);
- `readiness.toml`: the manifest for it, with `[gcp]`, the M008 naming and M005 schema mandates
  (families TRI, COV, CORR, MKT, REG, LAG, VAR), the features dataset, a source dataset with
  freshness expectations, the legacy views of a rename batch, two representative queries, and
  the other Google resources: a Cloud Run job per Dockerfile, the jobs' and the project's
  permissions, two quotas, five APIs (served by the sandbox's fakes, bench/harness.py);
- `metadata.json`: what BigQuery holds: per dataset its tables (name, type, columns, rows,
  bytes, created, modified; views with their query and expiry), plus the `expected` counts
  (violations per kind and family) the tests and the benchmarks compare against;
- `renames.csv`: the rename batch (`old,new`) behind the legacy views.

Run `python -m bench.generate [--size large|small|all] [--out DIR]`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Final

__all__ = [
    "FAMILIES",
    "NOW",
    "PROJECT",
    "SIZES",
    "Generated",
    "Size",
    "generate",
    "load_metadata",
]

#: The moment the synthetic world is observed at; runs pass it as --readiness-now.
NOW: Final = dt.datetime(2026, 11, 22, 6, 0, tzinfo=dt.UTC)
PROJECT: Final = "bqx-bench"
FEATURES: Final = "bqx_ml_v3_features"
SOURCES: Final = "bqx_bq_uscen1_v2"
GRACE_DAYS: Final = 30


@dataclasses.dataclass(frozen=True)
class Size:
    name: str
    tables: int
    scripts: int
    #: Tables renamed in the phase (each old name kept as a legacy view).
    renamed: int


SIZES: Final = {
    "large": Size("large", 6000, 200, 1600),
    "small": Size("small", 600, 20, 160),
}

#: Family -> (share of the feature tables, variants allowed by M008, share of naming violations).
#: COV and VAR are what phase 4C renames, so most of their names still violate the mandate.
FAMILIES: Final[dict[str, tuple[float, tuple[str, ...], float]]] = {
    "TRI": (0.12, ("agg", "align"), 0.03),
    "COV": (0.27, ("agg", "align"), 0.55),
    "CORR": (0.14, ("etf", "ibkr", "pair"), 0.04),
    "MKT": (0.05, ("agg", "reg"), 0.05),
    "REG": (0.14, ("bqx", "idx"), 0.03),
    "LAG": (0.16, ("bqx", "idx"), 0.12),
    "VAR": (0.12, ("bqx", "idx"), 0.40),
}
#: Share of tables with a column name violating M008 (camelCase or upper case).
COLUMN_VIOLATION_SHARE: Final = 0.03
#: Share of tables missing a column M005 requires.
SCHEMA_VIOLATION_SHARE: Final = 0.02
REQUIRED_COLUMNS: Final = ("interval_time", "pair")

_CURRENCIES: Final = ("eur", "usd", "gbp", "jpy", "chf", "aud", "cad", "nzd")
PAIRS: Final = tuple(a + b for a in _CURRENCIES for b in _CURRENCIES if a != b)[:28]
_WINDOWS: Final = (45, 90, 180, 360, 720, 1440, 2880)
_METRICS: Final = (
    "mean", "std", "min", "max", "skew", "kurt", "slope", "zscore", "ema", "rsi", "range", "median",
    "q25", "q75", "vol", "ret", "drift", "corr", "cov", "beta", "resid", "lag", "diff", "ratio",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Generated:
    """Where one generated size lives (`<out>/<size>/`)."""

    root: Path
    size: Size

    @property
    def manifest(self) -> Path:
        return self.root / "readiness.toml"

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def metadata(self) -> Path:
        return self.root / "metadata.json"

    @property
    def renames(self) -> Path:
        return self.root / "renames.csv"


def _family_pattern(family: str, variants: tuple[str, ...]) -> str:
    fam = family.lower()
    return rf"^{fam}_({'|'.join(variants)})_[a-z]{{6}}(_[a-z]{{6}})?_w[0-9]{{1,4}}$"


COLUMN_PATTERN: Final = "^[a-z][a-z0-9_]*$"


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


# -- dataset metadata ----------------------------------------------------------------------------


def _columns(rng: random.Random, family: str, bad_column: bool, missing: str | None) -> list[list[str]]:
    count = rng.randint(16, 24)
    columns = [["interval_time", "TIMESTAMP"], ["pair", "STRING"]]
    fam = family.lower()
    seen = {"interval_time", "pair"}
    while len(columns) < count:
        name = f"{fam}_{rng.choice(_METRICS)}_w{rng.choice(_WINDOWS)}"
        if name not in seen:
            seen.add(name)
            columns.append([name, rng.choice(("FLOAT64", "FLOAT64", "FLOAT64", "INT64"))])
    if bad_column:
        index = rng.randrange(2, len(columns))
        name = columns[index][0]
        parts = name.split("_")
        columns[index][0] = (
            parts[0] + "".join(p.title() for p in parts[1:]) if rng.random() < 0.5 else name.upper()
        )
    if missing:
        columns = [c for c in columns if c[0] != missing]
    return columns


def _feature_tables(rng: random.Random, size: Size) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    names: set[str] = set()
    tables: list[dict[str, Any]] = []
    naming: Counter[str] = Counter()
    per_family: Counter[str] = Counter()
    column_bad = schema_bad = 0
    families = list(FAMILIES)
    weights = [FAMILIES[f][0] for f in families]
    while len(tables) < size.tables:
        family = rng.choices(families, weights)[0]
        _, variants, violation_share = FAMILIES[family]
        fam = family.lower()
        pair = rng.choice(PAIRS)
        other = rng.choice(PAIRS) if family in ("COV", "CORR") else ""
        window = rng.choice(_WINDOWS)
        variant = rng.choice(variants)
        parts = [fam, variant, pair] + ([other] if other else []) + [f"w{window}"]
        name = "_".join(parts)
        violating = rng.random() < violation_share
        if violating:
            kind = rng.randrange(4)
            if kind == 0:  # legacy order: window before variant
                name = "_".join([fam, pair] + ([other] if other else []) + [f"w{window}", variant])
            elif kind == 1:  # upper-case family prefix
                name = name.replace(fam, family, 1)
            elif kind == 2:  # a variant the mandate does not know
                name = name.replace(f"_{variant}_", "_raw_", 1)
            else:  # pair written with a separator
                name = name.replace(pair, f"{pair[:3]}_{pair[3:]}", 1)
        if name in names:
            continue
        names.add(name)
        per_family[family] += 1
        if violating:
            naming[family] += 1
        bad_column = rng.random() < COLUMN_VIOLATION_SHARE
        missing = rng.choice(REQUIRED_COLUMNS) if rng.random() < SCHEMA_VIOLATION_SHARE else None
        column_bad += bad_column
        schema_bad += missing is not None
        columns = _columns(rng, family, bad_column, missing)
        rows = rng.randint(10_000, 5_000_000)
        created = NOW - dt.timedelta(days=rng.randint(20, 400), seconds=rng.randint(0, 86399))
        modified = NOW - dt.timedelta(hours=rng.uniform(1, 24 * 14))
        tables.append(
            {
                "name": name,
                "type": "TABLE",
                "family": family,
                "columns": columns,
                "rows": rows,
                "bytes": rows * len(columns) * 8,
                "created": _ms(created),
                "modified": _ms(max(created, modified)),
            }
        )
    expected = {
        "tables": len(tables),
        "columns": sum(len(t["columns"]) for t in tables),
        "per_family": dict(sorted(per_family.items())),
        "naming_violations": dict(sorted(naming.items())),
        "column_violation_tables": column_bad,
        "schema_violation_tables": schema_bad,
    }
    return tables, expected


def _legacy_views(
    rng: random.Random, tables: list[dict[str, Any]], size: Size
) -> tuple[list[dict[str, Any]], list[tuple[str, str]], dict[str, int]]:
    """The renamed tables' old names as views; a few missing, a few never expiring."""
    patterns = {f: re.compile(_family_pattern(f, FAMILIES[f][1])) for f in ("COV", "VAR")}
    compliant_cov_var = [
        t for t in tables if t["family"] in patterns and patterns[t["family"]].fullmatch(t["name"])
    ]
    renamed = rng.sample(compliant_cov_var, min(size.renamed, len(compliant_cov_var)))
    views: list[dict[str, Any]] = []
    renames: list[tuple[str, str]] = []
    missing = no_expiry = 0
    taken = {t["name"] for t in tables}
    for table in renamed:
        new = table["name"]
        parts = new.split("_")
        old = "_".join([parts[0].upper(), *parts[2:], parts[1]])  # the pre-M008 name
        if old in taken:
            continue
        taken.add(old)
        renames.append((old, new))
        roll = rng.random()
        if roll < 0.01:
            missing += 1
            continue
        created = NOW - dt.timedelta(days=rng.randint(0, 5), hours=rng.randint(0, 23))
        view: dict[str, Any] = {
            "name": old,
            "type": "VIEW",
            "family": table["family"],
            "columns": table["columns"],
            "rows": 0,
            "bytes": 0,
            "created": _ms(created),
            "modified": _ms(created),
            "view_query": f"SELECT * FROM `{PROJECT}.{FEATURES}.{new}`",
        }
        if roll < 0.02:
            no_expiry += 1
        else:
            view["expires"] = _ms(created + dt.timedelta(days=GRACE_DAYS))
        views.append(view)
    return views, renames, {"renames": len(renames), "missing_views": missing, "no_expiry": no_expiry}


def _source_tables(rng: random.Random) -> tuple[list[dict[str, Any]], list[str]]:
    tables = []
    stale = []
    for index, pair in enumerate(PAIRS):
        name = f"base_bqx_{pair}"
        is_stale = index % 9 == 4  # 3 of 28 stale
        age = dt.timedelta(hours=rng.uniform(50, 200) if is_stale else rng.uniform(1, 20))
        if is_stale:
            stale.append(name)
        rows = rng.randint(1_200_000, 3_000_000)
        columns = [["interval_time", "TIMESTAMP"], ["pair", "STRING"]] + [
            [f"{c}_{w}", "FLOAT64"] for c in ("open", "high", "low", "close") for w in (1, 5, 15)
        ]
        tables.append(
            {
                "name": name,
                "type": "TABLE",
                "family": "BASE",
                "columns": columns,
                "rows": rows,
                "bytes": rows * len(columns) * 8,
                "created": _ms(NOW - dt.timedelta(days=500)),
                "modified": _ms(NOW - age),
            }
        )
    return tables, stale


# -- scripts -------------------------------------------------------------------------------------

_CATEGORIES: Final = ("generation", "analysis", "extraction/merge", "deployment", "validation")
_FOLDER: Final = {
    "generation": "generation",
    "analysis": "analysis",
    "extraction/merge": "extraction",
    "deployment": "deployment",
    "validation": "validation",
}
_IMPORT_SETS: Final = (
    ("google.cloud.bigquery",),
    ("google.cloud.bigquery", "yaml"),
    ("google.cloud.storage",),
    ("google.cloud.bigquery", "google.cloud.storage", "requests"),
    ("numpy", "google.cloud.bigquery"),
    ("tabulate", "google.cloud.bigquery"),
)
_MISSING_IMPORTS: Final = ("pandas", "polars", "pyarrow")
_FLAG_POOL: Final = ("--dataset", "--workers", "--dry-run", "--pairs", "--bucket", "--grace-days")


@dataclasses.dataclass
class _Script:
    path: str
    category: str
    kind: str
    flags: list[str]
    priority: str
    text: str
    executable: bool
    present: bool
    commit: int
    defect: str = ""


def _python_script(rng: random.Random, flags: list[str], defect: str) -> str:
    imports = list(rng.choice(_IMPORT_SETS))
    if defect == "missing_import":
        imports.append(rng.choice(_MISSING_IMPORTS))
    defined = [f for f in flags if not (defect == "missing_flag" and f == flags[-1])]
    lines = ['"""Synthetic pipeline step."""', "", "import argparse", "import logging"]
    lines += [f"import {m}" for m in imports]
    lines += ["", "", "def main() -> None:", "    parser = argparse.ArgumentParser()"]
    for flag in defined:
        lines.append(f'    parser.add_argument("{flag}")')
    lines += ["    args = parser.parse_args()", '    logging.info("args %s", args)']
    if defect == "syntax":
        lines.append("    if args:\n    return None")  # IndentationError
    lines += ["", "", 'if __name__ == "__main__":', "    main()", ""]
    # Bulk of a real script: the checks read and parse the whole file.
    body = [f"# step {i}: transform features for window {w}" for i, w in enumerate(_WINDOWS)]
    return "\n".join(lines[:4] + body + lines[4:])


def _shell_script(rng: random.Random, flags: list[str], defect: str) -> str:
    handled = [f for f in flags if not (defect == "missing_flag" and f == flags[-1])]
    cases = "\n".join(f"    {f}) shift 2 ;;" for f in handled) or "    --) shift ;;"
    tools = rng.choice(
        ("bq query --use_legacy_sql=false 'SELECT 1'", "gsutil ls gs://bucket/", "gcloud run jobs list")
    )
    text = (
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        f'while [[ $# -gt 0 ]]; do\n  case "$1" in\n{cases}\n    *) shift ;;\n  esac\ndone\n'
        f"{tools}\n"
    )
    if defect == "syntax":
        text += 'if [[ -n "${1:-}" ]]; then\n  echo unterminated\n'
    return text


def _scripts(rng: random.Random, size: Size) -> list[_Script]:
    count = size.scripts
    n_docker = max(1, count // 20)
    n_build = max(1, count // 40)
    n_shell = count // 5
    n_python = count - n_docker - n_build - n_shell
    scripts: list[_Script] = []
    commits = 4

    def priority() -> str:
        return rng.choices(("P0", "P1", "P2", "P3"), (0.3, 0.3, 0.25, 0.15))[0]

    def flags() -> list[str]:
        return rng.sample(_FLAG_POOL, rng.randint(1, 3))

    for index in range(n_python):
        category = _CATEGORIES[index % len(_CATEGORIES)]
        defect = rng.choices(
            ("", "syntax", "missing_flag", "missing_import", "absent"), (0.8, 0.04, 0.08, 0.05, 0.03)
        )[0]
        f = flags()
        path = f"scripts/{_FOLDER[category]}/step_{index:03d}_{category.split('/')[0]}.py"
        scripts.append(
            _Script(path, category, "python", f, priority(), _python_script(rng, f, defect), True,
                    defect != "absent", rng.randrange(commits), defect)
        )  # fmt: skip
    for index in range(n_shell):
        category = ("extraction/merge", "deployment", "validation")[index % 3]
        defect = rng.choices(("", "syntax", "missing_flag", "not_executable"), (0.75, 0.05, 0.08, 0.12))[0]
        f = flags()
        path = f"scripts/{_FOLDER[category]}/run_{index:03d}.sh"
        scripts.append(
            _Script(path, category, "shell", f, priority(), _shell_script(rng, f, defect),
                    defect != "not_executable", True, rng.randrange(commits), defect)
        )  # fmt: skip
    for index in range(n_docker):
        entry = scripts[index % max(1, n_python)].path
        missing_copy = index % 5 == 3
        source = "requirements-missing.txt" if missing_copy else "requirements.txt"
        text = (
            "FROM python:3.11-slim\nWORKDIR /app\n"
            f"COPY {source} /app/requirements.txt\nRUN pip install -r /app/requirements.txt\n"
            f'COPY {entry} /app/{Path(entry).name}\nENTRYPOINT ["python", "/app/{Path(entry).name}"]\n'
        )
        scripts.append(
            _Script(f"docker/Dockerfile.job{index:02d}", "deployment", "dockerfile", [], priority(), text, False,
                    True, rng.randrange(commits), "missing_copy" if missing_copy else "")
        )  # fmt: skip
    for index in range(n_build):
        dockerfile = f"docker/Dockerfile.job{index % n_docker:02d}"
        text = (
            "steps:\n  - name: gcr.io/cloud-builders/docker\n"
            f"    args: [build, -t, us-central1-docker.pkg.dev/{PROJECT}/bqx/job{index}, -f, {dockerfile}, .]\n"
        )
        scripts.append(
            _Script(f"cloudbuild/build_{index:02d}.yaml", "deployment", "cloudbuild", [], priority(), text, False,
                    True, rng.randrange(commits))
        )  # fmt: skip
    return scripts


def _git(repo: Path, *args: str, date: str | None = None) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


_COMMIT_DATES: Final = (
    "2026-08-03T10:00:00+00:00",
    "2026-09-14T10:00:00+00:00",
    "2026-10-19T10:00:00+00:00",
    "2026-11-16T10:00:00+00:00",
)


def _runbook(scripts: list[_Script]) -> str:
    """How the team runs each step: the invocations `readiness init` turns into expected flags."""
    lines = ["# Runbook", "", "Run every step from the repository root:", "", "```bash"]
    for script in scripts:
        args = " ".join(f"{flag} x" for flag in script.flags)
        if script.kind == "python":
            lines.append(f"python {script.path} {args}".rstrip())
        elif script.kind == "shell":
            lines.append(f"./{script.path} {args}".rstrip())
    for script in scripts:
        if script.kind == "cloudbuild":
            lines.append(f"gcloud builds submit --config {script.path} .")
    return "\n".join([*lines, "```", ""])


def _write_repo(repo: Path, scripts: list[_Script]) -> None:
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "requirements.txt").write_text(
        "google-cloud-bigquery==3.25.0\ngoogle-cloud-storage==2.18.0\nnumpy==2.1.0\nPyYAML==6.0.2\n"
    )
    for commit, date in enumerate(_COMMIT_DATES):
        for script in scripts:
            if script.commit != commit or not script.present:
                continue
            path = repo / script.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(script.text)
            path.chmod(0o755 if script.executable else 0o644)
        if commit == len(_COMMIT_DATES) - 1:
            (repo / "docs").mkdir(exist_ok=True)
            (repo / "docs" / "RUNBOOK.md").write_text(_runbook(scripts))
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"pipeline work {commit + 1}", date=date)


# -- manifest ------------------------------------------------------------------------------------


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _manifest(size: Size, scripts: list[_Script], sources: list[dict[str, Any]]) -> str:
    out = [
        f"# Synthetic BQX-like pipeline for the benchmarks ({size.name}: {size.tables} tables, "
        f"{size.scripts} scripts). Generated by bench/generate.py; do not edit.",
        "[project]",
        f'name = "BQX bench ({size.name})"',
        'root = "repo"',
        'phase = "4C"',
        'requirements = ["requirements.txt"]',
        "",
        '[[phases]]\nid = "4B"\nname = "Feature generation"\nstart = 2026-11-16',
        '[[phases]]\nid = "4C"\nname = "M008 naming remediation"\nstart = 2026-11-23\nbudget_usd = 150',
        '[[phases]]\nid = "5"\nname = "Extraction"\nstart = 2026-12-07',
        "",
        "[owners]",
        'default = "pipeline-leads"',
        "",
        "[gcp]",
        f'project = "{PROJECT}"',
        'location = "US"',
        'region = "us-central1"',
        "timeout_seconds = 60",
        "",
        "[[mandates]]",
        'id = "M008"',
        'title = "Table and column naming"',
    ]
    for family, (_, variants, _) in FAMILIES.items():
        out += [
            "[[mandates.families]]",
            f'family = "{family}"',
            f'match = "^{family.lower()}_"',
            f"table_pattern = '{_family_pattern(family, variants)}'",
            f"column_pattern = '{COLUMN_PATTERN}'",
        ]
    out += [
        "",
        "[[mandates]]",
        'id = "M005"',
        'title = "Feature table schema"',
        "[[mandates.families]]",
        'family = "ALL"',
        "match = '^(tri|cov|corr|mkt|reg|lag|var)_'",
        f"required_columns = {_toml_list(list(REQUIRED_COLUMNS))}",
        "",
        "[[datasets]]",
        f'id = "{FEATURES}"',
        'mandates = ["M008", "M005"]',
        f"min_tables = {size.tables}",
        'priority = "P0"',
        "[datasets.criteria]",
        'schema_mandate = "P1"',
        "",
        "[[datasets]]",
        f'id = "{SOURCES}"',
        f"min_tables = {len(sources)}",
        'priority = "P1"',
    ]
    for table in sources:
        out += [
            "",
            "[[source_tables]]",
            f'table = "{SOURCES}.{table["name"]}"',
            "max_age_hours = 36",
            "min_rows = 1000000",
            'priority = "P0"',
        ]
    out += [
        "",
        "[[legacy_views]]",
        f'dataset = "{FEATURES}"',
        f"grace_days = {GRACE_DAYS}",
        'renames_file = "renames.csv"',
        'priority = "P1"',
        "",
        "[[queries]]",
        'name = "COV rename batch validation"',
        f"sql = \"SELECT table_name, row_count FROM `{PROJECT}.{FEATURES}.__TABLES__` WHERE STARTS_WITH(table_name, 'cov_')\"",
        "runs = 32",
        'priority = "P2"',
        "",
        "[[queries]]",
        'name = "EURUSD training slice"',
        f"sql = \"SELECT * FROM `{PROJECT}.{SOURCES}.base_bqx_eurusd` WHERE interval_time >= TIMESTAMP('2026-01-01')\"",
        'priority = "P2"',
        "",
        "[[packages]]",
        'name = "google-cloud-bigquery"',
        'spec = ">=3.11"',
        'priority = "P0"',
        "",
        "[[packages]]",
        'name = "pandas"',
        'spec = ">=2.0"',
        'priority = "P2"',
        "",
        "[[tools]]",
        'name = "bash"',
        'min_version = "4.0"',
        'priority = "P0"',
        "",
        "[[tools]]",
        'name = "git"',
        'min_version = "2.20"',
        'priority = "P2"',
    ]
    out += _services(scripts)
    for script in scripts:
        out += [
            "",
            "[[scripts]]",
            f'path = "{script.path}"',
            f'purpose = "Synthetic {script.kind} step"',
            f'category = "{script.category}"',
            f'priority = "{script.priority}"',
        ]
        if script.flags:
            out.append(f"flags = {_toml_list(script.flags)}")
        if script.kind == "dockerfile":
            out.append('context = "."')
        if not script.present:
            out.append("create_hours = 6")
    return "\n".join(out) + "\n"


_ENTRY: Final = re.compile(r"^COPY (?P<path>\S+) /app/(?!requirements)", re.M)
_APIS: Final = ("bigquery", "storage", "run", "cloudbuild", "iam")


def _services(scripts: list[_Script]) -> list[str]:
    """The pipeline's other Google resources: one Cloud Run job per Dockerfile (each image runs
    as a job, as the extract and merge jobs do), the permissions the jobs and the renaming
    need, two quotas and the APIs. The bench serves them from the sandbox's fakes."""
    out: list[str] = []
    jobs = [s for s in scripts if s.kind == "dockerfile" and s.present]
    for script in jobs:
        number = script.path.rsplit(".job", 1)[-1]
        entry = _ENTRY.search(script.text)
        out += [
            "",
            "[[jobs]]",
            f'name = "bqx-job{number}"',
            f'image = "us-central1-docker.pkg.dev/{PROJECT}/bqx/job{int(number)}"',
            "timeout_seconds = 86400",
            f'script = "{entry["path"] if entry else script.path}"',
            'priority = "P1"',
        ]
    out += [
        "",
        "[[permissions]]",
        'resource = "project"',
        'permissions = ["bigquery.jobs.create", "bigquery.tables.create", "bigquery.tables.update", '
        '"bigquery.tables.delete", "bigquery.tables.getData"]',
        'priority = "P0"',
    ]
    for script in jobs:
        out += [
            "",
            "[[permissions]]",
            f'resource = "job:bqx-job{script.path.rsplit(".job", 1)[-1]}"',
            'permissions = ["run.jobs.run", "run.executions.get"]',
            'priority = "P1"',
        ]
    out += [
        "",
        "[[quotas]]",
        'service = "bigquery.googleapis.com"',
        'quota_id = "QueryUsagePerDay"',
        "planned = 0",
        "add_query_estimates = true",
        'priority = "P2"',
        "",
        "[[quotas]]",
        'service = "run.googleapis.com"',
        'quota_id = "JobsPerRegion"',
        f"planned = {len(jobs)}",
        'dimensions = { region = "us-central1" }',
        'priority = "P1"',
    ]
    for api in _APIS:
        out += ["", "[[apis]]", f'name = "{api}.googleapis.com"', 'priority = "P0"']
    return out


# -- entry point ---------------------------------------------------------------------------------


def generate(out: Path, size: Size, seed: int = 20261122) -> Generated:
    """Write one size of the synthetic pipeline under `out/<size>`; same seed, same bytes."""
    rng = random.Random(f"{seed}-{size.name}")
    root = out / size.name
    root.mkdir(parents=True, exist_ok=True)
    tables, expected = _feature_tables(rng, size)
    views, renames, view_facts = _legacy_views(rng, tables, size)
    sources, stale = _source_tables(rng)
    scripts = _scripts(rng, size)
    defects = Counter(s.defect for s in scripts if s.defect)
    expected.update(view_facts)
    expected["views"] = len(views)
    expected["stale_sources"] = stale
    expected["scripts"] = len(scripts)
    expected["script_defects"] = dict(sorted(defects.items()))
    expected["script_kinds"] = dict(sorted(Counter(s.kind for s in scripts).items()))
    for table in tables + views + sources:
        table.pop("family")
    metadata = {
        "project": PROJECT,
        "location": "US",
        "now": NOW.isoformat(),
        "size": size.name,
        "datasets": [
            {"id": FEATURES, "tables": sorted(tables + views, key=lambda t: t["name"])},
            {"id": SOURCES, "tables": sources},
        ],
        "expected": expected,
    }
    paths = Generated(root, size)
    paths.metadata.write_text(json.dumps(metadata, separators=(",", ":"), sort_keys=True))
    with paths.renames.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["old", "new"])
        writer.writerows(renames)
    paths.manifest.write_text(_manifest(size, scripts, sources))
    _write_repo(paths.repo, scripts)
    return paths


def load_metadata(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


DEFAULT_OUT: Final = Path(__file__).resolve().parent / "out" / "data"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", choices=[*SIZES, "all"], default="all")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args(argv)
    for name in SIZES if args.size == "all" else [args.size]:
        made = generate(args.out, SIZES[name], args.seed)
        expected = load_metadata(made.metadata)["expected"]
        print(
            f"{name}: {made.root} ({expected['tables']} tables, {expected['views']} views, {expected['scripts']} scripts)"
        )


if __name__ == "__main__":
    main()
