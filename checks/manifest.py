"""The manifest: what "ready" means for one pipeline, validated strictly when it loads.

A bad manifest must stop the run before anything is collected or written, with one line that
names the file and the key (`ManifestError`); the plugin turns it into pytest's usage error.
"""

from __future__ import annotations

import posixpath
import tomllib
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, Self

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from checks.criteria import CRITERIA, SubjectKind
from checks.priority import Priority

__all__ = [
    "Blocker",
    "Category",
    "History",
    "LoadedManifest",
    "Manifest",
    "ManifestError",
    "Notify",
    "Owners",
    "Package",
    "Phase",
    "Project",
    "Script",
    "ScriptKind",
    "Tool",
    "Waiver",
    "load_manifest",
]


class ManifestError(Exception):
    """A manifest problem, already phrased as one line: `<file>: <key>: <what is wrong>`."""


def _parse_priority(value: object) -> Priority:
    if isinstance(value, str) and value in Priority.__members__:
        return Priority(value)
    raise ValueError(f"unknown priority {value!r} (expected P0, P1, P2 or P3)")


def _parse_priority_or_map(value: object) -> Priority | dict[str, Priority]:
    if isinstance(value, dict):
        return {str(phase): _parse_priority(p) for phase, p in value.items()}
    return _parse_priority(value)


PriorityField = Annotated[Priority, BeforeValidator(_parse_priority)]
#: A priority for every phase, or a table `{phase id = priority}` when it differs by phase.
PhasePriority = Annotated[Priority | dict[str, Priority], BeforeValidator(_parse_priority_or_map)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Blocker(_Strict):
    """What a failure of this item means, for the blocker analysis."""

    impact: str = ""
    mitigation: str = ""
    workaround: str = ""
    action: str = ""
    #: Hours of delay to the phase if this blocker is open when it starts.
    delay_hours: float | None = Field(default=None, ge=0)

    def over(self, base: Blocker) -> Blocker:
        """This metadata, with blanks filled from `base` (item over criterion over defaults)."""
        merged = {k: (v if v not in ("", None) else getattr(base, k)) for k, v in self.model_dump().items()}
        return Blocker(**merged)


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


class Project(_Strict):
    name: str = Field(min_length=1)
    #: Target repository root, relative to the manifest file.
    root: str = "."
    #: The phase under audit (`--phase` overrides).
    phase: str
    #: Interpreter that will run the scripts; imports and packages are checked there.
    python: str | None = None
    #: Requirements files of the target, relative to its root.
    requirements: list[str] = []


class Phase(_Strict):
    id: str = Field(min_length=1)
    name: str
    start: date
    description: str = ""


class _Item(_Strict):
    """Fields shared by every audited item."""

    #: Phases that need the item; empty means every phase.
    phases: list[str] = []
    priority: PhasePriority = Priority.P2
    #: Per-criterion priority overrides, e.g. `cli_flags = "P2"`.
    criteria: dict[str, PriorityField] = {}
    blocker: Blocker = Blocker()
    owner: str = ""

    def needed_by(self, phase: str) -> bool:
        if isinstance(self.priority, dict):
            return phase in self.priority
        return not self.phases or phase in self.phases

    def priority_for(self, criterion: str, phase: str) -> Priority:
        """The priority of one case: an override for the criterion, else the item's for the phase.

        An item the audited phase does not need is still audited (it feeds the inventory), but
        at P3: its problems cannot delay this phase.
        """
        if criterion in self.criteria:
            return self.criteria[criterion]
        if not self.needed_by(phase):
            return Priority.P3
        if isinstance(self.priority, dict):
            return self.priority[phase]
        return self.priority

    def phase_ids(self) -> list[str]:
        return list(self.priority) if isinstance(self.priority, dict) else list(self.phases)


class Script(_Item):
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

    @field_validator("path", "context")
    @classmethod
    def _inside_root(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value or value.startswith("/") or "\\" in value:
            raise ValueError(f"path {value!r} must be relative to the target root")
        norm = posixpath.normpath(value)
        if norm == ".." or norm.startswith("../"):
            raise ValueError(f"path {value!r} escapes the target root")
        return norm

    @field_validator("flags")
    @classmethod
    def _flags_look_like_flags(cls, value: list[str]) -> list[str]:
        for flag in value:
            if not flag.startswith("-") or " " in flag:
                raise ValueError(f"flag {flag!r} must look like '--name'")
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
        return self

    @property
    def script_kind(self) -> ScriptKind:
        assert self.kind is not None  # set by _known_kind
        return self.kind

    @property
    def subject(self) -> str:
        return self.path


class Package(_Item):
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


class Tool(_Item):
    name: str = Field(min_length=1)
    min_version: str = ""
    #: Arguments that make the tool print its version.
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


class Owners(_Strict):
    """Who owns a blocker when its item names nobody: by script category or area, else a default."""

    default: str = ""
    #: Script category ("generation", ...) or blocker area ("dependencies", ...) -> owner.
    by_category: dict[str, str] = {}


class Waiver(_Strict):
    """Accepted risk: a verified failure of matching cases does not count until `expires`."""

    #: Case key `criterion:subject`, or an fnmatch pattern over keys ("cli_flags:scripts/*").
    case: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    #: Last day the waiver holds; the case blocks again the day after.
    expires: date


class History(_Strict):
    """Where run history goes: an SQLite file path (relative to the manifest) or bq://p.d.t."""

    store: str = ""
    #: How many past runs the trend chart and flapping detection look at.
    trend_runs: int = Field(default=14, ge=2, le=365)


class Notify(_Strict):
    """Posting the verdict to a chat webhook. The URL is a secret: name the variable holding it."""

    webhook_env: str = ""


class CriterionSettings(_Strict):
    """Manifest-wide settings for one criterion: its blocker metadata."""

    blocker: Blocker = Blocker()
    owner: str = ""


_SECTION_SUBJECT: Final[dict[str, SubjectKind]] = {
    "scripts": SubjectKind.SCRIPT,
    "packages": SubjectKind.PACKAGE,
    "tools": SubjectKind.TOOL,
}


class Manifest(_Strict):
    project: Project
    phases: list[Phase] = Field(min_length=1)
    scripts: list[Script] = []
    packages: list[Package] = []
    tools: list[Tool] = []
    criteria: dict[str, CriterionSettings] = {}
    owners: Owners = Owners()
    waivers: list[Waiver] = []
    history: History = History()
    notify: Notify = Notify()

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        phase_ids = [p.id for p in self.phases]
        _no_duplicates("phases", phase_ids)
        if self.project.phase not in phase_ids:
            raise ValueError(
                f"project.phase {self.project.phase!r} is not one of the phases ({', '.join(phase_ids)})"
            )
        for section, subject_kind in _SECTION_SUBJECT.items():
            items: list[_Item] = getattr(self, section)
            _no_duplicates(section, [_subject(i) for i in items])
            for index, item in enumerate(items):
                where = f"{section}[{index}] {_subject(item)!r}"
                for phase in item.phase_ids():
                    if phase not in phase_ids:
                        raise ValueError(f"{where}: unknown phase {phase!r}")
                for crit_id in item.criteria:
                    crit = CRITERIA.get(crit_id)
                    if crit is None or crit.subject is not subject_kind:
                        raise ValueError(f"{where}.criteria: unknown criterion {crit_id!r} for {section}")
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


def _subject(item: _Item) -> str:
    return str(getattr(item, "subject", ""))


def _no_duplicates(section: str, keys: list[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{section}: duplicate entry {key!r}")
        seen.add(key)


class LoadedManifest:
    """A validated manifest with its location and the resolved target root."""

    __slots__ = ("manifest", "path", "phase", "root")

    def __init__(self, manifest: Manifest, path: Path, root: Path, phase: Phase) -> None:
        self.manifest: Final = manifest
        self.path: Final = path
        #: The target repository root; every script path resolves below it.
        self.root: Final = root
        #: The phase under audit.
        self.phase: Final = phase


def load_manifest(path: Path, phase_override: str | None = None) -> LoadedManifest:
    """Read and validate a manifest; every problem raises ManifestError naming file and key."""
    label = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(
            f"{label}: manifest not found (pass --manifest PATH or set READINESS_MANIFEST)"
        ) from None
    except OSError as exc:
        raise ManifestError(f"{label}: cannot read manifest: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{label}: invalid TOML: {exc}") from None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(f"{label}: {_first_error(exc, data)}") from None

    phase_id = phase_override or manifest.project.phase
    try:
        phase = manifest.phase(phase_id)
    except KeyError:
        known = ", ".join(p.id for p in manifest.phases)
        raise ManifestError(f"{label}: phase {phase_id!r} is not one of the phases ({known})") from None
    root = (path.parent / manifest.project.root).resolve()
    if not root.is_dir():
        raise ManifestError(f"{label}: project.root: target root {str(root)!r} is not a directory")
    return LoadedManifest(manifest, path.resolve(), root, phase)


def _first_error(exc: ValidationError, data: dict[str, Any]) -> str:
    """One line for the first validation error: the key path (with the item's name) and why."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    key = _key_path(err["loc"], data)
    if err["type"] == "extra_forbidden":
        text = "unknown key"
    elif err["type"] == "missing":
        text = "required key is missing"
    else:
        text = str(err["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{key}: {text}{more}" if key else f"{text}{more}"


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
