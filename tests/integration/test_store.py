"""The store on SQLite (WAL) and a real PostgreSQL: schema, sealing, audit chain, idempotency."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gateway.services import Services
from gateway.store import audit
from gateway.store.models import InboundMessage, MessageKey
from gateway.store.sealing import SealingError

T = datetime(2026, 3, 17, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(make_services: Callable[..., Services], database_url: str) -> Services:
    """Prepared services on the parametrised database (SQLite and PostgreSQL)."""
    return make_services(database_url)


def test_migration_creates_every_table(store: Services) -> None:
    tables = set(inspect(store.db.engine).get_table_names())
    assert {"inbound_messages", "message_keys", "episodes", "events", "deliveries", "clocks",
            "coordinator_items", "audit_log", "senders", "alembic_version"} <= tables
    store.prepare()  # a second upgrade is a no-op, not an error


def test_sqlite_runs_in_wal_mode(make_services: Callable[..., Services]) -> None:
    services = make_services()
    with services.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_raw_message_is_sealed_at_rest_and_opens_only_unaltered(store: Services) -> None:
    raw = "<MissingPersonNotification>Zoë</MissingPersonNotification>".encode()
    message_id = store.pipeline.receive("compact", raw, "kent-police")
    with store.db.read() as session:
        row = session.get(InboundMessage, message_id)
        assert row is not None
        assert raw not in row.sealed_body
        assert b"Zo" not in row.sealed_body
        assert len(row.sha256) == 64
        assert row.size == len(raw)
    assert store.pipeline.raw_body(message_id) == raw
    with store.db.unit_of_work() as session:
        row = session.get(InboundMessage, message_id)
        assert row is not None
        sealed = bytearray(row.sealed_body)
        sealed[-1] ^= 0x01
        row.sealed_body = bytes(sealed)
    with pytest.raises(SealingError):
        store.pipeline.raw_body(message_id)


def test_audit_chain_verifies_then_detects_a_tampered_row(store: Services) -> None:
    with store.db.unit_of_work() as session:
        for n in range(5):
            audit.record(session, at=T, actor="test", action="thing.done",
                         subject_type="thing", subject_id=str(n), detail={"n": n})
    with store.db.read() as session:
        report = audit.verify_chain(session)
    assert report.ok
    assert report.entries == 5

    # Someone with raw database access lifts the guard and edits an entry.
    with store.db.engine.begin() as connection:
        if store.db.is_sqlite:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        connection.execute(text(
            "UPDATE audit_log SET detail = '{\"n\": 99}' WHERE subject_id = '2'"))
    with store.db.read() as session:
        report = audit.verify_chain(session)
    assert not report.ok
    assert report.broken_at == 3
    assert "altered" in report.reason


def test_audit_log_refuses_updates_and_deletes(store: Services) -> None:
    with store.db.unit_of_work() as session:
        audit.record(session, at=T, actor="test", action="a", subject_type="t", subject_id="1")
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.db.engine.begin() as conn:
            conn.execute(text(statement))
    with store.db.read() as session:
        assert session.execute(select(audit.AuditEntry.actor)).scalars().all() == ["test"]


def test_idempotency_key_is_unique_in_the_database(store: Services) -> None:
    first = store.pipeline.receive("compact", b"<a/>", "kent-police")
    second = store.pipeline.receive("compact", b"<b/>", "kent-police")
    with store.db.unit_of_work() as session:
        session.add(MessageKey(force="kent-police", police_reference="R", event_type="FOUND",
                               revision=1, inbound_message_id=first))
    with pytest.raises(IntegrityError), store.db.unit_of_work() as session:
        session.add(MessageKey(force="kent-police", police_reference="R", event_type="FOUND",
                               revision=1, inbound_message_id=second))


def test_naive_datetimes_are_refused(store: Services) -> None:
    with pytest.raises(Exception, match="offset"), store.db.unit_of_work() as session:
        audit.record(session, at=datetime(2026, 1, 1), actor="t", action="a",
                     subject_type="t", subject_id="1")
