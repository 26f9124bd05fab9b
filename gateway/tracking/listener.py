"""React to applied events and sent deliveries inside their transactions: start and stop clocks.

A fault in tracking must never stop a missing notice from going out, so each reaction runs
in a savepoint: on error it is rolled back, logged, and a coordinator item says tracking
missed this event.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.domain.enums import EventType
from gateway.domain.routing import CoordinatorItem
from gateway.pipeline import AppliedEvent
from gateway.store.models import DeliveryRow
from gateway.store.tracking_models import TrackedEpisodeRow
from gateway.tracking import acks, episodes, repeat, rhi
from gateway.tracking.context import TrackingContext

log = logging.getLogger(__name__)


class EventTracker:
    """The pipeline's EventListener for tracking."""

    def __init__(self, ctx: TrackingContext) -> None:
        self.ctx = ctx

    def __call__(self, session: Session, applied: AppliedEvent) -> list[str]:
        """Start, re-time or stop the clocks this event affects; return chase delivery ids."""
        savepoint = session.begin_nested()
        try:
            deliveries = self.handle(session, applied)
            savepoint.commit()
            return deliveries
        except Exception as exc:
            savepoint.rollback()
            log.exception("tracking failed for event %s", applied.event_id)
            self.ctx.writer.raise_item(session, CoordinatorItem(
                kind="tracking_error", message=f"clocks for {applied.notification.event.value} "
                f"of {applied.notification.police_reference} were not set: {exc}"),
                applied.now, episode_id=applied.episode_id)
            return []

    def handle(self, session: Session, applied: AppliedEvent) -> list[str]:
        """Do the work of one applied event in the caller's transaction."""
        ctx, now = self.ctx, applied.now
        event = applied.notification.event
        known = session.get(TrackedEpisodeRow, applied.episode_id)
        is_new = known is None
        tracked = episodes.track(session, applied, known)
        deliveries: list[str] = []
        if event is EventType.MISSING_REPORTED and is_new:
            deliveries += episodes.on_missing(ctx, session, applied, tracked)
            deliveries += repeat.on_missing(ctx, session, tracked, now)
        elif event in (EventType.MISSING_REPORTED, EventType.RISK_REGRADED):
            episodes.on_regraded(ctx, session, applied, tracked)
        elif event is EventType.UPDATE:
            episodes.on_update(applied, tracked)
            if applied.notification.risk is not None:
                episodes.on_regraded(ctx, session, applied, tracked)
        elif event is EventType.FOUND:
            episodes.on_ended(session, applied.episode_id)
            rhi.on_found(ctx, session, applied, tracked)
        elif event is EventType.CLOSED:
            episodes.on_ended(session, applied.episode_id)
        elif event is EventType.CANCELLED:
            tracked.cancelled = True
            episodes.on_ended(session, applied.episode_id)
            rhi.on_episode_cancelled(session, applied.episode_id, now)
        elif event is EventType.RHI_OUTCOME:
            self._rhi_outcome(session, applied)
        return deliveries

    def _rhi_outcome(self, session: Session, applied: AppliedEvent) -> None:
        """Take an RHI outcome a council sent (extra rhi_outcome, rhi_late_reason)."""
        extra = applied.notification.extra
        outcome = (extra.get("rhi_outcome") or "").strip().lower()
        row = rhi.rhi_for_episode(session, applied.episode_id)
        if not outcome or row is None or row.status not in rhi.OPEN:
            return
        try:
            rhi.record_outcome(self.ctx, session, row.id, outcome,
                               at=applied.notification.occurred_at, now=applied.now,
                               by=extra.get("rhi_conducted_by"),
                               late_reason=extra.get("rhi_late_reason"))
        except ValueError as exc:
            self.ctx.writer.raise_item(session, CoordinatorItem(
                kind="rhi_outcome_incomplete", authority=row.conducting_authority,
                message=f"RHI outcome not recorded: {exc}"), applied.now,
                episode_id=applied.episode_id)


class SentTracker:
    """The outbox's sent-listener for tracking: starts each delivery's ack deadline."""

    def __init__(self, ctx: TrackingContext) -> None:
        self.ctx = ctx

    def __call__(self, session: Session, delivery: DeliveryRow, now: datetime) -> None:
        """Arm the acknowledgement clock; never let a tracking fault undo the SENT mark."""
        savepoint = session.begin_nested()
        try:
            acks.on_sent(self.ctx, session, delivery, now)
            savepoint.commit()
        except Exception:
            savepoint.rollback()
            log.exception("tracking failed for sent delivery %s", delivery.id)
