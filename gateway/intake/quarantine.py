"""Quarantine: list rejected (QUARANTINED) and held (HELD) messages with reasons, re-process one.

A coordinator who has corrected the configuration (say, added a force's local code to its
`mapping:` overrides) re-processes a message; the directory is re-read from disk first, so
the correction takes effect without a restart, and a configuration that does not load is
refused with its problems rather than half-applied. Every list, view and re-process is
written to the audit log with who did it.

API (coordinator bearer tokens from `gateway senders add --coordinator NAME`):

    GET  /api/v1/quarantine[?status=QUARANTINED|HELD&force=ID&limit=N]
    GET  /api/v1/quarantine/<id>
    POST /api/v1/quarantine/<id>/reprocess
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy import select

from gateway.api_support import (
    COORDINATOR_REQUIRED,
    app_services,
    authenticated_coordinator,
    problem,
)
from gateway.domain.enums import InboundStatus
from gateway.pipeline import Receipt
from gateway.services import Services
from gateway.store import audit
from gateway.store.models import CoordinatorItemRow, InboundMessage
from routing.directory_loader import DirectoryError, load_directory

QUARANTINE_STATUSES = (InboundStatus.QUARANTINED, InboundStatus.HELD)
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000


class NotInQuarantine(LookupError):
    """The message does not exist, or is neither quarantined nor held."""


class ConfigInvalid(ValueError):
    """The corrected configuration does not load; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class QuarantinedMessage:
    """One rejected or held message as a coordinator sees it: no raw body, only reasons."""

    id: str
    status: str
    format: str
    channel: str
    sender: str
    source_name: str | None
    received_at: datetime
    processed_at: datetime | None
    police_reference: str | None
    event_type: str | None
    revision: int | None
    errors: list[dict[str, Any]]

    @classmethod
    def from_row(cls, row: InboundMessage) -> QuarantinedMessage:
        """Copy the listed columns of a stored message."""
        return cls(id=row.id, status=row.status, format=row.format, channel=row.channel,
                   sender=row.sender, source_name=row.source_name, received_at=row.received_at,
                   processed_at=row.processed_at, police_reference=row.police_reference,
                   event_type=row.event_type, revision=row.revision,
                   errors=list(row.errors or []))

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form of the API."""
        return {"id": self.id, "status": self.status, "format": self.format,
                "channel": self.channel, "sender": self.sender,
                "source_name": self.source_name, "received_at": self.received_at.isoformat(),
                "processed_at": self.processed_at.isoformat() if self.processed_at else None,
                "police_reference": self.police_reference, "event_type": self.event_type,
                "revision": self.revision, "errors": self.errors,
                "reprocess": f"/api/v1/quarantine/{self.id}/reprocess"}


# -- service functions ---------------------------------------------------------------------


def list_quarantined(services: Services, actor: str, *, status: str | None = None,
                     force: str | None = None, limit: int = DEFAULT_LIMIT,
                     ) -> list[QuarantinedMessage]:
    """Return quarantined and held messages, newest first, and audit who looked."""
    statuses = [s.value for s in QUARANTINE_STATUSES]
    if status is not None:
        if status not in statuses:
            raise ValueError(f"status must be one of {', '.join(statuses)}, not {status!r}")
        statuses = [status]
    limit = max(1, min(limit, MAX_LIMIT))
    with services.db.unit_of_work() as session:
        query = select(InboundMessage).where(InboundMessage.status.in_(statuses))
        if force is not None:
            query = query.where(InboundMessage.sender == force)
        rows = session.execute(query.order_by(InboundMessage.received_at.desc(),
                                              InboundMessage.id).limit(limit)).scalars().all()
        found = [QuarantinedMessage.from_row(row) for row in rows]
        audit.record(session, at=services.clock(), actor=actor, action="quarantine.listed",
                     subject_type="quarantine", subject_id="list",
                     detail={"status": status, "force": force, "count": len(found),
                             "ids": [m.id for m in found]})
    return found


def get_quarantined(services: Services, inbound_id: str, actor: str) -> QuarantinedMessage:
    """Return one quarantined or held message and audit the view; NotInQuarantine if none."""
    with services.db.unit_of_work() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is None or row.status not in {s.value for s in QUARANTINE_STATUSES}:
            raise NotInQuarantine(f"no quarantined or held message {inbound_id}")
        found = QuarantinedMessage.from_row(row)
        audit.record(session, at=services.clock(), actor=actor, action="quarantine.viewed",
                     subject_type="inbound", subject_id=inbound_id,
                     detail={"status": found.status})
    return found


def reload_directory(services: Services) -> str:
    """Re-read the directory from disk into `services`; return the config's fingerprint.

    Raises ConfigInvalid (and keeps the directory in use) when the files do not load.
    """
    root = services.settings.config_dir
    try:
        fresh = load_directory(root)
    except DirectoryError as exc:
        raise ConfigInvalid([str(p) for p in exc.problems]) from exc
    # Services.directory is a cached_property: assigning replaces the cached value.
    services.directory = fresh
    return config_fingerprint(root)


def config_fingerprint(root: Path) -> str:
    """Return a sha256 over every YAML file of a config root, to say which version was used."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.y*ml")):
        digest.update(str(path.relative_to(root)).encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def reprocess(services: Services, inbound_id: str, actor: str, *,
              reload_config: bool = True) -> Receipt:
    """Re-process one quarantined or held message under the current configuration.

    Open coordinator items about the message are resolved when it leaves quarantine (or,
    if it is quarantined again, replaced by the item with the new reasons).
    """
    fingerprint = reload_directory(services) if reload_config else None
    now = services.clock()
    with services.db.unit_of_work() as session:
        row = session.get(InboundMessage, inbound_id)
        if row is None or row.status not in {s.value for s in QUARANTINE_STATUSES}:
            raise NotInQuarantine(f"no quarantined or held message {inbound_id}")
        before = row.status
        fmt = row.format
        open_items = list(session.execute(select(CoordinatorItemRow.id).where(
            CoordinatorItemRow.inbound_message_id == inbound_id,
            CoordinatorItemRow.resolved_at.is_(None))).scalars())
        audit.record(session, at=now, actor=actor, action="quarantine.reprocess_requested",
                     subject_type="inbound", subject_id=inbound_id,
                     detail={"status": before, "config_sha256": fingerprint})
    from gateway.receipts_service import ReceiptsService, handled_format

    # Council receipts and RHI exports are applied by the receipts service, not a police adapter.
    receipt = (ReceiptsService(services).apply_stored(inbound_id).as_receipt()
               if handled_format(fmt) else services.pipeline.process(inbound_id, actor=actor))
    with services.db.unit_of_work() as session:
        if receipt.status is not InboundStatus.HELD or before != InboundStatus.HELD.value:
            note = (f"re-processed by {actor}: {receipt.status.value}" if receipt.status
                    not in QUARANTINE_STATUSES else
                    f"re-processed by {actor}: still {receipt.status.value}; see the new item")
            for item_id in open_items:
                item = session.get(CoordinatorItemRow, item_id)
                if item is not None and item.resolved_at is None:
                    item.resolved_at, item.resolved_by, item.resolution_note = now, actor, note
        audit.record(session, at=now, actor=actor, action="quarantine.reprocessed",
                     subject_type="inbound", subject_id=inbound_id,
                     detail={"before": before, "after": receipt.status.value,
                             "errors": receipt.errors, "episode_id": receipt.episode_id,
                             "resolved_items": open_items})
    return receipt


# -- HTTP API --------------------------------------------------------------------------------

quarantine_api = Blueprint("quarantine_api", __name__, url_prefix="/api/v1/quarantine")


@quarantine_api.get("")
def api_list() -> tuple[Response, int]:
    """List quarantined and held messages with their reasons."""
    name = authenticated_coordinator()
    if name is None:
        return problem(401, *COORDINATOR_REQUIRED)
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
        messages = list_quarantined(app_services(), f"coordinator:{name}",
                                    status=request.args.get("status"),
                                    force=request.args.get("force"), limit=limit)
    except ValueError as exc:
        return problem(400, "Bad request", str(exc))
    return jsonify({"messages": [m.as_dict() for m in messages], "count": len(messages)}), 200


@quarantine_api.get("/<inbound_id>")
def api_get(inbound_id: str) -> tuple[Response, int]:
    """Show one quarantined or held message."""
    name = authenticated_coordinator()
    if name is None:
        return problem(401, *COORDINATOR_REQUIRED)
    try:
        message = get_quarantined(app_services(), inbound_id, f"coordinator:{name}")
    except NotInQuarantine as exc:
        return problem(404, "Not found", str(exc))
    return jsonify(message.as_dict()), 200


@quarantine_api.post("/<inbound_id>/reprocess")
def api_reprocess(inbound_id: str) -> tuple[Response, int]:
    """Re-process one message under the (corrected) configuration; answer its new receipt."""
    name = authenticated_coordinator()
    if name is None:
        return problem(401, *COORDINATOR_REQUIRED)
    try:
        receipt = reprocess(app_services(), inbound_id, f"coordinator:{name}")
    except NotInQuarantine as exc:
        return problem(404, "Not found", str(exc))
    except ConfigInvalid as exc:
        return problem(409, "Configuration invalid", "the configuration on disk does not "
                        "load; correct it and try again (nothing was re-processed)",
                        problems=exc.problems)
    return jsonify(receipt.as_dict()), 200


def register(app: Flask) -> None:
    """Add the quarantine API to the app."""
    app.register_blueprint(quarantine_api)
