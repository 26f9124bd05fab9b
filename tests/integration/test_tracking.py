"""Tracking wired into the real pipeline and outbox: clocks from events, chases as deliveries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gateway.clock import FakeClock
from gateway.domain.routing import Channel
from gateway.services import Services
from gateway.store.models import ClockRow, DeliveryRow, EventRow
from gateway.store.tracking_models import RhiRow
from gateway.tracking import episodes, rhi
from gateway.tracking.wiring import attach_outbox, attach_pipeline, install, tracker
from tests.integration.test_slice import deliver_all, send
from tests.support.messages import compact

WARWICKSHIRE = "warwickshire-police"
# The fixture's report was recorded 14 March 2026 21:15 UTC; received 45 minutes later.
RECEIVED = datetime(2026, 3, 14, 22, 0, tzinfo=UTC)


def _clock(services: Services) -> FakeClock:
    clock = services.clock
    assert isinstance(clock, FakeClock)
    return clock


def _report(services: Services) -> str:
    _clock(services).now = RECEIVED
    receipt = send(services, compact("missing_reported_basic", force=WARWICKSHIRE),
                   WARWICKSHIRE)
    assert receipt.episode_id is not None
    assert set(deliver_all(services)) == {"SENT"}
    return receipt.episode_id


def _clocks(services: Services, subject_id: str) -> dict[str, list[ClockRow]]:
    with services.db.read() as session:
        rows = session.execute(select(ClockRow).where(ClockRow.subject_id == subject_id)
                               ).scalars()
        found: dict[str, list[ClockRow]] = {}
        for row in rows:
            found.setdefault(row.kind, []).append(row)
        return found


def test_missing_report_starts_episode_and_ack_clocks(services: Services) -> None:
    install(services)
    install(services)  # installing twice adds nothing
    assert len(services.pipeline.listeners) == 1
    assert len(services.outbox.sent_listeners) == 1
    episode = _report(services)
    kinds = _clocks(services, episode)
    assert set(kinds) == {episodes.STRATEGY, episodes.POLICE_UPDATE, episodes.LONG_TERM}
    # Kent owns the child in care; Kent's strategy discussion is due at 48 h (001 L204).
    assert kinds[episodes.STRATEGY][0].due_at == datetime(2026, 3, 16, 21, 15, tzinfo=UTC)
    with services.db.read() as session:
        council_copies = list(session.execute(select(DeliveryRow.id).where(
            DeliveryRow.authority.in_(["kent", "warwickshire"]))).scalars())
    assert council_copies
    for delivery_id in council_copies:
        assert [c.kind for c in _clocks(services, delivery_id)["ack_received"]] == [
            "ack_received"]


def test_attaching_from_inside_services_properties_wires_one_tracker(
        services: Services) -> None:
    pipeline = services.pipeline
    attach_pipeline(services, pipeline)
    attach_pipeline(services, pipeline)
    attach_outbox(services, services.outbox)
    assert pipeline.listeners == [tracker(services).on_event]
    assert services.outbox.sent_listeners == [tracker(services).on_sent]
    install(services)
    assert len(pipeline.listeners) == len(services.outbox.sent_listeners) == 1


def test_chase_is_a_delivery_on_the_episode_timeline_and_reaches_the_drop_folder(
        services: Services) -> None:
    install(services)
    episode = _report(services)
    with services.db.unit_of_work() as session:
        for delivery_id in session.execute(select(DeliveryRow.id)).scalars():
            tracker(services).record_ack(session, delivery_id, "accepted", RECEIVED)
    clock = _clock(services)
    clock.now = datetime(2026, 3, 16, 21, 15, tzinfo=UTC)
    report = tracker(services).tick(clock.now)
    assert report.by_kind[episodes.STRATEGY] == 1
    queued: list[str] = services.enqueue  # type: ignore[assignment]
    assert sorted(queued) == sorted(report.deliveries)
    assert set(deliver_all(services)) == {"SENT"}
    with services.db.read() as session:
        chases = list(session.execute(select(EventRow).where(
            EventRow.episode_id == episode, EventRow.event_type == "CHASE")).scalars())
        rows = list(session.execute(select(DeliveryRow).where(
            DeliveryRow.event_id.in_([c.id for c in chases]))).scalars())
    assert {(r.authority, r.team) for r in rows} == {
        ("kent", "missing_coordinator"), (WARWICKSHIRE, "police_feedback")}
    assert all(r.status == "SENT" and r.reason.startswith("chase (") for r in rows)
    council_chase = next(r for r in rows if r.authority == "kent")
    drop = services.settings.drop_root / "drop" / "kent" / "missing_coordinator"
    assert [p.name.split(".")[0] for p in drop.iterdir()
            if p.name.startswith(council_chase.id)] == [council_chase.id]
    # What was signed and encrypted into that file: the chase, rendered for its channel.
    with services.db.read() as session:
        notification = services.pipeline.load_notification(session, council_chase.event_id)
    rendered = services.render(notification, Channel(kind="folder", address="x"),
                               council_chase.profile)
    document = json.loads(rendered.content)["notification"]
    assert document["extra"]["message_type"] == "chase"
    assert document["extra"]["chase"] == "strategy_discussion"
    assert "strategy discussion is due" in document["summary"]
    assert document["police_reference"] == "WK-MP-2026-000417"


def test_found_through_the_pipeline_owes_an_rhi_done_by_the_host(services: Services) -> None:
    install(services)
    episode = _report(services)
    clock = _clock(services)
    clock.now = datetime(2026, 3, 17, 2, 30, tzinfo=UTC)
    send(services, compact("found", force=WARWICKSHIRE), WARWICKSHIRE)
    with services.db.read() as session:
        row = session.execute(select(RhiRow).where(RhiRow.episode_id == episode)).scalar_one()
    # Kent's child placed in Warwickshire: Kent's rule (found notice + 72 h), and
    # Warwickshire holds Return Conversations for children placed in its area (003 L490).
    assert row.conducting_authority == "warwickshire"
    assert row.due_at == clock.now + timedelta(hours=72)
    assert _clocks(services, episode)[episodes.STRATEGY][0].state == "CANCELLED"
    assert [c.due_at for c in _clocks(services, episode)[rhi.BREACH]] == [row.due_at]


def test_scheduler_restarted_mid_run_fires_nothing_twice_and_misses_nothing(
        make_services: Callable[..., Services], database_url: str) -> None:
    services = make_services(database_url)
    install(services)
    episode = _report(services)
    clock = _clock(services)
    due = datetime(2026, 3, 16, 21, 15, tzinfo=UTC)
    first = tracker(services)
    claimed = first.engine.claim(due)  # ... and the process is killed here
    assert claimed
    restarted = type(first)(services.db, services.directory, services.pipeline,
                            enqueue=services.pipeline.enqueue)
    assert restarted.tick(due + timedelta(minutes=1)).fired == 0  # claim still live
    report = restarted.tick(due + timedelta(minutes=6))  # after the 5-minute lease
    assert report.fired == len(claimed)
    assert report.by_kind[episodes.STRATEGY] == 1
    assert first.engine.fire(claimed, due, due + timedelta(minutes=7)).fired == 0
    clock.now = due + timedelta(hours=1)
    assert restarted.tick(clock.now).by_kind[episodes.STRATEGY] == 0
    with services.db.read() as session:
        chases = list(session.execute(select(EventRow).where(
            EventRow.episode_id == episode, EventRow.event_type == "CHASE")).scalars())
        fired = list(session.execute(select(ClockRow).where(
            ClockRow.subject_id == episode, ClockRow.kind == episodes.STRATEGY)).scalars())
    assert len([c for c in chases if "strategy_discussion" in (c.note or "")]) == 1
    assert [c.state for c in fired] == ["FIRED"]


def test_celery_tick_task_fires_due_clocks(services: Services) -> None:
    from gateway.tracking import tasks
    from gateway.worker import set_services

    install(services)
    _report(services)
    _clock(services).now = datetime(2026, 3, 17, 0, 0, tzinfo=UTC)
    set_services(services)
    try:
        result = tasks.tick()
    finally:
        set_services(None)
    assert result["by_kind"][episodes.STRATEGY] == 1
    assert result["fired"] >= 2
