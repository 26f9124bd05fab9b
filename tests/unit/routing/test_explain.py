"""`explain` renders a routing decision as text a coordinator can read."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.domain.routing import CoordinatorItem, RoutingDecision
from routing.explain import explain
from routing.recipients import route
from tests.unit.routing.routing_fakes import (
    FakePostcodes,
    child,
    demo_directory,
    notification,
    placement,
)

NIGHT = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)


def test_explains_recipients_channels_reasons_and_steps() -> None:
    n = notification(kid=child(), place=placement("CV34 4RL", "Kent County Council"), when=NIGHT)
    text = explain(route(n, None, demo_directory(), FakePostcodes(), NIGHT))
    lines = text.splitlines()
    assert lines[0] == "Routing decision: 1 action copy, 5 for information, 0 coordinator items"
    action_part = text.split("Information copies:")[0]
    assert "kent / edt" in action_part
    assert "channel: folder drop/kent/edt (rendering secure_mail, encryption cms)" in text
    assert "why: host authority: placement postcode CV34 4RL is in Warwickshire" in text
    assert "data profile: host_information" in text
    assert "How this was worked out:" in text
    assert "placement postcode: CV34 4RL is in E10000031" in text


def test_explains_an_unroutable_notification() -> None:
    decision = RoutingDecision(
        items=(CoordinatorItem("no_route", "nothing to go on", "kent"),),
        explanation=("looked everywhere",),
    )
    text = explain(decision)
    assert text.startswith(
        "Routing decision: 0 action copies, 0 for information, 1 coordinator item\n"
    )
    assert "  - no_route [kent]: nothing to go on" in text
    assert "never dropped" in text
    assert "Action copies" not in text
