"""The intake API as a police system sees it: tokens, limits, receipts, reasons, duplicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.clock import system_clock
from gateway.intake.senders import issue_token
from gateway.services import Services
from gateway.store.models import CoordinatorItemRow, EpisodeRow, InboundMessage, Sender
from tests.support.messages import compact

FORCE = "warwickshire-police"


@pytest.fixture
def api(make_services: Callable[..., Services]) -> tuple[FlaskClient, Services, dict[str, str]]:
    """A test client, its services and a token per force it needs."""
    services = make_services(GATEWAY_MAX_BODY_BYTES="20000")
    tokens: dict[str, str] = {}
    with services.db.unit_of_work() as session:
        for force in (FORCE, "kent-police"):
            tokens[force] = issue_token(session, force, "test", system_clock(), actor="test")
    return create_app(services).test_client(), services, tokens


def post(client: FlaskClient, body: bytes, token: str | None, fmt: str = "compact") -> Any:
    """POST a message the way a force's system does."""
    headers = {"Content-Type": "application/xml"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(f"/api/v1/inbound/{fmt}", data=body, headers=headers)


def test_valid_message_is_stored_then_answered_202_with_a_receipt(api: Any) -> None:
    client, _services, tokens = api
    response = post(client, compact("missing_reported_basic", force=FORCE), tokens[FORCE])
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "PROCESSED"
    assert body["episode_id"]
    assert body["deliveries"]
    assert response.headers["Location"] == f"/api/v1/receipts/{body['receipt_id']}"
    receipt = client.get(response.headers["Location"],
                         headers={"Authorization": f"Bearer {tokens[FORCE]}"})
    assert receipt.status_code == 200
    assert receipt.get_json() == body


def test_tokens_are_stored_only_as_hashes(api: Any) -> None:
    _, services, tokens = api
    with services.db.read() as session:
        hashes = session.execute(select(Sender.token_hash)).scalars().all()
    assert tokens[FORCE] not in hashes
    assert len(hashes) == 2


@pytest.mark.parametrize("token", [None, "mcg_not-a-real-token"])
def test_missing_or_unknown_token_is_401_and_nothing_is_stored(api: Any,
                                                               token: str | None) -> None:
    client, services, _ = api
    response = post(client, compact("missing_reported_basic", force=FORCE), token)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    with services.db.read() as session:
        assert session.execute(select(func.count()).select_from(InboundMessage)).scalar() == 0


def test_force_posting_for_another_force_is_403_and_kept(api: Any) -> None:
    client, services, tokens = api
    response = post(client, compact("missing_reported_basic", force=FORCE), tokens["kent-police"])
    assert response.status_code == 403
    body = response.get_json()
    assert body["errors"][0]["field"] == "force"
    with services.db.read() as session:
        kept = session.get(InboundMessage, body["receipt_id"])
        assert kept is not None
        assert kept.status == "QUARANTINED"
        assert session.execute(select(func.count()).select_from(EpisodeRow)).scalar() == 0


def test_oversized_body_is_413(api: Any) -> None:
    client, _, tokens = api
    response = post(client, b"<x>" + b"a" * 30000 + b"</x>", tokens[FORCE])
    assert response.status_code == 413
    assert "20000" in response.get_json()["detail"]


def test_unparseable_message_is_422_with_field_reasons_and_kept_in_quarantine(api: Any) -> None:
    client, services, tokens = api
    bad = compact("missing_reported_basic", force=FORCE).replace(
        b'dateOfBirth="2011-06-02"', b'dateOfBirth="2031-02-30"')
    response = post(client, bad, tokens[FORCE])
    assert response.status_code == 422
    body = response.get_json()
    assert body["receipt"]["status"] == "QUARANTINED"
    dob = [e for e in body["errors"] if e["field"] == "child.date_of_birth"]
    assert dob
    assert dob[0]["value"] == "2031-02-30"
    with services.db.read() as session:
        kept = session.get(InboundMessage, body["receipt_id"])
        assert kept is not None
        assert kept.errors == body["errors"]
        items = session.execute(select(CoordinatorItemRow)).scalars().all()
        assert [i.kind for i in items] == ["quarantined"]
        assert "child.date_of_birth" in items[0].message
    assert services.pipeline.raw_body(body["receipt_id"]) == bad


def test_hostile_xml_is_rejected_with_a_reason_not_a_crash(api: Any) -> None:
    client, _, tokens = api
    xxe = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<MissingPersonNotification>&x;</MissingPersonNotification>")
    response = post(client, xxe, tokens[FORCE])
    assert response.status_code == 422
    assert response.get_json()["errors"]


def test_exact_duplicate_is_acknowledged_and_ignored(api: Any) -> None:
    client, services, tokens = api
    message = compact("missing_reported_basic", force=FORCE)
    first = post(client, message, tokens[FORCE]).get_json()
    second = post(client, message, tokens[FORCE])
    assert second.status_code == 202
    body = second.get_json()
    assert body["status"] == "DUPLICATE"
    assert body["episode_id"] == first["episode_id"]
    assert body["deliveries"] == []
    with services.db.read() as session:
        assert session.execute(select(func.count()).select_from(EpisodeRow)).scalar() == 1
        assert services.enqueue == first["deliveries"]  # type: ignore[comparison-overlap]


def test_receipts_are_private_to_the_sending_force(api: Any) -> None:
    client, _, tokens = api
    body = post(client, compact("missing_reported_basic", force=FORCE), tokens[FORCE]).get_json()
    other = client.get(f"/api/v1/receipts/{body['receipt_id']}",
                       headers={"Authorization": f"Bearer {tokens['kent-police']}"})
    assert other.status_code == 404


def test_unknown_format_is_404(api: Any) -> None:
    client, _, tokens = api
    assert post(client, b"<a/>", tokens[FORCE], fmt="telex").status_code == 404


def test_openapi_health_and_readiness(api: Any) -> None:
    client, _, _ = api
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    responses = spec["paths"]["/api/v1/inbound/{fmt}"]["post"]["responses"]
    assert {"202", "401", "403", "413", "422"} <= set(responses)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] is True


def test_openapi_document_is_valid_openapi() -> None:
    from openapi_spec_validator import validate

    from gateway.openapi import build_spec

    validate(build_spec())


def test_grade_the_force_vocabulary_forbids_is_held_with_a_reason(api: Any) -> None:
    client, _, tokens = api
    low = compact("missing_reported_basic", force=FORCE).replace(b'level="Medium"',
                                                                  b'level="Low"')
    response = post(client, low, tokens[FORCE])
    assert response.status_code == 422
    grades = [e for e in response.get_json()["errors"] if e["field"] == "risk.grade"]
    assert grades
    assert grades[0]["value"] == "Low"  # as the force sent it
