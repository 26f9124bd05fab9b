"""The production profile: PostgreSQL, a Redis broker and two real Celery worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.clock import system_clock
from gateway.intake.senders import issue_token
from gateway.services import Services
from gateway.settings import load_settings
from gateway.store.models import DeliveryRow
from gateway.store.sealing import new_key_text
from tests.conftest import REPO, need_server
from tests.support.messages import compact

FORCE = "warwickshire-police"


@pytest.fixture
def redis_server() -> Iterator[Any]:
    """Start a real Redis server."""
    from tests.support.redis import RedisServer

    try:
        server = RedisServer()
    except RuntimeError as exc:
        need_server(f"Redis ({exc})")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def production_env(tmp_path: Path, postgres_server: Any, redis_server: Any,
                   demo_pki: Any) -> dict[str, str]:
    """Environment of a production deployment: PostgreSQL, Redis, a data key, shared data."""
    (tmp_path / "data" / "keys").mkdir(parents=True)
    (tmp_path / "data" / "keys" / "pki").symlink_to(demo_pki.root)
    return {
        "DATABASE_URL": postgres_server.create_database(f"p_{uuid.uuid4().hex[:10]}"),
        "BROKER_URL": redis_server.url,
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_DATA_KEY": new_key_text(),
        "GATEWAY_CACHE_DIR": str(REPO / "var" / "test-cache"),
    }


def start_worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen[bytes]:
    """Start one Celery worker process with its own node name."""
    handle = open(log, "wb")  # noqa: SIM115 - closed when the process is reaped
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "gateway.worker", "worker", "--pool", "solo",
         "--loglevel", "INFO", "-n", f"{name}@%h"],
        env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)


def test_slice_on_postgresql_and_redis_with_two_workers(production_env: dict[str, str],
                                                         tmp_path: Path) -> None:
    settings = load_settings(production_env)
    services = Services(settings)
    services.prepare()
    with services.db.unit_of_work() as session:
        token = issue_token(session, FORCE, "test", system_clock(), actor="test")

    from gateway import worker
    from gateway.app import create_app

    worker.celery_app.conf.broker_url = production_env["BROKER_URL"]
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    workers = [start_worker(production_env, f"w{i + 1}", logs[i]) for i in range(2)]
    try:
        client = create_app(services).test_client()
        receipts = []
        for n in range(12):
            message = compact("missing_reported_basic", force=FORCE, reference=f"WK-PROD-{n:03d}")
            response = client.post("/api/v1/inbound/compact", data=message,
                                   headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 202, response.get_json()
            receipts.append(response.get_json())
        expected = {d for r in receipts for d in r["deliveries"]}
        assert len(expected) >= 24

        deadline = time.monotonic() + 90
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            with services.db.read() as session:
                statuses = dict(session.execute(select(DeliveryRow.id, DeliveryRow.status).where(
                    DeliveryRow.id.in_(expected))).all())
            if len(statuses) == len(expected) and all(s == "SENT" for s in statuses.values()):
                break
            time.sleep(0.5)
        assert set(statuses) == expected
        assert set(statuses.values()) == {"SENT"}, statuses
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.wait(timeout=30)

    drop = settings.drop_root / "drop"
    files = [p.name for p in drop.rglob("*") if p.is_file()]
    assert all(name.endswith(".p7m") for name in files)  # no partial upload left behind
    stems = [name.split(".", 1)[0] for name in files]
    # Each copy exactly once (tracking may add chase copies to police: they count too).
    assert sorted(stem for stem in stems if stem in expected) == sorted(expected)
    assert len(stems) == len(set(stems))
    worked = [log.read_text(errors="replace").count("succeeded in") for log in logs]
    assert all(count > 0 for count in worked), worked  # both workers took deliveries
