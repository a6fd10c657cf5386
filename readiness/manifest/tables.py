"""The tables a script reads and writes (`[[scripts]] reads/writes/queries`), validated at load.

An entry is a table name (`cov_agg_eurusd`), a pattern (`cov_agg_{pair}`: a placeholder is one
name segment without `_`; `cov_*`: any text), or the name of a mandate family (`COV`: every
table of the family), each optionally qualified by its dataset (`bqx_ml_v3_source.ohlc_m1_*`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from readiness.manifest import Manifest, Script
    from readiness.manifest.gcp import Family

__all__ = [
    "ENTRY",
    "cost_judged",
    "names_judged",
    "schema_judged",
    "table_entries",
    "table_references",
]

#: `[dataset.]name`, where the name may hold `*` and `{placeholder}`s.
ENTRY: Final = re.compile(
    r"^(?:(?P<dataset>[A-Za-z0-9_-]+)\.)?(?P<name>(?:[A-Za-z0-9_*-]|\{[A-Za-z0-9_]*\})+)$"
)


def table_entries(value: list[str]) -> list[str]:
    for entry in value:
        if ENTRY.match(entry) is None:
            raise ValueError(
                f"table {entry!r}: expected a name, a pattern such as 'cov_agg_{{pair}}' or 'cov_*', "
                "or a mandate family, optionally 'dataset.'-qualified"
            )
    return value


def _datasets(manifest: Manifest) -> set[str]:
    names = {d.id for d in manifest.datasets} | {v.dataset for v in manifest.legacy_views}
    names |= {s.table.split(".")[-2] for s in manifest.source_tables}
    return names


def table_references(manifest: Manifest) -> None:
    """A script's queries are `[[queries]]` of the manifest, and a dataset its entries name is one
    the manifest audits (its tables are read once per run, with the others)."""
    queries = {q.name for q in manifest.queries}
    datasets = _datasets(manifest)
    for index, script in enumerate(manifest.scripts):
        where = f"scripts[{index}] {script.path!r}"
        for name in script.queries:
            if name not in queries:
                known = ", ".join(sorted(queries)) or "none declared"
                raise ValueError(f"{where}.queries: unknown query {name!r} (the [[queries]]: {known})")
        if manifest.gcp is None:
            continue
        for key in ("reads", "writes"):
            for entry in getattr(script, key):
                match = ENTRY.match(entry)
                dataset = match["dataset"] if match else None
                if dataset and dataset not in datasets:
                    raise ValueError(
                        f"{where}.{key}: dataset {dataset!r} of {entry!r} is not audited "
                        "(declare it in [[datasets]])"
                    )


def _families(manifest: Manifest) -> list[Family]:
    return [f for m in manifest.mandates for f in m.families]


# A script is judged on what it declares: names need a naming mandate, the schema its writes and
# a schema mandate and BigQuery, the cost its reads or queries and BigQuery.


def names_judged(script: Script, manifest: Manifest) -> bool:
    return bool(script.reads or script.writes) and any(f.table_pattern for f in _families(manifest))


def schema_judged(script: Script, manifest: Manifest) -> bool:
    return (
        manifest.gcp is not None
        and bool(script.writes)
        and any(f.required_columns for f in _families(manifest))
    )


def cost_judged(script: Script, manifest: Manifest) -> bool:
    return manifest.gcp is not None and bool(script.reads or script.queries)
