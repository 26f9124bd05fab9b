"""Issue 6 end to end: a child in Kent's care, placed in Warwickshire, goes missing and returns.

Warwickshire Police report the child missing; the notice reaches Kent (responsible, Secure
mail) and Warwickshire (host, Mosaic) in their own formats; both case systems send their
receipts back through their `acks/` folders and are matched; the found report follows; Kent's
RHI outcome (with a sensitive disclosure that must not travel) reaches Warwickshire Police's
feedback folder and Warwickshire County Council, minimised.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import select

from adapters.registry import case_system_adapter
from gateway.clock import FakeClock
from gateway.domain.enums import InboundStatus
from gateway.domain.receipts import (
    SENSITIVE_WITHHELD,
    CaseSystemReceipt,
    GatewayReference,
    MatchKey,
    ReceiptStatus,
    RhiOutcome,
    RhiStatus,
    YesNoNa,
    delivery_id_from_filename,
)
from gateway.intake.acks_poller import AcksPoller, folder_sources
from gateway.services import Services
from gateway.store.models import CoordinatorItemRow, DeliveryRow, InboundMessage
from gateway.store.receipt_models import CaseSystemReceiptRow
from gateway.store.tracking_models import DeliveryAckRow, RhiRow
from gateway.tracking.wiring import install
from tests.support.copies import open_copy
from tests.support.messages import compact

FORCE = "warwickshire-police"
REFERENCE = "WK-MP-2026-000417"
SYSTEMS = {"kent": "secure_mail", "warwickshire": "mosaic"}
PERSON_IDS = {"kent": "KCC-P-1048831", "warwickshire": "WCC-P-77120"}
SENSITIVE = "DISCLOSED-TO-RHI-WORKER: names the adult who harboured her at 14 Elm Row"
SUMMARY = "Amelia spoke with her RHI worker; she stayed with a friend and agreed a safety plan."


def send(services: Services, message: bytes) -> Any:
    """Receive and process one police message as the intake does."""
    return services.pipeline.process(services.pipeline.receive("compact", message, FORCE))


def deliver_all(services: Services) -> list[str]:
    """Run every queued delivery, as a worker would; return the final statuses."""
    queue: list[str] = services.enqueue  # type: ignore[assignment]
    statuses = [services.outbox.deliver_one(delivery_id) for delivery_id in queue]
    queue.clear()
    return statuses


def copies(services: Services, *parts: str) -> dict[str, Path]:
    """Return the delivered copies under drop/<parts...>, by delivery id."""
    root = services.settings.drop_root.joinpath("drop", *parts)
    found: dict[str, Path] = {}
    for path in root.rglob("*.p7m"):
        delivery_id = delivery_id_from_filename(path.name)
        assert delivery_id is not None
        found[delivery_id] = path
    return found


def acknowledge(services: Services, pki: Any, authority: str, seen: set[str]) -> list[str]:
    """Play the council: import each new copy and drop its acceptance in the acks folder."""
    adapter: Any = case_system_adapter(SYSTEMS[authority])
    acks = services.settings.drop_root / "drop" / authority / "acks"
    acks.mkdir(parents=True, exist_ok=True)
    answered = []
    for delivery_id, path in copies(services, authority).items():
        if delivery_id in seen:
            continue
        seen.add(delivery_id)
        imported = adapter.read_import(open_copy(path, pki, authority))
        assert imported.reference.police_reference == REFERENCE
        if imported.reference.event.value == "MISSING_REPORTED":
            assert imported.match is not None
            assert imported.match.key is MatchKey.COUNCIL_CHILD_ID  # police gave Kent's id
        # A later event carries no person keys: the council files it on the episode it holds
        # for the police reference, whose person was matched on the child id.
        receipt = CaseSystemReceipt(
            system=adapter.name, delivery_id=delivery_id, status=ReceiptStatus.ACCEPTED,
            at=services.clock(), reference=imported.reference,
            council_episode_id=f"{authority.upper()}-EP-{imported.reference.event.value}",
            council_person_id=PERSON_IDS[authority], matched_by=MatchKey.COUNCIL_CHILD_ID)
        (acks / f"{delivery_id}.ack").write_bytes(adapter.write_receipt(receipt, path.name))
        answered.append(delivery_id)
    return answered


def mosaic_document(content: bytes) -> str:
    """Return the human-readable summary a Mosaic import attaches (base64 in `Document`)."""
    root = etree.fromstring(content)
    documents = [e for e in root.iter() if etree.QName(e).localname == "Document"]
    return "".join(base64.b64decode(d.text or "").decode("utf-8") for d in documents)


def readable(content: bytes, party: str) -> str:
    """Return what a person reads in a copy, decoded from base64 or quoted-printable."""
    if party == "warwickshire":
        return mosaic_document(content)
    if party == "kent":
        message = email.message_from_bytes(content, policy=email.policy.default)
        return "".join(str(part.get_content()) for part in message.walk()
                       if part.get_content_maintype() == "text")
    return content.decode("utf-8")


def poll(services: Services) -> None:
    """Run the acks poller over every authority's acks folder, as the beat task does."""
    reports = AcksPoller(services).poll_all(folder_sources(services))
    assert all(not report.failed for report in reports), reports


def test_missing_child_in_care_placed_out_of_area_round_trip(services: Services,
                                                             demo_pki: Any) -> None:
    install(services)
    clock: FakeClock = services.clock  # type: ignore[assignment]

    # 1. Warwickshire Police report the child missing.
    assert send(services, compact("missing_reported_basic", force=FORCE)).status.value == \
        "PROCESSED"
    assert set(deliver_all(services)) == {"SENT"}
    kent, warwickshire = copies(services, "kent"), copies(services, "warwickshire")
    assert kent
    assert warwickshire

    # 2. Each council's case system reads its own format and acknowledges.
    clock.advance(timedelta(minutes=20))
    seen: set[str] = set()
    answered = acknowledge(services, demo_pki, "kent", seen) + \
        acknowledge(services, demo_pki, "warwickshire", seen)
    assert sorted(answered) == sorted([*kent, *warwickshire])
    poll(services)
    with services.db.read() as session:
        acks = {a.delivery_id: a for a in session.execute(select(DeliveryAckRow)).scalars()}
        rows = {r.delivery_id: r for r in session.execute(select(CaseSystemReceiptRow))
                .scalars()}
    for delivery_id in answered:
        assert acks[delivery_id].accepted_at is not None
        assert rows[delivery_id].status == "ACCEPTED"
        assert rows[delivery_id].matched_by == "COUNCIL_CHILD_ID"
    assert {rows[d].council_person_id for d in kent} == {PERSON_IDS["kent"]}
    assert {rows[d].council_person_id for d in warwickshire} == {PERSON_IDS["warwickshire"]}
    assert not list((services.settings.drop_root / "drop" / "kent" / "acks").glob("*.ack"))

    # 3. The found report follows, to the same councils.
    clock.advance(timedelta(hours=6))
    assert send(services, compact("found", force=FORCE)).status.value == "PROCESSED"
    assert set(deliver_all(services)) == {"SENT"}
    acknowledge(services, demo_pki, "kent", seen)
    acknowledge(services, demo_pki, "warwickshire", seen)
    poll(services)

    # 4. Kent's RHI outcome, exported with a disclosure that must never leave Kent.
    clock.advance(timedelta(days=1))
    before = {**copies(services, "police", FORCE), **copies(services, "warwickshire"),
              **copies(services, "kent")}
    outcome = RhiOutcome(
        system="secure_mail", status=RhiStatus.COMPLETED, offered=YesNoNa.YES,
        accepted=YesNoNa.YES, reference=GatewayReference(FORCE, REFERENCE),
        council_episode_id="KENT-EP-FOUND", offered_on=date(2026, 3, 18),
        completed_on=date(2026, 3, 18), completed_by="Kent RHI service", summary=SUMMARY)
    export = case_system_adapter("secure_mail").write_rhi_export(  # type: ignore[attr-defined]
        outcome, sensitive=SENSITIVE)
    assert SENSITIVE.encode() in export  # the careless export does carry it
    rhi_folder = services.settings.drop_root / "drop" / "kent" / "acks"
    (rhi_folder / "rhi-2026-03-18.rhi").write_bytes(export)
    reports = AcksPoller(services).poll_all(folder_sources(services))
    taken = [f for r in reports for f in r.filed]
    assert [(f.kind, f.status) for f in taken] == [("rhi", "PROCESSED")]
    reply = json.loads(Path(taken[0].reply_path).read_text())
    assert reply["withheld"] == [SENSITIVE_WITHHELD]
    assert set(deliver_all(services)) == {"SENT"}

    police = {k: v for k, v in copies(services, "police", FORCE).items() if k not in before}
    host = {k: v for k, v in copies(services, "warwickshire").items() if k not in before}
    assert len(police) == 1
    assert host
    police_copy = open_copy(next(iter(police.values())), demo_pki, FORCE)
    assert SUMMARY.encode() in police_copy
    host_copies = [open_copy(path, demo_pki, "warwickshire") for path in host.values()]
    assert any(SUMMARY in mosaic_document(body) for body in host_copies)
    iro = [open_copy(p, demo_pki, "kent") for k, p in copies(services, "kent").items()
           if k not in before]
    assert any(SUMMARY in readable(body, "kent") for body in iro)  # Kent's IRO
    reference = case_system_adapter("mosaic").read_import(  # type: ignore[attr-defined]
        host_copies[0]).reference
    assert (reference.police_reference, reference.event.value) == (REFERENCE, "RHI_OUTCOME")

    # The disclosure is in no delivered copy, nor in anything the gateway shared.
    for authority, path in [*((FORCE, p) for p in copies(services, "police", FORCE).values()),
                            *(("warwickshire", p) for p in
                              copies(services, "warwickshire").values()),
                            *(("kent", p) for p in copies(services, "kent").values())]:
        body = open_copy(path, demo_pki, authority)
        assert SENSITIVE.encode() not in body
        for text in (body.decode("utf-8"), readable(body, authority)):
            assert SENSITIVE not in text
            assert "14 Elm Row" not in text

    with services.db.read() as session:
        rhi = session.execute(select(RhiRow)).scalar_one()
        assert rhi.status == "COMPLETED"
        rhi_message = session.execute(select(InboundMessage).where(
            InboundMessage.format == "secure_mail-rhi")).scalar_one()
        assert rhi_message.status == InboundStatus.PROCESSED.value
        rhi_roles = {(d.authority, d.team, d.profile) for d in session.execute(
            select(DeliveryRow).where(DeliveryRow.id.in_([*police, *host]))).scalars()}
        items = [i.kind for i in session.execute(select(CoordinatorItemRow)).scalars()]
    assert (FORCE, "police_feedback", "police_rhi_feedback") in rhi_roles
    assert any(a == "warwickshire" and p == "rhi_share" for a, _, p in rhi_roles)
    assert "case_system_file_rejected" not in items
