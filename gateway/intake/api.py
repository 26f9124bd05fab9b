"""The intake HTTP API: police systems post raw messages; we store, then answer a receipt."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gateway.api_support import app_services, authenticated_force, problem, read_body
from gateway.domain.enums import InboundStatus

intake = Blueprint("intake", __name__, url_prefix="/api/v1")


@intake.post("/inbound/<fmt>")
def post_inbound(fmt: str) -> tuple[Response, int]:
    """Accept one police message: store it, commit, then answer with a receipt."""
    services = app_services()
    force = authenticated_force()
    if force is None:
        return problem(401, "Unauthorised", "a valid bearer token issued by "
                        "`gateway senders add` is required")
    if fmt not in services.police_adapters:
        return problem(404, "Unknown format", f"no adapter for format {fmt!r}; known: "
                        f"{', '.join(sorted(services.police_adapters))}")
    raw = read_body(services.settings.max_body_bytes)
    if not isinstance(raw, bytes):
        return raw
    receipt_id = services.pipeline.receive(fmt, raw, force)
    receipt = services.pipeline.process(receipt_id, actor=f"force:{force}")
    body = receipt.as_dict()
    location = f"/api/v1/receipts/{receipt.id}"
    if receipt.forbidden:
        return problem(403, "Forbidden", "this token may only send for its own force; the "
                        "message was kept in quarantine", receipt_id=receipt.id,
                        errors=receipt.errors, receipt=body)
    if receipt.status is InboundStatus.QUARANTINED:
        return problem(422, "Invalid message", "the message was kept in quarantine; see "
                        "errors for each field", receipt_id=receipt.id, errors=receipt.errors,
                        receipt=body)
    response = jsonify(body)
    response.headers["Location"] = location
    return response, 202


@intake.get("/receipts/<receipt_id>")
def get_receipt(receipt_id: str) -> tuple[Response, int]:
    """Show what became of a message; only the force that sent it may look."""
    force = authenticated_force()
    if force is None:
        return problem(401, "Unauthorised", "a valid bearer token is required")
    services = app_services()
    receipt = services.pipeline.receipt(receipt_id)
    sender = services.pipeline.sender_of(receipt_id) if receipt else None
    if receipt is None or sender != force:
        return problem(404, "Not found", f"no receipt {receipt_id} for this sender")
    return jsonify(receipt.as_dict()), 200
