"""Per-endpoint circuit breaker: stop hammering a far end that keeps failing, then probe it.

Pure: no clock of its own and no I/O. Every call takes the caller's `now`, so the worker, the
tests and the year-long simulation all drive it with the same injected time.

States, per endpoint:

- closed: sends are allowed; consecutive transient failures are counted.
- open: after `failure_threshold` consecutive transient failures; sends are refused until
  `cool_down` has passed since the circuit opened.
- half_open: after the cool-down one trial send is allowed. Its success closes the circuit; its
  failure opens it again for another cool-down. A trial that never reports back (its worker
  died) is given up after another cool-down, so the circuit cannot stick half-open.

Only transient failures should be recorded: a permanent failure is about one message (a 5xx
for a mailbox, a bad certificate), is held for a person, and says nothing about whether the
endpoint is up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class CircuitState(StrEnum):
    """Where one endpoint's circuit stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class CircuitStatus:
    """A read-only view of one endpoint's circuit, for the dashboard."""

    endpoint: str
    state: CircuitState
    consecutive_failures: int
    opened_at: datetime | None
    retry_at: datetime | None  # when an open circuit will let a trial through
    last_failure_at: datetime | None
    last_success_at: datetime | None


@dataclass
class _Circuit:
    consecutive_failures: int = 0
    opened_at: datetime | None = None
    trial_started_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_success_at: datetime | None = None


class CircuitBreaker:
    """Decide per endpoint whether a send may be tried now, from the failures recorded so far."""

    def __init__(self, failure_threshold: int = 5, cool_down: timedelta = timedelta(minutes=5)):
        """Open after `failure_threshold` transient failures in a row; probe after `cool_down`."""
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cool_down <= timedelta(0):
            raise ValueError("cool_down must be positive")
        self.failure_threshold = failure_threshold
        self.cool_down = cool_down
        self._circuits: dict[str, _Circuit] = {}
        # Worker threads share one breaker; the lock keeps a half-open trial single.
        self._lock = threading.Lock()

    def allow(self, endpoint: str, now: datetime) -> bool:
        """Return whether a send to `endpoint` may be tried at `now`; claims any half-open trial."""
        with self._lock:
            circuit = self._circuits.get(endpoint)
            if circuit is None or circuit.opened_at is None:
                return True
            if now < circuit.opened_at + self.cool_down:
                return False
            trial = circuit.trial_started_at
            if trial is not None and now < trial + self.cool_down:
                return False  # one trial at a time
            circuit.trial_started_at = now
            return True

    def record_success(self, endpoint: str, now: datetime) -> None:
        """Close the circuit of `endpoint`: it accepted a send."""
        with self._lock:
            circuit = self._circuits.setdefault(endpoint, _Circuit())
            circuit.consecutive_failures = 0
            circuit.opened_at = None
            circuit.trial_started_at = None
            circuit.last_success_at = now

    def record_failure(self, endpoint: str, now: datetime) -> None:
        """Count a transient failure of `endpoint`; open (or re-open) its circuit when due."""
        with self._lock:
            circuit = self._circuits.setdefault(endpoint, _Circuit())
            circuit.consecutive_failures += 1
            circuit.last_failure_at = now
            half_open_trial_failed = circuit.opened_at is not None
            if half_open_trial_failed or circuit.consecutive_failures >= self.failure_threshold:
                circuit.opened_at = now
                circuit.trial_started_at = None

    def status(self, endpoint: str, now: datetime) -> CircuitStatus:
        """Return the state of `endpoint`'s circuit as seen at `now`."""
        with self._lock:
            return self._status(endpoint, self._circuits.get(endpoint) or _Circuit(), now)

    def snapshot(self, now: datetime) -> list[CircuitStatus]:
        """Return the state of every endpoint seen so far, sorted by endpoint, for a dashboard."""
        with self._lock:
            return [self._status(e, c, now) for e, c in sorted(self._circuits.items())]

    def _status(self, endpoint: str, circuit: _Circuit, now: datetime) -> CircuitStatus:
        """Build the public view of one circuit."""
        if circuit.opened_at is None:
            state, retry_at = CircuitState.CLOSED, None
        else:
            retry_at = circuit.opened_at + self.cool_down
            state = CircuitState.OPEN if now < retry_at else CircuitState.HALF_OPEN
        return CircuitStatus(
            endpoint=endpoint,
            state=state,
            consecutive_failures=circuit.consecutive_failures,
            opened_at=circuit.opened_at,
            retry_at=retry_at,
            last_failure_at=circuit.last_failure_at,
            last_success_at=circuit.last_success_at,
        )
