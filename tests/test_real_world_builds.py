"""Container builds as real Google Cloud pipeline repositories write them (issue 11).

Each idiom below was seen in public repositories, where the suite either raised a false finding
or passed a real defect. Every idiom is asserted both ways: as written it raises no finding, and
its broken variant does. One repository holds them all and is audited once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import AuditRun, TargetRepo, run_shared


def _scripts(*entries: tuple[str, str | None]) -> str:
    out = []
    for path, context in entries:
        out.append(f'[[scripts]]\npath = "{path}"\npurpose = "build"\ncategory = "deployment"\n')
        if context is not None:
            out.append(f'context = "{context}"\n')
        out.append("\n")
    return "".join(out)


CONFIGS = {
    # `script:` steps and `bash -c` steps are docker builds too.
    "cb-script.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n  script: |\n"
    "    docker build -t us-docker.pkg.dev/p/r/api \\\n      -f services/api/Dockerfile services/api\n",
    "cb-script-gone.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n  script: |\n"
    "    docker build -t x -f services/gone/Dockerfile services/api\n",
    "cb-bash.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n  entrypoint: bash\n  args:\n  - -c\n"
    "  - |\n    docker build -t x -f services/api/Dockerfile services/api && docker push x\n",
    "cb-bash-gone.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n  entrypoint: bash\n"
    '  args: ["-c", "docker build -t x -f services/api/Dockerfile.gone services/api"]\n',
    # A deploy-only config builds no image: nothing to find.
    "cb-deploy.yaml": "steps:\n- name: gcr.io/google.com/cloudsdktool/cloud-sdk\n  entrypoint: gcloud\n"
    "  args: [run, jobs, deploy, extract, --image, us-docker.pkg.dev/p/r/api]\n",
    # `dir:` moves the step; the source root is the config's folder unless `context` says.
    "cb-dir.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n  dir: services/api\n  args: [build, -t, x, .]\n",
    # An earlier step fetches the model into the workspace; the image COPYs it.
    "cb-fetch.yaml": "steps:\n- name: gcr.io/google.com/cloudsdktool/cloud-sdk\n  entrypoint: gcloud\n"
    "  args: [storage, cp, gs://models/model.pkl, /workspace/services/model/model.pkl]\n"
    "- name: gcr.io/cloud-builders/docker\n  args: [build, -t, x, services/model]\n",
    "cb-nofetch.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n  args: [build, -t, x, services/model]\n",
    "cb-gsutil.yaml": "steps:\n- name: gcr.io/cloud-builders/gsutil\n  args: [cp, gs://models/model.pkl, services/model/]\n"
    "- name: gcr.io/cloud-builders/docker\n  args: [build, -t, x, services/model]\n",
    "cb-args42.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n  args: 42\n",
    # Paths written from the repository root (a trigger) in a config that lives in a subfolder,
    # and a Dockerfile the same step writes before building it.
    "samples/proxy/cloudbuild.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n"
    '  args: ["build", "-t", "x", "services/api/."]\n- name: gcr.io/cloud-builders/docker\n  entrypoint: /bin/bash\n'
    '  args:\n  - -c\n  - |\n    echo "FROM x\n    COPY --from=proxy /p /p" > Dockerfile-proxy;\n\n'
    "    docker build -f Dockerfile-proxy -t x-proxy .\n",
    # A builder cloned by an earlier step, built from its folder.
    "cb-clone.yaml": "steps:\n- name: gcr.io/cloud-builders/git\n  args: [clone, https://github.com/o/builders]\n"
    "- name: gcr.io/cloud-builders/docker\n  dir: builders/firebase\n  args: [build, -t, x, .]\n",
    # The jar an earlier gradle step assembles, named by --build-arg.
    "cb-gradle.yaml": "steps:\n- name: gradle:8-jdk21\n  entrypoint: gradle\n  args: [assemble]\n"
    "- name: gcr.io/cloud-builders/docker\n  args: [build, -t, x, --build-arg=JAR_FILE=build/libs/app.jar, d/buildarg]\n",
    "cb-nogradle.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n"
    "  args: [build, -t, x, --build-arg=JAR_FILE=build/libs/app.jar, d/buildarg]\n",
    # A model fetched by a name known at build time into the workspace, then copied into the image.
    "ml/cloudbuild.yaml": "steps:\n- name: gcr.io/cloud-builders/gcloud\n  script: |\n"
    "    gcloud storage cp --recursive $_GCS_MODEL_PATH /workspace\n"
    "- name: gcr.io/cloud-builders/docker\n  script: |\n    docker build -t ${_TAG} .\nsubstitutions:\n  _TAG: unset\n",
    "ml-nocopy/cloudbuild.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n  script: |\n    docker build -t x .\n",
    "cb-buildarg.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n"
    "  args: [build, -t, x, --build-arg, JAR_FILE=app.jar, d/buildarg]\n",
}

DOCKERFILES = {
    "services/api/Dockerfile": 'FROM python:3.11-slim\nWORKDIR /app\nCOPY main.py .\nCMD ["python", "main.py"]\n',
    "services/model/Dockerfile": "FROM python:3.11-slim\nCOPY model.pkl /srv/\nCOPY serve.py /srv/\n"
    'CMD ["python", "/srv/serve.py"]\n',
    # ARG/ENV defaults in COPY sources.
    "d/arg/Dockerfile": "ARG APP=app\nFROM python:3.11-slim\nARG APP\nENV SRC=${APP}/src\n"
    'COPY ${SRC}/job.py /job/\nCMD ["python", "/job/job.py"]\n',
    "d/arg-bad/Dockerfile": "FROM python:3.11-slim\nENV APP=nothere\nCOPY $APP/job.py /job/\n",
    # An ARG default that only a --build-arg replaces: the build that passes it decides.
    "d/buildarg/Dockerfile": "FROM eclipse-temurin:21-jre\nARG JAR_FILE=JAR_FILE_MUST_BE_SET\nCOPY ${JAR_FILE} app.jar\n"
    'ENTRYPOINT ["java", "-jar", "/app.jar"]\n',
    # A here-document is the file; its body is not instructions.
    "d/heredoc/Dockerfile": "FROM python:3.11-slim\nCOPY <<EOF /app/run.sh\n#!/bin/sh\nCOPY missing.txt /x\n"
    'exec python -m http.server\nEOF\nCMD ["sh", "/app/run.sh"]\n',
    "d/heredoc-bad/Dockerfile": "FROM python:3.11-slim\nCOPY <<EOF /app/other.sh\necho hi\nEOF\n"
    'CMD ["sh", "/app/run.sh"]\n',
    # Multi-stage: --from is another stage's file system; the final stage inherits CMD.
    "d/stages/Dockerfile": "FROM python:3.11 AS build\nCOPY app/src /src\nRUN pip wheel -w /wheels /src\n"
    "FROM python:3.11-slim AS base\nCOPY --from=build /wheels /wheels\nCOPY --from=build /src/job.py /app/job.py\n"
    'CMD ["python", "/app/job.py"]\nFROM base AS final\nRUN pip install /wheels/*\n',
    # .dockerignore: an ignored file is not in the build, a re-included one is.
    "d/ignore/Dockerfile": "FROM python:3.11-slim\nCOPY keep.json /app/\nCOPY main.py /app/\n"
    'CMD ["python", "/app/main.py"]\n',
    "d/ignore-bad/Dockerfile": "FROM python:3.11-slim\nCOPY secrets.json /app/\nCOPY . /app\n"
    'CMD ["python", "/app/main.py"]\n',
    # The base image's command, or none at all.
    "d/nocmd/Dockerfile": "FROM python:3.11-slim\nRUN pip install gunicorn\n",
    "d/scratch/Dockerfile": "FROM scratch\nCOPY main.py /\n",
    # A started script must be copied into the image, not merely be in the repository.
    "d/notcopied/Dockerfile": 'FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\nCMD ["python", "main.py"]\n',
    "d/copiedall/Dockerfile": 'FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nCMD ["python", "main.py"]\n',
}

FILES = {
    "services/api/main.py": "print('api')\n",
    "services/model/serve.py": "print('serve')\n",
    "d/arg/app/src/job.py": "print('job')\n",
    "d/stages/app/src/job.py": "print('job')\n",
    "d/heredoc/.keep": "",
    "d/ignore/keep.json": "{}\n",
    "d/ignore/main.py": "print('main')\n",
    "d/ignore/.dockerignore": "*.json\n!keep.json\n",
    "d/ignore-bad/secrets.json": "{}\n",
    "d/ignore-bad/main.py": "print('main')\n",
    "d/ignore-bad/.dockerignore": "*.json\nmain.py\n",
    "d/scratch/main.py": "print('main')\n",
    "d/notcopied/main.py": "print('main')\n",
    "d/notcopied/requirements.txt": "",
    "d/copiedall/main.py": "print('main')\n",
    "d/buildarg/app.jar": "",
    "ml/Dockerfile": 'FROM python:3.11-slim\nCOPY main.py .\nCOPY gemma_2B gemma_2B\nCMD ["python", "main.py"]\n',
    "ml/main.py": "print('ml')\n",
    "ml-nocopy/Dockerfile": 'FROM python:3.11-slim\nCOPY main.py .\nCOPY gemma_2B gemma_2B\nCMD ["python", "main.py"]\n',
    "ml-nocopy/main.py": "print('ml')\n",
    # The same build in a config the manifest does not name: it is still how the image is made.
    "mlu/cloudbuild.yaml": "steps:\n- name: gcr.io/cloud-builders/gcloud\n  script: |\n"
    "    gcloud storage cp --recursive $_GCS_MODEL_PATH /workspace\n"
    "- name: gcr.io/cloud-builders/docker\n  script: |\n    docker build -t x .\n",
    "mlu/Dockerfile": 'FROM python:3.11-slim\nCOPY main.py .\nCOPY gemma_2B gemma_2B\nCMD ["python", "main.py"]\n',
    "mlu/main.py": "print('ml')\n",
    "mlu-nofetch/cloudbuild.yaml": "steps:\n- name: gcr.io/cloud-builders/docker\n  script: |\n    docker build -t x .\n",
    "mlu-nofetch/Dockerfile": 'FROM python:3.11-slim\nCOPY main.py .\nCOPY gemma_2B gemma_2B\nCMD ["python", "main.py"]\n',
    "mlu-nofetch/main.py": "print('ml')\n",
}

# A file the image starts by its own path is exec'd: executable bit and (JSON form) a shebang
# (cloud-build-samples quickstart-build: mode 644, no shebang, CMD ["/quickstart.sh"]).
STARTED = {
    "d/direct/Dockerfile": ('FROM alpine\nCOPY run.sh /\nCMD ["/run.sh"]\n', 0o644),
    "d/direct/run.sh": ("#!/bin/sh\necho hi\n", 0o755),
    "d/direct-chmod/Dockerfile": (
        'FROM alpine\nWORKDIR /app\nCOPY run.sh .\nRUN chmod +x /app/run.sh\nENTRYPOINT ["/app/run.sh"]\n',
        0o644,
    ),
    "d/direct-chmod/run.sh": ("#!/bin/sh\necho hi\n", 0o644),
    "d/via-shell/Dockerfile": ('FROM alpine\nCOPY run.sh /\nCMD ["sh", "/run.sh"]\n', 0o644),
    "d/via-shell/run.sh": ("echo hi\n", 0o644),
    "d/direct-bad/Dockerfile": ('FROM alpine\nCOPY quickstart.sh /\nCMD ["/quickstart.sh"]\n', 0o644),
    "d/direct-bad/quickstart.sh": ("# Copyright\necho hi\n", 0o644),
    "d/direct-noshebang/Dockerfile": ('FROM alpine\nCOPY run.sh /\nCMD ["/run.sh"]\n', 0o644),
    "d/direct-noshebang/run.sh": ("echo hi\n", 0o755),
}
STARTED_DOCKERFILES = [path for path in STARTED if path.endswith("Dockerfile")]

MANIFEST = _scripts(
    *[(path, None) for path in CONFIGS],
    *[(path, None) for path in DOCKERFILES],
    *[(path, None) for path in STARTED_DOCKERFILES],
)
# The same config submitted from the repository root (a trigger): `context` is its source root.
MANIFEST += _scripts(("cb/root/cloudbuild.yaml", "."), ("cb/noroot/cloudbuild.yaml", None))
MANIFEST += _scripts(("ml/Dockerfile", None), ("ml-nocopy/Dockerfile", None))
MANIFEST += _scripts(("mlu/Dockerfile", None), ("mlu-nofetch/Dockerfile", None))
ROOT_CONFIG = "steps:\n- name: gcr.io/cloud-builders/docker\n  args: [build, -t, x, -f, services/api/Dockerfile, services/api]\n"


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("builds")
    repo = TargetRepo(work / "target")
    for files in (CONFIGS, DOCKERFILES, FILES):
        for path, text in files.items():
            repo.write(path, text)
    for path, (text, mode) in STARTED.items():
        repo.write(path, text, mode=mode)
    repo.write("cb/root/cloudbuild.yaml", ROOT_CONFIG)
    repo.write(
        "cb/noroot/cloudbuild.yaml",
        ROOT_CONFIG.replace("services/api/Dockerfile", "services/none/Dockerfile"),
    )
    repo.write("requirements.txt", "")
    run = run_shared(work, repo.manifest(MANIFEST))
    assert run.ret in (0, 1), run.output
    return run


PASSES = [
    ("cloudbuild_dockerfile", "cb-script.yaml"),
    ("cloudbuild_dockerfile", "cb-bash.yaml"),
    ("cloudbuild_dockerfile", "cb-deploy.yaml"),
    ("cloudbuild_dockerfile", "cb-dir.yaml"),
    ("cloudbuild_dockerfile", "cb-fetch.yaml"),
    ("cloudbuild_dockerfile", "cb-gsutil.yaml"),
    ("cloudbuild_dockerfile", "cb/root/cloudbuild.yaml"),
    ("cloudbuild_dockerfile", "samples/proxy/cloudbuild.yaml"),
    ("cloudbuild_dockerfile", "cb-clone.yaml"),
    ("cloudbuild_dockerfile", "cb-gradle.yaml"),
    ("cloudbuild_dockerfile", "cb-buildarg.yaml"),
    ("cloudbuild_dockerfile", "ml/cloudbuild.yaml"),
    # A declared Dockerfile's sources are checked on its own case, in the build that fetches them.
    ("docker_sources", "ml/Dockerfile"),
    ("cloudbuild_dockerfile", "ml-nocopy/cloudbuild.yaml"),
    ("docker_sources", "d/arg/Dockerfile"),
    ("docker_entrypoint", "d/arg/Dockerfile"),
    ("docker_sources", "d/heredoc/Dockerfile"),
    ("docker_entrypoint", "d/heredoc/Dockerfile"),
    ("docker_sources", "d/stages/Dockerfile"),
    ("docker_entrypoint", "d/stages/Dockerfile"),
    ("docker_sources", "d/ignore/Dockerfile"),
    ("docker_entrypoint", "d/ignore/Dockerfile"),
    ("docker_entrypoint", "d/nocmd/Dockerfile"),
    ("docker_entrypoint", "d/copiedall/Dockerfile"),
    ("docker_entrypoint", "d/direct/Dockerfile"),
    ("docker_entrypoint", "d/direct-chmod/Dockerfile"),
    ("docker_entrypoint", "d/via-shell/Dockerfile"),
    ("docker_sources", "mlu/Dockerfile"),
]

FAILS = [
    ("cloudbuild_dockerfile", "cb-script-gone.yaml", "Dockerfile not found: steps[0]: services/gone/Dockerfile"),
    ("cloudbuild_dockerfile", "cb-bash-gone.yaml", "Dockerfile not found: steps[0]: services/api/Dockerfile.gone"),
    ("cloudbuild_dockerfile", "cb-nofetch.yaml", "services/model/Dockerfile: model.pkl (line 2)"),
    ("cloudbuild_dockerfile", "cb/noroot/cloudbuild.yaml", "steps[0]: cb/noroot/services/none/Dockerfile (source root 'cb/noroot')"),
    ("cloudbuild_dockerfile", "cb-nogradle.yaml", "d/buildarg/Dockerfile: build/libs/app.jar (line 3)"),
    (
        "docker_sources",
        "ml-nocopy/Dockerfile",
        "missing from the context 'ml-nocopy' of ml-nocopy/cloudbuild.yaml steps[0]: gemma_2B (line 3)",
    ),
    ("cloudbuild_parses", "cb-args42.yaml", "cb-args42.yaml: steps[0].args: must be a list of strings, not 42"),
    ("docker_sources", "d/arg-bad/Dockerfile", "missing from context 'd/arg-bad': nothere/job.py (line 3)"),
    ("docker_entrypoint", "d/heredoc-bad/Dockerfile", "'/app/run.sh' is not in the repository"),
    ("docker_sources", "d/ignore-bad/Dockerfile", "secrets.json (line 2, by d/ignore-bad/.dockerignore: *.json)"),
    ("docker_entrypoint", "d/ignore-bad/Dockerfile", "'/app/main.py' is started but excluded from the build"),
    ("docker_entrypoint", "d/scratch/Dockerfile", "no ENTRYPOINT or CMD, and FROM scratch provides none"),
    ("docker_entrypoint", "d/notcopied/Dockerfile", "'main.py' is started but no COPY/ADD puts it at /app/main.py"),
    ("docker_entrypoint", "d/direct-bad/Dockerfile",
     "d/direct-bad/Dockerfile:3: the image starts /quickstart.sh directly, but d/direct-bad/quickstart.sh is not "
     "executable (mode 0644) and the Dockerfile does not chmod +x it"),
    ("docker_entrypoint", "d/direct-bad/Dockerfile", "d/direct-bad/quickstart.sh has no shebang line"),
    ("docker_sources", "mlu-nofetch/Dockerfile",
     "missing from the context 'mlu-nofetch' of mlu-nofetch/cloudbuild.yaml steps[0]: gemma_2B (line 3)"),
    ("docker_entrypoint", "d/direct-noshebang/Dockerfile",
     "the image starts /run.sh directly, but d/direct-noshebang/run.sh has no shebang line: exec of /run.sh fails"),
]  # fmt: skip


@pytest.mark.parametrize(("criterion", "subject"), PASSES, ids=[f"{c}:{s}" for c, s in PASSES])
def test_real_world_idiom_raises_no_finding(builds: AuditRun, criterion: str, subject: str) -> None:
    case = builds.case(criterion, subject)
    assert case["outcome"] == "passed", case["message"]


@pytest.mark.parametrize(("criterion", "subject", "message"), FAILS, ids=[f"{c}:{s}" for c, s, _ in FAILS])
def test_broken_variant_is_a_finding(builds: AuditRun, criterion: str, subject: str, message: str) -> None:
    case = builds.case(criterion, subject)
    assert case["outcome"] == "failed", case["message"]
    assert message in case["message"]


def test_a_config_that_builds_no_image_says_so(builds: AuditRun) -> None:
    assert (
        builds.case("cloudbuild_dockerfile", "cb-deploy.yaml")["facts"]["builds"]
        == "no image (no docker build step)"
    )


def test_a_source_only_a_build_arg_names_is_left_to_the_build_that_passes_it(builds: AuditRun) -> None:
    case = builds.case("docker_sources", "d/buildarg/Dockerfile")
    assert case["outcome"] == "passed", case["message"]
    assert case["facts"]["built by"] == "cb-gradle.yaml steps[1]"
    assert case["facts"]["sources left to earlier build steps"] == ["build/libs/app.jar (line 3)"]


def test_a_source_only_a_build_arg_names_is_unverified_without_such_a_build(tmp_path: Path) -> None:
    repo = TargetRepo(tmp_path / "target")
    repo.write("Dockerfile", DOCKERFILES["d/buildarg/Dockerfile"])
    repo.write("requirements.txt", "")
    run = run_shared(tmp_path, repo.manifest(_scripts(("Dockerfile", None))), "-k", "docker_sources")
    case = run.case("docker_sources", "Dockerfile")
    assert case["outcome"] == "error"  # neither a pass nor a finding: no build says what it is
    assert "depend on a build argument" in case["message"]
    assert "JAR_FILE_MUST_BE_SET (line 3)" in case["message"]


def test_the_base_images_command_is_a_fact(builds: AuditRun) -> None:
    facts = builds.case("docker_entrypoint", "d/nocmd/Dockerfile")["facts"]
    assert facts["entrypoint"] == "the base image's (python:3.11-slim)"


def test_a_long_config_without_aliases_is_not_a_yaml_bomb(tmp_path_factory: pytest.TempPathFactory) -> None:
    work = tmp_path_factory.mktemp("long")
    repo = TargetRepo(work / "target")
    # Over 100,000 values (the alias-expansion limit) and not one alias.
    args = ", ".join(["gs://b/x"] * 105_000)
    repo.write("cloudbuild.yaml", f"steps:\n- name: gcr.io/cloud-builders/gcloud\n  args: [{args}]\n")
    repo.write("requirements.txt", "")
    run = run_shared(work, repo.manifest(_scripts(("cloudbuild.yaml", None))), "-k", "cloudbuild_parses")
    case = run.case("cloudbuild_parses", "cloudbuild.yaml")
    assert case["outcome"] == "passed", case["message"]
