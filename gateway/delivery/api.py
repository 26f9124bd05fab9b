"""Coordinator API for deliveries: see where one copy stands, and re-send a held one (audited).

    GET  /api/v1/deliveries/<id>          status of one delivery
    POST /api/v1/deliveries/<id>/resend   put a HELD delivery back in the queue; optional JSON
                                          body {"channel": {...}} or {"team": "<team>"} sends
                                          it on an alternate channel instead of its own

Both need a coordinator bearer token (`gateway senders add --coordinator NAME`). The re-send
is audited by `Outbox.resend` under `coordinator:<name>`, with the old and new channel.

The checks on an alternate channel (`parse_alternate_channel`, `team_channel`,
`check_channel`) are shared with the `resend` CLI command: a person typing a channel gets the
same refusals whichever way they ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from adapters.registry import case_system_adapter
from gateway.api_support import (
    COORDINATOR_REQUIRED,
    app_services,
    authenticated_coordinator,
    problem,
)
from gateway.delivery.errors import PermanentDeliveryError
from gateway.delivery.transports import sftp, smtp
from gateway.domain.errors import GatewayError
from gateway.domain.routing import Channel
from gateway.pipeline import channel_from_json
from gateway.services import Services
from gateway.store.models import DeliveryRow

deliveries_api = Blueprint("deliveries_api", __name__, url_prefix="/api/v1/deliveries")

CHANNEL_KINDS = ("folder", "sftp", "smtp")
# A person may move a copy to another channel, but never out of encryption.
ENCRYPTIONS = ("cms", "pgp")
_MAX_TEXT = 500


class ChannelRefused(ValueError):
    """An alternate channel given by a person cannot be used; the message says why."""


class DeliveryNotFound(LookupError):
    """No delivery has this id."""


def parse_alternate_channel(data: Any) -> Channel:
    """Build a Channel from the JSON a person gave; raise ChannelRefused saying what is wrong."""
    if not isinstance(data, Mapping):
        raise ChannelRefused("channel must be a JSON object")
    unknown = sorted(set(data) - {"kind", "address", "rendering", "encryption", "certificate",
                                  "options"})
    if unknown:
        raise ChannelRefused(f"unknown channel field(s): {', '.join(unknown)}")
    kind = _text(data, "kind")
    if kind not in CHANNEL_KINDS:
        raise ChannelRefused(f"channel kind must be one of {', '.join(CHANNEL_KINDS)}")
    encryption = data.get("encryption", "cms")
    if encryption not in ENCRYPTIONS:
        raise ChannelRefused(f"channel encryption must be one of {', '.join(ENCRYPTIONS)}; "
                             "copies never leave unencrypted")
    options = data.get("options", {})
    if isinstance(options, Mapping):
        pairs = list(options.items())
    elif isinstance(options, list) and all(
            isinstance(p, list | tuple) and len(p) == 2 for p in options):
        pairs = [(p[0], p[1]) for p in options]
    else:
        raise ChannelRefused("channel options must be an object or a list of [name, value]")
    if not all(isinstance(k, str) and isinstance(v, str | int | float) for k, v in pairs):
        raise ChannelRefused("channel option names must be text and values text or numbers")
    channel = channel_from_json({
        "kind": kind,
        "address": _text(data, "address"),
        "rendering": data.get("rendering", "canonical_json"),
        "encryption": encryption,
        "certificate": _text(data, "certificate"),
        "options": sorted((k, str(v)) for k, v in pairs),
    })
    _check_rendering(channel.rendering)
    _check_transport_settings(channel)
    return channel


def _text(data: Mapping[str, Any], name: str) -> str:
    """Return a required, non-empty, bounded text field of the channel JSON."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ChannelRefused(f"channel {name} is required (text)")
    if len(value) > _MAX_TEXT:
        raise ChannelRefused(f"channel {name} is longer than {_MAX_TEXT} characters")
    return value.strip()


def _check_rendering(rendering: Any) -> None:
    """Refuse a rendering no case-system adapter provides."""
    if not isinstance(rendering, str):
        raise ChannelRefused("channel rendering must be text")
    try:
        case_system_adapter(rendering)
    except GatewayError as exc:
        raise ChannelRefused(str(exc)) from exc


def _check_transport_settings(channel: Channel) -> None:
    """Refuse an sftp or smtp channel its transport could not use (no host key pin, no CA)."""
    try:
        if channel.kind == "sftp":
            sftp.parse_channel(channel)
        elif channel.kind == "smtp":
            smtp.parse_channel(channel)
    except PermanentDeliveryError as exc:
        raise ChannelRefused(str(exc)) from exc


def team_channel(services: Services, delivery_id: str, team: str) -> Channel:
    """Return the directory's channel for `team` of the delivery's authority."""
    with services.db.read() as session:
        row = session.get(DeliveryRow, delivery_id)
        if row is None:
            raise DeliveryNotFound(delivery_id)
        authority_id = row.authority
    authority = services.directory.authority(authority_id)
    channel = authority.channel(team) if authority is not None else None
    if channel is None:
        raise ChannelRefused(f"the directory has no team {team!r} for {authority_id}")
    return channel


def check_channel(services: Services, channel: Channel) -> None:
    """Refuse a channel whose recipient certificate or key is missing or unusable now."""
    if channel.encryption not in ENCRYPTIONS:
        raise ChannelRefused(f"{channel.endpoint} is not encrypted; copies never leave "
                             "unencrypted")
    if not channel.certificate:
        raise ChannelRefused(f"{channel.endpoint} names no recipient certificate or key file")
    path = Path(channel.certificate)
    if not path.is_absolute():  # as Services.protect resolves directory paths
        path = services.settings.data_dir / path
    if not path.is_file():
        raise ChannelRefused(f"recipient certificate or key file not found: {channel.certificate}")
    if channel.encryption == "cms":
        try:
            services.protector.recipient_certificates(replace(channel, certificate=str(path)))
        except GatewayError as exc:
            raise ChannelRefused(str(exc)) from exc


def resend_delivery(services: Services, delivery_id: str, actor: str,
                    channel: Channel | None = None) -> str:
    """Re-send a HELD delivery (on `channel` if given); audited by the outbox; return status."""
    if channel is not None:
        check_channel(services, channel)
    try:
        return services.outbox.resend(delivery_id, actor=actor, channel=channel)
    except KeyError as exc:
        raise DeliveryNotFound(delivery_id) from exc


def delivery_status(services: Services, delivery_id: str) -> dict[str, Any]:
    """Return what a coordinator may see of one delivery (no personal data)."""
    with services.db.read() as session:
        row = session.get(DeliveryRow, delivery_id)
        if row is None:
            raise DeliveryNotFound(delivery_id)
        channel = channel_from_json(row.channel)
        return {
            "delivery_id": row.id,
            "episode_id": row.episode_id,
            "event_id": row.event_id,
            "authority": row.authority,
            "team": row.team,
            "role": row.role,
            "status": row.status,
            "attempts": row.attempts,
            "created_at": _iso(row.created_at),
            "next_attempt_at": _iso(row.next_attempt_at),
            "sent_at": _iso(row.sent_at),
            "last_error": row.last_error,
            "remote_ref": row.remote_ref,
            "channel": {"kind": channel.kind, "address": channel.address,
                        "rendering": channel.rendering, "encryption": channel.encryption},
        }


def _iso(value: Any) -> str | None:
    """Return an ISO 8601 text for a datetime, or None."""
    return value.isoformat() if value is not None else None


# -- HTTP ------------------------------------------------------------------------------------


@deliveries_api.get("/<delivery_id>")
def api_status(delivery_id: str) -> tuple[Response, int]:
    """Show where one delivery stands."""
    if authenticated_coordinator() is None:
        return problem(401, *COORDINATOR_REQUIRED)
    try:
        return jsonify(delivery_status(app_services(), delivery_id)), 200
    except DeliveryNotFound:
        return problem(404, "Not found", f"no delivery {delivery_id}")


@deliveries_api.post("/<delivery_id>/resend")
def api_resend(delivery_id: str) -> tuple[Response, int]:
    """Put a HELD delivery back in the queue, on its own or an alternate channel."""
    name = authenticated_coordinator()
    if name is None:
        return problem(401, *COORDINATOR_REQUIRED)
    services = app_services()
    body: Any = {}
    if request.get_data():
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return problem(400, "Bad request", "the body must be a JSON object")
    unknown = sorted(set(body) - {"channel", "team"})
    if unknown or ("channel" in body and "team" in body):
        return problem(400, "Bad request", 'give at most one of "channel" or "team"')
    try:
        channel: Channel | None = None
        if "channel" in body:
            channel = parse_alternate_channel(body["channel"])
        elif "team" in body:
            if not isinstance(body["team"], str):
                return problem(400, "Bad request", "team must be text")
            channel = team_channel(services, delivery_id, body["team"])
        resend_delivery(services, delivery_id, f"coordinator:{name}", channel)
    except DeliveryNotFound:
        return problem(404, "Not found", f"no delivery {delivery_id}")
    except ChannelRefused as exc:
        return problem(400, "Channel refused", str(exc))
    except ValueError as exc:  # not HELD: nothing to re-send
        return problem(409, "Conflict", str(exc))
    response = jsonify(delivery_status(services, delivery_id))
    response.headers["Location"] = f"/api/v1/deliveries/{delivery_id}"
    return response, 202


def openapi_paths() -> dict[str, dict[str, Any]]:
    """Return this API's OpenAPI path items, for `gateway.openapi.build_spec` to add."""
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    delivery_id = {"name": "delivery_id", "in": "path", "required": True,
                   "schema": {"type": "string"}}
    status = {"application/json": {"schema": {"type": "object", "properties": {
        name: {"type": "string", "nullable": True} for name in (
            "delivery_id", "episode_id", "event_id", "authority", "team", "role", "status",
            "created_at", "next_attempt_at", "sent_at", "last_error", "remote_ref")} | {
        "attempts": {"type": "integer"}, "channel": {"type": "object"}}}}}

    def answer(code: int, text: str) -> dict[str, Any]:
        return {"description": text, "content": status if code < 300 else problem}

    unauthorised = answer(401, "no valid coordinator bearer token")
    missing = answer(404, "no such delivery")
    return {
        "/api/v1/deliveries/{delivery_id}": {"get": {
            "summary": "Where one delivery stands (coordinators)",
            "security": [{"bearer": []}],
            "parameters": [delivery_id],
            "responses": {"200": answer(200, "the delivery's status"), "401": unauthorised,
                          "404": missing},
        }},
        "/api/v1/deliveries/{delivery_id}/resend": {"post": {
            "summary": "Re-send a HELD delivery, on its own or an alternate channel (audited)",
            "security": [{"bearer": []}],
            "parameters": [delivery_id],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object",
                "description": 'at most one of "channel" (kind, address, rendering, '
                               'encryption cms|pgp, certificate, options) or "team" (a team '
                               "of the same authority in the directory)",
                "properties": {"channel": {"type": "object"}, "team": {"type": "string"}}}}}},
            "responses": {
                "202": answer(202, "queued again; the delivery's status"),
                "400": answer(400, "the body or the alternate channel is refused, with why"),
                "401": unauthorised, "404": missing,
                "409": answer(409, "the delivery is not HELD"),
            },
        }},
    }


def register(app: Flask) -> None:
    """Add the deliveries API to the app."""
    app.register_blueprint(deliveries_api)
