"""SMTP transport against a real SMTP server (aiosmtpd) with STARTTLS, started on loopback."""

from __future__ import annotations

import datetime
import email
import email.policy
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from gateway.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from gateway.delivery.transports.base import OutboundMessage
from gateway.delivery.transports.smtp import SmtpTransport
from gateway.domain.routing import Channel
from tests.support.ports import free_port
from tests.support.smtpd import SmtpServer
from tests.support.tls import make_tls_files

GATEWAY_HOST = "gateway.example.gov.uk"
CHILD_DETAILS = b'{"child": {"name": "Amelia Testchild", "dob": "2012-03-04"}, "event": "missing"}'


class Recipient:
    """A council mailbox's key pair and certificate, to envelope to and decrypt with."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MCU test council")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )

    def envelope(self, plaintext: bytes) -> bytes:
        """Return an S/MIME application/pkcs7-mime entity (headers and body) for this recipient."""
        return (
            pkcs7.PKCS7EnvelopeBuilder()
            .set_data(plaintext)
            .add_recipient(self.cert)
            .encrypt(serialization.Encoding.SMIME, [])
        )

    def decrypt(self, mail: bytes) -> bytes:
        """Decrypt a whole received S/MIME mail."""
        return pkcs7.pkcs7_decrypt_smime(mail, self.cert, self.key, [])


@pytest.fixture(scope="module")
def recipient() -> Recipient:
    """Return one recipient key pair for the module (RSA generation is slow-ish)."""
    return Recipient()


@pytest.fixture
def transport() -> Iterator[SmtpTransport]:
    """Yield a fresh SMTP transport and QUIT its sessions afterwards."""
    smtp = SmtpTransport(gateway_host=GATEWAY_HOST)
    yield smtp
    smtp.close()


def _message(channel: Channel, delivery_id: str, entity: bytes) -> OutboundMessage:
    """Return a protected copy for `channel` named by `delivery_id`."""
    return OutboundMessage(delivery_id=delivery_id, channel=channel, content=entity, suffix=".p7m")


def test_delivered_mail_is_marked_identified_and_decryptable(
    smtp_server: SmtpServer, transport: SmtpTransport, recipient: Recipient
) -> None:
    entity = recipient.envelope(CHILD_DETAILS)

    receipt = transport.send(_message(smtp_server.channel(), "01HX7TESTDELIVERY", entity))

    [received] = smtp_server.mails
    assert received.tls
    assert received.rcpt_tos == ("mcu@council.example.gov.uk",)
    mail = email.message_from_bytes(received.data, policy=email.policy.default)
    assert mail["Subject"] == "[OFFICIAL-SENSITIVE] Missing child notification 01HX7TESTDELIVERY"
    assert mail["X-Protective-Marking"] == "OFFICIAL-SENSITIVE"
    assert mail["Message-ID"] == f"<01HX7TESTDELIVERY@{GATEWAY_HOST}>"
    assert receipt.reference == mail["Message-ID"]
    assert mail.get_content_type() == "application/pkcs7-mime"
    assert mail.get_param("smime-type") == "enveloped-data"
    assert mail["Content-Transfer-Encoding"] == "base64"
    assert b"Amelia" not in received.data
    assert b"Testchild" not in received.data
    assert recipient.decrypt(received.data) == CHILD_DETAILS


def test_several_mails_share_one_session(
    smtp_server: SmtpServer, transport: SmtpTransport, recipient: Recipient
) -> None:
    channel = smtp_server.channel()
    for i in range(4):
        transport.send(_message(channel, f"dlv-{i}", recipient.envelope(b"copy %d" % i)))

    assert len(smtp_server.mails) == 4
    assert smtp_server.connections == 1
    ids = [email.message_from_bytes(m.data)["Message-ID"] for m in smtp_server.mails]
    assert ids == [f"<dlv-{i}@{GATEWAY_HOST}>" for i in range(4)]


def test_4xx_reply_is_transient_and_the_retry_succeeds(
    smtp_server_factory: Callable[..., SmtpServer], transport: SmtpTransport
) -> None:
    server = smtp_server_factory(fail_first=1)
    message = _message(server.channel(), "dlv-1", b"Content-Type: text/plain\r\n\r\nsealed\r\n")

    with pytest.raises(TransientDeliveryError, match="451"):
        transport.send(message)
    receipt = transport.send(message)

    assert receipt.reference == f"<dlv-1@{GATEWAY_HOST}>"
    assert len(server.mails) == 1
    assert server.connections == 1  # the session survived the refusal


def test_5xx_reply_is_permanent(
    smtp_server_factory: Callable[..., SmtpServer], transport: SmtpTransport
) -> None:
    server = smtp_server_factory(fail_first=1)
    server.handler.fail_reply = "554 5.7.1 Message rejected by policy"

    with pytest.raises(PermanentDeliveryError, match="554"):
        transport.send(_message(server.channel(), "dlv-1", b"Content-Type: text/plain\r\n\r\nx"))

    assert server.mails == []


def test_server_without_starttls_gets_nothing(
    smtp_server_factory: Callable[..., SmtpServer], transport: SmtpTransport, recipient: Recipient
) -> None:
    server = smtp_server_factory(starttls=False)

    with pytest.raises(PermanentDeliveryError, match="STARTTLS"):
        transport.send(_message(server.channel(), "dlv-1", recipient.envelope(CHILD_DETAILS)))

    assert server.mails == []
    assert server.handler.mail_commands == 0


def test_certificate_from_an_untrusted_ca_is_permanent(
    smtp_server: SmtpServer, transport: SmtpTransport, tmp_path: Path
) -> None:
    other_ca = make_tls_files(tmp_path / "other", label="other").ca_cert
    channel = smtp_server.channel(ca_file=str(other_ca))

    with pytest.raises(PermanentDeliveryError, match="certificate"):
        transport.send(_message(channel, "dlv-1", b"Content-Type: text/plain\r\n\r\nx"))

    assert smtp_server.mails == []


def test_nothing_listening_is_transient(transport: SmtpTransport, tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    channel = Channel(
        kind="smtp",
        address="mcu@council.example.gov.uk",
        options=(
            ("ca_file", str(tls.ca_cert)),
            ("from", "gateway@gateway.example.gov.uk"),
            ("host", "127.0.0.1"),
            ("port", str(free_port())),
        ),
    )

    with pytest.raises(TransientDeliveryError):
        transport.send(_message(channel, "dlv-1", b"Content-Type: text/plain\r\n\r\nx"))


def test_server_restart_is_transient_then_reconnects(
    smtp_server: SmtpServer, transport: SmtpTransport
) -> None:
    channel = smtp_server.channel()
    body = b"Content-Type: text/plain\r\n\r\nsealed\r\n"
    transport.send(_message(channel, "dlv-1", body))

    smtp_server.stop()
    with pytest.raises(TransientDeliveryError):
        transport.send(_message(channel, "dlv-2", body))
    smtp_server.start()
    transport.send(_message(channel, "dlv-3", body))

    assert [email.message_from_bytes(m.data)["Message-ID"] for m in smtp_server.mails] == [
        f"<dlv-1@{GATEWAY_HOST}>",
        f"<dlv-3@{GATEWAY_HOST}>",
    ]


def test_auth_with_password_file(
    smtp_server_factory: Callable[..., SmtpServer], transport: SmtpTransport, tmp_path: Path
) -> None:
    server = smtp_server_factory(credentials=("gateway", "s3cret-from-file"))
    body = b"Content-Type: text/plain\r\n\r\nsealed\r\n"

    transport.send(_message(server.channel(), "dlv-1", body))
    assert len(server.mails) == 1

    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-it\n")
    channel = server.channel(username="gateway", password_file=str(wrong))
    with pytest.raises(PermanentDeliveryError, match="535"):
        SmtpTransport(gateway_host=GATEWAY_HOST).send(_message(channel, "dlv-2", body))
    assert len(server.mails) == 1


def test_server_that_never_greets_times_out_as_transient(
    smtp_server: SmtpServer, transport: SmtpTransport
) -> None:
    with socket.socket() as silent:  # accepts TCP (backlog) but never says 220
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        channel = smtp_server.channel(port=str(silent.getsockname()[1]), timeout="0.5")

        started = time.monotonic()
        with pytest.raises(TransientDeliveryError, match="timed out"):
            transport.send(_message(channel, "dlv-1", b"Content-Type: text/plain\r\n\r\nx"))

    assert time.monotonic() - started < 5
    assert smtp_server.mails == []
