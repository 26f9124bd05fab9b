"""The tracking service: listeners, the clock engine and the API others call.

`Tracker` is what the dashboard, case-system receipts and the scheduler use:
`tick(now)`, `record_ack(...)`, `record_attempt(...)`, `record_outcome(...)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.domain.routing import CoordinatorItem
from gateway.store.db import Database
from gateway.store.models import ClockRow, DeliveryRow
from gateway.store.tracking_models import DeliveryAckRow, RhiRow
from gateway.tracking import acks, episodes, rhi
from gateway.tracking.clocks import ClockEngine, Handler, TickReport
from gateway.tracking.context import DeliveryWriter, Policy, TrackingContext
from gateway.tracking.listener import EventTracker, SentTracker
from routing.directory import Directory

log = logging.getLogger(__name__)


class Tracker:
    """Everything tracking does, bound to one database, directory and delivery writer."""

    def __init__(self, db: Database, directory: Directory, writer: DeliveryWriter, *,
                 policy: Policy | None = None,
                 enqueue: Callable[[Iterable[str]], None] | None = None) -> None:
        self.db = db
        self.ctx = TrackingContext(directory=directory, writer=writer,
                                   policy=policy or Policy())
        self.enqueue = enqueue
        handlers: dict[str, Handler] = {}
        handlers.update(episodes.handlers(self.ctx))
        handlers.update(rhi.handlers(self.ctx))
        handlers.update(acks.handlers(self.ctx))
        self.engine = ClockEngine(db, handlers, lease=self.ctx.policy.lease,
                                  batch=self.ctx.policy.batch, on_failure=self._clock_failed)
        self.on_event = EventTracker(self.ctx)
        self.on_sent = SentTracker(self.ctx)

    def tick(self, now: datetime) -> TickReport:
        """Fire every clock due at `now` once; enqueue the chases after each commit."""
        total = TickReport()
        for _ in range(1000):
            claimed = self.engine.claim(now)
            total.claimed += len(claimed)
            if not claimed:
                break
            report = self.engine.fire(claimed, now, now)
            total.add(report)
            if report.deliveries and self.enqueue is not None:
                try:
                    self.enqueue(report.deliveries)
                except Exception:
                    # Committed rows are the truth: the outbox sweep sends what was not queued.
                    log.exception("could not enqueue %d chases", len(report.deliveries))
        return total

    def record_ack(self, session: Session, delivery_id: str, stage: str,
                   now: datetime) -> DeliveryAckRow:
        """Record a receipt ('received' or 'accepted') for a delivery."""
        return acks.record_ack(self.ctx, session, delivery_id, stage, now)

    def record_acks(self, session: Session,
                    receipts: Sequence[tuple[str, str, datetime]]) -> None:
        """Record many receipts (delivery id, stage, when) at once, e.g. a case-system file."""
        acks.record_acks(self.ctx, session, receipts)

    def on_sent_many(self, session: Session,
                     sent: Sequence[tuple[DeliveryRow, datetime]]) -> None:
        """Start the acknowledgement clocks of many deliveries sent (the batch form of on_sent)."""
        acks.on_sent_many(self.ctx, session, sent)

    def record_attempt(self, session: Session, rhi_id: str, **kwargs: Any) -> RhiRow:
        """Record an attempt to hold an RHI (see rhi.record_attempt)."""
        return rhi.record_attempt(self.ctx, session, rhi_id, **kwargs)

    def record_outcome(self, session: Session, rhi_id: str, outcome: str,
                       **kwargs: Any) -> RhiRow:
        """Record an RHI outcome (see rhi.record_outcome)."""
        return rhi.record_outcome(self.ctx, session, rhi_id, outcome, **kwargs)

    def _clock_failed(self, session: Session, clock: ClockRow, error: str,
                      now: datetime) -> None:
        self.ctx.writer.raise_item(session, CoordinatorItem(
            kind="clock_failed", message=f"clock {clock.kind} for {clock.subject_type} "
            f"{clock.subject_id} could not fire and was given up: {error}"), now)
