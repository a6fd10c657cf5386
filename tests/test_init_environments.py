"""`readiness init` writes the run environments: one per requirements file, each script in the
one nearest above it (a repository with one image per job), so imports are checked in the
job's packages, not in the suite's own virtualenv."""

from __future__ import annotations

import tomllib
from pathlib import Path

from conftest import TargetRepo
from readiness.init_manifest import main
from readiness.manifest import environment_of, load_manifest

MAIN = "\nif __name__ == '__main__':\n    print('run')\n"


def test_init_writes_one_environment_per_requirements_file_and_assigns_scripts(tmp_path: Path) -> None:
    repo = TargetRepo(tmp_path / "repo")
    repo.write("jobs/load/requirements.txt", "google-cloud-bigquery==3.25.0\n")
    repo.write("jobs/load/Dockerfile", 'FROM python:3.11-slim\nCOPY . /app\nCMD ["python", "/app/main.py"]\n')
    repo.write("jobs/load/main.py", "from google.cloud import bigquery\n" + MAIN)
    repo.write("jobs/score/requirements-gpu.txt", "numpy==1.26.4\n")
    repo.write("jobs/score/src/run.py", "import numpy\n" + MAIN)
    repo.write("tools/report.py", "import json\n" + MAIN)
    out = tmp_path / "readiness.toml"
    assert main(["--target-root", str(repo.root), "--out", str(out)]) == 0

    data = tomllib.loads(out.read_text())
    assert data["environments"] == [
        {"name": "jobs-load", "requirements": ["jobs/load/requirements.txt"], "python_version": "3.11"},
        {"name": "jobs-score-gpu", "requirements": ["jobs/score/requirements-gpu.txt"]},
    ]
    loaded = load_manifest(out)
    by_path = {s.path: s for s in loaded.manifest.scripts}
    assert by_path["jobs/load/main.py"].environment == "jobs-load"
    assert by_path["jobs/score/src/run.py"].environment == "jobs-score-gpu"
    # Nothing above it has requirements: init does not guess (it runs in the first environment).
    assert by_path["tools/report.py"].environment is None
    assert environment_of(loaded.manifest, by_path["tools/report.py"]) == "jobs-load"


def test_a_root_requirements_file_is_the_environment_of_scripts_with_none_nearer(tmp_path: Path) -> None:
    repo = TargetRepo(tmp_path / "repo")
    repo.write("requirements.txt", "requests==2.32.3\n")
    repo.write("pipeline/run.py", "import requests\n" + MAIN)
    repo.write("svc/requirements.txt", "flask==3.0.3\n")
    repo.write("svc/app.py", "import flask\n" + MAIN)
    out = tmp_path / "readiness.toml"
    assert main(["--target-root", str(repo.root), "--out", str(out)]) == 0
    scripts = {s.path: s.environment for s in load_manifest(out).manifest.scripts}
    assert scripts == {"pipeline/run.py": "root", "svc/app.py": "svc"}


def test_a_dockerfile_that_copies_the_requirements_folder_gives_its_python_version(tmp_path: Path) -> None:
    # sm-etl-cloud-run: `FROM python:3.10`, `COPY sm_cloud_run .`, `pip install -r requirements.txt`.
    repo = TargetRepo(tmp_path / "repo")
    repo.write("dockerfile", "FROM python:3.10\nCOPY app .\nRUN pip install -r requirements.txt\n")
    repo.write("app/requirements.txt", "flask==3.0.0\n")
    repo.write("other/requirements.txt", "requests==2.32.3\n")
    out = tmp_path / "readiness.toml"
    assert main(["--target-root", str(repo.root), "--out", str(out)]) == 0
    envs = {e["name"]: e.get("python_version") for e in tomllib.loads(out.read_text())["environments"]}
    assert envs == {"app": "3.10", "other": None}
