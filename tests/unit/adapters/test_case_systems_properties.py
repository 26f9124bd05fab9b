"""Any notification renders to a valid file for every system, whatever text police typed."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, date, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.case_receipts import person_match
from gateway.domain.enums import (
    EventType,
    Gender,
    LegalStatus,
    PlacementType,
    RiskFactor,
    RiskGrade,
)
from gateway.domain.model import (
    Address,
    Child,
    FoundDetails,
    Notification,
    Person,
    Placement,
    RiskAssessment,
)
from gateway.domain.receipts import (
    ContactMethod,
    RhiAttempt,
    RhiOutcome,
    RhiStatus,
    YesNoNa,
    rhi_outcome_extra,
)
from gateway.domain.schemas import notification_to_json
from routing.minimisation import PROFILES
from tests.unit.adapters.case_systems_cases import adapters

ADAPTERS = adapters()
SCHEMAS = {
    "mosaic": etree.XMLSchema(etree.parse("adapters/mosaic/mosaic_import.xsd")),
    "liquidlogic": etree.XMLSchema(etree.parse("adapters/liquidlogic/liquidlogic_feed.xsd")),
}
RENDERED = [EventType.MISSING_REPORTED, EventType.UPDATE, EventType.RISK_REGRADED,
            EventType.FOUND, EventType.CLOSED, EventType.CANCELLED, EventType.RHI_OUTCOME]
MARKER = "<evil onload=x>"

# Anything a person might type, control characters and markup included (never surrogates).
free_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
names = st.text(st.characters(exclude_categories=["Cs", "Cc", "Cn"]), min_size=1,
                max_size=35).filter(str.strip)
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9/ ._-]{0,30}", fullmatch=True)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                       timezones=st.just(UTC))
addresses = st.builds(Address, st.lists(free_text, max_size=3).map(tuple),
                      st.none() | st.from_regex(r"[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}",
                                                fullmatch=True))


@st.composite
def notifications(draw: st.DrawFn) -> Notification:
    """A notification of any event, with any text in every free-text field."""
    event = draw(st.sampled_from(RENDERED))
    child = draw(st.none() | st.builds(
        Child, given_name=names, family_name=names,
        date_of_birth=st.dates(date(2006, 1, 1), date(2020, 1, 1)),
        gender=st.sampled_from(Gender), nhs_number=st.none() | st.from_regex(
            r"[0-9]{10}", fullmatch=True), council_child_id=st.none() | ids,
        uasc=st.booleans(), description=st.none() | free_text, clothing=st.none() | free_text,
        home_address=st.none() | addresses))
    extra: dict[str, str] = draw(st.dictionaries(
        st.sampled_from(["care_plan_note", "rhi_sensitive_notes", "sensitive_x", "note"]),
        free_text, max_size=3))
    if event is EventType.RHI_OUTCOME:
        extra.update(rhi_outcome_extra(RhiOutcome(
            "mosaic", draw(st.sampled_from(RhiStatus)), YesNoNa.YES, YesNoNa.NA,
            attempts=(RhiAttempt(draw(moments), ContactMethod.VISIT),),
            completed_on=draw(st.none() | st.dates(date(2020, 1, 1), date(2030, 1, 1))),
            completed_by=draw(st.none() | free_text))))
    return Notification(
        event=event, force=draw(ids), police_reference=draw(ids), occurred_at=draw(moments),
        revision=draw(st.integers(1, 99)), incident_number=draw(st.none() | ids), child=child,
        placement=draw(st.none() | st.builds(
            Placement, st.sampled_from(PlacementType), st.sampled_from(LegalStatus),
            st.none() | addresses, st.none() | free_text, st.booleans())),
        risk=draw(st.none() | st.builds(
            RiskAssessment, st.sampled_from(RiskGrade), moments,
            st.lists(st.sampled_from(RiskFactor), max_size=3).map(tuple),
            st.none() | free_text, st.none() | free_text)),
        reported_at=draw(st.none() | moments), last_seen_at=draw(st.none() | moments),
        last_seen_place=draw(st.none() | free_text), missing_from=draw(st.none() | addresses),
        circumstances=draw(free_text) + MARKER,
        associates=tuple(draw(st.lists(st.builds(Person, names, st.none() | free_text),
                                       max_size=2))),
        reporter=draw(st.none() | st.builds(Person, names)),
        parents_not_told=draw(st.booleans()),
        found=draw(st.none() | st.builds(FoundDetails, moments, st.none() | free_text,
                                         st.none() | free_text, st.none() | free_text)),
        summary=draw(st.none() | free_text), extra=extra)


profiles = st.sampled_from(sorted(PROFILES))


@pytest.mark.parametrize("system", sorted(SCHEMAS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notification=notifications(), profile=profiles)
def test_any_notification_renders_valid_xml_that_names_it(system: str,
                                                         notification: Notification,
                                                         profile: str) -> None:
    content = ADAPTERS[system].render(notification, profile).content
    root = etree.fromstring(content)
    assert SCHEMAS[system].validate(root), SCHEMAS[system].error_log
    imported = ADAPTERS[system].read_import(content)
    assert imported.reference.police_reference == notification.police_reference
    assert imported.reference.event is notification.event
    child = notification_to_json(notification)["child"]
    assert imported.match == person_match(child)
    document = root.find("{*}Document")
    assert document is not None
    text = base64.b64decode(document.text or "").decode("utf-8")
    assert notification.police_reference in text
    assert MARKER in text  # free text travels in the summary document, untouched


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notification=notifications(), profile=profiles)
def test_any_notification_renders_a_mail_whose_html_holds_no_injected_markup(
        notification: Notification, profile: str) -> None:
    content = ADAPTERS["secure_mail"].render(notification, profile).content
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert isinstance(html, EmailMessage)
    assert isinstance(text, EmailMessage)
    body = str(html.get_content())
    assert MARKER not in body
    assert "&lt;evil onload=x&gt;" in body
    assert MARKER in str(text.get_content())
    imported = ADAPTERS["secure_mail"].read_import(content)
    assert imported.reference.event is notification.event

