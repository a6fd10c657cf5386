"""Run history: one small interface (store.py), an SQLite file and a BigQuery table behind it."""

from __future__ import annotations

from pathlib import Path

from reporting.history.store import (
    CaseEntry,
    HistoryError,
    HistoryStore,
    RunEntry,
    scope_key,
)

__all__ = ["CaseEntry", "HistoryError", "HistoryStore", "RunEntry", "open_store", "scope_key"]


def open_store(
    location: str, base: Path, bigquery_endpoint: str = "", *, must_exist: bool = False
) -> HistoryStore:
    """The store at `location`: bq://project.dataset.table, else an SQLite path (relative to base).

    Opening is lazy: a store that cannot be reached raises HistoryError on first use.
    """
    if location.startswith("bq://"):
        from reporting.history.bigquery_store import BigQueryStore

        try:
            return BigQueryStore(location, endpoint=bigquery_endpoint)
        except ValueError as exc:
            raise HistoryError(str(exc)) from None
    from reporting.history.sqlite_store import SqliteStore

    return SqliteStore((base / location).expanduser(), must_exist=must_exist)
