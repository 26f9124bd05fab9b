"""The acknowledgement ladder: deadline per grade, re-send, alternate channel, coordinator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.domain.enums import RiskGrade
from gateway.store.models import DeliveryRow
from gateway.tracking import acks
from tests.unit.tracking.conftest import AUTHORITIES, World, utc

SENT = utc(2026, 3, 29, 0, 30)  # 30 minutes before the change to BST


def _sent(world: World, authority: str = "kent", grade: RiskGrade = RiskGrade.MEDIUM,
          team: str = "front_door") -> str:
    case = world.case(authority, grade=grade)
    episode = world.missing(case, SENT - timedelta(minutes=20))
    return world.sent(episode, authority, team, SENT)


def _status(world: World, delivery_id: str) -> str:
    with world.services.db.read() as session:
        row = session.get(DeliveryRow, delivery_id)
        assert row is not None
        return row.status


@pytest.mark.parametrize("authority", AUTHORITIES)
@pytest.mark.parametrize(("grade", "hours"), [(RiskGrade.HIGH, 1), (RiskGrade.MEDIUM, 4)])
def test_deadline_by_grade(world: World, authority: str, grade: RiskGrade, hours: int) -> None:
    delivery = _sent(world, authority, grade)
    assert world.due(delivery, acks.ACK_RECEIVED) == SENT + timedelta(hours=hours)


def test_received_then_accepted_in_time_stops_the_ladder(world: World) -> None:
    delivery = _sent(world)
    with world.services.db.unit_of_work() as session:
        world.tracker.record_ack(session, delivery, "received", SENT + timedelta(minutes=10))
    assert world.due(delivery, acks.ACK_ACCEPTED) == SENT + timedelta(hours=4, minutes=10)
    with world.services.db.unit_of_work() as session:
        ack = world.tracker.record_ack(session, delivery, "accepted", SENT + timedelta(hours=2))
        assert ack.received_at == SENT + timedelta(minutes=10)
        assert ack.accepted_at == SENT + timedelta(hours=2)
    report = world.tick(SENT + timedelta(days=2))
    assert report.by_kind[acks.ACK_RECEIVED] + report.by_kind[acks.ACK_ACCEPTED] == 0
    assert world.items("ack_missed") == []


def test_missed_receipt_resends_then_tries_another_door_then_tells_a_coordinator(
        world: World) -> None:
    delivery = _sent(world, "kent", team="front_door")
    first_deadline = SENT + timedelta(hours=4)
    report = world.tick(first_deadline)
    assert report.outcomes["resent"] == 1
    assert report.deliveries == [delivery]
    assert _status(world, delivery) == "PENDING"  # back in the outbox queue
    # The outbox sends it again: the sent-listener restarts the deadline.
    resent_at = first_deadline + timedelta(minutes=1)
    with world.services.db.unit_of_work() as session:
        row = session.get(DeliveryRow, delivery)
        assert row is not None
        row.status, row.sent_at = "SENT", resent_at
        world.tracker.on_sent(session, row, resent_at)
    report = world.tick(resent_at + timedelta(hours=4))
    assert report.outcomes["alternate"] == 1
    [alternate] = world.deliveries("alternate channel")
    assert (alternate.authority, alternate.team) == ("kent", "edt")
    assert alternate.event_id == world.deliveries()[0].event_id
    # The outbox sends the alternate like any copy.
    with world.services.db.unit_of_work() as session:
        row = session.get(DeliveryRow, alternate.id)
        assert row is not None
        row.status, row.sent_at = "SENT", resent_at + timedelta(hours=4, minutes=1)
        world.tracker.on_sent(session, row, row.sent_at)
    report = world.tick(resent_at + timedelta(hours=9))
    assert report.outcomes["breach"] == 1
    [item] = world.items("ack_missed")
    assert item.authority == "kent"
    assert item.delivery_id == alternate.id


def test_a_receipt_for_the_alternate_also_settles_the_original(world: World) -> None:
    delivery = _sent(world, "derby", team="front_door")
    world.tick(SENT + timedelta(hours=4))
    with world.services.db.unit_of_work() as session:
        row = session.get(DeliveryRow, delivery)
        assert row is not None
        row.status = "SENT"
        world.tracker.on_sent(session, row, SENT + timedelta(hours=5))
    world.tick(SENT + timedelta(hours=9))
    [alternate] = world.deliveries("alternate channel")
    with world.services.db.unit_of_work() as session:
        world.tracker.record_ack(session, alternate.id, "accepted", SENT + timedelta(hours=10))
    assert world.clocks(delivery, state="PENDING") == []
    report = world.tick(SENT + timedelta(days=3))
    assert report.by_kind[acks.ACK_RECEIVED] + report.by_kind[acks.ACK_ACCEPTED] == 0
    assert world.items("ack_missed") == []


def test_police_deliveries_have_no_ack_ladder(world: World) -> None:
    case = world.case("kent")
    episode = world.missing(case, SENT)
    with world.services.db.unit_of_work() as session:
        row = session.get(DeliveryRow, world.sent(episode, "kent", "edt", SENT))
        assert row is not None
        row.authority = "kent-police"
        world.tracker.on_sent(session, row, SENT)
    assert len(world.clocks(kind=acks.ACK_RECEIVED)) == 1  # only the council copy's


def test_unknown_stage_is_refused(world: World) -> None:
    delivery = _sent(world)
    with world.services.db.unit_of_work() as session, pytest.raises(ValueError, match="stage"):
        world.tracker.record_ack(session, delivery, "read", SENT)
