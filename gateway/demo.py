"""First-run set-up of the embedded demo: sender tokens for each demo force (and demo keys)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from gateway.clock import system_clock
from gateway.intake.senders import issue_token
from gateway.services import Services
from gateway.settings import Settings


def tokens_file(settings: Settings) -> Path:
    """Return where the demo's sender tokens are kept (mode 0600, under the data dir)."""
    return settings.data_dir / "demo" / "tokens.json"


def demo_tokens(settings: Settings) -> dict[str, str]:
    """Return the demo tokens by force id, or an empty dict before the first run."""
    path = tokens_file(settings)
    if not path.exists():
        return {}
    tokens: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return tokens


def init_demo_keys(services: Services) -> Path:
    """Create (or complete) the demo PKI: a CA, the gateway's keys and one per party."""
    from gateway.delivery.crypto.demo_pki import init_demo_pgp_keys, init_demo_pki

    directory = services.directory
    names = sorted({*directory.authorities, *directory.forces})
    root = init_demo_pki(services.settings.pki_dir, names, "ec").root
    init_demo_pgp_keys(services.settings.pki_dir, [])  # the gateway's own OpenPGP key
    return root


def first_run(services: Services, echo: Callable[[str], None] = print) -> None:
    """Set up the embedded demo once: demo keys and a sender token per directory force."""
    settings = services.settings
    if not settings.embedded:
        return
    if not settings.signing_key_path.exists():
        echo("creating demo keys (a CA and a certificate per authority and force)...")
    root = init_demo_keys(services)
    echo(f"demo keys:       {root}")
    from gateway.dashboard.cli import create_demo_users

    create_demo_users(services, echo)
    path = tokens_file(settings)
    tokens = demo_tokens(settings)
    missing = [force for force in sorted(services.directory.forces) if force not in tokens]
    if not missing:
        return
    with services.db.unit_of_work() as session:
        for force in missing:
            tokens[force] = issue_token(session, force, "demo", system_clock(), actor="demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(tokens, handle, indent=2)
    echo(f"demo sender tokens for {len(missing)} force(s) written to {path}")
