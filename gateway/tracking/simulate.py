"""Drive a synthetic population through tracking on a fake clock, and count what happens.

A year at national scale (about 130,000 episodes in England and Wales) runs on the service
layer directly: synthetic episodes and deliveries are written to a scratch SQLite database
in batches (one transaction per time step), the tracking listeners react as they do in the
gateway, the clock engine ticks after every step, and a stand-in outbox "sends" what the
clocks ask for. Recipients acknowledge, police update and find, councils hold (or do not
hold) Return Home Interviews, with seeded randomness, so a run is repeatable.
"""

from __future__ import annotations

import heapq
import multiprocessing
import queue
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from gateway.clock import FakeClock
from gateway.domain.enums import DeliveryStatus, EventType, RecipientRole, RiskGrade
from gateway.domain.episode import Episode
from gateway.domain.model import Notification
from gateway.domain.routing import Recipient, RoutingDecision
from gateway.pipeline import Pipeline
from gateway.store import migrate
from gateway.store.db import Database
from gateway.store.models import DeliveryRow
from gateway.store.sealing import DataSealer, decode_key, new_key_text
from gateway.tracking import rhi, synthetic
from gateway.tracking.clocks import TickReport
from gateway.tracking.figures import CoordinatorFigures, coordinator_figures
from gateway.tracking.service import Tracker
from gateway.tracking.synthetic import Case
from routing.calendars import is_office_hours
from routing.directory import (
    EDT,
    FRONT_DOOR,
    IRO_SERVICE,
    MISSING_COORDINATOR,
    Directory,
)
from routing.directory_loader import load_directory

NATIONAL_EPISODES_PER_YEAR = 130_000
START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
_GRADES = (RiskGrade.HIGH, RiskGrade.MEDIUM, RiskGrade.LOW, RiskGrade.NO_APPARENT_RISK)
_GRADE_WEIGHTS = (0.12, 0.6, 0.18, 0.10)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate: how long, how many, how repeatable, how finely."""

    days: int = 365
    seed: int = 1
    episodes_per_year: int = NATIONAL_EPISODES_PER_YEAR
    step: timedelta = timedelta(minutes=15)
    start: datetime = START
    database: Path | None = None  # a scratch file in a temporary directory when None
    workers: int = 1  # processes; each simulates the children of its share of authorities
    partition: int = 0  # which share this process simulates (set by `simulate`)


@dataclass
class SimulationResult:
    """What a run did and what a coordinator would see at its end."""

    days: int
    episodes: int
    events: int
    deliveries_sent: int
    ticks: int
    clocks: TickReport
    figures: CoordinatorFigures
    wall_seconds: float

    @property
    def clocks_fired_per_second(self) -> float:
        """Return clocks fired per second of wall time."""
        return self.clocks.fired / self.wall_seconds if self.wall_seconds else 0.0


@dataclass(frozen=True)
class _Child:
    index: int
    owner: str
    looked_after: bool
    host: str | None
    force: str
    born: date


@dataclass
class _Live:
    """A simulated episode the gateway has heard of."""

    case: Case
    recipients: list[tuple[str, str]]


Action = tuple[str, tuple[Any, ...]]


class Simulation:
    """One seeded run over a scratch database."""

    def __init__(self, config: SimulationConfig, directory: Directory,
                 progress: Callable[[int], None] | None = None) -> None:
        self.config = config
        self.directory = directory
        self.progress = progress or (lambda days: None)
        self.random = random.Random(config.seed)
        self.clock = FakeClock(config.start)
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        path = config.database
        if path is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="gateway-simulate-")
            path = Path(self._scratch.name) / "simulate.db"
        self.db = Database(f"sqlite:///{path}")

        @event.listens_for(self.db.engine, "connect")
        def _scratch_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # A throwaway database: no fsync, bigger cache.
            dbapi_connection.execute("PRAGMA journal_mode=MEMORY")
            dbapi_connection.execute("PRAGMA synchronous=OFF")
            dbapi_connection.execute("PRAGMA cache_size=-131072")
            dbapi_connection.execute("PRAGMA temp_store=MEMORY")

        migrate.upgrade(self.db.engine)
        self.queued: list[str] = []
        self.pipeline = Pipeline(self.db, DataSealer(decode_key(new_key_text())), {},
                                 _no_router, lambda force: None, self.clock, self.queued.extend)
        self.tracker = Tracker(self.db, directory, self.pipeline, enqueue=self.queued.extend)
        self.authorities = sorted(a.id for a in directory.authorities.values()
                                  if a.channel(FRONT_DOOR) or a.channel(EDT))
        self.owners = self.authorities[config.partition::config.workers] or self.authorities
        self.rate_per_hour = config.episodes_per_year / config.workers / (365 * 24)
        self.force_of = _forces_by_authority(directory)
        self.children = self._population()
        self.heap: list[tuple[datetime, int, Action]] = []
        self.sequence = 0
        self.live: dict[str, _Live] = {}
        self.reference_of: dict[str, str] = {}
        self.references = 0
        self.counts: Counter[str] = Counter()
        # Sends and receipts of one time step, handed to tracking together.
        self.sent_batch: list[tuple[DeliveryRow, datetime]] = []
        self.ack_batch: list[tuple[str, str, datetime]] = []
        self.clocks = TickReport()

    # -- population -----------------------------------------------------------------------

    def _population(self) -> list[_Child]:
        """Children who go missing: a third as many as episodes, half of them in care."""
        size = max(10, int(self.config.episodes_per_year / self.config.workers
                           * self.config.days / 365 / 3))
        children = []
        for index in range(size):
            owner = self.random.choice(self.owners)
            looked_after = self.random.random() < 0.5
            host = None
            if looked_after and self.random.random() < 0.35:
                host = self.random.choice([a for a in self.authorities if a != owner])
            children.append(_Child(index=index, owner=owner, looked_after=looked_after,
                                   host=host, force=self.force_of[host or owner],
                                   born=date(2009 + index % 8, 1 + index % 12, 1 + index % 28)))
        return children

    def _pick_child(self) -> _Child:
        # A few children go missing again and again (repeat missing is the norm, not rare).
        index = int(len(self.children) * self.random.random() ** 2.5)
        return self.children[min(index, len(self.children) - 1)]

    # -- the event queue ------------------------------------------------------------------

    def at(self, when: datetime, kind: str, *payload: Any) -> None:
        """Schedule a simulated happening."""
        self.sequence += 1
        heapq.heappush(self.heap, (when, self.sequence, (kind, payload)))

    def run(self) -> SimulationResult:
        """Run the whole simulation; return its figures (the scratch database is removed)."""
        try:
            return self._run()
        finally:
            self.close()

    def _run(self) -> SimulationResult:
        started = time.perf_counter()
        end = self.config.start + timedelta(days=self.config.days)
        rate_per_hour = self.rate_per_hour
        self.at(self.config.start, "arrival")
        now = self.config.start
        ticks = 0
        day = 0
        while now < end:
            step_end = min(now + self.config.step, end)
            with self.db.unit_of_work() as session:
                while self.heap and self.heap[0][0] <= step_end:
                    when, _, (kind, payload) = heapq.heappop(self.heap)
                    self.clock.now = when
                    self._do(session, kind, payload, when, rate_per_hour, end)
                self._send_queued(session, step_end)
                self._flush_batches(session)
            self.clock.now = step_end
            fired = self.tracker.tick(step_end)
            fired.deliveries = []  # already queued and sent; not kept for a year
            self.clocks.add(fired)
            ticks += 1
            with self.db.unit_of_work() as session:
                self._send_queued(session, step_end)
                self._flush_batches(session)
            now = step_end
            elapsed_days = int((now - self.config.start) / timedelta(days=1))
            if elapsed_days > day:
                self.progress(elapsed_days - day)
                day = elapsed_days
        with self.db.read() as session:
            figures = coordinator_figures(session, end)
        wall = time.perf_counter() - started
        result = SimulationResult(
            days=self.config.days, episodes=self.counts["episodes"],
            events=self.counts["events"], deliveries_sent=self.counts["sent"], ticks=ticks,
            clocks=self.clocks, figures=figures, wall_seconds=wall)
        return result

    def close(self) -> None:
        """Release the database and remove the scratch directory."""
        self.db.dispose()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    # -- what happens ---------------------------------------------------------------------

    def _do(self, session: Session, kind: str, payload: tuple[Any, ...], when: datetime,
            rate_per_hour: float, end: datetime) -> None:
        if kind == "arrival":
            self._arrival(when)
            self.at(when + timedelta(hours=self.random.expovariate(rate_per_hour)), "arrival")
        elif kind == "report":
            self._report(session, when, *payload)
        elif kind == "police":
            self._police(session, when, *payload)
        elif kind == "ack":
            self._ack(session, when, *payload)
        elif kind == "rhi":
            self._rhi(session, when, *payload)

    def _arrival(self, when: datetime) -> None:
        child = self._pick_child()
        self.references += 1
        grade = self.random.choices(_GRADES, _GRADE_WEIGHTS)[0]
        case = Case(force=child.force, reference=f"SIM-{self.references:07d}",
                    given_name=f"Child{child.index}", family_name="Sim",
                    date_of_birth=child.born, grade=grade, looked_after=child.looked_after,
                    home=None if child.looked_after else child.owner,
                    responsible=child.owner if child.looked_after else None,
                    host=child.host, council_child_id=f"SIM-{child.index}")
        late = self.random.random() < 0.02
        delay = (timedelta(hours=self.random.uniform(25, 40)) if late
                 else timedelta(minutes=self.random.uniform(5, 90)))
        self.at(when + delay, "report", case, when)

    def _report(self, session: Session, now: datetime, case: Case, opened: datetime) -> None:
        applied = synthetic.open_episode(session, case, opened_at=opened, now=now)
        self.queued.extend(self.tracker.on_event.handle(session, applied))
        self.counts["episodes"] += 1
        self.counts["events"] += 1
        owner = case.responsible or case.home or ""
        authority = self.directory.authority(owner)
        door = FRONT_DOOR if authority and is_office_hours(authority, now) else EDT
        recipients = [(owner, door)]
        if case.looked_after:
            recipients.append((owner, IRO_SERVICE))
        if case.host:
            recipients.append((case.host, MISSING_COORDINATOR))
        self.live[applied.episode_id] = _Live(case=case, recipients=recipients)
        self.reference_of[applied.episode_id] = case.reference
        self._deliver(session, applied.episode_id, applied.event_id, recipients, now)
        self._plan_episode(applied.episode_id, case, opened, now)

    def _plan_episode(self, episode_id: str, case: Case, opened: datetime,
                      now: datetime) -> None:
        """Decide the episode's future: updates, regrades, found or cancelled, and RHI."""
        if self.random.random() < 0.01:
            self.at(now + timedelta(hours=1), "police", episode_id, EventType.CANCELLED, None)
            return
        hours = self.random.lognormvariate(2.3, 1.4)  # median ~10 h, a long tail of weeks
        if self.random.random() < 0.002:
            hours = self.random.uniform(24 * 28, 24 * 200)  # long-term missing
        found = max(opened + timedelta(hours=hours), now + timedelta(minutes=10))
        update = opened + timedelta(hours=self.random.uniform(20, 46))
        while update < found:
            if self.random.random() < 0.8:
                self.at(update, "police", episode_id, EventType.UPDATE, None)
            update += timedelta(days=self.random.uniform(3, 6))
        if case.grade is RiskGrade.NO_APPARENT_RISK and self.random.random() < 0.7:
            regrade = min(opened + timedelta(hours=self.random.uniform(2, 20)),
                          found - timedelta(minutes=5))
            if regrade > now:
                self.at(regrade, "police", episode_id, EventType.RISK_REGRADED,
                        RiskGrade.MEDIUM)
        notice = found + timedelta(minutes=self.random.uniform(5, 60))
        self.at(notice, "police", episode_id, EventType.FOUND, found)
        self.at(notice + timedelta(days=self.random.uniform(1, 3)), "police", episode_id,
                EventType.CLOSED, None)

    def _police(self, session: Session, now: datetime, episode_id: str, kind: EventType,
                detail: Any) -> None:
        live = self.live.get(episode_id)
        if live is None:
            return
        occurred = detail if kind is EventType.FOUND else now
        grade = detail if kind is EventType.RISK_REGRADED else None
        applied = synthetic.apply(session, live.case, episode_id, kind, occurred_at=occurred,
                                  now=now, grade=grade)
        self.queued.extend(self.tracker.on_event.handle(session, applied))
        self.counts["events"] += 1
        if kind is EventType.FOUND:
            self._deliver(session, episode_id, applied.event_id, live.recipients, now)
            self._plan_rhi(session, episode_id)
        if kind in (EventType.CLOSED, EventType.CANCELLED):
            del self.live[episode_id]

    def _plan_rhi(self, session: Session, episode_id: str) -> None:
        """Decide what the council does about the interview, relative to its clock start."""
        row = rhi.rhi_for_episode(session, episode_id)
        if row is None or row.status != rhi.DUE:
            return
        start, roll = row.start_at, self.random.random()
        hours = self.random.uniform
        if roll < 0.6:
            self.at(start + timedelta(hours=hours(2, 30)), "rhi", episode_id, "accepted", None)
            self.at(start + timedelta(hours=hours(31, 71)), "rhi", episode_id, "completed",
                    None)
        elif roll < 0.74:
            self.at(start + timedelta(hours=hours(75, 240)), "rhi", episode_id, "completed",
                    "child not available within 72 hours")
        elif roll < 0.82:
            for n, at in enumerate((8, 26, 44, 62)):
                self.at(start + timedelta(hours=at + hours(0, 4)), "rhi", episode_id,
                        "attempt", "letter" if n == 2 else "phone")
        elif roll < 0.92:
            self.at(start + timedelta(hours=hours(6, 60)), "rhi", episode_id, "declined", None)
        elif roll < 0.95:
            self.at(start + timedelta(hours=hours(20, 70)), "rhi", episode_id, "not_possible",
                    None)
        # otherwise nothing is ever recorded: the chase ladder runs its course

    def _rhi(self, session: Session, now: datetime, episode_id: str, what: str,
             detail: str | None) -> None:
        row = rhi.rhi_for_episode(session, episode_id)
        if row is None or row.status not in rhi.OPEN:
            return
        if what == "attempt":
            self.tracker.record_attempt(session, row.id, at=now, method=detail or "phone",
                                        successful=False, now=now)
        else:
            self.tracker.record_outcome(session, row.id, what, at=now, now=now,
                                        late_reason=detail)

    # -- a stand-in outbox and recipients ---------------------------------------------------

    def _deliver(self, session: Session, episode_id: str, event_id: str,
                 recipients: Iterable[tuple[str, str]], now: datetime) -> None:
        for authority, team in recipients:
            row = synthetic.sent_delivery(session, self.directory, episode_id, event_id,
                                          authority, team, now, RecipientRole.ACTION)
            self._sent(session, row, now)

    def _send_queued(self, session: Session, now: datetime) -> None:
        """Send what tracking queued (chases, re-sends, alternates): all succeed at once."""
        while self.queued:
            ids, self.queued[:] = list(self.queued), []
            for delivery_id in ids:
                row = session.get(DeliveryRow, delivery_id)
                if row is None or row.status != DeliveryStatus.PENDING.value:
                    continue
                row.status = DeliveryStatus.SENT.value
                row.sent_at = now
                row.attempts += 1
                self._sent(session, row, now)

    def _flush_batches(self, session: Session) -> None:
        """Start the ack clocks of this step's sends, then record this step's receipts."""
        if self.sent_batch:
            self.tracker.on_sent_many(session, self.sent_batch)
            self.sent_batch = []
        if self.ack_batch:
            self.tracker.record_acks(session, self.ack_batch)
            self.ack_batch = []

    def _sent(self, session: Session, row: DeliveryRow, now: datetime) -> None:
        self.sent_batch.append((row, now))
        self.counts["sent"] += 1
        if self.directory.authority(row.authority) is None:
            return  # police: no receipts
        # Seeded by what the copy is, not by the order copies happen to be sent in (ids and
        # the order of clocks due at the same moment differ between runs): repeatable.
        chance = random.Random(f"{self.config.seed}|{self.reference_of.get(row.episode_id)}|"
                               f"{row.authority}|{row.team}|{row.reason[:60]}|{now.isoformat()}")
        roll = chance.random()
        if roll < 0.9:
            received = now + timedelta(minutes=chance.uniform(1, 50))
        elif roll < 0.96:
            received = now + timedelta(hours=chance.uniform(5, 10))
        else:
            return  # never acknowledged
        self.at(received, "ack", row.id, "received")
        if chance.random() < 0.95:
            self.at(received + timedelta(minutes=chance.uniform(5, 150)), "ack", row.id,
                    "accepted")

    def _ack(self, session: Session, now: datetime, delivery_id: str, stage: str) -> None:
        self.ack_batch.append((delivery_id, stage, now))


def _no_router(notification: Notification, previous: Sequence[Recipient],
               episode: Episode | None, now: datetime) -> RoutingDecision:
    """Refuse: the simulation writes its deliveries itself and never routes."""
    raise RuntimeError("the simulation writes deliveries itself")


def _forces_by_authority(directory: Directory) -> dict[str, str]:
    """Return the force recording episodes in each authority's area (any force if none)."""
    forces = sorted(directory.forces.values(), key=lambda f: f.id)
    result: dict[str, str] = {}
    for authority in directory.authorities:
        owner = next((f.id for f in forces if authority in f.area_authorities), None)
        result[authority] = owner or (forces[0].id if forces else "unknown-force")
    return result


def simulate(config: SimulationConfig, config_dir: Path,
             progress: Callable[[int], None] | None = None) -> SimulationResult:
    """Run a simulation with the directory under `config_dir`, in `config.workers` processes.

    Each process simulates the children owned by its share of the authorities, on its own
    scratch database (a child's episodes, RHIs and repeat counts all stay in one share), and
    the figures are added up. `progress` is called with days completed (slowest share).
    """
    if config.workers <= 1:
        return Simulation(config, load_directory(config_dir), progress).run()
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    manager = context.Manager()
    messages = manager.Queue()  # a proxy: it may be passed to the pool's workers
    shares = [replace(config, partition=n, seed=config.seed * 1009 + n,
                      database=None if config.database is None
                      else config.database.with_suffix(f".{n}.db"))
              for n in range(config.workers)]
    with ProcessPoolExecutor(config.workers, mp_context=context) as pool:
        futures = [pool.submit(_run_share, share, config_dir, messages) for share in shares]
        done = [0] * config.workers
        reported = 0
        while not all(future.done() for future in futures):
            try:
                share, days = messages.get(timeout=0.5)
            except queue.Empty:
                continue
            done[share] += days
            if progress is not None and min(done) > reported:
                progress(min(done) - reported)
                reported = min(done)
        results = [future.result() for future in futures]
    manager.shutdown()
    if progress is not None and config.days > reported:
        progress(config.days - reported)
    return _merge(results, time.perf_counter() - started)


def _run_share(config: SimulationConfig, config_dir: Path, messages: Any) -> SimulationResult:
    """Run one share of a simulation in a worker process."""
    return Simulation(config, load_directory(config_dir),
                      lambda days: messages.put((config.partition, days))).run()


def _merge(results: list[SimulationResult], wall: float) -> SimulationResult:
    """Add up the results of the shares of one simulation."""
    clocks = TickReport()
    figures = CoordinatorFigures()
    for result in results:
        clocks.add(result.clocks)
        for name, value in vars(result.figures).items():
            if isinstance(value, int):
                setattr(figures, name, getattr(figures, name) + value)
            elif isinstance(value, dict):
                merged = Counter(getattr(figures, name))
                merged.update(value)
                setattr(figures, name, dict(merged))
    medians = [r.figures.median_ack_minutes for r in results
               if r.figures.median_ack_minutes is not None]
    figures.median_ack_minutes = sum(medians) / len(medians) if medians else None
    return SimulationResult(
        days=results[0].days, episodes=sum(r.episodes for r in results),
        events=sum(r.events for r in results),
        deliveries_sent=sum(r.deliveries_sent for r in results),
        ticks=max(r.ticks for r in results), clocks=clocks, figures=figures, wall_seconds=wall)
