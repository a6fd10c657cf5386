"""On-demand BigQuery pricing arithmetic for cost estimates, and how a dollar range is written."""

from __future__ import annotations

from typing import Final

__all__ = ["MIN_BILLED_BYTES", "TIB", "usd", "usd_range"]

TIB: Final = 2**40
#: On-demand billing counts at least 10 MB for each table a query references.
MIN_BILLED_BYTES: Final = 10 * 2**20


def usd(scanned: float, price_per_tib: float) -> float:
    return scanned / TIB * price_per_tib


def usd_range(low: float, high: float) -> str:
    """ "$5-10", or "$0.42" when the bounds agree at the precision shown."""
    # One precision for both ends, from the larger: cents below $10, whole dollars above.
    spec = ",.0f" if max(low, high) >= 10 else ",.2f"
    lo, hi = format(low, spec), format(high, spec)
    return f"${lo}" if lo == hi else f"${lo}-{hi}"
