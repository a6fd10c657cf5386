"""History in an SQLite file: the default store, embedded, no set-up.

Two runs finishing at the same moment (a nightly and a developer's run on a shared disk) must
not corrupt the file or lose a run: the database is in WAL mode, every connection waits up to
`BUSY_TIMEOUT` seconds for a lock, and a run is written in one `BEGIN IMMEDIATE` transaction.

Schema (version 1, `PRAGMA user_version`):

    runs(run_id PK, project, phase, scope_key, markexpr, keyword, manifest,
         started, finished, verdict, risk, cases_run, cases_total)
    cases(run_id -> runs, key, criterion, subject, title, area, category, priority, outcome,
          message, owner, waiver, first_seen, consecutive_failures, previous_outcome,
          PRIMARY KEY (run_id, key))

Timestamps are UTC text `YYYY-MM-DDTHH:MM:SS.ffffffZ`, which sorts as time does.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from readiness.priorities import Priority
from readiness.records import Outcome
from reporting.history.store import (
    CaseEntry,
    HistoryError,
    HistoryStore,
    RunEntry,
    from_utc_text,
    utc_text,
)

__all__ = ["BUSY_TIMEOUT", "SqliteStore"]

_T = TypeVar("_T")

#: Seconds a writer waits for another run's transaction before giving up.
BUSY_TIMEOUT: Final = 30.0
_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    phase TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    markexpr TEXT NOT NULL,
    keyword TEXT NOT NULL,
    manifest TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    verdict TEXT NOT NULL,
    risk TEXT NOT NULL,
    cases_run INTEGER NOT NULL,
    cases_total INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    key TEXT NOT NULL,
    criterion TEXT NOT NULL,
    subject TEXT NOT NULL,
    title TEXT NOT NULL,
    area TEXT NOT NULL,
    category TEXT NOT NULL,
    priority TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    owner TEXT NOT NULL,
    waiver TEXT NOT NULL,
    first_seen TEXT,
    consecutive_failures INTEGER NOT NULL,
    previous_outcome TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS runs_by_scope ON runs (project, phase, scope_key, started);
CREATE INDEX IF NOT EXISTS cases_by_key ON cases (key);
"""

_CASE_COLUMNS: Final = (
    "key, criterion, subject, title, area, category, priority, outcome, message, owner, waiver, "
    "first_seen, consecutive_failures, previous_outcome"
)
_RUN_COLUMNS: Final = (
    "run_id, project, phase, scope_key, markexpr, keyword, manifest, started, finished, verdict, "
    "risk, cases_run, cases_total"
)


def _why(exc: sqlite3.Error) -> str:
    return str(exc) or type(exc).__name__


class SqliteStore(HistoryStore):
    def __init__(self, path: Path, *, must_exist: bool = False) -> None:
        self.path = path
        self.location = str(path)
        self.skipped = []
        #: A reader (the review) must not create an empty store under a mistyped name.
        self.must_exist = must_exist
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        if not self.path.parent.is_dir():
            raise HistoryError(
                f"{self.path}: cannot open the history store: folder {self.path.parent} does not exist"
            )
        if self.must_exist and not self.path.is_file():
            raise HistoryError(
                f"{self.path}: no such history store (check the path; a reader never creates one)"
            )
        try:
            # isolation_level=None: we issue BEGIN ourselves, so a run is exactly one transaction.
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _VERSION:
                conn.close()
                raise HistoryError(
                    f"{self.path}: history schema version {version} is newer than this suite's ({_VERSION})"
                )
            if version < _VERSION:
                # Statement by statement: executescript() would commit our BEGIN away, and two
                # first runs at once must not both create the schema half-way.
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {_VERSION}")
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot open the history store: {_why(exc)}") from None
        self._conn = conn
        return conn

    def record(self, run: RunEntry) -> None:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                (
                    run.run_id,
                    run.project,
                    run.phase,
                    run.scope_key,
                    run.markexpr,
                    run.keyword,
                    run.manifest,
                    utc_text(run.started),
                    utc_text(run.finished),
                    run.verdict,
                    run.risk,
                    run.cases_run,
                    run.cases_total,
                ),
            )
            conn.executemany(
                f"INSERT OR REPLACE INTO cases (run_id, {_CASE_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                [
                    (
                        run.run_id,
                        c.key,
                        c.criterion,
                        c.subject,
                        c.title,
                        c.area,
                        c.category,
                        c.priority,
                        c.outcome,
                        c.message,
                        c.owner,
                        c.waiver,
                        utc_text(c.first_seen) if c.first_seen else None,
                        c.consecutive_failures,
                        c.previous_outcome,
                    )
                    for c in run.cases
                ],
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise HistoryError(f"{self.path}: cannot write the run to history: {_why(exc)}") from None

    def runs(
        self,
        project: str,
        phase: str,
        *,
        scope: str | None = None,
        before: dt.datetime | None = None,
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[RunEntry]:
        where = ["project = ?", "phase = ?"]
        args: list[Any] = [project, phase]
        if scope is not None:
            where.append("scope_key = ?")
            args.append(scope)
        if before is not None:
            where.append("started < ?")
            args.append(utc_text(before))
        if since is not None:
            where.append("started >= ?")
            args.append(utc_text(since))
        sql = (
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {' AND '.join(where)} ORDER BY started DESC, run_id DESC"
        )
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        conn = self._connect()
        try:
            rows = conn.execute(sql, args).fetchall()
            result = []
            for row in rows:
                cases = conn.execute(
                    f"SELECT {_CASE_COLUMNS} FROM cases WHERE run_id = ? ORDER BY key", (row[0],)
                ).fetchall()
                entries = tuple(e for c in cases if (e := self._readable(_case, c, "case")) is not None)
                run = self._readable(functools.partial(_run, cases=entries), row, "run")
                if run is not None:
                    result.append(run)
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot read history: {_why(exc)}") from None
        return result

    def latest_cases(
        self, project: str, phase: str, before: dt.datetime | None = None
    ) -> dict[str, CaseEntry]:
        args: list[Any] = [project, phase]
        cutoff = ""
        if before is not None:
            cutoff = "AND r.started < ?"
            args.append(utc_text(before))
        columns = ", ".join(f"c.{name.strip()}" for name in _CASE_COLUMNS.split(","))
        sql = f"""
            SELECT {_CASE_COLUMNS} FROM (
                SELECT {columns}, ROW_NUMBER() OVER (
                    PARTITION BY c.key ORDER BY r.started DESC, r.run_id DESC) AS newest
                FROM cases AS c JOIN runs AS r ON r.run_id = c.run_id
                WHERE r.project = ? AND r.phase = ? {cutoff}
            ) WHERE newest = 1
        """
        try:
            rows = self._connect().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot read history: {_why(exc)}") from None
        return {row[0]: entry for row in rows if (entry := self._readable(_case, row, "case")) is not None}

    def _readable(self, build: Callable[[Any], _T], row: Any, what: str) -> _T | None:
        """The entry of a row, or None (named in `skipped`) when SQLite holds what we cannot read."""
        try:
            return build(row)
        except (ValueError, TypeError, IndexError) as exc:
            note = f"{self.path}: unreadable {what} row {str(row[0])[:80]!r} skipped ({exc})"
            if note not in self.skipped:
                self.skipped.append(note)
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _case(row: Any) -> CaseEntry:
    # Validated here, not where used: one bad row is skipped instead of failing every reader.
    Outcome(row[7])
    Priority(row[6])
    if row[13]:
        Outcome(row[13])
    return CaseEntry(
        key=row[0],
        criterion=row[1],
        subject=row[2],
        title=row[3],
        area=row[4],
        category=row[5],
        priority=row[6],
        outcome=row[7],
        message=row[8],
        owner=row[9],
        waiver=row[10],
        first_seen=from_utc_text(row[11]) if row[11] else None,
        consecutive_failures=int(row[12]),
        previous_outcome=row[13],
    )


def _run(row: Any, cases: tuple[CaseEntry, ...]) -> RunEntry:
    return RunEntry(
        run_id=row[0],
        project=row[1],
        phase=row[2],
        scope_key=row[3],
        markexpr=row[4],
        keyword=row[5],
        manifest=row[6],
        started=from_utc_text(row[7]),
        finished=from_utc_text(row[8]),
        verdict=row[9],
        risk=row[10],
        cases_run=int(row[11]),
        cases_total=int(row[12]),
        cases=cases,
    )
