"""The `gateway` command: run the service, manage senders, keys and config, inspect and repair."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from gateway.clock import system_clock
from gateway.dashboard.cli import users as users_group
from gateway.delivery.cli import resend as deliveries_resend
from gateway.intake.cli import intake as intake_group
from gateway.intake.cli import quarantine as quarantine_group
from gateway.services import Services
from gateway.settings import Settings, load_settings
from gateway.tracking.cli import simulate_command

DEMO_SAMPLES = Path(__file__).resolve().parent.parent / "config" / "demo" / "samples"


def _services() -> Services:
    """Build Services from the environment and bring the schema up to date."""
    services = Services(load_settings())
    services.prepare()
    return services


@click.group(help=__doc__, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Missing-children notification gateway.

    Configuration comes from the environment (see README "Configuration"): DATABASE_URL,
    BROKER_URL, GATEWAY_DATA_DIR (default ./var), GATEWAY_CONFIG_DIR (default config/demo).
    """


# -- run -------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port to listen on.")
@click.option("--worker/--no-worker", default=True, show_default=True,
              help="Also start a Celery worker with the scheduler (beat).")
@click.option("--concurrency", default=2, show_default=True, help="Worker processes.")
def run(host: str, port: int, worker: bool, concurrency: int) -> None:
    """Start the web app, a worker and the scheduler (embedded default: SQLite, no servers)."""
    from waitress import create_server

    from gateway.app import create_app
    from gateway.demo import first_run

    services = _services()
    settings = services.settings
    click.echo(f"data directory:  {settings.data_dir}")
    click.echo(f"database:        {_redact(settings.database_url)}")
    click.echo(f"broker:          {_redact(settings.broker_url)}")
    click.echo(f"directory:       {settings.config_dir} "
               f"({len(services.directory.authorities)} authorities, "
               f"{len(services.directory.forces)} forces)")
    first_run(services, echo=click.echo)
    click.echo("loading the postcode index (built once on first run; a few seconds)...")
    started = time.monotonic()
    _ = services.postcode_index
    click.echo(f"postcode index ready in {time.monotonic() - started:.1f} s")
    child: subprocess.Popen[bytes] | None = None
    if worker:
        child = _start_worker(settings, concurrency)
        click.echo(f"worker and scheduler started (pid {child.pid})")
    server = create_server(create_app(services), host=host, port=port, threads=8)
    base = f"http://{host}:{port}"
    click.echo(f"\nintake API:      POST {base}/api/v1/inbound/<compact|niche>")
    click.echo(f"OpenAPI:         {base}/api/v1/openapi.json")
    click.echo(f"dashboard:       {base}/dashboard/")
    click.echo(f"drop folders:    {settings.drop_root / 'drop'}")
    click.echo(f"try it:          gateway demo send --url {base}\n")

    def stop(*_: Any) -> None:
        server.close()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except (KeyboardInterrupt, OSError):
        pass
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        click.echo("stopped")


def _start_worker(settings: Settings, concurrency: int) -> subprocess.Popen[bytes]:
    """Start `celery worker -B` for this configuration as a child process."""
    schedule = settings.data_dir / "celerybeat-schedule"
    command = [sys.executable, "-m", "celery", "-A", "gateway.worker", "worker", "-B",
               "--loglevel", "INFO", "--concurrency", str(concurrency),
               "--schedule", str(schedule)]
    log_file = open(settings.data_dir / "worker.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                            env={**os.environ, "GATEWAY_DATA_DIR": str(settings.data_dir)})


def _redact(url: str) -> str:
    """Hide a password in a URL for printing."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


# -- senders ---------------------------------------------------------------------------


@main.group()
def senders() -> None:
    """Manage the API tokens police forces post with."""


@senders.command("add")
@click.option("--force", "force_id", default=None, help="Force id from the directory.")
@click.option("--coordinator", default=None,
              help="Issue a coordinator token for this person instead (quarantine, re-send).")
@click.option("--label", default="", help="Who holds this token (for the audit log).")
def senders_add(force_id: str | None, coordinator: str | None, label: str) -> None:
    """Issue an API token; it is printed once and stored only as a hash."""
    from gateway.intake.senders import issue_token

    if bool(force_id) == bool(coordinator):
        raise click.UsageError("give exactly one of --force or --coordinator")
    services = _services()
    if coordinator:
        with services.db.unit_of_work() as session:
            token = issue_token(session, coordinator, label, system_clock(), actor="cli",
                                role="coordinator")
        click.echo(token)
        return
    force = services.directory.force(force_id)
    if force is None:
        raise click.ClickException(
            f"no force {force_id!r} in {services.settings.config_dir}; known: "
            f"{', '.join(sorted(services.directory.forces))}")
    with services.db.unit_of_work() as session:
        token = issue_token(session, force.id, label, system_clock(), actor="cli")
    click.echo(token)


# -- demo ------------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """Demonstration helpers for the embedded default."""


@demo.command("send")
@click.option("--url", default="http://127.0.0.1:8080", show_default=True,
              help="Base URL of a running gateway.")
@click.option("--samples", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=DEMO_SAMPLES, show_default=True, help="Folder of sample messages.")
def demo_send(url: str, samples: Path) -> None:
    """Post the sample notifications to a running gateway and print each receipt."""
    from gateway.demo import demo_tokens

    settings = load_settings()
    tokens = demo_tokens(settings)
    if not tokens:
        raise click.ClickException("no demo tokens yet: start the gateway once with "
                                   "`gateway run` (it creates them on first run)")
    files = sorted(p for p in samples.glob("*/*.xml"))
    if not files:
        raise click.ClickException(f"no sample messages under {samples}/<format>/")
    failures = 0
    for path in files:
        fmt = path.parent.name
        force = path.stem.split("__", 1)[0]
        token = tokens.get(force)
        if token is None:
            click.echo(f"{path.name}: no demo token for force {force!r}; skipped")
            failures += 1
            continue
        status, body = _post(f"{url}/api/v1/inbound/{fmt}", path.read_bytes(), token)
        click.echo(f"{path.name}: HTTP {status} {body.get('status')} receipt "
                   f"{body.get('receipt_id')} deliveries {len(body.get('deliveries') or [])}")
        for error in body.get("errors") or []:
            click.echo(f"    {error['field']}: {error.get('value')!r} {error['message']}")
        failures += status >= 400
    click.echo(f"\nsee the copies under {settings.drop_root / 'drop'}")
    click.echo(f"and the status page at {url}/")
    if failures:
        sys.exit(1)


def _post(url: str, body: bytes, token: str) -> tuple[int, dict[str, Any]]:
    """POST `body` with a bearer token and return (status, JSON body)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        "Authorization": f"Bearer {token}", "Content-Type": "application/xml"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach the gateway at {url}: {exc.reason}; "
                                   "is `gateway run` running?") from exc


# -- config, routing, db, audit, outbox --------------------------------------------------


@main.group()
def config() -> None:
    """Check the directory of authorities and forces."""


@config.command("check")
@click.option("--dir", "config_dir", type=click.Path(path_type=Path), default=None,
              help="Config root (default GATEWAY_CONFIG_DIR or config/demo).")
def config_check(config_dir: Path | None) -> None:
    """Validate every authority, force and mapping file; list each problem with file and key."""
    from gateway.config_check import check_all

    root = config_dir or load_settings().config_dir
    problems = check_all(root)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {root}")
    click.echo(f"{root}: ok")


@main.group()
def route() -> None:
    """Explain routing decisions."""


@route.command("explain")
@click.argument("message", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", default="compact", show_default=True,
              help="Police format of the message.")
@click.option("--at", "at", default=None, help="Decide as at this ISO time (default now).")
def route_explain(message: Path, fmt: str, at: str | None) -> None:
    """Print who would receive a message and why, without storing or sending anything."""
    from datetime import datetime

    from gateway.domain.errors import InvalidMessage
    from routing.explain import explain

    services = Services(load_settings())
    adapter = services.police_adapters.get(fmt)
    if adapter is None:
        raise click.ClickException(f"unknown format {fmt!r}")
    try:
        notification = adapter.parse(message.read_bytes(), None)
    except InvalidMessage as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        raise click.ClickException("the message is not valid") from exc
    force = services.resolve_force(notification.force)
    if force is not None:
        notification = adapter.parse(message.read_bytes(), services.force_overrides(force))
    now = datetime.fromisoformat(at) if at else system_clock()
    click.echo(explain(services.route(notification, [], None, now)))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    services = Services(load_settings())
    services.prepare()
    click.echo(f"{_redact(services.settings.database_url)}: schema up to date")


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the audit chain and report the first altered or missing entry."""
    from gateway.store.audit import verify_chain

    services = _services()
    with services.db.read() as session:
        report = verify_chain(session)
    if not report.ok:
        raise click.ClickException(f"audit chain broken at entry {report.broken_at}: "
                                   f"{report.reason}")
    click.echo(f"audit chain intact: {report.entries} entries")


@main.group()
def keys() -> None:
    """Keys: the at-rest data key and the demo PKI."""


@keys.command("init-demo")
def keys_init_demo() -> None:
    """Create a demo CA and a key pair and certificate per demo authority and force."""
    from gateway.demo import init_demo_keys

    services = Services(load_settings())
    click.echo(f"demo PKI ready in {init_demo_keys(services)}")


@keys.command("new-data-key")
def keys_new_data_key() -> None:
    """Print a new random base64 key for GATEWAY_DATA_KEY (keep it secret; back it up)."""
    from gateway.store.sealing import new_key_text

    click.echo(new_key_text())


@main.command()
def sweep() -> None:
    """Re-queue stuck deliveries and unprocessed messages once (the scheduler does this)."""
    services = _services()
    report = services.outbox.sweep()
    click.echo(f"requeued {report.requeued}, reclaimed {report.reclaimed}, "
               f"reprocessed {report.reprocessed}")


@main.group()
def deliveries() -> None:
    """Inspect and repair deliveries."""


deliveries.add_command(deliveries_resend)
main.add_command(users_group)
main.add_command(simulate_command)
main.add_command(intake_group)
main.add_command(quarantine_group)

if __name__ == "__main__":
    main()
