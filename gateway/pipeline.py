"""The service layer: raw message → notification → episode → recipients → delivery rows.

Each stage writes its result before the next starts. `receive` commits the sealed raw bytes
before anything else happens, so an acknowledged message can never be lost; `process` does
the rest in one transaction, so the episode change and the deliveries it causes commit
together, and only then are the delivery ids handed to the queue.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import PoliceAdapter
from adapters.police_mapping import MappingError
from gateway.domain.enums import DeliveryStatus, EventType, InboundStatus
from gateway.domain.episode import Episode
from gateway.domain.errors import FieldError, IllegalTransition, InvalidMessage
from gateway.domain.model import Notification
from gateway.domain.routing import Channel, CoordinatorItem, Recipient, RoutingDecision
from gateway.domain.schemas import (
    episode_from_json,
    episode_to_json,
    notification_from_json,
    notification_to_json,
)
from gateway.store import audit
from gateway.store.db import Database
from gateway.store.models import (
    CoordinatorItemRow,
    DeliveryRow,
    EpisodeRow,
    EventRow,
    InboundMessage,
    MessageKey,
)
from gateway.store.sealing import DataSealer

SYSTEM = "gateway"
log = logging.getLogger(__name__)


class Router(Protocol):
    """Decides recipients for a notification given who already received the episode's copies."""

    def __call__(
        self,
        notification: Notification,
        previous: Sequence[Recipient],
        episode: Episode | None,
        now: datetime,
    ) -> RoutingDecision:
        """Return the routing decision; pure."""
        ...


@dataclass(frozen=True)
class AppliedEvent:
    """An event just applied to an episode, with what routing decided: what listeners see."""

    episode_id: str
    event_id: str
    notification: Notification
    episode: Episode
    decision: RoutingDecision
    delivery_ids: tuple[str, ...]
    now: datetime


class EventListener(Protocol):
    """Reacts to an applied event inside its transaction (tracking starts clocks here)."""

    def __call__(self, session: Session, applied: AppliedEvent) -> list[str]:
        """Do the work; return ids of any further deliveries created, to enqueue after commit."""
        ...


@dataclass(frozen=True)
class Receipt:
    """What the gateway tells a sender (and a coordinator) about one inbound message."""

    id: str
    status: InboundStatus
    errors: list[dict[str, Any]] = field(default_factory=list)
    episode_id: str | None = None
    deliveries: list[str] = field(default_factory=list)
    forbidden: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form given to senders."""
        return {
            "receipt_id": self.id,
            "status": self.status.value,
            "errors": self.errors,
            "episode_id": self.episode_id,
            "deliveries": self.deliveries,
        }


def channel_to_json(channel: Channel) -> dict[str, Any]:
    """Return the stored form of a channel (kept on the delivery row, as routed)."""
    return {
        "kind": channel.kind,
        "address": channel.address,
        "rendering": channel.rendering,
        "encryption": channel.encryption,
        "certificate": channel.certificate,
        "options": [list(pair) for pair in channel.options],
    }


def channel_from_json(data: Mapping[str, Any]) -> Channel:
    """Rebuild a channel from its stored form."""
    return Channel(
        kind=data["kind"],
        address=data["address"],
        rendering=data.get("rendering", "canonical_json"),
        encryption=data.get("encryption", "cms"),
        certificate=data.get("certificate"),
        options=tuple((str(k), str(v)) for k, v in data.get("options", [])),
    )


class Pipeline:
    """Receives police messages and turns them into episodes and outbox rows."""

    def __init__(
        self,
        db: Database,
        sealer: DataSealer,
        police_adapters: Mapping[str, PoliceAdapter],
        router: Router,
        force_overrides: Callable[[str], Mapping[str, Any] | None],
        clock: Callable[[], datetime],
        enqueue: Callable[[Iterable[str]], None],
        resolve_force: Callable[[str], str | None] = lambda name: name,
        unwrap: Callable[[bytes, str], bytes] = lambda raw, sender: raw,
    ) -> None:
        self.unwrap = unwrap
        self.db = db
        self.resolve_force = resolve_force
        self.listeners: list[EventListener] = []
        self.sealer = sealer
        self.police_adapters = police_adapters
        self.router = router
        self.force_overrides = force_overrides
        self.clock = clock
        self.enqueue = enqueue

    # -- stage 1: persist before acknowledging -------------------------------------------

    def receive(self, fmt: str, raw: bytes, sender: str, *, channel: str = "https",
                source_name: str | None = None) -> str:
        """Seal and commit the raw bytes, audit the receipt, and return the receipt id."""
        now = self.clock()
        with self.db.unit_of_work() as session:
            message = InboundMessage(
                format=fmt, channel=channel, sender=sender, source_name=source_name,
                received_at=now, sha256=hashlib.sha256(raw).hexdigest(), size=len(raw),
                sealed_body=b"", status=InboundStatus.RECEIVED.value, errors=[],
            )
            session.add(message)
            session.flush()
            message.sealed_body = self.sealer.seal(raw, message.id)
            audit.record(session, at=now, actor=f"force:{sender}", action="inbound.received",
                         subject_type="inbound", subject_id=message.id,
                         detail={"format": fmt, "channel": channel, "sha256": message.sha256,
                                 "size": len(raw)})
            return message.id

    def raw_body(self, inbound_id: str) -> bytes:
        """Return the original bytes of a stored message."""
        with self.db.read() as session:
            message = session.get(InboundMessage, inbound_id)
            if message is None:
                raise KeyError(inbound_id)
            return self.sealer.open(message.sealed_body, message.id)

    # -- stage 2: parse, apply, route, create deliveries --------------------------------

    def process(self, inbound_id: str, *, actor: str = SYSTEM) -> Receipt:
        """Parse and apply one stored message; quarantine it with reasons if it is invalid."""
        enqueued: list[str] = []
        with self.db.unit_of_work() as session:
            message = session.get(InboundMessage, inbound_id)
            if message is None:
                raise KeyError(inbound_id)
            if message.status not in (InboundStatus.RECEIVED.value, InboundStatus.HELD.value,
                                      InboundStatus.QUARANTINED.value):
                return self._receipt(session, message)
            receipt, enqueued = self._process_locked(session, message, actor)
        if enqueued:
            try:
                self.enqueue(enqueued)
            except Exception:
                # Committed rows are the truth; the periodic sweep re-sends what was not queued.
                log.exception("could not enqueue %d deliveries; the sweep will", len(enqueued))
        return receipt

    def _process_locked(self, session: Session, message: InboundMessage,
                        actor: str) -> tuple[Receipt, list[str]]:
        """Do the work of `process` inside the caller's transaction."""
        now = self.clock()
        adapter = self.police_adapters.get(message.format)
        if adapter is None:
            return self._quarantine(session, message, [FieldError(
                "format", f"no adapter is registered for this format; known: "
                f"{', '.join(sorted(self.police_adapters))}", message.format)], now), []
        raw = self.sealer.open(message.sealed_body, message.id)
        try:
            # A signed and encrypted message is opened and its signature checked first.
            raw = self.unwrap(raw, message.sender)
            notification = adapter.parse(raw, self.force_overrides(message.sender))
        except InvalidMessage as exc:
            return self._quarantine(session, message, exc.errors, now), []
        except MappingError as exc:
            # The force's mapping configuration is wrong, not the message: keep it for
            # re-processing once `gateway config check` is clean.
            return self._quarantine(session, message, [
                FieldError("mapping", f"the force's mapping configuration is unusable: {p}")
                for p in exc.problems], now), []
        force_id = self.resolve_force(notification.force)
        if force_id is None:
            return self._quarantine(session, message, [FieldError(
                "force", "is not a force in the directory", notification.force)], now), []
        notification = replace(notification, force=force_id)
        message.police_reference = notification.police_reference
        message.event_type = notification.event.value
        message.revision = notification.revision
        if notification.force != message.sender:
            receipt = self._quarantine(session, message, [FieldError(
                "force", f"this sender is registered for force {message.sender!r} and may not "
                "send for another force", notification.force)], now)
            return replace(receipt, forbidden=True), []
        return self.apply_notification(session, message, notification, now, actor)

    def apply_notification(self, session: Session, message: InboundMessage,
                           notification: Notification, now: datetime,
                           actor: str) -> tuple[Receipt, list[str]]:
        """Apply a valid notification from a stored message, in the caller's transaction.

        Idempotency, episode, routing, deliveries and audit; returns the receipt and the
        delivery ids to enqueue after commit. Police messages come here from `process`;
        council RHI outcomes come from the receipts service.
        """
        key = (notification.force, notification.police_reference, notification.event.value,
               notification.revision)
        existing = session.get(MessageKey, key)
        if existing is not None and existing.inbound_message_id != message.id:
            message.status = InboundStatus.DUPLICATE.value
            message.duplicate_of = existing.inbound_message_id
            message.processed_at = now
            original = session.get(InboundMessage, existing.inbound_message_id)
            message.episode_id = original.episode_id if original else None
            audit.record(session, at=now, actor=actor, action="inbound.duplicate",
                         subject_type="inbound", subject_id=message.id,
                         detail={"duplicate_of": existing.inbound_message_id})
            return self._receipt(session, message), []

        row = session.execute(select(EpisodeRow).where(
            EpisodeRow.force == notification.force,
            EpisodeRow.police_reference == notification.police_reference,
        )).scalar_one_or_none()

        if row is None and notification.event is not EventType.MISSING_REPORTED:
            return self._hold(session, message, notification, now), []

        if row is None:
            episode = Episode.open(notification)
            row = EpisodeRow(force=episode.force, police_reference=episode.police_reference,
                             opened_at=episode.opened_at, updated_at=now,
                             state=episode.state.value, data={}, revisions={})
            session.add(row)
            applied: bool | None = True
            note: str | None = None
        else:
            episode = episode_from_json(row.data)
            applied, note = self._apply_to_episode(episode, row, notification)
            if applied is None:
                return self._quarantine(session, message, [FieldError(
                    "event", note or "not allowed in the episode's state",
                    notification.event.value)], now), []

        self._store_episode(row, episode, notification, now)
        session.flush()
        session.add(MessageKey(force=key[0], police_reference=key[1], event_type=key[2],
                               revision=key[3], inbound_message_id=message.id))
        event = EventRow(episode_id=row.id, inbound_message_id=message.id,
                         event_type=notification.event.value, revision=notification.revision,
                         occurred_at=notification.occurred_at, recorded_at=now,
                         applied=bool(applied), note=note,
                         notification=notification_to_json(notification))
        session.add(event)
        session.flush()
        message.episode_id = row.id
        message.processed_at = now
        message.status = (InboundStatus.PROCESSED if applied else InboundStatus.SUPERSEDED).value
        message.errors = []
        audit.record(session, at=now, actor=actor, action="episode.event_applied" if applied
                     else "episode.event_superseded", subject_type="episode", subject_id=row.id,
                     detail={"inbound": message.id, "event": notification.event.value,
                             "revision": notification.revision, "state": row.state})
        delivery_ids: list[str] = []
        if applied:
            delivery_ids, decision = self._route(session, row, episode, event, notification, now)
            applied_event = AppliedEvent(episode_id=row.id, event_id=event.id,
                                         notification=notification, episode=episode,
                                         decision=decision, delivery_ids=tuple(delivery_ids),
                                         now=now)
            for listener in self.listeners:
                delivery_ids.extend(listener(session, applied_event))
        if notification.event is EventType.MISSING_REPORTED and applied:
            delivery_ids.extend(self._release_held(session, notification, actor))
        return self._receipt(session, message), delivery_ids

    def _apply_to_episode(self, episode: Episode, row: EpisodeRow,
                          notification: Notification) -> tuple[bool | None, str | None]:
        """Apply to an existing episode: True applied, False superseded, None illegal."""
        revisions: dict[str, int] = dict(row.revisions or {})
        latest = revisions.get(notification.event.value, 0)
        if notification.revision < latest:
            return False, (f"revision {notification.revision} is older than revision {latest} "
                           "already applied; recorded without rolling the episode back")
        try:
            episode.apply(notification)
        except IllegalTransition as exc:
            return None, str(exc)
        return True, None

    def _store_episode(self, row: EpisodeRow, episode: Episode, notification: Notification,
                       now: datetime) -> None:
        """Copy the episode into its row, with the searchable columns."""
        revisions: dict[str, int] = dict(row.revisions or {})
        event = notification.event.value
        revisions[event] = max(revisions.get(event, 0), notification.revision)
        row.revisions = revisions
        row.data = episode_to_json(episode)
        row.state = episode.state.value
        risk = episode.current_risk
        row.risk_grade = risk.grade.value if risk else None
        if episode.child is not None:
            row.child_name = f"{episode.child.given_name} {episode.child.family_name}"[:80]
            row.child_dob = episode.child.date_of_birth.isoformat()
            row.council_child_id = episode.child.council_child_id
        if episode.placement is not None:
            row.responsible_authority = episode.placement.responsible_authority
        row.found_at = episode.found.found_at if episode.found else None
        row.closed_at = episode.closed_at
        row.last_revision = max(revisions.values())
        row.updated_at = now

    def _route(self, session: Session, row: EpisodeRow, episode: Episode, event: EventRow,
               notification: Notification, now: datetime) -> tuple[list[str], RoutingDecision]:
        """Route one applied event and write one delivery row per recipient."""
        previous = self.previous_recipients(session, row.id)
        decision = self.router(notification, previous, episode, now)
        row.host_authority = decision.host or row.host_authority
        row.responsible_authority = decision.responsible or row.responsible_authority
        ids: list[str] = []
        seen: set[tuple[str, str]] = set()
        for recipient in decision.recipients:
            if (recipient.authority, recipient.team) in seen:
                continue
            seen.add((recipient.authority, recipient.team))
            ids.append(self.create_delivery(session, row.id, event.id, recipient, now))
        for item in decision.items:
            self.raise_item(session, item, now, episode_id=row.id)
        return ids, decision

    def create_delivery(self, session: Session, episode_id: str, event_id: str,
                        recipient: Recipient, now: datetime) -> str:
        """Write one outbox row for `recipient` (enqueue its id after commit); return the id."""
        delivery = DeliveryRow(
            event_id=event_id, episode_id=episode_id, authority=recipient.authority,
            team=recipient.team, role=recipient.role.value, reason=recipient.reason,
            profile=recipient.profile, channel=channel_to_json(recipient.channel),
            status=DeliveryStatus.PENDING.value, attempts=0, created_at=now,
            next_attempt_at=now,
        )
        session.add(delivery)
        session.flush()
        audit.record(session, at=now, actor=SYSTEM, action="delivery.created",
                     subject_type="delivery", subject_id=delivery.id,
                     detail={"episode": episode_id, "authority": recipient.authority,
                             "team": recipient.team, "role": recipient.role.value,
                             "reason": recipient.reason})
        return delivery.id

    def previous_recipients(self, session: Session, episode_id: str) -> list[Recipient]:
        """Return every recipient already sent a copy for this episode (found follows missing)."""
        from gateway.domain.enums import RecipientRole

        rows = session.execute(select(DeliveryRow, EventRow.notification).join(
            EventRow, EventRow.id == DeliveryRow.event_id).where(
            DeliveryRow.episode_id == episode_id).order_by(DeliveryRow.created_at)).all()
        result: dict[tuple[str, str], Recipient] = {}
        for delivery, notification in rows:
            if (notification.get("extra") or {}).get("message_type") == "chase":
                continue  # a chase to a team is not a copy of the report it must follow

            result.setdefault((delivery.authority, delivery.team), Recipient(
                authority=delivery.authority, team=delivery.team,
                role=RecipientRole(delivery.role), channel=channel_from_json(delivery.channel),
                reason=delivery.reason, profile=delivery.profile))
        return list(result.values())

    def raise_item(self, session: Session, item: CoordinatorItem, now: datetime, *,
                   episode_id: str | None = None, inbound_id: str | None = None,
                   delivery_id: str | None = None, force: str | None = None) -> str:
        """Record a coordinator item and audit it; return its id."""
        row = CoordinatorItemRow(kind=item.kind, message=item.message, authority=item.authority,
                                 force=force, episode_id=episode_id,
                                 inbound_message_id=inbound_id, delivery_id=delivery_id,
                                 created_at=now)
        session.add(row)
        session.flush()
        audit.record(session, at=now, actor=SYSTEM, action="item.raised",
                     subject_type="item", subject_id=row.id,
                     detail={"kind": item.kind, "message": item.message})
        return row.id

    def _quarantine(self, session: Session, message: InboundMessage,
                    errors: Sequence[FieldError], now: datetime) -> Receipt:
        """Keep an invalid message with its reasons and tell a coordinator."""
        message.status = InboundStatus.QUARANTINED.value
        message.errors = [error.as_dict() for error in errors]
        message.processed_at = now
        summary = "; ".join(str(error) for error in errors)[:2000]
        self.raise_item(session, CoordinatorItem(
            kind="quarantined", message=f"{message.format} message from {message.sender} "
            f"quarantined: {summary}"), now, inbound_id=message.id, force=message.sender)
        audit.record(session, at=now, actor=SYSTEM, action="inbound.quarantined",
                     subject_type="inbound", subject_id=message.id,
                     detail={"errors": message.errors})
        return self._receipt(session, message)

    def _hold(self, session: Session, message: InboundMessage, notification: Notification,
              now: datetime) -> Receipt:
        """Hold an event that arrived before its missing report, until that report arrives."""
        first_time = message.status != InboundStatus.HELD.value
        message.status = InboundStatus.HELD.value
        message.errors = [FieldError(
            "police_reference", "no missing report has been received for this reference yet; "
            "held and applied when it arrives", notification.police_reference).as_dict()]
        if first_time:
            self.raise_item(session, CoordinatorItem(
                kind="held_out_of_order", message=f"{notification.event.value} for "
                f"{notification.force}/{notification.police_reference} arrived before its "
                "missing report and is held"), now, inbound_id=message.id,
                force=notification.force)
            audit.record(session, at=now, actor=SYSTEM, action="inbound.held",
                         subject_type="inbound", subject_id=message.id,
                         detail={"reason": "missing report not yet received"})
        return self._receipt(session, message)

    def _release_held(self, session: Session, notification: Notification,
                      actor: str) -> list[str]:
        """Apply held messages for an episode whose missing report has just arrived.

        Returns the ids of the deliveries they caused, to be enqueued after commit.
        """
        held = session.execute(select(InboundMessage).where(
            InboundMessage.status == InboundStatus.HELD.value,
            InboundMessage.sender == notification.force,
            InboundMessage.police_reference == notification.police_reference,
        ).order_by(InboundMessage.received_at)).scalars().all()
        released: list[str] = []
        for message in held:
            raw = self.unwrap(self.sealer.open(message.sealed_body, message.id), message.sender)
            adapter = self.police_adapters[message.format]
            later = adapter.parse(raw, self.force_overrides(message.sender))
            later = replace(later, force=self.resolve_force(later.force) or later.force)
            _, ids = self.apply_notification(session, message, later, self.clock(), actor)
            released.extend(ids)
        return released

    def _receipt(self, session: Session, message: InboundMessage) -> Receipt:
        """Build the receipt for a message as it now stands."""
        deliveries: list[str] = []
        if message.episode_id and message.status == InboundStatus.PROCESSED.value:
            event = session.execute(select(EventRow.id).where(
                EventRow.inbound_message_id == message.id)).scalar_one_or_none()
            if event:
                deliveries = list(session.execute(select(DeliveryRow.id).where(
                    DeliveryRow.event_id == event)).scalars())
        return Receipt(id=message.id, status=InboundStatus(message.status),
                       errors=list(message.errors or []), episode_id=message.episode_id,
                       deliveries=deliveries)

    def receipt(self, inbound_id: str) -> Receipt | None:
        """Return the receipt of a stored message, or None if there is no such message."""
        with self.db.read() as session:
            message = session.get(InboundMessage, inbound_id)
            return None if message is None else self._receipt(session, message)

    def sender_of(self, inbound_id: str) -> str | None:
        """Return the force that sent a stored message, or None."""
        with self.db.read() as session:
            message = session.get(InboundMessage, inbound_id)
            return message.sender if message else None

    def load_notification(self, session: Session, event_id: str) -> Notification:
        """Return the canonical notification an event row carries."""
        event = session.get(EventRow, event_id)
        if event is None:
            raise KeyError(event_id)
        return notification_from_json(event.notification)
