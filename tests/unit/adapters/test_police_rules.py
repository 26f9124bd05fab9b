"""Field and cross-field rules of the police adapters, one behaviour per test."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from adapters.compact import CompactAdapter
from adapters.niche import NicheAdapter
from gateway.domain.errors import InvalidMessage
from gateway.domain.model import Notification

FIXTURES = Path(__file__).parent / "fixtures"
BASIC = (FIXTURES / "compact" / "missing_reported_basic.xml").read_text("utf-8")
FOUND = (FIXTURES / "compact" / "found.xml").read_text("utf-8")
NO_SCHEMA = {"schema": "none"}  # to reach the mapping's own checks with what the XSD refuses


def _parse(text: str, overrides: dict[str, object] | None = None) -> Notification:
    """Parse COMPACT text with optional overrides."""
    return CompactAdapter().parse(text.encode("utf-8"), overrides)


def _reasons(text: str, overrides: dict[str, object] | None = None) -> list[str]:
    """Parse COMPACT text that must be rejected and return its reasons."""
    with pytest.raises(InvalidMessage) as caught:
        _parse(text, overrides)
    return [str(e) for e in caught.value.errors]


def test_date_of_birth_is_checked_against_the_messages_own_time_not_the_clock() -> None:
    later = BASIC.replace("2026-03-14T", "2041-03-14T").replace("2011-06-02", "2035-01-01")
    n = _parse(later)
    assert n.child is not None
    assert n.child.date_of_birth == date(2035, 1, 1)


def test_a_child_born_on_the_day_of_the_report_is_accepted() -> None:
    n = _parse(BASIC.replace('dateOfBirth="2011-06-02"', 'dateOfBirth="2026-03-14"'))
    assert n.child is not None


def test_without_a_reported_time_date_of_birth_is_checked_against_occurred_at() -> None:
    text = FOUND.replace('notificationType="LOCATED"', 'notificationType="UPDATE"')
    text = text.replace(
        "<Report ", '<Subject forename="A" surname="B" dateOfBirth="2026-03-18"/>\n  <Report '
    )
    text = text.replace('reportedAt="2026-03-14T21:15:00+00:00" ', "")
    assert _reasons(text) == [
        "child.date_of_birth: '2026-03-18' is in the future (after the message's time "
        "2026-03-17T02:10:00+00:00)"
    ]


def test_found_before_last_seen_is_rejected_when_there_is_no_reported_time() -> None:
    text = FOUND.replace(
        'reportedAt="2026-03-14T21:15:00+00:00"', 'lastSeenAt="2026-03-17T02:00:00+00:00"'
    )
    assert _reasons(text) == [
        "found.found_at: '2026-03-17T01:20:00+00:00' is before the last seen time "
        "2026-03-17T02:00:00+00:00"
    ]


@pytest.mark.parametrize(
    "phone", ["+\uff14\uff141632960417", "+0441632960417", "+44", "441632960417", "+44 1632 960417"]
)
def test_phones_must_be_ascii_e164(phone: str) -> None:
    text = BASIC.replace('telephone="+441632960417"', f'telephone="{phone}"')
    assert _reasons(text, NO_SCHEMA) == [
        f"reporter.phone: {phone!r} is not an E.164 phone number (e.g. +441632960001)"
    ]


def test_full_width_digits_are_not_a_whole_number() -> None:
    two = "\uff12"  # FULLWIDTH DIGIT TWO
    text = BASIC.replace('previousEpisodes="2"', f'previousEpisodes="{two}"')
    assert _reasons(text, NO_SCHEMA) == [f"previous_episodes: {two!r} is not a whole number"]


def test_a_name_of_exactly_35_characters_is_accepted() -> None:
    name = "A" * 35
    n = _parse(BASIC.replace('surname="Hart"', f'surname="{name}"'))
    assert n.child is not None
    assert n.child.family_name == name


def test_names_are_counted_in_characters_after_nfc_normalisation() -> None:
    # 35 letters, each 'e' + combining acute: 70 code points decomposed, 35 composed.
    name = "e\u0301" * 35
    n = _parse(BASIC.replace('surname="Hart"', f'surname="{name}"'), NO_SCHEMA)
    assert n.child is not None
    assert n.child.family_name == "é" * 35


def test_dates_must_be_calendar_dates_in_iso_form() -> None:
    text = BASIC.replace('dateOfBirth="2011-06-02"', 'dateOfBirth="02/06/2011"')
    assert _reasons(text, NO_SCHEMA) == [
        "child.date_of_birth: '02/06/2011' is not a date (expected YYYY-MM-DD)"
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-03-14 21:15:00+00:00", "is not an ISO 8601 date-time"),
        ("2026-03-14T25:15:00+00:00", "is not a valid date-time"),
        ("2026-03-14T21:15:00+24:00", "is not a valid date-time"),
    ],
)
def test_date_times_must_be_valid_iso_8601(value: str, reason: str) -> None:
    text = BASIC.replace('reportedAt="2026-03-14T21:15:00+00:00"', f'reportedAt="{value}"')
    [got] = _reasons(text, NO_SCHEMA)
    assert got.startswith(f"reported_at: {value!r} {reason}")


def test_a_residential_placement_needs_an_address_too() -> None:
    text = BASIC.replace('category="FOSTER_CARE"', 'category="CHILDRENS_HOME"')
    text = text.replace('<Address postcode="CV34 4RL">', "<Address>")
    assert _reasons(text) == [
        "placement.address.postcode: is required for a RESIDENTIAL placement (routing reads it)"
    ]


def test_a_home_placement_needs_no_address() -> None:
    text = BASIC.replace('category="FOSTER_CARE"', 'category="PARENTAL_HOME"')
    start = text.index("    <Address postcode")
    end = text.index("</Address>", start) + len("</Address>\n")
    n = _parse(text[:start] + text[end:])
    assert n.placement is not None
    assert n.placement.address is None


def test_every_error_is_collected_not_just_the_first() -> None:
    text = BASIC.replace('dateOfBirth="2011-06-02"', 'dateOfBirth="2011-13-01"')
    text = text.replace('telephone="+441632960417"', 'telephone="01632"')
    text = text.replace('level="Medium"', 'level="Extreme"')
    fields = [r.split(":")[0] for r in _reasons(text)]
    assert fields == ["child.date_of_birth", "reporter.phone", "risk.grade"]


def test_schema_errors_keep_their_line_numbers() -> None:
    text = BASIC.replace("<Circumstances>", "<Weather>wet</Weather>\n    <Circumstances>")
    assert BASIC.splitlines()[26].strip().startswith("<Circumstances>")
    [reason] = _reasons(text)
    assert reason.startswith("document: /MissingPersonNotification/Report/Weather: ")
    # <Circumstances> was on line 27 of the fixture; <Weather> now sits there.
    assert reason.endswith("(schema, line 27)")


def test_schema_none_still_applies_safety_limits() -> None:
    deep = "<a>" * 80 + "</a>" * 80
    text = BASIC.replace("</MissingPersonNotification>", deep + "</MissingPersonNotification>")
    assert _reasons(text, NO_SCHEMA) == ["document: nests elements deeper than 64 levels"]


def test_niche_person_names_are_joined_from_forename_and_surname() -> None:
    raw = (FIXTURES / "niche" / "missing_reported_full.xml").read_bytes()
    n = NicheAdapter().parse(raw)
    assert [a.name for a in n.associates] == ["Kyle Benton", "Dean Morris"]


def test_reasons_are_capped_so_a_hostile_document_cannot_bloat_the_quarantine() -> None:
    many = '<Associate name="X" telephone="0"/>' * 300
    reasons = _reasons(BASIC.replace("</Report>", many + "</Report>"))
    assert len(reasons) == 101
    assert (
        reasons[0] == "associates[0].phone: '0' is not an E.164 phone number (e.g. +441632960001)"
    )
    assert reasons[-1] == "document: has 201 more problems not listed"
