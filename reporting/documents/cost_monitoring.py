"""The infrastructure report's answer to "is cost tracking in place?", from the billing_export case."""

from __future__ import annotations

from collections.abc import Sequence

from readiness.records import CaseRecord, Outcome

__all__ = ["cost_monitoring_line"]


def cost_monitoring_line(records: Sequence[CaseRecord]) -> str:
    record = next((r for r in records if r.criterion == "billing_export"), None)
    if record is None:
        return "**Cost monitoring: not audited** (no `[billing]` export dataset in the manifest)."
    facts = record.facts
    if record.outcome is Outcome.PASSED:
        age = facts.get("age_hours")
        ago = f" ({age:,.1f} h ago)" if isinstance(age, int | float) else ""
        budget = facts.get("budget_usd")
        return (
            f"**Cost monitoring: in place.** Billing export {facts.get('dataset', record.subject)} last "
            f"written {facts.get('last_export', '?')}{ago}; phase budget ${budget:,.2f}."
        )
    if record.outcome is Outcome.FAILED:
        return f"**Cost monitoring: NOT in place** ({record.priority.value}): {record.message}."
    return f"**Cost monitoring: unverified** ({record.priority.value}): {record.message or record.outcome.value}."
