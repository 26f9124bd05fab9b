"""Time each dashboard page with 10,000 episodes in the store, for each role.

Fills a fresh store (SQLite by default, or --database-url for PostgreSQL) with N episodes
(a third still missing, graded across the risk scale), two or three copies each (1 % held), an
open item for one in ten, a Return Home Interview for every other found child, acknowledgement
clocks for one copy in ten, and one audit entry per episode; then
renders every page through the Flask app as a regional coordinator and as a council user, and
prints the median and 95th-percentile time per page. The target is under 300 ms.

Run: .venv/bin/python bench/bench_dashboard.py [--episodes 10000] [--rounds 20]
     [--postgres | --database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, profiles

from adapters.registry import police_adapters
from gateway.accounts.passwords import use_hasher
from gateway.accounts.roles import Role
from gateway.accounts.users import create_user
from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.dashboard import register
from gateway.domain.episode import Episode
from gateway.domain.schemas import episode_to_json, notification_to_json
from gateway.services import Services
from gateway.settings import load_settings
from gateway.store import audit
from gateway.store.models import (
    ClockRow,
    CoordinatorItemRow,
    DeliveryRow,
    EpisodeRow,
    EventRow,
    new_id,
)
from gateway.store.sealing import new_key_text
from gateway.store.tracking_models import RhiRow

REPO = Path(__file__).resolve().parents[1]
FIXTURE = (REPO / "tests" / "unit" / "adapters" / "fixtures" / "compact"
           / "missing_reported_basic.xml")
PASSWORD = "benchmark password 1"
GRADES = ["HIGH", "MEDIUM", "LOW", "NO_APPARENT_RISK"]
AUTHORITIES = ["kent", "medway", "warwickshire", "derby", "derbyshire", "halton", "warrington"]
NAMES = ["Amelia Hart", "Noah Reid", "Olivia Khan", "Leo Patel", "Isla Evans", "Jack Smith"]


def fill(services: Services, episodes: int, seed: int = 7) -> list[str]:
    """Insert `episodes` episodes with their events, copies, items and clocks; return ids."""
    rng = random.Random(seed)
    now = services.clock()
    notification = police_adapters()["compact"].parse(FIXTURE.read_bytes(), None)
    data = episode_to_json(Episode.open(notification))
    notification_json = notification_to_json(notification)
    ids: list[str] = []
    batch = 1000
    for start in range(0, episodes, batch):
        with services.db.unit_of_work() as session:
            # Parents first: rows without relationships are not ordered by foreign keys.
            rows: dict[str, list[Any]] = {"episodes": [], "events": [], "rest": [], "acks": []}
            for n in range(start, min(start + batch, episodes)):
                episode_id, event_id = new_id(), new_id()
                ids.append(episode_id)
                responsible = rng.choice(AUTHORITIES)
                host = rng.choice(AUTHORITIES)
                opened = now - timedelta(hours=rng.randint(1, 24 * 60))
                missing = n % 3 == 0
                rows["episodes"].append(EpisodeRow(
                    id=episode_id, force="warwickshire-police",
                    police_reference=f"WK-MP-2026-{n:06d}", state="MISSING" if missing
                    else "FOUND", risk_grade=rng.choice(GRADES),
                    child_name=rng.choice(NAMES), child_dob=f"201{n % 10}-0{1 + n % 9}-1{n % 9}",
                    council_child_id=f"CC-{n:06d}", responsible_authority=responsible,
                    host_authority=host, opened_at=opened, last_revision=1, data=data,
                    revisions={"MISSING_REPORTED": 1}, updated_at=opened))
                rows["events"].append(EventRow(id=event_id, episode_id=episode_id,
                                     event_type="MISSING_REPORTED", revision=1,
                                     occurred_at=opened, recorded_at=opened, applied=True,
                                     notification=notification_json))
                copies = [(responsible, "front_door", "ACTION"),
                          (responsible, "missing_coordinator", "INFORMATION")]
                if host != responsible:
                    copies.append((host, "rhi_service", "INFORMATION"))
                for authority, team, role in copies:
                    status = "HELD" if rng.random() < 0.01 else "SENT"
                    delivery_id = new_id()
                    rows["rest"].append(DeliveryRow(
                        id=delivery_id, event_id=event_id, episode_id=episode_id,
                        authority=authority, team=team, role=role, reason="benchmark",
                        profile="action",
                        channel={"kind": "folder", "address": f"drop/{authority}/{team}"},
                        status=status, attempts=1, created_at=opened,
                        sent_at=opened if status == "SENT" else None))
                    if rng.random() < 0.1:
                        rows["acks"].append(ClockRow(
                            kind="ack_received", subject_type="delivery",
                            subject_id=delivery_id, created_at=opened,
                            due_at=now + timedelta(hours=rng.randint(-8, 8)), data={}))
                if n % 10 == 0:
                    rows["rest"].append(CoordinatorItemRow(
                        kind=rng.choice(["no_route", "escalation_ack", "repeat_missing_3_in_90",
                                         "no_channel"]), message=f"benchmark item {n}",
                        authority=responsible, episode_id=episode_id, created_at=opened))
                if not missing and n % 2 == 1:
                    rows["rest"].append(RhiRow(
                        episode_id=episode_id, responsible_authority=responsible,
                        conducting_authority=responsible, clock_start="return",
                        start_at=opened, due_at=now + timedelta(hours=rng.randint(-48, 96)),
                        status=rng.choice(["DUE", "OFFERED", "COMPLETED"]), required=True,
                        created_at=opened, updated_at=opened))
            for kind in ("episodes", "events", "rest", "acks"):
                session.add_all(rows[kind])
                session.flush()
        with services.db.unit_of_work() as session:
            for episode_id in ids[start:start + batch]:
                audit.record(session, at=now, actor="bench", action="episode.event_applied",
                             subject_type="episode", subject_id=episode_id, detail={})
    return ids


def sign_in(client: Any, username: str) -> None:
    """Sign in through the form."""
    import re

    page = client.get("/dashboard/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    response = client.post("/dashboard/login", data={
        "username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert response.status_code == 302, response.text


def time_page(client: Any, path: str, rounds: int) -> tuple[float, float, int]:
    """Return the median and p95 milliseconds of GET `path`, and its size in bytes."""
    times = []
    size = 0
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
        size = len(response.data)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], size


def main() -> None:
    """Fill a store and print page times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres", action="store_true",
                        help="start a throw-away PostgreSQL server (tests/support/postgres.py)")
    args = parser.parse_args()
    if args.postgres:
        import sys

        sys.path.insert(0, str(REPO))
        from tests.support.postgres import PostgresServer

        server = PostgresServer()
        server.start()
        try:
            args.database_url = server.create_database("bench_dashboard")
            run(args)
        finally:
            server.stop()
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    """Fill a store and print page times, for the parsed arguments."""
    use_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        settings = load_settings({"GATEWAY_DATA_DIR": tmp, "GATEWAY_DATA_KEY": new_key_text(),
                                  "DATABASE_URL": url})
        from datetime import UTC, datetime

        services = Services(settings, clock=FakeClock(datetime(2026, 3, 17, 10, tzinfo=UTC)),
                            enqueue=lambda ids: None, postcodes=object())
        services.prepare()
        started = time.perf_counter()
        ids = fill(services, args.episodes)
        print(f"filled {args.episodes} episodes in {time.perf_counter() - started:.1f} s "
              f"({services.db.engine.dialect.name})")
        app = create_app(services)
        register(app, services)
        with services.db.unit_of_work() as session:
            for username, role, organisation in (("regional", Role.REGIONAL, None),
                                                 ("kent", Role.AUTHORITY, "kent"),
                                                 ("police", Role.FORCE, "warwickshire-police")):
                create_user(session, username=username, password=PASSWORD, role=role,
                            organisation=organisation, now=services.clock(), actor="bench")
        pages = {
            "today": "/dashboard/today",
            "today live": "/dashboard/today/live",
            "episode": f"/dashboard/episodes/{ids[len(ids) // 2]}",
            "deliveries": "/dashboard/deliveries",
            "held deliveries": "/dashboard/deliveries?status=HELD",
            "search reference": "/dashboard/search?police_reference=WK-MP-2026-004242",
            "search name+dob": "/dashboard/search?name=amelia+hart&dob-day=12&dob-month=3"
                               "&dob-year=2012",
            "search authority": "/dashboard/search?authority=kent",
            "authorities": "/dashboard/authorities",
            "audit": "/dashboard/audit",
            "audit search": "/dashboard/audit?q=event_applied",
        }
        print(f"{'page':<20} {'role':<10} {'median ms':>10} {'p95 ms':>8} {'KB':>6}")
        worst = 0.0
        for username in ("regional", "kent", "police"):
            client = app.test_client()
            sign_in(client, username)
            for name, path in pages.items():
                if username != "regional" and name in ("authorities", "audit", "audit search"):
                    continue
                if name == "episode" and username == "kent":
                    path = f"/dashboard/episodes/{_kent_episode(services)}"
                median, p95, size = time_page(client, path, args.rounds)
                worst = max(worst, p95)
                print(f"{name:<20} {username:<10} {median:>10.1f} {p95:>8.1f} "
                      f"{size / 1024:>6.0f}")
        print(f"slowest p95: {worst:.1f} ms (target < 300 ms)")


def _kent_episode(services: Services) -> str:
    """Return an episode Kent is responsible for."""
    from sqlalchemy import select

    with services.db.read() as session:
        return str(session.execute(select(EpisodeRow.id).where(
            EpisodeRow.responsible_authority == "kent").limit(1)).scalar_one())


if __name__ == "__main__":
    main()
