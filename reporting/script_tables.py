"""A script's naming, schema and cost columns, read from the facts its table cases recorded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from readiness.records import CaseRecord, Outcome

__all__ = ["TableColumns", "table_columns"]


@dataclass(frozen=True, slots=True)
class TableColumns:
    #: "M008 PARTIAL (creates compliant names, but ...)"; "" when the script declares no tables.
    naming: str = ""
    #: "M005 ready: NO (missing pair in output schema ...)".
    schema: str = ""
    #: "$5-10 (194 tables, 2 runs)", with "over budget" when it failed.
    cost: str = ""


def table_columns(records: Iterable[CaseRecord]) -> TableColumns:
    by_criterion = {r.criterion: r for r in records}
    return TableColumns(
        naming=_column(by_criterion.get("script_naming"), _naming),
        schema=_column(by_criterion.get("script_schema"), _schema),
        cost=_column(by_criterion.get("script_cost"), _cost),
    )


def _column(record: CaseRecord | None, text: Any) -> str:
    if record is None:
        return ""
    if record.outcome in (Outcome.ERROR, Outcome.SKIPPED) or not record.facts:
        message = record.message or record.outcome.value
        return message if message.startswith("unverified") else f"unverified: {message}"
    value: str = text(record)
    return value + (" (waived)" if record.outcome is Outcome.WAIVED else "")


def _label(facts: dict[str, Any]) -> str:
    return "/".join(str(m) for m in facts.get("mandates", []))


def _naming(record: CaseRecord) -> str:
    facts = record.facts
    return f"{_label(facts)} {facts.get('naming', '?')} ({facts.get('naming_reason', '')})".strip()


def _schema(record: CaseRecord) -> str:
    facts = record.facts
    return f"{_label(facts)} ready: {facts.get('schema', '?')} ({facts.get('schema_reason', '')})".strip()


def _cost(record: CaseRecord) -> str:
    estimate = str(record.facts.get("estimate", ""))
    if record.outcome is Outcome.FAILED and "budget_usd" in record.facts:
        return f"{estimate}: over the phase budget (${record.facts['budget_usd']:,.2f})"
    return estimate
