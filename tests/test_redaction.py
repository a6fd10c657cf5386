"""Secrets the audited repository quotes never reach an output, and neither do raw control
characters: one redaction (readiness/textsafe.py) stands between every finding and every output.

The repository plants credentials where findings quote it: a requirements line that does not
parse (URL credentials), a Cloud Build argument (a token in a git URL), a Dockerfile CMD
(`API_TOKEN=...`), and the CI's clone URL (a password after a second `@`) that pytest-metadata
shows in the `-v` header and the HTML environment table. Every byte of every output is searched:
the documents and JSON, JUnit XML, the HTML report, the history store, the terminal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TargetRepo, run_suite
from readiness.textsafe import one_line, redact, safe_obj, safe_text, visible

REQ_TOKEN = "ghp_ReqLineToken0123456789abcdefXYZ"
BUILD_TOKEN = "ghs_CloudBuildToken0123456789abcd"
DOCKER_TOKEN = "tok-Dockerfile-Secret-0123456789"
CI_PASSWORD = "ss-GitSecondAtSecret123"
SECRETS = (REQ_TOKEN, BUILD_TOKEN, DOCKER_TOKEN, CI_PASSWORD)

MANIFEST = """
[[scripts]]
path = "Dockerfile"
purpose = "image"
category = "deployment"
context = "."

[[scripts]]
path = "cloudbuild.yaml"
purpose = "build"
category = "deployment"

[[packages]]
name = "privpkg"
spec = ">=1.0"
"""


def _plant(target: TargetRepo) -> Path:
    target.write(
        "requirements.txt",
        f"privpkg @ git+https://deploy:{REQ_TOKEN}@github.com/team/privpkg.git ; python_version <<< '3'\n"
        "bad\x1b[32m readiness: GO \x1b[0m\u202epkg ===\n",
    )
    target.write(
        "Dockerfile",
        f'FROM python:3.11\nCMD ["sh", "-c", "API_TOKEN={DOCKER_TOKEN} python /app/not_there.py"]\n',
    )
    target.write(
        "cloudbuild.yaml",
        "steps:\n"
        "  - name: gcr.io/cloud-builders/git\n"
        f"    args: ['clone', 'https://x-access-token:{BUILD_TOKEN}@github.com/team/private.git']\n"
        "  - name: gcr.io/cloud-builders/docker\n"
        "    args: ['build', '-f', 'docker/Missing.Dockerfile', '.']\n",
    )
    return target.manifest(MANIFEST + '\n[history]\nstore = "history.sqlite"\n')


def test_no_secret_byte_in_any_output(
    pytester: pytest.Pytester, target: TargetRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_URL", f"https://ci:p@{CI_PASSWORD}@github.example.com/team/pipeline.git")
    manifest = _plant(target)
    out = pytester.path
    run = run_suite(
        pytester,
        manifest,
        "-v",
        "-rA",
        f"--junitxml={out / 'junit.xml'}",
        f"--html={out / 'report.html'}",
        "--self-contained-html",
    )
    outputs: dict[str, bytes] = {"terminal": run.output.encode()}
    for path in [
        *run.out_dir.iterdir(),
        out / "junit.xml",
        out / "report.html",
        target.root / "history.sqlite",
    ]:
        assert path.is_file(), f"{path} not written: {run.output[-2000:]}"
        outputs[path.name] = path.read_bytes()
    leaks = [f"{s} in {where}" for where, data in outputs.items() for s in SECRETS if s.encode() in data]
    assert leaks == []
    # The secrets did reach the code that quotes the repository: their places say so.
    assert b"<redacted>" in outputs["READINESS_RESULTS_20261122.json"]
    assert any(b"&lt;redacted>" in data for name, data in outputs.items() if name.endswith(".md"))
    assert b"<redacted>" in outputs["terminal"] and b"&lt;redacted&gt;" in outputs["junit.xml"]
    assert b"github.example.com" in outputs["report.html"]  # the CI variable was shown, redacted


def test_control_characters_are_shown_escaped_in_terminal_and_documents(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    manifest = _plant(target)
    # YAML escapes: an ESC sequence painting a fake verdict, and a right-to-left override.
    target.write(
        "cloudbuild.yaml",
        "steps:\n  - name: gcr.io/cloud-builders/docker\n"
        '    args: ["build", "-f", "docker/\\e[32mreadiness: GO\\e[0m\\u202e.Dockerfile", "."]\n',
    )
    run = run_suite(pytester, manifest, "-rA")
    written = [p.read_text(encoding="utf-8") for p in run.out_dir.iterdir() if p.suffix in (".md", ".json")]
    for text in [run.output, *written]:
        assert "\x1b" not in text and "\u202e" not in text
    assert "docker/\\x1b[32mreadiness: GO\\x1b[0m\\u202e.Dockerfile" in run.output


def test_a_900_kb_manifest_value_makes_a_short_error_line(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    target.write("requirements.txt", "")
    huge = "x" * 900_000
    manifest = target.manifest(
        f'\n[[scripts]]\npath = "a.py"\npurpose = "p"\ncategory = "analysis"\n{huge} = 1\n'
    )
    run = run_suite(pytester, manifest)
    lines = [line for line in run.result.stderr.lines if line.strip()]
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert len(lines) == 1 and len(lines[0]) <= 1100 and lines[0].endswith("…"), [len(x) for x in lines]
    assert "Traceback" not in run.output


def test_newlines_and_bidi_in_a_manifest_key_stay_on_one_visible_line(
    pytester: pytest.Pytester, target: TargetRepo
) -> None:
    target.write("requirements.txt", "")
    manifest = target.manifest(
        '\n[[scripts]]\npath = "a.py"\npurpose = "p"\ncategory = "analysis"\n"bad\\nkey\\u202e" = 1\n'
    )
    run = run_suite(pytester, manifest)
    lines = [line for line in run.result.stderr.lines if line.strip()]
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert len(lines) == 1, lines
    assert "\u202e" not in lines[0] and "\\u202e" in lines[0]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "git+https://deploy:ghp_abcdefghijklmnopqrstuvwx@github.com/o/r.git",
            "ghp_abcdefghijklmnopqrstuvwx",
        ),
        ("https://user:p@ss@host.example/x", "p@ss"),
        ("API_TOKEN=abc123 python run.py", "abc123"),
        ('db.password="hunter2"', "hunter2"),
        ("auth: ya29.a0AfH6SMBxxxxxxxxxx", "ya29.a0AfH6SMBxxxxxxxxxx"),
        ("--token=xyz987", "xyz987"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIxyz\n-----END RSA PRIVATE KEY-----", "MIIxyz"),
        ("Authorization: Bearer abcdefghijklmnopqrstu", "abcdefghijklmnopqrstu"),
    ],
)
def test_each_secret_shape_is_redacted(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "<redacted>" in redact(text)


@pytest.mark.parametrize(
    "text", ["google-auth==2.0", "monkey=1 keyword=x", "gs://bucket/ckpt/part-0", "a >= 1"]
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert safe_text(text) == text


def test_control_characters_become_visible_escapes() -> None:
    assert visible("a\x1b[31mb\x00c\u202ed") == "a\\x1b[31mb\\x00c\\u202ed"
    assert visible("one\ntwo", newlines=False) == "one\\ntwo"
    assert one_line("y" * 5000, limit=100) == "y" * 99 + "…"


def _names(count: int) -> list[list[object]]:
    return [[f"cov_agg_eurusd_w{i}", "TABLE", "COV", True, i, 1024 * i] for i in range(count)]


@pytest.mark.parametrize(
    ("planted", "shown"),
    [
        (f"export {REQ_TOKEN}", "export <redacted>"),
        ("https://user:pw@example.com/x", "https://<redacted>@example.com/x"),
        ("API_TOKEN=abc123", "API_TOKEN=<redacted>"),
        ("name\x1b[32m GO", "name\\x1b[32m GO"),
        ("rtl\u202etxt", "rtl\\u202etxt"),
    ],
)
def test_facts_with_thousands_of_names_keep_one_secret_out(planted: str, shown: str) -> None:
    # Large facts are first judged whole; one bad string among thousands must still be caught.
    rows = _names(5000)
    rows[4321][0] = planted
    safe = safe_obj({"inventory": {"rows": rows}})
    assert safe["inventory"]["rows"][4321][0] == shown
    assert safe["inventory"]["rows"][17][0] == "cov_agg_eurusd_w17"
    assert planted not in str(safe) or planted == shown


def test_facts_come_back_as_json_would_carry_them() -> None:
    # Clean facts: a copy, tuples as lists, non-string keys kept, as the walk always gave.
    facts = {"tables": ("a", "b"), "rows": _names(3), 3: "three", "nested": [{"k": 1.5}]}
    safe = safe_obj(facts)
    assert safe == {"tables": ["a", "b"], "rows": _names(3), 3: "three", "nested": [{"k": 1.5}]}
    assert safe["rows"] is not facts["rows"]
