"""The figures a coordinator sees (DOMAIN.md §7), computed from the tracking tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.domain.enums import EpisodeState
from gateway.store.models import CoordinatorItemRow, EpisodeRow
from gateway.store.tracking_models import DeliveryAckRow, RepeatTriggerRow, RhiRow
from gateway.tracking import rhi


@dataclass
class CoordinatorFigures:
    """Open work and monthly-style totals across every authority."""

    episodes: int = 0
    still_missing: int = 0
    rhi_owed: int = 0
    rhi_not_required: int = 0
    rhi_completed: int = 0
    rhi_completed_in_time: int = 0
    rhi_declined: int = 0
    rhi_not_possible: int = 0
    rhi_open_overdue: int = 0
    rhi_due_next_24h: int = 0
    rhi_breached: int = 0
    offered: dict[str, int] = field(default_factory=dict)  # Annex A: Y / N / NA
    deliveries_tracked: int = 0
    deliveries_unacknowledged: int = 0
    deliveries_escalated: int = 0
    median_ack_minutes: float | None = None
    repeat_triggers: dict[str, int] = field(default_factory=dict)
    open_items: dict[str, int] = field(default_factory=dict)

    @property
    def rhi_in_time_percent(self) -> float | None:
        """Return the share of owed RHIs completed by their due time, in percent."""
        return 100.0 * self.rhi_completed_in_time / self.rhi_owed if self.rhi_owed else None


def coordinator_figures(session: Session, now: datetime) -> CoordinatorFigures:
    """Compute the coordinator's figures as they stand at `now`."""
    figures = CoordinatorFigures()
    figures.episodes = session.execute(select(func.count()).select_from(EpisodeRow)).scalar_one()
    figures.still_missing = session.execute(select(func.count()).select_from(EpisodeRow).where(
        EpisodeRow.state == EpisodeState.MISSING.value)).scalar_one()
    by_status = _counts(session, RhiRow.status)
    figures.rhi_not_required = by_status.get(rhi.NOT_REQUIRED, 0)
    figures.rhi_owed = sum(n for s, n in by_status.items()
                           if s not in (rhi.NOT_REQUIRED, rhi.CANCELLED))
    figures.rhi_completed = by_status.get(rhi.COMPLETED, 0)
    figures.rhi_declined = by_status.get(rhi.DECLINED, 0)
    figures.rhi_not_possible = by_status.get(rhi.NOT_POSSIBLE, 0)
    figures.rhi_completed_in_time = session.execute(select(func.count()).where(
        RhiRow.status == rhi.COMPLETED, RhiRow.outcome_at <= RhiRow.due_at)).scalar_one()
    is_open = RhiRow.status.in_(rhi.OPEN)
    figures.rhi_open_overdue = session.execute(select(func.count()).where(
        is_open, RhiRow.due_at < now)).scalar_one()
    figures.rhi_due_next_24h = session.execute(select(func.count()).where(
        is_open, RhiRow.due_at >= now, RhiRow.due_at < now + timedelta(hours=24))).scalar_one()
    figures.rhi_breached = session.execute(select(func.count()).where(
        RhiRow.breached.is_(True))).scalar_one()
    offered = case((RhiRow.required.is_(False), "NA"),
                   (RhiRow.offered_at.is_not(None), "Y"), else_="N")
    figures.offered = _counts(session, offered, RhiRow.status != rhi.CANCELLED)
    figures.deliveries_tracked = session.execute(
        select(func.count()).select_from(DeliveryAckRow)).scalar_one()
    figures.deliveries_unacknowledged = session.execute(select(func.count()).where(
        DeliveryAckRow.received_at.is_(None))).scalar_one()
    figures.deliveries_escalated = session.execute(select(func.count()).where(
        DeliveryAckRow.escalated.is_(True))).scalar_one()
    figures.median_ack_minutes = _median_ack_minutes(session)
    figures.repeat_triggers = _counts(session, RepeatTriggerRow.item)
    figures.open_items = _counts(session, CoordinatorItemRow.kind,
                                 CoordinatorItemRow.resolved_at.is_(None))
    return figures


def _counts(session: Session, column: ColumnElement[str] | InstrumentedAttribute[str],
            *where: ColumnElement[bool]) -> dict[str, int]:
    """Return row counts grouped by `column`."""
    statement = select(column, func.count()).where(*where).group_by(column)
    return {str(key): int(count) for key, count in session.execute(statement)}


def _median_ack_minutes(session: Session, sample: int = 20000) -> float | None:
    """Return the median minutes from first send to receipt, over a recent sample."""
    rows = session.execute(select(DeliveryAckRow.first_sent_at, DeliveryAckRow.received_at)
                           .where(DeliveryAckRow.received_at.is_not(None)).limit(sample))
    minutes = sorted((received - sent).total_seconds() / 60 for sent, received in rows
                     if received is not None)
    return minutes[len(minutes) // 2] if minutes else None
