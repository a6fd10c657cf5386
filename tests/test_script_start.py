"""`started_with`: how a shell script is started decides whether its executable bit and shebang
matter (issue 11: on cloud-build-samples a sourced library and scripts a Cloud Build step runs
with bash were "not executable" blockers).

Both ways: a script run with `bash x.sh` or sourced passes without the bit, the same file run
as `./x.sh` fails; `readiness init` writes the field from the commands the repository runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import AuditRun, TargetRepo, run_shared
from readiness.init_manifest import main
from readiness.invocations import invocations_in
from readiness.manifest import Script, load_manifest

SCRIPT = "#!/bin/bash\nset -euo pipefail\necho merged\n"
LIBRARY = 'log() { echo "$*"; }\nPROJECT_ID="${PROJECT_ID:-demo}"\n'


def _script(path: str, started_with: str | None) -> str:
    line = f'started_with = "{started_with}"\n' if started_with else ""
    return f'\n[[scripts]]\npath = "{path}"\npurpose = "p"\ncategory = "generation"\n{line}'


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    """One audit of hand-written declarations: every file here lacks the executable bit."""
    base = tmp_path_factory.mktemp("script-start")
    repo = TargetRepo(base / "repo")
    repo.write("requirements.txt", "")
    for name in ("run_by_bash.sh", "run_by_sh.sh", "as_path.sh", "as_default.sh"):
        repo.write(f"sh/{name}", SCRIPT, mode=0o644)
    repo.write("sh/lib.sh", LIBRARY, mode=0o644)  # no shebang either: it is sourced
    (repo.root / "sh/lib_crlf.sh").write_bytes(b"export REGION=us-central1\r\nPROJECT_ID=demo\r\n")
    manifest = repo.manifest(
        _script("sh/run_by_bash.sh", "bash")
        + _script("sh/run_by_sh.sh", "sh")
        + _script("sh/as_path.sh", "path")
        + _script("sh/as_default.sh", None)
        + _script("sh/lib.sh", "source")
        + _script("sh/lib_crlf.sh", "source")
    )
    return run_shared(base, manifest, "-k", "shell_")


def _outcomes(run: AuditRun, criterion: str) -> dict[str, tuple[str, str]]:
    return {
        c["subject"]: (c["outcome"], c["message"]) for c in run.json()["cases"] if c["criterion"] == criterion
    }


def test_scripts_started_by_a_shell_or_sourced_need_no_executable_bit(declared: AuditRun) -> None:
    executable = _outcomes(declared, "shell_executable")
    # Only the scripts started by their path are held to the bit and the shebang.
    assert set(executable) == {"sh/as_path.sh", "sh/as_default.sh"}, declared.output[-3000:]
    for subject in ("sh/as_path.sh", "sh/as_default.sh"):
        outcome, message = executable[subject]
        assert outcome == "failed"
        assert f"{subject}: not executable (mode 0644)" in message


def test_other_shell_checks_still_apply_whatever_starts_the_script(declared: AuditRun) -> None:
    parses = _outcomes(declared, "shell_parses")
    assert parses["sh/run_by_bash.sh"][0] == "passed"
    assert parses["sh/lib.sh"][0] == "passed"
    outcome, message = parses["sh/lib_crlf.sh"]
    assert outcome == "failed"
    assert "sh/lib_crlf.sh:1: CRLF line endings" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            _script("run.sh", "python"),
            "scripts[0] 'run.sh'.started_with: started_with 'python' must be 'path' (run as ./x.sh), "
            "'source' (read with `source x.sh`) or the shell that runs it (bash, sh, dash, zsh, ksh)",
            id="unknown-value",
        ),
        pytest.param(
            _script("job.py", "bash"),
            "scripts[0] 'job.py': started_with applies to shell scripts only, not to 'job.py'",
            id="not-a-shell-script",
        ),
    ],
)
def test_a_bad_started_with_is_one_clear_line_and_a_usage_error(
    tmp_path: Path, body: str, expected: str
) -> None:
    repo = TargetRepo(tmp_path / "repo")
    manifest = repo.manifest(body)
    run = run_shared(tmp_path, manifest)
    assert run.ret == pytest.ExitCode.USAGE_ERROR, run.output[-3000:]
    lines = [line for line in run.result.stderr.lines if line.strip()]
    assert len(lines) == 1, lines
    assert f"{manifest}: {expected}" in lines[0]
    assert "Traceback" not in run.output


# -- readiness init ------------------------------------------------------------------------------

CLOUDBUILD = """\
steps:
  - name: gcr.io/cloud-builders/gcloud
    entrypoint: bash
    args: ["scripts/deploy.sh", "prod"]
  - name: gcr.io/cloud-builders/gcloud
    entrypoint: bash
    args: ["-c", "bash scripts/teardown.sh prod"]
  - name: gcr.io/cloud-builders/gcloud
    script: |
      #!/bin/bash
      source /workspace/lib/common.sh
      ./scripts/both.sh
"""

RUNBOOK = """\
# Runbook

```bash
bash scripts/both.sh
. lib/env.sh
```
"""

SERVER_GO = """\
package main

import "os/exec"

func run() ([]byte, error) {
\treturn exec.Command("/bin/sh", "job.sh").Output()
}
"""


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Script]]:
    base = tmp_path_factory.mktemp("script-start-init")
    repo = TargetRepo(base / "repo")
    repo.write("cloudbuild.yaml", CLOUDBUILD)
    repo.write("README.md", RUNBOOK)
    repo.write("server/main.go", SERVER_GO)
    for name in ("scripts/deploy.sh", "scripts/teardown.sh", "scripts/both.sh", "scripts/lonely.sh"):
        repo.write(name, SCRIPT, mode=0o644)
    repo.write("server/job.sh", "#!/bin/sh\necho job\n", mode=0o644)
    repo.write("scripts/orphan.sh", "gcloud config list\n", mode=0o644)
    repo.write("lib/common.sh", LIBRARY, mode=0o644)
    repo.write("lib/env.sh", "export REGION=us-central1\n", mode=0o644)
    out = base / "init.toml"
    assert main(["--target-root", str(repo.root), "--out", str(out)]) == 0
    return out, {s.path: s for s in load_manifest(out).manifest.scripts}


def test_init_writes_how_each_shell_script_is_started(initialised: tuple[Path, dict[str, Script]]) -> None:
    _, scripts = initialised
    started = {p: (s.started_with.value if s.started_with else None) for p, s in scripts.items()}
    assert started["scripts/deploy.sh"] == "bash"  # entrypoint: bash, args: [scripts/deploy.sh]
    assert started["scripts/teardown.sh"] == "bash"  # args: [-c, "bash scripts/teardown.sh"]
    assert started["lib/common.sh"] == "source"  # a script: step, /workspace/lib/common.sh
    assert started["lib/env.sh"] == "source"  # `. lib/env.sh` in the runbook
    assert started["server/job.sh"] == "sh"  # Go: exec.Command("/bin/sh", "job.sh")
    # `./scripts/both.sh` in the build and `bash scripts/both.sh` in the runbook: the stricter wins.
    assert started["scripts/both.sh"] == "path"
    assert started["scripts/lonely.sh"] is None  # nothing runs it: the default
    # No shebang either: still the default (the real repositories run such files as ./x.sh),
    # with a comment asking the reviewer.
    assert started["scripts/orphan.sh"] is None


def test_init_says_where_it_saw_the_start(initialised: tuple[Path, dict[str, Script]]) -> None:
    out, _ = initialised
    text = out.read_text()
    assert (
        "# Started with bash: neither the executable bit nor a shebang is needed (seen at cloudbuild.yaml).\n"
        'started_with = "bash"'
    ) in text


def test_init_asks_how_a_shebang_less_script_nothing_runs_is_started(
    initialised: tuple[Path, dict[str, Script]],
) -> None:
    out, _ = initialised
    block = out.read_text().split('path = "scripts/orphan.sh"')[0].rsplit("\n\n", 1)[-1]
    assert "# No shebang and nothing here runs it: if it is sourced or run with `bash x.sh`" in block


def test_an_init_manifest_holds_only_path_started_scripts_to_the_bit(
    initialised: tuple[Path, dict[str, Script]], tmp_path: Path
) -> None:
    out, _ = initialised
    run = run_shared(tmp_path, out, "-k", "shell_executable")
    executable = _outcomes(run, "shell_executable")
    assert set(executable) == {"scripts/both.sh", "scripts/lonely.sh", "scripts/orphan.sh"}, run.output[
        -3000:
    ]
    assert executable["scripts/both.sh"][0] == "failed"


@pytest.mark.parametrize(
    ("command", "started"),
    [
        ("bash x.sh a", "bash"),
        ("/bin/sh -e x.sh", "sh"),
        ("/usr/bin/env bash x.sh", "bash"),
        ("./x.sh --a", "path"),
        ("exec ./x.sh", "path"),
        ("env A=1 ./x.sh", "path"),
        ("source x.sh", "source"),
        (". ./x.sh", "source"),
    ],
)
def test_the_word_before_a_script_says_how_it_starts(command: str, started: str) -> None:
    (call,) = invocations_in(command, "Makefile:1")
    assert call.started_with == started


def test_init_again_suggests_started_with_where_the_manifest_lacks_it(
    initialised: tuple[Path, dict[str, Script]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = initialised
    edited = tmp_path / "edited.toml"
    root = load_manifest(out).root
    edited.write_text(out.read_text().replace('started_with = "bash"', "", 1))  # deploy.sh's, the first
    capsys.readouterr()
    assert main(["--target-root", str(root), "--out", str(edited)]) == 0
    printed = capsys.readouterr().out
    assert (
        '# scripts/deploy.sh: the repository starts it as bash (cloudbuild.yaml): set started_with = "bash"'
    ) in printed
    assert "scripts/teardown.sh: the repository starts it" not in printed  # declared: nothing to say
