"""Receipts and RHI outcomes from councils' case systems, through the API and the service."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from adapters.registry import case_system_adapter
from gateway.app import create_app
from gateway.clock import system_clock
from gateway.domain.enums import InboundStatus
from gateway.domain.receipts import (
    CaseSystemReceipt,
    GatewayReference,
    MatchKey,
    ReceiptStatus,
    RhiOutcome,
    RhiStatus,
    YesNoNa,
    receipt_to_json,
    rhi_outcome_to_json,
)
from gateway.domain.routing import Channel
from gateway.intake.acks_poller import AcksPoller, AcksSource, acks_source, folder_sources
from gateway.intake.quarantine import list_quarantined
from gateway.intake.receipts_api import register
from gateway.intake.senders import issue_token
from gateway.receipts_service import ReceiptsService
from gateway.services import Services
from gateway.store.models import CoordinatorItemRow, DeliveryRow, EventRow, InboundMessage
from gateway.store.receipt_models import CaseSystemReceiptRow
from gateway.store.tracking_models import DeliveryAckRow, RhiRow
from gateway.tracking.wiring import install
from tests.support.messages import compact
from tests.support.sshd import SshServer

FORCE = "warwickshire-police"
REFERENCE = "WK-MP-2026-000417"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
SENSITIVE = "SENSITIVE: disclosed the name of the adult at 14 Elm Row"


@pytest.fixture
def world(make_services: Callable[..., Services]) -> tuple[Services, FlaskClient, dict[str, str]]:
    """Services with a delivered missing report, a test client and council tokens."""
    services = make_services(GATEWAY_MAX_BODY_BYTES="200000")
    install(services)
    services.pipeline.process(services.pipeline.receive(
        "compact", compact("missing_reported_basic", force=FORCE), FORCE))
    deliver_all(services)
    tokens = {}
    with services.db.unit_of_work() as session:
        for name in ("kent", "warwickshire", "hub"):
            tokens[name] = issue_token(session, name, "test", system_clock(), "test",
                                       role="coordinator")
        tokens["force"] = issue_token(session, FORCE, "test", system_clock(), "test")
    app = create_app(services)
    if "receipts_api" not in app.blueprints:
        register(app)
    return services, app.test_client(), tokens


def deliver_all(services: Services) -> None:
    """Run every queued delivery, as a worker would."""
    queue: list[str] = services.enqueue  # type: ignore[assignment]
    for delivery_id in list(queue):
        services.outbox.deliver_one(delivery_id)
    queue.clear()


def delivery(services: Services, authority: str) -> DeliveryRow:
    """Return one copy the authority received (its first)."""
    with services.db.read() as session:
        row = session.execute(select(DeliveryRow).where(DeliveryRow.authority == authority)
                              .order_by(DeliveryRow.created_at)).scalars().first()
    assert row is not None
    return row


def receipt(services: Services, delivery_id: str, status: ReceiptStatus,
            **fields: Any) -> CaseSystemReceipt:
    """Build a receipt for one delivered copy."""
    return CaseSystemReceipt(system="api", delivery_id=delivery_id, status=status,
                             at=services.clock(), **fields)


def post(client: FlaskClient, path: str, body: bytes, token: str | None,
         content_type: str = "application/xml") -> Any:
    """POST a file as a council's system does."""
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(path, data=body, headers=headers)


def items(services: Services) -> list[CoordinatorItemRow]:
    """Return every coordinator item."""
    with services.db.read() as session:
        return list(session.execute(select(CoordinatorItemRow)).scalars())


def test_mosaic_acceptance_records_the_ack_and_the_councils_ids(world: Any) -> None:
    services, client, tokens = world
    copy = delivery(services, "warwickshire")
    accepted = receipt(services, copy.id, ReceiptStatus.ACCEPTED, council_episode_id="WS-881",
                       council_person_id="P-77120", matched_by=MatchKey.NHS_NUMBER)
    raw = case_system_adapter("mosaic").write_receipt(  # type: ignore[attr-defined]
        accepted, f"{copy.id}.xml.p7m")
    response = post(client, "/api/v1/acks", raw, tokens["warwickshire"])
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "PROCESSED"
    assert body["delivery_id"] == copy.id
    assert body["receipt_status"] == "ACCEPTED"
    with services.db.read() as session:
        ack = session.get(DeliveryAckRow, copy.id)
        row = session.execute(select(CaseSystemReceiptRow)).scalar_one()
        message = session.get(InboundMessage, body["receipt_id"])
    assert ack is not None
    assert ack.accepted_at is not None
    assert (row.council_episode_id, row.council_person_id, row.matched_by) == (
        "WS-881", "P-77120", "NHS_NUMBER")
    assert (message.format, message.sender) == ("mosaic-ack", "warwickshire")
    assert services.pipeline.raw_body(message.id) == raw  # kept sealed, as received


@pytest.mark.parametrize(("status", "extra", "kind"), [
    (ReceiptStatus.REJECTED, {"reasons": ("LA child id KCC-204811 is closed",)},
     "case_system_rejected"),
    (ReceiptStatus.NO_MATCH, {}, "case_system_no_match"),
    (ReceiptStatus.MULTIPLE_MATCHES, {"candidates": 3}, "case_system_several_matches"),
])
def test_a_receipt_a_person_must_act_on_raises_an_item(world: Any, status: ReceiptStatus,
                                                       extra: dict[str, Any],
                                                       kind: str) -> None:
    services, client, tokens = world
    copy = delivery(services, "kent")
    body = json.dumps(receipt_to_json(receipt(services, copy.id, status, **extra))).encode()
    response = post(client, "/api/v1/acks", body, tokens["kent"], "application/json")
    assert response.status_code == 202, response.get_json()
    raised = [i for i in items(services) if i.kind == kind]
    assert len(raised) == 1
    assert raised[0].delivery_id == copy.id
    assert raised[0].authority == "kent"
    if status is ReceiptStatus.REJECTED:
        assert "LA child id KCC-204811 is closed" in raised[0].message
    with services.db.read() as session:
        ack = session.get(DeliveryAckRow, copy.id)
    assert ack is not None
    assert ack.received_at is not None
    assert ack.accepted_at is None  # it arrived; it was not imported


def test_malformed_file_is_refused_with_reasons_and_kept_in_quarantine(world: Any) -> None:
    services, client, tokens = world
    raw = b"<MosaicImportResult><Outcome>IMPORTED</Outcome></MosaicImportResult>"
    response = post(client, "/api/v1/acks", raw, tokens["warwickshire"])
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["errors"]
    listed = list_quarantined(services, "coordinator:test")
    assert [m.id for m in listed] == [problem["receipt_id"]]
    assert listed[0].format == "mosaic-ack"
    assert services.pipeline.raw_body(problem["receipt_id"]) == raw
    assert [i.kind for i in items(services)].count("case_system_file_rejected") == 1


def test_receipt_for_another_councils_copy_is_refused(world: Any) -> None:
    services, client, tokens = world
    copy = delivery(services, "kent")
    body = json.dumps(receipt_to_json(receipt(
        services, copy.id, ReceiptStatus.RECEIVED))).encode()
    response = post(client, "/api/v1/acks?form=json", body, tokens["warwickshire"])
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "delivery_id"
    with services.db.read() as session:
        assert session.get(DeliveryAckRow, copy.id).received_at is None


def test_tokens_decide_who_may_post_for_whom(world: Any) -> None:
    services, client, tokens = world
    copy = delivery(services, "kent")
    body = json.dumps(receipt_to_json(receipt(
        services, copy.id, ReceiptStatus.RECEIVED))).encode()
    assert post(client, "/api/v1/acks", body, None, "application/json").status_code == 401
    assert post(client, "/api/v1/acks", body, tokens["force"],
                "application/json").status_code == 401
    assert post(client, "/api/v1/acks?authority=kent", body, tokens["warwickshire"],
                "application/json").status_code == 403
    assert post(client, "/api/v1/acks", body, tokens["hub"],
                "application/json").status_code == 422  # a hub must name the authority
    assert post(client, "/api/v1/acks?authority=kent", body, tokens["hub"],
                "application/json").status_code == 202
    unknown = post(client, "/api/v1/acks?form=" + "x" * 80, body, tokens["kent"])
    assert unknown.status_code == 422
    assert unknown.get_json()["title"] == "Unknown form"


def test_the_same_receipt_twice_is_a_duplicate(world: Any) -> None:
    services, client, tokens = world
    copy = delivery(services, "kent")
    body = json.dumps(receipt_to_json(receipt(
        services, copy.id, ReceiptStatus.RECEIVED))).encode()
    first = post(client, "/api/v1/acks", body, tokens["kent"], "application/json")
    second = post(client, "/api/v1/acks", body, tokens["kent"], "application/json")
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.get_json()["status"] == "DUPLICATE"
    with services.db.read() as session:
        assert len(session.execute(select(CaseSystemReceiptRow)).scalars().all()) == 1


def found(services: Services) -> None:
    """Send and deliver the found report."""
    services.pipeline.process(services.pipeline.receive(
        "compact", compact("found", force=FORCE), FORCE))
    deliver_all(services)


def outcome(**fields: Any) -> RhiOutcome:
    """A completed interview, shareable summary included."""
    values: dict[str, Any] = dict(
        system="api", status=RhiStatus.COMPLETED, offered=YesNoNa.YES, accepted=YesNoNa.YES,
        reference=GatewayReference(FORCE, REFERENCE), offered_on=date(2026, 3, 17),
        completed_on=date(2026, 3, 17), completed_by="Warwickshire RHI team",
        summary="Stayed with a friend; a safety plan is agreed.")
    values.update(fields)
    return RhiOutcome(**values)


def test_rhi_outcome_is_recorded_shared_and_stripped_of_disclosures(world: Any) -> None:
    services, client, tokens = world
    found(services)
    data = rhi_outcome_to_json(outcome())
    data["sensitive_disclosures"] = SENSITIVE
    response = post(client, "/api/v1/rhi", json.dumps(data).encode(), tokens["warwickshire"],
                    "application/json")
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["deliveries"]
    assert body["withheld"]
    with services.db.read() as session:
        rhi = session.execute(select(RhiRow)).scalar_one()
        shared = session.execute(select(DeliveryRow).where(
            DeliveryRow.id.in_(body["deliveries"]))).scalars().all()
        event = session.execute(select(EventRow).where(
            EventRow.event_type == "RHI_OUTCOME")).scalar_one()
    assert rhi.status == "COMPLETED"
    assert rhi.outcome_by == "Warwickshire RHI team"
    # Warwickshire held it (host, does RHIs for children placed in): Kent and police are told.
    assert {(d.authority, d.profile) for d in shared} >= {
        (FORCE, "police_rhi_feedback"), ("kent", "rhi_share"), ("kent", "iro")}
    assert SENSITIVE not in json.dumps(event.notification)
    assert "14 Elm Row" not in json.dumps(event.notification)


def test_rhi_export_in_the_councils_own_format_through_the_service(world: Any) -> None:
    services, _, _ = world
    found(services)
    raw = case_system_adapter("mosaic").write_rhi_export(  # type: ignore[attr-defined]
        outcome(system="mosaic"), sensitive=SENSITIVE)
    result = ReceiptsService(services).ingest_rhi("warwickshire", raw, channel="sftp")
    assert result.status is InboundStatus.PROCESSED
    assert result.deliveries
    again = ReceiptsService(services).ingest_rhi("warwickshire", raw, channel="sftp")
    assert again.status is InboundStatus.DUPLICATE


def test_rhi_outcome_for_an_episode_the_council_never_had_is_refused(world: Any) -> None:
    services, client, tokens = world
    found(services)
    data = rhi_outcome_to_json(outcome(reference=GatewayReference(FORCE, "WK-MP-1999-000001")))
    response = post(client, "/api/v1/rhi", json.dumps(data).encode(), tokens["kent"],
                    "application/json")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "reference"


def test_receipts_table_migrates_on_both_databases(make_services: Callable[..., Services],
                                                   database_url: str) -> None:
    services = make_services(database_url)
    with services.db.read() as session:
        assert session.execute(select(CaseSystemReceiptRow)).scalars().all() == []


# -- the acks poller ---------------------------------------------------------------------------


@pytest.mark.sshd
def test_acks_poller_takes_receipts_and_exports_from_a_councils_sftp_folder(
        world: Any, sshd_server: SshServer) -> None:
    services, _, _ = world
    found(services)
    acks = sshd_server.workdir / "acks"
    acks.mkdir()
    copy = delivery(services, "kent")
    (acks / f"{copy.id}.ack.json").write_bytes(json.dumps(receipt_to_json(receipt(
        services, copy.id, ReceiptStatus.ACCEPTED, council_episode_id="KEP-1",
        council_person_id="KP-1", matched_by=MatchKey.COUNCIL_CHILD_ID))).encode())
    export = rhi_outcome_to_json(outcome(system="secure_mail"))
    export["sensitive_disclosures"] = SENSITIVE
    (acks / "rhi-0417.json").write_bytes(json.dumps(export).encode())
    (acks / "broken.json").write_bytes(b"{not json")
    (acks / "half.json.part").write_bytes(b"{")
    source = AcksSource("kent", "sftp", str(acks), sshd_server.channel(acks))
    report = AcksPoller(services, settle_seconds=0.0).poll(source)
    assert report.error is None, report.error
    assert report.skipped == ["half.json.part"]
    taken = {Path(f.path).name: (f.kind, f.status) for f in report.filed}
    assert taken == {f"{copy.id}.ack.json": ("receipt", "PROCESSED"),
                     "rhi-0417.json": ("rhi", "PROCESSED"),
                     "broken.json": ("receipt", "QUARANTINED")}
    assert sorted(p.name for p in (acks / "processed").iterdir()) == sorted(
        [f"{copy.id}.ack.json", "rhi-0417.json"])
    assert [p.name for p in (acks / "rejected").iterdir()] == ["broken.json"]
    rhi_reply = json.loads((acks / "replies" / "rhi-0417.json.receipt.json").read_text())
    assert rhi_reply["deliveries"]
    assert SENSITIVE not in json.dumps(rhi_reply)
    with services.db.read() as session:
        assert session.get(DeliveryAckRow, copy.id).accepted_at is not None
    # Taken files are gone from the folder: the next poll finds nothing.
    assert AcksPoller(services, settle_seconds=0.0).poll(source).filed == []


def test_acks_poller_reports_an_unreachable_server_once(world: Any) -> None:
    services, _, _ = world
    channel = Channel(kind="sftp", address="sftp://council@127.0.0.1:1/in/acks",
                      options=(("private_key", "/nonexistent/key"), ("host_key", HOST_KEY)))
    source = AcksSource("kent", "sftp", "/in/acks", channel)
    poller = AcksPoller(services, settle_seconds=0.0)
    assert poller.poll(source).error
    assert poller.poll(source).error
    assert [i.kind for i in items(services)].count("acks_pull_failed") == 1


def test_acks_folder_sits_beside_the_drop_folders(world: Any) -> None:
    services, _, _ = world
    source = acks_source(services, "kent")
    assert source is not None
    assert (source.kind, Path(source.folder)) == (
        "folder", services.settings.drop_root / "drop" / "kent" / "acks")
    assert folder_sources(services) == []  # no council has made its acks folder yet
    Path(source.folder).mkdir(parents=True)
    assert [s.authority for s in folder_sources(services)] == ["kent"]


def test_a_file_left_received_by_a_crash_is_finished_not_stored_twice(world: Any) -> None:
    services, _, _ = world
    copy = delivery(services, "kent")
    source = acks_source(services, "kent")
    assert source is not None
    Path(source.folder).mkdir(parents=True)
    body = json.dumps(receipt_to_json(receipt(services, copy.id,
                                              ReceiptStatus.RECEIVED))).encode()
    path = Path(source.folder) / f"{copy.id}.json"
    path.write_bytes(body)
    # The poller died after committing the bytes, before applying them.
    services.pipeline.receive("secure_mail-ack", body, "kent", channel="folder",
                              source_name=str(path))
    report = AcksPoller(services).poll(source)
    assert [f.status for f in report.filed] == ["PROCESSED"]
    with services.db.read() as session:
        assert len(session.execute(select(InboundMessage)).scalars().all()) == 2  # + police
        assert session.get(DeliveryAckRow, copy.id).received_at is not None


def test_rhi_outcome_before_the_found_report_is_kept_then_applied_when_reprocessed(
        world: Any) -> None:
    services, client, tokens = world
    data = json.dumps(rhi_outcome_to_json(outcome())).encode()
    response = post(client, "/api/v1/rhi", data, tokens["warwickshire"], "application/json")
    assert response.status_code == 422  # the child is still missing: no interview yet
    inbound_id = response.get_json()["receipt_id"]
    found(services)
    result = ReceiptsService(services).apply_stored(inbound_id)
    assert result.status is InboundStatus.PROCESSED
    assert result.deliveries
    assert result.as_receipt().deliveries == result.deliveries


def test_the_endpoints_are_documented_in_valid_openapi() -> None:
    from openapi_spec_validator import validate

    from gateway.intake.receipts_api import openapi_paths
    from gateway.openapi import build_spec

    spec = build_spec()
    spec["paths"].update(openapi_paths())
    validate(spec)
    assert {"/api/v1/acks", "/api/v1/rhi"} <= set(spec["paths"])


@pytest.mark.parametrize("system", ["mosaic", "liquidlogic", "secure_mail"])
def test_each_case_systems_receipt_is_read_in_its_own_format(world: Any, system: str) -> None:
    services, _, _ = world
    copy = delivery(services, "kent")
    raw = case_system_adapter(system).write_receipt(  # type: ignore[attr-defined]
        receipt(services, copy.id, ReceiptStatus.ACCEPTED, council_episode_id="E-1",
                council_person_id="P-1", matched_by=MatchKey.NAME_AND_DATE_OF_BIRTH),
        f"{copy.id}.xml.p7m")
    result = ReceiptsService(services).ingest_receipt("kent", raw, form=system)
    assert (result.status, result.receipt_status) == (InboundStatus.PROCESSED, "ACCEPTED")
    with services.db.read() as session:
        row = session.execute(select(CaseSystemReceiptRow)).scalar_one()
    assert (row.system, row.matched_by) == (system, "NAME_AND_DATE_OF_BIRTH")


def test_receipt_and_rhi_outcome_on_both_databases(make_services: Callable[..., Services],
                                                   database_url: str) -> None:
    services = make_services(database_url)
    install(services)
    services.pipeline.process(services.pipeline.receive(
        "compact", compact("missing_reported_basic", force=FORCE), FORCE))
    deliver_all(services)
    copy = delivery(services, "warwickshire")
    service = ReceiptsService(services)
    ack = json.dumps(receipt_to_json(receipt(services, copy.id, ReceiptStatus.NO_MATCH)))
    assert service.ingest_receipt("warwickshire", ack.encode(), form="json").item_id
    found(services)
    late = outcome(completed_on=date(2026, 3, 30), offered_on=date(2026, 3, 30))
    services.clock.advance(timedelta(days=14))  # type: ignore[attr-defined]
    result = service.ingest_rhi("warwickshire",
                                json.dumps(rhi_outcome_to_json(late)).encode(), form="json")
    assert result.status is InboundStatus.PROCESSED
    assert result.deliveries  # shared even though tracking could not record it
    kinds = [i.kind for i in items(services)]
    assert "case_system_no_match" in kinds
    assert "rhi_outcome_incomplete" in kinds  # late, and the council gave no reason
    with services.db.read() as session:
        assert session.execute(select(RhiRow.status)).scalar_one() == "DUE"
