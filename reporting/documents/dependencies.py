"""DEPENDENCY_ANALYSIS_YYYYMMDD.md: packages, tools, script imports and the build chain."""

from __future__ import annotations

from readiness.records import CaseRecord
from reporting.audit import Audit
from reporting.documents.markdown import dated, header, table

__all__ = ["file_name", "render"]


def file_name(audit: Audit) -> str:
    return dated(audit, "DEPENDENCY_ANALYSIS")


def _by_criterion(audit: Audit) -> dict[str, dict[str, CaseRecord]]:
    """Records by criterion, then subject: grouped in one pass for every table of the document."""
    grouped: dict[str, dict[str, CaseRecord]] = {}
    for r in audit.records:
        grouped.setdefault(r.criterion, {})[r.subject] = r
    return grouped


def _state(rec: CaseRecord | None) -> str:
    if rec is None:
        return "not audited"
    return "ok" if not rec.outcome.is_open else f"{rec.outcome.value}: {rec.message}"


def _distributions(rec: CaseRecord | None) -> list[str]:
    """What the script needs as the environment's distributions (google-cloud-bigquery, not
    `google`), with the imports none provides; empty when the check did not get that far."""
    if rec is None or "distributions" not in rec.facts:
        return []
    found = [str(d) for d in rec.facts["distributions"]]
    missing = [str(m) for m in rec.facts.get("missing_imports", [])]
    return found + [f"{m} (not installed)" for m in missing]


def render(audit: Audit) -> str:
    m = audit.loaded.manifest
    by = _by_criterion(audit)
    installed, pinned = by.get("package_installed", {}), by.get("package_pinned", {})
    package_rows = [
        [
            p.name,
            p.spec or "any",
            p.priority_for("package_installed", audit.loaded.phase.id).value,
            (installed[p.name].facts.get("installed") if p.name in installed else None) or "",
            (pinned[p.name].facts.get("pinned") if p.name in pinned else None) or "",
            _state(installed.get(p.name)),
            _state(pinned.get(p.name)),
        ]
        for p in m.packages
    ]
    tools = by.get("tool_available", {})
    tool_rows = [
        [
            t.name,
            t.min_version or "any",
            t.priority_for("tool_available", audit.loaded.phase.id).value,
            tools[t.name].facts.get("version", "") if t.name in tools else "",
            _state(tools.get(t.name)),
        ]
        for t in m.tools
    ]
    imports = by.get("imports_resolve", {})
    import_rows = [
        [s.path, _distributions(imports.get(s.path)) or s.dependencies, _state(imports.get(s.path))]
        for s in audit.inventory
        if s.kind == "python" and s.exists
    ]
    chain_rows = []
    for r in audit.records:
        if r.criterion == "cloudbuild_dockerfile":
            chain_rows.append([r.subject, "builds", r.facts.get("dockerfiles", []), _state(r)])
        elif r.criterion == "docker_entrypoint":
            chain_rows.append([r.subject, "runs", r.facts.get("entrypoint", ""), _state(r)])
    return "\n".join(
        [
            header(audit, "Dependency Analysis"),
            *_google_sections(audit, by),
            "## Python packages",
            f"Requirements files: {', '.join(m.project.requirements) or 'none declared'}.",
            "",
            table(
                ["Package", "Requires", "Priority", "Installed", "Pinned", "Installed check", "Pin check"],
                package_rows,
            ),
            "",
            "## System tools",
            "",
            table(["Tool", "Minimum", "Priority", "Found", "Check"], tool_rows),
            "",
            "## Script imports (third-party)",
            "",
            table(["Script", "Distributions (imports)", "Resolve in run environment"], import_rows),
            "",
            "## Build chain",
            "",
            table(["From", "Relation", "To", "Check"], chain_rows),
            "",
        ]
    )


def _google_sections(audit: Audit, by: dict[str, dict[str, CaseRecord]]) -> list[str]:
    """What the phase depends on in Google Cloud: source data, services, jobs and their code.

    Without [gcp] these sections stay, marked "not audited", like the infrastructure report's.
    """
    m = audit.loaded.manifest
    if m.gcp is None:
        return [
            "## Data and service dependencies",
            "",
            "**Not audited**: the manifest has no [gcp] section.",
            "",
        ]
    sources = by.get("source_fresh", {})
    source_rows = [
        [
            s.table,
            s.priority_for("source_fresh", audit.loaded.phase.id).value,
            (sources[s.table].facts.get("rows", "") if s.table in sources else ""),
            (sources[s.table].facts.get("last_modified", "") if s.table in sources else ""),
            f"{s.max_age_hours:g} h",
            _state(sources.get(s.table)),
        ]
        for s in m.source_tables
    ]
    apis = by.get("api_enabled", {})
    api_rows = [
        [a.name, a.priority_for("api_enabled", audit.loaded.phase.id).value, _state(apis.get(a.name))]
        for a in m.apis
    ]
    ready = by.get("run_job_ready", {})
    job_rows = [[j.name, j.script or "", j.image or "", _state(ready.get(j.name))] for j in m.jobs]
    return [
        "## Data dependencies",
        "Source tables the derived tables are generated from: they must exist, hold rows and be fresh.",
        "",
        table(["Source table", "Priority", "Rows", "Last modified", "Max age", "Check"], source_rows),
        "",
        "## Google services",
        "",
        table(["API", "Priority", "Check"], api_rows),
        "",
        "## Cloud Run jobs and the code they run",
        "",
        table(["Job", "Script", "Expected image", "Job ready"], job_rows),
        "",
    ]
