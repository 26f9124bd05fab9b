"""Placement resolution on its own: home, responsible and host authority (DOMAIN.md §4)."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.domain.enums import LegalStatus, PlacementType
from gateway.domain.model import Address
from routing import recipients
from routing.minimisation import PROFILES
from routing.placement import resolve_placement
from tests.unit.routing.routing_fakes import FakePostcodes, child, demo_directory, placement

DIRECTORY = demo_directory()


def test_out_of_area_placement_names_all_three_roles() -> None:
    lookup = FakePostcodes()
    got = resolve_placement(
        child=child(home="ME4 4TR"),
        placement=placement("CV34 4RL", "Kent County Council"),
        missing_from=None,
        directory=DIRECTORY,
        postcodes=lookup,
    )
    assert got.looked_after
    assert got.responsible is not None
    assert got.responsible.authority.id == "kent"
    assert got.host is not None
    assert got.host.authority.id == "warwickshire"
    assert got.placed_out_of_area
    assert got.items == ()
    assert lookup.calls == ["CV34 4RL"]  # the home address does not decide a child in care


def test_in_care_by_legal_status_even_when_living_at_home() -> None:
    got = resolve_placement(
        child=child(home="CV34 4RL"),
        placement=placement(
            "CV34 4RL", "Warwickshire", type_=PlacementType.HOME, legal=LegalStatus.S31
        ),
        missing_from=None,
        directory=DIRECTORY,
        postcodes=FakePostcodes(),
    )
    assert got.looked_after
    assert not got.placed_out_of_area


def test_home_authority_prefers_home_address_over_missing_from() -> None:
    got = resolve_placement(
        child=child(home="DE1 2FS"),
        placement=None,
        missing_from=Address((), "DE4 3AG"),
        directory=DIRECTORY,
        postcodes=FakePostcodes(),
    )
    assert got.home is not None
    assert got.home.authority.id == "derby"
    assert not got.looked_after


def test_confidential_placement_keeps_postcode_out_of_every_text() -> None:
    got = resolve_placement(
        child=child(),
        placement=placement("ZZ9 9ZZ", "Kent", confidential=True),
        missing_from=None,
        directory=DIRECTORY,
        postcodes=FakePostcodes(),
    )
    assert got.confidential
    texts = [*got.notes, *(i.message for i in got.items)]
    assert texts
    assert all("ZZ9" not in t for t in texts)


def test_every_profile_routing_uses_is_known_to_minimisation() -> None:
    source = Path(recipients.__file__).read_text()
    names = {
        node.value.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and any(isinstance(t, ast.Name) and t.id.startswith("PROFILE_") for t in node.targets)
    }
    assert len(names) == 9
    assert names <= set(PROFILES)


def test_works_with_the_real_postcode_result_shape() -> None:
    from routing.geography import StaticPostcodeLookup

    lookup = StaticPostcodeLookup(
        {"CV34 4RL": "E07000222", "ME4 4TR": "E06000035", "CF10 1EP": "W06000015"}
    )
    got = resolve_placement(
        child=child(),
        placement=placement("cv344rl", "Medway"),
        missing_from=None,
        directory=DIRECTORY,
        postcodes=lookup,
    )
    assert got.host is not None
    assert got.host.authority.id == "warwickshire"
    assert got.responsible is not None
    assert got.responsible.authority.id == "medway"
    wales = resolve_placement(
        child=child(),
        placement=placement("CF10 1EP", "Medway"),
        missing_from=None,
        directory=DIRECTORY,
        postcodes=lookup,
    )
    assert wales.host is None
    assert [i.kind for i in wales.items] == ["outside_england"]
    assert "Wales" in wales.items[0].message
