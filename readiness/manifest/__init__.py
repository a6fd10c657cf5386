"""The manifest: what "ready" means for one pipeline, validated strictly when it loads.

A bad manifest must stop the run before anything is collected or written, with one line that
names the file and the key (`ManifestError`); the plugin turns it into pytest's usage error.
"""

from __future__ import annotations

import codecs
import posixpath
import re
import stat
import tomllib
import unicodedata
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Self

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from readiness.criteria import CRITERIA, SubjectKind
from readiness.discovery import DEFAULT_EXCLUDE
from readiness.manifest.base import AuditedItem, Blocker, StrictModel
from readiness.manifest.billing import BillingExport, billing_references
from readiness.manifest.env import DEFAULT_ENVIRONMENT, Environment, relative_path
from readiness.manifest.gcp import (
    Api,
    Bucket,
    Dataset,
    Gcp,
    Job,
    LegacyViews,
    Mandate,
    PermissionSet,
    Query,
    Quota,
    SourceTable,
)
from readiness.manifest.tables import table_entries, table_references

__all__ = [
    "MAX_MANIFEST_BYTES",
    "SECTION_SUBJECT",
    "Blocker",
    "Cadence",
    "Category",
    "Discovery",
    "Environment",
    "History",
    "LoadedManifest",
    "Manifest",
    "ManifestError",
    "Notify",
    "Owners",
    "Package",
    "Phase",
    "Project",
    "Sandbox",
    "Script",
    "ScriptKind",
    "StartedWith",
    "Tool",
    "Waiver",
    "environment_of",
    "load_manifest",
]


#: A manifest describes one pipeline in a few hundred lines; a bigger file is not one.
MAX_MANIFEST_BYTES: Final = 1024 * 1024


class ManifestError(Exception):
    """A manifest problem, already phrased as one line: `<file>: <key>: <what is wrong>`."""


class Category(StrEnum):
    GENERATION = "generation"
    ANALYSIS = "analysis"
    EXTRACTION_MERGE = "extraction/merge"
    DEPLOYMENT = "deployment"
    VALIDATION = "validation"


class ScriptKind(StrEnum):
    PYTHON = "python"
    SHELL = "shell"
    DOCKERFILE = "dockerfile"
    CLOUDBUILD = "cloudbuild"

    @classmethod
    def infer(cls, path: str) -> ScriptKind | None:
        name = posixpath.basename(path)
        if name.endswith(".py"):
            return cls.PYTHON
        if name.endswith(".sh"):
            return cls.SHELL
        if name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile"):
            return cls.DOCKERFILE
        if name.endswith((".yaml", ".yml")):
            return cls.CLOUDBUILD
        return None


class StartedWith(StrEnum):
    """How a shell script is started: by its path, by a shell named on the command line, or
    read into the caller's shell. Only `./x.sh` needs the executable bit and a shebang."""

    PATH = "path"
    SOURCE = "source"
    BASH = "bash"
    SH = "sh"
    DASH = "dash"
    ZSH = "zsh"
    KSH = "ksh"


class Project(StrictModel):
    name: str = Field(min_length=1)
    #: Target repository root, relative to the manifest file.
    root: str = "."
    #: The phase under audit (`--phase` overrides).
    phase: str
    #: Interpreter that will run the scripts; imports and packages are checked there. It is the
    #: interpreter of the default environment when `[[environments]]` declares none.
    python: str | None = None
    #: PYTHONPATH folders of that default environment ("src", "."), relative to the target root.
    python_path: list[str] = []
    #: The environment of scripts that name none (default: the first `[[environments]]`).
    environment: str | None = None
    #: Requirements files of the target, relative to its root.
    requirements: list[str] = []


class Phase(StrictModel):
    id: str = Field(min_length=1)
    name: str
    start: date
    description: str = ""
    #: What the phase's queries may cost (on-demand estimate from dry runs).
    budget_usd: float | None = Field(default=None, ge=0)


class Script(AuditedItem):
    path: str
    purpose: str
    # Enums take their TOML string form (strict mode would demand enum instances).
    category: Category = Field(strict=False)
    kind: ScriptKind | None = Field(default=None, strict=False)
    #: CLI flags the runbook passes, e.g. "--workers".
    flags: list[str] = []
    #: Time to create the script when it is missing.
    create_hours: float = Field(default=0, ge=0)
    #: Docker build context for a Dockerfile, relative to the target root (default: its folder).
    context: str | None = None
    #: The `[[environments]]` entry that runs this script (default: `project.environment`).
    environment: str | None = None
    #: Tables it reads and writes: names, patterns (`cov_agg_{pair}`, `cov_*`), mandate family
    #: names (`COV`), each optionally `dataset.`-qualified (readiness/manifest/tables.py).
    reads: list[str] = []
    writes: list[str] = []
    #: How many times the phase runs it (its cost estimate is per run).
    runs: int = Field(default=1, ge=1)
    #: Names of `[[queries]]` it runs: its cost is their dry runs instead of its reads' bytes.
    queries: list[str] = []

    _table_entries = field_validator("reads", "writes")(table_entries)
    #: How a shell script is started (unset: "path", as `./x.sh`).
    started_with: StartedWith | None = Field(default=None, strict=False)

    @field_validator("path", "context")
    @classmethod
    def _inside_root(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _CONTROL.search(value) or "\n" in value or "\r" in value or "\t" in value:
            raise ValueError(f"path {value!r} contains a control character")
        return relative_path(value)

    @field_validator("flags")
    @classmethod
    def _flags_look_like_flags(cls, value: list[str]) -> list[str]:
        for flag in value:
            if not flag.startswith("-") or " " in flag:
                raise ValueError(f"flag {flag!r} must look like '--name'")
        # "--workers=8" is how a runbook writes it; the script must define --workers.
        return list(dict.fromkeys(flag.split("=", 1)[0] for flag in value))

    @field_validator("started_with", mode="before")
    @classmethod
    def _known_start(cls, value: object) -> object:
        if isinstance(value, str) and value not in {s.value for s in StartedWith}:
            shells = ", ".join(
                s.value for s in StartedWith if s not in (StartedWith.PATH, StartedWith.SOURCE)
            )
            raise ValueError(
                f"started_with {value!r} must be 'path' (run as ./x.sh), 'source' (read with "
                f"`source x.sh`) or the shell that runs it ({shells})"
            )
        return value

    @model_validator(mode="after")
    def _known_kind(self) -> Self:
        if self.kind is None:
            kind = ScriptKind.infer(self.path)
            if kind is None:
                raise ValueError(
                    f"cannot tell the kind of {self.path!r}; set kind = "
                    "'python', 'shell', 'dockerfile' or 'cloudbuild'"
                )
            object.__setattr__(self, "kind", kind)
        if self.started_with is not None and self.kind is not ScriptKind.SHELL:
            raise ValueError(f"started_with applies to shell scripts only, not to {self.path!r}")
        return self

    @property
    def runs_by_path(self) -> bool:
        """Started as `./x.sh` (the default): the executable bit and the shebang matter."""
        return self.started_with in (None, StartedWith.PATH)

    @property
    def script_kind(self) -> ScriptKind:
        assert self.kind is not None  # set by _known_kind
        return self.kind

    @property
    def subject(self) -> str:
        return self.path


class Package(AuditedItem):
    name: str = Field(min_length=1)
    spec: str = ""

    @field_validator("spec")
    @classmethod
    def _valid_spec(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(f"invalid version specifier {value!r}") from None
        return value

    @property
    def specifier(self) -> SpecifierSet:
        return SpecifierSet(self.spec)

    @property
    def subject(self) -> str:
        return self.name


class Tool(AuditedItem):
    name: str = Field(min_length=1)
    min_version: str = ""
    #: Arguments that make the tool print its version; unset, the tool's own version command
    #: (checks/inspect/tools.py KNOWN_VERSION_ARGS: `bq version`...), else this default.
    version_args: list[str] = ["--version"]

    @field_validator("min_version")
    @classmethod
    def _valid_version(cls, value: str) -> str:
        if value:
            try:
                Version(value)
            except InvalidVersion:
                raise ValueError(f"invalid version {value!r}") from None
        return value

    @property
    def subject(self) -> str:
        return self.name


class Owners(StrictModel):
    """Who owns a blocker when its item names nobody: by script category or area, else a default."""

    default: str = ""
    #: Script category ("generation", ...) or blocker area ("dependencies", ...) -> owner.
    by_category: dict[str, str] = {}


class Waiver(StrictModel):
    """Accepted risk: a verified failure of matching cases does not count until `expires`."""

    #: Case key `criterion:subject`, or an fnmatch pattern over keys ("cli_flags:scripts/*").
    case: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    #: Last day the waiver holds; the case blocks again the day after.
    expires: date


class History(StrictModel):
    """Where run history goes: an SQLite file path (relative to the manifest) or bq://p.d.t."""

    store: str = ""
    #: How many past runs the trend chart and flapping detection look at.
    trend_runs: int = Field(default=14, ge=2, le=365)


class Cadence(StrictModel):
    """How often the recurring activities are expected; a missed one is reported with its
    escalation (reporting.activities)."""

    #: The scheduled (nightly) run of the audit: expected every this many hours.
    nightly_hours: float = Field(default=24, gt=0, le=24 * 31)
    #: No scheduled run for this many days escalates, as a repository sync that late does.
    sync_days: float = Field(default=3, gt=0, le=365)
    #: The issue review's cycle: a review more than one cycle after the previous one is overdue.
    review_days: float = Field(default=14, gt=0, le=365)
    #: The scheduled run's selection (its -m and -k); default: the full suite.
    nightly_markexpr: str = ""
    nightly_keyword: str = ""
    #: Folder of the issue reviews, relative to the manifest (where `readiness review` writes).
    reviews: str = Field(default="reviews", min_length=1)


class Notify(StrictModel):
    """Posting the verdict to a chat webhook. The URL is a secret: name the variable holding it."""

    webhook_env: str = ""


class Sandbox(StrictModel):
    """How `pytest --sandbox` seeds the local world for this manifest."""

    #: Python file (relative to the manifest) defining `seed(world, manifest)`; empty = derive
    #: a healthy world from the manifest itself.
    seed: str = ""


class Discovery(StrictModel):
    """Which files of the repository every audit looks at beyond the manifest's scripts."""

    #: Globs left out of discovery (a name without '/' matches any folder or file of that name).
    exclude: list[str] = list(DEFAULT_EXCLUDE)
    #: False: audit only what the manifest names.
    enabled: bool = True


class CriterionSettings(StrictModel):
    """Manifest-wide settings for one criterion: its blocker metadata."""

    blocker: Blocker = Blocker()
    owner: str = ""


#: Manifest sections of audited items and the subject kind of the criteria applied to them.
SECTION_SUBJECT: Final[dict[str, SubjectKind]] = {
    k.manifest_field: k for k in SubjectKind if k.manifest_field
}
#: Sections that talk to Google and so need `[gcp]`.
_GOOGLE_SECTIONS: Final = tuple(field for field, kind in SECTION_SUBJECT.items() if kind.google)


class Manifest(StrictModel):
    project: Project
    phases: list[Phase] = Field(min_length=1)
    scripts: list[Script] = []
    packages: list[Package] = []
    tools: list[Tool] = []
    environments: list[Environment] = []
    criteria: dict[str, CriterionSettings] = {}
    owners: Owners = Owners()
    waivers: list[Waiver] = []
    history: History = History()
    notify: Notify = Notify()
    cadence: Cadence = Cadence()
    sandbox: Sandbox = Sandbox()
    discovery: Discovery = Discovery()
    # -- the Google side ---------------------------------------------------------------------
    gcp: Gcp | None = None
    mandates: list[Mandate] = []
    datasets: list[Dataset] = []
    source_tables: list[SourceTable] = []
    legacy_views: list[LegacyViews] = []
    queries: list[Query] = []
    buckets: list[Bucket] = []
    jobs: list[Job] = []
    permissions: list[PermissionSet] = []
    quotas: list[Quota] = []
    apis: list[Api] = []
    billing: BillingExport | None = None

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        phase_ids = [p.id for p in self.phases]
        _no_duplicates("phases", phase_ids)
        if self.project.phase not in phase_ids:
            raise ValueError(
                f"project.phase {self.project.phase!r} is not one of the phases ({', '.join(phase_ids)})"
            )
        for section, subject_kind in SECTION_SUBJECT.items():
            items: list[AuditedItem] = getattr(self, section)
            _no_duplicates(section, [_subject(i) for i in items])
            for index, item in enumerate(items):
                where = f"{section}[{index}] {_subject(item)!r}"
                for phase in item.phase_ids():
                    if phase not in phase_ids:
                        raise ValueError(f"{where}: unknown phase {phase!r}")
                for crit_id in item.criteria:
                    crit = CRITERIA.get(crit_id)
                    allowed = {subject_kind, SubjectKind.FAMILY} if section == "datasets" else {subject_kind}
                    if crit is None or crit.subject not in allowed:
                        raise ValueError(f"{where}.criteria: unknown criterion {crit_id!r} for {section}")
        if self.gcp is None:
            for section in _GOOGLE_SECTIONS:
                if getattr(self, section):
                    raise ValueError(f"{section}: needs a [gcp] section (project, location, region)")
        mandate_ids = [m.id for m in self.mandates]
        _no_duplicates("mandates", mandate_ids)
        for index, dataset in enumerate(self.datasets):
            for mandate in dataset.mandates:
                if mandate not in mandate_ids:
                    raise ValueError(
                        f"datasets[{index}] {dataset.id!r}.mandates: unknown mandate {mandate!r}"
                    )
        _environment_references(self)
        table_references(self)
        billing_references(self)
        for crit_id in self.criteria:
            if crit_id not in CRITERIA:
                raise ValueError(
                    f"criteria.{crit_id}: unknown criterion (known: {', '.join(sorted(CRITERIA))})"
                )
        return self

    def phase(self, phase_id: str) -> Phase:
        for p in self.phases:
            if p.id == phase_id:
                return p
        raise KeyError(phase_id)


def _environment_references(manifest: Manifest) -> None:
    names = [e.name for e in manifest.environments]
    _no_duplicates("environments", names)
    known = names or [DEFAULT_ENVIRONMENT]
    if manifest.project.environment is not None and manifest.project.environment not in known:
        raise ValueError(
            f"project.environment: unknown environment {manifest.project.environment!r} "
            f"(declared: {', '.join(known)})"
        )
    for index, script in enumerate(manifest.scripts):
        if script.environment is not None and script.environment not in known:
            raise ValueError(
                f"scripts[{index}] {script.path!r}.environment: unknown environment "
                f"{script.environment!r} (declared: {', '.join(known)})"
            )
    for path in manifest.project.python_path:
        relative_path(path)


def _subject(item: AuditedItem) -> str:
    return str(getattr(item, "subject", ""))


def _no_duplicates(section: str, keys: list[str]) -> None:
    """Two entries whose keys differ only by Unicode normalisation are one; phase ids and package
    names also ignore case (phases 4C and 4c would write one report file; pip treats Requests,
    requests and REQUESTS, or foo_bar and foo-bar, as one package)."""
    seen: dict[str, str] = {}
    for key in keys:
        folded = _folded(section, key)
        if folded in seen:
            same = (
                ""
                if seen[folded] == key
                else f" (same as {seen[folded]!r} once case and Unicode form are ignored)"
            )
            raise ValueError(f"{section}: duplicate entry {key!r}{same}")
        seen[folded] = key


def _folded(section: str, key: str) -> str:
    folded = unicodedata.normalize("NFKC", key)
    if section == "packages":
        return re.sub(r"[-_.]+", "-", folded).casefold()
    if section == "phases":
        return folded.casefold()
    return folded


def environment_of(manifest: Manifest, script: Script) -> str:
    """The name of the environment that runs `script`."""
    if script.environment is not None:
        return script.environment
    if manifest.project.environment is not None:
        return manifest.project.environment
    return manifest.environments[0].name if manifest.environments else DEFAULT_ENVIRONMENT


class LoadedManifest:
    """A validated manifest with its location and the resolved target root."""

    __slots__ = ("__weakref__", "manifest", "path", "phase", "raw", "root")

    def __init__(self, manifest: Manifest, path: Path, root: Path, phase: Phase) -> None:
        self.manifest: Final = manifest
        self.path: Final = path
        #: The target repository root; every script path resolves below it.
        self.root: Final = root
        #: The phase under audit.
        self.phase: Final = phase
        #: The bytes it was validated from (handed to xdist workers).
        self.raw = b""


def load_manifest(
    path: Path,
    phase_override: str | None = None,
    root_override: Path | None = None,
    raw: bytes | None = None,
) -> LoadedManifest:
    """Read and validate a manifest; every problem raises ManifestError naming file and key.

    `raw`: the file's bytes as already read (an xdist worker gets the controller's, so a file
    replaced mid-run cannot make the workers audit something else, or fail to start)."""
    label = str(path)
    raw = _read_manifest(path, label) if raw is None else raw
    if raw.startswith(codecs.BOM_UTF8):  # editors on Windows write one; TOML does not allow it
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{label}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ManifestError(f"{label}: invalid TOML: arrays or tables nested too deeply") from None
    _no_control_characters(data, label)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(f"{label}: {_first_error(exc, data)}") from None
    except RecursionError:
        raise ManifestError(f"{label}: values nested too deeply") from None

    phase_id = phase_override or manifest.project.phase
    try:
        phase = manifest.phase(phase_id)
    except KeyError:
        known = ", ".join(p.id for p in manifest.phases)
        raise ManifestError(f"{label}: phase {phase_id!r} is not one of the phases ({known})") from None
    root = (root_override or (path.parent / manifest.project.root)).resolve()
    if not root.is_dir():
        where = "--target-root" if root_override else "project.root"
        raise ManifestError(f"{label}: {where}: target root {str(root)!r} is not a directory")
    loaded = LoadedManifest(manifest, path.resolve(), root, phase)
    loaded.raw = raw
    return loaded


def _read_manifest(path: Path, label: str) -> bytes:
    """The manifest's bytes: a regular file of bounded size (a FIFO would block the run forever)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ManifestError(
            f"{label}: manifest not found (pass --manifest PATH or set READINESS_MANIFEST)"
        ) from None
    except OSError as exc:
        raise ManifestError(f"{label}: cannot read manifest: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ManifestError(f"{label}: is a directory; --manifest names the TOML file")
    if not stat.S_ISREG(info.st_mode):
        raise ManifestError(f"{label}: not a regular file (FIFO, socket or device): not read")
    if info.st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"{label}: {info.st_size:,} bytes, larger than the {MAX_MANIFEST_BYTES:,}-byte limit "
            "for a manifest: not read"
        )
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestError(f"{label}: cannot read manifest: {exc.strerror}") from None
    if len(raw) > MAX_MANIFEST_BYTES:  # grew since stat
        raise ManifestError(f"{label}: larger than the {MAX_MANIFEST_BYTES:,}-byte limit for a manifest")
    return raw


def _no_control_characters(data: dict[str, Any], label: str) -> None:
    """Refuse control characters in keys and values: escape sequences in a name would reach
    terminals, Markdown and HTML reports verbatim (tab and newlines stay allowed in prose)."""
    stack: list[tuple[tuple[int | str, ...], Any]] = [((), data)]
    while stack:
        loc, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                _check_text(key, loc, data, label, key=True)
                stack.append(((*loc, key), value))
        elif isinstance(node, list):
            stack.extend(((*loc, i), v) for i, v in enumerate(node))
        elif isinstance(node, str):
            _check_text(node, loc, data, label)


def _check_text(
    text: str, loc: tuple[int | str, ...], data: dict[str, Any], label: str, key: bool = False
) -> None:
    bad = _CONTROL.search(text)
    if bad is not None:
        where = _key_path(loc, data)
        if key:  # the key itself is the offender: quote it, never print it raw
            where = f"{where}: key {text!r}" if where else f"key {text!r}"
        raise ManifestError(
            f"{label}: {where}: control character U+{ord(bad.group()):04X} not allowed "
            "(remove it or write it out)"
        )


def _first_error(exc: ValidationError, data: dict[str, Any]) -> str:
    """One line for the first validation error: the key path (with the item's name) and why."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    key = _key_path(err["loc"], data)
    if err["type"] == "extra_forbidden":
        text = "unknown key"
    elif err["type"] == "missing":
        text = "required key is missing"
    elif err["type"] in _TYPE_ERRORS:
        text = f"must be {_TYPE_ERRORS[err['type']]}, not {_toml_type(err.get('input'))}"
    else:
        text = str(err["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{key}: {text}{more}" if key else f"{text}{more}"


#: Pydantic's type errors in TOML's words (the input's own text may be megabytes: not quoted).
_TYPE_ERRORS: Final = {
    "model_type": "a table ([name] or {...})",
    "dict_type": "a table ([name] or {...})",
    "list_type": "an array (a list [...])",
    "string_type": "a string",
    "float_type": "a number",
    "int_type": "an integer number",
    "bool_type": "true or false",
    "date_type": "a TOML date without quotes (e.g. 2026-11-23)",
}

#: C0 controls other than tab, newline and carriage return; DEL; C1 controls.
_CONTROL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, datetime):
        return "a date-time"
    for kind, name in (
        (str, "a string"),
        (int, "an integer"),
        (float, "a float"),
        (list, "an array"),
        (dict, "a table"),
        (date, "a date"),
        (time, "a time"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _key_path(loc: tuple[int | str, ...], data: Any) -> str:
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
            node = node[part] if isinstance(node, list) and part < len(node) else None
            name = node.get("path") or node.get("name") if isinstance(node, dict) else None
            if isinstance(name, str):
                parts.append(f" {name!r}")
        else:
            parts.append(f".{part}" if parts else part)
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(parts)
