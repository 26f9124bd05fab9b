"""Property-based tests: valid notifications round-trip; any input parses or is rejected."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.compact import CompactAdapter
from adapters.niche import NicheAdapter
from adapters.police_xml import PoliceXmlAdapter
from gateway.domain.enums import (
    EthnicityCode,
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
from tests.unit.adapters.police_fuzz import mutate, outcome, seed_documents
from tests.unit.adapters.police_render import to_compact, to_niche

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ADAPTERS: dict[str, PoliceXmlAdapter] = {"compact": CompactAdapter(), "niche": NicheAdapter()}
RENDER: dict[str, Callable[[Notification], bytes]] = {"compact": to_compact, "niche": to_niche}

GMT = UTC
BST = timezone(timedelta(hours=1))
LETTERS = string.ascii_letters + "ÀÉÍÓÚàéíóúëïöüçñøåæœßŁłŚśŻżŹźĆćŃńĘęĄą"
POSTCODES = ["CV34 4RL", "DE1 2FS", "ME4 4TR", "DN31 1NB", "EC1A 1BB", "W1A 0AX", "M1 1AE"]


def _word(max_size: int) -> st.SearchStrategy[str]:
    """Draw one word of letters, accented ones included."""
    return st.text(alphabet=LETTERS, min_size=1, max_size=max_size)


@st.composite
def _name(draw: st.DrawFn, max_size: int = 35) -> str:
    """Draw a POLE name: words joined by space, hyphen or apostrophe, at most 35 chars."""
    first = draw(_word(12))
    rest = draw(
        st.lists(
            st.sampled_from([" ", "-", "'"]).flatmap(lambda sep: _word(8).map(lambda w: sep + w)),
            max_size=2,
        )
    )
    return (first + "".join(rest))[:max_size]


_text = (
    st.text(alphabet=LETTERS + string.digits + " ,.;:()/&-'", min_size=1, max_size=80)
    .map(str.strip)
    .filter(bool)
    .map(lambda s: " ".join(s.split()))
)
_optional_text = st.none() | _text


@st.composite
def _moment(draw: st.DrawFn) -> datetime:
    """Draw a 2026 date-time at GMT or BST offset."""
    base = datetime(2026, 1, 1) + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60)))
    return base.replace(tzinfo=draw(st.sampled_from([GMT, BST])))


@st.composite
def _phone(draw: st.DrawFn) -> str:
    """Draw a UK E.164 telephone number."""
    return "+44" + draw(st.text(alphabet=string.digits, min_size=10, max_size=10))


@st.composite
def _nhs_number(draw: st.DrawFn) -> str:
    """Draw an NHS number with a correct check digit."""
    digits = draw(st.text(alphabet=string.digits, min_size=9, max_size=9))
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(digits)) % 11
    check = 0 if check == 11 else check
    if check == 10:
        return "9434765919"
    return digits + str(check)


@st.composite
def _address(draw: st.DrawFn, postcode_required: bool = False) -> Address:
    """Draw an address with lines, a postcode, or both."""
    lines = tuple(draw(st.lists(_text, max_size=3)))
    postcode = (
        draw(st.sampled_from(POSTCODES))
        if postcode_required
        else draw(st.none() | st.sampled_from(POSTCODES))
    )
    if not lines and postcode is None:
        postcode = POSTCODES[0]
    return Address(lines, postcode)


@st.composite
def _person(draw: st.DrawFn) -> Person:
    """Draw a reporter or associate."""
    name = f"{draw(_word(20))} {draw(_word(20))}"
    return Person(name, draw(_optional_text), draw(st.none() | _phone()))


@st.composite
def _child(draw: st.DrawFn, on: date) -> Child:
    """Draw a child born on or before `on`."""
    return Child(
        given_name=draw(_name()),
        family_name=draw(_name()),
        date_of_birth=on - timedelta(days=draw(st.integers(0, 18 * 366))),
        gender=draw(st.sampled_from(list(Gender))),
        ethnicity=draw(st.none() | st.sampled_from(list(EthnicityCode))),
        nhs_number=draw(st.none() | _nhs_number()),
        council_child_id=draw(st.none() | st.from_regex(r"[A-Z]{2,4}-[0-9]{3,6}", fullmatch=True)),
        uasc=draw(st.booleans()),
        description=draw(_optional_text),
        clothing=draw(_optional_text),
        photograph_ref=draw(_optional_text),
        home_address=draw(st.none() | _address()),
    )


@st.composite
def _placement(draw: st.DrawFn) -> Placement:
    """Draw a placement, with a postcode where its type needs one."""
    kind = draw(st.sampled_from(list(PlacementType)))
    needs = kind in (PlacementType.FOSTER, PlacementType.RESIDENTIAL)
    address = draw(_address(postcode_required=True)) if needs else draw(st.none() | _address())
    return Placement(
        type=kind,
        legal_status=draw(st.sampled_from(list(LegalStatus))),
        address=address,
        responsible_authority=draw(_optional_text),
        confidential=draw(st.booleans()),
    )


@st.composite
def _risk(draw: st.DrawFn, regrading: bool = False) -> RiskAssessment:
    """Draw a risk assessment; a regrading always says who and why."""
    factors = draw(st.lists(st.sampled_from(list(RiskFactor)), max_size=4, unique=True))
    who_and_why = _text if regrading else _optional_text  # a regrading must say both
    return RiskAssessment(
        grade=draw(st.sampled_from(list(RiskGrade))),
        assessed_at=draw(_moment()),
        factors=tuple(factors),
        authorised_by=draw(who_and_why),
        rationale=draw(who_and_why),
    )


@st.composite
def notifications(draw: st.DrawFn) -> Notification:
    """Draw a notification that is valid for its event under the default mappings."""
    event = draw(st.sampled_from(sorted(e for e in EventType if e in _POLICE)))
    occurred = draw(_moment())
    reported = draw(st.none() | _moment())
    needs_missing = event is EventType.MISSING_REPORTED
    if needs_missing and reported is None:
        reported = occurred
    last_seen = (
        None if reported is None else reported - timedelta(minutes=draw(st.integers(0, 3000)))
    )
    last_seen = draw(st.sampled_from([None, last_seen]))
    reference = (reported or occurred).date()
    found = None
    if event is EventType.FOUND or draw(st.booleans()):
        start = max(t for t in (reported, last_seen, occurred - timedelta(days=3)) if t)
        found = FoundDetails(
            found_at=start + timedelta(minutes=draw(st.integers(0, 5000))),
            found_place=draw(_optional_text),
            found_by=draw(_optional_text),
            returned_to=draw(_optional_text),
            prevention_interview_done=(done := draw(st.booleans())),
            # Without an interview, police must record why not.
            prevention_interview_reason=draw(_optional_text if done else _text),
        )
    child = draw(_child(reference)) if needs_missing or draw(st.booleans()) else None
    risk = (
        draw(_risk(regrading=event is EventType.RISK_REGRADED))
        if event in (EventType.MISSING_REPORTED, EventType.RISK_REGRADED) or draw(st.booleans())
        else None
    )
    medication = draw(_optional_text) if risk is not None else None  # carried in the risk
    return Notification(
        event=event,
        force=draw(st.sampled_from(["kent", "warwickshire", "derbyshire", "humberside"])),
        police_reference=draw(st.from_regex(r"[A-Z]{2}-MP-20[0-9]{2}-[0-9]{6}", fullmatch=True)),
        occurred_at=occurred,
        revision=draw(st.integers(1, 50)),
        incident_number=draw(
            st.none() | st.from_regex(r"[A-Z]{2}-[0-9]{8}-[0-9]{4}", fullmatch=True)
        ),
        child=child,
        placement=draw(st.none() | _placement()),
        risk=risk,
        reported_at=reported,
        last_seen_at=last_seen,
        last_seen_place=draw(_optional_text),
        last_seen_with=draw(_optional_text),
        missing_from=draw(st.none() | _address()),
        circumstances=draw(_optional_text),
        associates=tuple(draw(st.lists(_person(), max_size=3))),
        places_frequented=tuple(draw(st.lists(_text, max_size=3))),
        reporter=draw(st.none() | _person()),
        previous_episodes=draw(st.none() | st.integers(0, 200)),
        parents_not_told=draw(st.booleans()),
        found=found,
        summary=draw(_optional_text),
        extra={} if medication is None else {"medication": medication},
    )


_POLICE = {
    EventType.MISSING_REPORTED,
    EventType.UPDATE,
    EventType.RISK_REGRADED,
    EventType.FOUND,
    EventType.CLOSED,
    EventType.CANCELLED,
}


@BOUNDED
@given(notifications(), st.sampled_from(sorted(ADAPTERS)))
def test_any_valid_notification_round_trips_through_both_formats(
    notification: Notification, adapter: str
) -> None:
    raw = RENDER[adapter](notification)
    assert ADAPTERS[adapter].parse(raw) == notification


@BOUNDED
@given(st.binary(max_size=2048), st.sampled_from(sorted(ADAPTERS)))
def test_random_bytes_are_rejected_with_reasons_never_a_crash(raw: bytes, adapter: str) -> None:
    assert outcome(ADAPTERS[adapter], raw) in ("accepted", "rejected")


@BOUNDED
@given(st.sampled_from(sorted(ADAPTERS)), st.data(), st.randoms(use_true_random=False))
def test_mutated_documents_parse_or_are_rejected_with_reasons(
    adapter: str, data: st.DataObject, rng: random.Random
) -> None:
    doc = data.draw(st.sampled_from(seed_documents(adapter)))
    assert outcome(ADAPTERS[adapter], mutate(doc, rng)) in ("accepted", "rejected")


@BOUNDED
@given(notifications(), st.sampled_from(sorted(ADAPTERS)), st.randoms(use_true_random=False))
def test_mutations_of_generated_documents_never_crash(
    notification: Notification, adapter: str, rng: random.Random
) -> None:
    raw = mutate(RENDER[adapter](notification), rng)
    assert outcome(ADAPTERS[adapter], raw) in ("accepted", "rejected")
