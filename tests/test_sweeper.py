"""--sweep-scratch deletes the scratch leftovers of earlier runs in the manifest's datasets and
buckets that carry all three scratch marks (name pattern, `readiness-scratch` label naming the
same run, an expiry), and nothing else: not look-alike names, not a prefixed name missing a mark
(a user's manual backup, an impossible run stamp: skipped and named, the sweep goes on), not
nested objects, not another recent run's objects, not anything outside the manifest, not the
current run's names. The user's look-alike table stays in the table inventory.

One world, seeded with the leftovers of a fake crashed run (2026-01-01) beside look-alikes;
one sweeping suite run with `-n 2` (the sweep runs once, on the controller), and one run
without credentials (the sweep is reported as not done; the run goes on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import pytest
from bq_support import run_shared, write_manifest
from gcp_support import PROJECT, started_world
from google.cloud import bigquery

from checks.gcp.scratch import SCRATCH_LABEL, SCRATCH_PREFIX, ScratchNames
from checks.gcp.sweeper import Fate, fate
from conftest import AuditRun
from sandbox.world import World

#: A crashed run's names (its id: 20260101T000000-dead01), created with its label and expiry.
OLD_RUN: Final = "20260101t000000_dead01"
OLD: Final = f"{SCRATCH_PREFIX}{OLD_RUN}_"
STALE_TABLES: Final = [f"{OLD}probe_a1b2c3", f"{OLD}probe_renamed_d4e5f6"]
STALE_BLOBS: Final = [f"{OLD}probe_0a0b0c"]
#: A run that started ten minutes before this one (--readiness-now 2026-11-22T06:00): may be live.
RECENT_RUN: Final = "20261122t055000_beef01"
RECENT: Final = f"{SCRATCH_PREFIX}{RECENT_RUN}_probe_aaaaaa"
LOOK_ALIKES: Final = [
    "zz_readiness_scratchy",
    "prod_zz_readiness_scratch_x",
    "ZZ_READINESS_SCRATCH_X",
    "features",
]
#: Prefixed names that are not provably the suite's, with the mark each lacks: never deleted.
#: The first is a user's own table (rows, no label, no expiry); the second has the marks but
#: an impossible stamp (month 00), which must not make the sweep fail.
USER_BACKUP: Final = f"{SCRATCH_PREFIX}old_manual_backup"
IMPOSSIBLE: Final = f"{SCRATCH_PREFIX}20260000t000000_dead02_probe_a1b2c3"
NO_LABEL: Final = f"{OLD}nolabel_aaaa01"
NO_EXPIRY: Final = f"{OLD}noexpiry_aaaa02"
OTHER_LABEL: Final = f"{OLD}otherlabel_aaaa03"
UNPROVEN: Final = {
    USER_BACKUP: "name does not match the scratch pattern",
    IMPOSSIBLE: "impossible run stamp 20260000t000000",
    NO_LABEL: "no readiness-scratch label",
    NO_EXPIRY: "no expiry",
    OTHER_LABEL: "readiness-scratch label names another run",
}

MANIFEST_DATASETS: Final = ("sw_a", "sw_b")
MANIFEST_BUCKETS: Final = ("sw-a",)


def _body(world: World) -> str:
    text = f'\n[gcp]\nproject = "{world.project}"\ntimeout_seconds = 60\n'
    text += "".join(f'\n[[datasets]]\nid = "{d}"\n' for d in MANIFEST_DATASETS)
    return text + "".join(f'\n[[buckets]]\nname = "{b}"\n' for b in MANIFEST_BUCKETS)


@dataclass
class Sweep:
    run: AuditRun
    deletes: list[str]
    tables: dict[str, set[str]]
    blobs: dict[str, set[str]]
    without_credentials: AuditRun


def _marks(name: str) -> tuple[dict[str, str], dt.datetime | None]:
    """The label and expiry a name is created with: what a probe sets, or the missing mark."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    run = name.removeprefix(SCRATCH_PREFIX)[:22]
    if name in (USER_BACKUP, NO_LABEL):
        return {}, (None if name == USER_BACKUP else expires)
    if name == NO_EXPIRY:
        return {SCRATCH_LABEL: OLD_RUN}, None
    if name == OTHER_LABEL:
        return {SCRATCH_LABEL: RECENT_RUN}, expires
    return {SCRATCH_LABEL: run}, expires


def _create_table(bq: Any, table_id: str) -> None:
    table = bigquery.Table(table_id, schema=[bigquery.SchemaField("value", "STRING")])
    table.labels, expires = _marks(table_id.rsplit(".", 1)[-1])
    if expires is not None:
        table.expires = expires
    bq.create_table(table)


def _create_blob(gcs: Any, bucket: str, name: str) -> None:
    blob = gcs.bucket(bucket).blob(name)
    labels, expires = _marks(name.rsplit("/", 1)[-1])
    blob.metadata = labels or None
    if expires is not None:
        blob.custom_time = expires
    blob.upload_from_string(b"x")


def _tables(world: World, dataset: str) -> set[str]:
    return {t.table_id for t in world.bigquery_admin().list_tables(dataset)}


def _blobs(world: World, bucket: str) -> set[str]:
    return {b.name for b in world.storage_admin().list_blobs(bucket)}


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sweep]:
    with started_world(tmp_path_factory.mktemp("sweep-world"), bigquery=True) as world:
        bq, gcs = world.bigquery_admin(), world.storage_admin()
        for dataset in (*MANIFEST_DATASETS, "sw_other"):
            bq.create_dataset(dataset)
            for name in (*STALE_TABLES, RECENT, *LOOK_ALIKES, *UNPROVEN):
                _create_table(bq, f"{PROJECT}.{dataset}.{name}")
        # The user's backup holds data: the inventory must count it as theirs.
        bq.query(f"INSERT INTO `{PROJECT}.sw_a.{USER_BACKUP}` (value) VALUES ('a'), ('b'), ('c')").result()
        for bucket in (*MANIFEST_BUCKETS, "sw-other"):
            gcs.create_bucket(bucket)
            for name in (*STALE_BLOBS, RECENT, *LOOK_ALIKES, *UNPROVEN, f"ckpt/{OLD}nested"):
                _create_blob(gcs, bucket, name)
        assert world.bq_front is not None and world.gcs_front is not None
        world.bq_front.reset_counts()
        world.gcs_front.reset_counts()
        work = tmp_path_factory.mktemp("sweep-run")
        run = run_shared(
            work,
            write_manifest(work, _body(world)),
            world.env(),
            "--sweep-scratch",
            "-n",
            "2",
            "-k",
            "credentials_token or dataset_inventory",
        )
        deletes = [
            t
            for server in (world.bq_front, world.gcs_front)
            for _, m, t in server.request_log
            if m == "DELETE"
        ]
        env = world.env()
        del env["GOOGLE_APPLICATION_CREDENTIALS"]
        (work / "empty-gcloud").mkdir()
        env["CLOUDSDK_CONFIG"] = str(work / "empty-gcloud")
        bare = tmp_path_factory.mktemp("sweep-no-credentials")
        without = run_shared(bare, write_manifest(bare, _body(world)), env, "--sweep-scratch")
        yield Sweep(
            run,
            deletes,
            {d: _tables(world, d) for d in (*MANIFEST_DATASETS, "sw_other")},
            {b: _blobs(world, b) for b in (*MANIFEST_BUCKETS, "sw-other")},
            without,
        )


def test_only_the_stale_scratch_leftovers_in_the_manifest_are_deleted(swept: Sweep) -> None:
    for dataset in MANIFEST_DATASETS:
        assert swept.tables[dataset] == {RECENT, *LOOK_ALIKES, *UNPROVEN}
    assert swept.blobs["sw-a"] == {RECENT, *LOOK_ALIKES, *UNPROVEN, f"ckpt/{OLD}nested"}
    # Outside the manifest nothing is touched, leftovers included.
    assert swept.tables["sw_other"] == {*STALE_TABLES, RECENT, *LOOK_ALIKES, *UNPROVEN}
    assert swept.blobs["sw-other"] == {*STALE_BLOBS, RECENT, *LOOK_ALIKES, *UNPROVEN, f"ckpt/{OLD}nested"}


def test_each_leftover_is_deleted_once_by_the_controller_alone(swept: Sweep) -> None:
    expected = 2 * len(STALE_TABLES) + len(STALE_BLOBS)
    assert len(swept.deletes) == expected, swept.deletes  # two xdist workers swept nothing
    assert all(SCRATCH_PREFIX in t for t in swept.deletes)


def test_the_sweep_is_in_the_results_json_and_the_terminal_summary(swept: Sweep) -> None:
    report = swept.run.json()["scratch_sweep"]
    expected = sorted(
        [f"{PROJECT}.{d}.{t}" for d in MANIFEST_DATASETS for t in STALE_TABLES]
        + [f"gs://sw-a/{b}" for b in STALE_BLOBS]
    )
    assert sorted(report["swept_names"]) == expected
    assert report["swept"] == len(expected)
    assert sorted(report["kept_names"]) == sorted(
        [f"{PROJECT}.{d}.{RECENT}" for d in MANIFEST_DATASETS] + [f"gs://sw-a/{RECENT}"]
    )
    assert (report["failed"], report["error"]) == (0, "")
    skipped = sorted(
        [f"{PROJECT}.{d}.{n} ({why})" for d in MANIFEST_DATASETS for n, why in UNPROVEN.items()]
        + [f"gs://sw-a/{n} ({why})" for n, why in UNPROVEN.items()]
    )
    assert sorted(report["skipped_names"]) == skipped
    swept.run.result.stdout.fnmatch_lines(
        [
            "*- scratch sweep -*",
            f"  {len(expected)} stale scratch object(s) deleted, 3 of a recent run kept, "
            f"{len(skipped)} not provably scratch skipped, 0 failure(s)",
            f"  deleted {PROJECT}.sw_a.{OLD}probe_a1b2c3",
        ]
    )
    swept.run.result.stdout.fnmatch_lines(
        [f"  skipped {PROJECT}.sw_a.{IMPOSSIBLE} (impossible run stamp 20260000t000000): not provably*"]
    )
    # The audit itself ran as usual.
    cases = swept.run.json()["cases"]
    assert sorted(c["criterion"] for c in cases) == [
        "credentials_token",
        "dataset_inventory",
        "dataset_inventory",
    ]


def test_a_users_look_alike_table_stays_in_the_table_inventory(swept: Sweep) -> None:
    inventory = next(
        c
        for c in swept.run.json()["cases"]
        if c["criterion"] == "dataset_inventory" and "sw_a" in c["subject"]
    )
    facts = inventory["facts"]
    names = [row[0] for row in facts["inventory"]["rows"]]
    assert USER_BACKUP in names and IMPOSSIBLE in names
    assert USER_BACKUP not in facts.get("scratch_tables", [])
    # Its three rows count as the user's data.
    assert facts["rows"] == 3


def test_a_sweep_without_credentials_is_reported_and_the_run_goes_on(swept: Sweep) -> None:
    run = swept.without_credentials
    assert run.ret in (0, 1), run.output
    report = run.json()["scratch_sweep"]
    assert report["swept"] == 0
    assert report["error"].startswith("unverified: no credentials")
    run.result.stdout.fnmatch_lines(["*- scratch sweep -*", "  not swept: unverified: no credentials*"])


def test_the_current_runs_names_and_look_alikes_are_never_stale() -> None:
    started = dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC)
    current = ScratchNames("20261122T060000-c0ffee")
    expires = ScratchNames.expiry(started)
    ours = current.name("probe")
    assert fate(ours, current, started, current.labels, expires) == (Fate.OURS, "")
    assert fate(RECENT, current, started, *_marks(RECENT)) == (Fate.RECENT, "")
    assert fate(f"{OLD}probe_abcdef", current, started, *_marks(f"{OLD}probe_abcdef")) == (Fate.STALE, "")
    # A bare prefix, or a full name without the label or the expiry, is never stale.
    assert fate(f"{SCRATCH_PREFIX}manual_leftover", current, started)[0] is Fate.UNPROVEN
    assert fate(f"{OLD}probe_abcdef", current, started, {}, expires)[0] is Fate.UNPROVEN
    assert fate(f"{OLD}probe_abcdef", current, started, {SCRATCH_LABEL: OLD_RUN}, None)[0] is Fate.UNPROVEN
    for name in LOOK_ALIKES:
        assert fate(name, current, started) == (Fate.OTHER, "")
    # The same run id a day later is an earlier run: stale.
    later = ScratchNames("20261123T060000-c0ffee")
    assert fate(ours, later, started + dt.timedelta(days=1), current.labels, expires)[0] is Fate.STALE
