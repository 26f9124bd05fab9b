"""Golden files: each police fixture parses to exactly its expected canonical JSON or reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.domain.enums import POLICE_EVENTS
from gateway.domain.schemas import notification_from_json, notification_to_json
from tests.unit.adapters.police_golden import (
    adapters,
    invalid_cases,
    overrides_for,
    reasons_of,
    valid_cases,
)

ADAPTERS = adapters()
VALID = [(name, path) for name in ADAPTERS for path in valid_cases(name)]
INVALID = [(name, path) for name in ADAPTERS for path in invalid_cases(name)]


def _id(case: tuple[str, Path]) -> str:
    """Name a fixture case for pytest."""
    return f"{case[0]}/{case[1].stem}"


@pytest.mark.parametrize("case", VALID, ids=[_id(c) for c in VALID])
def test_valid_fixture_maps_to_expected_canonical_json(case: tuple[str, Path]) -> None:
    name, path = case
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    notification = ADAPTERS[name].parse(path.read_bytes(), overrides_for(path))
    assert notification_to_json(notification) == expected
    # The canonical JSON loads back to the same notification: nothing lost on the way.
    assert notification_from_json(expected) == notification


@pytest.mark.parametrize("case", INVALID, ids=[_id(c) for c in INVALID])
def test_invalid_fixture_is_rejected_with_expected_reasons(case: tuple[str, Path]) -> None:
    name, path = case
    expected = json.loads(path.with_name(path.stem + ".reasons.json").read_text("utf-8"))
    assert expected, "an invalid fixture must list at least one reason"
    assert reasons_of(ADAPTERS[name], path) == expected


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_each_format_has_at_least_15_valid_fixtures_covering_every_police_event(
    name: str,
) -> None:
    cases = valid_cases(name)
    assert len(cases) >= 15
    adapter = ADAPTERS[name]
    events = {adapter.parse(p.read_bytes(), overrides_for(p)).event for p in cases}
    assert events == set(POLICE_EVENTS)
