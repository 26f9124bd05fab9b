"""One notification through every stage: intake → episode → routing → outbox → drop folder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.clock import FakeClock
from gateway.services import Services
from gateway.store.models import CoordinatorItemRow, DeliveryRow, EpisodeRow, EventRow
from tests.support.copies import read_copy
from tests.support.messages import compact

WARWICKSHIRE = "warwickshire-police"
DERBYSHIRE = "derbyshire-constabulary"


def send(services: Services, message: bytes, force: str) -> Any:
    """Receive and process one message as the intake does."""
    return services.pipeline.process(services.pipeline.receive("compact", message, force))


def deliver_all(services: Services) -> list[str]:
    """Run every queued delivery task, as a worker would; return their final statuses."""
    queue: list[str] = services.enqueue  # type: ignore[assignment]
    statuses = [services.outbox.deliver_one(delivery_id) for delivery_id in queue]
    queue.clear()
    return statuses


def drop_files(services: Services, authority: str) -> list[Path]:
    """Return the copies in an authority's drop folders."""
    return sorted((services.settings.drop_root / "drop" / authority).rglob("*.p7m"))


def deliveries(services: Services) -> list[DeliveryRow]:
    """Return every delivery row."""
    with services.db.read() as session:
        return list(session.execute(select(DeliveryRow)).scalars())


def test_child_missing_from_home_reaches_the_home_authority(services: Services,
                                                            demo_pki: Any) -> None:
    receipt = send(services, compact("missing_from_home", force=DERBYSHIRE), DERBYSHIRE)
    assert receipt.status.value == "PROCESSED"
    assert set(deliver_all(services)) == {"SENT"}
    rows = deliveries(services)
    assert {r.authority for r in rows} == {"derby"}
    assert all(r.role == "ACTION" or r.team != "front_door" for r in rows)
    assert any("DE1 2FS" in r.reason for r in rows)
    copies = drop_files(services, "derby")
    assert len(copies) == len(rows)
    imported = read_copy(copies[0], demo_pki, "derby", "liquidlogic")  # Derby's case system
    assert imported.reference.police_reference == "DY-MP-2026-001902"
    assert imported.match is not None
    assert imported.match.family_name == "Reid"


def test_child_in_care_placed_out_of_area_reaches_responsible_and_host(
        services: Services) -> None:
    send(services, compact("missing_reported_basic", force=WARWICKSHIRE), WARWICKSHIRE)
    assert set(deliver_all(services)) == {"SENT"}
    rows = deliveries(services)
    roles = {(r.authority, r.role) for r in rows}
    assert ("kent", "ACTION") in roles
    assert ("warwickshire", "INFORMATION") in roles
    assert not any(r.authority == "warwickshire" and r.role == "ACTION" for r in rows)
    host = next(r for r in rows if r.authority == "warwickshire")
    assert "CV34 4RL" in host.reason
    assert "host" in host.reason
    assert drop_files(services, "kent")
    assert drop_files(services, "warwickshire")
    with services.db.read() as session:
        episode = session.execute(select(EpisodeRow)).scalar_one()
    assert episode.host_authority == "warwickshire"


def test_same_message_twice_makes_one_episode_and_one_set_of_deliveries(
        services: Services) -> None:
    message = compact("missing_reported_basic", force=WARWICKSHIRE)
    first = send(services, message, WARWICKSHIRE)
    second = send(services, message, WARWICKSHIRE)
    assert second.status.value == "DUPLICATE"
    deliver_all(services)
    with services.db.read() as session:
        assert session.execute(select(func.count()).select_from(EpisodeRow)).scalar() == 1
        assert session.execute(select(func.count()).select_from(DeliveryRow)).scalar() == len(
            first.deliveries)
    files = drop_files(services, "kent") + drop_files(services, "warwickshire")
    assert len(files) == len(first.deliveries)


def test_crash_between_commit_and_task_send_loses_nothing(
        make_services: Callable[..., Services]) -> None:
    services = make_services()
    services.pipeline.enqueue = lambda ids: None  # the process died before queueing tasks
    receipt = send(services, compact("missing_reported_basic", force=WARWICKSHIRE),
                   WARWICKSHIRE)
    assert receipt.deliveries
    assert all(r.status == "PENDING" for r in deliveries(services))
    report = services.outbox.sweep(pending_grace=timedelta(seconds=30))
    assert report.requeued == 0  # not yet overdue: a healthy queue may still be on its way
    clock: FakeClock = services.clock  # type: ignore[assignment]
    clock.advance(timedelta(minutes=1))
    report = services.outbox.sweep(pending_grace=timedelta(seconds=30))
    assert report.requeued == len(receipt.deliveries)
    queued: list[str] = services.enqueue  # type: ignore[assignment]
    assert sorted(queued) == sorted(receipt.deliveries)
    assert set(deliver_all(services)) == {"SENT"}
    assert all(r.status == "SENT" for r in deliveries(services))


def test_worker_killed_mid_send_is_reclaimed_and_delivered_once(services: Services) -> None:
    receipt = send(services, compact("missing_reported_basic", force=WARWICKSHIRE),
                   WARWICKSHIRE)
    victim = receipt.deliveries[0]
    clock: FakeClock = services.clock  # type: ignore[assignment]
    assert services.outbox.claim(victim, clock())  # claimed, then the worker died
    assert not services.outbox.claim(victim, clock())  # nobody else can take it meanwhile
    assert services.outbox.deliver_one(victim) == "SENDING"
    clock.advance(timedelta(minutes=5))
    report = services.outbox.sweep(stuck_after=timedelta(minutes=2))
    assert report.reclaimed == 1
    assert set(deliver_all(services)) == {"SENT"}
    copies = [p for p in (services.settings.drop_root / "drop").rglob(f"{victim}*")]
    assert len(copies) == 1
    assert copies[0].suffix == ".p7m"


def test_found_follows_missing_to_every_recipient(services: Services) -> None:
    missing = send(services, compact("missing_reported_basic", force=WARWICKSHIRE),
                   WARWICKSHIRE)
    deliver_all(services)
    found = send(services, compact("found", force=WARWICKSHIRE), WARWICKSHIRE)
    assert found.status.value == "PROCESSED"
    assert set(deliver_all(services)) == {"SENT"}
    with services.db.read() as session:
        def recipients(event_type: str) -> set[tuple[str, str]]:
            rows = session.execute(select(DeliveryRow.authority, DeliveryRow.team).join(
                EventRow, EventRow.id == DeliveryRow.event_id).where(
                EventRow.event_type == event_type)).all()
            return {(a, t) for a, t in rows}
        assert recipients("FOUND") >= recipients("MISSING_REPORTED")
        assert session.execute(select(EpisodeRow.state)).scalar_one() == "FOUND"
    assert missing.episode_id == found.episode_id


def test_found_before_missing_is_held_then_applied_when_the_report_arrives(
        services: Services) -> None:
    early = send(services, compact("found", force=WARWICKSHIRE), WARWICKSHIRE)
    assert early.status.value == "HELD"
    assert not early.deliveries
    with services.db.read() as session:
        kinds = session.execute(select(CoordinatorItemRow.kind)).scalars().all()
    assert "held_out_of_order" in kinds
    send(services, compact("missing_reported_basic", force=WARWICKSHIRE), WARWICKSHIRE)
    later = services.pipeline.receipt(early.id)
    assert later is not None
    assert later.status.value == "PROCESSED"
    with services.db.read() as session:
        assert session.execute(select(EpisodeRow.state)).scalar_one() == "FOUND"


def test_older_revision_is_recorded_but_does_not_roll_back(services: Services) -> None:
    send(services, compact("missing_reported_basic", force=WARWICKSHIRE), WARWICKSHIRE)
    newer = compact("missing_reported_basic", force=WARWICKSHIRE, revision=3).replace(
        b'level="Medium"', b'level="High"')
    older = compact("missing_reported_basic", force=WARWICKSHIRE, revision=2).replace(
        b'level="Medium"', b'level="Medium"')
    assert send(services, newer, WARWICKSHIRE).status.value == "PROCESSED"
    stale = send(services, older, WARWICKSHIRE)
    assert stale.status.value == "SUPERSEDED"
    with services.db.read() as session:
        assert session.execute(select(EpisodeRow.risk_grade)).scalar_one() == "HIGH"
        applied = session.execute(select(EventRow.applied).where(
            EventRow.revision == 2)).scalar_one()
    assert applied is False


def test_unwritable_drop_folder_holds_the_copy_and_tells_a_coordinator(
        services: Services) -> None:
    receipt = send(services, compact("missing_from_home", force=DERBYSHIRE), DERBYSHIRE)
    blocker = services.settings.drop_root / "drop" / "derby"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")  # the share is broken: a file where the folder was
    statuses = deliver_all(services)
    assert statuses
    assert set(statuses) == {"PENDING"}
    clock: FakeClock = services.clock  # type: ignore[assignment]
    clock.advance(timedelta(hours=25))
    for delivery_id in receipt.deliveries:
        assert services.outbox.deliver_one(delivery_id) == "HELD"
    with services.db.read() as session:
        items = session.execute(select(CoordinatorItemRow).where(
            CoordinatorItemRow.kind == "delivery_held")).scalars().all()
    assert len(items) == len(receipt.deliveries)
    assert "undeliverable: manual action" in items[0].message


@pytest.mark.parametrize("path", ["missing_from_home"])
def test_audit_records_receipt_decision_and_delivery(services: Services, path: str) -> None:
    from gateway.store.audit import AuditEntry, verify_chain

    send(services, compact(path, force=DERBYSHIRE), DERBYSHIRE)
    deliver_all(services)
    with services.db.read() as session:
        actions = set(session.execute(select(AuditEntry.action)).scalars())
        assert verify_chain(session).ok
    assert {"inbound.received", "episode.event_applied", "delivery.created",
            "delivery.sent"} <= actions
