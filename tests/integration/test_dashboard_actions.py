"""Dashboard actions through the web: confirmed, done, audited; and what they change."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from gateway.services import Services
from gateway.store.models import AuditEntry, CoordinatorItemRow, DeliveryRow, EpisodeRow
from gateway.store.tracking_models import RhiRow
from tests.support.dashboard import (
    WARWICKSHIRE_POLICE,
    World,
    build_app,
    build_world,
    cheap_password_hashing,
    deliver_all,
    send,
    sign_in,
)
from tests.support.messages import compact


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    """Hash with argon2's cheapest profile: these tests are about the actions."""
    with cheap_password_hashing():
        yield


@pytest.fixture
def world(make_services: Callable[..., Services]) -> World:
    """Two episodes with a held copy each."""
    return build_world(make_services())


def _audit(services: Services, action: str) -> list[AuditEntry]:
    with services.db.read() as session:
        return list(session.execute(select(AuditEntry).where(AuditEntry.action == action))
                    .scalars())


def _delivery(services: Services, delivery_id: str) -> DeliveryRow:
    with services.db.read() as session:
        row = session.get(DeliveryRow, delivery_id)
        assert row is not None
        return row


def test_resend_asks_for_confirmation_then_requeues_and_delivers(world: World) -> None:
    client = world.app.test_client()
    token = sign_in(client, "kent.user")
    held = world.held["A"]
    asked = client.post(f"/dashboard/deliveries/{held}/resend",
                        data={"channel": "same", "csrf_token": token})
    assert asked.status_code == 200
    assert "Re-send this delivery?" in asked.text
    assert _delivery(world.services, held).status == "HELD"  # nothing done yet
    done = client.post(f"/dashboard/deliveries/{held}/resend",
                       data={"channel": "same", "confirm": "yes", "csrf_token": token})
    assert done.status_code == 302
    assert _delivery(world.services, held).status == "PENDING"
    assert held in world.services.enqueue  # type: ignore[operator]
    assert world.services.outbox.deliver_one(held) == "SENT"
    fragment = client.get(f"/dashboard/deliveries/{held}/live")
    assert 'data-status="SENT"' in fragment.text
    assert 'data-live-final="true"' in fragment.text
    [entry] = _audit(world.services, "delivery.resend")
    assert entry.actor == "user:kent.user"
    again = client.post(f"/dashboard/deliveries/{held}/resend",
                        data={"channel": "same", "confirm": "yes", "csrf_token": token})
    assert again.status_code == 409
    assert "not held" in again.text


def test_resend_on_an_alternate_channel_moves_the_copy(world: World) -> None:
    client = world.app.test_client()
    token = sign_in(client, "regional")
    held = world.held["A"]
    before = _delivery(world.services, held)
    page = client.get(f"/dashboard/deliveries/{held}")
    alternate = "edt" if before.team != "edt" else "front_door"
    assert f'value="{alternate}"' in page.text
    client.post(f"/dashboard/deliveries/{held}/resend",
                data={"channel": alternate, "confirm": "yes", "csrf_token": token})
    after = _delivery(world.services, held)
    assert after.status == "PENDING"
    assert after.channel["address"].endswith(f"/{alternate}")
    [entry] = _audit(world.services, "delivery.resend")
    assert entry.detail["to_channel"]["address"].endswith(f"/{alternate}")


def test_resolving_an_item_needs_a_note_and_records_who_and_why(world: World) -> None:
    client = world.app.test_client()
    token = sign_in(client, "kent.user")
    item = world.items["A"]
    empty = client.post(f"/dashboard/items/{item}/resolve",
                        data={"note": " ", "confirm": "yes", "csrf_token": token})
    assert empty.status_code == 400
    done = client.post(f"/dashboard/items/{item}/resolve", data={
        "note": "Copy sent by secure mail", "confirm": "yes", "csrf_token": token})
    assert done.status_code == 302
    with world.services.db.read() as session:
        row = session.get(CoordinatorItemRow, item)
        assert row is not None
    assert row.resolved_by == "user:kent.user"
    assert row.resolution_note == "Copy sent by secure mail"
    assert _audit(world.services, "item.resolved")[0].detail["note"] == row.resolution_note
    today = client.get("/dashboard/today/live?format=json").get_json()
    assert today["counts"]["other_items"] == 0


def test_an_unroutable_notification_is_sent_to_the_authority_a_coordinator_names(
        make_services: Callable[..., Services]) -> None:
    services = make_services()
    message = compact("missing_reported_basic", force=WARWICKSHIRE_POLICE).replace(
        b"Kent County Council", b"Birmingham City Council")
    receipt = send(services, message, WARWICKSHIRE_POLICE)
    deliver_all(services)
    with services.db.read() as session:
        item = session.execute(select(CoordinatorItemRow).where(
            CoordinatorItemRow.kind == "unknown_authority")).scalar_one()
    app = build_app(services)
    client = app.test_client()
    token = sign_in(client, "regional")
    today = client.get("/dashboard/today")
    assert item.id in today.text  # listed under unroutable notifications
    page = client.get(f"/dashboard/items/{item.id}")
    assert "Set the responsible authority" in page.text
    done = client.post(f"/dashboard/items/{item.id}/responsible", data={
        "authority": "kent", "note": "Kent confirmed by phone", "confirm": "yes",
        "csrf_token": token})
    assert done.status_code == 302, done.text
    with services.db.read() as session:
        episode = session.get(EpisodeRow, receipt.episode_id)
        kent = session.execute(select(DeliveryRow).where(
            DeliveryRow.episode_id == receipt.episode_id, DeliveryRow.authority == "kent")
        ).scalars().all()
        resolved = session.get(CoordinatorItemRow, item.id)
    assert episode is not None
    assert episode.responsible_authority == "kent"
    assert {d.role for d in kent} >= {"ACTION"}
    assert resolved is not None
    assert resolved.resolved_by == "user:regional"
    assert set(deliver_all(services)) == {"SENT"}
    [entry] = _audit(services, "episode.responsible_set")
    assert entry.detail["authority"] == "kent"
    assert set(entry.detail["deliveries"]) >= {d.id for d in kent}


def test_an_rhi_outcome_recorded_by_hand_goes_to_tracking_and_the_audit_log(
        make_services: Callable[..., Services]) -> None:
    from gateway.tracking.wiring import install

    services = make_services()
    install(services)
    world = build_world(services)
    send(services, compact("found", force=WARWICKSHIRE_POLICE), WARWICKSHIRE_POLICE)
    deliver_all(services)
    client = world.app.test_client()
    token = sign_in(client, "kent.user")
    episode = world.episodes["A"]
    with services.db.read() as session:
        rhi = session.execute(select(RhiRow).where(RhiRow.episode_id == episode)).scalar_one()
    assert rhi.status == "DUE"
    page = client.get(f"/dashboard/episodes/{episode}")
    assert "Record what happened" in page.text
    done = client.post(f"/dashboard/episodes/{episode}/rhi-outcome", data={
        "outcome": "declined", "note": "Offered twice", "confirm": "yes", "csrf_token": token})
    assert done.status_code == 302, done.text
    with services.db.read() as session:
        ended = session.get(RhiRow, rhi.id)
    assert ended is not None
    assert ended.status == "DECLINED"
    assert ended.outcome_by == "user:kent.user"
    [entry] = _audit(services, "rhi.outcome_recorded")
    assert entry.detail["outcome"] == "declined"
    again = client.post(f"/dashboard/episodes/{episode}/rhi-outcome", data={
        "outcome": "completed", "note": "", "confirm": "yes", "csrf_token": token})
    assert again.status_code == 409  # already ended: tracking says so


def test_no_rhi_outcome_before_the_child_is_found(world: World) -> None:
    client = world.app.test_client()
    token = sign_in(client, "kent.user")
    refused = client.post(f"/dashboard/episodes/{world.episodes['A']}/rhi-outcome", data={
        "outcome": "completed", "note": "", "confirm": "yes", "csrf_token": token})
    assert refused.status_code == 409
    assert "No return home interview is owed" in refused.text


def test_a_quarantined_message_is_shown_to_its_force_and_reprocessed_by_a_coordinator(
        world: World) -> None:
    police = world.app.test_client()
    sign_in(police, "warks.police")
    assert police.get("/dashboard/today/live?format=json").get_json()["counts"][
        "quarantined"] == 1
    shown = police.get(f"/dashboard/messages/{world.messages['A']}")
    assert shown.status_code == 200
    assert "Why it was kept back" in shown.text
    assert "Re-process" not in shown.text  # the force sees it; a coordinator re-processes
    coordinator = world.app.test_client()
    token = sign_in(coordinator, "regional")
    done = coordinator.post(f"/dashboard/messages/{world.messages['A']}/reprocess",
                            data={"confirm": "yes", "csrf_token": token})
    assert done.status_code == 302
    assert done.headers["Location"].endswith("notice=quarantined")  # still not parseable
    [entry] = _audit(world.services, "quarantine.reprocessed")
    assert entry.actor == "user:regional"
