"""Take in what councils' case systems send back: receipts for copies, and RHI outcomes.

Every file is first kept sealed and audited like any inbound message (`Pipeline.receive`,
format `<system>-ack` / `<system>-rhi`, or `json-ack` / `json-rhi` for the API's JSON forms,
sender = the authority id), so a malformed file is never lost: it is marked QUARANTINED with
field-level reasons, a coordinator item is raised, and it is listed in the quarantine.

A receipt then records the acknowledgement on the delivery's tracking ladder, keeps the
council's episode and person ids and the key it matched on (`case_system_receipts`), and
raises a coordinator item for a rejection, no match or several matches.

An RHI outcome records its attempts and outcome on the episode's RHI (tracking), then is
applied to the episode as an RHI_OUTCOME event, so routing shares the shareable summary with
the recording force, the other council and the IRO, each copy minimised by its role.
Sensitive disclosures never get this far: the parsers drop them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.case_receipts import load_json_document
from adapters.registry import RECEIPT_PARSERS, receipt_parser
from gateway.domain.enums import EventType, InboundStatus
from gateway.domain.errors import FieldError, InvalidMessage, UnknownAdapter
from gateway.domain.receipts import (
    CaseSystemReceipt,
    RhiOutcome,
    RhiStatus,
    YesNoNa,
    ack_stage,
    receipt_from_json,
    receipt_item,
    rhi_outcome_from_json,
    rhi_outcome_notification,
)
from gateway.domain.routing import CoordinatorItem
from gateway.domain.schemas import episode_from_json
from gateway.pipeline import Receipt
from gateway.services import Services
from gateway.store import audit
from gateway.store.models import DeliveryRow, EpisodeRow, EventRow, InboundMessage
from gateway.store.receipt_models import CaseSystemReceiptRow
from gateway.store.tracking_models import RhiAttemptRow
from gateway.tracking import rhi as rhi_tracking
from gateway.tracking.wiring import tracker

log = logging.getLogger(__name__)

JSON_FORM = "json"
ACK_SUFFIX = "-ack"
RHI_SUFFIX = "-rhi"
ITEM_REJECTED_FILE = "case_system_file_rejected"
ITEM_RHI_INCOMPLETE = "rhi_outcome_incomplete"
_LONDON = ZoneInfo("Europe/London")


class UnknownAuthority(LookupError):
    """The sender names no authority in the directory."""


class UnknownForm(ValueError):
    """A file form that is neither the JSON form nor a case system with a receipt parser."""


@dataclass(frozen=True)
class Ingested:
    """What became of one receipt or RHI file: what the API and the poller report back."""

    inbound_id: str
    status: InboundStatus
    errors: list[dict[str, Any]] = field(default_factory=list)
    delivery_id: str | None = None
    episode_id: str | None = None
    receipt_status: str | None = None
    item_id: str | None = None
    deliveries: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form given to the sending council."""
        return {"receipt_id": self.inbound_id, "status": self.status.value,
                "errors": self.errors, "delivery_id": self.delivery_id,
                "episode_id": self.episode_id, "receipt_status": self.receipt_status,
                "coordinator_item": self.item_id, "deliveries": self.deliveries,
                "withheld": self.withheld}

    def as_receipt(self) -> Receipt:
        """Return the pipeline's Receipt for this file (what the quarantine tools show)."""
        return Receipt(id=self.inbound_id, status=self.status, errors=list(self.errors),
                       episode_id=self.episode_id, deliveries=list(self.deliveries))


class ReceiptsService:
    """Ingests case-system receipts and RHI outcomes for the authorities in the directory."""

    def __init__(self, services: Services) -> None:
        self.services = services

    # -- entry points ----------------------------------------------------------------------

    def ingest_receipt(self, authority: str, raw: bytes, *, form: str | None = None,
                       channel: str = "https", source_name: str | None = None) -> Ingested:
        """Keep, parse and apply one acknowledgement file (or JSON receipt) from `authority`.

        `form` is the case system whose file this is, or "json"; by default the authority's
        own case system from the directory.
        """
        system = self._form(authority, form)
        inbound_id = self.services.pipeline.receive(system + ACK_SUFFIX, raw, authority,
                                                    channel=channel, source_name=source_name)
        return self.apply_stored(inbound_id)

    def ingest_rhi(self, authority: str, raw: bytes, *, form: str | None = None,
                   channel: str = "https", source_name: str | None = None) -> Ingested:
        """Keep, parse and share one RHI outcome (an export file or JSON) from `authority`."""
        system = self._form(authority, form)
        inbound_id = self.services.pipeline.receive(system + RHI_SUFFIX, raw, authority,
                                                    channel=channel, source_name=source_name)
        return self.apply_stored(inbound_id)

    def apply_stored(self, inbound_id: str) -> Ingested:
        """Parse and apply a stored receipt or RHI file (again, after a fix or a crash).

        A file already applied (PROCESSED, DUPLICATE) is answered as it stands.
        """
        enqueue: list[str] = []
        with self.services.db.unit_of_work() as session:
            message = self._message(session, inbound_id)
            system, kind = handled_format(message.format) or (None, None)
            if system is None:
                raise ValueError(f"{message.format} is not a receipt or RHI format")
            if message.status not in (InboundStatus.RECEIVED.value,
                                      InboundStatus.QUARANTINED.value):
                return Ingested(message.id, InboundStatus(message.status),
                                errors=list(message.errors or []),
                                episode_id=message.episode_id)
            duplicate = self._duplicate(session, message)
            if duplicate is not None:
                return duplicate
            raw = self.services.sealer.open(message.sealed_body, message.id)
            authority = message.sender
            try:
                if kind == ACK_SUFFIX:
                    return self._apply_receipt(session, message, authority,
                                               self._parse_receipt(system, raw))
                outcome = self._parse_rhi(system, raw)
            except InvalidMessage as exc:
                return self._keep(session, message, authority, exc.errors)
            result = self._apply_rhi(session, message, authority, outcome)
            enqueue = result.deliveries
        if enqueue:
            try:
                self.services.pipeline.enqueue(enqueue)
            except Exception:
                # Committed rows are the truth; the outbox sweep sends what was not queued.
                log.exception("could not enqueue %d RHI copies; the sweep will", len(enqueue))
        return result

    # -- parsing ---------------------------------------------------------------------------

    def _form(self, authority: str, form: str | None) -> str:
        """Return the form of the file: the given one, else the authority's case system."""
        found = self.services.directory.authority(authority)
        if found is None:
            raise UnknownAuthority(authority)
        form = form or found.case_system
        if form != JSON_FORM and form not in RECEIPT_PARSERS:
            raise UnknownForm(f"no receipt parser for {form[:40]!r}; known: "
                              f"{', '.join(sorted([JSON_FORM, *RECEIPT_PARSERS]))}")
        return form

    @staticmethod
    def _parse_receipt(system: str, raw: bytes) -> CaseSystemReceipt:
        """Parse a receipt in `system`'s own format or the JSON form."""
        if system == JSON_FORM:
            return receipt_from_json(load_json_document(raw), system="api")
        try:
            parser = receipt_parser(system)
        except UnknownAdapter as exc:
            raise InvalidMessage([FieldError("format", str(exc), system)]) from exc
        return parser.parse_receipt(raw)

    @staticmethod
    def _parse_rhi(system: str, raw: bytes) -> RhiOutcome:
        """Parse an RHI outcome in `system`'s export format or the JSON form."""
        if system == JSON_FORM:
            return rhi_outcome_from_json(load_json_document(raw), system="api")
        try:
            parser = receipt_parser(system)
        except UnknownAdapter as exc:
            raise InvalidMessage([FieldError("format", str(exc), system)]) from exc
        return parser.parse_rhi_outcome(raw)

    # -- receipts --------------------------------------------------------------------------

    def _apply_receipt(self, session: Session, message: InboundMessage, authority: str,
                       receipt: CaseSystemReceipt) -> Ingested:
        """Record the acknowledgement, keep the council's ids, raise an item if one is due."""
        now = self.services.clock()
        delivery = session.get(DeliveryRow, receipt.delivery_id)
        if delivery is None or delivery.authority != authority:
            return self._keep(session, message, authority, [FieldError(
                "delivery_id", "names no copy the gateway delivered to this authority",
                receipt.delivery_id)])
        at = min(receipt.at, now)  # a council clock ahead of ours must not date acks ahead
        tracker(self.services).record_ack(session, delivery.id, ack_stage(receipt), at)
        session.add(CaseSystemReceiptRow(
            delivery_id=delivery.id, inbound_message_id=message.id, authority=authority,
            system=receipt.system, status=receipt.status.value,
            council_episode_id=receipt.council_episode_id,
            council_person_id=receipt.council_person_id,
            matched_by=receipt.matched_by.value if receipt.matched_by else None,
            candidates=receipt.candidates, reasons=list(receipt.reasons),
            acknowledged_at=receipt.at, received_at=message.received_at, sha256=message.sha256))
        item_id = None
        item = receipt_item(receipt, authority)
        if item is not None:
            item_id = self.services.pipeline.raise_item(
                session, item, now, episode_id=delivery.episode_id, inbound_id=message.id,
                delivery_id=delivery.id)
        self._processed(session, message, authority, now, delivery.episode_id,
                        "case_system.receipt", {"delivery": delivery.id,
                                                "status": receipt.status.value})
        return Ingested(message.id, InboundStatus.PROCESSED, delivery_id=delivery.id,
                        episode_id=delivery.episode_id, receipt_status=receipt.status.value,
                        item_id=item_id)

    # -- RHI outcomes ----------------------------------------------------------------------

    def _apply_rhi(self, session: Session, message: InboundMessage, authority: str,
                   outcome: RhiOutcome) -> Ingested:
        """Record the outcome on the episode's RHI and share it through routing."""
        now = self.services.clock()
        episode = self._episode_for(session, authority, outcome)
        if episode is None:
            return self._keep(session, message, authority, [FieldError(
                "reference", "names no episode of which this authority received a copy")])
        self._track(session, authority, episode, outcome, now)
        revision = 1 + int(session.execute(select(func.count()).select_from(EventRow).where(
            EventRow.episode_id == episode.id,
            EventRow.event_type == EventType.RHI_OUTCOME.value)).scalar_one())
        notification = rhi_outcome_notification(
            outcome, force=episode.force, police_reference=episode.police_reference,
            occurred_at=now, revision=revision, child=episode_from_json(episode.data).child)
        # Routing shares with the council that did not hold the interview.
        notification = replace(notification, extra={**notification.extra,
                                                     "rhi_conducted_by": authority})
        message.police_reference = notification.police_reference
        message.event_type = notification.event.value
        message.revision = notification.revision
        # The pipeline's own apply step: idempotency key, episode, event row, routing,
        # deliveries and listeners, in this transaction (no police adapter parses this file).
        receipt, delivery_ids = self.services.pipeline.apply_notification(
            session, message, notification, now, f"authority:{authority}")
        return Ingested(message.id, receipt.status, errors=receipt.errors,
                        episode_id=episode.id, deliveries=delivery_ids,
                        withheld=list(outcome.withheld))

    def _episode_for(self, session: Session, authority: str,
                     outcome: RhiOutcome) -> EpisodeRow | None:
        """Find the episode an outcome is about, among those this authority had copies of."""
        episode: EpisodeRow | None = None
        if outcome.reference is not None:
            force = self.services.resolve_force(outcome.reference.force) or \
                outcome.reference.force
            episode = session.execute(select(EpisodeRow).where(
                EpisodeRow.force == force,
                EpisodeRow.police_reference == outcome.reference.police_reference,
            )).scalar_one_or_none()
        elif outcome.council_episode_id:
            episode_id = session.execute(
                select(DeliveryRow.episode_id).join(
                    CaseSystemReceiptRow, CaseSystemReceiptRow.delivery_id == DeliveryRow.id)
                .where(CaseSystemReceiptRow.authority == authority,
                       CaseSystemReceiptRow.council_episode_id == outcome.council_episode_id)
                .limit(1)).scalar_one_or_none()
            episode = session.get(EpisodeRow, episode_id) if episode_id else None
        if episode is None:
            return None
        had_copy = session.execute(select(DeliveryRow.id).where(
            DeliveryRow.episode_id == episode.id, DeliveryRow.authority == authority,
        ).limit(1)).scalar_one_or_none()
        return episode if had_copy else None

    def _track(self, session: Session, authority: str, episode: EpisodeRow,
               outcome: RhiOutcome, now: datetime) -> None:
        """Record attempts and the outcome on the episode's RHI; an item if that fails."""
        row = rhi_tracking.rhi_for_episode(session, episode.id)
        if row is None or row.status not in rhi_tracking.OPEN:
            return
        track = tracker(self.services)
        savepoint = session.begin_nested()
        try:
            known = {(a.at, a.method) for a in session.execute(select(RhiAttemptRow).where(
                RhiAttemptRow.rhi_id == row.id)).scalars()}
            by = outcome.completed_by or authority
            for attempt in outcome.attempts:
                method = attempt.method.value.lower()
                if (attempt.at, method) in known or row.status not in rhi_tracking.OPEN:
                    continue
                track.record_attempt(session, row.id, at=min(attempt.at, now), method=method,
                                     successful=attempt.successful, now=now, by=by)
            step = _tracking_outcome(outcome)
            if step is not None and row.status in rhi_tracking.OPEN:
                track.record_outcome(session, row.id, step, at=_outcome_at(outcome, now),
                                     now=now, by=by, late_reason=outcome.late_reason)
            savepoint.commit()
        except (ValueError, KeyError) as exc:
            savepoint.rollback()
            self.services.pipeline.raise_item(session, CoordinatorItem(
                kind=ITEM_RHI_INCOMPLETE, authority=authority,
                message=f"RHI outcome from {authority} shared but not recorded: {exc}"),
                now, episode_id=episode.id)

    # -- shared steps ----------------------------------------------------------------------

    @staticmethod
    def _message(session: Session, inbound_id: str) -> InboundMessage:
        """Return the stored message just received."""
        message = session.get(InboundMessage, inbound_id)
        if message is None:  # pragma: no cover - committed a moment ago
            raise KeyError(inbound_id)
        return message

    def _duplicate(self, session: Session, message: InboundMessage) -> Ingested | None:
        """Mark a file already taken (same sender, form and bytes) as a duplicate."""
        original = session.execute(select(InboundMessage).where(
            InboundMessage.sender == message.sender, InboundMessage.format == message.format,
            InboundMessage.sha256 == message.sha256, InboundMessage.id != message.id,
            InboundMessage.status == InboundStatus.PROCESSED.value,
        ).order_by(InboundMessage.received_at).limit(1)).scalar_one_or_none()
        if original is None:
            return None
        now = self.services.clock()
        message.status = InboundStatus.DUPLICATE.value
        message.duplicate_of = original.id
        message.episode_id = original.episode_id
        message.processed_at = now
        audit.record(session, at=now, actor=f"authority:{message.sender}",
                     action="inbound.duplicate", subject_type="inbound", subject_id=message.id,
                     detail={"duplicate_of": original.id})
        return Ingested(message.id, InboundStatus.DUPLICATE, episode_id=original.episode_id)

    def _keep(self, session: Session, message: InboundMessage, authority: str,
              errors: Sequence[FieldError]) -> Ingested:
        """Quarantine a file with its reasons and tell a coordinator; it stays sealed."""
        now = self.services.clock()
        message.status = InboundStatus.QUARANTINED.value
        message.errors = [error.as_dict() for error in errors]
        message.processed_at = now
        summary = "; ".join(str(error) for error in errors)[:2000]
        item_id = self.services.pipeline.raise_item(session, CoordinatorItem(
            kind=ITEM_REJECTED_FILE, authority=authority,
            message=f"{message.format} file from {authority} rejected and kept: {summary}"),
            now, inbound_id=message.id)
        audit.record(session, at=now, actor="gateway", action="inbound.quarantined",
                     subject_type="inbound", subject_id=message.id,
                     detail={"errors": message.errors})
        return Ingested(message.id, InboundStatus.QUARANTINED, errors=list(message.errors),
                        item_id=item_id)

    @staticmethod
    def _processed(session: Session, message: InboundMessage, authority: str, now: datetime,
                   episode_id: str | None, action: str, detail: dict[str, Any]) -> None:
        """Mark a file taken, and audit what it did."""
        message.status = InboundStatus.PROCESSED.value
        message.errors = []
        message.processed_at = now
        message.episode_id = episode_id
        audit.record(session, at=now, actor=f"authority:{authority}", action=action,
                     subject_type="inbound", subject_id=message.id, detail=detail)


def handled_format(fmt: str) -> tuple[str, str] | None:
    """Return (system, kind suffix) of a stored format this service takes, else None."""
    for suffix in (ACK_SUFFIX, RHI_SUFFIX):
        if fmt.endswith(suffix) and len(fmt) > len(suffix):
            return fmt[: -len(suffix)], suffix
    return None


def _tracking_outcome(outcome: RhiOutcome) -> str | None:
    """Return the tracking outcome an RHI status stands for."""
    if outcome.status is RhiStatus.COMPLETED:
        return "completed"
    if outcome.status is RhiStatus.DECLINED:
        return "declined"
    if outcome.status is RhiStatus.NOT_POSSIBLE:
        return "not_possible"
    return "accepted" if outcome.accepted is YesNoNa.YES else "offered"


def _outcome_at(outcome: RhiOutcome, now: datetime) -> datetime:
    """Return when the outcome happened, as near as the export says, never after now.

    Exports give dates, not times: the start of that day in England is taken, so a
    completion is never judged late on a time the council did not give.
    """
    day = outcome.completed_on if outcome.status is RhiStatus.COMPLETED else None
    day = day or outcome.offered_on
    if day is None:
        attempts = [a.at for a in outcome.attempts]
        return min(max(attempts), now) if attempts else now
    return min(datetime.combine(day, time(0, 0), _LONDON).astimezone(UTC), now)

