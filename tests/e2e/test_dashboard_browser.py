"""The dashboard in real headless Chromium, served by waitress, under its real CSP.

Sign in; watch a new missing notification posted to the intake API appear on Today without a
reload; open the episode timeline; re-send a held delivery and watch it turn delivered; a
council user refused another council's episode (and the refusal audited); axe-core finds no
serious or critical violation on any main page. Screenshots go to test-output/screenshots.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from gateway.intake.senders import issue_token
from gateway.services import Services
from gateway.store.models import AuditEntry
from tests.e2e.conftest import screenshot
from tests.support.dashboard import (
    PASSWORD,
    WARWICKSHIRE_POLICE,
    World,
    build_app,
    build_world,
)
from tests.support.messages import compact
from tests.support.webserver import serve


@pytest.fixture
def world(make_services: Callable[..., Services]) -> World:
    """Two seeded episodes with held copies, and one user of each role."""
    return build_world(make_services())


@pytest.fixture
def site(world: World) -> Iterator[str]:
    """Serve the world's app with waitress on a free port; yield the base URL."""
    with serve(world.app) as base:
        yield base


def sign_in(page: Any, base: str, username: str) -> None:
    """Sign in through the form."""
    page.goto(f"{base}/dashboard/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/dashboard/today")


def post_message(base: str, token: str, body: bytes) -> dict[str, Any]:
    """Post one police message to the intake API as a force system would."""
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL built here
        f"{base}/api/v1/inbound/compact", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def test_sign_in_and_watch_a_new_missing_notification_appear(
        make_services: Callable[..., Services], page: Any) -> None:
    services = make_services()
    app = build_app(services)
    with services.db.unit_of_work() as session:
        token = issue_token(session, WARWICKSHIRE_POLICE, "e2e", services.clock(), "test")
    with serve(app) as base:
        sign_in(page, base, "regional")
        assert page.locator("[data-count=open_episodes]").inner_text() == "0"
        screenshot(page, "01-today-empty")
        page.evaluate("window.notReloaded = true")
        receipt = post_message(base, token, compact(
            "missing_reported_basic", force=WARWICKSHIRE_POLICE, reference="WK-MP-2026-E2E01"))
        assert receipt["status"] == "PROCESSED"
        row = page.locator("#open-episodes").get_by_role("link", name="WK-MP-2026-E2E01")
        row.wait_for(state="visible", timeout=10_000)
        assert page.evaluate("window.notReloaded") is True  # updated in place, not reloaded
        assert page.locator("[data-count=open_episodes]").inner_text() == "1"
        assert "Updated at" in page.locator("#live-status").inner_text()
        screenshot(page, "02-today-new-missing-notification")
        row.click()
        page.wait_for_url(f"{base}/dashboard/episodes/{receipt['episode_id']}")
        timeline = page.locator("#timeline")
        assert timeline.locator("[data-kind=inbound]").count() == 1
        assert timeline.locator("[data-kind=event]", has_text="Missing reported").count() == 1
        assert timeline.locator("[data-kind=delivery]").count() == len(receipt["deliveries"])
        assert "Amelia" in page.locator("#child").inner_text()
        screenshot(page, "03-episode-timeline")
    assert not page.problems, page.problems  # no CSP violation, no script error


def test_resend_a_held_delivery_and_watch_it_turn_delivered(
        world: World, site: str, page: Any) -> None:
    sign_in(page, site, "kent.user")
    page.get_by_role("link", name="Held deliveries").first.click()
    link = page.locator("[data-section=held] a").first
    link.click()
    page.wait_for_url(f"{site}/dashboard/deliveries/{world.held['A']}")
    assert page.locator("#delivery-status [data-status]").first.get_attribute(
        "data-status") == "HELD"
    screenshot(page, "04-held-delivery")
    page.get_by_role("button", name="Re-send").click()
    assert page.get_by_role("heading", name="Re-send this delivery?").is_visible()
    screenshot(page, "05-confirm-resend")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{site}/dashboard/deliveries/{world.held['A']}?notice=resent")
    status = page.locator("#delivery-status .gw-progress")
    assert status.get_attribute("data-status") == "PENDING"
    page.evaluate("window.notReloaded = true")
    # The worker runs: here, inline, as the test's stand-in for Celery.
    assert world.services.outbox.deliver_one(world.held["A"]) == "SENT"
    page.locator("#delivery-status .gw-progress[data-status=SENT]").wait_for(timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#delivery-status").get_by_text("Delivered").first.is_visible()
    screenshot(page, "06-resent-delivered")
    with world.services.db.read() as session:
        actions = session.execute(select(AuditEntry.action).where(
            AuditEntry.subject_id == world.held["A"], AuditEntry.actor == "user:kent.user")
        ).scalars().all()
    assert "delivery.resend" in actions
    assert not page.problems, page.problems


def test_a_council_user_is_refused_another_councils_episode(
        world: World, site: str, page: Any) -> None:
    sign_in(page, site, "derby.user")
    response = page.goto(f"{site}/dashboard/episodes/{world.episodes['A']}")
    assert response.status == 403
    assert page.get_by_role("heading", name="You do not have access to this page").is_visible()
    assert "Amelia" not in page.content()
    screenshot(page, "07-denied-other-council")
    with world.services.db.read() as session:
        denial = session.execute(select(AuditEntry).where(
            AuditEntry.action == "episode.view_denied",
            AuditEntry.subject_id == world.episodes["A"])).scalar_one()
    assert denial.actor == "user:derby.user"
    assert denial.detail["organisation"] == "derby"
    own = page.goto(f"{site}/dashboard/episodes/{world.episodes['B']}")
    assert own.status == 200


def _axe(page: Any, source: str) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.x A and AA rules) on the page; return serious and critical ones."""
    page.evaluate(source)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values:
            ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def test_axe_finds_no_serious_violation_on_the_main_pages(
        world: World, site: str, page: Any, axe_source: str) -> None:
    page.goto(f"{site}/dashboard/login")
    found = {"login": _axe(page, axe_source)}
    screenshot(page, "00-sign-in")
    sign_in(page, site, "admin")
    item = world.items["A"]
    pages = {
        "today": "/dashboard/today",
        "episode": f"/dashboard/episodes/{world.episodes['A']}",
        "deliveries": "/dashboard/deliveries",
        "delivery": f"/dashboard/deliveries/{world.held['B']}",
        "item": f"/dashboard/items/{item}",
        "message": f"/dashboard/messages/{world.messages['A']}",
        "search": "/dashboard/search?police_reference=WK-MP-2026-000417",
        "authorities": "/dashboard/authorities",
        "audit": "/dashboard/audit",
    }
    for name, path in pages.items():
        page.goto(f"{site}{path}")
        found[name] = _axe(page, axe_source)
        if name in ("today", "deliveries", "item", "message", "search", "authorities", "audit"):
            screenshot(page, f"08-{name}")
    page.goto(f"{site}/dashboard/items/{item}")
    page.get_by_label("How was it resolved?").fill("Rang the front door; copy sent by hand")
    page.get_by_role("button", name="Resolve").click()
    found["confirm"] = _axe(page, axe_source)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{site}/dashboard/items/{item}?notice=resolved")
    found["resolved"] = _axe(page, axe_source)
    serious = {name: v for name, v in found.items() if v}
    assert not serious, json.dumps(serious, indent=1)
