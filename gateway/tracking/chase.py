"""Chases are messages: a chase or escalation goes through the same outbox as any copy.

Each chase is recorded as an event of type CHASE on the episode's timeline, carrying a
canonical notification (event UPDATE, `extra["message_type"] = "chase"`) that names the
child and says what is overdue; one delivery row sends it to the named team's channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.domain.enums import EventType, RecipientRole
from gateway.domain.model import Notification
from gateway.domain.routing import Channel, CoordinatorItem, Recipient
from gateway.domain.schemas import episode_from_json, notification_to_json
from gateway.store.models import EpisodeRow, EventRow, new_id
from gateway.tracking.context import TrackingContext
from routing.directory import FRONT_DOOR, MISSING_COORDINATOR, POLICE_FEEDBACK

CHASE_EVENT = "CHASE"
POLICE = "police"
# Minimisation profiles (routing/minimisation.py): a chase needs the child's identity only.
COUNCIL_PROFILE = "host_information"
POLICE_PROFILE = "police_rhi_feedback"


@dataclass(frozen=True)
class Target:
    """Who a chase goes to: a council's team (first with a channel wins) or a police force."""

    authority: str  # authority id, or the force id when `teams` is (POLICE,)
    teams: tuple[str, ...] = (MISSING_COORDINATOR, FRONT_DOOR)

    @classmethod
    def police(cls, force: str) -> Target:
        """Return the target of a force's feedback channel."""
        return cls(authority=force, teams=(POLICE,))


def chase(ctx: TrackingContext, session: Session, *, episode_id: str, kind: str,
          target: Target, reason: str, now: datetime,
          details: dict[str, str] | None = None) -> str | None:
    """Write a chase event and its delivery; return the delivery id, or None if unroutable.

    With no channel for any of the target's teams, a coordinator item says so instead.
    """
    episode_row = session.get(EpisodeRow, episode_id)
    if episode_row is None:
        raise KeyError(episode_id)
    resolved = _resolve(ctx, target)
    if resolved is None:
        ctx.writer.raise_item(session, CoordinatorItem(
            kind="chase_unroutable", authority=None if target.teams == (POLICE,)
            else target.authority,
            message=f"could not send chase ({kind}) to {target.authority} "
            f"({', '.join(target.teams)}): no channel registered; {reason}"),
            now, episode_id=episode_id,
            force=target.authority if target.teams == (POLICE,) else None)
        return None
    team, channel, profile = resolved
    notification = _chase_notification(episode_row, kind, reason, now, details or {})
    event = EventRow(id=new_id(), episode_id=episode_id, inbound_message_id=None,
                     event_type=CHASE_EVENT,
                     revision=1, occurred_at=now, recorded_at=now, applied=False,
                     note=f"chase {kind}: {reason}"[:4000],
                     notification=notification_to_json(notification))
    session.add(event)
    session.flush()  # the delivery row refers to the event
    # INFORMATION, not ACTION: the pipeline counts every delivery of an episode among the
    # recipients that later events follow, and a chase must not widen what a team is sent.
    recipient = Recipient(authority=target.authority, team=team,
                          role=RecipientRole.INFORMATION,
                          channel=channel, reason=f"chase ({kind}): {reason}", profile=profile)
    return ctx.writer.create_delivery(session, episode_id, event.id, recipient, now)


def _resolve(ctx: TrackingContext, target: Target) -> tuple[str, Channel, str] | None:
    if target.teams == (POLICE,):
        force = ctx.directory.force(target.authority)
        if force is None or force.feedback_channel is None:
            return None
        return POLICE_FEEDBACK, force.feedback_channel, POLICE_PROFILE
    authority = ctx.authority(target.authority)
    if authority is None:
        return None
    for team in target.teams:
        channel = authority.channel(team)
        if channel is not None:
            return team, channel, COUNCIL_PROFILE
    return None


def _chase_notification(row: EpisodeRow, kind: str, reason: str, now: datetime,
                        details: dict[str, str]) -> Notification:
    """Build the chase document: the child and placement as known, and what is overdue."""
    child = placement = risk = None
    if row.data:
        episode = episode_from_json(row.data)
        child, placement, risk = episode.child, episode.placement, episode.current_risk
    return Notification(event=EventType.UPDATE, force=row.force,
                        police_reference=row.police_reference, occurred_at=now, revision=1,
                        child=child, placement=placement, risk=risk, summary=reason,
                        extra={"message_type": "chase", "chase": kind, **details})

