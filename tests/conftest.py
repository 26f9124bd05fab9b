"""Shared fixtures: the embedded services on a fake clock, PostgreSQL, the postcode index."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import FakeClock
from gateway.services import Services
from gateway.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "unit" / "adapters" / "fixtures"
# A Tuesday in office hours, GMT.
T0 = datetime(2026, 3, 17, 10, 0, tzinfo=UTC)


def need_server(what: str) -> None:
    """Skip when a real server is not installed, or fail when CI says servers are required."""
    message = f"{what} is not available on this machine"
    if os.environ.get("GATEWAY_REQUIRE_SERVERS") == "1":
        pytest.fail(message + " (GATEWAY_REQUIRE_SERVERS=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """Start one real PostgreSQL server for the whole run."""
    from tests.support.postgres import PostgresServer

    try:
        server = PostgresServer()
    except RuntimeError as exc:
        need_server(f"PostgreSQL ({exc})")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postcode_index() -> Any:
    """Load the real postcode index once, cached under var/test-cache between runs."""
    from routing.geography import PostcodeIndex

    return PostcodeIndex.load(cache_dir=REPO / "var" / "test-cache")


@pytest.fixture(scope="session")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Create the demo PKI once: a CA, the gateway's keys and keys for every demo party."""
    from gateway.delivery.crypto.demo_pki import init_demo_pki
    from routing.directory_loader import load_directory

    directory = load_directory(REPO / "config" / "demo")
    names = sorted({*directory.authorities, *directory.forces})
    # Issued before the fake clock's T0 and valid (two years) past the wall clock today.
    issued = datetime(2025, 12, 1, tzinfo=UTC)
    return init_demo_pki(tmp_path_factory.mktemp("pki"), names, "ec", now=issued)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Yield a fresh database URL on SQLite (WAL) and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"t_{uuid.uuid4().hex[:12]}"))


class Enqueued(list[str]):
    """Delivery ids handed to the queue, in order (the tests' stand-in for the broker)."""

    def __call__(self, ids: Any) -> None:
        """Record the ids."""
        self.extend(ids)


@pytest.fixture
def make_services(tmp_path: Path, postcode_index: Any,
                  demo_pki: Any) -> Callable[..., Services]:
    """Return a factory of prepared Services on a fake clock with a recording queue."""

    def build(database_url: str | None = None, *, tracking: bool = False, **env: str) -> Services:
        """Build Services; tracking (clocks, chases) is off unless a test asks for it."""
        data_dir = tmp_path / f"data-{uuid.uuid4().hex[:6]}"
        # The demo directory names certificates under <data dir>/keys/pki: share one PKI.
        (data_dir / "keys").mkdir(parents=True)
        (data_dir / "keys" / "pki").symlink_to(demo_pki.root)
        from gateway.store.sealing import new_key_text

        overrides = {"GATEWAY_DATA_DIR": str(data_dir), "GATEWAY_DATA_KEY": new_key_text(),
                     "DATABASE_URL": database_url or f"sqlite:///{data_dir / 'gateway.db'}",
                     **env}
        settings = load_settings(overrides)
        services = Services(settings, clock=FakeClock(T0), enqueue=Enqueued(),
                            postcodes=postcode_index, tracking=tracking)
        services.prepare()
        return services

    return build


@pytest.fixture
def services(make_services: Callable[..., Services]) -> Services:
    """Prepared embedded Services on SQLite."""
    return make_services()
