"""Copies through the outbox to a real OpenSSH sshd and a real SMTP server, opened with openssl/gpg.

Each test processes a real police message, adds a delivery on an SFTP or SMTP channel and runs
it through `Outbox.deliver_one`. What arrives is then opened the way a council would, with
tools we did not write, holding only the council's key and the CA (or the gateway's PGP key).
"""

from __future__ import annotations

import email
import email.policy
import functools
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.delivery.crypto.channel import MessageProtector, PgpKeyFile
from gateway.delivery.crypto.demo_pki import DemoPki, PgpKeyFiles, init_demo_pgp_keys
from gateway.delivery.crypto.pgp import gpg_home
from gateway.domain.enums import RecipientRole
from gateway.domain.routing import Channel, Recipient
from gateway.domain.schemas import notification_from_json
from gateway.pipeline import SYSTEM, channel_from_json
from gateway.services import Services
from gateway.store.models import AuditEntry, CoordinatorItemRow, DeliveryRow, EventRow
from routing.directory import Directory
from routing.directory_loader import load_directory
from tests.support.messages import compact
from tests.support.smtpd import SmtpServer
from tests.support.sshd import SshServer

pytestmark = pytest.mark.sshd

FORCE = "warwickshire-police"
COUNCIL = "kent"
# What the fixture message says about the child; none of it may appear in a mail subject.
CHILD_WORDS = ("Amelia", "Hart", "CV34", "2011-06-02", "9434765919", "Mill Street")


@dataclass
class Case:
    """A processed notification to which tests add deliveries on channels of their choosing."""

    services: Services
    episode_id: str
    event_id: str
    police_reference: str
    teams: int = 0

    def deliver_to(self, channel: Channel, *, authority: str = COUNCIL,
                   team: str | None = None) -> str:
        """Write one outbox row for `channel` (as routing would) and return its id."""
        self.teams += 1
        recipient = Recipient(authority=authority, team=team or f"secure-{self.teams}",
                              role=RecipientRole.ACTION, channel=channel,
                              reason="test: secure channel")
        with self.services.db.unit_of_work() as session:
            return self.services.pipeline.create_delivery(
                session, self.episode_id, self.event_id, recipient, self.services.clock())

    def expected_content(self, delivery_id: str) -> bytes:
        """Return the canonical rendering the delivery should carry, rendered afresh."""
        with self.services.db.read() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            event = session.get(EventRow, row.event_id)
            assert event is not None
            notification = notification_from_json(event.notification)
            channel, profile = channel_from_json(row.channel), row.profile
        return self.services.render(notification, channel, profile).content

    def row(self, delivery_id: str) -> DeliveryRow:
        """Return a detached copy of a delivery row."""
        with self.services.db.read() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            session.expunge(row)
            return row

    def items(self, kind: str) -> list[CoordinatorItemRow]:
        """Return the coordinator items of one kind."""
        with self.services.db.read() as session:
            rows = list(session.execute(select(CoordinatorItemRow).where(
                CoordinatorItemRow.kind == kind)).scalars())
            session.expunge_all()
            return rows

    def audit_actions(self, delivery_id: str) -> list[tuple[str, str]]:
        """Return (actor, action) of every audit entry about one delivery, in order."""
        with self.services.db.read() as session:
            return [(a, b) for a, b in session.execute(
                select(AuditEntry.actor, AuditEntry.action).where(
                    AuditEntry.subject_type == "delivery",
                    AuditEntry.subject_id == delivery_id).order_by(AuditEntry.seq)).all()]


@functools.cache
def loaded_directory(config_dir: Path) -> Directory:
    """Load a directory once per test run (it is immutable; loading takes about a second)."""
    return load_directory(config_dir)


def new_case(services: Services) -> Case:
    """Process a real COMPACT message and deliver the folder copies the demo directory routed."""
    services.directory = loaded_directory(services.settings.config_dir)
    message = compact("missing_reported_basic", force=FORCE)
    receipt = services.pipeline.process(services.pipeline.receive("compact", message, FORCE))
    assert receipt.status.value == "PROCESSED"
    assert receipt.episode_id is not None
    queue: list[str] = services.enqueue  # type: ignore[assignment]
    # Out of the way, so that what the tests then queue, sweep and count is only their own.
    assert {services.outbox.deliver_one(i) for i in queue} == {"SENT"}
    queue.clear()
    with services.db.read() as session:
        event = session.execute(select(EventRow).where(
            EventRow.episode_id == receipt.episode_id)).scalar_one()
        event_id = event.id
        reference = notification_from_json(event.notification).police_reference
    return Case(services, receipt.episode_id, event_id, reference)


@pytest.fixture
def case(make_services: Callable[..., Services]) -> Case:
    """A processed notification on fresh embedded services."""
    return new_case(make_services())


def sftp_channel(server: SshServer, pki: DemoPki, party: str = COUNCIL,
                 **options: str) -> Channel:
    """Return the sshd's channel, CMS-encrypted to `party`'s encryption certificate."""
    return replace(server.channel(None, **options),
                   certificate=str(pki.parties[party].encryption.cert))


def smtp_channel(server: SmtpServer, pki: DemoPki, party: str = COUNCIL) -> Channel:
    """Return the SMTP server's channel, S/MIME-encrypted to `party`'s certificate."""
    return replace(server.channel(), encryption="cms",
                   certificate=str(pki.parties[party].encryption.cert))


def run(*command: str | Path, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run a tool we did not write with `data` on stdin; return the finished process."""
    return subprocess.run([str(part) for part in command], input=data, capture_output=True,
                          timeout=30, check=False)


def must(process: subprocess.CompletedProcess[bytes]) -> bytes:
    """Return the stdout of a process that must have succeeded, else fail with its stderr."""
    assert process.returncode == 0, process.stderr.decode(errors="replace")
    return process.stdout


def openssl_open_p7m(p7m: bytes, pki: DemoPki, party: str, tmp_path: Path) -> bytes:
    """Decrypt a DER `.p7m` with the party's key, verify against the CA; return the content."""
    keys = pki.parties[party].encryption
    signed = must(run("openssl", "cms", "-decrypt", "-inform", "DER", "-binary",
                      "-recip", keys.cert, "-inkey", keys.key, data=p7m))
    signer = tmp_path / "signer.pem"
    verified = run("openssl", "cms", "-verify", "-inform", "DER", "-binary",
                   "-CAfile", pki.ca_cert, "-signer", signer, data=signed)
    content = must(verified)
    assert b"Verification successful" in verified.stderr
    assert_signed_by_gateway(signer, pki)
    return content


def openssl_open_mail(mail: bytes, pki: DemoPki, party: str, tmp_path: Path) -> bytes:
    """Decrypt a whole S/MIME mail with the party's key, verify it; return the inner content."""
    keys = pki.parties[party].encryption
    signed_entity = must(run("openssl", "cms", "-decrypt", "-recip", keys.cert,
                             "-inkey", keys.key, data=mail))
    signer = tmp_path / "mail-signer.pem"
    verified = run("openssl", "cms", "-verify", "-CAfile", pki.ca_cert, "-signer", signer,
                   data=signed_entity)
    part = email.message_from_bytes(must(verified), policy=email.policy.default)
    assert b"Verification successful" in verified.stderr
    assert_signed_by_gateway(signer, pki)
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def assert_signed_by_gateway(signer_pem: Path, pki: DemoPki) -> None:
    """Check that the certificate openssl says signed the message is the gateway's."""
    signed_by = must(run("openssl", "x509", "-in", signer_pem, "-noout", "-fingerprint"))
    gateway = must(run("openssl", "x509", "-in", pki.gateway.signing.cert, "-noout",
                       "-fingerprint"))
    assert signed_by == gateway


def assert_canonical(content: bytes, case: Case, delivery_id: str) -> None:
    """Check the opened copy is the canonical JSON of the case's notification."""
    assert content == case.expected_content(delivery_id)
    document: dict[str, Any] = json.loads(content)
    assert document["notification"]["police_reference"] == case.police_reference


def test_sftp_copy_is_a_p7m_that_openssl_decrypts_and_verifies(
        case: Case, sshd_server: SshServer, demo_pki: DemoPki, tmp_path: Path) -> None:
    delivery_id = case.deliver_to(sftp_channel(sshd_server, demo_pki))

    assert case.services.outbox.deliver_one(delivery_id) == "SENT"

    files = sorted(p.name for p in sshd_server.drop_dir.iterdir())
    assert files == [f"{delivery_id}.json.p7m"]
    p7m = (sshd_server.drop_dir / files[0]).read_bytes()
    assert_canonical(openssl_open_p7m(p7m, demo_pki, COUNCIL, tmp_path), case, delivery_id)
    row = case.row(delivery_id)
    assert row.remote_ref == str(sshd_server.drop_dir / files[0])
    assert row.attempts == 1
    assert (SYSTEM, "delivery.sent") in case.audit_actions(delivery_id)


def test_a_copy_for_another_council_cannot_be_opened_with_this_councils_key(
        case: Case, sshd_server: SshServer, demo_pki: DemoPki) -> None:
    delivery_id = case.deliver_to(sftp_channel(sshd_server, demo_pki, party="warwickshire"))
    assert case.services.outbox.deliver_one(delivery_id) == "SENT"
    p7m = (sshd_server.drop_dir / f"{delivery_id}.json.p7m").read_bytes()
    kent = demo_pki.parties[COUNCIL].encryption
    refused = run("openssl", "cms", "-decrypt", "-inform", "DER", "-binary",
                  "-recip", kent.cert, "-inkey", kent.key, data=p7m)
    assert refused.returncode != 0
    assert b"Amelia" not in p7m  # nothing readable on the wire or at rest


def test_smtp_copy_is_s_mime_over_starttls_marked_and_without_personal_data(
        case: Case, smtp_server: SmtpServer, demo_pki: DemoPki, tmp_path: Path) -> None:
    delivery_id = case.deliver_to(smtp_channel(smtp_server, demo_pki))

    assert case.services.outbox.deliver_one(delivery_id) == "SENT"

    [mail] = smtp_server.mails
    assert mail.tls
    assert mail.rcpt_tos == ("mcu@council.example.gov.uk",)
    headers = email.message_from_bytes(mail.data, policy=email.policy.default)
    subject = str(headers["Subject"])
    assert subject.startswith("[OFFICIAL-SENSITIVE]")
    assert delivery_id in subject
    assert not any(word.lower() in subject.lower() for word in CHILD_WORDS)
    assert case.police_reference not in subject
    assert headers["X-Protective-Marking"] == "OFFICIAL-SENSITIVE"
    assert str(headers["Message-ID"]).startswith(f"<{delivery_id}@")
    assert case.row(delivery_id).remote_ref == str(headers["Message-ID"])
    assert b"Hart" not in mail.data
    content = openssl_open_mail(mail.data, demo_pki, COUNCIL, tmp_path)
    assert_canonical(content, case, delivery_id)


@pytest.fixture(scope="module")
def pgp_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PgpKeyFiles]:
    """Demo OpenPGP keys for the gateway and Kent."""
    return init_demo_pgp_keys(tmp_path_factory.mktemp("pgp"), [COUNCIL])


def use_pgp_key(services: Services, key: PgpKeyFiles) -> None:
    """Give the services a protector that also signs OpenPGP with the gateway's demo key."""
    # Services builds its protector without a PGP key (no setting yet); tests supply one.
    services.protector = MessageProtector(
        services.keystore, services.settings.ca_file, services.clock,
        pgp_key=PgpKeyFile(key.secret), on_warning=services._certificate_warning)


def gpg_open(armored: bytes, recipient: PgpKeyFiles, sender: PgpKeyFiles) -> tuple[bytes, str]:
    """Decrypt with the gpg CLI holding only the recipient's secret and the sender's public key."""
    with gpg_home() as gpg:
        home = gpg.gnupghome
        for key in (recipient.secret, sender.public):
            must(run("gpg", "--homedir", home, "--batch", "--import", key))
        result = run("gpg", "--homedir", home, "--batch", "--status-fd", "2", "--decrypt",
                     data=armored)
        return must(result), result.stderr.decode(errors="replace")


def test_pgp_recipient_gets_a_file_that_gpg_decrypts_and_verifies(
        case: Case, sshd_server: SshServer, pgp_keys: dict[str, PgpKeyFiles]) -> None:
    use_pgp_key(case.services, pgp_keys["gateway"])
    channel = replace(sshd_server.channel(), encryption="pgp",
                      certificate=str(pgp_keys[COUNCIL].public))
    delivery_id = case.deliver_to(channel)

    assert case.services.outbox.deliver_one(delivery_id) == "SENT"

    armored = (sshd_server.drop_dir / f"{delivery_id}.json.asc").read_bytes()
    assert armored.startswith(b"-----BEGIN PGP MESSAGE-----")
    content, status = gpg_open(armored, pgp_keys[COUNCIL], pgp_keys["gateway"])
    assert "DECRYPTION_OKAY" in status
    assert "GOODSIG" in status
    assert "VALIDSIG" in status
    assert_canonical(content, case, delivery_id)


def test_pgp_channel_without_a_gateway_pgp_key_is_held_for_a_person(
        case: Case, sshd_server: SshServer, pgp_keys: dict[str, PgpKeyFiles]) -> None:
    channel = replace(sshd_server.channel(), encryption="pgp",
                      certificate=str(pgp_keys[COUNCIL].public))
    delivery_id = case.deliver_to(channel)

    assert case.services.outbox.deliver_one(delivery_id) == "HELD"

    assert not list(sshd_server.drop_dir.iterdir())
    [item] = case.items("delivery_held")
    assert item.delivery_id == delivery_id
    assert "pgp" in item.message.lower()
