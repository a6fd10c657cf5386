"""The example pipeline's Google Cloud, for `pytest --sandbox` (see readiness.toml's [sandbox]).

A small stand-in for project bqx-ml-demo with the defects the README's table lists. Kept to
about thirty tables: the local BigQuery emulator slows down sharply as tables accumulate.
"""

from __future__ import annotations

import datetime as dt

from readiness.manifest import LoadedManifest
from sandbox.fakes import QuotaInfoSeed, QuotaLimit, RunCondition, RunExecution, RunJob
from sandbox.fakes.auth import UserKey
from sandbox.seed import (
    TableSpec,
    ViewSpec,
    create_tables,
    create_views,
    ensure_identity,
    grant,
    rfc3339,
)
from sandbox.world import World

FEATURES = "bqx_ml_v3_features"
SOURCE = "bqx_ml_v3_source"
KEYS = ("interval_time", "pair")
GIB = 1024**3


def _t(name: str, *extra: str, columns: tuple[str, ...] = KEYS) -> TableSpec:
    pair = next((p for p in ("eurusd", "gbpusd", "usdjpy", "audusd") if p in name.lower()), "eurusd")
    return TableSpec(name, [*columns, *extra] or ["value"], rows=4, pair=pair)


# fmt: off
FEATURE_TABLES = [
    # TRI: compliant.
    _t("tri_agg_eurusd", "tri_value"), _t("tri_agg_gbpusd", "tri_value"), _t("tri_align_eurusd", "tri_value"),
    # COV: three renamed in 4C so far; three still break M008 (upper case, short pair).
    _t("cov_agg_eurusd", "cov_value"), _t("cov_agg_gbpusd", "cov_value"), _t("cov_agg_usdjpy", "cov_value"),
    _t("COV_AGG_AUDUSD", "cov_value"), _t("COV_ALIGN_EURUSD", "cov_value"), _t("cov_align_gbp", "cov_value"),
    # CORR: one name without its variant, one column not in snake case.
    _t("corr_etf_eurusd", "corr_value"), _t("corr_ibkr_eurusd", "corr_value"),
    _t("corr_pair_gbpusd", "CorrValue"), _t("corr_eurusd", "corr_value"),
    # MKT: mkt_reg_us500 lacks the `pair` join key (M005).
    _t("mkt_agg_global", "mkt_value"), _t("mkt_agg_vix", "mkt_value"),
    _t("mkt_reg_us500", "mkt_value", columns=("interval_time",)),
    # REG: reg_idx_gbpusd has `ts` instead of `interval_time` (M005).
    _t("reg_bqx_eurusd", "reg_value"), _t("reg_bqx_gbpusd", "reg_value"), _t("reg_idx_eurusd", "reg_value"),
    _t("reg_idx_gbpusd", "reg_value", columns=("ts", "pair")),
    # LAG: two per-window tables that 4C consolidates still exist under non-compliant names.
    _t("lag_bqx_eurusd", "lag_value"), _t("lag_bqx_gbpusd", "lag_value"), _t("lag_idx_eurusd", "lag_value"),
    _t("lag_bqx_eurusd_45", "lag_value"), _t("lag_bqx_eurusd_90", "lag_value"),
    # VAR: the rename script is missing, so two legacy names remain.
    _t("var_bqx_eurusd", "var_value"), _t("var_idx_usdjpy", "var_value"),
    _t("VAR_BQX_GBPUSD", "var_value"), _t("var_eurusd_bqx", "var_value"),
]
# fmt: on


def seed(world: World, manifest: LoadedManifest) -> None:
    now = dt.datetime.now(dt.UTC)
    gcp = manifest.manifest.gcp
    assert gcp is not None
    pipeline = ensure_identity(world, gcp)
    # One user-managed key, three weeks old: inside the 90-day limit.
    world.iam.add_key(pipeline, UserKey("4f1c0ffee0ddba11", now - dt.timedelta(days=21)))

    # -- BigQuery -------------------------------------------------------------------------------
    tables = create_tables(world, FEATURES, FEATURE_TABLES)
    tables += create_tables(
        world,
        SOURCE,
        [
            TableSpec("ohlc_m1_eurusd", [*KEYS, "open", "close"], rows=60),
            # Loaded nine days ago and never since: older than the 48 h the manifest allows.
            TableSpec(
                "ohlc_m1_gbpusd",
                [*KEYS, "open", "close"],
                rows=60,
                pair="gbpusd",
                last_modified=now - dt.timedelta(days=9),
            ),
        ],
    )
    # Legacy names of the renamed COV tables: one view expires in time, one 60 days out
    # (past the 30-day grace), and cov_gbpusd_agg was never created.
    tables += create_views(
        world,
        FEATURES,
        [
            ViewSpec("cov_eurusd_agg", "cov_agg_eurusd", now + dt.timedelta(days=20)),
            ViewSpec("cov_usdjpy_agg", "cov_agg_usdjpy", now + dt.timedelta(days=60)),
        ],
    )
    # The Cloud Billing export: one daily-partitioned cost table, written three hours ago.
    create_tables(
        world,
        "billing_export",
        [
            TableSpec(
                "gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9",
                ["usage_start_time", "service_description", "cost"],
                rows=5,
                last_modified=now - dt.timedelta(hours=3),
            )
        ],
    )
    front = world.bq_front
    assert front is not None
    # What a dry run reads: the LAG consolidation scans two 350 GiB tables, 28 times
    # (0.68 TiB x $6.25 x 28 = about $120 against the phase's $50 budget).
    for window in ("45", "90"):
        front.set_table_bytes(f"{world.project}.{FEATURES}.lag_bqx_eurusd_{window}", 350 * GIB)

    # -- Cloud Storage: checkpoints of the last extraction ----------------------------------------
    bucket = world.storage_admin().create_bucket("bqx-ml-demo-checkpoints")
    for table in ("lag_bqx_eurusd", "lag_bqx_gbpusd", "cov_agg_eurusd"):
        bucket.blob(f"checkpoints/{table}/part-00000.parquet").upload_from_string(b"PAR1 demo")
    grant(
        world,
        "bucket:bqx-ml-demo-checkpoints",
        [
            "storage.buckets.get",
            "storage.objects.create",
            "storage.objects.get",
            "storage.objects.list",
            "storage.objects.delete",
        ],
    )

    # -- Cloud Run ---------------------------------------------------------------------------
    image = f"{gcp.region}-docker.pkg.dev/{world.project}/bqx"
    done = rfc3339(now - dt.timedelta(days=2))
    world.cloud_run.add_job(
        world.project,
        gcp.region,
        RunJob(
            name="bqx-ml-demo-extract",
            image=f"{image}/extract:2026-11-18",
            service_account=pipeline,
            timeout="86400s",
            create_time=rfc3339(now - dt.timedelta(days=5)),
            executions=[
                RunExecution("bqx-ml-demo-extract-p4r8d", succeeded_count=8, task_count=8,
                             create_time=rfc3339(now - dt.timedelta(days=2, hours=6)), completion_time=done),
            ],
            permissions={"run.jobs.run", "run.executions.get"},
        ),
    )
    world.cloud_run.add_job(
        world.project,
        gcp.region,
        RunJob(
            name="bqx-ml-demo-merge",
            image=f"{image}/merge:2026-11-18",
            service_account=pipeline,
            timeout="86400s",
            create_time=rfc3339(now - dt.timedelta(days=5)),
            executions=[
                RunExecution("bqx-ml-demo-merge-b2k9q", succeeded_count=1,
                             create_time=rfc3339(now - dt.timedelta(days=4)),
                             completion_time=rfc3339(now - dt.timedelta(days=4) + dt.timedelta(hours=1))),
                # The latest run failed: merge_only.sh could not find scripts/merge/ in the image.
                RunExecution(
                    "bqx-ml-demo-merge-x7k2p",
                    failed_count=1,
                    create_time=rfc3339(now - dt.timedelta(days=1, hours=2)),
                    completion_time=rfc3339(now - dt.timedelta(days=1)),
                    conditions=[
                        RunCondition(
                            "Completed",
                            "CONDITION_FAILED",
                            message="Task bqx-ml-demo-merge-x7k2p-task0 failed with exit code 127",
                            execution_reason="NON_ZERO_EXIT_CODE",
                            last_transition_time=rfc3339(now - dt.timedelta(days=1)),
                        )
                    ],
                ),
            ],
            permissions={"run.jobs.run", "run.executions.get"},
        ),
    )

    # -- IAM: every table is known to the front; the project grant lacks getData ----------------
    for table_id in tables:
        grant(world, f"table:{table_id}", ["bigquery.tables.get", "bigquery.tables.getData"])
    grant(
        world,
        "project",
        ["bigquery.jobs.create", "bigquery.tables.create", "bigquery.tables.update", "bigquery.tables.delete"],
    )

    # -- quotas and APIs --------------------------------------------------------------------------
    world.quotas.add_quota(
        world.project,
        "bigquery.googleapis.com",
        QuotaInfoSeed(
            quota_id="QueryUsagePerDay",
            metric="bigquery.googleapis.com/quota/query/usage",
            limits=[QuotaLimit(-1)],  # on-demand projects have no daily cap unless one is set
            metric_unit="MiBy/d/{project}",
            refresh_interval="day",
        ),
    )
    world.quotas.add_quota(
        world.project,
        "run.googleapis.com",
        QuotaInfoSeed(
            quota_id="CpuAllocPerProjectRegion",
            metric="run.googleapis.com/cpu_allocation",
            limits=[QuotaLimit(40, {"region": gcp.region})],  # 36 planned: 90 % of it
            dimensions=["region"],
        ),
    )
    for api in ("bigquery", "storage", "run", "iam"):
        world.service_usage.set_service(world.project, f"{api}.googleapis.com", "ENABLED")
    world.service_usage.set_service(world.project, "cloudbuild.googleapis.com", "DISABLED")
