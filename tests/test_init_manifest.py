"""`readiness init`: a manifest from the repository alone that finds what a hand-written one finds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import warm_pytest

from bench.generate import SIZES, generate
from conftest import REPO, TargetRepo
from readiness.init_manifest import main
from readiness.manifest import load_manifest

EXAMPLE = REPO / "examples" / "bqx_demo"
#: The checks a script-level defect comes from (the Google side needs a project, not init).
SCRIPT_CHECKS = ("checks/check_scripts.py", "checks/check_containers.py")


def _init(root: Path, out: Path, *args: str) -> int:
    return main(["--target-root", str(root), "--out", str(out), *args])


def _script_failures(workdir: Path, manifest: Path, root: Path) -> set[tuple[str, str]]:
    """(criterion, subject) of every script case that failed or errored in a scripts-only audit."""
    out = workdir / f"out-{manifest.stem}"
    warm_pytest.run_captured(  # `python -m pytest`, forked from the warm interpreter
        [
            "-q", "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO),
            *(str(REPO / c) for c in SCRIPT_CHECKS), "--manifest", str(manifest), "--target-root", str(root),
            "--readiness-out", str(out), "--readiness-now", "2026-11-22T06:00:00",
        ],
        cwd=workdir, env=os.environ, timeout=600,
    )  # fmt: skip
    files = sorted(out.glob("READINESS_RESULTS_*.json"))
    assert files, f"no results in {out}"
    data: dict[str, Any] = json.loads(files[0].read_text())
    return {
        (c["criterion"], c["subject"])
        for c in data["cases"]
        if c["subject_kind"] == "script" and c["outcome"] in ("failed", "error")
    }


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("init-example")
    repo = base / "repo"
    shutil.copytree(EXAMPLE, repo)
    assert _init(repo, base / "init.toml") == 0
    return repo, base / "init.toml"


def test_init_manifest_loads_with_the_suites_loader(example: tuple[Path, Path]) -> None:
    repo, manifest = example
    loaded = load_manifest(manifest)
    assert loaded.root == repo.resolve()
    paths = {s.path for s in loaded.manifest.scripts}
    # Every script, Dockerfile and Cloud Build config of the example, plus the one the runbook
    # runs that nobody wrote.
    assert {s.path for s in load_manifest(repo / "readiness.toml").manifest.scripts} <= paths
    assert "sandbox_seed.py" not in paths


def test_init_takes_flags_purpose_and_priority_from_the_repository(example: tuple[Path, Path]) -> None:
    _, manifest = example
    scripts = {s.path: s for s in load_manifest(manifest).manifest.scripts}
    consolidate = scripts["scripts/phase4c/consolidate_lag_tables.py"]
    # The README runbook passes --workers, which the parser lacks: that is the finding.
    assert consolidate.flags == ["--dataset", "--dry-run", "--workers"]
    assert consolidate.priority.value == "P1"
    assert consolidate.purpose.startswith("Phase 4C: consolidate per-window LAG tables")
    assert scripts["scripts/analysis/analyze_feature_coverage.py"].priority.value == "P3"
    assert scripts["scripts/extraction/extract_to_gcs.sh"].category.value == "extraction/merge"
    assert scripts["docker/Dockerfile.merge"].context == "."  # from cloudbuild.yaml's build step
    packages = {p.name: p.priority.value for p in load_manifest(manifest).manifest.packages}
    # `from google.cloud import bigquery` in scripts the runbook runs; nothing run imports storage.
    # (db-dtypes is the example's defect: its requirements.txt does not list it.)
    assert packages == {"google-cloud-bigquery": "P1", "google-cloud-storage": "P3", "pandas": "P3"}
    text = manifest.read_text()
    assert "# Run by README.md:" in text
    assert "scripts/merge/merge_features.py: run by docker/Dockerfile.merge" in text


def test_init_on_the_example_finds_every_hand_written_script_defect(
    example: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, manifest = example
    by_hand = _script_failures(tmp_path, repo / "readiness.toml", repo)
    by_init = _script_failures(tmp_path, manifest, repo)
    assert ("script_exists", "scripts/phase4c/rename_var_tables.py") in by_hand
    assert by_init == by_hand


def test_init_on_the_200_script_bench_repository_finds_every_hand_written_defect(tmp_path: Path) -> None:
    generated = generate(tmp_path / "gen", SIZES["large"])
    assert _init(generated.repo, tmp_path / "init.toml") == 0
    assert len(load_manifest(tmp_path / "init.toml").manifest.scripts) == 200
    by_hand = _script_failures(tmp_path, generated.manifest, generated.repo)
    by_init = _script_failures(tmp_path, tmp_path / "init.toml", generated.repo)
    assert len(by_hand) > 20  # the generator's defects
    assert by_init == by_hand


def test_a_second_init_never_changes_what_the_user_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    manifest = tmp_path / "readiness.toml"
    assert _init(repo, manifest) == 0
    edited = manifest.read_text().replace('name = "First audit"', 'name = "M008 renames"')
    edited = edited.replace('purpose = "TODO: describe"', 'purpose = "Rename VAR tables"')
    manifest.write_text(edited + "\n# my own note\n")
    before = manifest.read_bytes()
    TargetRepo(repo).write(
        "scripts/phase4c/drop_old_views.py", '"""Drop views."""\nif __name__ == "__main__":\n    pass\n'
    )
    (repo / "Makefile").write_text(
        "views:\n\tpython scripts/phase4c/create_legacy_views.py --dataset d --expire-now\n"
    )
    capsys.readouterr()

    assert _init(repo, manifest) == 0
    assert manifest.read_bytes() == before
    printed = capsys.readouterr().out
    assert '# path = "scripts/phase4c/drop_old_views.py"' in printed
    assert (
        "scripts/phase4c/create_legacy_views.py: the repository passes --expire-now (Makefile:2)" in printed
    )
    assert 'path = "scripts/generation' not in printed  # already declared: not suggested again

    assert _init(repo, manifest, "--diff") == 0
    assert manifest.read_bytes() == before
    diff = capsys.readouterr().out
    assert diff.startswith("---")
    assert '+path = "scripts/phase4c/drop_old_views.py"' in diff
    # The diff applied gives a manifest that still loads, with the user's words kept.
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    applied = manifest.read_text() + "\n".join(added) + "\n"
    data = tomllib.loads(applied)
    assert data["phases"][0]["name"] == "M008 renames"
    assert "scripts/phase4c/drop_old_views.py" in [s["path"] for s in data["scripts"]]


def test_init_reads_makefiles_cloud_build_dockerfiles_and_console_scripts(tmp_path: Path) -> None:
    t = TargetRepo(tmp_path / "repo")
    t.write("pipeline/cli.py", '"""Pipeline CLI."""\ndef main() -> None:\n    pass\n')
    t.write(
        "pyproject.toml",
        '[project]\nname = "p"\ndependencies = ["requests>=2"]\n[project.scripts]\nfeatures = "pipeline.cli:main"\n',
    )
    t.write(
        "jobs/export.py",
        'import argparse\nif __name__ == "__main__":\n    argparse.ArgumentParser().add_argument("--day")\n',
    )
    t.write("jobs/load.py", '"""Load."""\nif __name__ == "__main__":\n    pass\n')
    t.write(
        "tools/sync.sh",
        '#!/usr/bin/env bash\n# Sync the bucket.\n"$(dirname "$0")/helper.sh" --fast\ngsutil rsync a b\n',
        mode=0o755,
    )
    t.write(
        "tools/helper.sh", '#!/usr/bin/env bash\ncase "$1" in\n  --fast) echo fast ;;\nesac\n', mode=0o755
    )
    t.write(
        "Makefile",
        "export:\n\t@python -m jobs.export --day 2026-01-01 \\\n\t  --dry-run\nrun:\n\tfeatures --limit 3\n",
    )
    t.write(
        "cloudbuild.yaml",
        'steps:\n  - name: python\n    entrypoint: bash\n    args: ["-c", "python jobs/load.py --table t && ./tools/sync.sh"]\n',
    )
    t.write(
        "docker/Dockerfile",
        "FROM python:3.11\nWORKDIR /srv\nCOPY jobs/ jobs/\nCMD python jobs/load.py --from-image\n",
    )
    assert _init(t.root, tmp_path / "m.toml") == 0
    scripts = {s.path: s for s in load_manifest(tmp_path / "m.toml").manifest.scripts}
    assert scripts["jobs/export.py"].flags == ["--day", "--dry-run"]
    assert scripts["jobs/load.py"].flags == ["--table", "--from-image"]
    assert scripts["tools/sync.sh"].purpose == "Sync the bucket."
    assert scripts["tools/helper.sh"].flags == ["--fast"]
    assert scripts["pipeline/cli.py"].flags == ["--limit"]
    assert scripts["docker/Dockerfile"].context == "."
    loaded = load_manifest(tmp_path / "m.toml").manifest
    assert [p.name for p in loaded.packages] == ["requests"]
    assert {t.name for t in loaded.tools} == {"bash", "gsutil"}


def test_init_refuses_a_target_root_that_is_not_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path / "nope", tmp_path / "m.toml") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a directory" in err
    assert not (tmp_path / "m.toml").exists()


def test_init_on_an_invalid_existing_manifest_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m.toml").write_text("[project\n")
    assert _init(tmp_path, tmp_path / "m.toml") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid TOML" in err
    assert (tmp_path / "m.toml").read_text() == "[project\n"


def test_init_runs_as_a_module(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "readiness.init_manifest", "--target-root", str(EXAMPLE), "--out", str(tmp_path / "m.toml")],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "14 scripts (12 run by the repository)" in proc.stdout


def test_init_reads_a_multi_pipeline_repository_as_its_readmes_mean_it(tmp_path: Path) -> None:
    """The shapes of GoogleCloudPlatform/dataflow-solution-guides: one folder per pipeline, each
    with a README run from that folder, settings files Terraform generates, a Gradle wrapper."""
    t = TargetRepo(tmp_path / "repo")
    beam = 'import argparse\nif __name__ == "__main__":\n    p = argparse.ArgumentParser()\n    p.add_argument("--topic")\n'
    t.write("pipelines/cdp/main.py", beam)
    t.write("pipelines/iot/main.py", beam)
    t.write(
        "pipelines/cdp/scripts/02_run.sh", "#!/bin/bash\npython main.py --topic t --region r\n", mode=0o755
    )
    t.write(
        "pipelines/cdp/README.md",
        "```sh\nsource scripts/00_set_variables.sh\n./scripts/02_run.sh\npython my_script.py --x\n```\n",
    )
    t.write("pipelines/iot/readme.md", "```\npython ./scripts/04_publish.py --rate 3\n```\n")
    t.write("pipelines/iot/scripts/publish.py", '"""Publish."""\nif __name__ == "__main__":\n    pass\n')
    t.write("pipelines/java/gradlew", '#!/bin/sh\nexec java -jar w.jar "$@"\n', mode=0o755)
    t.write("pipelines/java/scripts/launch.sh", '#!/bin/sh\n./gradlew run -Pargs="--a"\n', mode=0o755)
    assert _init(t.root, tmp_path / "m.toml") == 0
    scripts = {s.path: s for s in load_manifest(tmp_path / "m.toml").manifest.scripts}
    # `python main.py` in pipelines/cdp/scripts/ runs the pipeline's main.py, not one at the root.
    assert scripts["pipelines/cdp/main.py"].flags == ["--topic", "--region"]
    assert scripts["pipelines/iot/main.py"].flags == []
    assert "main.py" not in scripts
    # A runbook line naming a file that is not there, in a folder that is: a missing script.
    assert scripts["pipelines/iot/scripts/04_publish.py"].priority.value == "P1"
    # A sourced settings file (generated by Terraform) and a bare example name are not scripts.
    assert "pipelines/cdp/scripts/00_set_variables.sh" not in scripts
    assert "pipelines/cdp/my_script.py" not in scripts
    assert "00_set_variables.sh: sourced by pipelines/cdp/README.md:2" in (tmp_path / "m.toml").read_text()
    # A wrapper that hands its arguments to another program: the flags are not its own.
    assert scripts["pipelines/java/gradlew"].flags == []
    assert scripts["pipelines/java/gradlew"].priority.value == "P1"


@pytest.mark.emulator
def test_init_lists_the_projects_resources_from_the_sandbox(tmp_path: Path) -> None:
    import importlib.util

    from sandbox.world import World

    loaded = load_manifest(EXAMPLE / "readiness.toml")
    spec = importlib.util.spec_from_file_location("bqx_demo_seed", EXAMPLE / "sandbox_seed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with World(tmp_path / "world", "bqx-ml-demo") as world:
        module.seed(world, loaded)
        env = {**{k: v for k, v in __import__("os").environ.items() if k != "PYTEST_ADDOPTS"}, **world.env()}
        proc = subprocess.run(
            [sys.executable, "-m", "readiness.init_manifest", "--target-root", str(EXAMPLE),
             "--out", str(tmp_path / "m.toml"), "--gcp-project", "bqx-ml-demo"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    manifest = load_manifest(tmp_path / "m.toml").manifest
    text = (tmp_path / "m.toml").read_text()
    assert "not listed" not in text, text[text.find("[gcp]") :]
    datasets = {d.id: d for d in manifest.datasets}
    assert set(datasets) >= {"bqx_ml_v3_features", "bqx_ml_v3_source"}
    families = [line for line in text.splitlines() if "families by name prefix" in line]
    # The example's features dataset: seven families, COV with 6 tables and 2 legacy-name views.
    assert any("cov: 8" in line and "var: " in line and "lag: " in line for line in families), families
    assert "bqx-ml-demo-checkpoints" in [b.name for b in manifest.buckets]
    assert {j.name for j in manifest.jobs} >= {"bqx-ml-demo-extract", "bqx-ml-demo-merge"}
    apis = [a.name for a in manifest.apis]
    assert "bigquery.googleapis.com" in apis and "cloudbuild.googleapis.com" not in apis
    assert all(
        item.priority.value == "P3" for item in [*manifest.datasets, *manifest.buckets, *manifest.apis]
    )


@pytest.mark.parametrize(("entry", "needed"), [("app.py", True), ("server.py", False)])
def test_init_follows_a_lower_case_dockerfile_to_the_script_its_image_runs(
    tmp_path: Path, entry: str, needed: bool
) -> None:
    """ImpulsoGov/sm-etl-cloud-run: `dockerfile` (Docker reads the lower-case name too) copies a
    folder to the image's root and runs `python app.py` from there."""
    t = TargetRepo(tmp_path / "repo")
    t.write("dockerfile", f'FROM python:3.10\nCOPY src .\nCOPY .env .\nENTRYPOINT ["python", "{entry}"]\n')
    t.write("src/app.py", 'from flask import Flask\nif __name__ == "__main__":\n    Flask(__name__)\n')
    assert _init(t.root, tmp_path / "m.toml") == 0
    scripts = {s.path: s for s in load_manifest(tmp_path / "m.toml").manifest.scripts}
    assert scripts["dockerfile"].script_kind.value == "dockerfile"
    assert (scripts["src/app.py"].priority.value == "P1") is needed
    if not needed:  # the image runs a file the repository does not have: a note, not a script
        assert (
            "src/server.py: run by dockerfile:4, not in the repository" in (tmp_path / "m.toml").read_text()
        )


def test_readmes_first_run_commands_audit_a_new_repository_from_any_folder(tmp_path: Path) -> None:
    """The README's first-run path, as written: `readiness init`, then `readiness audit`, run from
    a folder that is neither the suite nor the repository."""
    repo = tmp_path / "my-pipeline"
    shutil.copytree(EXAMPLE, repo)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    readiness = str(Path(sys.executable).parent / "readiness")
    manifest, out = repo / "readiness.toml", tmp_path / "out"
    manifest.unlink()
    init = subprocess.run(
        [readiness, "init", "--target-root", str(repo), "--out", str(manifest)],
        cwd=elsewhere, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    audit = subprocess.run(
        [readiness, "audit", "--manifest", str(manifest), "--target-root", str(repo),
         f"--readiness-out={out}", "-p", "no:randomly"],
        cwd=elsewhere, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    # init rates what the repository runs P1: the example's defects make it a CONDITIONAL GO.
    assert "readiness: CONDITIONAL GO" in audit.stdout, audit.stdout[-3000:] + audit.stderr[-2000:]
    assert f"readiness audit --manifest {manifest} --target-root {repo}" in init.stdout
    summaries = list(out.glob("AUDIT_SUMMARY_*.md"))
    assert len(summaries) == 1
    # The audit ran the repository's cases, not the suite's own tests.
    assert (
        "validate_row_counts.py"
        in (out / summaries[0].name.replace("AUDIT_SUMMARY", "IMPLEMENTATION_SCRIPT_INVENTORY")).read_text()
    )
