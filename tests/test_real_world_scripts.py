"""Idioms of real Google Cloud pipeline repositories, each asserted both ways.

Every idiom below was seen in a public pipeline repository (Dataflow/Beam jobs, click/absl/typer
CLIs, src/ layouts, getopts wrappers) and was judged wrongly by the script checks: the idiom
must raise no finding, and its broken variant must. One repository holds them all and is
audited once per module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import MANIFEST_HEAD, AuditRun, TargetRepo, run_shared
from readiness.manifest import ManifestError, load_manifest

ENVIRONMENTS = f"""\
[[environments]]
name = "suite"
python = "{sys.executable}"

[[environments]]
name = "ci"
python = "{sys.executable}"
python_path = ["tools/pp"]

[[environments]]
name = "empty"
requirements = ["envs/empty.txt"]

[[environments]]
name = "pep621"
requirements = ["envs/pep621/pyproject.toml"]

[[environments]]
name = "ghost"
python = "/opt/nowhere/bin/python3"

[[environments]]
name = "unreachable"
requirements = ["envs/unreachable.txt"]

[[environments]]
name = "py38"
python_version = "3.8"
dockerfile = "envs/Dockerfile.py38"

[[environments]]
name = "py313"
python_version = "3.13"
requirements = ["envs/empty.txt"]

[[environments]]
name = "py35"
python_version = "3.5"
requirements = ["envs/empty.txt"]
"""

#: (path, environment or "", flags, file text, mode)
SCRIPTS: list[tuple[str, str, list[str], str, int]] = [
    # -- imports -------------------------------------------------------------------------------
    ("imp/pubsub_missing.py", "", [], "from google.cloud import pubsub_v1\n", 0o644),
    (
        "imp/google_ok.py",
        "",
        [],
        "from google.cloud import bigquery, storage\nfrom google.cloud.bigquery import Client\n",
        0o644,
    ),
    (
        "imp/optional_ok.py",
        "",
        [],
        """\
        import sys
        from typing import TYPE_CHECKING
        try:
            import ujson_not_installed_xyz as json
        except ImportError:
            import json
        if TYPE_CHECKING:
            from nowhere_typing_only_xyz import Thing
        if sys.version_info < (3, 11):
            import tomli_not_installed_xyz as tomllib
        else:
            import tomllib
        """,
        0o644,
    ),
    (
        "imp/not_optional.py",
        "",
        [],
        "try:\n    import ujson_not_installed_xyz\nexcept KeyError:\n    pass\n",
        0o644,
    ),
    ("imp/src_layout_ok.py", "", [], "from mypkg import io\nimport mypkg.io\n", 0o644),
    ("imp/src_layout_bad.py", "", [], "from mypkg_absent_xyz import io\n", 0o644),
    ("imp/namespace_ok.py", "", [], "from company.pipelines.features import build\n", 0o644),
    ("imp/namespace_bad.py", "", [], "from company.pipelines.features import gone\n", 0o644),
    (
        "imp/syspath_ok.py",
        "",
        [],
        """\
        import os
        import sys
        from pathlib import Path
        HERE = os.path.dirname(os.path.abspath(__file__))
        sys.path.append(os.path.join(HERE, "..", "lib", "vendored"))
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib" / "other"))
        import helpers_x
        import other_x
        """,
        0o644,
    ),
    ("imp/syspath_bad.py", "", [], "import helpers_x\n", 0o644),
    ("imp/subproject_ok.py", "", [], "import featurelib\nfrom featurelib.io import read\n", 0o644),
    ("imp/pythonpath_ok.py", "ci", [], "import ppmod\n", 0o644),
    ("imp/pythonpath_bad.py", "suite", [], "import ppmod\n", 0o644),
    ("imp/isolated.py", "empty", [], "import packaging\n", 0o644),
    ("imp/unreachable.py", "unreachable", [], "import json\n", 0o644),
    # -- compile in the pipeline's interpreter -------------------------------------------------
    ("cmp/return_top.py", "", [], "x = 1\nreturn x\n", 0o644),
    ("cmp/break_outside.py", "", [], "break\n", 0o644),
    ("cmp/dup_arg.py", "", [], "def f(a, a):\n    pass\n", 0o644),
    ("cmp/future.py", "", [], "from __future__ import no_such_feature_xyz\n", 0o644),
    ("cmp/match_311.py", "", [], "match 1:\n    case 1:\n        pass\n", 0o644),
    ("cmp/match_38.py", "py38", [], "match 1:\n    case 1:\n        pass\n", 0o644),
    ("cmp/plain_38.py", "py38", [], "import json\nprint(json.dumps({}))\n", 0o644),
    # Python 3.8 gives a built-in module's spec no origin: `from sys import argv` is not a
    # namespace package's missing submodule (httparchive-data-pipeline).
    ("imp/builtin_38.py", "py38", [], "from sys import argv\n", 0o644),
    (
        "imp/builtin_38_bad.py",
        "py38",
        [],
        "from sys import argv\nfrom importlib_nothere_xyz import x\n",
        0o644,
    ),
    (
        "cmp/pep695_313.py",
        "py313",
        [],
        "type Pair = tuple[int, int]\ndef f[T](x: T) -> T:\n    return x\n",
        0o644,
    ),
    ("cmp/pep695_311.py", "", [], "type Pair = tuple[int, int]\n", 0o644),
    ("cmp/fstring_35.py", "py35", [], 'name = "x"\nprint(f"{name}")\n', 0o644),
    ("cmp/plain_35.py", "py35", [], 'print("{}".format(1))\n', 0o644),
    # -- shell scripts that cannot start -------------------------------------------------------
    ("sh/good.sh", "", [], "#!/usr/bin/env bash\necho ok\n", 0o755),
    ("sh/crlf.sh", "", [], "#!/bin/bash\r\necho hi\r\n", 0o755),
    ("sh/env_missing.sh", "", [], "#!/usr/bin/env no-such-shell-xyz\necho hi\n", 0o755),
    ("sh/abs_missing.sh", "", [], "#!/opt/nowhere/bin/bash\necho hi\n", 0o755),
    ("sh/no_shebang.sh", "", [], "echo hi\n", 0o755),
    ("sh/no_shebang_644.sh", "", [], "echo hi\n", 0o644),
    # -- flags ---------------------------------------------------------------------------------
    (
        "sh/getopts_ok.sh",
        "",
        ["-w", "-b"],
        '#!/usr/bin/env bash\nwhile getopts "w:b:" opt; do\n  case $opt in\n    w) W=$OPTARG ;;\n'
        '    b) B=$OPTARG ;;\n  esac\ndone\necho "usage: $0 -w N -b B [-x]"\n',
        0o755,
    ),
    (
        "sh/getopts_bad.sh",
        "",
        ["-x"],
        '#!/usr/bin/env bash\nwhile getopts "w:b:" opt; do\n  case $opt in\n    w) W=$OPTARG ;;\n'
        '    b) B=$OPTARG ;;\n  esac\ndone\necho "usage: $0 -w N -b B [-x]"\n',
        0o755,
    ),
    (
        "sh/getopt_long_ok.sh",
        "",
        ["--workers", "--dry-run", "-w"],
        '#!/usr/bin/env bash\nARGS=$(getopt -o w: --long workers:,dry-run -- "$@")\necho "$ARGS --verbose"\n',
        0o755,
    ),
    (
        "sh/getopt_long_bad.sh",
        "",
        ["--verbose"],
        '#!/usr/bin/env bash\nARGS=$(getopt -o w: --long workers:,dry-run -- "$@")\necho "$ARGS --verbose"\n',
        0o755,
    ),
    (
        "fl/beam_known_args.py",
        "",
        ["--input", "--runner", "--project", "--region", "--temp_location", "--streaming"],
        """\
        import argparse
        from apache_beam.options.pipeline_options import PipelineOptions
        parser = argparse.ArgumentParser()
        parser.add_argument("--input")
        known, pipeline_args = parser.parse_known_args()
        options = PipelineOptions(pipeline_args)
        """,
        0o644,
    ),
    (
        "fl/beam_strict.py",
        "",
        ["--runner"],
        """\
        import argparse
        from apache_beam.options.pipeline_options import PipelineOptions
        parser = argparse.ArgumentParser()
        parser.add_argument("--input")
        args = parser.parse_args()
        options = PipelineOptions()
        """,
        0o644,
    ),
    (
        "fl/beam_subclass.py",
        "",
        ["--output", "--window", "--max_num_workers"],
        """\
        from apache_beam.options.pipeline_options import PipelineOptions
        class JobOptions(PipelineOptions):
            @classmethod
            def _add_argparse_args(cls, parser):
                parser.add_value_provider_argument("--output")
                parser.add_argument("--window", type=int)
        options = PipelineOptions().view_as(JobOptions)
        """,
        0o644,
    ),
    # dataflow-solution-guides: PipelineOptions() reads the command line itself; the job's own
    # options live in a subclass in the pipeline's package; Beam ignores unknown flags silently.
    (
        "beam/main.py",
        "",
        ["--transactions_topic", "--runner", "--max_num_workers", "--no_use_public_ips", "--machine_type"],
        "from apache_beam.options.pipeline_options import PipelineOptions\n"
        "from job_pipeline.options import JobOptions\n"
        "options = PipelineOptions().view_as(JobOptions)\n",
        0o644,
    ),
    (
        "beam/main_typos.py",
        "",
        ["--max_workers", "--no_use_public_ip"],
        "from apache_beam.options.pipeline_options import PipelineOptions\n"
        "from job_pipeline.options import JobOptions\n"
        "options = PipelineOptions().view_as(JobOptions)\n",
        0o644,
    ),
    # HTTPArchive/data-pipeline: the runner script only calls a module that builds the parser,
    # parses known args and hands the rest to PipelineOptions.
    (
        "beam/run_all.py",
        "",
        ["--input_file", "--runner", "--temp_location", "--worker_disk_type", "--setup_file"],
        "from jobs import import_all\nimport_all.create_pipeline().run()\n",
        0o644,
    ),
    (
        "beam/run_all_dead_flag.py",
        "",
        ["--noauth_local_webserver"],
        "from jobs import import_all\nimport_all.create_pipeline().run()\n",
        0o644,
    ),
    ("imp/pep621_env.py", "pep621", [], "import packaging\n", 0o644),
    ("imp/ghost.py", "ghost", [], "import json\n", 0o644),
    (
        "fl/imported_ok.py",
        "",
        ["--date", "--workers=8"],
        "from options import build_parser\nbuild_parser().parse_args()\n",
        0o644,
    ),
    (
        "fl/imported_bad.py",
        "",
        ["--dates"],
        "from options import build_parser\nbuild_parser().parse_args()\n",
        0o644,
    ),
    (
        "fl/absl_cli.py",
        "",
        ["--dataset", "--dry_run", "--nodry_run"],
        """\
        from absl import app, flags
        FLAGS = flags.FLAGS
        flags.DEFINE_string("dataset", None, "target dataset")
        flags.DEFINE_boolean("dry_run", False, "plan only")
        def main(argv):
            print(FLAGS.dataset)
        app.run(main)
        """,
        0o644,
    ),
    (
        "fl/typer_cli.py",
        "",
        ["--workers", "--dry-run", "--no-dry-run"],
        """\
        import typer
        def main(table: str = typer.Argument(...), workers: int = 4, dry_run: bool = False):
            print(table, workers, dry_run)
        if __name__ == "__main__":
            typer.run(main)
        """,
        0o644,
    ),
    (
        "fl/typer_positional.py",
        "",
        ["--table"],
        """\
        import typer
        def main(table: str = typer.Argument(...), workers: int = 4):
            print(table, workers)
        typer.run(main)
        """,
        0o644,
    ),
    (
        "fl/click_cli.py",
        "",
        ["--cache", "--no-cache", "--workers"],
        """\
        import click
        @click.command()
        @click.option("--cache/--no-cache", default=True)
        @click.option("--workers", type=int)
        def main(cache, workers):
            pass
        """,
        0o644,
    ),
    (
        "fl/fire_model.py",
        "",
        ["--table_name", "--table-name", "--start_date"],
        "import fire\nfrom params_model import Params\ndef main(p):\n    pass\n"
        "fire.Fire(lambda **kwargs: main(Params(**kwargs)))\n",
        0o644,
    ),
    (
        "fl/fire_model_bad.py",
        "",
        ["--tables"],
        "import fire\nfrom params_model import Params\ndef main(p):\n    pass\n"
        "fire.Fire(lambda **kwargs: main(Params(**kwargs)))\n",
        0o644,
    ),
    (
        "fl/fire_opaque.py",
        "",
        ["--anything"],
        "import fire\nfire.Fire(lambda **kwargs: print(**kwargs) or dict(**kwargs))\n",
        0o644,
    ),
    (
        "fl/fire_cli.py",
        "",
        ["--table", "--max_rows", "--max-rows"],
        "import fire\ndef run(table, max_rows=10):\n    pass\nfire.Fire(run)\n",
        0o644,
    ),
]

#: Cases the idioms must pass (criterion, subject).
PASSING = [
    ("imports_resolve", "imp/google_ok.py"),
    ("imports_resolve", "imp/optional_ok.py"),
    ("imports_resolve", "imp/src_layout_ok.py"),
    ("imports_resolve", "imp/namespace_ok.py"),
    ("imports_resolve", "imp/syspath_ok.py"),
    ("imports_resolve", "imp/subproject_ok.py"),
    ("imports_resolve", "imp/pythonpath_ok.py"),
    ("python_parses", "cmp/match_311.py"),
    ("python_parses", "cmp/plain_38.py"),
    ("imports_resolve", "imp/builtin_38.py"),
    ("python_parses", "cmp/pep695_313.py"),
    ("python_parses", "cmp/plain_35.py"),
    ("shell_executable", "sh/good.sh"),
    # dataflow-solution-guides: executable, no shebang, run as ./scripts/x.sh from the README's
    # shell, which runs the file itself when the kernel refuses it.
    ("shell_executable", "sh/no_shebang.sh"),
    ("shell_parses", "sh/good.sh"),
    ("cli_flags", "sh/getopts_ok.sh"),
    ("cli_flags", "sh/getopt_long_ok.sh"),
    ("cli_flags", "fl/beam_known_args.py"),
    ("cli_flags", "fl/beam_subclass.py"),
    ("cli_flags", "fl/imported_ok.py"),
    ("cli_flags", "fl/absl_cli.py"),
    ("cli_flags", "fl/typer_cli.py"),
    ("cli_flags", "fl/click_cli.py"),
    ("cli_flags", "fl/fire_cli.py"),
    ("cli_flags", "fl/fire_model.py"),
    ("cli_flags", "beam/main.py"),
    ("cli_flags", "beam/run_all.py"),
]

#: Broken variants: (criterion, subject, outcome, text the message must contain).
FAILING = [
    ("imports_resolve", "imp/pubsub_missing.py", "failed", "google.cloud.pubsub_v1"),
    ("imports_resolve", "imp/not_optional.py", "failed", ": ujson_not_installed_xyz"),
    ("imports_resolve", "imp/src_layout_bad.py", "failed", ": mypkg_absent_xyz.io"),
    ("imports_resolve", "imp/namespace_bad.py", "failed", ": company.pipelines.features.gone"),
    ("imports_resolve", "imp/syspath_bad.py", "failed", ": helpers_x"),
    ("imports_resolve", "imp/pythonpath_bad.py", "failed", "run environment 'suite'"),
    ("imports_resolve", "imp/isolated.py", "failed", "run environment 'empty' ("),
    ("imports_resolve", "imp/unreachable.py", "error", "installing the requirements failed"),
    (
        "python_parses",
        "cmp/return_top.py",
        "failed",
        "cmp/return_top.py:2: syntax error: 'return' outside function",
    ),
    ("python_parses", "cmp/break_outside.py", "failed", "'break' outside loop"),
    ("python_parses", "cmp/dup_arg.py", "failed", "duplicate argument 'a'"),
    ("python_parses", "cmp/future.py", "failed", "future feature no_such_feature_xyz is not defined"),
    ("python_parses", "cmp/match_38.py", "failed", "cmp/match_38.py:1: syntax error"),
    ("imports_resolve", "imp/builtin_38_bad.py", "failed", "): importlib_nothere_xyz.x"),
    ("python_parses", "cmp/pep695_311.py", "failed", "cmp/pep695_311.py:1: syntax error"),
    ("python_parses", "cmp/fstring_35.py", "failed", "no Python 3.5 on this machine"),
    ("shell_executable", "sh/crlf.sh", "failed", "carriage return"),
    ("shell_parses", "sh/crlf.sh", "failed", "sh/crlf.sh:1: CRLF line endings"),
    ("shell_executable", "sh/env_missing.sh", "failed", "'no-such-shell-xyz' is not installed"),
    ("shell_executable", "sh/abs_missing.sh", "failed", "'/opt/nowhere/bin/bash' is not installed"),
    ("shell_executable", "sh/no_shebang_644.sh", "failed", "not executable (mode 0644)"),
    ("cli_flags", "sh/getopts_bad.sh", "failed", "does not define -x"),
    ("cli_flags", "sh/getopt_long_bad.sh", "failed", "does not define --verbose"),
    ("cli_flags", "fl/beam_strict.py", "failed", "does not define --runner"),
    ("cli_flags", "fl/imported_bad.py", "failed", "does not define --dates"),
    ("cli_flags", "fl/typer_positional.py", "failed", "does not define --table"),
    ("cli_flags", "fl/fire_model_bad.py", "failed", "does not define --tables"),
    ("cli_flags", "beam/main_typos.py", "failed", "does not define --max_workers, --no_use_public_ip"),
    ("imports_resolve", "imp/pep621_env.py", "failed", "run environment 'pep621' ("),
    ("cli_flags", "beam/run_all_dead_flag.py", "failed", "does not define --noauth_local_webserver"),
    ("imports_resolve", "imp/ghost.py", "error", "interpreter '/opt/nowhere/bin/python3' not found"),
    ("python_parses", "imp/ghost.py", "error", "the interpreter of environment 'ghost' was not found"),
    ("cli_flags", "fl/fire_opaque.py", "error", "fire passes **kwargs on; flags cannot be verified"),
    ("imports_resolve", "cmp/pep695_313.py", "error", "written for Python 3.13, whose syntax the suite's"),
]


def _manifest_body() -> str:
    parts = [ENVIRONMENTS]
    for path, env, flags, _, _ in SCRIPTS:
        parts.append(
            f'[[scripts]]\npath = "{path}"\npurpose = "idiom"\ncategory = "analysis"\n'
            + (f'environment = "{env}"\n' if env else "")
            + (f"flags = {flags!r}\n".replace("'", '"') if flags else "")
        )
    return "\n".join(parts)


def build_idiom_repo(repo: TargetRepo) -> Path:
    for path, _, _, text, mode in SCRIPTS:
        repo.write(path, text, mode=mode)
    repo.write("src/mypkg/__init__.py", "")
    repo.write("src/mypkg/io.py", "")
    repo.write("company/pipelines/features/build.py", "")
    repo.write("lib/vendored/helpers_x.py", "")
    repo.write("lib/other/other_x.py", "")
    repo.write("packages/featurelib/pyproject.toml", "[project]\nname = 'featurelib'\n")
    repo.write("packages/featurelib/featurelib/__init__.py", "")
    repo.write("packages/featurelib/featurelib/io.py", "def read(): pass\n")
    repo.write("tools/pp/ppmod.py", "")
    repo.write("fl/params_model.py", "from pydantic import BaseModel\nclass Params(BaseModel):\n"
               "    table_name: str\n    start_date: str = '2019-04-01'\n")  # fmt: skip
    repo.write("fl/options.py", "import argparse\ndef build_parser():\n    p = argparse.ArgumentParser()\n"
               "    p.add_argument('--date')\n    p.add_argument('--workers')\n    return p\n")  # fmt: skip
    repo.write("envs/empty.txt", "# nothing: the pipeline needs only the standard library\n")
    repo.write("envs/pep621/pyproject.toml", "[project]\nname = 'job'\ndependencies = []\n")
    repo.write("beam/jobs/import_all.py", "import argparse\nfrom apache_beam.options.pipeline_options import "
               "PipelineOptions\ndef create_pipeline(argv=None):\n    parser = argparse.ArgumentParser()\n"
               "    parser.add_argument('--input_file')\n    known, rest = parser.parse_known_args(argv)\n"
               "    return PipelineOptions(rest)\n")  # fmt: skip
    repo.write("beam/job_pipeline/__init__.py", "")
    repo.write("beam/job_pipeline/options.py", "from apache_beam.options.pipeline_options import PipelineOptions\n"
               "class JobOptions(PipelineOptions):\n    @classmethod\n    def _add_argparse_args(cls, parser):\n"
               "        parser.add_argument('--transactions_topic')\n")  # fmt: skip
    repo.write("envs/unreachable.txt", "readiness-test-package-xyz==1.0\n")
    repo.write(
        "envs/Dockerfile.py38",
        "FROM python:3.8-slim\nCOPY envs/empty.txt /app/\nRUN pip install -r /app/empty.txt\n",
    )
    return repo.manifest(_manifest_body())


@pytest.fixture(scope="module")
def idioms(tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    work = tmp_path_factory.mktemp("idioms")
    manifest = build_idiom_repo(TargetRepo(work / "target"))
    env = {
        "READINESS_ENV_CACHE": str(work / "envs"),
        "UV_CACHE_DIR": str(work / "uv-cache"),
        # No package index in tests: an install that needs one must fail, and say so.
        "UV_INDEX_URL": "http://127.0.0.1:9/simple",
        "UV_HTTP_TIMEOUT": "5",
    }
    run = run_shared(work, manifest, env=env, timeout=600)
    assert run.ret in (0, 1), run.output
    return run


@pytest.mark.parametrize(("criterion", "subject"), PASSING, ids=[f"{c}:{s}" for c, s in PASSING])
def test_idiom_raises_no_finding(idioms: AuditRun, criterion: str, subject: str) -> None:
    case = idioms.case(criterion, subject)
    assert (case["outcome"], case["message"]) == ("passed", "")


@pytest.mark.parametrize(
    ("criterion", "subject", "outcome", "text"), FAILING, ids=[f"{c}:{s}" for c, s, _, _ in FAILING]
)
def test_broken_variant_is_a_finding(
    idioms: AuditRun, criterion: str, subject: str, outcome: str, text: str
) -> None:
    case = idioms.case(criterion, subject)
    assert case["outcome"] == outcome, case["message"]
    assert text in case["message"]


def test_a_missing_client_library_is_named_by_its_full_module(idioms: AuditRun) -> None:
    # google.cloud itself is there (bigquery, storage are installed): only pubsub_v1 is missing.
    message = idioms.case("imports_resolve", "imp/pubsub_missing.py")["message"]
    assert message.endswith("/bin/python): google.cloud.pubsub_v1")


def test_a_built_environment_is_isolated_and_named_in_the_finding(idioms: AuditRun) -> None:
    case = idioms.case("imports_resolve", "imp/isolated.py")
    # packaging is installed in the suite's own environment, not in the pipeline's.
    assert case["message"].endswith(": packaging")
    assert str(idioms.out_dir.parent / "envs") in case["facts"]["interpreter"]
    assert case["facts"]["environment"] == "empty"


def test_imports_are_probed_in_the_declared_environment(idioms: AuditRun) -> None:
    case = idioms.case("imports_resolve", "imp/pythonpath_ok.py")
    assert case["facts"] == {
        "imports": [],
        "environment": "ci",
        "interpreter": sys.executable,
        "distributions": [],
        "missing_imports": [],
    }


def test_flags_written_with_a_value_are_the_flag(idioms: AuditRun) -> None:
    case = idioms.case("cli_flags", "fl/imported_ok.py")
    assert case["outcome"] == "passed"
    assert "--workers" in case["facts"]["flags"]


# -- the manifest's environments ------------------------------------------------------------

SCRIPT = '[[scripts]]\npath = "a.py"\npurpose = "p"\ncategory = "analysis"\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            SCRIPT + 'environment = "dataflow"\n',
            "scripts[0] 'a.py'.environment: unknown environment 'dataflow'",
        ),
        (
            '[[environments]]\nname = "a"\npyhton = "/usr/bin/python3"\n',
            "environments[0] 'a'.pyhton: unknown key",
        ),
        ('[[environments]]\nname = "a"\npython_version = "3"\n', "python_version '3' must look like '3.11'"),
        ('[[environments]]\nname = "a"\n[[environments]]\nname = "a"\n', "environments: duplicate entry 'a'"),
        (
            '[[environments]]\nname = "a"\nrequirements = ["../x.txt"]\n',
            "path '../x.txt' escapes the target root",
        ),
    ],
    ids=["unknown-environment", "unknown-key", "bad-version", "duplicate", "escaping-path"],
)
def test_bad_environment_is_one_clear_line(tmp_path: Path, body: str, message: str) -> None:
    manifest = TargetRepo(tmp_path).manifest(body)
    with pytest.raises(ManifestError) as raised:
        load_manifest(manifest)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_scripts_run_in_the_first_environment_unless_told(tmp_path: Path) -> None:
    from readiness.manifest import environment_of

    body = '[[environments]]\nname = "jobs"\n[[environments]]\nname = "web"\n' + SCRIPT
    body += SCRIPT.replace("a.py", "b.py") + 'environment = "web"\n'
    loaded = load_manifest(TargetRepo(tmp_path).manifest(body))
    a, b = loaded.manifest.scripts
    assert (environment_of(loaded.manifest, a), environment_of(loaded.manifest, b)) == ("jobs", "web")
    plain = load_manifest(TargetRepo(tmp_path / "p").manifest(SCRIPT, head=MANIFEST_HEAD))
    assert environment_of(plain.manifest, plain.manifest.scripts[0]) == "default"


def test_a_flag_written_with_its_value_is_normalised(tmp_path: Path) -> None:
    loaded = load_manifest(TargetRepo(tmp_path).manifest(SCRIPT + 'flags = ["--workers=8", "--workers"]\n'))
    assert loaded.manifest.scripts[0].flags == ["--workers"]


def test_two_workers_give_the_same_results_and_build_each_environment_once(
    idioms: AuditRun, tmp_path: Path
) -> None:
    manifest = build_idiom_repo(TargetRepo(tmp_path / "target"))
    cache = tmp_path / "envs"
    env = {
        "READINESS_ENV_CACHE": str(cache),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_INDEX_URL": "http://127.0.0.1:9/simple",
        "UV_HTTP_TIMEOUT": "5",
    }
    parallel = run_shared(tmp_path, manifest, "-n", "2", env=env, timeout=600)
    assert parallel.ret in (0, 1), parallel.output

    def outcomes(run: AuditRun) -> dict[str, str]:
        return {f"{c['criterion']}:{c['subject']}": c["outcome"] for c in run.json()["cases"]}

    assert outcomes(parallel) == outcomes(idioms)
    # Workers that raced for an environment share one virtualenv, keyed by what it installs:
    # "empty" and "pep621" install nothing on the same Python (one) and py38 (py313's only
    # script is unverified before its imports are asked, so it is never built).
    built = [p for p in cache.iterdir() if (p / ".readiness-complete").is_file()]
    assert len(built) == 2


def test_dependencies_are_shown_as_the_distributions_that_provide_them(idioms: AuditRun) -> None:
    # `from google.cloud import bigquery, storage` needs two distributions, not "google".
    case = idioms.case("imports_resolve", "imp/google_ok.py")
    assert case["facts"]["distributions"] == ["google-cloud-bigquery", "google-cloud-storage"]
    row = next(line for line in idioms.doc("DEPENDENCY_ANALYSIS").splitlines() if "imp/google_ok.py" in line)
    assert "google-cloud-bigquery, google-cloud-storage" in row
    missing = idioms.case("imports_resolve", "imp/pubsub_missing.py")
    assert missing["facts"]["missing_imports"] == ["google.cloud.pubsub_v1"]
    row = next(
        line for line in idioms.doc("DEPENDENCY_ANALYSIS").splitlines() if "imp/pubsub_missing.py" in line
    )
    assert "google.cloud.pubsub_v1 (not installed)" in row
