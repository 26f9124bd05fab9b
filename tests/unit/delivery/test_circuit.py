"""Per-endpoint circuit breaker, driven by an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.delivery.circuit import CircuitBreaker, CircuitState

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EP = "sftp:sftp://gw@council.example:22/in"
OTHER = "smtp:mcu@other.example.gov.uk"


def _opened(breaker: CircuitBreaker, at: datetime = T0) -> None:
    """Record enough failures to open EP's circuit at `at`."""
    for _ in range(breaker.failure_threshold):
        breaker.record_failure(EP, at)


def test_closed_until_threshold_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cool_down=timedelta(minutes=5))

    breaker.record_failure(EP, T0)
    breaker.record_failure(EP, T0)
    assert breaker.allow(EP, T0)
    breaker.record_failure(EP, T0)

    assert not breaker.allow(EP, T0 + timedelta(seconds=1))
    assert breaker.status(EP, T0).state is CircuitState.OPEN
    assert breaker.allow(OTHER, T0)  # endpoints are independent


def test_success_resets_the_count_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3)

    breaker.record_failure(EP, T0)
    breaker.record_failure(EP, T0)
    breaker.record_success(EP, T0)
    breaker.record_failure(EP, T0)
    breaker.record_failure(EP, T0)

    assert breaker.allow(EP, T0)
    assert breaker.status(EP, T0).consecutive_failures == 2


def test_half_open_after_cool_down_lets_one_trial_through() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cool_down=timedelta(minutes=5))
    _opened(breaker)

    assert not breaker.allow(EP, T0 + timedelta(minutes=4, seconds=59))
    later = T0 + timedelta(minutes=5)
    assert breaker.status(EP, later).state is CircuitState.HALF_OPEN
    assert breaker.allow(EP, later)
    assert not breaker.allow(EP, later + timedelta(seconds=1))  # trial already out


def test_trial_success_closes_the_circuit() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cool_down=timedelta(minutes=5))
    _opened(breaker)
    later = T0 + timedelta(minutes=6)
    assert breaker.allow(EP, later)

    breaker.record_success(EP, later)

    status = breaker.status(EP, later)
    assert status.state is CircuitState.CLOSED
    assert status.consecutive_failures == 0
    assert status.last_success_at == later
    assert breaker.allow(EP, later)
    assert breaker.allow(EP, later)  # no trial limit once closed


def test_trial_failure_reopens_for_a_fresh_cool_down() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cool_down=timedelta(minutes=5))
    _opened(breaker)
    trial_at = T0 + timedelta(minutes=6)
    assert breaker.allow(EP, trial_at)

    breaker.record_failure(EP, trial_at)

    status = breaker.status(EP, trial_at)
    assert status.state is CircuitState.OPEN
    assert status.retry_at == trial_at + timedelta(minutes=5)
    assert not breaker.allow(EP, trial_at + timedelta(minutes=4))
    assert breaker.allow(EP, trial_at + timedelta(minutes=5))


def test_a_trial_that_never_reports_back_is_given_up_after_a_cool_down() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cool_down=timedelta(minutes=5))
    _opened(breaker)
    assert breaker.allow(EP, T0 + timedelta(minutes=5))

    assert not breaker.allow(EP, T0 + timedelta(minutes=9))
    assert breaker.allow(EP, T0 + timedelta(minutes=10))


def test_snapshot_lists_every_endpoint_for_the_dashboard() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cool_down=timedelta(minutes=5))
    breaker.record_success(OTHER, T0)
    _opened(breaker)

    snapshot = breaker.snapshot(T0 + timedelta(minutes=1))

    assert [(s.endpoint, s.state) for s in snapshot] == [
        (EP, CircuitState.OPEN),
        (OTHER, CircuitState.CLOSED),
    ]
    assert snapshot[0].opened_at == T0
    assert snapshot[0].last_failure_at == T0


def test_unknown_endpoint_is_closed() -> None:
    status = CircuitBreaker().status(EP, T0)

    assert status.state is CircuitState.CLOSED
    assert status.consecutive_failures == 0


@pytest.mark.parametrize(("threshold", "cool_down"), [(0, timedelta(minutes=1)), (3, timedelta(0))])
def test_rejects_meaningless_settings(threshold: int, cool_down: timedelta) -> None:
    with pytest.raises(ValueError, match="must be"):
        CircuitBreaker(failure_threshold=threshold, cool_down=cool_down)
