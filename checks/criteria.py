"""The readiness criteria: one per check function, with the metadata a blocker report needs.

Each check function names its criterion with `@pytest.mark.criterion("id")`; the manifest may
override a criterion's blocker metadata under `[criteria.<id>]`, and an unknown id there is a
manifest error, so this table is the single list of what the suite can verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["CRITERIA", "Area", "Criterion", "SubjectKind"]


class SubjectKind(StrEnum):
    """What a criterion is parametrized over: one manifest section each."""

    SCRIPT = "script"
    PACKAGE = "package"
    TOOL = "tool"


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
    #: Section of the infrastructure report the criterion fills ("" = not infrastructure).
    section: str = ""
    impact: str = ""
    mitigation: str = ""
    action: str = ""


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
            impact="the script fails at start-up",
            action="fix the syntax error",
        ),
        Criterion(
            "shell_parses",
            "shell script parses (bash -n)",
            SubjectKind.SCRIPT,
            Area.SCRIPTS,
            ("shell",),
            impact="the script fails at start-up",
            action="fix the syntax error",
        ),
        Criterion(
            "shell_executable",
            "shell script is executable",
            SubjectKind.SCRIPT,
            Area.SCRIPTS,
            ("shell",),
            impact="direct invocation fails with 'permission denied'",
            mitigation="invoke through `bash script.sh`",
            action="chmod +x and commit the mode",
        ),
        Criterion(
            "imports_resolve",
            "imports resolve",
            SubjectKind.SCRIPT,
            Area.DEPENDENCIES,
            ("python",),
            impact="the script fails with ModuleNotFoundError",
            action="add the missing package to the requirements and the runtime image",
        ),
        Criterion(
            "cli_flags",
            "expected CLI flags are defined",
            SubjectKind.SCRIPT,
            Area.SCRIPTS,
            ("python", "shell"),
            impact="the runbook's invocation is rejected or silently ignores the flag",
            action="add the flags to the script's argument parser",
        ),
        Criterion(
            "docker_sources",
            "Dockerfile COPY/ADD sources exist",
            SubjectKind.SCRIPT,
            Area.INFRASTRUCTURE,
            ("dockerfile",),
            section="Container builds",
            impact="the image build fails",
            action="fix the COPY/ADD paths or add the files",
        ),
        Criterion(
            "docker_entrypoint",
            "ENTRYPOINT/CMD script exists",
            SubjectKind.SCRIPT,
            Area.INFRASTRUCTURE,
            ("dockerfile",),
            section="Container builds",
            impact="the container exits at start",
            action="point ENTRYPOINT/CMD at a script copied into the image",
        ),
        Criterion(
            "cloudbuild_parses",
            "Cloud Build config parses",
            SubjectKind.SCRIPT,
            Area.INFRASTRUCTURE,
            ("cloudbuild",),
            section="Container builds",
            impact="the build cannot be submitted",
            action="fix the YAML",
        ),
        Criterion(
            "cloudbuild_dockerfile",
            "Cloud Build names an existing Dockerfile",
            SubjectKind.SCRIPT,
            Area.INFRASTRUCTURE,
            ("cloudbuild",),
            section="Container builds",
            impact="the build fails at the docker step",
            action="fix the -f path or add the Dockerfile",
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
    )
}
