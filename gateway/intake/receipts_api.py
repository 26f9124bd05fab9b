"""`POST /api/v1/acks` and `POST /api/v1/rhi`: councils send receipts and RHI outcomes.

Authentication: a council posts with a **coordinator** bearer token (`gateway senders add
--coordinator NAME`); no new token role is added. The authority is named by the `authority`
query parameter and must be an authority in the directory. When the token's name is itself
an authority id (`gateway senders add --coordinator kent`), the token may only post for that
authority and the parameter may be left out; a token named otherwise (a regional hub, a
coordinator acting for a council) may post for any authority, as coordinators may already do
everything else.

The body is the file as the case system wrote it, in the authority's own format (directory
`case_system`), or the gateway's JSON form with `?form=json` (or `Content-Type:
application/json` for an authority whose system is not JSON-based). Every body is kept sealed
first; malformed ones answer 422 with field-level reasons and stay in the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from gateway.api_support import (
    app_services,
    authenticated_coordinator,
    problem,
    read_body,
)
from gateway.domain.enums import InboundStatus
from gateway.receipts_service import (
    JSON_FORM,
    Ingested,
    ReceiptsService,
    UnknownAuthority,
    UnknownForm,
)

receipts_api = Blueprint("receipts_api", __name__, url_prefix="/api/v1")


def openapi_paths() -> dict[str, dict[str, Any]]:
    """Return this API's OpenAPI path items, for `gateway.openapi.build_spec` to add."""
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    result = {"application/json": {"schema": {"type": "object", "properties": {
        **{name: {"type": "string", "nullable": True} for name in (
            "receipt_id", "status", "delivery_id", "episode_id", "receipt_status",
            "coordinator_item")},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        "deliveries": {"type": "array", "items": {"type": "string"}},
        "withheld": {"type": "array", "items": {"type": "string"}}}}}}
    parameters = [
        {"name": "authority", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "the authority's directory id; defaults to the token's name"},
        {"name": "form", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "json, or a case system (mosaic, liquidlogic, secure_mail); "
                        "defaults to the authority's own (json for application/json)"}]
    body = {"required": True, "content": {
        "application/xml": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object"}},
        "text/csv": {"schema": {"type": "string", "format": "binary"}}}}

    def answers(what: str) -> dict[str, Any]:
        return {"202": {"description": what, "content": result},
                "401": {"description": "no valid coordinator bearer token", "content": problem},
                "403": {"description": "the token may only post for its own authority",
                        "content": problem},
                "413": {"description": "the body is over the size limit", "content": problem},
                "422": {"description": "unknown authority, or the file was kept in quarantine "
                                       "with field-level reasons", "content": problem}}

    return {
        "/api/v1/acks": {"post": {
            "summary": "A council case system's receipt for one delivered copy",
            "security": [{"bearer": []}], "parameters": parameters, "requestBody": body,
            "responses": answers("kept and applied (or a duplicate)")}},
        "/api/v1/rhi": {"post": {
            "summary": "A Return Home Interview outcome; its shareable part is routed on",
            "security": [{"bearer": []}], "parameters": parameters, "requestBody": body,
            "responses": answers("kept, recorded and shared (or a duplicate)")}},
    }


def register(app: Flask) -> None:
    """Add the receipts and RHI endpoints to the app."""
    app.register_blueprint(receipts_api)


@receipts_api.post("/acks")
def post_ack() -> tuple[Response, int]:
    """Take one case-system acknowledgement of a delivered copy."""
    return _take(lambda service, authority, raw, form: service.ingest_receipt(
        authority, raw, form=form))


@receipts_api.post("/rhi")
def post_rhi() -> tuple[Response, int]:
    """Take one Return Home Interview outcome; its shareable part is routed on."""
    return _take(lambda service, authority, raw, form: service.ingest_rhi(
        authority, raw, form=form))


def _take(ingest: Callable[[ReceiptsService, str, bytes, str | None], Ingested]
          ) -> tuple[Response, int]:
    """Authenticate, size-check, ingest, and answer with what became of the body."""
    services = app_services()
    name = authenticated_coordinator()
    if name is None:
        return problem(401, "Unauthorised", "a coordinator bearer token issued by `gateway "
                        "senders add --coordinator NAME` is required")
    authority = request.args.get("authority") or name
    if services.directory.authority(name) is not None and authority != name:
        return problem(403, "Forbidden", f"this token may only post for {name}")
    if services.directory.authority(authority) is None:
        return problem(422, "Unknown authority", f"{authority!r} is not an authority in the "
                        "directory; name one with ?authority=ID")
    form = request.args.get("form")
    if form is None and request.mimetype == "application/json":
        form = JSON_FORM
    raw = read_body(services.settings.max_body_bytes)
    if not isinstance(raw, bytes):
        return raw
    try:
        result = ingest(ReceiptsService(services), authority, raw, form)
    except UnknownAuthority:  # pragma: no cover - checked above
        return problem(422, "Unknown authority", f"{authority!r} is not in the directory")
    except UnknownForm as exc:
        return problem(422, "Unknown form", str(exc))
    body = result.as_dict()
    if result.status is InboundStatus.QUARANTINED:
        return problem(422, "Invalid file", "the file was kept in quarantine; see errors for "
                        "each field", receipt_id=result.inbound_id, errors=result.errors,
                        receipt=body)
    return jsonify(body), 202
