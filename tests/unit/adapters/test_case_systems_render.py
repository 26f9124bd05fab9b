"""Case-system renderings: golden files, XSD validity, minimisation, escaping, match keys."""

from __future__ import annotations

import base64
import email
import email.policy
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from lxml import etree

from adapters.case_receipts import UnsupportedEvent
from adapters.registry import CASE_SYSTEM_ADAPTERS, case_system_adapter
from gateway.domain.enums import EventType
from gateway.domain.errors import GatewayError
from gateway.domain.receipts import MatchKey
from tests.unit.adapters.case_systems_cases import (
    CASES,
    SYSTEMS,
    adapters,
    render_path,
    summary_of,
    summary_path,
)

ADAPTERS = adapters()
UASC_CASE = "found_uasc_trafficked_host_information"
XSDS = {
    "mosaic": Path("adapters/mosaic/mosaic_import.xsd"),
    "liquidlogic": Path("adapters/liquidlogic/liquidlogic_feed.xsd"),
}
GOLDEN = [(system, case) for system in SYSTEMS for case in CASES]
XML_CASES = [(system, case) for system in XSDS for case in CASES]
RENDERED_EVENTS = {EventType.MISSING_REPORTED, EventType.UPDATE, EventType.RISK_REGRADED,
                   EventType.FOUND, EventType.CLOSED, EventType.CANCELLED, EventType.RHI_OUTCOME}


def _render(system: str, case: str) -> bytes:
    notification, profile = CASES[case]
    return ADAPTERS[system].render(notification, profile).content


def _xml_documents(content: bytes) -> tuple[etree._Element, str]:
    """Return the import root and its attached summary document's text."""
    root = etree.fromstring(content)
    document = root.find("{*}Document")
    assert document is not None
    return root, base64.b64decode(document.text or "").decode("utf-8")


def _mail_parts(content: bytes) -> tuple[EmailMessage, str, str]:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return (message, str(text.get_content()).replace("\r\n", "\n"),
            str(html.get_content()).replace("\r\n", "\n"))


def _everything_readable(system: str, content: bytes) -> str:
    """Return all a recipient can read from a rendering, decoded (documents, MIME parts)."""
    if system == "secure_mail":
        _, text, html = _mail_parts(content)
        return text + html
    _, document = _xml_documents(content)
    return content.decode("utf-8") + document


@pytest.mark.parametrize(("system", "case"), GOLDEN, ids=[f"{s}/{c}" for s, c in GOLDEN])
def test_rendering_matches_its_golden_file(system: str, case: str) -> None:
    assert _render(system, case) == render_path(system, case).read_bytes()


@pytest.mark.parametrize("case", sorted(CASES))
def test_summary_text_matches_its_golden_file_and_is_what_each_rendering_carries(
        case: str) -> None:
    expected = summary_path(case).read_text(encoding="utf-8")
    assert summary_of(case) == expected
    _, text, _ = _mail_parts(_render("secure_mail", case))
    assert text == expected
    for system in XSDS:
        assert _xml_documents(_render(system, case))[1] == expected


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_event_has_a_golden_rendering(system: str) -> None:
    events = {CASES[case][0].event for case in CASES if render_path(system, case).exists()}
    assert events == RENDERED_EVENTS


@pytest.mark.parametrize(("system", "case"), XML_CASES, ids=[f"{s}/{c}" for s, c in XML_CASES])
def test_xml_rendering_is_valid_against_its_xsd(system: str, case: str) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSDS[system])))
    root = etree.fromstring(_render(system, case))
    assert schema.validate(root), schema.error_log


@pytest.mark.parametrize("system", XSDS)
def test_the_xsd_rejects_a_rendering_with_a_missing_next_step(system: str) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSDS[system])))
    root = etree.fromstring(_render(system, "missing_reported"))
    document = root.find("{*}Document")
    assert document is not None
    root.remove(document)
    assert not schema.validate(root)


@pytest.mark.parametrize("system", XSDS)
def test_attached_document_is_the_same_summary_the_mail_carries(system: str) -> None:
    _, document = _xml_documents(_render(system, "found"))
    _, text, _ = _mail_parts(_render("secure_mail", "found"))
    assert document == text
    assert "Missing child found" in document
    assert "Found by: PC 4410 Shah" in document


@pytest.mark.parametrize("system", XSDS)
def test_xml_states_episode_start_end_status_and_missing_type(system: str) -> None:
    root, _ = _xml_documents(_render(system, "found"))
    episode = root.find("{*}MissingEpisode")
    if episode is None:
        episode = root.find("{*}MissingRecord")
    assert episode is not None
    texts = {etree.QName(e).localname: (e.text or "") for e in episode}
    assert "2026-03-17T17:30:00+00:00" in (texts.get("Start"), texts.get("StartDateTime"))
    assert "2026-03-18T17:40:00+00:00" in (texts.get("End"), texts.get("EndDateTime"))
    assert texts["Status"] in ("RETURNED", "Returned")
    assert texts["MissingType"] in ("Missing", "M")


@pytest.mark.parametrize("system", XSDS)
def test_no_apparent_risk_is_rendered_as_absent(system: str) -> None:
    root, _ = _xml_documents(_render(system, "missing_reported_name_and_dob"))
    missing_type = root.find(".//{*}MissingType")
    assert missing_type is not None
    assert "A" in (missing_type.get("code"), missing_type.text)


def test_mosaic_next_action_goes_to_the_team_that_acts() -> None:
    def team(case: str) -> str | None:
        action = etree.fromstring(_render("mosaic", case)).find("{*}NextAction")
        assert action is not None
        return action.get("team")

    assert team("missing_reported") == "missing_coordinator"
    assert team("found") == "rhi_service"
    root = etree.fromstring(_render("mosaic", "missing_reported_host_information"))
    assert root.get("importType") == "CASE_NOTE"
    assert etree.fromstring(_render("mosaic", "found")).get("importType") == "WORKSTEP"


@pytest.mark.parametrize(("case", "key"), [
    ("missing_reported", MatchKey.COUNCIL_CHILD_ID),
    ("missing_reported_nhs_only", MatchKey.NHS_NUMBER),
    ("missing_reported_name_and_dob", MatchKey.NAME_AND_DATE_OF_BIRTH),
])
@pytest.mark.parametrize("system", SYSTEMS)
def test_rendering_offers_the_strongest_match_key(system: str, case: str, key: MatchKey) -> None:
    imported = ADAPTERS[system].read_import(_render(system, case))
    assert imported.match is not None
    assert imported.match.key is key
    notification = CASES[case][0]
    assert imported.reference.police_reference == notification.police_reference
    assert imported.reference.event is notification.event
    assert imported.reference.revision == notification.revision


@pytest.mark.parametrize("system", XSDS)
def test_name_and_date_of_birth_key_carries_both(system: str) -> None:
    match = ADAPTERS[system].read_import(_render(system, "missing_reported_name_and_dob")).match
    assert match is not None
    assert (match.given_name, match.family_name, match.date_of_birth) == (
        "Amelia", "Hart", "2011-06-02")
    assert match.nhs_number is None
    assert match.council_child_id is None


@pytest.mark.parametrize("system", SYSTEMS)
def test_information_copy_of_a_trafficked_child_hides_whereabouts(system: str) -> None:
    readable = _everything_readable(system, _render(system, UASC_CASE))
    for secret in ("Mill Street", "CV34 4RL", "Coventry station", "Warwick bus station",
                   "Coventry city centre"):
        assert secret not in readable, secret
    assert "Withheld from this copy" in readable
    # The action copy of the same child keeps them: minimisation is by profile, not by child.
    action = _everything_readable(system, _render(system, "found"))
    assert "Coventry station" in action


@pytest.mark.parametrize("system", SYSTEMS)
def test_sensitive_extras_never_travel_and_plans_never_reach_police(system: str) -> None:
    hostile = _everything_readable(system, _render(system, "update_hostile_text"))
    assert "NEVER-SHARE" not in hostile
    assert "Contact with mother supervised" in hostile  # a council may see the care plan
    police = _everything_readable(system, _render(system, "rhi_outcome_police"))
    assert "NEVER-TO-POLICE" not in police
    assert "care_plan_summary" in police  # ...and is told that something was withheld


def test_secure_mail_is_multipart_alternative_with_escaped_html() -> None:
    content = _render("secure_mail", "update_hostile_text")
    message, text, html = _mail_parts(content)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert '"<script>alert(1)</script>"' in text
    assert "<script>" not in html
    assert "<b>café" not in html
    assert "&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot; &amp; left" in html
    assert "&lt;b&gt;café&lt;/b&gt;" in html
    assert "\x0b" not in text + html


@pytest.mark.parametrize("system", XSDS)
def test_xml_keeps_hostile_text_as_text(system: str) -> None:
    root, document = _xml_documents(_render(system, "update_hostile_text"))
    assert root.find(".//{*}script") is None
    assert '"<script>alert(1)</script>" & left' in document


@pytest.mark.parametrize("system", SYSTEMS)
def test_parents_not_to_be_told_is_prominent(system: str) -> None:
    readable = _everything_readable(system, _render(system, UASC_CASE))
    assert "Do NOT tell the parents" in readable
    if system != "secure_mail":
        flag = etree.fromstring(_render(system, UASC_CASE)).find(".//{*}ParentsNotToBeTold")
        assert flag is not None
        assert flag.text in ("true", "Yes")


@pytest.mark.parametrize("system", SYSTEMS)
def test_rendering_is_deterministic(system: str) -> None:
    assert _render(system, "risk_regraded") == _render(system, "risk_regraded")


@pytest.mark.parametrize("system", SYSTEMS)
def test_registry_renders_each_system_by_name(system: str) -> None:
    assert system in CASE_SYSTEM_ADAPTERS
    notification, profile = CASES["missing_reported"]
    rendered = case_system_adapter(system).render(notification, profile)
    assert rendered.content == render_path(system, "missing_reported").read_bytes()
    assert rendered.suffix in (".mosaic.xml", ".lcs.xml", ".eml")


@pytest.mark.parametrize("system", SYSTEMS)
def test_an_unknown_profile_fails_closed(system: str) -> None:
    notification, _ = CASES["missing_reported"]
    with pytest.raises(ValueError, match="unknown minimisation profile"):
        ADAPTERS[system].render(notification, "everyone")


@pytest.mark.parametrize("event", [EventType.PLACEMENT_NOTICE, EventType.AWAY_FROM_PLACEMENT])
def test_events_a_case_system_cannot_import_are_refused_but_mail_renders_them(
        event: EventType) -> None:
    notification = replace(CASES["missing_reported"][0], event=event)
    for system in XSDS:
        with pytest.raises(UnsupportedEvent, match=f"no form for {event.value}") as caught:
            ADAPTERS[system].render(notification, "placement_notice")
        assert isinstance(caught.value, GatewayError)  # the outbox holds it for a person
    _, text, _ = _mail_parts(ADAPTERS["secure_mail"].render(notification,
                                                             "placement_notice").content)
    assert f"Event: {event.value}" in text
