"""Secrets stay out: plant every kind of credential material and search every output byte.

The run happens in a local world (sandbox.world) whose Application Default Credentials are a
real service-account key file: google-auth signs a JWT with its private key and exchanges it at
the IAM fake for "ya29.sandbox-" access tokens, then impersonates the pipeline's account (a
second token). Around that: secret-looking environment variables (also CI variables that
pytest-metadata copies into the HTML environment table), a token inside a script the suite
reads, and credentials inside a requirements URL. Outputs searched: every document and the JSON,
JUnit XML, the self-contained HTML report, the history store when the suite has one, and the
terminal (stdout and stderr).

A second scenario uses an `authorized_user` ADC file (refresh token, OAuth client secret) whose
token endpoint fails and echoes the request back, the worst reply a failing auth path can give.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from conftest import REPO, AuditRun, TargetRepo, run_suite
from sandbox.world import World

PROJECT = "bqx-ml"

#: Secret-looking variables in the suite's environment, and what each holds.
SECRET_ENV = {
    "MY_API_TOKEN": "tok-7f3a9c1e5b2d4f6a8c0e",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY42",
    "DATABASE_PASSWORD": "hunter2-db-pass-9d8e7f",
    # pytest-metadata copies these CI variables into the HTML environment table by name.
    "GIT_URL": "https://ci-bot:ghp_GitUrlCredential0123456789abcdef@github.example.com/team/pipeline.git",
    "CIRCLE_REPOSITORY_URL": "https://x-token:CircleRepoCredential987654321@git.example.com/p.git",
}
#: The parts of SECRET_ENV values that are secret (a URL's host is not).
SECRET_ENV_VALUES = (
    "tok-7f3a9c1e5b2d4f6a8c0e",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY42",
    "hunter2-db-pass-9d8e7f",
    "ghp_GitUrlCredential0123456789abcdef",
    "CircleRepoCredential987654321",
)
SCRIPT_TOKEN = "ya29.planted-in-a-script-Zm9vYmFyYmF6cXV4"
REQUIREMENTS_TOKEN = "glpat-RequirementsUrlToken555"
REFRESH_TOKEN = "1//0refresh-token-planted-XyZ123456789"
CLIENT_SECRET = "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"


@dataclass
class Outputs:
    """Every byte the run produced, by where it went."""

    files: dict[str, bytes] = field(default_factory=dict)

    def add_tree(self, root: Path, label: str) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.files[f"{label}/{path.relative_to(root)}"] = path.read_bytes()

    @property
    def total_bytes(self) -> int:
        return sum(len(b) for b in self.files.values())

    def leaks(self, secrets: dict[str, str]) -> list[str]:
        found = []
        for where, data in self.files.items():
            for name, secret in secrets.items():
                if secret.encode() in data:
                    found.append(f"{name} in {where}")
        return found


def _write_target(target: TargetRepo) -> None:
    target.write(
        "features/generate.py",
        f"""\
        import argparse
        API_TOKEN = "{SCRIPT_TOKEN}"
        parser = argparse.ArgumentParser()
        parser.add_argument("--workers")
        """,
    )
    target.write(
        "requirements.txt",
        f"privpkg @ git+https://oauth2:{REQUIREMENTS_TOKEN}@gitlab.example.com/team/privpkg.git\n",
    )


SCRIPTS_AND_PACKAGES = """
[[scripts]]
path = "features/generate.py"
purpose = "Generate features"
category = "generation"
flags = ["--workers", "--token"]

[[packages]]
name = "privpkg"
spec = ">=1.0"
"""


def _run_everything(pytester: pytest.Pytester, manifest: Path, history: bool) -> tuple[AuditRun, Path]:
    """The suite with every output on: documents, JUnit XML, HTML, history, verbose terminal."""
    out = pytester.path
    args = [
        "-v",
        "-rA",
        f"--junitxml={out / 'junit.xml'}",
        f"--html={out / 'report.html'}",
        "--self-contained-html",
    ]
    if history:
        (out / "history").mkdir()
        args.append(f"--history={out / 'history' / 'history.sqlite'}")
    return run_suite(pytester, manifest, *args), out


def _collect(run: AuditRun, out: Path) -> Outputs:
    outputs = Outputs()
    outputs.add_tree(run.out_dir, "documents")
    for name in ("junit.xml", "report.html"):
        assert (out / name).is_file(), f"{name} was not written: {run.output}"
        outputs.files[name] = (out / name).read_bytes()
    if (out / "history").is_dir():
        outputs.add_tree(out / "history", "history")
    outputs.files["terminal"] = run.output.encode()
    return outputs


def _has_history_store() -> bool:
    return (REPO / "reporting" / "history").is_dir()


def _private_key_lines(key_file: Path) -> dict[str, str]:
    info = json.loads(key_file.read_text())
    body = [line for line in info["private_key"].splitlines() if line and not line.startswith("-----")]
    assert len(body) > 20
    lines = {f"private key line {i}": line for i, line in enumerate(body)}
    lines["private_key_id"] = info["private_key_id"]
    return lines


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / "world", PROJECT, bigquery=False, storage=False) as started:
        yield started


def test_service_account_run_leaks_no_secret(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, world: World, tmp_path: Path
) -> None:
    target = TargetRepo(tmp_path / "target")
    _write_target(target)
    pipeline = world.pipeline_account()
    manifest = target.manifest(
        SCRIPTS_AND_PACKAGES
        + f'\n[gcp]\nproject = "{PROJECT}"\nimpersonate = "{pipeline}"\ntimeout_seconds = 5\n'
        + '\n[[apis]]\nname = "bigquery.googleapis.com"\n'
    )
    for key, value in {**world.env(), **SECRET_ENV}.items():
        monkeypatch.setenv(key, value)

    run, out = _run_everything(pytester, manifest, history=_has_history_store())

    # The token exchange really happened: the source account and the impersonated one.
    issued = dict(world.iam.tokens)
    assert set(issued.values()) >= {world.runner, pipeline}, issued
    assert run.case("credentials_token", pipeline)["outcome"] == "passed", run.output
    # The planted requirement was read (so its URL reached the code that reports on it).
    assert run.case("package_pinned", "privpkg")["outcome"] == "failed"
    outputs = _collect(run, out)
    secrets = {
        **_private_key_lines(world.key_file),
        **{f"access token #{i}": t for i, t in enumerate(issued)},
        **{f"env value #{i}": v for i, v in enumerate(SECRET_ENV_VALUES)},
        "token in a script": SCRIPT_TOKEN,
        "token in a requirements URL": REQUIREMENTS_TOKEN,
    }
    assert len(outputs.files) >= 10 and outputs.total_bytes > 10_000
    print(f"scanned {len(outputs.files)} outputs, {outputs.total_bytes:,} bytes, {len(secrets)} secrets")
    assert outputs.leaks(secrets) == []
    # The CI variables were really offered to the HTML report (only their credentials go).
    html = outputs.files["report.html"].decode()
    assert "github.example.com" in html and "git.example.com" in html


class _EchoingTokenEndpoint(BaseHTTPRequestHandler):
    """A token endpoint that refuses every grant and quotes the request back in its reply."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        body = json.dumps(
            {
                "error": "invalid_grant",
                "error_description": f"Bad request: {json.dumps(form)}",
                "echo": form,
            }
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echoing_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingTokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()


def test_failing_user_credentials_leak_no_refresh_token_or_client_secret(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    echoing_endpoint: str,
) -> None:
    adc = tmp_path / "adc-user.json"
    adc.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "123-planted.apps.googleusercontent.com",
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
                "token_uri": echoing_endpoint,
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    target = TargetRepo(tmp_path / "target")
    target.write("requirements.txt", "")
    manifest = target.manifest(f'\n[gcp]\nproject = "{PROJECT}"\ntimeout_seconds = 5\n')

    run, out = _run_everything(pytester, manifest, history=False)

    case = run.case("credentials_token", "application default credentials")
    assert case["outcome"] == "error", case
    assert "credentials found but no token" in case["message"], case["message"]
    outputs = _collect(run, out)
    leaks = outputs.leaks({"refresh token": REFRESH_TOKEN, "client secret": CLIENT_SECRET})
    assert leaks == []
