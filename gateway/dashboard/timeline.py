"""The episode page's data: the child as the viewer may see it, risk history and a timeline.

The timeline merges every message in (inbound messages and the events they became), every copy
out (deliveries with recipient, role, reason, channel, status and attempts), every clock, every
coordinator item and every audit entry about any of them, in time order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.accounts.roles import Viewer
from gateway.accounts.scope import child_profile
from gateway.store.models import (
    AuditEntry,
    ClockRow,
    CoordinatorItemRow,
    DeliveryRow,
    EpisodeRow,
    EventRow,
    InboundMessage,
)
from gateway.store.tracking_models import DeliveryAckRow, RhiRow
from routing.minimisation import minimise_with_report


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline."""

    at: datetime
    kind: str  # inbound | event | delivery | clock | item | audit
    title: str
    status: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    anchor: str = ""  # id of the row, for links and the tests


@dataclass
class EpisodeView:
    """Everything on the episode page."""

    episode: EpisodeRow
    child: dict[str, Any] | None
    placement: dict[str, Any] | None
    profile: str | None
    withheld: list[Any]
    risk_history: list[dict[str, Any]]
    deliveries: list[DeliveryRow]
    items: list[CoordinatorItemRow]
    timeline: list[TimelineEntry]
    rhi: RhiRow | None = None
    acks: dict[str, DeliveryAckRow] = field(default_factory=dict)


def _latest_notification(session: Session, episode_id: str) -> dict[str, Any] | None:
    """Return the canonical JSON of the latest applied event with a child on it."""
    rows = session.execute(select(EventRow.notification).where(
        EventRow.episode_id == episode_id, EventRow.applied.is_(True)).order_by(
        EventRow.recorded_at.desc())).scalars()
    for notification in rows:
        if notification.get("child"):
            return dict(notification)
    return None


def episode_view(session: Session, viewer: Viewer, episode: EpisodeRow) -> EpisodeView:
    """Build the episode page for `viewer` (the caller has checked the viewer's scope)."""
    profile = child_profile(session, viewer, episode)
    latest = _latest_notification(session, episode.id)
    data = dict(episode.data or {})
    child: dict[str, Any] | None = data.get("child")
    placement: dict[str, Any] | None = data.get("placement")
    withheld: list[Any] = []
    if profile is not None:
        shown, withheld = minimise_with_report(
            latest or {"child": child, "placement": placement, "extra": {}}, profile)
        child, placement = shown.get("child"), shown.get("placement")
    deliveries = list(session.execute(select(DeliveryRow).where(
        DeliveryRow.episode_id == episode.id).order_by(DeliveryRow.created_at)).scalars())
    items = list(session.execute(select(CoordinatorItemRow).where(
        CoordinatorItemRow.episode_id == episode.id).order_by(
        CoordinatorItemRow.created_at)).scalars())
    rhi = session.execute(select(RhiRow).where(RhiRow.episode_id == episode.id)
                          ).scalar_one_or_none()
    acks = delivery_acks(session, [d.id for d in deliveries])
    return EpisodeView(episode=episode, child=child, placement=placement, profile=profile,
                       withheld=withheld, risk_history=list(data.get("risk_history") or []),
                       deliveries=deliveries, items=items,
                       timeline=_timeline(session, episode, deliveries, items), rhi=rhi,
                       acks=acks)


def delivery_acks(session: Session, delivery_ids: list[str]) -> dict[str, DeliveryAckRow]:
    """Return tracking's acknowledgement rows of the given deliveries, by delivery id."""
    if not delivery_ids:
        return {}
    return {row.delivery_id: row for row in session.execute(select(DeliveryAckRow).where(
        DeliveryAckRow.delivery_id.in_(delivery_ids))).scalars()}


def _timeline(session: Session, episode: EpisodeRow, deliveries: list[DeliveryRow],
              items: list[CoordinatorItemRow]) -> list[TimelineEntry]:
    """Merge every message, copy, clock, item and audit entry of the episode in time order."""
    entries: list[TimelineEntry] = []
    inbound = list(session.execute(select(InboundMessage).where(
        InboundMessage.episode_id == episode.id)).scalars())
    for message in inbound:
        entries.append(TimelineEntry(
            message.received_at, "inbound",
            f"Message received from {message.sender} ({message.format}, {message.channel})",
            message.status, {"event": message.event_type, "revision": message.revision,
                             "size": message.size}, message.id))
    for event in session.execute(select(EventRow).where(
            EventRow.episode_id == episode.id)).scalars():
        extra = (event.notification or {}).get("extra") or {}
        title = (f"Chase sent: {extra.get('chase', 'overdue').replace('_', ' ')}"
                 if extra.get("message_type") == "chase" else
                 f"{event.event_type.replace('_', ' ').capitalize()} (revision {event.revision})")
        entries.append(TimelineEntry(
            event.recorded_at, "event", title, "applied" if event.applied else "not applied",
            {"occurred_at": event.occurred_at.isoformat(), "note": event.note}, event.id))
    for delivery in deliveries:
        entries.append(TimelineEntry(
            delivery.created_at, "delivery",
            f"Copy to {delivery.authority} ({delivery.team.replace('_', ' ')})",
            delivery.status, {"role": delivery.role, "reason": delivery.reason,
                              "channel": f"{delivery.channel.get('kind')}: "
                                         f"{delivery.channel.get('address')}",
                              "attempts": delivery.attempts, "sent_at": delivery.sent_at,
                              "receipt": delivery.remote_ref, "error": delivery.last_error},
            delivery.id))
    delivery_ids = [d.id for d in deliveries]
    for clock in session.execute(select(ClockRow).where(or_(
            (ClockRow.subject_type == "episode") & (ClockRow.subject_id == episode.id),
            (ClockRow.subject_type == "delivery") & ClockRow.subject_id.in_(delivery_ids)))
            ).scalars():
        entries.append(TimelineEntry(
            clock.created_at, "clock", f"Clock {clock.kind.replace('_', ' ')} due "
            f"{clock.due_at:%d %b %Y %H:%M} UTC", clock.state,
            {"fired_at": clock.fired_at, **(clock.data or {})}, clock.id))
    for item in items:
        entries.append(TimelineEntry(
            item.created_at, "item", item.message, "resolved" if item.resolved_at else "open",
            {"kind": item.kind, "resolved_by": item.resolved_by,
             "note": item.resolution_note}, item.id))
    subjects = [episode.id, *delivery_ids, *(m.id for m in inbound), *(i.id for i in items)]
    for entry in session.execute(select(AuditEntry).where(
            AuditEntry.subject_id.in_(subjects),
            AuditEntry.action.not_in(_SHOWN_ELSEWHERE)).order_by(AuditEntry.seq)).scalars():
        entries.append(TimelineEntry(entry.at, "audit", entry.action, entry.actor,
                                     dict(entry.detail or {}), str(entry.seq)))
    entries.sort(key=lambda e: (e.at, _KIND_ORDER.get(e.kind, 9)))
    return entries


# Audit actions the timeline already shows as their own rows, and views of the record itself
# (those are on the Audit page): left out so that the timeline reads as what happened.
_SHOWN_ELSEWHERE = ("inbound.received", "episode.event_applied", "episode.event_superseded",
                    "delivery.created", "item.raised", "episode.viewed", "episode.searched")
_KIND_ORDER = {"inbound": 0, "event": 1, "delivery": 2, "item": 3, "clock": 4, "audit": 5}
