"""A small world for tracking tests: synthetic episodes, a tracker and a fake clock."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from gateway.clock import FakeClock
from gateway.domain.enums import EventType, RiskGrade
from gateway.services import Services
from gateway.settings import load_settings
from gateway.store.models import ClockRow, CoordinatorItemRow, DeliveryRow, EventRow
from gateway.store.sealing import new_key_text
from gateway.store.tracking_models import RhiRow
from gateway.tracking import synthetic
from gateway.tracking.clocks import TickReport
from gateway.tracking.service import Tracker
from gateway.tracking.synthetic import Case
from routing.directory import Directory
from tests.conftest import T0, Enqueued

# The force that records episodes in each demo authority's area.
FORCE_OF = {
    "cheshire-east": "cheshire-constabulary",
    "cheshire-west-and-chester": "cheshire-constabulary",
    "halton": "cheshire-constabulary",
    "warrington": "cheshire-constabulary",
    "kent": "kent-police",
    "medway": "kent-police",
    "north-east-lincolnshire": "humberside-police",
    "warwickshire": "warwickshire-police",
    "derby": "derbyshire-constabulary",
    "derbyshire": "derbyshire-constabulary",
}
AUTHORITIES = tuple(FORCE_OF)
_references = count(1)


def utc(*parts: int) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


class World:
    """Drives synthetic episodes through the tracking listener and ticks on a fake clock."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.clock: FakeClock = services.clock  # type: ignore[assignment]
        self.tracker = Tracker(services.db, services.directory, services.pipeline)

    def case(self, authority: str, *, grade: RiskGrade = RiskGrade.MEDIUM,
             looked_after: bool = False, host: str | None = None,
             child_id: str | None = None, name: str = "Test Child") -> Case:
        """Return a case owned by `authority` (home, or responsible when in care)."""
        given, family = name.split(" ", 1)
        return Case(force=FORCE_OF[host or authority], reference=f"REF-{next(_references)}",
                    given_name=given, family_name=family, date_of_birth=date(2011, 5, 4),
                    grade=grade, looked_after=looked_after,
                    home=None if looked_after else authority,
                    responsible=authority if looked_after else None,
                    host=host, council_child_id=child_id)

    def missing(self, case: Case, opened_at: datetime, received_at: datetime | None = None,
                ) -> str:
        """Open an episode reported at `opened_at`, received at `received_at`; return its id."""
        now = received_at or opened_at
        self.clock.now = now
        with self.services.db.unit_of_work() as session:
            applied = synthetic.open_episode(session, case, opened_at=opened_at, now=now)
            self.tracker.on_event.handle(session, applied)
            return applied.episode_id

    def event(self, case: Case, episode_id: str, event: EventType, at: datetime,
              received_at: datetime | None = None, **kwargs: Any) -> None:
        """Apply a later police event that happened at `at`."""
        now = received_at or at
        self.clock.now = now
        with self.services.db.unit_of_work() as session:
            applied = synthetic.apply(session, case, episode_id, event, occurred_at=at,
                                      now=now, **kwargs)
            self.tracker.on_event.handle(session, applied)

    def sent(self, episode_id: str, authority: str, team: str, at: datetime) -> str:
        """Record a delivery of the episode's first event as sent at `at`; return its id."""
        self.clock.now = at
        with self.services.db.unit_of_work() as session:
            event_id = session.execute(select(EventRow.id).where(
                EventRow.episode_id == episode_id).order_by(EventRow.recorded_at).limit(1)
            ).scalar_one()
            row = synthetic.sent_delivery(session, self.services.directory, episode_id,
                                          event_id, authority, team, at)
            self.tracker.on_sent(session, row, at)
            return row.id

    def tick(self, at: datetime) -> TickReport:
        """Move the clock to `at` and fire what is due."""
        self.clock.now = at
        return self.tracker.tick(at)

    def clocks(self, subject_id: str | None = None, kind: str | None = None,
               state: str | None = None) -> list[ClockRow]:
        """Return clocks, filtered, by due time."""
        query = select(ClockRow).order_by(ClockRow.due_at, ClockRow.kind)
        if subject_id is not None:
            query = query.where(ClockRow.subject_id == subject_id)
        if kind is not None:
            query = query.where(ClockRow.kind == kind)
        if state is not None:
            query = query.where(ClockRow.state == state)
        with self.services.db.read() as session:
            return list(session.execute(query).scalars())

    def due(self, subject_id: str, kind: str) -> datetime:
        """Return the due time of the one pending clock of a kind for a subject."""
        pending = self.clocks(subject_id, kind, "PENDING")
        assert len(pending) == 1, [(c.kind, c.due_at, c.state) for c in pending]
        return pending[0].due_at

    def items(self, kind: str | None = None) -> list[CoordinatorItemRow]:
        """Return coordinator items, of one kind if given."""
        query = select(CoordinatorItemRow).order_by(CoordinatorItemRow.created_at)
        if kind is not None:
            query = query.where(CoordinatorItemRow.kind == kind)
        with self.services.db.read() as session:
            return list(session.execute(query).scalars())

    def deliveries(self, reason_contains: str = "") -> list[DeliveryRow]:
        """Return delivery rows whose reason contains the text."""
        with self.services.db.read() as session:
            rows = session.execute(select(DeliveryRow).order_by(DeliveryRow.created_at))
            return [r for r in rows.scalars() if reason_contains in r.reason]

    def rhi(self, episode_id: str) -> RhiRow:
        """Return the RHI record of an episode."""
        with self.services.db.read() as session:
            row = session.execute(select(RhiRow).where(RhiRow.episode_id == episode_id)
                                  ).scalar_one()
            return row


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Directory]:
    """Migrate one SQLite database and load the directory once for the whole run."""
    data_dir = tmp_path_factory.mktemp("tracking-template")
    services = _services(data_dir, f"sqlite:///{data_dir / 'gateway.db'}")
    services.prepare()
    services.db.dispose()
    return data_dir / "gateway.db", services.directory


def _services(data_dir: Path, database_url: str) -> Services:
    settings = load_settings({"GATEWAY_DATA_DIR": str(data_dir),
                              "GATEWAY_DATA_KEY": new_key_text(),
                              "DATABASE_URL": database_url})
    return Services(settings, clock=FakeClock(T0), enqueue=Enqueued(), postcodes=object())


@pytest.fixture
def world(template: tuple[Path, Directory], tmp_path: Path) -> World:
    """Return a fresh tracking world on a copy of the migrated SQLite database.

    Copying a migrated file and sharing the loaded directory keeps a test's set-up to
    milliseconds; without fsync, as nothing here is about durability on power loss.
    """
    database, directory = template
    shutil.copyfile(database, tmp_path / "gateway.db")
    services = _services(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}")
    services.__dict__["directory"] = directory  # the cached_property's slot

    @event.listens_for(services.db.engine, "connect")
    def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    return World(services)
