"""`gateway users ...`: create dashboard accounts; and the demo's one user of each role."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import click

from gateway.accounts.roles import Role
from gateway.accounts.totp import new_secret, provisioning_uri
from gateway.accounts.users import AccountError, create_user, find_user
from gateway.services import Services

# The demo's users: (user name, role, organisation); organisations are demo directory ids.
DEMO_USERS = (
    ("kent.coordinator", Role.AUTHORITY, "kent"),
    ("warwickshire.police", Role.FORCE, "warwickshire-police"),
    ("regional.coordinator", Role.REGIONAL, None),
    ("gateway.admin", Role.ADMIN, None),
)


def _services() -> Services:
    """Build Services from the environment, with the schema up to date."""
    from gateway.settings import load_settings

    services = Services(load_settings())
    services.prepare()
    return services


def _check_organisation(services: Services, role: Role, organisation: str | None) -> None:
    """Refuse an organisation that is not an authority (or force) in the directory."""
    if role is Role.AUTHORITY and services.directory.authority(organisation or "") is None:
        raise click.BadParameter(f"{organisation!r} is not an authority id in the directory",
                                 param_hint="--organisation")
    if role is Role.FORCE and services.directory.force(organisation or "") is None:
        raise click.BadParameter(f"{organisation!r} is not a force id in the directory",
                                 param_hint="--organisation")


@click.group("users")
def users() -> None:
    """Manage dashboard accounts."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True,
              help="authority, force, regional or admin")
@click.option("--organisation", default=None,
              help="authority id (role authority) or force id (role force)")
@click.option("--name", "display_name", default="", help="the person's name, as shown")
@click.option("--password", default=None,
              help="the password (prompted for, hidden, if not given)")
@click.option("--totp/--no-totp", default=False,
              help="require a code from an authenticator app at sign-in")
def add(username: str, role: str, organisation: str | None, display_name: str,
        password: str | None, totp: bool) -> None:
    """Create a dashboard account."""
    services = _services()
    chosen = Role(role)
    if chosen.needs_organisation:
        _check_organisation(services, chosen, organisation)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    secret = new_secret() if totp else None
    try:
        with services.db.unit_of_work() as session:
            user = create_user(session, username=username, password=password, role=chosen,
                               organisation=organisation, now=services.clock(),
                               actor="cli:users-add", display_name=display_name,
                               totp_secret=secret)
            name = user.username
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {name} ({chosen.label}{', ' + organisation if organisation else ''})")
    if secret:
        click.echo(f"authenticator set-up address: {provisioning_uri(secret, name)}")


def demo_users_file(services: Services) -> Path:
    """Return where the demo users' passwords are kept (mode 0600, under the data dir)."""
    return services.settings.data_dir / "demo" / "users.json"


def create_demo_users(services: Services,
                      echo: Callable[[str], None] = print) -> dict[str, str]:
    """Create one user of each role for the demo (once) and print their names and passwords.

    The passwords are also kept in `demo_users_file` (0600) so that later runs print them
    again. Returns the passwords of the users created now, by user name.
    """
    path = demo_users_file(services)
    known: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    created: dict[str, str] = {}
    with services.db.unit_of_work() as session:
        for username, role, organisation in DEMO_USERS:
            if find_user(session, username) is not None:
                continue
            password = secrets.token_urlsafe(12)
            create_user(session, username=username, password=password, role=role,
                        organisation=organisation, now=services.clock(), actor="demo",
                        display_name=username.replace(".", " ").title())
            created[username] = password
    if created:
        known.update(created)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(known, handle, indent=2)
    echo(f"dashboard users (sign in at /dashboard/login; kept in {path}):")
    for username, role, organisation in DEMO_USERS:
        where = f" for {organisation}" if organisation else ""
        echo(f"  {role.label}{where}: {username} / {known.get(username, '(set elsewhere)')}")
    return created
