"""`gateway deliveries resend`: re-queue a HELD delivery, on its own or on another channel.

    gateway deliveries resend DELIVERY_ID [--actor NAME]
        [--team TEAM | --channel-json '{"kind": "sftp", ...}' | --channel-json @FILE]

The re-send is audited (actor, previous error, old and new channel). An alternate channel gets
the same checks as through the API (`gateway.delivery.api`): known kind and rendering, always
encrypted, transport settings complete, recipient certificate usable now.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gateway.delivery.api import (
    ChannelRefused,
    DeliveryNotFound,
    parse_alternate_channel,
    resend_delivery,
    team_channel,
)
from gateway.domain.routing import Channel
from gateway.services import Services


def _services(ctx: click.Context) -> Services:
    """Return the Services given by the caller (tests), else build them from the environment."""
    if isinstance(ctx.obj, Services):
        return ctx.obj
    from gateway.settings import load_settings

    services = Services(load_settings())
    services.prepare()
    return services


def _channel_json(text: str) -> Any:
    """Read the --channel-json value: inline JSON, or @path to a JSON file."""
    try:
        raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        return json.loads(raw)
    except (OSError, json.JSONDecodeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--channel-json") from exc


@click.command("resend")
@click.argument("delivery_id")
@click.option("--actor", default="cli", show_default=True, help="Who is re-sending (audited).")
@click.option("--team", default=None,
              help="Send on the directory's channel for this team of the same authority.")
@click.option("--channel-json", "channel_json", default=None, metavar="JSON|@FILE",
              help="Send on this channel instead (JSON object: kind, address, rendering, "
                   "encryption, certificate, options).")
@click.pass_context
def resend(ctx: click.Context, delivery_id: str, actor: str, team: str | None,
           channel_json: str | None) -> None:
    """Put a HELD delivery back in the queue, on its own channel or an alternate one."""
    if team is not None and channel_json is not None:
        raise click.UsageError("give at most one of --team or --channel-json")
    services = _services(ctx)
    try:
        channel: Channel | None = None
        if channel_json is not None:
            channel = parse_alternate_channel(_channel_json(channel_json))
        elif team is not None:
            channel = team_channel(services, delivery_id, team)
        status = resend_delivery(services, delivery_id, actor, channel)
    except DeliveryNotFound as exc:
        raise click.ClickException(f"no delivery {exc}") from exc
    except ValueError as exc:  # ChannelRefused, or the delivery is not HELD
        prefix = "channel refused: " if isinstance(exc, ChannelRefused) else ""
        raise click.ClickException(prefix + str(exc)) from exc
    where = f" on {channel.endpoint}" if channel is not None else ""
    click.echo(f"{delivery_id}: {status}{where}")
