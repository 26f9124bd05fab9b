"""Quarantine: coordinators list rejected and held messages, fix config, re-process; all audited."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.accounts.roles import Role
from gateway.accounts.users import create_user
from gateway.app import create_app
from gateway.clock import system_clock
from gateway.dashboard import quarantine_page
from gateway.intake import quarantine
from gateway.intake.cli import intake as intake_cli
from gateway.intake.cli import quarantine as quarantine_cli
from gateway.intake.senders import issue_token
from gateway.services import Services
from gateway.store import audit
from gateway.store.models import AuditEntry, CoordinatorItemRow, EpisodeRow, InboundMessage
from tests.conftest import REPO
from tests.support.dashboard import PASSWORD, cheap_password_hashing, sign_in
from tests.support.messages import compact

FORCE = "warwickshire-police"
# Warwickshire's system sends a placement category the COMPACT default mapping does not know.
KINSHIP = compact("missing_reported_basic").replace(b'category="FOSTER_CARE"',
                                                    b'category="KINSHIP_CARE"')


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the demo directory a coordinator may edit (defaults.yaml beside it)."""
    root = tmp_path / "config"
    shutil.copytree(REPO / "config" / "demo", root / "demo")
    shutil.copy(REPO / "config" / "defaults.yaml", root / "defaults.yaml")
    return root / "demo"


def set_force_mapping(config_dir: Path, mapping: dict[str, Any]) -> None:
    """Write the force's `mapping:` section, as a coordinator correcting config would."""
    path = config_dir / "forces" / f"{FORCE}.yaml"
    data = yaml.safe_load(path.read_text())
    data["mapping"] = mapping
    path.write_text(yaml.safe_dump(data, sort_keys=False))


KINSHIP_FIX = {"fields": {"placement.type": {"values": {"KINSHIP_CARE": "FOSTER"}}}}


def send(services: Services, body: bytes) -> Any:
    """Receive and process one message as the HTTPS intake does."""
    return services.pipeline.process(services.pipeline.receive("compact", body, FORCE))


def tokens(services: Services) -> dict[str, str]:
    """Issue a coordinator token and a force token."""
    with services.db.unit_of_work() as session:
        return {"coordinator": issue_token(session, "alex", "test", system_clock(), "test",
                                           role="coordinator"),
                "force": issue_token(session, FORCE, "test", system_clock(), "test")}


def app_for(services: Services) -> Flask:
    """The web app with the quarantine API and page registered, as the lead will wire them."""
    app = create_app(services)
    if "quarantine_api" not in app.blueprints:
        quarantine.register(app)
    if "quarantine_page" not in app.blueprints:
        quarantine_page.register(app)
    return app


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def audit_actions(services: Services, subject_id: str | None = None) -> list[tuple[str, str]]:
    """Return (actor, action) of every audit entry, optionally about one subject."""
    with services.db.read() as session:
        query = select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.seq)
        if subject_id is not None:
            query = query.where(AuditEntry.subject_id == subject_id)
        return [(a, b) for a, b in session.execute(query).all()]


def test_message_quarantined_for_a_missing_override_is_reprocessed_after_the_fix(
        make_services: Callable[..., Services], database_url: str, config_dir: Path) -> None:
    services = make_services(database_url, GATEWAY_CONFIG_DIR=str(config_dir))
    client: FlaskClient = app_for(services).test_client()
    token = tokens(services)["coordinator"]
    receipt = send(services, KINSHIP)
    assert receipt.status.value == "QUARANTINED"

    listed = client.get("/api/v1/quarantine", headers=bearer(token))
    assert listed.status_code == 200
    [entry] = listed.get_json()["messages"]
    assert entry["id"] == receipt.id
    assert entry["status"] == "QUARANTINED"
    assert entry["errors"] == [{"field": "placement.type", "value": "KINSHIP_CARE", "message":
                                "is not a known code (expected one of: CHILDRENS_HOME, "
                                "FOSTER_CARE, OTHER, PARENTAL_HOME)"}]

    # Re-processing before the configuration is corrected changes nothing.
    again = client.post(f"/api/v1/quarantine/{receipt.id}/reprocess", headers=bearer(token))
    assert again.status_code == 200
    assert again.get_json()["status"] == "QUARANTINED"

    set_force_mapping(config_dir, KINSHIP_FIX)
    fixed = client.post(f"/api/v1/quarantine/{receipt.id}/reprocess", headers=bearer(token))
    assert fixed.status_code == 200
    body = fixed.get_json()
    assert body["status"] == "PROCESSED"
    assert body["receipt_id"] == receipt.id
    assert body["deliveries"]
    assert sorted(services.enqueue) == sorted(body["deliveries"])  # type: ignore[call-overload]

    assert client.get("/api/v1/quarantine", headers=bearer(token)).get_json()["messages"] == []
    with services.db.read() as session:
        episode = session.execute(select(EpisodeRow)).scalar_one()
        assert episode.id == body["episode_id"]
        items = list(session.execute(select(CoordinatorItemRow).where(
            CoordinatorItemRow.inbound_message_id == receipt.id)).scalars())
        assert audit.verify_chain(session).ok
    assert items
    assert all(i.resolved_at is not None for i in items)
    assert all(i.resolved_by == "coordinator:alex" for i in items)
    trail = audit_actions(services, receipt.id)
    assert ("coordinator:alex", "quarantine.reprocess_requested") in trail
    assert trail[-1] == ("coordinator:alex", "quarantine.reprocessed")
    assert ("coordinator:alex", "episode.event_applied") in audit_actions(services)
    assert audit_actions(services, "list").count(("coordinator:alex", "quarantine.listed")) == 2


def test_reprocess_under_a_broken_config_is_refused_and_changes_nothing(
        make_services: Callable[..., Services], config_dir: Path) -> None:
    services = make_services(GATEWAY_CONFIG_DIR=str(config_dir))
    client = app_for(services).test_client()
    token = tokens(services)["coordinator"]
    receipt = send(services, KINSHIP)
    set_force_mapping(config_dir, KINSHIP_FIX)
    (config_dir / "forces" / f"{FORCE}.yaml").write_text(
        (config_dir / "forces" / f"{FORCE}.yaml").read_text() + "colour: blue\n")
    answer = client.post(f"/api/v1/quarantine/{receipt.id}/reprocess", headers=bearer(token))
    assert answer.status_code == 409
    assert any("colour" in p for p in answer.get_json()["problems"])
    with services.db.read() as session:
        assert session.get(InboundMessage, receipt.id).status == "QUARANTINED"  # type: ignore[union-attr]
    assert services.directory.force(FORCE).mapping == {}  # type: ignore[union-attr]


def test_quarantine_api_needs_a_coordinator_token(services: Services) -> None:
    client = app_for(services).test_client()
    issued = tokens(services)
    receipt = send(services, KINSHIP)
    assert client.get("/api/v1/quarantine").status_code == 401
    assert client.get("/api/v1/quarantine", headers=bearer(issued["force"])).status_code == 401
    refused = client.post(f"/api/v1/quarantine/{receipt.id}/reprocess",
                          headers=bearer(issued["force"]))
    assert refused.status_code == 401
    assert client.get("/api/v1/quarantine", headers=bearer("mcg_nonsense")).status_code == 401
    assert not [a for a in audit_actions(services) if a[1].startswith("quarantine.")]


def test_held_and_rejected_are_listed_filtered_and_viewed(services: Services) -> None:
    client = app_for(services).test_client()
    token = tokens(services)["coordinator"]
    held = send(services, compact("found"))
    rejected = send(services, KINSHIP)
    assert (held.status.value, rejected.status.value) == ("HELD", "QUARANTINED")
    processed = send(services, compact("missing_minimal"))
    everything = client.get("/api/v1/quarantine", headers=bearer(token)).get_json()
    assert {m["id"] for m in everything["messages"]} == {held.id, rejected.id}
    assert processed.id not in {m["id"] for m in everything["messages"]}
    only_held = client.get("/api/v1/quarantine?status=HELD", headers=bearer(token)).get_json()
    [entry] = only_held["messages"]
    assert entry["id"] == held.id
    assert "no missing report has been received" in entry["errors"][0]["message"]
    assert client.get("/api/v1/quarantine?status=SENT", headers=bearer(token)).status_code == 400
    one = client.get(f"/api/v1/quarantine/{rejected.id}", headers=bearer(token))
    assert one.status_code == 200
    assert one.get_json()["status"] == "QUARANTINED"
    assert client.get(f"/api/v1/quarantine/{processed.id}",
                      headers=bearer(token)).status_code == 404
    assert ("coordinator:alex", "quarantine.viewed") in audit_actions(services, rejected.id)


def test_reprocessing_a_held_message_whose_report_never_came_keeps_it_held(
        services: Services) -> None:
    held = send(services, compact("found"))
    receipt = quarantine.reprocess(services, held.id, "coordinator:sam", reload_config=False)
    assert receipt.status.value == "HELD"
    with services.db.read() as session:
        items = list(session.execute(select(CoordinatorItemRow).where(
            CoordinatorItemRow.inbound_message_id == held.id)).scalars())
    assert [(i.kind, i.resolved_at) for i in items] == [("held_out_of_order", None)]
    with pytest.raises(quarantine.NotInQuarantine):
        quarantine.reprocess(services, send(services, compact("missing_minimal")).id,
                             "coordinator:sam", reload_config=False)


def test_page_is_only_for_signed_in_coordinators(services: Services) -> None:
    client = app_for(services).test_client()
    page = client.get("/quarantine")
    assert page.status_code == 302
    assert "/dashboard/login" in page.headers["Location"]
    with cheap_password_hashing(), services.db.unit_of_work() as session:
        create_user(session, username="kent.user", password=PASSWORD, role=Role.AUTHORITY,
                    organisation="kent", now=services.clock(), actor="test")
    sign_in(client, "kent.user")
    assert client.get("/quarantine").status_code == 403


def test_page_lists_reasons_without_personal_values_and_is_audited(services: Services) -> None:
    client = app_for(services).test_client()
    with cheap_password_hashing(), services.db.unit_of_work() as session:
        create_user(session, username="alex.admin", password=PASSWORD, role=Role.ADMIN,
                    organisation=None, now=services.clock(), actor="test")
    sign_in(client, "alex.admin")
    send(services, KINSHIP)
    send(services, compact("missing_reported_basic", reference="WK-BAD-1").replace(
        b'dateOfBirth="2011-06-02"', b'dateOfBirth="2031-02-30"'))
    held = send(services, compact("found", reference="WK-HELD-9"))
    page = client.get("/quarantine")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "placement.type" in html
    assert "KINSHIP_CARE" in html
    assert "child.date_of_birth" in html
    assert "2031-02-30" not in html
    assert held.id in html
    assert "WK-HELD-9" in html
    assert "HELD" in html
    assert "QUARANTINED" in html
    only_held = client.get("/quarantine?status=HELD").get_data(as_text=True)
    assert "WK-HELD-9" in only_held
    assert "KINSHIP_CARE" not in only_held
    assert [a for a in audit_actions(services, "list")
            if a[1] == "quarantine.listed" and a[0].startswith("web:")]


def test_cli_lists_and_reprocesses_after_the_fix(
        make_services: Callable[..., Services], config_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    services = make_services(GATEWAY_CONFIG_DIR=str(config_dir))
    receipt = send(services, KINSHIP)
    settings = services.settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("GATEWAY_DATA_KEY", str(settings.data_key))
    monkeypatch.setenv("GATEWAY_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("GATEWAY_CACHE_DIR", str(REPO / "var" / "test-cache"))
    runner = CliRunner()
    listed = runner.invoke(quarantine_cli, ["list"])
    assert listed.exit_code == 0, listed.output
    assert receipt.id in listed.output
    assert "placement.type" in listed.output
    refused = runner.invoke(quarantine_cli, ["reprocess", receipt.id, "--as", "kim"])
    assert refused.exit_code == 1
    set_force_mapping(config_dir, KINSHIP_FIX)
    fixed = runner.invoke(quarantine_cli, ["reprocess", receipt.id, "--as", "kim"])
    assert fixed.exit_code == 0, fixed.output
    assert '"status": "PROCESSED"' in fixed.output
    assert ("coordinator:kim", "quarantine.reprocessed") in audit_actions(services, receipt.id)
    missing = runner.invoke(quarantine_cli, ["reprocess", "no-such-id"])
    assert missing.exit_code != 0
    assert "no quarantined or held message" in missing.output
    nothing = runner.invoke(intake_cli, ["poll", "--once"])
    assert nothing.exit_code == 0
    assert "no force has a pull: section" in nothing.output
