"""The outbox: claim a delivery by compare-and-set, render, protect, send, record.

Delivery rows are written in the same transaction as the episode change that causes them;
this module moves each from PENDING to SENT (or HELD) exactly once per successful attempt.
The sweep finds rows a lost broker message or a killed worker left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from adapters.base import Rendered
from gateway.delivery.circuit import CircuitBreaker
from gateway.delivery.errors import DeliveryError, PermanentDeliveryError
from gateway.delivery.retry import RetryPolicy
from gateway.delivery.transports.base import OutboundMessage, Transport
from gateway.domain.enums import DeliveryStatus, InboundStatus
from gateway.domain.errors import GatewayError
from gateway.domain.model import Notification
from gateway.domain.routing import Channel, CoordinatorItem
from gateway.domain.schemas import notification_from_json
from gateway.pipeline import SYSTEM, Pipeline, channel_from_json, channel_to_json
from gateway.store import audit
from gateway.store.db import Database
from gateway.store.models import DeliveryRow, EventRow, InboundMessage

Renderer = Callable[[Notification, Channel, str], Rendered]
Protector = Callable[[Rendered, Channel], tuple[bytes, str, str]]


@dataclass(frozen=True)
class SweepReport:
    """What one sweep found and did."""

    requeued: int
    reclaimed: int
    reprocessed: int


class Outbox:
    """Sends delivery rows through their channel's transport, once each."""

    def __init__(self, db: Database, pipeline: Pipeline, render: Renderer, protect: Protector,
                 transports: Mapping[str, Transport], clock: Callable[[], datetime],
                 retry: RetryPolicy | None = None, breaker: CircuitBreaker | None = None,
                 enqueue: Callable[[Iterable[str]], None] | None = None) -> None:
        self.db = db
        self.pipeline = pipeline
        self.render = render
        self.protect = protect
        self.transports = transports
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self.enqueue = enqueue or (lambda ids: None)
        # Called in the transaction that marks a delivery SENT (tracking starts ack clocks).
        self.sent_listeners: list[Callable[[Session, DeliveryRow, datetime], None]] = []

    def claim(self, delivery_id: str, now: datetime) -> bool:
        """Move a due PENDING delivery to SENDING; True only for the one caller that wins."""
        with self.db.unit_of_work() as session:
            result = session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == delivery_id,
                       DeliveryRow.status == DeliveryStatus.PENDING.value,
                       (DeliveryRow.next_attempt_at.is_(None))
                       | (DeliveryRow.next_attempt_at <= now))
                .values(status=DeliveryStatus.SENDING.value, claimed_at=now,
                        attempts=DeliveryRow.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def deliver_one(self, delivery_id: str) -> str:
        """Claim, render, protect and send one delivery; return its status afterwards."""
        now = self.clock()
        if not self.claim(delivery_id, now):
            with self.db.read() as session:
                row = session.get(DeliveryRow, delivery_id)
                return row.status if row else "MISSING"
        with self.db.read() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            event = session.get(EventRow, row.event_id)
            assert event is not None
            channel = channel_from_json(row.channel)
            notification = notification_from_json(event.notification)
            profile = row.profile
        if not self.breaker.allow(channel.endpoint, now):
            return self._defer(delivery_id, f"circuit open for {channel.endpoint}", now)
        try:
            rendered = self.render(notification, channel, profile)
            content, suffix, media_type = self.protect(rendered, channel)
            transport = self.transports.get(channel.kind)
            if transport is None:
                raise PermanentDeliveryError(f"no transport for channel kind {channel.kind!r}")
            receipt = transport.send(OutboundMessage(delivery_id=delivery_id, channel=channel,
                                                     content=content, suffix=suffix,
                                                     media_type=media_type))
        except DeliveryError as exc:
            if exc.permanent:
                return self._hold(delivery_id, str(exc), now)
            self.breaker.record_failure(channel.endpoint, now)
            return self._defer(delivery_id, str(exc), now)
        except GatewayError as exc:
            # A rendering or certificate problem: retrying cannot help, a person must act.
            return self._hold(delivery_id, f"cannot prepare the copy: {exc}", now)
        self.breaker.record_success(channel.endpoint, now)
        with self.db.unit_of_work() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            row.status = DeliveryStatus.SENT.value
            row.sent_at = self.clock()
            row.remote_ref = receipt.reference
            row.last_error = None
            audit.record(session, at=row.sent_at, actor=SYSTEM, action="delivery.sent",
                         subject_type="delivery", subject_id=delivery_id,
                         detail={"reference": receipt.reference, "attempt": row.attempts,
                                 "already_delivered": receipt.already_delivered})
            for listener in self.sent_listeners:
                listener(session, row, row.sent_at)
        return DeliveryStatus.SENT.value

    def _defer(self, delivery_id: str, reason: str, now: datetime) -> str:
        """Put a delivery back to PENDING with backoff, or hold it past the retry ceiling."""
        with self.db.unit_of_work() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            if self.retry.exhausted(row.created_at, now):
                return self._hold_row(session, row, f"still failing after the retry ceiling "
                                      f"({self.retry.ceiling}): {reason}", now)
            row.status = DeliveryStatus.PENDING.value
            row.last_error = reason
            row.next_attempt_at = self.retry.next_attempt(row.attempts, now)
            audit.record(session, at=now, actor=SYSTEM, action="delivery.retry_scheduled",
                         subject_type="delivery", subject_id=delivery_id,
                         detail={"reason": reason, "attempt": row.attempts,
                                 "next_attempt_at": row.next_attempt_at.isoformat()})
            return row.status

    def _hold(self, delivery_id: str, reason: str, now: datetime) -> str:
        """Hold a delivery that cannot succeed by retrying, and tell a coordinator."""
        with self.db.unit_of_work() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            return self._hold_row(session, row, reason, now)

    def _hold_row(self, session: Session, row: DeliveryRow, reason: str, now: datetime) -> str:
        """Mark a row HELD, raise the coordinator item and audit, in the caller's transaction."""
        row.status = DeliveryStatus.HELD.value
        row.last_error = reason
        row.next_attempt_at = None
        self.pipeline.raise_item(session, CoordinatorItem(
            kind="delivery_held", authority=row.authority,
            message=f"undeliverable: manual action — copy for {row.authority} ({row.team}) "
            f"is held: {reason}"), now, episode_id=row.episode_id, delivery_id=row.id)
        audit.record(session, at=now, actor=SYSTEM, action="delivery.held",
                     subject_type="delivery", subject_id=row.id, detail={"reason": reason})
        return row.status

    def resend(self, delivery_id: str, actor: str, channel: Channel | None = None) -> str:
        """Put a HELD delivery back in the queue, optionally on another channel; audited."""
        now = self.clock()
        with self.db.unit_of_work() as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None:
                raise KeyError(delivery_id)
            if row.status != DeliveryStatus.HELD.value:
                raise ValueError(f"delivery {delivery_id} is {row.status}, not HELD")
            detail: dict[str, Any] = {"previous_error": row.last_error}
            if channel is not None:
                detail["from_channel"] = row.channel
                row.channel = channel_to_json(channel)
                detail["to_channel"] = row.channel
            row.status = DeliveryStatus.PENDING.value
            row.next_attempt_at = now
            row.created_at = now  # a person restarted it: the retry ceiling counts afresh
            audit.record(session, at=now, actor=actor, action="delivery.resend",
                         subject_type="delivery", subject_id=delivery_id, detail=detail)
        self.enqueue([delivery_id])
        return DeliveryStatus.PENDING.value

    def sweep(self, stuck_after: timedelta = timedelta(minutes=2),
              pending_grace: timedelta = timedelta(seconds=30)) -> SweepReport:
        """Re-find work a lost queue message or a dead worker left behind, and enqueue it."""
        now = self.clock()
        with self.db.unit_of_work() as session:
            reclaimed = session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.status == DeliveryStatus.SENDING.value,
                       DeliveryRow.claimed_at < now - stuck_after)
                .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now,
                        last_error="worker stopped mid-send; re-queued by the sweep")
                .execution_options(synchronize_session=False)
            )
            due = list(session.execute(
                select(DeliveryRow.id).where(
                    DeliveryRow.status == DeliveryStatus.PENDING.value,
                    DeliveryRow.next_attempt_at <= now - pending_grace)
                .order_by(DeliveryRow.next_attempt_at).limit(1000)).scalars())
            stale_inbound = list(session.execute(
                select(InboundMessage.id).where(
                    InboundMessage.status == InboundStatus.RECEIVED.value,
                    InboundMessage.received_at < now - pending_grace)
                .limit(1000)).scalars())
        for inbound_id in stale_inbound:
            self.pipeline.process(inbound_id)
        if due:
            self.enqueue(due)
        return SweepReport(requeued=len(due), reclaimed=int(getattr(reclaimed, "rowcount", 0)),
                           reprocessed=len(stale_inbound))
