"""Command-line groups for intake: `gateway intake poll` and `gateway quarantine list|reprocess`.

The lead adds them to the main group: `main.add_command(intake)`, `main.add_command(quarantine)`.
"""

from __future__ import annotations

import getpass
import json
import time

import click

from gateway.intake.quarantine import (
    ConfigInvalid,
    NotInQuarantine,
    list_quarantined,
    reprocess,
)
from gateway.intake.sftp_poller import check_pull_sections, poll_forces, pull_configs
from gateway.services import Services
from gateway.settings import load_settings


def _services() -> Services:
    """Build Services from the environment and bring the schema up to date."""
    services = Services(load_settings())
    services.prepare()
    return services


def _who() -> str:
    """Return the name of the person at the terminal, for the audit log."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@click.group()
def intake() -> None:
    """Pull police messages from forces' SFTP outboxes, and councils' receipts."""


@intake.command("poll")
@click.option("--force", "force_id", default=None, help="Poll only this force (directory id).")
@click.option("--once/--loop", default=True, show_default=True,
              help="Poll once, or keep polling every --interval seconds.")
@click.option("--interval", default=60.0, show_default=True, help="Seconds between polls.")
def intake_poll(force_id: str | None, once: bool, interval: float) -> None:
    """Take settled files from the SFTP outbox of every force with a `pull:` section."""
    services = _services()
    problems = check_pull_sections(services.directory.forces.values())
    for problem in problems:
        click.echo(f"not polled: {problem}", err=True)
    configs = pull_configs(services)
    if force_id is not None and not any(c.force_id == force_id for c in configs):
        raise click.ClickException(f"force {force_id!r} has no pull: section in "
                                   f"{services.settings.config_dir}")
    if not configs:
        click.echo("no force has a pull: section; nothing to poll")
        if problems:
            raise SystemExit(1)
        return
    failed = bool(problems)
    while True:
        for report in poll_forces(services, force_id, configs):
            click.echo(json.dumps(report.as_dict(), sort_keys=True))
            failed = failed or report.error is not None or bool(report.failed)
        if once:
            break
        time.sleep(interval)
    if failed:
        raise SystemExit(1)


@intake.command("acks")
@click.option("--authority", default=None, help="Only this authority's acks folder.")
def intake_acks(authority: str | None) -> None:
    """Take receipts and RHI exports that councils left in their acks folders, once."""
    from gateway.intake.acks_poller import poll_acks

    failed = False
    for report in poll_acks(_services(), authority):
        click.echo(json.dumps(report.as_dict(), sort_keys=True))
        failed = failed or report.error is not None or bool(report.failed)
    if failed:
        raise SystemExit(1)


@click.group()
def quarantine() -> None:
    """List rejected and held messages, and re-process one after correcting configuration."""


@quarantine.command("list")
@click.option("--status", type=click.Choice(["QUARANTINED", "HELD"]), default=None,
              help="Only rejected (QUARANTINED) or only held (HELD) messages.")
@click.option("--force", "force_id", default=None, help="Only messages from this force.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def quarantine_list(status: str | None, force_id: str | None, as_json: bool) -> None:
    """Show quarantined and held messages with their reasons (the view is audited)."""
    services = _services()
    messages = list_quarantined(services, f"cli:{_who()}", status=status, force=force_id)
    if not messages:
        click.echo("nothing is quarantined or held")
    for message in messages:
        if as_json:
            click.echo(json.dumps(message.as_dict(), sort_keys=True))
            continue
        click.echo(f"{message.id}  {message.status:<11}  {message.sender}  "
                   f"{message.format}/{message.channel}  {message.police_reference or '-'}  "
                   f"{message.received_at:%Y-%m-%d %H:%M}")
        for error in message.errors:
            click.echo(f"    {error.get('field')}: {error.get('message')}")


@quarantine.command("reprocess")
@click.argument("inbound_id")
@click.option("--as", "name", default=None,
              help="Coordinator name for the audit log (default: the login name).")
def quarantine_reprocess(inbound_id: str, name: str | None) -> None:
    """Re-read the configuration and re-process one quarantined or held message."""
    services = _services()
    try:
        receipt = reprocess(services, inbound_id, f"coordinator:{name or _who()}")
    except NotInQuarantine as exc:
        raise click.ClickException(str(exc)) from exc
    except ConfigInvalid as exc:
        raise click.ClickException("the configuration does not load; nothing was "
                                   "re-processed:\n" + "\n".join(exc.problems)) from exc
    click.echo(json.dumps(receipt.as_dict(), sort_keys=True))
    if receipt.status.value == "QUARANTINED":
        raise SystemExit(1)
