"""The dashboard's actions: re-send, route by hand, resolve an item, record an RHI outcome.

Each checks the viewer may act, does its work in one transaction with an audit entry, and
raises ActionError (with an HTTP status and a sentence for the person) when it cannot.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from gateway.accounts.roles import Viewer
from gateway.accounts.scope import (
    can_see_episode,
    may_record_rhi,
    may_reprocess,
    may_resend,
    may_resolve,
    may_route,
)
from gateway.dashboard.queries import ROUTING_KINDS
from gateway.domain.enums import DeliveryStatus
from gateway.domain.routing import Channel
from gateway.domain.schemas import episode_from_json, episode_to_json, notification_from_json
from gateway.services import Services
from gateway.store import audit
from gateway.store.models import CoordinatorItemRow, DeliveryRow, EpisodeRow, EventRow
from routing.recipients import EpisodeHistory, PriorRecipient, route

# What a person may record of a Return Home Interview (gateway.tracking.rhi.OUTCOMES).
RHI_OUTCOMES = {
    "offered": "Interview offered",
    "accepted": "Child accepted the offer",
    "completed": "Interview completed",
    "declined": "Child declined the interview",
    "not_possible": "Could not be held (child not contactable)",
}


# Inbound statuses a person may re-process (gateway.intake.quarantine.QUARANTINE_STATUSES).
REPROCESSABLE = ("QUARANTINED", "HELD")


class ActionError(Exception):
    """An action refused or impossible; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def alternate_channels(services: Services, delivery: DeliveryRow) -> dict[str, Channel]:
    """Return the other channels the delivery's authority has registered, by team."""
    authority = services.directory.authority(delivery.authority)
    if authority is None:
        return {}
    return {team: channel for team, channel in authority.teams.items()
            if channel.endpoint != f"{delivery.channel.get('kind')}:"
                                   f"{delivery.channel.get('address')}"}


def resend_delivery(services: Services, viewer: Viewer, delivery_id: str,
                    alternate_team: str | None = None) -> str:
    """Put a held delivery back in the queue, on its own channel or another team's; audited."""
    with services.db.read() as session:
        delivery = session.get(DeliveryRow, delivery_id)
    if delivery is None:
        raise ActionError("There is no such delivery", 404)
    if not may_resend(viewer, delivery):
        _denied(services, viewer, "delivery.resend", "delivery", delivery_id)
        raise ActionError("You may not re-send this delivery", 403)
    if delivery.status != DeliveryStatus.HELD.value:
        raise ActionError(f"This delivery is {delivery.status.lower()}, not held: only held "
                          "deliveries can be re-sent", 409)
    channel = None
    if alternate_team:
        channel = alternate_channels(services, delivery).get(alternate_team)
        if channel is None:
            raise ActionError(f"{delivery.authority} has no other channel for team "
                              f"{alternate_team!r}")
    try:
        return services.outbox.resend(delivery_id, viewer.actor, channel=channel)
    except ValueError as exc:
        raise ActionError(str(exc), 409) from exc


def resolve_item(services: Services, viewer: Viewer, item_id: str, note: str) -> None:
    """Resolve an open coordinator item with a note; audited."""
    note = note.strip()
    if not note:
        raise ActionError("Enter a note saying how the item was resolved")
    with services.db.read() as session:
        item = session.get(CoordinatorItemRow, item_id)
        if item is None:
            raise ActionError("There is no such item", 404)
        visible = bool(item.episode_id) and can_see_episode(session, viewer, item.episode_id or "")
    if not may_resolve(viewer, item, visible):
        _denied(services, viewer, "item.resolve", "item", item_id)
        raise ActionError("You may not resolve this item", 403)
    now = services.clock()
    with services.db.unit_of_work() as session:
        item = session.get(CoordinatorItemRow, item_id)
        assert item is not None
        if item.resolved_at is not None:
            raise ActionError("This item is already resolved", 409)
        item.resolved_at = now
        item.resolved_by = viewer.actor
        item.resolution_note = note[:4000]
        audit.record(session, at=now, actor=viewer.actor, action="item.resolved",
                     subject_type="item", subject_id=item.id,
                     detail={"kind": item.kind, "note": item.resolution_note})


def set_responsible_authority(services: Services, viewer: Viewer, item_id: str,
                              authority_id: str, note: str) -> list[str]:
    """Name the responsible authority of an unroutable notification, route it again, send.

    Returns the ids of the new deliveries (queued after commit).
    """
    if not may_route(viewer):
        _denied(services, viewer, "episode.set_responsible", "item", item_id)
        raise ActionError("Only regional coordinators and administrators may route by hand",
                          403)
    authority = services.directory.authority(authority_id)
    if authority is None:
        raise ActionError("Choose an authority from the directory")
    now = services.clock()
    with services.db.unit_of_work() as session:
        item = session.get(CoordinatorItemRow, item_id)
        if item is None:
            raise ActionError("There is no such item", 404)
        if item.kind not in ROUTING_KINDS or item.resolved_at is not None:
            raise ActionError("Only an open unroutable-notification item can be routed by hand",
                              409)
        if item.episode_id is None:
            raise ActionError("This item has no episode to route", 409)
        row = session.get(EpisodeRow, item.episode_id)
        event = session.execute(select(EventRow).where(
            EventRow.episode_id == item.episode_id, EventRow.applied.is_(True)).order_by(
            EventRow.recorded_at.desc()).limit(1)).scalar_one_or_none()
        if row is None or event is None:
            raise ActionError("This episode has no applied event to route", 409)
        notification = notification_from_json(event.notification)
        episode = episode_from_json(row.data)
        if notification.placement is not None:
            notification = replace(notification, placement=replace(
                notification.placement, responsible_authority=authority.id))
        if episode.placement is not None:
            episode = replace(episode, placement=replace(
                episode.placement, responsible_authority=authority.id))
        previous = services.pipeline.previous_recipients(session, row.id)
        history = EpisodeHistory(
            recipients=tuple(PriorRecipient(r.authority, r.team, r.role) for r in previous),
            child=episode.child, placement=episode.placement,
            responsible_authority=authority.id)
        decision = route(notification, history, services.directory, services.postcode_index,
                         now)
        existing = {(a, t) for a, t in session.execute(select(
            DeliveryRow.authority, DeliveryRow.team).where(DeliveryRow.event_id == event.id))}
        fresh = [r for r in decision.recipients if (r.authority, r.team) not in existing]
        if not fresh:
            raise ActionError(f"Routing to {authority.name} gave no new recipient: "
                              + "; ".join(decision.explanation[-3:]), 409)
        ids = [services.pipeline.create_delivery(session, row.id, event.id, r, now)
               for r in fresh]
        row.responsible_authority = authority.id
        row.data = episode_to_json(episode)
        item.resolved_at = now
        item.resolved_by = viewer.actor
        item.resolution_note = (f"responsible authority set to {authority.name}"
                                + (f": {note.strip()}" if note.strip() else ""))
        audit.record(session, at=now, actor=viewer.actor, action="episode.responsible_set",
                     subject_type="episode", subject_id=row.id,
                     detail={"authority": authority.id, "item": item.id, "note": note.strip(),
                             "deliveries": ids})
    services.outbox.enqueue(ids)
    return ids


def record_rhi_outcome(services: Services, viewer: Viewer, episode_id: str, outcome: str,
                       note: str) -> str:
    """Record a Return Home Interview outcome by hand through tracking; return the RHI id.

    The note is kept as the exceptional reason a late completion needs (000 §8.8).
    """
    from gateway.tracking.rhi import LateReasonRequired, rhi_for_episode
    from gateway.tracking.wiring import tracker

    if outcome not in RHI_OUTCOMES:
        raise ActionError("Choose what happened with the interview")
    with services.db.read() as session:
        if session.get(EpisodeRow, episode_id) is None:
            raise ActionError("There is no such episode", 404)
        visible = can_see_episode(session, viewer, episode_id)
    if not may_record_rhi(viewer, visible):
        _denied(services, viewer, "rhi.record_outcome", "episode", episode_id)
        raise ActionError("You may not record an RHI outcome for this episode", 403)
    now = services.clock()
    with services.db.unit_of_work() as session:
        rhi = rhi_for_episode(session, episode_id)
        if rhi is None:
            raise ActionError("No return home interview is owed for this episode: the child "
                              "has not been found yet, or none is required", 409)
        try:
            tracker(services).record_outcome(session, rhi.id, outcome, at=now, now=now,
                                             by=viewer.actor, late_reason=note.strip() or None)
        except LateReasonRequired as exc:
            raise ActionError(str(exc)) from exc
        except ValueError as exc:
            raise ActionError(str(exc), 409) from exc
        audit.record(session, at=now, actor=viewer.actor, action="rhi.outcome_recorded",
                     subject_type="episode", subject_id=episode_id,
                     detail={"rhi": rhi.id, "outcome": outcome, "note": note.strip()})
        return rhi.id


def reprocess_message(services: Services, viewer: Viewer, inbound_id: str) -> str:
    """Re-process a quarantined or held message under the current configuration.

    Returns the message's status afterwards. The quarantine service reloads the directory,
    audits the request and the result, and resolves the message's items when it gets through.
    """
    from gateway.intake.quarantine import ConfigInvalid, NotInQuarantine, reprocess

    if not may_reprocess(viewer):
        _denied(services, viewer, "quarantine.reprocess", "inbound", inbound_id)
        raise ActionError("Only regional coordinators and administrators may re-process "
                          "messages", 403)
    try:
        receipt = reprocess(services, inbound_id, viewer.actor)
    except NotInQuarantine as exc:
        raise ActionError(str(exc), 409) from exc
    except ConfigInvalid as exc:
        raise ActionError(f"The configuration does not load, so nothing was re-processed: "
                          f"{exc}", 409) from exc
    return receipt.status.value


def _denied(services: Services, viewer: Viewer, action: str, subject_type: str,
            subject_id: str, detail: dict[str, Any] | None = None) -> None:
    """Write a refused action to the audit log."""
    with services.db.unit_of_work() as session:
        audit.record(session, at=services.clock(), actor=viewer.actor, action="action.denied",
                     subject_type=subject_type, subject_id=subject_id,
                     detail={"action": action, **(detail or {})})
