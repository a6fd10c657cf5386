"""The readiness criteria: one per check function, with the metadata a blocker report needs.

Each check function names its criterion with `@pytest.mark.criterion("id")`; the manifest may
override a criterion's blocker metadata under `[criteria.<id>]`, and an unknown id there is a
manifest error, so this table is the single list of what the suite can verify. A criterion's
declaration says everything the rest of the suite asks of it: what it is applied to (`subject`,
`script_kinds`, `needs`, `undeclared`), where the infrastructure report shows it (`section`)
and what its blocker says.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["CRITERIA", "Area", "Criterion", "Needs", "Section", "SubjectKind"]


class SubjectKind(StrEnum):
    """What a criterion is parametrized over: one manifest section each."""

    SCRIPT = "script"
    PACKAGE = "package"
    TOOL = "tool"
    IDENTITY = "identity"
    DATASET = "dataset"
    #: A mandate family applied to a dataset (derived from `datasets[].mandates`).
    FAMILY = "family"
    SOURCE_TABLE = "source table"
    LEGACY_VIEWS = "legacy views"
    QUERY = "query"
    BUCKET = "bucket"
    JOB = "job"
    PERMISSION_SET = "permissions"
    QUOTA = "quota"
    API = "api"
    #: The Cloud Billing export dataset (`[billing]`).
    BILLING = "billing export"

    @property
    def google(self) -> bool:
        """Criteria over this kind talk to Google APIs (and need credentials)."""
        return self not in (SubjectKind.SCRIPT, SubjectKind.PACKAGE, SubjectKind.TOOL)

    @property
    def manifest_field(self) -> str:
        """The manifest's list of items of this kind; "" for a kind derived from other items
        (the identity from `[gcp]`, a mandate family from `datasets[].mandates`)."""
        return _MANIFEST_FIELD.get(self, "")


_MANIFEST_FIELD: Final[dict[SubjectKind, str]] = {
    SubjectKind.SCRIPT: "scripts",
    SubjectKind.PACKAGE: "packages",
    SubjectKind.TOOL: "tools",
    SubjectKind.DATASET: "datasets",
    SubjectKind.SOURCE_TABLE: "source_tables",
    SubjectKind.LEGACY_VIEWS: "legacy_views",
    SubjectKind.QUERY: "queries",
    SubjectKind.BUCKET: "buckets",
    SubjectKind.JOB: "jobs",
    SubjectKind.PERMISSION_SET: "permissions",
    SubjectKind.QUOTA: "quotas",
    SubjectKind.API: "apis",
}


class Section(StrEnum):
    """The infrastructure report's sections, in its order; every one has its summary columns
    (reporting/documents/infrastructure.py), and one none of whose checks ran says so."""

    CREDENTIALS = "Credentials and identity"
    BIGQUERY = "BigQuery datasets"
    MANDATES = "Naming and schema mandates"
    DATA = "Data dependencies"
    STORAGE = "Cloud Storage"
    CLOUD_RUN = "Cloud Run jobs"
    CONTAINERS = "Container builds"
    IAM = "IAM permissions"
    QUOTAS = "Quotas and cost"
    APIS = "Enabled APIs"


class Needs(StrEnum):
    """What an item must have for a criterion to apply to it; without it no case is generated
    (readiness/cases.py holds one test per member)."""

    #: The script is in the tree: a missing one is reported once, by script_exists, instead of
    #: once per criterion.
    FILE = "file"
    #: The script declares the flags the runbook passes.
    FLAGS = "flags"
    #: `[gcp].impersonate` names a service account.
    IMPERSONATION = "impersonation"
    #: The phase writes to the dataset or bucket (`writes = true`).
    WRITES = "writes"
    #: The mandate family lists required columns.
    REQUIRED_COLUMNS = "required columns"
    #: The mandate family has a table or column name pattern.
    NAME_PATTERN = "name pattern"
    #: The bucket declares where its checkpoints are.
    CHECKPOINT_PREFIX = "checkpoint prefix"
    #: The script declares tables it reads or writes, and a mandate has a table name pattern.
    DECLARED_TABLES = "declared tables and a naming mandate"
    #: The script declares tables it writes, a mandate lists required columns, BigQuery is audited.
    DECLARED_WRITES = "declared writes and a schema mandate"
    #: The script declares tables it reads or queries it runs, and BigQuery is audited.
    DECLARED_READS = "declared reads or queries"
    #: The shell script is started by its path (`./x.sh`), not by `bash x.sh` or `source`.
    RUN_BY_PATH = "run by path"


class Area(StrEnum):
    """Where a blocker belongs in the review (the team's issue categories)."""

    SCRIPTS = "scripts"
    DEPENDENCIES = "dependencies"
    INFRASTRUCTURE = "infrastructure"
    DATA_QUALITY = "data quality"
    NAMING = "naming"


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    #: Short phrase used in reports: "<subject>: <title> failed".
    title: str
    subject: SubjectKind
    area: Area
    #: Script kinds (python, shell, dockerfile, cloudbuild) the criterion applies to; empty = all.
    script_kinds: tuple[str, ...] = ()
    #: Section of the infrastructure report the criterion fills (None = not infrastructure).
    section: Section | None = None
    #: What an item must have for the criterion to apply to it (all of them).
    needs: tuple[Needs, ...] = ()
    #: Also applied to scripts the manifest does not name (readiness/undeclared.py): only
    #: criteria that need nothing a declaration says (no flags, no purpose, no phase).
    undeclared: bool = False
    #: Its case records what the inventory says of the script (lines, dependencies, execution
    #: mode, last change): one criterion per script kind, applied wherever the file is.
    describes: bool = False
    impact: str = ""
    mitigation: str = ""
    action: str = ""
    #: Also reads Google Cloud though its subject is local (a script's tables): without
    #: credentials it could not run, like every Google case.
    reads_google: bool = False


CRITERIA: Final[dict[str, Criterion]] = {
    c.id: c
    for c in (
        Criterion(
            "script_exists",
            "script exists",
            SubjectKind.SCRIPT,
            Area.SCRIPTS,
            impact="the steps this script performs cannot run",
            mitigation="create the script before the phase starts",
            action="write and review the script; estimate from the manifest",
        ),
        Criterion(
            "python_parses",
            "Python source parses",
            SubjectKind.SCRIPT,
            Area.SCRIPTS,
            ("python",),
            needs=(Needs.FILE,),
            undeclared=True,
            describes=True,
            impact="the script fails at start-up",
            action="fix the syntax error",
        ),
        Criterion(
            "shell_parses",
            "shell script parses (bash -n)",
            SubjectKind.SCRIPT,
            Area.SCRIPTS,
            ("shell",),
            needs=(Needs.FILE,),
            undeclared=True,
            describes=True,
            impact="the script fails at start-up",
            action="fix the syntax error",
        ),
        Criterion(
            "shell_executable",
            "shell script is executable",
            SubjectKind.SCRIPT,
            Area.SCRIPTS,
            ("shell",),
            # Only where the script is started as `./x.sh` (`started_with`, default "path"): run
            # with `bash x.sh` or sourced, neither the bit nor the shebang is read. Not on
            # undeclared scripts: how they are started only a declaration says.
            needs=(Needs.FILE, Needs.RUN_BY_PATH),
            impact="direct invocation fails with 'permission denied'",
            mitigation='invoke through `bash script.sh` and declare started_with = "bash"',
            action="chmod +x and commit the mode",
        ),
        Criterion(
            "imports_resolve",
            "imports resolve",
            SubjectKind.SCRIPT,
            Area.DEPENDENCIES,
            ("python",),
            needs=(Needs.FILE,),
            undeclared=True,
            impact="the script fails with ModuleNotFoundError",
            action="add the missing package to the requirements and the runtime image",
        ),
        Criterion(
            "cli_flags",
            "expected CLI flags are defined",
            SubjectKind.SCRIPT,
            Area.SCRIPTS,
            ("python", "shell"),
            needs=(Needs.FILE, Needs.FLAGS),
            impact="the runbook's invocation is rejected or silently ignores the flag",
            action="add the flags to the script's argument parser",
        ),
        Criterion(
            "docker_sources",
            "Dockerfile COPY/ADD sources exist",
            SubjectKind.SCRIPT,
            Area.INFRASTRUCTURE,
            ("dockerfile",),
            needs=(Needs.FILE,),
            undeclared=True,
            describes=True,
            section=Section.CONTAINERS,
            impact="the image build fails",
            action="fix the COPY/ADD paths or add the files",
        ),
        Criterion(
            "docker_entrypoint",
            "ENTRYPOINT/CMD script exists",
            SubjectKind.SCRIPT,
            Area.INFRASTRUCTURE,
            ("dockerfile",),
            needs=(Needs.FILE,),
            section=Section.CONTAINERS,
            impact="the container exits at start",
            action="point ENTRYPOINT/CMD at a script copied into the image",
        ),
        Criterion(
            "cloudbuild_parses",
            "Cloud Build config parses",
            SubjectKind.SCRIPT,
            Area.INFRASTRUCTURE,
            ("cloudbuild",),
            needs=(Needs.FILE,),
            undeclared=True,
            describes=True,
            section=Section.CONTAINERS,
            impact="the build cannot be submitted",
            action="fix the YAML",
        ),
        Criterion(
            "cloudbuild_dockerfile",
            "Cloud Build names an existing Dockerfile",
            SubjectKind.SCRIPT,
            Area.INFRASTRUCTURE,
            ("cloudbuild",),
            needs=(Needs.FILE,),
            section=Section.CONTAINERS,
            impact="the build fails at the docker step",
            action="fix the -f path or add the Dockerfile",
        ),
        Criterion(
            "script_naming",
            "tables it reads and writes follow the naming mandate",
            SubjectKind.SCRIPT,
            Area.NAMING,
            section=Section.MANDATES,
            impact="the script creates or consumes names that downstream code does not expect",
            action="make the names it writes follow the mandate; read the renamed tables",
            needs=(Needs.FILE, Needs.DECLARED_TABLES),
            reads_google=True,
        ),
        Criterion(
            "script_schema",
            "its output tables carry the mandated columns",
            SubjectKind.SCRIPT,
            Area.DATA_QUALITY,
            section=Section.MANDATES,
            impact="feature joins and training reads fail on the script's output",
            action="add the mandated columns to the script's output schema",
            needs=(Needs.FILE, Needs.DECLARED_WRITES),
            reads_google=True,
        ),
        Criterion(
            "script_cost",
            "estimated cost within the phase budget",
            SubjectKind.SCRIPT,
            Area.INFRASTRUCTURE,
            section=Section.QUOTAS,
            impact="running the script overruns the phase's budget",
            action="narrow what the script reads (partitions, columns) or raise the budget",
            needs=(Needs.FILE, Needs.DECLARED_READS),
            reads_google=True,
        ),
        Criterion(
            "package_installed",
            "installed version satisfies the specifier",
            SubjectKind.PACKAGE,
            Area.DEPENDENCIES,
            impact="scripts fail or behave differently at run time",
            action="install the required version",
        ),
        Criterion(
            "package_pinned",
            "requirements pin satisfies the specifier",
            SubjectKind.PACKAGE,
            Area.DEPENDENCIES,
            impact="fresh environments (Cloud Run images) get an unsuitable version",
            action="pin a version inside the specifier in the requirements file",
        ),
        Criterion(
            "tool_available",
            "on PATH at or above the minimum version",
            SubjectKind.TOOL,
            Area.DEPENDENCIES,
            impact="operators cannot run the phase's commands",
            action="install or upgrade the tool",
        ),
        # -- the Google side ---------------------------------------------------------------
        Criterion(
            "credentials_token",
            "credentials yield an access token",
            SubjectKind.IDENTITY,
            Area.INFRASTRUCTURE,
            section=Section.CREDENTIALS,
            impact="nothing on Google Cloud can be run or verified",
            action="run `gcloud auth application-default login` or provide workload identity",
        ),
        Criterion(
            "credentials_impersonation",
            "pipeline service account can be impersonated",
            SubjectKind.IDENTITY,
            Area.INFRASTRUCTURE,
            needs=(Needs.IMPERSONATION,),
            section=Section.CREDENTIALS,
            impact="checks and jobs cannot act as the pipeline identity",
            action="grant roles/iam.serviceAccountTokenCreator on the service account",
        ),
        Criterion(
            "sa_key_age",
            "no user-managed key older than the limit",
            SubjectKind.IDENTITY,
            Area.INFRASTRUCTURE,
            section=Section.CREDENTIALS,
            impact="a long-lived key is a standing credential-leak risk",
            action="rotate or delete the key; prefer workload identity",
        ),
        Criterion(
            "dataset_reachable",
            "dataset is reachable",
            SubjectKind.DATASET,
            Area.INFRASTRUCTURE,
            section=Section.BIGQUERY,
            impact="the phase cannot read or write its tables",
            action="create the dataset or grant access to the pipeline identity",
        ),
        Criterion(
            "dataset_inventory",
            "table inventory as expected",
            SubjectKind.DATASET,
            Area.DATA_QUALITY,
            section=Section.BIGQUERY,
            impact="tables the phase expects are absent",
            action="regenerate the missing tables before the phase starts",
        ),
        Criterion(
            "bq_write_probe",
            "pipeline identity can create, rename and delete tables",
            SubjectKind.DATASET,
            Area.INFRASTRUCTURE,
            needs=(Needs.WRITES,),
            section=Section.BIGQUERY,
            impact="the phase's writes fail part-way",
            action="grant roles/bigquery.dataEditor on the dataset to the pipeline identity",
        ),
        Criterion(
            "naming_mandate",
            "table and column names follow the mandate",
            SubjectKind.FAMILY,
            Area.NAMING,
            needs=(Needs.NAME_PATTERN,),
            section=Section.MANDATES,
            impact="downstream code that relies on the mandated names breaks",
            action="rename the non-compliant tables (see the inventory for the full list)",
        ),
        Criterion(
            "schema_mandate",
            "tables carry the mandated columns",
            SubjectKind.FAMILY,
            Area.DATA_QUALITY,
            needs=(Needs.REQUIRED_COLUMNS,),
            section=Section.MANDATES,
            impact="feature joins and training reads fail on missing columns",
            action="regenerate the tables with the mandated schema",
        ),
        Criterion(
            "legacy_views",
            "legacy names are views expiring within the grace period",
            SubjectKind.LEGACY_VIEWS,
            Area.NAMING,
            section=Section.MANDATES,
            impact="consumers of the old names break at the rename",
            action="create the legacy-name views with an expiration inside the grace period",
        ),
        Criterion(
            "source_fresh",
            "source table exists, is non-empty and fresh",
            SubjectKind.SOURCE_TABLE,
            Area.DATA_QUALITY,
            section=Section.DATA,
            impact="derived tables would be generated from stale or missing data",
            action="re-run the upstream load before the generation starts",
        ),
        Criterion(
            "query_cost",
            "dry-run cost within the phase budget",
            SubjectKind.QUERY,
            Area.INFRASTRUCTURE,
            section=Section.QUOTAS,
            impact="the phase overruns its budget or the daily quota",
            action="partition/cluster the tables or narrow the queries",
        ),
        Criterion(
            "billing_export",
            "billing export receives data and the phase budget is declared",
            SubjectKind.BILLING,
            Area.INFRASTRUCTURE,
            section=Section.QUOTAS,
            impact="the phase's spending is not tracked: an overrun is seen only on the invoice",
            action="enable the Cloud Billing export to BigQuery and declare the phase's budget_usd",
        ),
        Criterion(
            "bucket_reachable",
            "bucket is reachable",
            SubjectKind.BUCKET,
            Area.INFRASTRUCTURE,
            section=Section.STORAGE,
            impact="extract and merge jobs cannot read or write checkpoints",
            action="create the bucket or grant access to the pipeline identity",
        ),
        Criterion(
            "checkpoint_fresh",
            "checkpoints are readable and recent",
            SubjectKind.BUCKET,
            Area.DATA_QUALITY,
            needs=(Needs.CHECKPOINT_PREFIX,),
            section=Section.STORAGE,
            impact="a resumed run starts from stale checkpoints",
            action="re-run the extraction that writes the checkpoints",
        ),
        Criterion(
            "gcs_write_probe",
            "pipeline identity can write, read back and delete objects",
            SubjectKind.BUCKET,
            Area.INFRASTRUCTURE,
            needs=(Needs.WRITES,),
            section=Section.STORAGE,
            impact="checkpoint writes fail during the run",
            action="grant roles/storage.objectAdmin on the bucket to the pipeline identity",
        ),
        Criterion(
            "run_job_ready",
            "Cloud Run job exists and is ready",
            SubjectKind.JOB,
            Area.INFRASTRUCTURE,
            section=Section.CLOUD_RUN,
            impact="the job cannot be executed",
            action="deploy the job (gcloud run jobs deploy)",
        ),
        Criterion(
            "run_job_config",
            "job image, service account and timeout as declared",
            SubjectKind.JOB,
            Area.INFRASTRUCTURE,
            section=Section.CLOUD_RUN,
            impact="the job runs stale code or as the wrong identity, or times out",
            action="redeploy the job with the declared image, service account and timeout",
        ),
        Criterion(
            "run_job_last_execution",
            "latest execution succeeded",
            SubjectKind.JOB,
            Area.INFRASTRUCTURE,
            section=Section.CLOUD_RUN,
            impact="the job is likely to fail again",
            action="read the failed execution's logs and fix the cause",
        ),
        Criterion(
            "iam_permissions",
            "pipeline identity holds the phase's permissions",
            SubjectKind.PERMISSION_SET,
            Area.INFRASTRUCTURE,
            section=Section.IAM,
            impact="the phase's steps fail with 403",
            action="grant the missing permissions (a role that contains them)",
        ),
        Criterion(
            "quota_headroom",
            "quota covers the phase's planned usage",
            SubjectKind.QUOTA,
            Area.INFRASTRUCTURE,
            section=Section.QUOTAS,
            impact="the phase is throttled or stopped by a quota",
            action="request a quota increase or spread the work over days",
        ),
        Criterion(
            "api_enabled",
            "API is enabled",
            SubjectKind.API,
            Area.INFRASTRUCTURE,
            section=Section.APIS,
            impact="every call to the API fails",
            action="gcloud services enable the API",
        ),
    )
}
