"""Properties of routing over generated notifications (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.enums import (
    EventType,
    LegalStatus,
    PlacementType,
    RecipientRole,
    RiskFactor,
    RiskGrade,
)
from gateway.domain.model import (
    Address,
    Child,
    FoundDetails,
    Notification,
    Placement,
    RiskAssessment,
)
from gateway.domain.schemas import notification_to_json
from routing.directory import POLICE_FEEDBACK
from routing.minimisation import PROFILES, minimise
from routing.recipients import EpisodeHistory, route
from tests.unit.routing.routing_fakes import POSTCODES, FakePostcodes, demo_directory

DIRECTORY = demo_directory()
POSTCODE_CHOICES = [*POSTCODES, "ZZ9 9ZZ", "NOT A PC", None]
NAMES = [
    *(a.name for a in DIRECTORY.authorities.values()),
    *(alias for a in DIRECTORY.authorities.values() for alias in a.aliases),
    "Birmingham City Council",
    None,
]
FORCES = [*DIRECTORY.forces, "ruritania-police"]
START = datetime(2026, 1, 1, tzinfo=UTC)

postcodes = st.sampled_from(POSTCODE_CHOICES)
moments = st.integers(min_value=0, max_value=2 * 365 * 24 * 4).map(
    lambda q: START + timedelta(minutes=15 * q)
)


@st.composite
def notifications(draw: st.DrawFn, event: EventType | None = None) -> Notification:
    """A notification of any shape routing may meet, good or bad."""
    when = draw(moments)
    home = draw(postcodes)
    place_pc = draw(postcodes)
    placement = draw(
        st.none()
        | st.builds(
            Placement,
            type=st.sampled_from(PlacementType),
            legal_status=st.sampled_from(LegalStatus),
            address=st.just(Address(("x",), place_pc) if place_pc else None),
            responsible_authority=st.sampled_from(NAMES),
            confidential=st.booleans(),
        )
    )
    missing_pc = draw(postcodes)
    chosen = event or draw(st.sampled_from(EventType))
    return Notification(
        event=chosen,
        force=draw(st.sampled_from(FORCES)),
        police_reference="P-1",
        occurred_at=when,
        child=Child(
            given_name="A",
            family_name="B",
            date_of_birth=draw(st.dates(date(2008, 1, 1), date(2020, 1, 1))),
            uasc=draw(st.booleans()),
            home_address=Address(("h",), home) if home else None,
        ),
        placement=placement,
        risk=RiskAssessment(
            grade=draw(st.sampled_from(RiskGrade)),
            assessed_at=when,
            factors=tuple(draw(st.lists(st.sampled_from(RiskFactor), max_size=3))),
        ),
        missing_from=Address(("m",), missing_pc) if missing_pc else None,
        last_seen_place="somewhere",
        places_frequented=("park",),
        parents_not_told=draw(st.booleans()),
        found=FoundDetails(found_at=when, found_place="station", returned_to="home")
        if chosen is EventType.FOUND
        else None,
        extra=draw(
            st.dictionaries(
                st.sampled_from(
                    ["care_plan", "placement_plan_text", "rhi_sensitive_x", "sensitive", "note"]
                ),
                st.just("value"),
                max_size=5,
            )
        ),
    )


@settings(max_examples=150, deadline=None)
@given(notifications(), moments)
def test_every_notification_gets_a_recipient_or_an_item(n: Notification, now: datetime) -> None:
    decision = route(n, None, DIRECTORY, FakePostcodes(), now)
    assert decision.recipients or decision.items


@settings(max_examples=150, deadline=None)
@given(notifications(EventType.MISSING_REPORTED), moments, moments, st.booleans())
def test_found_reaches_every_recipient_of_the_missing_report(
    n: Notification, missing_at: datetime, found_at: datetime, repeat_details: bool
) -> None:
    lookup = FakePostcodes()
    missing = route(n, None, DIRECTORY, lookup, missing_at)
    history = EpisodeHistory.from_decisions(
        [missing], child=n.child, placement=n.placement, missing_from=n.missing_from
    )
    found_n = Notification(
        event=EventType.FOUND,
        force=n.force,
        police_reference=n.police_reference,
        occurred_at=found_at,
        child=n.child if repeat_details else None,
        placement=n.placement if repeat_details else None,
        found=FoundDetails(found_at=found_at),
    )
    found = route(found_n, history, DIRECTORY, lookup, found_at)
    got = {(r.authority, r.team): r.role for r in found.recipients}
    for r in missing.recipients:
        assert (r.authority, r.team) in got
        if r.role is RecipientRole.ACTION:
            assert got[(r.authority, r.team)] is RecipientRole.ACTION


@settings(max_examples=150, deadline=None)
@given(notifications(), moments)
def test_no_police_recipient_ever_gets_a_suppressed_field(n: Notification, now: datetime) -> None:
    decision = route(n, None, DIRECTORY, FakePostcodes(), now)
    data = notification_to_json(n)
    confidential = n.placement is not None and n.placement.confidential
    protected = (n.child is not None and n.child.uasc) or (
        n.risk is not None and RiskFactor.TRAFFICKING in n.risk.factors
    )
    for recipient in decision.recipients:
        assert recipient.profile in PROFILES
        if recipient.team != POLICE_FEEDBACK:
            continue
        out = minimise(data, recipient.profile)
        extra_keys = set(out["extra"]) - {"withheld"}
        assert not {k for k in extra_keys if k.startswith(("care_plan", "placement_plan"))}
        assert not {k for k in extra_keys if k.startswith(("sensitive", "rhi_sensitive"))}
        if confidential or protected:
            assert out["placement"] is None or out["placement"]["address"] is None
        if protected:
            assert out["missing_from"] is None
            assert out["last_seen_place"] is None
            assert out["found"] is None or out["found"]["found_place"] is None
        assert out["parents_not_told"] is n.parents_not_told


@settings(max_examples=100, deadline=None)
@given(notifications(), moments)
def test_police_only_ever_receive_rhi_outcomes(n: Notification, now: datetime) -> None:
    decision = route(n, None, DIRECTORY, FakePostcodes(), now)
    police = [r for r in decision.recipients if r.team == POLICE_FEEDBACK]
    if n.event is not EventType.RHI_OUTCOME:
        assert police == []


@settings(max_examples=100, deadline=None)
@given(notifications(), moments)
def test_routing_is_pure(n: Notification, now: datetime) -> None:
    first = route(n, None, DIRECTORY, FakePostcodes(), now)
    assert route(n, None, DIRECTORY, FakePostcodes(), now) == first
