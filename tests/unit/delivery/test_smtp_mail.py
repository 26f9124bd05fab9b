"""Building the marked mail around an S/MIME entity, and reading SMTP channel settings."""

from __future__ import annotations

import email
import email.policy

import pytest

from gateway.delivery.errors import PermanentDeliveryError
from gateway.delivery.transports.base import OutboundMessage
from gateway.delivery.transports.smtp import build_mail, message_id, parse_channel
from gateway.domain.routing import Channel

CHANNEL = Channel(
    kind="smtp",
    address="mash@council.example.gov.uk",
    options=(
        ("host", "mail.council.example.gov.uk"),
        ("port", "587"),
        ("ca_file", "/etc/gateway/council-ca.pem"),
        ("from", "gateway@gateway.example.gov.uk"),
    ),
)
ENTITY = (
    b"MIME-Version: 1.0\n"
    b"Subject: Amelia Testchild missing\n"
    b'Content-Disposition: attachment; filename="smime.p7m"\n'
    b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\n"
    b'\tname="smime.p7m"\n'
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"MIIBdgYJKoZIhvcNAQcDoIIBZzCCAWMCAQAxggEeMIIBGgIBADCBgjB6MQswCQYD\n"
    b"VQQGEwJVSzEPMA0GA1UECAwGTG9uZG9u\n"
)


def _build(content: bytes = ENTITY, delivery_id: str = "dlv-0001") -> bytes:
    """Build the mail for one copy."""
    message = OutboundMessage(delivery_id, CHANNEL, content, ".p7m")
    return build_mail(
        message,
        from_addr="gateway@gateway.example.gov.uk",
        to_addr=CHANNEL.address,
        gateway_host="gw.example.gov.uk",
    )


def test_mail_is_marked_and_named_by_delivery_id() -> None:
    mail = email.message_from_bytes(_build(), policy=email.policy.default)

    assert mail["Subject"] == "[OFFICIAL-SENSITIVE] Missing child notification dlv-0001"
    assert mail["X-Protective-Marking"] == "OFFICIAL-SENSITIVE"
    assert mail["X-Classification"] == "OFFICIAL-SENSITIVE"
    assert mail["Message-ID"] == "<dlv-0001@gw.example.gov.uk>"
    assert mail["To"] == "mash@council.example.gov.uk"
    assert mail.get_all("MIME-Version") == ["1.0"]


def test_entity_headers_other_than_content_are_dropped() -> None:
    raw = _build()

    assert b"Amelia" not in raw
    assert raw.count(b"Subject:") == 1


def test_entity_content_headers_and_body_are_carried_over_with_crlf() -> None:
    raw = _build()
    mail = email.message_from_bytes(raw, policy=email.policy.default)

    assert mail.get_content_type() == "application/pkcs7-mime"
    assert mail.get_param("smime-type") == "enveloped-data"
    assert mail.get_filename() == "smime.p7m"
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b'\r\n\tname="smime.p7m"' in head  # folded header kept as folded
    assert body == (
        b"MIIBdgYJKoZIhvcNAQcDoIIBZzCCAWMCAQAxggEeMIIBGgIBADCBgjB6MQswCQYD\r\n"
        b"VQQGEwJVSzEPMA0GA1UECAwGTG9uZG9u\r\n"
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_bare_der_is_wrapped_as_one_base64_part() -> None:
    der = bytes(range(256))
    mail = email.message_from_bytes(_build(content=der), policy=email.policy.default)

    assert mail.get_content_type() == "application/pkcs7-mime"
    assert mail.get_payload(decode=True) == der


def test_delivery_id_that_cannot_form_a_message_id_is_permanent() -> None:
    with pytest.raises(PermanentDeliveryError, match="Message-ID"):
        message_id("dlv 1<script>", "gw.example")


def test_channel_settings() -> None:
    endpoint = parse_channel(CHANNEL)

    assert (endpoint.host, endpoint.port) == ("mail.council.example.gov.uk", 587)
    assert endpoint.ca_file == "/etc/gateway/council-ca.pem"
    assert endpoint.username is None


@pytest.mark.parametrize(
    ("drop", "add", "complaint"),
    [
        ("ca_file", (), "ca_file"),
        ("host", (), "host"),
        ("from", (), "from"),
        (None, (("username", "gw"),), "password_file"),
        (None, (("port", "smtp"),), "bad smtp"),
    ],
)
def test_misconfigured_channel_is_permanent(
    drop: str | None, add: tuple[tuple[str, str], ...], complaint: str
) -> None:
    options = tuple(o for o in CHANNEL.options if o[0] != drop) + add
    channel = Channel(kind="smtp", address=CHANNEL.address, options=options)

    with pytest.raises(PermanentDeliveryError, match=complaint):
        parse_channel(channel)
