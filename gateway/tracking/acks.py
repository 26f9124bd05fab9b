"""The acknowledgement ladder of each delivery: sent → received → accepted, each on a deadline.

DOMAIN.md §5 "delivery acknowledgement". A deadline comes from the recipient authority's
`ack_hours(grade)` (shorter for high risk). A missed step first re-sends the same copy, then
sends it to another team of the same authority on a different channel, then raises a
coordinator item: an acknowledgement that was expected and never came is an alert.
Receipts arrive from the case-system side through `record_ack`.
"""

from __future__ import annotations

from datetime import datetime

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
    authority = ctx.authority(delivery.authority)
    if authority is None:  # police feedback and unknown parties send no receipts
        return
    ack = session.get(DeliveryAckRow, delivery.id)
    if ack is None:
        ack = DeliveryAckRow(delivery_id=delivery.id, authority=delivery.authority,
                             first_sent_at=now, step=STEP_SENT, escalated=False)
        session.add(ack)
    if ack.accepted_at is not None:
        return
    clocks.cancel(session, delivery.id, KINDS)
    stage = RECEIVED if ack.received_at is None else ACCEPTED
    _arm(ctx, session, delivery, stage, ack.step, now)


def _arm(ctx: TrackingContext, session: Session, delivery: DeliveryRow, stage: str, step: int,
         now: datetime) -> None:
    episode = session.get(EpisodeRow, delivery.episode_id)
    grade = RiskGrade(episode.risk_grade) if episode and episode.risk_grade else None
    hours = ctx.rules(delivery.authority).ack_hours(grade)
    clocks.schedule(session, kind=ACK_RECEIVED if stage == RECEIVED else ACK_ACCEPTED,
                    subject_type=SUBJECT, subject_id=delivery.id,
                    due_at=after_hours(now, hours), now=now,
                    data={"hours": hours, "step": step, "stage": stage})


def record_ack(ctx: TrackingContext, session: Session, delivery_id: str, stage: str,
               now: datetime) -> DeliveryAckRow:
    """Record that the recipient's system received or accepted a delivery; stop its clock."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}")
    delivery = session.get(DeliveryRow, delivery_id)
    if delivery is None:
        raise KeyError(delivery_id)
    ack = session.get(DeliveryAckRow, delivery_id)
    if ack is None:
        ack = DeliveryAckRow(delivery_id=delivery_id, authority=delivery.authority,
                             first_sent_at=delivery.sent_at or now, step=STEP_SENT,
                             escalated=False)
        session.add(ack)
    if ack.received_at is None:
        ack.received_at = now
    linked = _linked(session, ack)
    if stage == ACCEPTED:
        if ack.accepted_at is None:
            ack.accepted_at = now
        for subject in linked:
            clocks.cancel(session, subject, KINDS)
    else:
        for subject in linked:
            clocks.cancel(session, subject, [ACK_RECEIVED])
        if ack.accepted_at is None and not clocks.pending(session, delivery_id, [ACK_ACCEPTED]):
            _arm(ctx, session, delivery, ACCEPTED, ack.step, now)
    session.flush()
    return ack


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
