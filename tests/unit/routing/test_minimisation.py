"""Data minimisation, field by field, for every profile (DOMAIN.md §4 "Data minimisation")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from gateway.domain.enums import EventType, LegalStatus, PlacementType, RiskFactor, RiskGrade
from gateway.domain.model import (
    Address,
    Child,
    FoundDetails,
    Notification,
    Person,
    Placement,
    RiskAssessment,
)
from gateway.domain.schemas import notification_from_json, notification_to_json
from routing.minimisation import PROFILES, WITHHELD_KEY, minimise, minimise_with_report

WHEN = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
ACTION_PROFILES = ["home_action", "responsible_action", "action", "host_action", "iro"]
INFO_PROFILES = ["host_information", "youth_justice", "rhi_share"]


def full(
    *,
    confidential: bool = False,
    uasc: bool = False,
    trafficked: bool = False,
    parents_not_told: bool = False,
) -> dict[str, Any]:
    """A found notification with every whereabouts field and every kind of extra filled."""
    factors = (RiskFactor.TRAFFICKING,) if trafficked else (RiskFactor.CSE,)
    n = Notification(
        event=EventType.FOUND,
        force="warwickshire-police",
        police_reference="WK-1",
        occurred_at=WHEN,
        child=Child(
            given_name="Sam",
            family_name="Test",
            date_of_birth=date(2011, 5, 1),
            uasc=uasc,
            home_address=Address(("2 Carer Road", "Warwick"), "CV34 4RL"),
        ),
        placement=Placement(
            type=PlacementType.FOSTER,
            legal_status=LegalStatus.S31,
            address=Address(("2 Carer Road", "Warwick"), "CV34 4RL"),
            responsible_authority="Kent",
            confidential=confidential,
        ),
        risk=RiskAssessment(grade=RiskGrade.HIGH, assessed_at=WHEN, factors=factors),
        last_seen_place="Leamington bus station",
        missing_from=Address(("2 Carer Road",), "CV34 4RL"),
        places_frequented=("Coventry city centre",),
        associates=(Person("A Friend"),),
        reporter=Person("Carer", "foster carer"),
        parents_not_told=parents_not_told,
        found=FoundDetails(found_at=WHEN, found_place="Coventry station", returned_to="placement"),
        extra={
            "care_plan_summary": "plan text",
            "placement_plan": "placement plan text",
            "rhi_sensitive_disclosures": "disclosure",
            "sensitive_notes": "note",
            "rhi_conducted_by": "kent",
        },
    )
    return notification_to_json(n)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_sensitive_disclosures_never_travel(profile: str) -> None:
    out = minimise(full(), profile)
    assert "rhi_sensitive_disclosures" not in out["extra"]
    assert "sensitive_notes" not in out["extra"]
    assert "000 §8.11" in out["extra"][WITHHELD_KEY]
    assert out["extra"]["rhi_conducted_by"] == "kent"


def test_care_and_placement_plans_are_not_sent_to_police() -> None:
    out = minimise(full(), "police_rhi_feedback")
    assert "care_plan_summary" not in out["extra"]
    assert "placement_plan" not in out["extra"]
    assert "000 §6.1.6" in out["extra"][WITHHELD_KEY]


@pytest.mark.parametrize("profile", ACTION_PROFILES + INFO_PROFILES)
def test_councils_keep_the_plans(profile: str) -> None:
    out = minimise(full(), profile)
    assert out["extra"]["care_plan_summary"] == "plan text"
    assert out["extra"]["placement_plan"] == "placement plan text"


@pytest.mark.parametrize("profile", [*INFO_PROFILES, "police_rhi_feedback"])
def test_confidential_placement_address_withheld_from_information_copies(profile: str) -> None:
    out = minimise(full(confidential=True), profile)
    assert out["placement"]["address"] is None
    assert out["placement"]["confidential"] is True
    assert out["missing_from"] is None  # same postcode as the placement
    assert out["child"]["home_address"] is None  # same postcode as the placement
    assert out["found"]["returned_to"] is None
    assert "confidential placement" in out["extra"][WITHHELD_KEY]
    # Not whereabouts of the placement: kept.
    assert out["last_seen_place"] == "Leamington bus station"
    assert out["found"]["found_place"] == "Coventry station"
    assert out["places_frequented"] == ["Coventry city centre"]
    assert out["placement"]["responsible_authority"] == "Kent"


def test_confidential_missing_from_elsewhere_is_kept() -> None:
    data = full(confidential=True)
    data["missing_from"] = {"lines": ["School"], "postcode": "CV11 4AB"}
    out = minimise(data, "host_information")
    assert out["missing_from"] == {"lines": ["School"], "postcode": "CV11 4AB"}


@pytest.mark.parametrize("profile", ACTION_PROFILES)
def test_confidential_placement_address_kept_for_those_who_act(profile: str) -> None:
    out = minimise(full(confidential=True), profile)
    assert out["placement"]["address"]["postcode"] == "CV34 4RL"


@pytest.mark.parametrize("flag", ["uasc", "trafficked"])
@pytest.mark.parametrize("profile", [*INFO_PROFILES, "police_rhi_feedback"])
def test_protected_child_whereabouts_withheld(flag: str, profile: str) -> None:
    out = minimise(full(**{flag: True}), profile)
    assert out["placement"]["address"] is None
    assert out["missing_from"] is None
    assert out["child"]["home_address"] is None
    assert out["last_seen_place"] is None
    assert out["places_frequented"] == []
    assert out["found"]["found_place"] is None
    assert out["found"]["returned_to"] is None
    assert "001 L276" in out["extra"][WITHHELD_KEY]
    # Identity and risk still travel.
    assert out["child"]["given_name"] == "Sam"
    assert out["risk"]["grade"] == "HIGH"


@pytest.mark.parametrize("profile", [*ACTION_PROFILES, "placement_notice"])
def test_protected_child_whereabouts_kept_for_those_who_act(profile: str) -> None:
    out = minimise(full(uasc=True), profile)
    assert out["placement"]["address"]["postcode"] == "CV34 4RL"
    assert out["last_seen_place"] == "Leamington bus station"


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_parents_not_told_flag_is_never_stripped(profile: str, value: bool) -> None:
    out = minimise(full(parents_not_told=value, uasc=True), profile)
    assert out["parents_not_told"] is value


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_output_is_still_a_canonical_notification(profile: str) -> None:
    out = minimise(full(confidential=True, uasc=True), profile)
    assert notification_from_json(out).police_reference == "WK-1"


def test_input_is_not_changed() -> None:
    data = full(confidential=True, uasc=True)
    before = repr(data)
    minimise(data, "police_rhi_feedback")
    assert repr(data) == before


def test_nothing_withheld_means_no_withheld_note() -> None:
    data = full()
    data["extra"] = {}
    out, withheld = minimise_with_report(data, "responsible_action")
    assert withheld == []
    assert WITHHELD_KEY not in out["extra"]
    assert out == {**data, "extra": {}}


def test_a_forged_withheld_note_is_replaced() -> None:
    data = full()
    data["extra"] = {WITHHELD_KEY: "nothing, trust me"}
    out = minimise(data, "responsible_action")
    assert WITHHELD_KEY not in out["extra"]


def test_report_lists_each_withheld_path() -> None:
    _, withheld = minimise_with_report(full(confidential=True), "host_information")
    paths = sorted(w.split(":")[0] for w in withheld)
    assert paths == [
        "child.home_address",
        "extra.rhi_sensitive_disclosures",
        "extra.sensitive_notes",
        "found.returned_to",
        "missing_from",
        "placement.address",
    ]


def test_unknown_profile_fails_closed() -> None:
    with pytest.raises(ValueError, match="unknown minimisation profile"):
        minimise(full(), "everything")
