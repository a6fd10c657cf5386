"""Per script, the tables it declares (`reads`, `writes`, `queries`): naming mandate compliance,
schema mandate readiness of what it writes, and its cost estimate for the phase.

The names come from the manifest and from the script's own source (read with `ast`, never run);
the tables they match come from the datasets' shared snapshots (checks/gcp/bq_snapshot.py), so
judging every script costs no request beyond those the dataset checks make.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from checks.costs import MIN_BILLED_BYTES, usd, usd_range
from checks.findings import finding, unverified
from checks.gcp.access import GoogleAccess
from checks.gcp.bq_snapshot import BigQueryMetadata, DatasetRef, TableInfo, bigquery_metadata, dataset_refs
from checks.inspect.files import RepoFileError, read_text
from checks.inspect.mandates import in_family, judge, short_list
from checks.inspect.table_names import TableRef, can_comply, family_of, parse_entry, source_table_names
from readiness.cases import Case
from readiness.manifest import LoadedManifest, Script, ScriptKind
from readiness.manifest.gcp import Family


@dataclass(frozen=True, slots=True)
class _Mandated:
    """A family of some mandate, with the mandate's id (a script may be judged against several)."""

    mandate: str
    family: Family


def _script(case: Case) -> Script:
    assert isinstance(case.item, Script)
    return case.item


def _families(manifest: LoadedManifest) -> list[_Mandated]:
    return [_Mandated(m.id, f) for m in manifest.manifest.mandates for f in m.families]


def _refs(entries: Sequence[str], families: Sequence[_Mandated]) -> list[TableRef]:
    return [parse_entry(e, [m.family for m in families]) for e in entries]


def _tables(
    request: pytest.FixtureRequest, manifest: LoadedManifest, refs: Sequence[TableRef]
) -> list[tuple[DatasetRef, TableInfo]]:
    """The base tables of the audited datasets that the entries match, each once."""
    __tracebackhide__ = True
    if not refs:
        return []
    google: GoogleAccess = request.getfixturevalue("google")
    bq = bigquery_metadata(request.config, google)
    everything = dataset_refs(manifest, google.project)
    found: dict[str, tuple[DatasetRef, TableInfo]] = {}
    for ref in everything:
        wanted = [r for r in refs if not r.dataset or r.dataset == ref.dataset]
        if not wanted:
            continue
        for table in bq.found(ref).base_tables():
            if any(r.matches(table.name) for r in wanted):
                found.setdefault(f"{ref}.{table.name}", (ref, table))
    return [found[k] for k in sorted(found)]


# -- script_naming -------------------------------------------------------------------------------


@pytest.mark.criterion("script_naming")
def check_script_naming(
    case: Case, manifest: LoadedManifest, request: pytest.FixtureRequest, facts: dict[str, Any]
) -> None:
    script = _script(case)
    mandated = [m for m in _families(manifest) if m.family.table_pattern]
    families = [m.family for m in mandated]
    reads, writes = _refs(script.reads, mandated), _refs(script.writes, mandated)
    spelled = _source_names(manifest, script, facts)
    # A name its source spells is one it may create, unless a `reads` entry covers it.
    spelled_reads = [s for s in spelled if any(_covers(r, s) for r in reads)]
    spelled_writes = [s for s in spelled if s not in spelled_reads]
    mandates = sorted({m.mandate for m in mandated})
    facts["mandates"] = mandates
    label = "/".join(mandates)

    bad_writes = _breaking([*writes, *spelled_writes], families)
    facts["bad_writes"] = bad_writes
    if bad_writes:
        reason = f"writes names that break {label}: {short_list(bad_writes, sep='; ')}"
        _naming(facts, "NON-COMPLIANT", reason)
        finding(f"{script.path}: {label} NON-COMPLIANT: {reason}")

    bad_reads = _breaking([*reads, *spelled_reads], families)
    facts["bad_read_names"] = bad_reads
    sources = _tables(request, manifest, reads) if manifest.manifest.gcp is not None else []
    judged = [(t, f) for _, t in sources for f in families if in_family(t.name, f)]
    bad_sources = sorted({t.name for t, f in judged if not judge(t.name, t.columns, f).naming_ok})
    read_tables = sorted({t.name for t, _ in judged})
    facts["source_tables"] = len(read_tables)
    facts["bad_source_tables"] = bad_sources
    creates = "creates compliant names" if writes or spelled_writes else "writes no mandated table"
    if bad_reads or bad_sources:
        details = []
        if bad_reads:
            details.append(f"reads names that break {label}: {short_list(bad_reads, sep='; ')}")
        if bad_sources:
            details.append(
                f"{len(bad_sources):,} of {len(read_tables):,} tables its reads match break {label} "
                f"({short_list(bad_sources)})"
            )
        reason = f"{creates}, but may process non-compliant source tables ({'; '.join(details)})"
        _naming(facts, "PARTIAL", reason)
        finding(f"{script.path}: {label} PARTIAL: {reason}")
    sources_text = f"its {len(read_tables):,} source tables comply" if read_tables else "no mandated source"
    _naming(facts, "COMPLIANT", f"{creates}; {sources_text}")


def _covers(entry: TableRef, spelled: TableRef) -> bool:
    """A `reads` entry covers a name the source spells in its own dataset (or in any, unqualified):
    `config.sm_meta` is not read because `public.sm_*` is (sm-etl-cloud-run upserts the former)."""
    same_place = not entry.dataset or not spelled.dataset or entry.dataset == spelled.dataset
    return same_place and entry.matches(spelled.name)


def _naming(facts: dict[str, Any], verdict: str, reason: str) -> None:
    facts["naming"] = verdict
    facts["naming_reason"] = reason


def _breaking(refs: Sequence[TableRef], families: Sequence[Family]) -> list[str]:
    """Names and patterns of which no instance can follow their family's table pattern."""
    bad = []
    for ref in refs:
        family = family_of(ref, families)
        if family is not None and not can_comply(ref, family):
            bad.append(f"{ref.where()} ({family.family}: {family.table_pattern})")
    return bad


def _source_names(manifest: LoadedManifest, script: Script, facts: dict[str, Any]) -> list[TableRef]:
    if script.script_kind is not ScriptKind.PYTHON:
        return []
    try:
        found = source_table_names(read_text(manifest.root, script.path), script.path)
    except (RepoFileError, SyntaxError, ValueError):
        return []  # python_parses reports a source that cannot be read
    facts["source_names"] = [r.where() for r in found]
    return found


# -- script_schema -------------------------------------------------------------------------------


@pytest.mark.criterion("script_schema")
def check_script_schema(
    case: Case, manifest: LoadedManifest, request: pytest.FixtureRequest, facts: dict[str, Any]
) -> None:
    script = _script(case)
    mandated = [m for m in _families(manifest) if m.family.required_columns]
    writes = _refs(script.writes, _families(manifest))
    outputs = _tables(request, manifest, writes)
    covered = sorted({m.mandate for m in mandated})
    label = "/".join(covered)
    facts["mandates"] = covered
    lacking: dict[str, list[str]] = {}
    checked = 0
    for _, table in outputs:
        mine = [m.family for m in mandated if in_family(table.name, m.family)]
        if not mine:
            continue
        checked += 1
        missing = [c for f in mine for c in judge(table.name, table.columns, f).missing_columns]
        if missing:
            lacking[table.name] = list(dict.fromkeys(missing))
    facts["output_tables"] = checked
    facts["missing"] = lacking
    if lacking:
        columns = list(dict.fromkeys(c for cs in lacking.values() for c in cs))
        entries = (f"{t} lacks {', '.join(cs)}" for t, cs in lacking.items())
        reason = f"missing {', '.join(columns)} in output schema ({short_list(entries, sep='; ')})"
        facts.update(schema="NO", schema_reason=reason)
        finding(f"{script.path}: {label} ready: NO ({reason})")
    if checked:
        facts.update(schema="YES", schema_reason=f"{checked:,} output tables carry the mandated columns")
    else:
        facts.update(schema="YES", schema_reason="no output table of a mandated family yet")


# -- script_cost ---------------------------------------------------------------------------------


@pytest.mark.criterion("script_cost")
def check_script_cost(
    case: Case, manifest: LoadedManifest, request: pytest.FixtureRequest, facts: dict[str, Any]
) -> None:
    script = _script(case)
    google: GoogleAccess = request.getfixturevalue("google")
    price = google.gcp.usd_per_tib
    if script.queries:
        low, high, basis = _query_cost(
            manifest, script, bigquery_metadata(request.config, google), price, facts
        )
    else:
        tables = _tables(request, manifest, _refs(script.reads, _families(manifest)))
        billed = sum(max(t.size_bytes, MIN_BILLED_BYTES) for _, t in tables)
        low = usd(billed, price)
        high = low * script.runs
        facts.update(tables=len(tables), bytes=sum(t.size_bytes for _, t in tables), runs=script.runs)
        basis = f"{_count(len(tables), 'table')}, {_count(script.runs, 'run')}"
    estimate = f"{usd_range(low, high)} ({basis})"
    facts.update(usd_low=round(low, 2), usd_high=round(high, 2), estimate=estimate)
    phase = manifest.phase
    if phase.budget_usd is None or not script.needed_by(phase.id):
        return
    facts["budget_usd"] = phase.budget_usd
    if high > phase.budget_usd:
        verb = "exceeds" if low > phase.budget_usd else "may exceed"
        finding(f"{script.path}: {estimate} {verb} phase {phase.id}'s budget ${phase.budget_usd:,.2f}")
    if facts.get("lower_bound"):
        unverified(f"{script.path}: {estimate} is a lower bound: within the budget proves nothing")


def _query_cost(
    manifest: LoadedManifest, script: Script, bq: BigQueryMetadata, price: float, facts: dict[str, Any]
) -> tuple[float, float, str]:
    """Its queries' dry runs times their runs: one figure (a floor when BigQuery says so)."""
    __tracebackhide__ = True
    queries = [q for q in manifest.manifest.queries if q.name in script.queries]
    total, runs, floors = 0.0, 0, []
    for query in queries:
        estimate = bq.dry_run(query.sql)
        if estimate.bytes is None:
            unverified(f"{script.path}: query {query.name!r} was refused by the dry run (see query_cost)")
        total += usd(estimate.bytes, price) * query.runs
        runs += query.runs
        if estimate.lower_bound:
            floors.append(query.name)
    facts.update(queries=[q.name for q in queries], runs=runs, basis="dry run")
    if floors:
        facts["lower_bound"] = floors
    noun = "query" if len(queries) == 1 else "queries"
    return total, total, f"{'at least, ' if floors else ''}{len(queries)} {noun}, {_count(runs, 'run')}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' if n != 1 else ''}"
