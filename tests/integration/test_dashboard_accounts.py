"""Accounts: argon2 passwords, TOTP, expiring sessions, throttling, CSRF and security headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from gateway.accounts.roles import Role
from gateway.accounts.totp import code_at, new_secret
from gateway.accounts.users import AccountError, create_user
from gateway.clock import FakeClock
from gateway.dashboard.cli import DEMO_USERS, create_demo_users, users
from gateway.services import Services
from gateway.store.account_models import UserRow
from gateway.store.models import AuditEntry
from tests.support.dashboard import PASSWORD, build_app, cheap_password_hashing, csrf_from, sign_in


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    """Hash with argon2's cheapest profile: these tests are about the rules, not the cost."""
    with cheap_password_hashing():
        yield

@pytest.fixture
def services(make_services: Callable[..., Services]) -> Services:
    """Services with the dashboard's users (and no episodes)."""
    return make_services()


def _actions(services: Services) -> list[str]:
    with services.db.read() as session:
        return list(session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))
                    .scalars())


def test_passwords_are_stored_as_argon2id_hashes_only(services: Services) -> None:
    build_app(services)
    with services.db.read() as session:
        user = session.execute(select(UserRow).where(UserRow.username == "kent.user")
                               ).scalar_one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_weak_passwords_and_missing_organisations_are_refused(services: Services) -> None:
    with services.db.unit_of_work() as session:
        with pytest.raises(AccountError, match="at least 12"):
            create_user(session, username="x", password="short", role=Role.ADMIN,
                        organisation=None, now=services.clock(), actor="test")
        with pytest.raises(AccountError, match="must belong"):
            create_user(session, username="y", password=PASSWORD, role=Role.AUTHORITY,
                        organisation=None, now=services.clock(), actor="test")


def test_sign_in_with_a_wrong_password_fails_and_is_audited(services: Services) -> None:
    client = build_app(services).test_client()
    page = client.get("/dashboard/login")
    response = client.post("/dashboard/login", data={
        "username": "kent.user", "password": "not the password", "csrf_token":
        csrf_from(page.text)})
    assert response.status_code == 401
    assert "The user name or password is not right" in response.text
    assert client.get("/dashboard/today").status_code == 302
    assert "login.failed" in _actions(services)


def test_five_failures_lock_the_name_even_for_the_right_password(services: Services) -> None:
    client = build_app(services).test_client()
    token = csrf_from(client.get("/dashboard/login").text)
    for _ in range(5):
        client.post("/dashboard/login", data={"username": "kent.user", "password": "wrong " * 3,
                                              "csrf_token": token})
    locked = client.post("/dashboard/login", data={"username": "kent.user",
                                                   "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    assert "login.throttled" in _actions(services)
    clock: FakeClock = services.clock  # type: ignore[assignment]
    clock.advance(timedelta(minutes=16))
    sign_in(client, "kent.user")


def test_sign_in_form_without_its_csrf_token_is_refused(services: Services) -> None:
    client = build_app(services).test_client()
    client.get("/dashboard/login")
    response = client.post("/dashboard/login", data={"username": "kent.user",
                                                     "password": PASSWORD})
    assert response.status_code == 400
    assert "login.succeeded" not in _actions(services)


def test_every_post_needs_the_sessions_csrf_token(services: Services) -> None:
    client = build_app(services).test_client()
    token = sign_in(client, "regional")
    refused = client.post("/dashboard/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 400
    assert client.get("/dashboard/today").status_code == 200  # still signed in
    accepted = client.post("/dashboard/logout", data={"csrf_token": token})
    assert accepted.status_code == 302
    assert client.get("/dashboard/today").status_code == 302  # signed out


def test_sessions_expire_after_30_idle_minutes(services: Services) -> None:
    client = build_app(services).test_client()
    sign_in(client, "admin")
    clock: FakeClock = services.clock  # type: ignore[assignment]
    clock.advance(timedelta(minutes=29))
    assert client.get("/dashboard/today").status_code == 200  # activity keeps it alive
    clock.advance(timedelta(minutes=29))
    assert client.get("/dashboard/today").status_code == 200
    clock.advance(timedelta(minutes=31))
    response = client.get("/dashboard/today")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/login")


def test_sessions_end_after_12_hours_however_active(services: Services) -> None:
    client = build_app(services).test_client()
    sign_in(client, "admin")
    clock: FakeClock = services.clock  # type: ignore[assignment]
    for _ in range(12 * 3):
        clock.advance(timedelta(minutes=20))
        response = client.get("/dashboard/today")
    assert response.status_code == 302


def test_totp_second_factor_is_asked_and_checked(services: Services) -> None:
    app = build_app(services)
    secret = new_secret()
    with services.db.unit_of_work() as session:
        create_user(session, username="careful", password=PASSWORD, role=Role.ADMIN,
                    organisation=None, now=services.clock(), actor="test", totp_secret=secret)
    client = app.test_client()
    token = csrf_from(client.get("/dashboard/login").text)
    response = client.post("/dashboard/login", data={"username": "careful",
                                                     "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"].startswith("/dashboard/login/code")
    assert client.get("/dashboard/today").headers["Location"].startswith("/dashboard/login/code")
    form = client.get("/dashboard/login/code")
    session_token = csrf_from(form.text)
    wrong = client.post("/dashboard/login/code", data={"code": "000000",
                                                       "csrf_token": session_token})
    assert wrong.status_code == 401
    right = client.post("/dashboard/login/code", data={
        "code": code_at(secret, services.clock()), "csrf_token": session_token})
    assert right.status_code == 302
    assert client.get("/dashboard/today").status_code == 200
    assert {"login.code_refused", "login.code_accepted"} <= set(_actions(services))


def test_pages_carry_csp_without_inline_scripts_hsts_and_frame_denial(
        services: Services) -> None:
    client = build_app(services).test_client()
    sign_in(client, "regional")
    response = client.get("/dashboard/today")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.text  # every script is a file


def test_redirect_after_sign_in_stays_on_this_site(services: Services) -> None:
    client = build_app(services).test_client()
    token = csrf_from(client.get("/dashboard/login").text)
    response = client.post("/dashboard/login", data={
        "username": "admin", "password": PASSWORD, "csrf_token": token,
        "next": "https://evil.example/steal"})
    assert response.headers["Location"] == "/dashboard/today"


def test_users_add_creates_an_account_from_the_command_line(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.dashboard.cli._services", lambda: services)
    runner = CliRunner()
    result = runner.invoke(users, ["add", "medway.edt", "--role", "authority",
                                   "--organisation", "medway", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "created medway.edt" in result.output
    unknown = runner.invoke(users, ["add", "nobody", "--role", "authority",
                                    "--organisation", "atlantis", "--password", PASSWORD])
    assert unknown.exit_code != 0
    assert "not an authority" in unknown.output
    with_code = runner.invoke(users, ["add", "second", "--role", "admin", "--totp",
                                      "--password", PASSWORD])
    assert "otpauth://totp/" in with_code.output


def test_demo_creates_one_user_of_each_role_once_and_prints_them(
        services: Services) -> None:
    lines: list[str] = []
    created = create_demo_users(services, lines.append)
    assert set(created) == {name for name, _, _ in DEMO_USERS}
    assert all(name in "\n".join(lines) and created[name] in "\n".join(lines)
               for name in created)
    client = build_app_without_users(services).test_client()
    sign_in_as = next(name for name, role, _ in DEMO_USERS if role is Role.AUTHORITY)
    sign_in(client, sign_in_as, created[sign_in_as])
    again: list[str] = []
    assert create_demo_users(services, again.append) == {}
    assert created[sign_in_as] in "\n".join(again)  # printed again from the 0600 file
    from gateway.dashboard.cli import demo_users_file

    assert demo_users_file(services).stat().st_mode & 0o777 == 0o600


def build_app_without_users(services: Services) -> Flask:
    """Return the app with the dashboard, adding no users."""
    from gateway.app import create_app

    return create_app(services)


def test_the_live_endpoint_answers_401_to_the_polling_script_once_signed_out(
        services: Services) -> None:
    client = build_app(services).test_client()
    response = client.get("/dashboard/today/live", headers={"X-Requested-With": "fetch"})
    assert response.status_code == 401  # the script reloads, and the page asks to sign in


def test_govuk_frontend_assets_are_served_from_the_npm_install(services: Services) -> None:
    from gateway.dashboard.assets import govuk_assets_dir
    from tests.conftest import need_server

    if govuk_assets_dir() is None:
        need_server("govuk-frontend under node_modules (run `npm ci`)")
    client = build_app(services).test_client()
    css = client.get("/dashboard/govuk/govuk-frontend.min.css")
    assert css.status_code == 200
    assert "govuk-" in css.text
    font = next(part for part in css.text.split("url(")[1:] if part.startswith("/assets/fonts"))
    assert client.get(font.split(")")[0]).status_code == 200
    assert client.get("/dashboard/govuk/govuk-frontend.min.js").status_code == 200
