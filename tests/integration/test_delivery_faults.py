"""Delivery under faults, through the outbox, against a real OpenSSH sshd and SMTP server.

Nothing lost, nothing doubled: a server that goes away and comes back, a worker killed with
SIGKILL in the middle of an upload, a mail server that defers, a host key that changed, a
certificate that expired or is about to, a dead endpoint (circuit breaker), and held copies
re-sent by a coordinator through the API and the CLI.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.app import create_app
from gateway.clock import FakeClock
from gateway.delivery.api import register
from gateway.delivery.cli import resend
from gateway.delivery.crypto.demo_pki import DemoPki, issue_certificate, write_certificate
from gateway.delivery.crypto.keystore import parse_certificate, parse_private_key
from gateway.delivery.transports.base import OutboundMessage
from gateway.domain.model import Notification
from gateway.domain.schemas import notification_from_json
from gateway.intake.senders import issue_token
from gateway.pipeline import channel_from_json, channel_to_json
from gateway.services import Services
from gateway.settings import Settings
from gateway.store import audit
from gateway.store.models import AuditEntry, EventRow
from tests.conftest import need_server
from tests.integration.test_secure_delivery import (
    COUNCIL,
    Case,
    new_case,
    openssl_open_mail,
    openssl_open_p7m,
    sftp_channel,
    smtp_channel,
)
from tests.support.copies import open_copy
from tests.support.smtpd import SmtpServer
from tests.support.sshd import SshServer, write_ed25519_key

pytestmark = pytest.mark.sshd


@pytest.fixture
def case(make_services: Callable[..., Services]) -> Case:
    """A processed notification on fresh embedded services."""
    return new_case(make_services())


def clock_of(case: Case) -> FakeClock:
    """Return the fake clock the case's services run on."""
    clock = case.services.clock
    assert isinstance(clock, FakeClock)
    return clock


def queued(case: Case) -> list[str]:
    """Return (and empty) the delivery ids handed to the queue since the last call."""
    queue: list[str] = case.services.enqueue  # type: ignore[assignment]
    ids = list(queue)
    queue.clear()
    return ids


def notification_of(case: Case) -> Notification:
    """Return the case's notification as stored with its event."""
    with case.services.db.read() as session:
        event = session.get(EventRow, case.event_id)
        assert event is not None
        return notification_from_json(event.notification)


def delivered_files(folder: Path) -> list[str]:
    """Return the names of the complete copies in a drop folder (not `.part` files)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".part"))


# -- the far end goes away and comes back ----------------------------------------------------


def test_sshd_stopped_mid_run_and_restarted_loses_and_doubles_nothing(
        case: Case, sshd_server: SshServer, demo_pki: DemoPki) -> None:
    outbox, clock = case.services.outbox, clock_of(case)
    ids = [case.deliver_to(sftp_channel(sshd_server, demo_pki)) for _ in range(6)]

    assert [outbox.deliver_one(i) for i in ids[:3]] == ["SENT"] * 3
    sshd_server.stop()  # the council's server goes down, killing the pooled connection
    assert [outbox.deliver_one(i) for i in ids[3:]] == ["PENDING"] * 3
    assert all("sftp" in (case.row(i).last_error or "") for i in ids[3:])
    assert [outbox.deliver_one(i) for i in ids[3:]] == ["PENDING"] * 3  # backing off: not due
    sshd_server.start()
    clock.advance(timedelta(minutes=2))
    assert [outbox.deliver_one(i) for i in ids[3:]] == ["SENT"] * 3

    assert delivered_files(sshd_server.drop_dir) == sorted(f"{i}.json.p7m" for i in ids)
    assert [outbox.deliver_one(i) for i in ids] == ["SENT"] * 6  # a redelivered task: no-op
    assert len(list(sshd_server.drop_dir.iterdir())) == 6
    assert [case.row(i).attempts for i in ids] == [1, 1, 1, 2, 2, 2]


# -- a worker killed with SIGKILL in the middle of an upload -----------------------------------

# The SFTP subsystem behind a slow link: everything the client sends waits `delay` seconds
# (read from a file, so a test can lift it) before sftp-server sees it. Replies are not slowed.
SLOW_LINK = r"""
import os, subprocess, sys, time
delay_file, server = sys.argv[1], sys.argv[2]
child = subprocess.Popen([server], stdin=subprocess.PIPE)
assert child.stdin is not None
while True:
    data = os.read(0, 65536)
    if not data:
        break
    with open(delay_file) as handle:
        time.sleep(float(handle.read().strip() or "0"))
    child.stdin.write(data)
    child.stdin.flush()
child.stdin.close()
sys.exit(child.wait())
"""
LINK_DELAY = 0.3  # seconds per hop: each SFTP request takes at least this long to arrive


def find_sftp_server() -> str:
    """Return the path of OpenSSH's stand-alone sftp-server, or skip/fail saying so."""
    for candidate in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server",
                      "/usr/libexec/sftp-server", "/usr/lib/ssh/sftp-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    need_server("OpenSSH sftp-server (Debian package openssh-sftp-server)")
    raise AssertionError("unreachable")


class SlowLinkSshServer(SshServer):
    """An sshd whose SFTP requests each arrive `delay` seconds late (a slow, distant link)."""

    def __init__(self, workdir: Path, delay: float):
        workdir.mkdir(parents=True, exist_ok=True)
        self.delay_file = workdir / "delay"
        self.delay_file.write_text(str(delay))
        script = workdir / "slow_link.py"
        script.write_text(SLOW_LINK)
        self.subsystem = f"{sys.executable} {script} {self.delay_file} {find_sftp_server()}"
        super().__init__(workdir)

    def _config(self) -> str:
        """Return the standard test config with the slowed subsystem."""
        return super()._config().replace("Subsystem sftp internal-sftp",
                                         f"Subsystem sftp {self.subsystem}")

    def speed_up(self) -> None:
        """Let requests through without delay from now on."""
        self.delay_file.write_text("0")


@pytest.fixture
def slow_sshd(tmp_path: Path) -> Iterator[SlowLinkSshServer]:
    """Yield a running sshd on a slow link: an upload takes over a second."""
    if shutil.which("sshd") is None and not os.access("/usr/sbin/sshd", os.X_OK):
        need_server("OpenSSH sshd")
    server = SlowLinkSshServer(tmp_path / "slow-sshd", LINK_DELAY)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _worker(settings: Settings, now: datetime, delivery_id: str) -> None:
    """Deliver one copy as a worker process would, with its own connections to everything."""
    services = Services(settings, clock=FakeClock(now), enqueue=lambda ids: None)
    services.outbox.deliver_one(delivery_id)


def start_worker(services: Services, delivery_id: str) -> multiprocessing.process.BaseProcess:
    """Start a separate worker process that delivers one copy, on the same database and keys."""
    # Forked, not spawned: a second process in milliseconds rather than a fresh interpreter.
    # It builds its own Services (engine, transports), touching nothing the parent opened.
    context = multiprocessing.get_context("fork")
    worker = context.Process(target=_worker, args=(services.settings, services.clock(),
                                                   delivery_id), daemon=True)
    worker.start()
    return worker


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` every 5 ms until true, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


OPENED, WRITTEN = "upload opened", "data written, rename not yet asked"


@pytest.mark.parametrize(("database_url", "moment"), [
    ("sqlite", OPENED), ("sqlite", WRITTEN), ("postgres", WRITTEN)], indirect=["database_url"])
def test_worker_killed_during_upload_leaves_no_partial_file_and_delivers_once(
        moment: str, make_services: Callable[..., Services], database_url: str,
        slow_sshd: SlowLinkSshServer, demo_pki: DemoPki, tmp_path: Path) -> None:
    case = new_case(make_services(database_url))  # SQLite, and PostgreSQL as in production
    delivery_id = case.deliver_to(sftp_channel(slow_sshd, demo_pki))
    final = slow_sshd.drop_dir / f"{delivery_id}.json.p7m"
    part = final.with_name(final.name + ".part")

    def reached() -> bool:
        if not part.exists():
            return False
        return moment == OPENED or part.stat().st_size > 0

    worker = start_worker(case.services, delivery_id)
    try:
        wait_for(lambda: reached() or not worker.is_alive(), 30, moment)
        assert worker.is_alive(), f"the worker ended first (exit code {worker.exitcode})"
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.join(timeout=10)
    assert worker.exitcode == -signal.SIGKILL
    assert not final.exists()  # the council sees nothing under the final name
    assert case.row(delivery_id).status == "SENDING"  # claimed by the dead worker
    time.sleep(2 * LINK_DELAY)  # whatever the dead worker had in flight lands now
    assert not final.exists()

    slow_sshd.speed_up()
    clock = clock_of(case)
    clock.advance(timedelta(minutes=1))
    assert case.services.outbox.sweep(stuck_after=timedelta(minutes=2)).reclaimed == 0
    clock.advance(timedelta(minutes=2))
    report = case.services.outbox.sweep(stuck_after=timedelta(minutes=2),
                                        pending_grace=timedelta(0))
    assert report.reclaimed == 1
    assert queued(case) == [delivery_id]
    assert case.services.outbox.deliver_one(delivery_id) == "SENT"

    assert sorted(p.name for p in slow_sshd.drop_dir.iterdir()) == [final.name]
    content = openssl_open_p7m(final.read_bytes(), demo_pki, COUNCIL, tmp_path)
    assert content == case.expected_content(delivery_id)
    assert case.row(delivery_id).attempts == 2
    sent = [a for a in case.audit_actions(delivery_id) if a[1] == "delivery.sent"]
    assert len(sent) == 1


def test_sshd_stopped_during_an_upload_then_restarted_delivers_once(
        case: Case, slow_sshd: SlowLinkSshServer, demo_pki: DemoPki, tmp_path: Path) -> None:
    delivery_id = case.deliver_to(sftp_channel(slow_sshd, demo_pki))
    final = slow_sshd.drop_dir / f"{delivery_id}.json.p7m"
    part = final.with_name(final.name + ".part")
    outcome: list[str] = []
    sender = threading.Thread(
        target=lambda: outcome.append(case.services.outbox.deliver_one(delivery_id)))

    sender.start()
    try:
        wait_for(lambda: part.exists() or not sender.is_alive(), 30, "the upload to start")
        slow_sshd.stop()  # the server dies with our upload half done
    finally:
        sender.join(timeout=30)
    assert outcome == ["PENDING"]
    assert not final.exists()
    assert "connection dropped" in (case.row(delivery_id).last_error or "")

    slow_sshd.speed_up()
    slow_sshd.start()
    clock_of(case).advance(timedelta(minutes=2))
    assert case.services.outbox.deliver_one(delivery_id) == "SENT"

    assert sorted(p.name for p in slow_sshd.drop_dir.iterdir()) == [final.name]
    content = openssl_open_p7m(final.read_bytes(), demo_pki, COUNCIL, tmp_path)
    assert content == case.expected_content(delivery_id)


def test_worker_dead_after_the_rename_but_before_recording_is_not_sent_twice(
        case: Case, sshd_server: SshServer, demo_pki: DemoPki) -> None:
    delivery_id = case.deliver_to(sftp_channel(sshd_server, demo_pki))
    outbox, clock = case.services.outbox, clock_of(case)
    # What the dead worker did: claim, then upload completely; it died before recording SENT.
    assert outbox.claim(delivery_id, clock())
    row = case.row(delivery_id)
    channel = channel_from_json(row.channel)
    rendered = case.services.render(notification_of(case), channel, row.profile)
    content, suffix, media_type = case.services.protect(rendered, channel)
    outbox.transports["sftp"].send(OutboundMessage(delivery_id, channel, content, suffix,
                                                   media_type))
    final = sshd_server.drop_dir / f"{delivery_id}.json.p7m"
    uploaded = final.stat()

    clock.advance(timedelta(minutes=3))
    assert outbox.sweep(stuck_after=timedelta(minutes=2)).reclaimed == 1
    assert outbox.deliver_one(delivery_id) == "SENT"

    assert sorted(p.name for p in sshd_server.drop_dir.iterdir()) == [final.name]
    assert final.stat().st_mtime_ns == uploaded.st_mtime_ns  # not written again
    assert final.read_bytes() == content
    with case.services.db.read() as session:
        [sent] = session.execute(select(AuditEntry).where(
            AuditEntry.action == "delivery.sent",
            AuditEntry.subject_id == delivery_id)).scalars().all()
        assert sent.detail["already_delivered"] is True


# -- a mail server that defers once ------------------------------------------------------------


def test_smtp_4xx_then_250_defers_with_backoff_then_sends_once(
        case: Case, smtp_server_factory: Callable[..., SmtpServer], demo_pki: DemoPki,
        tmp_path: Path) -> None:
    server = smtp_server_factory(fail_first=1)
    delivery_id = case.deliver_to(smtp_channel(server, demo_pki))
    clock = clock_of(case)

    assert case.services.outbox.deliver_one(delivery_id) == "PENDING"
    row = case.row(delivery_id)
    assert "451" in (row.last_error or "")
    assert row.next_attempt_at is not None
    backoff = row.next_attempt_at.replace(tzinfo=clock().tzinfo) - clock()
    assert timedelta(seconds=20) <= backoff <= timedelta(seconds=40)
    assert case.services.outbox.deliver_one(delivery_id) == "PENDING"  # not due yet
    assert server.handler.mail_commands == 1
    clock.advance(backoff)
    assert case.services.outbox.deliver_one(delivery_id) == "SENT"

    assert server.handler.mail_commands == 2
    [mail] = server.mails
    content = openssl_open_mail(mail.data, demo_pki, COUNCIL, tmp_path)
    assert content == case.expected_content(delivery_id)
    actions = [action for _, action in case.audit_actions(delivery_id)]
    assert actions == ["delivery.created", "delivery.retry_scheduled", "delivery.sent"]


# -- permanent failures are held and a person is told --------------------------------------------


def test_wrong_host_key_is_permanent_held_and_alerted_with_nothing_uploaded(
        case: Case, sshd_server: SshServer, demo_pki: DemoPki, tmp_path: Path) -> None:
    impostor = write_ed25519_key(tmp_path / "impostor", "impostor")
    delivery_id = case.deliver_to(sftp_channel(sshd_server, demo_pki, host_key=impostor))

    assert case.services.outbox.deliver_one(delivery_id) == "HELD"

    assert list(sshd_server.drop_dir.iterdir()) == []
    assert sshd_server.accepted_logins() == 0  # we never even authenticated to it
    row = case.row(delivery_id)
    assert "host key" in (row.last_error or "")
    assert row.attempts == 1  # not retried
    [item] = case.items("delivery_held")
    assert item.delivery_id == delivery_id
    assert "host key" in item.message


def reissue(pki: DemoPki, party: str, path: Path, not_before: datetime,
            not_after: datetime) -> Path:
    """Write a certificate for the party's encryption key with the given dates, by the demo CA."""
    key = parse_private_key(pki.parties[party].encryption.key.read_bytes())
    ca = (parse_certificate(pki.ca_cert.read_bytes()), parse_private_key(pki.ca_key.read_bytes()))
    cert = issue_certificate(f"{party} (encryption)", key.public_key(), ca,
                             usage="encryption", not_before=not_before, not_after=not_after)
    staged = path.with_suffix(".new")
    write_certificate(staged, cert)
    staged.replace(path)  # as a renewal lands: a new file under the configured name
    return path


def test_expired_recipient_certificate_holds_the_copy_and_raises_an_item(
        case: Case, sshd_server: SshServer, demo_pki: DemoPki, tmp_path: Path) -> None:
    now = case.services.clock()
    expired = reissue(demo_pki, COUNCIL, tmp_path / "kent-enc.pem",
                      now - timedelta(days=400), now - timedelta(days=1))
    channel = replace(sshd_server.channel(), certificate=str(expired))
    delivery_id = case.deliver_to(channel)

    assert case.services.outbox.deliver_one(delivery_id) == "HELD"

    assert list(sshd_server.drop_dir.iterdir()) == []
    [item] = case.items("delivery_held")
    assert item.delivery_id == delivery_id
    assert "expired" in item.message


def test_certificate_expiring_within_30_days_delivers_with_a_warning_item(
        case: Case, sshd_server: SshServer, demo_pki: DemoPki, tmp_path: Path) -> None:
    now = case.services.clock()
    expiring = reissue(demo_pki, COUNCIL, tmp_path / "kent-enc.pem",
                       now - timedelta(days=300), now + timedelta(days=10))
    channel = replace(sshd_server.channel(), certificate=str(expiring))
    first = case.deliver_to(channel)
    second = case.deliver_to(channel)

    assert case.services.outbox.deliver_one(first) == "SENT"
    assert case.services.outbox.deliver_one(second) == "SENT"

    assert delivered_files(sshd_server.drop_dir) == sorted(
        [f"{first}.json.p7m", f"{second}.json.p7m"])
    [warning] = case.items("certificate_warning")  # once, not once per copy
    assert "expires on" in warning.message
    assert case.items("delivery_held") == []


# -- circuit breaker -----------------------------------------------------------------------------


def test_circuit_opens_after_repeated_failures_stops_hammering_then_recovers(
        case: Case, smtp_server_factory: Callable[..., SmtpServer], demo_pki: DemoPki) -> None:
    server = smtp_server_factory(fail_first=1000)
    outbox, clock = case.services.outbox, clock_of(case)
    threshold = outbox.breaker.failure_threshold
    ids = [case.deliver_to(smtp_channel(server, demo_pki)) for _ in range(threshold + 3)]

    assert {outbox.deliver_one(i) for i in ids} == {"PENDING"}
    assert server.handler.mail_commands == threshold  # the last three never reached it
    assert all("circuit open" in (case.row(i).last_error or "") for i in ids[threshold:])
    clock.advance(timedelta(minutes=2))  # retries due, but the circuit is still cooling down
    assert {outbox.deliver_one(i) for i in ids} == {"PENDING"}
    assert server.handler.mail_commands == threshold

    server.handler.fail_first = 0  # the mail server recovers
    clock.advance(outbox.breaker.cool_down)
    assert [outbox.deliver_one(i) for i in ids] == ["SENT"] * len(ids)
    assert len(server.mails) == len(ids)
    assert server.handler.mail_commands == threshold + len(ids)


# -- re-sending held copies: API and CLI ---------------------------------------------------------


@pytest.fixture
def api(case: Case) -> Any:
    """A test client on the case's services with the deliveries API, and a coordinator token."""
    app = create_app(case.services)
    if "deliveries_api" not in app.blueprints:
        register(app)
    with case.services.db.unit_of_work() as session:
        token = issue_token(session, "alex", "test", case.services.clock(), actor="test",
                            role="coordinator")
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def held_by_expired_certificate(case: Case, server: SshServer, pki: DemoPki,
                                tmp_path: Path) -> tuple[str, Path]:
    """Return a delivery held because the council's certificate expired, and that file."""
    now = case.services.clock()
    certificate = reissue(pki, COUNCIL, tmp_path / "kent-enc.pem",
                          now - timedelta(days=400), now - timedelta(days=1))
    delivery_id = case.deliver_to(replace(server.channel(), certificate=str(certificate)))
    assert case.services.outbox.deliver_one(delivery_id) == "HELD"
    return delivery_id, certificate


def resend_audit(case: Case, delivery_id: str) -> list[AuditEntry]:
    """Return the re-send audit entries of a delivery, and check the whole chain holds."""
    with case.services.db.read() as session:
        assert audit.verify_chain(session).ok
        entries = list(session.execute(select(AuditEntry).where(
            AuditEntry.action == "delivery.resend",
            AuditEntry.subject_id == delivery_id)).scalars())
        session.expunge_all()
        return entries


def test_api_resend_on_the_same_channel_after_the_certificate_is_renewed(
        case: Case, api: Any, sshd_server: SshServer, demo_pki: DemoPki,
        tmp_path: Path) -> None:
    client, auth = api
    delivery_id, certificate = held_by_expired_certificate(case, sshd_server, demo_pki,
                                                           tmp_path)
    url = f"/api/v1/deliveries/{delivery_id}/resend"
    assert client.post(url).status_code == 401
    assert client.get(f"/api/v1/deliveries/{delivery_id}").status_code == 401
    status = client.get(f"/api/v1/deliveries/{delivery_id}", headers=auth)
    assert status.status_code == 200
    assert status.get_json()["status"] == "HELD"
    assert "expired" in status.get_json()["last_error"]

    now = case.services.clock()
    reissue(demo_pki, COUNCIL, certificate, now - timedelta(days=1), now + timedelta(days=365))
    response = client.post(url, headers=auth)

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["status"] == "PENDING"
    assert response.headers["Location"] == f"/api/v1/deliveries/{delivery_id}"
    assert queued(case) == [delivery_id]
    assert case.services.outbox.deliver_one(delivery_id) == "SENT"
    assert delivered_files(sshd_server.drop_dir) == [f"{delivery_id}.json.p7m"]
    [entry] = resend_audit(case, delivery_id)
    assert entry.actor == "coordinator:alex"
    assert "expired" in entry.detail["previous_error"]
    assert client.post(url, headers=auth).status_code == 409  # already sent: nothing to do
    assert client.post("/api/v1/deliveries/nope/resend", headers=auth).status_code == 404
    assert client.get("/api/v1/deliveries/nope", headers=auth).status_code == 404
    assert client.get(f"/api/v1/deliveries/{delivery_id}",
                      headers=auth).get_json()["status"] == "SENT"


def test_api_resend_to_an_alternate_channel_after_a_host_key_change(
        case: Case, api: Any, sshd_server: SshServer, smtp_server: SmtpServer,
        demo_pki: DemoPki, tmp_path: Path) -> None:
    client, auth = api
    impostor = write_ed25519_key(tmp_path / "impostor", "impostor")
    delivery_id = case.deliver_to(sftp_channel(sshd_server, demo_pki, host_key=impostor))
    assert case.services.outbox.deliver_one(delivery_id) == "HELD"
    url = f"/api/v1/deliveries/{delivery_id}/resend"

    with case.services.db.unit_of_work() as session:
        force_token = issue_token(session, "warwickshire-police", "test", case.services.clock(),
                                  actor="test")
    as_force = client.post(url, headers={"Authorization": f"Bearer {force_token}"})
    assert as_force.status_code == 401  # a police force may not redirect copies
    assert client.post(url, headers=auth, data=b"not json").status_code == 400
    both = client.post(url, headers=auth, json={"team": "edt", "channel": {}})
    assert both.status_code == 400
    cleartext = {**channel_to_json(smtp_channel(smtp_server, demo_pki)), "encryption": "none"}
    refused = client.post(url, headers=auth, json={"channel": cleartext})
    assert refused.status_code == 400
    assert "never leave unencrypted" in refused.get_json()["detail"]
    unpinned = channel_to_json(sshd_server.channel())
    unpinned["options"] = [p for p in unpinned["options"] if p[0] != "host_key"]
    unpinned["certificate"] = str(demo_pki.parties[COUNCIL].encryption.cert)
    assert client.post(url, headers=auth, json={"channel": unpinned}).status_code == 400
    assert case.row(delivery_id).status == "HELD"  # refusals changed nothing
    assert queued(case) == []

    alternate = channel_to_json(smtp_channel(smtp_server, demo_pki))
    response = client.post(url, headers=auth, json={"channel": alternate})

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["channel"]["kind"] == "smtp"
    assert queued(case) == [delivery_id]
    assert case.services.outbox.deliver_one(delivery_id) == "SENT"
    [mail] = smtp_server.mails
    assert openssl_open_mail(mail.data, demo_pki, COUNCIL, tmp_path) == case.expected_content(
        delivery_id)
    assert list(sshd_server.drop_dir.iterdir()) == []
    [entry] = resend_audit(case, delivery_id)
    assert entry.actor == "coordinator:alex"
    assert entry.detail["from_channel"]["kind"] == "sftp"
    assert entry.detail["to_channel"]["kind"] == "smtp"


def test_cli_resend_on_the_same_channel_after_an_outage_past_the_ceiling(
        case: Case, sshd_server: SshServer, demo_pki: DemoPki) -> None:
    clock = clock_of(case)
    delivery_id = case.deliver_to(sftp_channel(sshd_server, demo_pki))
    sshd_server.stop()
    assert case.services.outbox.deliver_one(delivery_id) == "PENDING"
    clock.advance(timedelta(hours=24, minutes=1))
    assert case.services.outbox.deliver_one(delivery_id) == "HELD"
    assert "retry ceiling" in (case.row(delivery_id).last_error or "")
    sshd_server.start()

    result = CliRunner().invoke(resend, [delivery_id, "--actor", "sam"], obj=case.services)

    assert result.exit_code == 0, result.output
    assert f"{delivery_id}: PENDING" in result.output
    assert queued(case) == [delivery_id]
    assert case.services.outbox.deliver_one(delivery_id) == "SENT"
    assert delivered_files(sshd_server.drop_dir) == [f"{delivery_id}.json.p7m"]
    [entry] = resend_audit(case, delivery_id)
    assert entry.actor == "sam"
    again = CliRunner().invoke(resend, [delivery_id], obj=case.services)
    assert again.exit_code != 0
    assert "not HELD" in again.output


def test_cli_resend_to_another_team_or_a_channel_given_as_json(
        case: Case, sshd_server: SshServer, demo_pki: DemoPki, tmp_path: Path) -> None:
    impostor = write_ed25519_key(tmp_path / "impostor", "impostor")
    by_team = case.deliver_to(sftp_channel(sshd_server, demo_pki, host_key=impostor))
    by_json = case.deliver_to(sftp_channel(sshd_server, demo_pki, host_key=impostor))
    assert case.services.outbox.deliver_one(by_team) == "HELD"
    assert case.services.outbox.deliver_one(by_json) == "HELD"
    runner = CliRunner()

    unknown = runner.invoke(resend, [by_team, "--team", "no_such_team"], obj=case.services)
    assert unknown.exit_code != 0
    assert "no team" in unknown.output
    result = runner.invoke(resend, [by_team, "--team", "edt"], obj=case.services)
    assert result.exit_code == 0, result.output
    channel_file = tmp_path / "channel.json"
    channel_file.write_text(json.dumps(channel_to_json(sftp_channel(sshd_server, demo_pki))))
    result = runner.invoke(resend, [by_json, "--channel-json", f"@{channel_file}"],
                           obj=case.services)
    assert result.exit_code == 0, result.output

    assert sorted(queued(case)) == sorted([by_team, by_json])
    assert case.services.outbox.deliver_one(by_team) == "SENT"
    assert case.services.outbox.deliver_one(by_json) == "SENT"
    edt = case.services.settings.drop_root / "drop" / COUNCIL / "edt"
    [copy] = list(edt.glob(f"{by_team}*"))
    # The team's own channel renders for the council's case system, as the directory says.
    assert open_copy(copy, demo_pki, COUNCIL) == case.expected_content(by_team)
    assert delivered_files(sshd_server.drop_dir) == [f"{by_json}.json.p7m"]
    [team_entry] = resend_audit(case, by_team)
    assert team_entry.actor == "cli"
    assert team_entry.detail["to_channel"]["address"] == f"drop/{COUNCIL}/edt"
    [json_entry] = resend_audit(case, by_json)
    assert json_entry.detail["to_channel"]["kind"] == "sftp"
