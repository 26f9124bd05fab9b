"""What councils send back: receipts and RHI outcomes, golden files and write/parse inverses."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.registry import RECEIPT_PARSERS, receipt_parser
from gateway.domain.enums import EventType
from gateway.domain.errors import InvalidMessage, UnknownAdapter
from gateway.domain.receipts import (
    SENSITIVE_WITHHELD,
    CaseSystemReceipt,
    ContactMethod,
    GatewayReference,
    MatchKey,
    ReceiptStatus,
    RhiAttempt,
    RhiOutcome,
    RhiStatus,
    YesNoNa,
    ack_stage,
    receipt_from_json,
    receipt_item,
    receipt_problems,
    receipt_to_json,
    rhi_outcome_from_json,
    rhi_outcome_problems,
    rhi_outcome_to_json,
)
from tests.unit.adapters.case_systems_cases import (
    SYSTEMS,
    adapters,
    expected_path,
    inbound_cases,
    parse_inbound,
    reasons_of,
    reasons_path,
)

ADAPTERS = adapters()
KINDS = ("receipts", "rhi")
VALID = [(s, k, p) for s in SYSTEMS for k in KINDS for p in inbound_cases(s, k)]
INVALID = [(s, k, p) for s in SYSTEMS for k in KINDS for p in inbound_cases(s, k, invalid=True)]


def _id(case: tuple[str, str, Path]) -> str:
    return f"{case[0]}/{case[1]}/{case[2].stem}"


@pytest.mark.parametrize("case", VALID, ids=[_id(c) for c in VALID])
def test_inbound_file_parses_to_its_expected_json(case: tuple[str, str, Path]) -> None:
    system, kind, path = case
    expected = json.loads(expected_path(path).read_text("utf-8"))
    assert parse_inbound(system, kind, path.read_bytes()) == expected
    assert expected["system"] == system  # the adapter, not the file, says which system


@pytest.mark.parametrize("case", INVALID, ids=[_id(c) for c in INVALID])
def test_malformed_file_is_rejected_with_its_expected_reasons(case: tuple[str, str, Path]) -> None:
    system, kind, path = case
    expected = json.loads(reasons_path(path).read_text("utf-8"))
    assert expected, "a malformed fixture must list at least one reason"
    assert reasons_of(system, kind, path.read_bytes()) == expected


@pytest.mark.parametrize("system", ["mosaic", "liquidlogic"])
def test_each_case_system_has_ten_receipt_and_ten_rhi_files(system: str) -> None:
    for kind in KINDS:
        assert len(inbound_cases(system, kind)) + len(
            inbound_cases(system, kind, invalid=True)) >= 10
        assert len(inbound_cases(system, kind, invalid=True)) >= 5


@pytest.mark.parametrize("system", SYSTEMS)
def test_receipt_fixtures_cover_every_status_and_match_key(system: str) -> None:
    receipts = [ADAPTERS[system].parse_receipt(p.read_bytes())
                for p in inbound_cases(system, "receipts")]
    assert {r.status for r in receipts} == set(ReceiptStatus)
    if system != "secure_mail":
        assert {r.matched_by for r in receipts if r.matched_by} == set(MatchKey)
    assert {r.needs_coordinator for r in receipts} == {True, False}


@pytest.mark.parametrize("system", SYSTEMS)
def test_sensitive_disclosures_are_dropped_and_recorded_as_withheld(system: str) -> None:
    files = inbound_cases(system, "rhi") + inbound_cases(system, "rhi", invalid=True)
    with_sensitive = [p for p in files if b"SENSITIVE-MARKER" in p.read_bytes()]
    assert with_sensitive, "each system needs fixtures that carry sensitive disclosures"
    for path in with_sensitive:
        if "invalid" in path.parts:
            with pytest.raises(InvalidMessage) as caught:
                ADAPTERS[system].parse_rhi_outcome(path.read_bytes())
            assert "SENSITIVE-MARKER" not in str(caught.value)
            continue
        outcome = ADAPTERS[system].parse_rhi_outcome(path.read_bytes())
        assert SENSITIVE_WITHHELD in outcome.withheld
        assert "SENSITIVE-MARKER" not in json.dumps(rhi_outcome_to_json(outcome))


@pytest.mark.parametrize("system", ["mosaic", "liquidlogic"])
def test_an_empty_disclosures_element_withholds_nothing(system: str) -> None:
    path = next(p for p in inbound_cases(system, "rhi") if "empty" in p.stem)
    assert ADAPTERS[system].parse_rhi_outcome(path.read_bytes()).withheld == ()


def test_registry_finds_receipt_parsers_by_case_system() -> None:
    assert set(RECEIPT_PARSERS) == set(SYSTEMS)
    assert receipt_parser("mosaic").name == "mosaic"
    with pytest.raises(UnknownAdapter):
        receipt_parser("carefirst")


# --- the JSON forms (POST /api/v1/acks, POST /api/v1/rhi) -------------------------------------

DELIVERY = "6f1c2a9e-3b7d-4c55-9a1e-0d2f4b8c7a11"
AT = datetime(2026, 3, 17, 21, 52, tzinfo=UTC)


def test_receipt_json_round_trips_and_the_sender_names_the_system() -> None:
    receipt = CaseSystemReceipt("mosaic", DELIVERY, ReceiptStatus.ACCEPTED, AT,
                                GatewayReference("warwickshire-police", "WK-1",
                                                 EventType.FOUND, 4),
                                "WS-1", "P-1", MatchKey.NHS_NUMBER)
    data = receipt_to_json(receipt)
    assert receipt_from_json(data) == receipt
    assert receipt_from_json(data, system="kent").system == "kent"


def test_rhi_json_drops_sensitive_disclosures_and_rejects_unknown_keys() -> None:
    body = {"status": "DECLINED", "offered": "Y", "accepted": "N",
            "council_episode_id": "ME-1", "sensitive_disclosures": {"note": "SECRET-1"}}
    outcome = rhi_outcome_from_json(body, system="kent")
    assert outcome.withheld == (SENSITIVE_WITHHELD,)
    assert outcome.system == "kent"
    assert "SECRET-1" not in json.dumps(rhi_outcome_to_json(outcome))
    assert rhi_outcome_from_json(rhi_outcome_to_json(outcome), system="kent") == outcome
    with pytest.raises(InvalidMessage) as caught:
        rhi_outcome_from_json({**body, "disclosure_notes": "SECRET-2"})
    assert [str(e) for e in caught.value.errors] == ["disclosure_notes: Unknown field."]


@pytest.mark.parametrize(("change", "reason"), [
    ({"status": ReceiptStatus.ACCEPTED}, "council_episode_id: is required when the file "
                                         "was accepted"),
    ({"status": ReceiptStatus.REJECTED}, "reasons: a rejection must give at least one reason"),
    ({"delivery_id": "x.xml"}, "delivery_id: 'x.xml' is not a gateway delivery id (a UUID)"),
    ({"at": datetime(2026, 3, 17, 21, 52)}, "at: '2026-03-17T21:52:00' must carry a UTC offset"),
    ({"status": ReceiptStatus.NO_MATCH, "candidates": 2},
     "candidates: '2' is only given for several matches"),
])
def test_receipt_rules(change: dict[str, object], reason: str) -> None:
    receipt = CaseSystemReceipt("mosaic", DELIVERY, ReceiptStatus.RECEIVED, AT)
    fields = {**receipt.__dict__, **change}
    assert reason in [str(e) for e in receipt_problems(CaseSystemReceipt(**fields))]


@pytest.mark.parametrize(("change", "reason"), [
    ({"offered": YesNoNa.NO, "accepted": YesNoNa.NO, "status": RhiStatus.NOT_POSSIBLE},
     "accepted: 'N' must be NA when the interview was not offered"),
    ({"status": RhiStatus.OFFERED, "offered": YesNoNa.NO, "accepted": YesNoNa.NA},
     "offered: 'N' must be Y when the interview is offered"),
    ({"reference": None}, "reference: name the police reference or the council's episode id"),
])
def test_rhi_rules(change: dict[str, object], reason: str) -> None:
    outcome = RhiOutcome("api", RhiStatus.DECLINED, YesNoNa.YES, YesNoNa.NO,
                         reference=GatewayReference("kent-police", "KP-1"))
    fields = {**outcome.__dict__, **change}
    assert reason in [str(e) for e in rhi_outcome_problems(RhiOutcome(**fields))]


# --- write and parse are each other's inverse, for every system -------------------------------

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn", "Zl", "Zp")),
                min_size=1, max_size=40).map(str.strip).filter(bool)
ids = st.from_regex(r"[A-Z]{1,3}-[0-9]{1,8}", fullmatch=True)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                       timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))
references = st.builds(GatewayReference, force=ids, police_reference=ids,
                       event=st.sampled_from(EventType) | st.none(),
                       revision=st.integers(1, 50) | st.none())


@st.composite
def receipts(draw: st.DrawFn, system: str) -> CaseSystemReceipt:
    status = draw(st.sampled_from(ReceiptStatus))
    accepted = status is ReceiptStatus.ACCEPTED
    return CaseSystemReceipt(
        system=system, delivery_id=str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        status=status, at=draw(moments), reference=draw(references | st.none()),
        council_episode_id=draw(ids) if accepted else None,
        council_person_id=draw(ids) if accepted else None,
        matched_by=draw(st.sampled_from(MatchKey)) if accepted else None,
        candidates=draw(st.integers(2, 9) | st.none())
        if status is ReceiptStatus.MULTIPLE_MATCHES else None,
        reasons=tuple(draw(st.lists(texts, min_size=1 if status is ReceiptStatus.REJECTED
                                    else 0, max_size=3))))


@st.composite
def outcomes(draw: st.DrawFn, system: str) -> RhiOutcome:
    status = draw(st.sampled_from(RhiStatus))
    offered = YesNoNa.NO if status is RhiStatus.NOT_POSSIBLE else YesNoNa.YES
    accepted = {RhiStatus.COMPLETED: YesNoNa.YES, RhiStatus.DECLINED: YesNoNa.NO}.get(
        status, YesNoNa.NA)
    offered_on = draw(st.dates(date(2020, 1, 1), date(2030, 1, 1)) | st.none())
    completed_on = None
    if status is RhiStatus.COMPLETED:
        completed_on = (offered_on or date(2020, 1, 1)) + timedelta(days=draw(st.integers(0, 30)))
    return RhiOutcome(
        system=system, status=status, offered=offered, accepted=accepted,
        reference=draw(references), council_episode_id=draw(ids | st.none()),
        council_person_id=draw(ids | st.none()), offered_on=offered_on,
        attempts=tuple(draw(st.lists(st.builds(RhiAttempt, moments,
                                               st.sampled_from(ContactMethod), st.booleans()),
                                     max_size=4))),
        completed_on=completed_on, completed_by=draw(texts | st.none()),
        late_reason=draw(texts | st.none()), summary=draw(texts | st.none()))


@pytest.mark.parametrize("system", SYSTEMS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_parse_receipt_inverts_write_receipt(system: str, data: st.DataObject) -> None:
    receipt = data.draw(receipts(system))
    adapter = ADAPTERS[system]
    assert adapter.parse_receipt(adapter.write_receipt(receipt)) == receipt


@pytest.mark.parametrize("system", SYSTEMS)
@settings(max_examples=60, deadline=None)
@given(data=st.data(), sensitive=texts | st.none())
def test_parse_rhi_outcome_inverts_write_rhi_export(system: str, data: st.DataObject,
                                                    sensitive: str | None) -> None:
    outcome = data.draw(outcomes(system))
    adapter = ADAPTERS[system]
    parsed = adapter.parse_rhi_outcome(adapter.write_rhi_export(outcome, sensitive))
    expected_withheld = (SENSITIVE_WITHHELD,) if sensitive else ()
    assert parsed == RhiOutcome(**{**outcome.__dict__, "withheld": expected_withheld})


ALL_INBOUND = [(s, k, p) for s in SYSTEMS for k in KINDS
               for p in inbound_cases(s, k) + inbound_cases(s, k, invalid=True)]


@pytest.mark.parametrize("system", SYSTEMS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_files_fail_only_with_invalid_message(system: str, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS))
    paths = [p for s, k, p in ALL_INBOUND if s == system and k == kind]
    raw = bytearray(data.draw(st.sampled_from(paths)).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        if not raw:
            break
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del raw[at:at + data.draw(st.integers(1, 20))]
        else:
            raw[at:at] = data.draw(st.sampled_from([b"<", b"&", b"\x00", b"\xff", b"]]>",
                                                    b"<X/>", b'"', b"\xe2\x80"]))
    adapter = ADAPTERS[system]
    parse = adapter.parse_receipt if kind == "receipts" else adapter.parse_rhi_outcome
    try:
        parse(bytes(raw))
    except InvalidMessage as exc:
        reasons = exc.errors
        assert reasons, "a rejection always says why"


@pytest.mark.parametrize(("status", "stage", "kind"), [
    (ReceiptStatus.RECEIVED, "received", None),
    (ReceiptStatus.ACCEPTED, "accepted", None),
    (ReceiptStatus.REJECTED, "received", "case_system_rejected"),
    (ReceiptStatus.NO_MATCH, "received", "case_system_no_match"),
    (ReceiptStatus.MULTIPLE_MATCHES, "received", "case_system_several_matches"),
])
def test_what_a_receipt_asks_of_tracking(status: ReceiptStatus, stage: str,
                                         kind: str | None) -> None:
    receipt = CaseSystemReceipt("liquidlogic", DELIVERY, status, AT, candidates=3
                                if status is ReceiptStatus.MULTIPLE_MATCHES else None,
                                reasons=("StartDateTime is after EndDateTime",)
                                if status is ReceiptStatus.REJECTED else ())
    assert ack_stage(receipt) == stage
    item = receipt_item(receipt, "derby")
    assert (item.kind if item else None) == kind
    if item is not None:
        assert item.authority == "derby"
        assert DELIVERY in item.message
    if status is ReceiptStatus.REJECTED:
        assert item is not None
        assert "StartDateTime is after EndDateTime" in item.message
    if status is ReceiptStatus.MULTIPLE_MATCHES:
        assert item is not None
        assert "3 candidates" in item.message
