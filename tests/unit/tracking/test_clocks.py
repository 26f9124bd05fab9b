"""The clock engine: idempotent scheduling, claim by compare-and-set, fire once, survive a crash."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from gateway.store.models import ClockRow
from gateway.tracking import clocks
from gateway.tracking.clocks import ClockEngine, Fired
from tests.unit.tracking.conftest import World, utc

T = utc(2026, 3, 17, 10, 0)


class Recorder:
    """A handler that records each firing (in the firing's own transaction)."""

    def __init__(self) -> None:
        self.fired: list[str] = []
        self.fail_times = 0

    def __call__(self, session: Session, clock: ClockRow, now: datetime) -> Fired:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("handler broke")
        self.fired.append(clock.subject_id)
        return Fired("breach" if clock.data.get("late") else "chased")


def _schedule(world: World, subject: str, due: datetime, **data: object) -> str:
    with world.services.db.unit_of_work() as session:
        return clocks.schedule(session, kind="test", subject_type="test", subject_id=subject,
                               due_at=due, now=T, data=data)


def _engine(world: World, recorder: Recorder, **kwargs: object) -> ClockEngine:
    return ClockEngine(world.services.db, {"test": recorder}, **kwargs)  # type: ignore[arg-type]


def test_scheduling_the_same_clock_twice_keeps_one(world: World) -> None:
    first = _schedule(world, "s1", T + timedelta(hours=1))
    second = _schedule(world, "s1", T + timedelta(hours=1))
    assert first == second
    assert len(world.clocks("s1")) == 1


def test_tick_fires_due_clocks_once_in_due_order(world: World) -> None:
    recorder = Recorder()
    engine = _engine(world, recorder, batch=2)
    for n in range(5):
        _schedule(world, f"s{n}", T + timedelta(minutes=10 * (5 - n)), late=n % 2)
    _schedule(world, "later", T + timedelta(days=1))
    report = engine.tick(T + timedelta(hours=1))
    assert recorder.fired == ["s4", "s3", "s2", "s1", "s0"]
    assert report.fired == 5
    assert report.breaches == 2
    assert engine.tick(T + timedelta(hours=2)).fired == 0
    assert recorder.fired == ["s4", "s3", "s2", "s1", "s0"]
    [later] = world.clocks("later")
    assert later.state == "PENDING"
    assert {c.state for c in world.clocks() if c.subject_id != "later"} == {"FIRED"}


def test_cancelled_clock_never_fires(world: World) -> None:
    recorder = Recorder()
    _schedule(world, "s1", T)
    with world.services.db.unit_of_work() as session:
        assert clocks.cancel(session, "s1") == 1
    assert _engine(world, recorder).tick(T + timedelta(hours=1)).fired == 0
    assert recorder.fired == []


def test_crash_between_claim_and_fire_is_reclaimed_after_the_lease(world: World) -> None:
    recorder = Recorder()
    lease = timedelta(minutes=5)
    engine = _engine(world, recorder, lease=lease)
    _schedule(world, "crashed", T)
    _schedule(world, "other", T + timedelta(minutes=1))
    # The first scheduler claims both and dies before firing anything.
    claimed = engine.claim(T + timedelta(minutes=2))
    assert len(claimed) == 2
    # A restarted scheduler within the lease leaves them alone: the claim may still be live.
    restarted = _engine(world, recorder, lease=lease)
    assert restarted.tick(T + timedelta(minutes=4)).fired == 0
    # After the lease they are claimed again and fire, once each.
    report = restarted.tick(T + timedelta(minutes=8))
    assert report.fired == 2
    assert sorted(recorder.fired) == ["crashed", "other"]
    # The first scheduler comes back to life and fires with its stale claim: nothing happens.
    late = engine.fire(claimed, T + timedelta(minutes=2), T + timedelta(minutes=9))
    assert late.fired == 0
    assert restarted.tick(T + timedelta(hours=1)).fired == 0
    assert sorted(recorder.fired) == ["crashed", "other"]


def test_two_schedulers_claim_disjoint_clocks(world: World) -> None:
    recorder = Recorder()
    for n in range(6):
        _schedule(world, f"s{n}", T)
    first, second = _engine(world, recorder, batch=4), _engine(world, recorder, batch=4)
    now = T + timedelta(minutes=1)
    a = first.claim(now)
    b = second.claim(now)
    assert len(a) == 4
    assert len(b) == 2
    assert not set(a) & set(b)
    first.fire(a, now, now)
    second.fire(b, now, now)
    assert sorted(recorder.fired) == [f"s{n}" for n in range(6)]


def test_a_failing_handler_rolls_back_retries_after_the_lease_then_gives_up(
        world: World) -> None:
    recorder = Recorder()
    recorder.fail_times = 2  # the batch, then the clock alone
    engine = _engine(world, recorder, lease=timedelta(minutes=5), max_failures=2)
    _schedule(world, "flaky", T)
    report = engine.tick(T)
    assert (report.fired, report.failed) == (0, 1)
    [row] = world.clocks("flaky")
    assert row.state == "PENDING"
    assert row.data["failures"] == 1
    assert engine.tick(T + timedelta(minutes=6)).fired == 1
    assert recorder.fired == ["flaky"]

    recorder.fail_times = 4
    _schedule(world, "broken", T)
    engine.tick(T + timedelta(minutes=7))
    engine.tick(T + timedelta(minutes=13))
    [broken] = world.clocks("broken")
    assert broken.state == "FAILED"
    assert engine.tick(T + timedelta(hours=2)).failed == 0
    assert recorder.fired == ["flaky"]


def test_one_failing_clock_does_not_hold_back_the_rest_of_its_batch(world: World) -> None:
    def picky(session: Session, clock: ClockRow, now: datetime) -> Fired:
        if clock.subject_id == "bad":
            raise RuntimeError("cannot fire this one")
        session.add(ClockRow(kind="effect", subject_type="t",
                             subject_id=f"effect-{clock.subject_id}",
                             due_at=now + timedelta(days=1), created_at=now, data={}))
        return Fired("chased")

    engine = ClockEngine(world.services.db, {"test": picky})
    for subject in ("a", "bad", "c"):
        _schedule(world, subject, T)
    report = engine.tick(T)
    assert (report.fired, report.failed) == (2, 1)
    assert {c.subject_id for c in world.clocks(kind="effect")} == {"effect-a", "effect-c"}
    assert {c.subject_id: c.state for c in world.clocks(kind="test")} == {
        "a": "FIRED", "bad": "PENDING", "c": "FIRED"}
    assert world.clocks("a")[0].data["outcome"] == "chased"


def test_handler_effects_and_the_fired_mark_commit_together(world: World) -> None:
    """A firing whose effects fail to commit leaves the clock PENDING, to fire again."""

    def boom(session: Session, clock: ClockRow, now: datetime) -> Fired:
        session.add(ClockRow(kind="effect", subject_type="t", subject_id="effect",
                             due_at=now + timedelta(days=1), created_at=now, data={}))
        raise RuntimeError("after writing an effect")

    engine = ClockEngine(world.services.db, {"test": boom})
    _schedule(world, "s1", T)
    assert engine.tick(T).failed == 1
    assert world.clocks("effect") == []
    assert world.clocks("s1")[0].state == "PENDING"


def test_unknown_kind_is_a_failure_not_a_crash(world: World) -> None:
    engine = ClockEngine(world.services.db, {})
    _schedule(world, "s1", T)
    assert engine.tick(T).failed == 1


def test_naive_due_time_is_refused(world: World) -> None:
    with pytest.raises(Exception, match="naive"):
        _schedule(world, "s1", datetime(2026, 3, 17, 10, 0))
