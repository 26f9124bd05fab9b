"""The OpenAPI document of the public API, built with apispec from marshmallow schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from gateway import __version__
from gateway.delivery.api import openapi_paths
from gateway.domain.enums import InboundStatus
from gateway.intake.receipts_api import openapi_paths as receipts_paths


class FieldErrorSchema(Schema):
    """One field-level reason a message was rejected."""

    field = fields.String(required=True, metadata={"example": "child.date_of_birth"})
    value = fields.String(allow_none=True, metadata={"example": "2031-02-30"})
    message = fields.String(required=True, metadata={"example": "is not a date"})


class ReceiptSchema(Schema):
    """What became of one inbound message."""

    receipt_id = fields.String(required=True)
    status = fields.Enum(InboundStatus, by_value=True, required=True)
    errors = fields.List(fields.Nested(FieldErrorSchema))
    episode_id = fields.String(allow_none=True)
    deliveries = fields.List(fields.String())


class ProblemSchema(Schema):
    """An RFC 9457 problem document; for a kept but rejected message, the receipt too."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    receipt_id = fields.String()
    errors = fields.List(fields.Nested(FieldErrorSchema))
    receipt = fields.Nested(ReceiptSchema)


def _responses(*codes: int) -> dict[str, Any]:
    """Return the response objects for the given status codes."""
    text = {
        200: "the receipt",
        202: "stored and accepted; the receipt says what became of it",
        401: "no valid bearer token",
        403: "the token's force may not send for the force named in the message",
        404: "no such format or receipt",
        413: "the body is over the configured size limit",
        422: "the message did not parse or validate; it is kept in quarantine with reasons",
    }
    result: dict[str, Any] = {}
    for code in codes:
        schema = "Receipt" if code in (200, 202) else "Problem"
        media = "application/json" if code in (200, 202) else "application/problem+json"
        result[str(code)] = {
            "description": text[code],
            "content": {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    return result


def build_spec() -> dict[str, Any]:
    """Return the OpenAPI 3 document as a dict."""
    spec = APISpec(
        title="Missing-children notification gateway",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
    )
    spec.components.schema("FieldError", schema=FieldErrorSchema)
    spec.components.schema("Receipt", schema=ReceiptSchema)
    spec.components.schema("Problem", schema=ProblemSchema)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.path(
        path="/api/v1/inbound/{fmt}",
        operations={
            "post": {
                "summary": "Send one police notification (raw COMPACT or Niche XML)",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "fmt",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["compact", "niche"]},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/xml": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
                "responses": _responses(202, 401, 403, 404, 413, 422),
            }
        },
    )
    spec.path(
        path="/api/v1/receipts/{receipt_id}",
        operations={
            "get": {
                "summary": "What became of a message this force sent",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "receipt_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": _responses(200, 401, 404),
            }
        },
    )
    spec.path(
        path="/healthz",
        operations={
            "get": {
                "summary": "Liveness: the process answers",
                "responses": {"200": {"description": "alive"}},
            }
        },
    )
    spec.path(
        path="/readyz",
        operations={
            "get": {
                "summary": "Readiness: database reachable, schema current, directory loaded",
                "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
            }
        },
    )
    for path, operations in {**openapi_paths(), **receipts_paths()}.items():
        spec.path(path=path, operations=operations)
    result: dict[str, Any] = spec.to_dict()
    return result
