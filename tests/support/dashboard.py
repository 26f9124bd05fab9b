"""A dashboard world for tests: the app, one user of each role, and two episodes.

Episode A: Warwickshire Police, a child in Kent's care placed in Warwickshire (Kent acts,
Warwickshire is told). Episode B: Derbyshire Constabulary, a child missing from home in Derby.
The copies to Kent and to Derby are held (their drop folders are broken), so each episode has a
held delivery and a `delivery_held` item; the broken folders are mended afterwards so a re-send
succeeds.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.accounts.roles import Role
from gateway.accounts.users import create_user
from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.services import Services
from gateway.store.models import CoordinatorItemRow, DeliveryRow
from tests.support.messages import compact

WARWICKSHIRE_POLICE = "warwickshire-police"
DERBYSHIRE_POLICE = "derbyshire-constabulary"
PASSWORD = "correct horse battery staple"
# user name → (role, organisation, episodes in scope)
USERS: dict[str, tuple[Role, str | None, frozenset[str]]] = {
    "kent.user": (Role.AUTHORITY, "kent", frozenset({"A"})),
    "derby.user": (Role.AUTHORITY, "derby", frozenset({"B"})),
    "warks.police": (Role.FORCE, WARWICKSHIRE_POLICE, frozenset({"A"})),
    "regional": (Role.REGIONAL, None, frozenset({"A", "B"})),
    "admin": (Role.ADMIN, None, frozenset({"A", "B"})),
}


@dataclass
class World:
    """The app, its services and the ids of what was seeded."""

    app: Flask
    services: Services
    episodes: dict[str, str]  # "A" / "B" → episode id
    held: dict[str, str]  # "A" / "B" → id of the held delivery
    items: dict[str, str]  # "A" / "B" → id of its delivery_held item
    messages: dict[str, str]  # "A" / "B" → a quarantined message from that episode's force


def send(services: Services, message: bytes, force: str) -> Any:
    """Receive and process one message as the intake does."""
    return services.pipeline.process(services.pipeline.receive("compact", message, force))


def deliver_all(services: Services) -> list[str]:
    """Run every queued delivery, as a worker would."""
    queue: list[str] = services.enqueue  # type: ignore[assignment]
    statuses = [services.outbox.deliver_one(i) for i in list(queue)]
    queue.clear()
    return statuses


def build_app(services: Services) -> Flask:
    """Return the gateway app with the dashboard registered and one user per entry of USERS."""
    app = create_app(services)
    with services.db.unit_of_work() as session:
        for username, (role, organisation, _) in USERS.items():
            create_user(session, username=username, password=PASSWORD, role=role,
                        organisation=organisation, now=services.clock(), actor="test")
    return app


def break_folder(services: Services, authority: str) -> None:
    """Put a file where an authority's drop folder should be, so every copy to it fails."""
    folder = services.settings.drop_root / "drop" / authority
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder")


def mend_folder(services: Services, authority: str) -> None:
    """Remove the file that broke an authority's drop folder."""
    (services.settings.drop_root / "drop" / authority).unlink(missing_ok=True)


def seed(services: Services) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Send episodes A and B, hold the copies to Kent and Derby; return episode, held, item ids.

    Also sends each force one message that cannot be parsed, which is quarantined.
    """
    a = send(services, compact("missing_reported_basic", force=WARWICKSHIRE_POLICE),
             WARWICKSHIRE_POLICE)
    b = send(services, compact("missing_from_home", force=DERBYSHIRE_POLICE), DERBYSHIRE_POLICE)
    break_folder(services, "kent")
    break_folder(services, "derby")
    queued: list[str] = list(services.enqueue)  # type: ignore[call-overload]
    deliver_all(services)
    clock: FakeClock = services.clock  # type: ignore[assignment]
    clock.advance(timedelta(hours=25))
    for delivery_id in queued:
        services.outbox.deliver_one(delivery_id)
    mend_folder(services, "kent")
    mend_folder(services, "derby")
    episodes = {"A": a.episode_id, "B": b.episode_id}
    held: dict[str, str] = {}
    items: dict[str, str] = {}
    with services.db.read() as session:
        for key, authority in (("A", "kent"), ("B", "derby")):
            row = session.execute(select(DeliveryRow).where(
                DeliveryRow.episode_id == episodes[key], DeliveryRow.authority == authority,
                DeliveryRow.status == "HELD").order_by(DeliveryRow.team)).scalars().first()
            assert row is not None, f"no held delivery to {authority}"
            held[key] = row.id
            items[key] = session.execute(select(CoordinatorItemRow.id).where(
                CoordinatorItemRow.delivery_id == row.id)).scalar_one()
    return episodes, held, items


def build_world(services: Services) -> World:
    """Seed the services and build the app."""
    episodes, held, items = seed(services)
    messages = {key: send(services, b"<not a police message", force).id
                for key, force in (("A", WARWICKSHIRE_POLICE), ("B", DERBYSHIRE_POLICE))}
    return World(build_app(services), services, episodes, held, items, messages)


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """Return the CSRF token of the first form on a page."""
    found = _TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; return the CSRF token of the signed-in session."""
    page = client.get("/dashboard/login")
    response = client.post("/dashboard/login", data={
        "username": username, "password": password, "csrf_token": csrf_from(page.text)})
    assert response.status_code == 302, response.text
    today = client.get("/dashboard/today")
    assert today.status_code == 200
    return csrf_from(today.text)


@contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """Hash passwords with argon2's cheapest profile for the block (tests only: it is fast)."""
    from argon2 import PasswordHasher, profiles

    from gateway.accounts.passwords import use_hasher

    previous = use_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    try:
        yield
    finally:
        use_hasher(previous)
