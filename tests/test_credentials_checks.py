"""Credential checks end to end: real service-account JWTs exchanged at the world's IAM fake.

Each scenario is its own suite run (the identity differs): impersonation granted, the runner
itself, impersonation refused, and no credentials at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from gcp_support import PROJECT, facts, gcp_section, outcome, run_in_world, started_world, verdict

from conftest import AuditRun, TargetRepo
from sandbox.fakes.auth import UserKey
from sandbox.world import World

NOW = dt.datetime.now(dt.UTC)
#: Google cases beyond the credentials, so "every Google case" covers other criteria too.
_OTHERS = """
[[buckets]]
name = "ckpt-bkt"

[[apis]]
name = "bigquery.googleapis.com"
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started_world(tmp_path_factory.mktemp("cred-world")) as world:
        world.storage_admin().create_bucket("ckpt-bkt")
        world.service_usage.set_service(PROJECT, "bigquery.googleapis.com", "ENABLED")
        pipeline = world.pipeline_account()
        world.iam.add_key(pipeline, UserKey("0a1b2c-old", NOW - dt.timedelta(days=200)))
        world.iam.add_key(pipeline, UserKey("3d4e5f-new", NOW - dt.timedelta(days=3)))
        world.iam.add_key(world.runner, UserKey("9f8e7d-runner", NOW - dt.timedelta(days=10)))
        # Exists, but nobody was granted roles/iam.serviceAccountTokenCreator on it.
        world.iam.add_account(f"locked@{PROJECT}.iam.gserviceaccount.com")
        yield world


def _google_cases(run: AuditRun) -> list[dict[str, object]]:
    cases = run.json()["cases"]
    assert {c["criterion"] for c in cases} >= {"credentials_token", "bucket_reachable", "api_enabled"}
    return list(cases)


def test_impersonation_yields_a_token_and_old_user_managed_key_is_a_finding(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, world: World, target: TargetRepo
) -> None:
    pipeline = f"pipeline@{PROJECT}.iam.gserviceaccount.com"
    run = run_in_world(pytester, monkeypatch, world, target, gcp_section(world, impersonate=pipeline))
    assert outcome(run, "credentials_token", pipeline) == ("passed", "")
    assert facts(run, "credentials_token", pipeline)["principal"] == pipeline
    assert outcome(run, "credentials_impersonation", pipeline) == ("passed", "")
    assert facts(run, "credentials_impersonation", pipeline)["source_principal"] == world.runner
    state, message = outcome(run, "sa_key_age", pipeline)
    assert state == "failed"
    assert message == f"{pipeline}: 1 user-managed key(s) older than 90 days: 0a1b2c-old (200 days)"
    assert facts(run, "sa_key_age", pipeline)["user_managed_keys"] == 2


def test_application_default_credentials_without_impersonation_pass_with_fresh_keys(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, world: World, target: TargetRepo
) -> None:
    subject = "application default credentials"
    run = run_in_world(pytester, monkeypatch, world, target, gcp_section(world))
    assert outcome(run, "credentials_token", subject) == ("passed", "")
    assert facts(run, "credentials_token", subject)["principal"] == world.runner
    assert outcome(run, "sa_key_age", subject) == ("passed", "")
    assert facts(run, "sa_key_age", subject)["user_managed_keys"] == 1
    assert not [c for c in run.json()["cases"] if c["criterion"] == "credentials_impersonation"]
    assert verdict(run) == "GO"


def test_refused_impersonation_leaves_every_google_case_unverified(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, world: World, target: TargetRepo
) -> None:
    locked = f"locked@{PROJECT}.iam.gserviceaccount.com"
    body = gcp_section(world, impersonate=locked) + _OTHERS
    run = run_in_world(pytester, monkeypatch, world, target, body)
    for case in _google_cases(run):
        assert case["outcome"] == "error", case
        message = str(case["message"])
        assert f"cannot impersonate {locked} as {world.runner}" in message, case
        # The refusal's reason, from the error reply (never the body of a token reply).
        assert "PERMISSION_DENIED: Permission 'iam.serviceAccounts.getAccessToken' denied" in message
    assert verdict(run) == "NO-GO"


def test_no_credentials_at_all_is_an_error_per_google_case_naming_the_login_command(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    target: TargetRepo,
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty-gcloud-config"
    empty.mkdir()
    env = dict(world.env(), CLOUDSDK_CONFIG=str(empty), NO_GCE_CHECK="true")
    body = gcp_section(world) + _OTHERS
    world.iam.reset_counts()
    run = run_in_world(
        pytester, monkeypatch, world, target, body, env=env, unset=("GOOGLE_APPLICATION_CREDENTIALS",)
    )
    for case in _google_cases(run):
        assert case["outcome"] == "error", case
        assert "no credentials" in str(case["message"]), case
        assert "gcloud auth application-default login" in str(case["message"]), case
    assert verdict(run) == "NO-GO"
    assert world.iam.request_count() == 0  # nothing was found to ask a token with
