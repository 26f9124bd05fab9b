"""SFTP transport against a real OpenSSH sshd started on loopback by the fixtures."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from gateway.delivery.transports.base import OutboundMessage
from gateway.delivery.transports.sftp import SftpTransport
from gateway.domain.routing import Channel
from tests.support.sshd import SshServer, write_ed25519_key

pytestmark = pytest.mark.sshd


def _message(channel: Channel, delivery_id: str, content: bytes = b"") -> OutboundMessage:
    """Return a protected copy for `channel` named by `delivery_id`."""
    body = content or f"CMS envelope for {delivery_id}".encode()
    return OutboundMessage(delivery_id=delivery_id, channel=channel, content=body, suffix=".p7m")


@pytest.fixture
def transport() -> Iterator[SftpTransport]:
    """Yield a fresh SFTP transport and close its connections afterwards."""
    sftp = SftpTransport()
    yield sftp
    sftp.close()


def test_several_files_go_over_one_reused_connection(
    sshd_server: SshServer, transport: SftpTransport
) -> None:
    channel = sshd_server.channel()
    receipts = [transport.send(_message(channel, f"dlv-{i}")) for i in range(5)]
    transport.close()

    names = sorted(p.name for p in sshd_server.drop_dir.iterdir())
    assert names == [f"dlv-{i}.p7m" for i in range(5)]
    for i, receipt in enumerate(receipts):
        assert not receipt.already_delivered
        assert receipt.reference == str(sshd_server.drop_dir / f"dlv-{i}.p7m")
        assert Path(receipt.reference).read_bytes() == f"CMS envelope for dlv-{i}".encode()
    assert sshd_server.accepted_logins() == 1
    assert transport.connections_opened == 1


def test_wrong_pinned_host_key_is_permanent_and_uploads_nothing(
    sshd_server: SshServer, transport: SftpTransport, tmp_path: Path
) -> None:
    impostor_line = write_ed25519_key(tmp_path / "other_host_key", "other")
    channel = sshd_server.channel(host_key=impostor_line)

    with pytest.raises(PermanentDeliveryError, match="host key"):
        transport.send(_message(channel, "dlv-1"))

    assert list(sshd_server.drop_dir.iterdir()) == []
    assert sshd_server.accepted_logins() == 0


def test_host_key_pinned_by_known_hosts_file(
    sshd_server: SshServer, transport: SftpTransport, tmp_path: Path
) -> None:
    good = sshd_server.channel(host_key="", known_hosts=str(sshd_server.known_hosts))
    assert not transport.send(_message(good, "dlv-good")).already_delivered

    other_host = tmp_path / "known_hosts_for_another_server"
    other_host.write_text(f"[192.0.2.1]:22 {sshd_server.host_key_line}\n")
    unknown = sshd_server.channel(host_key="", known_hosts=str(other_host))
    with pytest.raises(PermanentDeliveryError, match="not pinned"):
        SftpTransport().send(_message(unknown, "dlv-unknown"))

    assert [p.name for p in sshd_server.drop_dir.iterdir()] == ["dlv-good.p7m"]


def test_existing_final_file_means_already_delivered(
    sshd_server: SshServer, transport: SftpTransport
) -> None:
    final = sshd_server.drop_dir / "dlv-7.p7m"
    final.write_bytes(b"delivered by an earlier attempt")

    receipt = transport.send(_message(sshd_server.channel(), "dlv-7", b"a fresh copy"))

    assert receipt.already_delivered
    assert receipt.reference == str(final)
    assert final.read_bytes() == b"delivered by an earlier attempt"
    assert not (sshd_server.drop_dir / "dlv-7.p7m.part").exists()


def test_leftover_part_is_overwritten_and_final_name_only_ever_holds_the_whole_file(
    sshd_server: SshServer, transport: SftpTransport
) -> None:
    content = os.urandom(3 * 1024 * 1024)
    part = sshd_server.drop_dir / "dlv-9.p7m.part"
    part.write_bytes(b"x" * (len(content) + 4096))  # an interrupted, longer, older attempt
    final = sshd_server.drop_dir / "dlv-9.p7m"

    sizes_seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with contextlib.suppress(FileNotFoundError):
                sizes_seen.add(final.stat().st_size)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        receipt = transport.send(_message(sshd_server.channel(), "dlv-9", content))
    finally:
        done.set()
        watcher.join()

    assert not receipt.already_delivered
    assert final.read_bytes() == content
    assert not part.exists()
    assert sizes_seen <= {len(content)}


def test_server_down_is_transient_and_next_send_reconnects(
    sshd_server: SshServer, transport: SftpTransport
) -> None:
    channel = sshd_server.channel()
    transport.send(_message(channel, "dlv-1"))

    sshd_server.stop()
    with pytest.raises(TransientDeliveryError):
        transport.send(_message(channel, "dlv-2"))

    sshd_server.start()
    receipt = transport.send(_message(channel, "dlv-3"))

    assert not receipt.already_delivered
    names = sorted(p.name for p in sshd_server.drop_dir.iterdir())
    assert names == ["dlv-1.p7m", "dlv-3.p7m"]
    assert sshd_server.accepted_logins() == 2


def test_connection_dropped_while_idle_is_replaced_transparently(
    sshd_server: SshServer, transport: SftpTransport
) -> None:
    channel = sshd_server.channel()
    transport.send(_message(channel, "dlv-1"))

    sshd_server.restart()  # kills the open session; the pool still holds it
    receipt = transport.send(_message(channel, "dlv-2"))

    assert receipt.reference.endswith("dlv-2.p7m")
    assert (sshd_server.drop_dir / "dlv-2.p7m").exists()
    assert transport.connections_opened == 2


def test_missing_remote_folder_is_permanent(
    sshd_server: SshServer, transport: SftpTransport
) -> None:
    channel = sshd_server.channel(remote_dir=sshd_server.workdir / "no-such-folder")

    with pytest.raises(PermanentDeliveryError):
        transport.send(_message(channel, "dlv-1"))


def test_key_the_server_does_not_know_is_refused_permanently(
    sshd_server: SshServer, transport: SftpTransport, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger_key"
    write_ed25519_key(stranger, "stranger")

    with pytest.raises(PermanentDeliveryError, match="authentication"):
        transport.send(_message(sshd_server.channel(private_key=str(stranger)), "dlv-1"))

    assert list(sshd_server.drop_dir.iterdir()) == []


def test_nothing_listening_is_transient(sshd_server: SshServer, transport: SftpTransport) -> None:
    channel = sshd_server.channel()
    sshd_server.stop()

    with pytest.raises(TransientDeliveryError):
        transport.send(_message(channel, "dlv-1"))


def test_server_that_never_greets_times_out_as_transient(
    sshd_server: SshServer, transport: SftpTransport
) -> None:
    with socket.socket() as silent:  # accepts TCP (backlog) but never speaks SSH
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        channel = sshd_server.channel(connect_timeout="0.5")
        channel = dataclasses.replace(
            channel, address=channel.address.replace(f":{sshd_server.port}/", f":{port}/")
        )

        started = time.monotonic()
        with pytest.raises(TransientDeliveryError):
            transport.send(_message(channel, "dlv-1"))

    assert time.monotonic() - started < 5


def test_connection_idle_too_long_is_replaced(sshd_server: SshServer) -> None:
    transport = SftpTransport(max_idle=0.0)
    channel = sshd_server.channel()
    try:
        transport.send(_message(channel, "dlv-1"))
        transport.send(_message(channel, "dlv-2"))
    finally:
        transport.close()

    assert transport.connections_opened == 2
    assert sshd_server.accepted_logins() == 2
