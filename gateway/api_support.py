"""What every JSON API blueprint shares: the app's Services, problem documents, bearer tokens."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request

from gateway.intake.senders import coordinator_for_token, force_for_token
from gateway.services import Services

COORDINATOR_REQUIRED = ("Unauthorised", "a coordinator bearer token issued by "
                        "`gateway senders add --coordinator NAME` is required")


def app_services() -> Services:
    """Return the Services of the current app."""
    services: Services = current_app.extensions["gateway"]
    return services


def problem(status: int, title: str, detail: str, **extra: Any) -> tuple[Response, int]:
    """Return an RFC 9457 problem document."""
    response = jsonify({"type": "about:blank", "title": title, "status": status,
                        "detail": detail, **extra})
    response.mimetype = "application/problem+json"
    return response, status


def bearer_token() -> str | None:
    """Return the bearer token of this request, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticated_force() -> str | None:
    """Return the force whose token this request carries, or None."""
    token = bearer_token()
    if token is None:
        return None
    with app_services().db.read() as session:
        return force_for_token(session, token)


def authenticated_coordinator() -> str | None:
    """Return the coordinator whose token this request carries, or None."""
    token = bearer_token()
    if token is None:
        return None
    with app_services().db.read() as session:
        return coordinator_for_token(session, token)


def read_body(limit: int) -> bytes | tuple[Response, int]:
    """Return the request body, or a 413 problem when it is over `limit` bytes.

    The declared length is checked first; a body sent without one is read to one byte past
    the limit, so an over-long stream is refused without being held in memory whole.
    """
    if request.content_length is not None and request.content_length > limit:
        return problem(413, "Too large", f"the body is {request.content_length} bytes; "
                       f"the limit is {limit}")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return problem(413, "Too large", f"the body exceeds the limit of {limit} bytes")
    return raw
