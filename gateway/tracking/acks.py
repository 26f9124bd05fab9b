"""The acknowledgement ladder of each delivery: sent → received → accepted, each on a deadline.

DOMAIN.md §5 "delivery acknowledgement". A deadline comes from the recipient authority's
`ack_hours(grade)` (shorter for high risk). A missed step first re-sends the same copy, then
sends it to another team of the same authority on a different channel, then raises a
coordinator item: an acknowledgement that was expected and never came is an alert.
Receipts arrive from the case-system side through `record_ack`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.domain.enums import DeliveryStatus, RecipientRole, RiskGrade
from gateway.domain.routing import CoordinatorItem, Recipient
from gateway.pipeline import channel_from_json
from gateway.store import audit
from gateway.store.models import ClockRow, DeliveryRow, EpisodeRow
from gateway.store.tracking_models import DeliveryAckRow
from gateway.tracking import clocks
from gateway.tracking.clocks import Fired, Handler, bound
from gateway.tracking.context import TrackingContext
from gateway.tracking.timing import after_hours
from routing.calendars import to_local
from routing.directory import (
    EDT,
    FRONT_DOOR,
    IRO_SERVICE,
    MISSING_COORDINATOR,
    RHI_SERVICE,
    YOUTH_JUSTICE,
)

SUBJECT = "delivery"
RECEIVED = "received"
ACCEPTED = "accepted"
STAGES = (RECEIVED, ACCEPTED)
ACK_RECEIVED = "ack_received"
ACK_ACCEPTED = "ack_accepted"
KINDS = (ACK_RECEIVED, ACK_ACCEPTED)
STEP_SENT, STEP_RESENT, STEP_ALTERNATE = 0, 1, 2

# Where to try next when a team does not acknowledge: the same authority, another door.
ALTERNATES: dict[str, tuple[str, ...]] = {
    FRONT_DOOR: (EDT, MISSING_COORDINATOR),
    EDT: (FRONT_DOOR, MISSING_COORDINATOR),
    MISSING_COORDINATOR: (FRONT_DOOR, EDT),
    RHI_SERVICE: (MISSING_COORDINATOR, FRONT_DOOR),
    IRO_SERVICE: (MISSING_COORDINATOR, FRONT_DOOR),
    YOUTH_JUSTICE: (MISSING_COORDINATOR, FRONT_DOOR),
}


def on_sent(ctx: TrackingContext, session: Session, delivery: DeliveryRow,
            now: datetime) -> None:
    """Start (or restart, after a re-send) the deadline of the next acknowledgement."""
    on_sent_many(ctx, session, [(delivery, now)])


def on_sent_many(ctx: TrackingContext, session: Session,
                 sent: Sequence[tuple[DeliveryRow, datetime]]) -> None:
    """Start the acknowledgement deadlines of many sent deliveries in a few statements."""
    # Police and unknown parties send no receipts.
    sent = [(row, at) for row, at in sent if ctx.authority(row.authority) is not None]
    if not sent:
        return
    acks = _acks(session, [row.id for row, _ in sent])
    grades = _grades(session, [row.episode_id for row, _ in sent])
    restarted: list[str] = []
    arms: list[dict[str, Any]] = []
    for row, at in sent:
        ack = acks.get(row.id)
        if ack is None:
            ack = DeliveryAckRow(delivery_id=row.id, authority=row.authority, first_sent_at=at,
                                 step=STEP_SENT, escalated=False)
            session.add(ack)
            acks[row.id] = ack
        elif ack.accepted_at is not None:
            continue
        else:
            restarted.append(row.id)
        stage = RECEIVED if ack.received_at is None else ACCEPTED
        arms.append(_arm(ctx, row.id, row.authority, grades.get(row.episode_id), stage,
                         ack.step, at))
    clocks.cancel_many(session, restarted, KINDS)
    clocks.schedule_many(session, arms)


def _acks(session: Session, delivery_ids: Sequence[str]) -> dict[str, DeliveryAckRow]:
    found: dict[str, DeliveryAckRow] = {}
    ids = list(dict.fromkeys(delivery_ids))
    for start in range(0, len(ids), 500):
        for ack in session.execute(select(DeliveryAckRow).where(
                DeliveryAckRow.delivery_id.in_(ids[start:start + 500]))).scalars():
            found[ack.delivery_id] = ack
    return found


def _grades(session: Session, episode_ids: Sequence[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    ids = list(dict.fromkeys(episode_ids))
    for start in range(0, len(ids), 500):
        for episode_id, grade in session.execute(select(EpisodeRow.id, EpisodeRow.risk_grade)
                                                 .where(EpisodeRow.id.in_(
                                                     ids[start:start + 500]))):
            found[episode_id] = grade
    return found


def _arm(ctx: TrackingContext, delivery_id: str, authority: str, grade: str | None, stage: str,
         step: int, now: datetime) -> dict[str, Any]:
    """Return the clock that waits for the next stage, from the recipient's rule and grade."""
    hours = ctx.rules(authority).ack_hours(RiskGrade(grade) if grade else None)
    return clocks.clock_values(kind=ACK_RECEIVED if stage == RECEIVED else ACK_ACCEPTED,
                               subject_type=SUBJECT, subject_id=delivery_id,
                               due_at=after_hours(now, hours), now=now,
                               data={"hours": hours, "step": step, "stage": stage})


def record_ack(ctx: TrackingContext, session: Session, delivery_id: str, stage: str,
               now: datetime) -> DeliveryAckRow:
    """Record that the recipient's system received or accepted a delivery; stop its clock."""
    return record_acks(ctx, session, [(delivery_id, stage, now)])[delivery_id]


def record_acks(ctx: TrackingContext, session: Session,
                receipts: Sequence[tuple[str, str, datetime]]) -> dict[str, DeliveryAckRow]:
    """Record many receipts (delivery id, stage, when), in order, in a few statements.

    Raises ValueError for an unknown stage and KeyError for an unknown delivery.
    """
    for _, stage, _ in receipts:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}")
    ids = [delivery_id for delivery_id, _, _ in receipts]
    acks = _acks(session, ids)
    missing = [delivery_id for delivery_id in dict.fromkeys(ids) if delivery_id not in acks]
    deliveries = _deliveries(session, ids)
    for delivery_id in missing:
        delivery = deliveries.get(delivery_id)
        if delivery is None:
            raise KeyError(delivery_id)
        acks[delivery_id] = DeliveryAckRow(
            delivery_id=delivery_id, authority=delivery[0], first_sent_at=delivery[2] or
            receipts[0][2], step=STEP_SENT, escalated=False)
        session.add(acks[delivery_id])
    received_now: dict[str, datetime] = {}
    for delivery_id, stage, at in receipts:
        ack = acks[delivery_id]
        if ack.received_at is None:
            ack.received_at = at
            received_now[delivery_id] = at
        if stage == ACCEPTED and ack.accepted_at is None:
            ack.accepted_at = at
    settled = [d for d in acks if acks[d].accepted_at is not None]
    received = [d for d in received_now if acks[d].accepted_at is None]
    clocks.cancel_many(session, _expand(session, acks, settled), KINDS)
    clocks.cancel_many(session, _expand(session, acks, received), [ACK_RECEIVED])
    grades = _grades(session, [deliveries[d][1] for d in received if d in deliveries])
    clocks.schedule_many(session, [
        _arm(ctx, d, deliveries[d][0], grades.get(deliveries[d][1]), ACCEPTED, acks[d].step,
             received_now[d]) for d in received if d in deliveries])
    return acks


def _deliveries(session: Session,
                delivery_ids: Sequence[str]) -> dict[str, tuple[str, str, datetime | None]]:
    """Return (authority, episode id, sent at) of each delivery."""
    found: dict[str, tuple[str, str, datetime | None]] = {}
    ids = list(dict.fromkeys(delivery_ids))
    for start in range(0, len(ids), 500):
        rows = session.execute(select(DeliveryRow.id, DeliveryRow.authority,
                                      DeliveryRow.episode_id, DeliveryRow.sent_at).where(
            DeliveryRow.id.in_(ids[start:start + 500])))
        for delivery_id, authority, episode_id, sent_at in rows:
            found[delivery_id] = (authority, episode_id, sent_at)
    return found


def _expand(session: Session, acks: dict[str, DeliveryAckRow], ids: list[str]) -> list[str]:
    """Add the copies sent to other doors (which exist only once the ladder reached them)."""
    expanded = list(ids)
    for delivery_id in ids:
        if acks[delivery_id].step >= STEP_ALTERNATE:
            expanded.extend(_linked(session, acks[delivery_id]))
    return expanded


def _linked(session: Session, ack: DeliveryAckRow) -> list[str]:
    """Return this delivery and the copies of the same message sent to other doors for it."""
    root = ack.alternate_of or ack.delivery_id
    others = session.execute(select(DeliveryAckRow.delivery_id).where(
        or_(DeliveryAckRow.alternate_of == root, DeliveryAckRow.delivery_id == root))).scalars()
    return sorted({ack.delivery_id, root, *others})


def fire_ack(ctx: TrackingContext, session: Session, clock: ClockRow, now: datetime) -> Fired:
    """A deadline passed without the acknowledgement: climb one step of the ladder."""
    ack = session.get(DeliveryAckRow, clock.subject_id)
    delivery = session.get(DeliveryRow, clock.subject_id)
    if ack is None or delivery is None:
        return Fired("moot")
    stage = str(clock.data.get("stage", RECEIVED))
    reached = ack.received_at if stage == RECEIVED else ack.accepted_at
    if reached is not None or ack.escalated:
        return Fired("satisfied")
    if ack.step == STEP_SENT and delivery.status == DeliveryStatus.SENT.value:
        ack.step = STEP_RESENT
        delivery.status = DeliveryStatus.PENDING.value
        delivery.next_attempt_at = now
        audit.record(session, at=now, actor="tracking", action="delivery.resend",
                     subject_type="delivery", subject_id=delivery.id,
                     detail={"reason": f"not {stage} within {clock.data.get('hours')} h"})
        return Fired("resent", (delivery.id,))
    if ack.step <= STEP_RESENT:
        ack.step = STEP_ALTERNATE
        alternate = _send_alternate(ctx, session, delivery, stage, now)
        if alternate is not None:
            return Fired("alternate", (alternate,))
    ack.escalated = True
    ctx.writer.raise_item(session, CoordinatorItem(
        kind="ack_missed", authority=delivery.authority,
        message=f"{delivery.authority} ({delivery.team}) has not {stage} the copy sent "
        f"{to_local(ack.first_sent_at):%d %b %H:%M}, after a re-send and an alternate "
        "channel: confirm receipt by phone"), now, episode_id=delivery.episode_id,
        delivery_id=delivery.id)
    return Fired("breach", (), 1)


def _send_alternate(ctx: TrackingContext, session: Session, delivery: DeliveryRow, stage: str,
                    now: datetime) -> str | None:
    """Send the same event to another team of the same authority on another channel."""
    authority = ctx.authority(delivery.authority)
    if authority is None:
        return None
    endpoint = channel_from_json(delivery.channel).endpoint
    taken = set(session.execute(select(DeliveryRow.team).where(
        DeliveryRow.event_id == delivery.event_id,
        DeliveryRow.authority == delivery.authority)).scalars())
    for team in ALTERNATES.get(delivery.team, (MISSING_COORDINATOR, FRONT_DOOR)):
        channel = authority.channel(team)
        if channel is None or channel.endpoint == endpoint or team in taken:
            continue
        recipient = Recipient(
            authority=authority.id, team=team, role=RecipientRole(delivery.role),
            channel=channel, profile=delivery.profile,
            reason=f"alternate channel: {authority.name} {delivery.team} has not {stage} the "
            f"copy (delivery {delivery.id}) after a re-send; {delivery.reason}")
        new_id = ctx.writer.create_delivery(session, delivery.episode_id, delivery.event_id,
                                            recipient, now)
        session.add(DeliveryAckRow(delivery_id=new_id, authority=authority.id,
                                   first_sent_at=now, step=STEP_ALTERNATE,
                                   alternate_of=delivery.id, escalated=False))
        return new_id
    return None


def handlers(ctx: TrackingContext) -> dict[str, Handler]:
    """Return the acknowledgement clock handlers, bound to `ctx`."""
    return {ACK_RECEIVED: bound(ctx, fire_ack), ACK_ACCEPTED: bound(ctx, fire_ack)}
