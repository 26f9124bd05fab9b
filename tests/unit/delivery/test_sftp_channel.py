"""Reading SFTP channel settings and pinned host keys (no server needed)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.delivery.errors import PermanentDeliveryError
from gateway.delivery.transports.sftp import _parse_host_key, parse_channel
from gateway.domain.routing import Channel


def _host_key_line() -> str:
    """Return a fresh 'ssh-ed25519 AAAA...' public key line."""
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _channel(address: str, **options: str) -> Channel:
    """Return an sftp channel with the given options."""
    return Channel(kind="sftp", address=address, options=tuple(options.items()))


def test_reads_user_host_port_folder_and_timeouts() -> None:
    endpoint = parse_channel(
        _channel(
            "sftp://mosaic-in@sftp.council.example:2222/incoming/missing",
            private_key="/keys/gw",
            host_key=_host_key_line(),
            connect_timeout="3",
            timeout="7.5",
        )
    )

    assert (endpoint.user, endpoint.host, endpoint.port) == (
        "mosaic-in",
        "sftp.council.example",
        2222,
    )
    assert endpoint.remote_dir == "/incoming/missing"
    assert (endpoint.connect_timeout, endpoint.timeout) == (3.0, 7.5)


def test_port_defaults_to_22() -> None:
    endpoint = parse_channel(
        _channel("sftp://u@h/in", private_key="/k", known_hosts="/etc/ssh/known")
    )

    assert endpoint.port == 22


@pytest.mark.parametrize(
    ("address", "options", "complaint"),
    [
        ("sftp://h/in", {"private_key": "/k", "known_hosts": "/kh"}, "user@host"),
        ("ftp://u@h/in", {"private_key": "/k", "known_hosts": "/kh"}, "user@host"),
        ("sftp://u@h/in", {"known_hosts": "/kh"}, "private_key"),
        ("sftp://u@h/in", {"private_key": "/k"}, "pins no host key"),
        ("sftp://u@h/in", {"private_key": "/k", "known_hosts": "/kh", "timeout": "x"}, "bad"),
    ],
)
def test_misconfigured_channel_is_permanent(
    address: str, options: dict[str, str], complaint: str
) -> None:
    with pytest.raises(PermanentDeliveryError, match=complaint):
        parse_channel(_channel(address, **options))


def test_host_key_may_carry_host_names_and_a_comment() -> None:
    line = _host_key_line()
    key_type, key = _parse_host_key(f"ssh-gw.council.example,[10.0.0.5]:2222 {line} gw host")

    assert key_type == "ssh-ed25519"
    assert key.get_base64() == line.split()[1]


@pytest.mark.parametrize("bad", ["", "ssh-ed25519", "ssh-ed25519 not-base64!", "hello world"])
def test_unreadable_host_key_is_permanent(bad: str) -> None:
    with pytest.raises(PermanentDeliveryError, match="pinned host key"):
        _parse_host_key(bad)
