"""Dashboard pages: what each role sees on Today, in search, on an episode, in the audit log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gateway.accounts.roles import Role
from gateway.accounts.users import create_user
from gateway.services import Services
from gateway.store.models import AuditEntry, ClockRow, DeliveryRow
from gateway.store.tracking_models import DeliveryAckRow, RhiRow
from tests.support.dashboard import (
    PASSWORD,
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
    """Hash with argon2's cheapest profile: these tests are about the pages."""
    with cheap_password_hashing():
        yield


@pytest.fixture
def world(make_services: Callable[..., Services], database_url: str) -> World:
    """Two episodes with a held copy each, on SQLite and on PostgreSQL."""
    return build_world(make_services(database_url))


def _counts(client: FlaskClient) -> dict[str, int]:
    response = client.get("/dashboard/today/live?format=json")
    counts: dict[str, int] = response.get_json()["counts"]
    return counts


def test_today_counts_and_lists_are_scoped_to_the_viewer(world: World) -> None:
    with world.services.db.read() as session:
        held_by_episode = {key: session.execute(select(func.count()).select_from(DeliveryRow)
                                                .where(DeliveryRow.episode_id == episode,
                                                       DeliveryRow.status == "HELD")
                                                ).scalar_one()
                           for key, episode in world.episodes.items()}
    assert held_by_episode["A"]
    assert held_by_episode["B"]
    scopes = {"kent.user": "A", "derby.user": "B", "warks.police": "A", "regional": "AB"}
    for username, scope in scopes.items():
        client = world.app.test_client()
        sign_in(client, username)
        counts = _counts(client)
        assert counts["held"] == sum(held_by_episode[k] for k in scope), username
        assert counts["open_episodes"] == len(scope), username
        page = client.get("/dashboard/today").text
        listed = client.get("/dashboard/deliveries/live?status=HELD").text
        own, other = ("A", "B") if username in ("kent.user", "warks.police") else ("B", "A")
        if username != "regional":
            assert world.held[own][:8] in page
            assert world.held[other][:8] not in page
            assert world.held[own] in listed
            assert world.held[other] not in listed


def test_today_shows_overdue_acknowledgements_and_rhis_from_trackings_tables(
        world: World) -> None:
    services = world.services
    now = services.clock()
    with services.db.read() as session:
        kent_copies = session.execute(select(DeliveryRow.id).where(
            DeliveryRow.episode_id == world.episodes["A"], DeliveryRow.authority == "kent")
            .order_by(DeliveryRow.team)).scalars().all()
    assert len(kent_copies) >= 2
    unanswered, answered = kent_copies[0], kent_copies[1]
    with services.db.unit_of_work() as session:
        for delivery_id in (unanswered, answered):
            session.add(ClockRow(kind="ack_received", subject_type="delivery",
                                 subject_id=delivery_id, due_at=now - timedelta(minutes=5),
                                 created_at=now - timedelta(hours=4), state="FIRED", data={}))
        session.add(DeliveryAckRow(delivery_id=answered, authority="kent",
                                   first_sent_at=now - timedelta(hours=4),
                                   received_at=now - timedelta(hours=1)))
        for key, due, status in (("A", now + timedelta(hours=10), "DUE"),
                                 ("B", now - timedelta(hours=2), "OFFERED")):
            session.add(RhiRow(episode_id=world.episodes[key], clock_start="return",
                               start_at=now - timedelta(hours=60), due_at=due, status=status,
                               created_at=now, updated_at=now, required=True))
    client = world.app.test_client()
    sign_in(client, "kent.user")
    counts = _counts(client)
    assert counts["unacknowledged"] == 1  # the copy with a receipt is not listed
    assert counts["rhi_due"] == 1
    assert counts["rhi_overdue"] == 0  # Derby's RHI is not Kent's business
    page = client.get("/dashboard/today").text
    assert "return home interview (due)" in page
    timeline = client.get(f"/dashboard/episodes/{world.episodes['A']}").text
    assert f"received {(now - timedelta(hours=1)):%d %b %Y %H:%M}" in timeline
    regional = world.app.test_client()
    sign_in(regional, "regional")
    assert _counts(regional)["rhi_overdue"] == 1
    with services.db.unit_of_work() as session:
        rhi = session.execute(select(RhiRow).where(RhiRow.episode_id == world.episodes["A"])
                              ).scalar_one()
        rhi.status = "COMPLETED"
    assert _counts(client)["rhi_due"] == 0


def test_search_finds_by_each_field_exactly_and_only_within_scope(world: World) -> None:
    client = world.app.test_client()
    sign_in(client, "kent.user")

    def found(query: str) -> bool:
        return world.episodes["A"] in client.get(f"/dashboard/search?{query}").text

    assert found("police_reference=WK-MP-2026-000417")
    assert found("council_child_id=KCC-204811")
    assert found("name=amelia+hart&dob-day=2&dob-month=6&dob-year=2011")
    assert not found("name=amelia")  # names match exactly, not in part
    assert not found("name=amelia+hart&dob-day=3&dob-month=6&dob-year=2011")
    assert found("authority=warwickshire")
    other = client.get("/dashboard/search?police_reference=DY-MP-2026-001902")
    assert "0 episodes found" in other.text
    with world.services.db.read() as session:
        searches = session.execute(select(AuditEntry).where(
            AuditEntry.action == "episode.searched")).scalars().all()
    assert len(searches) == 7
    assert searches[0].detail["episodes"] == [world.episodes["A"]]


def test_every_view_of_an_episode_is_audited_with_what_was_shown(world: World) -> None:
    client = world.app.test_client()
    sign_in(client, "kent.user")
    page = client.get(f"/dashboard/episodes/{world.episodes['A']}")
    assert page.status_code == 200
    assert "Amelia Hart" in page.text
    assert "Copy to kent" in page.text  # the timeline lists the copies out
    client.get(f"/dashboard/episodes/{world.episodes['A']}")
    with world.services.db.read() as session:
        views = session.execute(select(AuditEntry).where(
            AuditEntry.action == "episode.viewed")).scalars().all()
    assert [v.actor for v in views] == ["user:kent.user"] * 2
    assert views[0].detail["profile"] == "responsible_action"


def test_a_host_council_sees_a_confidential_placement_without_its_address(
        make_services: Callable[..., Services]) -> None:
    services = make_services()
    message = compact("missing_reported_basic", force=WARWICKSHIRE_POLICE).replace(
        b'confidential="false"', b'confidential="true"')
    receipt = send(services, message, WARWICKSHIRE_POLICE)
    deliver_all(services)
    app = build_app(services)
    with services.db.unit_of_work() as session:
        create_user(session, username="warks.council", password=PASSWORD,
                    role=Role.AUTHORITY, organisation="warwickshire", now=services.clock(),
                    actor="test")
    host = app.test_client()
    sign_in(host, "warks.council")
    shown = host.get(f"/dashboard/episodes/{receipt.episode_id}").text
    assert "Amelia Hart" in shown
    assert "12 Mill Street" not in shown
    assert "confidential placement: address withheld" in shown
    responsible = app.test_client()
    sign_in(responsible, "kent.user")
    assert "12 Mill Street" in responsible.get(f"/dashboard/episodes/{receipt.episode_id}").text


def test_audit_page_filters_by_action_and_subject(world: World) -> None:
    client = world.app.test_client()
    sign_in(client, "admin")
    page = client.get(f"/dashboard/audit?action=delivery.held&subject={world.held['A']}")
    assert page.status_code == 200
    assert page.text.count('data-action="delivery.held"') == 1
    assert 'data-action="delivery.created"' not in page.text


def test_authorities_page_shows_certificates_held_copies_and_circuits(world: World) -> None:
    with world.services.db.unit_of_work() as session:
        failing = session.execute(select(DeliveryRow).where(
            DeliveryRow.authority == "warwickshire")).scalars().first()
        assert failing is not None
        failing.status, failing.last_error = "PENDING", "connection refused"
    client = world.app.test_client()
    sign_in(client, "regional")
    page = client.get("/dashboard/authorities").text
    assert "Kent County Council" in page
    assert "expires" in page  # the demo PKI's certificates are read for their expiry
    assert "Needs attention" in page  # Kent's held copy
    assert "1 retrying after errors" in page  # recorded by a worker, read from the store
    assert "closed" in page
