"""Durable clocks: schedule, cancel, claim by compare-and-set, fire once.

A tick runs in two transactions per batch. The first claims due clocks by setting
`claimed_at` (the claim token) only where no live claim exists; the second fires each
claimed clock in its own savepoint and marks it FIRED only if the claim is still the one
taken. A process that dies between the two leaves clocks claimed but PENDING: after the
lease another tick claims them again, so nothing is missed, and the FIRED mark shares the
transaction of the firing's effects, so nothing fires twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.store.db import Database
from gateway.store.models import ClockRow, new_id

# Ids per IN (...) list: well under SQLite's bound-parameter limit.
_CHUNK = 500
PENDING = "PENDING"
FIRED = "FIRED"
CANCELLED = "CANCELLED"
FAILED = "FAILED"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fired:
    """What firing one clock did: its outcome and any deliveries to enqueue after commit."""

    outcome: str  # breach | chased | escalated | satisfied | moot | ...
    deliveries: tuple[str, ...] = ()
    items: int = 0


Handler = Callable[[Session, ClockRow, datetime], Fired]
Context = TypeVar("Context")
FailureHook = Callable[[Session, ClockRow, str, datetime], None]


@dataclass
class TickReport:
    """What one tick claimed and fired, by clock kind and outcome."""

    claimed: int = 0
    fired: int = 0
    failed: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    breaches_by_kind: Counter[str] = field(default_factory=Counter)
    items: int = 0
    deliveries: list[str] = field(default_factory=list)

    @property
    def breaches(self) -> int:
        """Return how many firings were breaches of a deadline."""
        return self.outcomes["breach"]

    def count(self, kind: str, fired: Fired) -> None:
        """Count one firing."""
        self.fired += 1
        self.by_kind[kind] += 1
        self.outcomes[fired.outcome] += 1
        if fired.outcome == "breach":
            self.breaches_by_kind[kind] += 1
        self.items += fired.items
        self.deliveries.extend(fired.deliveries)

    def add(self, other: TickReport) -> None:
        """Add another report's figures into this one."""
        self.claimed += other.claimed
        self.fired += other.fired
        self.failed += other.failed
        self.by_kind.update(other.by_kind)
        self.outcomes.update(other.outcomes)
        self.breaches_by_kind.update(other.breaches_by_kind)
        self.items += other.items
        self.deliveries.extend(other.deliveries)


def bound(context: Context,
          function: Callable[[Context, Session, ClockRow, datetime], Fired]) -> Handler:
    """Return a handler that calls `function` with `context` first."""

    def handler(session: Session, clock: ClockRow, now: datetime) -> Fired:
        return function(context, session, clock, now)

    return handler


def schedule(session: Session, *, kind: str, subject_type: str, subject_id: str,
             due_at: datetime, now: datetime, data: Mapping[str, Any] | None = None) -> str:
    """Create a PENDING clock, or return the existing one with the same kind, subject and due."""
    clock_id = new_id()
    created = schedule_many(session, [_values(clock_id, kind, subject_type, subject_id, due_at,
                                              now, data)])
    if created == 1:
        return clock_id
    existing: str = session.execute(select(ClockRow.id).where(
        ClockRow.kind == kind, ClockRow.subject_id == subject_id,
        ClockRow.due_at == due_at)).scalar_one()
    return existing


def clock_values(*, kind: str, subject_type: str, subject_id: str, due_at: datetime,
                 now: datetime, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the column values of a new PENDING clock, for `schedule_many`."""
    return _values(new_id(), kind, subject_type, subject_id, due_at, now, data)


def _values(clock_id: str, kind: str, subject_type: str, subject_id: str, due_at: datetime,
            now: datetime, data: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"id": clock_id, "kind": kind, "subject_type": subject_type,
            "subject_id": subject_id, "due_at": due_at, "state": PENDING, "created_at": now,
            "claimed_at": None, "fired_at": None, "data": dict(data or {})}


def schedule_many(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert clocks in one statement, skipping any whose kind, subject and due exist already.

    Returns how many were created (the driver's count; exact on SQLite and PostgreSQL).
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert_: Any = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_(ClockRow.__table__).on_conflict_do_nothing(
        index_elements=["kind", "subject_id", "due_at"])
    # A Core insert on the session's connection (same transaction): the values travel as
    # bound parameters, so the compiled statement is cached, and the row count is exact.
    result = session.connection().execute(statement, rows[0] if len(rows) == 1 else rows)
    return int(getattr(result, "rowcount", len(rows)))


def cancel(session: Session, subject_id: str, kinds: Iterable[str] | None = None) -> int:
    """Cancel the PENDING clocks of a subject (of the given kinds); return how many."""
    return cancel_many(session, [subject_id], kinds)


def cancel_many(session: Session, subject_ids: Iterable[str],
                kinds: Iterable[str] | None = None) -> int:
    """Cancel the PENDING clocks of many subjects (of the given kinds); return how many."""
    ids = list(dict.fromkeys(subject_ids))
    cancelled = 0
    for start in range(0, len(ids), _CHUNK):
        statement = update(ClockRow).where(ClockRow.subject_id.in_(ids[start:start + _CHUNK]),
                                           ClockRow.state == PENDING)
        if kinds is not None:
            statement = statement.where(ClockRow.kind.in_(list(kinds)))
        result = session.execute(statement.values(state=CANCELLED)
                                 .execution_options(synchronize_session=False))
        cancelled += int(getattr(result, "rowcount", 0))
    return cancelled


def pending(session: Session, subject_id: str, kinds: Iterable[str]) -> list[ClockRow]:
    """Return the PENDING clocks of a subject of the given kinds, earliest first."""
    return list(session.execute(select(ClockRow).where(
        ClockRow.subject_id == subject_id, ClockRow.state == PENDING,
        ClockRow.kind.in_(list(kinds))).order_by(ClockRow.due_at)).scalars())


class _HandlerFailed(Exception):
    """A handler raised while firing a batch together: fire the batch one by one instead."""


class ClockEngine:
    """Claims and fires due clocks with the handler registered for each kind."""

    def __init__(self, db: Database, handlers: Mapping[str, Handler], *,
                 lease: timedelta = timedelta(minutes=5), batch: int = 500,
                 max_failures: int = 5, on_failure: FailureHook | None = None) -> None:
        self.db = db
        self.handlers = handlers
        self.lease = lease
        self.batch = batch
        self.max_failures = max_failures
        self.on_failure = on_failure

    def _claimable(self, now: datetime) -> Any:
        return and_(ClockRow.state == PENDING, ClockRow.due_at <= now,
                    or_(ClockRow.claimed_at.is_(None), ClockRow.claimed_at < now - self.lease))

    def claim(self, now: datetime, limit: int | None = None) -> list[str]:
        """Claim up to `limit` due clocks with token `now` and return their ids (own commit)."""
        with self.db.unit_of_work() as session:
            return self.claim_in(session, now, limit)

    def claim_in(self, session: Session, now: datetime, limit: int | None = None) -> list[str]:
        """Claim due clocks inside the caller's transaction; return the ids won."""
        candidates = (select(ClockRow.id).where(self._claimable(now))
                      .order_by(ClockRow.due_at).limit(limit or self.batch)
                      .with_for_update(skip_locked=True))
        result = session.execute(
            update(ClockRow).where(ClockRow.id.in_(candidates), self._claimable(now))
            .values(claimed_at=now).returning(ClockRow.id)
            .execution_options(synchronize_session=False))
        return list(result.scalars())

    def fire(self, clock_ids: list[str], token: datetime, now: datetime) -> TickReport:
        """Fire clocks claimed with `token`, each once (own commits).

        The whole batch first fires in one transaction; if any handler fails, that is
        rolled back and the batch fires again one savepoint per clock, so one bad clock
        neither blocks the others nor makes the common case pay for savepoints.
        """
        try:
            with self.db.unit_of_work() as session:
                return self._fire_together(session, clock_ids, token, now)
        except _HandlerFailed:
            pass
        with self.db.unit_of_work() as session:
            return self.fire_in(session, clock_ids, token, now)

    def _fire_together(self, session: Session, clock_ids: list[str], token: datetime,
                       now: datetime) -> TickReport:
        """Mark the batch FIRED by compare-and-set, then run each handler; all or nothing."""
        report = TickReport()
        won: list[str] = []
        for start in range(0, len(clock_ids), _CHUNK):
            won += session.execute(
                update(ClockRow).where(ClockRow.id.in_(clock_ids[start:start + _CHUNK]),
                                       ClockRow.state == PENDING, ClockRow.claimed_at == token)
                .values(state=FIRED, fired_at=now).returning(ClockRow.id)
                .execution_options(synchronize_session=False)).scalars().all()
        outcomes: list[dict[str, Any]] = []
        for start in range(0, len(won), _CHUNK):
            rows = session.execute(select(ClockRow).where(
                ClockRow.id.in_(won[start:start + _CHUNK])).order_by(ClockRow.due_at)).scalars()
            for row in list(rows):
                handler = self.handlers.get(row.kind)
                data = dict(row.data or {})
                try:
                    if handler is None:
                        raise LookupError(f"no handler for clock kind {row.kind!r}")
                    fired = handler(session, row, now)
                except Exception as exc:
                    raise _HandlerFailed(row.id) from exc
                outcomes.append({"b_id": row.id, "b_data": {**data, "outcome": fired.outcome}})
                report.count(row.kind, fired)
        if outcomes:
            table = cast(Table, ClockRow.__table__)
            session.flush()
            session.connection().execute(
                update(table).where(table.c.id == bindparam("b_id"))
                .values(data=bindparam("b_data")), outcomes)
        return report

    def fire_in(self, session: Session, clock_ids: list[str], token: datetime,
                now: datetime) -> TickReport:
        """Fire claimed clocks inside the caller's transaction, one savepoint each."""
        report = TickReport()
        if not clock_ids:
            return report
        rows = list(session.execute(select(ClockRow).where(ClockRow.id.in_(clock_ids))
                                    .order_by(ClockRow.due_at)).scalars())
        for row in rows:
            if row.state != PENDING or row.claimed_at != token:
                continue
            self._fire_one(session, row, token, now, report)
        return report

    def _fire_one(self, session: Session, row: ClockRow, token: datetime, now: datetime,
                  report: TickReport) -> None:
        handler = self.handlers.get(row.kind)
        kind, clock_id, data = row.kind, row.id, dict(row.data or {})
        savepoint = session.begin_nested()
        try:
            if handler is None:
                raise LookupError(f"no handler for clock kind {kind!r}")
            fired = handler(session, row, now)
            session.flush()
            won = session.execute(
                update(ClockRow).where(ClockRow.id == clock_id, ClockRow.state == PENDING,
                                       ClockRow.claimed_at == token)
                .values(state=FIRED, fired_at=now, data={**data, "outcome": fired.outcome})
                .execution_options(synchronize_session=False))
            if getattr(won, "rowcount", 0) != 1:
                # Another tick re-claimed it after our lease ran out: its firing counts.
                savepoint.rollback()
                return
            savepoint.commit()
        except Exception as exc:
            savepoint.rollback()
            log.exception("clock %s (%s) failed to fire", clock_id, kind)
            self._record_failure(session, clock_id, token, data, f"{type(exc).__name__}: {exc}",
                                 now)
            report.failed += 1
            return
        report.count(kind, fired)

    def _record_failure(self, session: Session, clock_id: str, token: datetime,
                        data: dict[str, Any], error: str, now: datetime) -> None:
        failures = int(data.get("failures", 0)) + 1
        values: dict[str, Any] = {"data": {**data, "failures": failures, "last_error": error}}
        if failures >= self.max_failures:
            values["state"] = FAILED
        session.execute(update(ClockRow).where(ClockRow.id == clock_id,
                                               ClockRow.claimed_at == token)
                        .values(**values).execution_options(synchronize_session=False))
        if failures >= self.max_failures and self.on_failure is not None:
            row = session.get(ClockRow, clock_id)
            if row is not None:
                self.on_failure(session, row, error, now)

    def tick(self, now: datetime, max_rounds: int = 1000) -> TickReport:
        """Claim and fire every clock due at `now`, batch by batch; return the figures."""
        total = TickReport()
        for _ in range(max_rounds):
            claimed = self.claim(now)
            total.claimed += len(claimed)
            if not claimed:
                break
            total.add(self.fire(claimed, now, now))
        return total
