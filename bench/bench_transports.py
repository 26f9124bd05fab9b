"""Benchmark: deliveries per second over SFTP and SMTP, with connection reuse on and off.

Starts a real OpenSSH sshd and an aiosmtpd server with STARTTLS on 127.0.0.1 (tests/support),
sends a bounded number of copies through each transport and prints the figures.

    .venv/bin/python bench/bench_transports.py [--count 200] [--size 8192]
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script

from gateway.delivery.transports.base import OutboundMessage, Transport
from gateway.delivery.transports.sftp import SftpTransport
from gateway.delivery.transports.smtp import SmtpTransport
from gateway.domain.routing import Channel
from tests.support.smtpd import SmtpServer
from tests.support.sshd import SshServer

MAX_COUNT = 2000  # keep a run bounded whatever is asked


def smime_entity(size: int) -> bytes:
    """Return an S/MIME-shaped entity with `size` random bytes of body, base64 encoded."""
    body = base64.encodebytes(os.urandom(size)).replace(b"\n", b"\r\n")
    return (
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=smime.p7m\r\n\r\n" + body
    )


def run(
    transport: Transport, channel: Channel, content: bytes, count: int, reuse: bool, tag: str
) -> float:
    """Send `count` copies; close the connection after each one unless `reuse`; return per s."""
    start = time.perf_counter()
    for i in range(count):
        transport.send(OutboundMessage(f"{tag}-{i:05d}", channel, content, ".p7m"))
        if not reuse:
            transport.close()
    elapsed = time.perf_counter() - start
    transport.close()
    return count / elapsed


def report(name: str, measure: Callable[[bool], float], count: int) -> None:
    """Print deliveries per second with reuse on and off, and the ratio."""
    on = measure(True)
    off = measure(False)
    print(f"{name:5} reuse on : {on:8.1f} deliveries/s  ({count} deliveries)")
    print(f"{name:5} reuse off: {off:8.1f} deliveries/s  ({count} deliveries)")
    print(f"{name:5} speed-up from reuse: {on / off:5.1f}x")


def print_table(count: int, size: int) -> None:
    """Start the servers, send `count` copies of `size` bytes each way; print the figures."""
    count = max(1, min(count, MAX_COUNT))
    with tempfile.TemporaryDirectory(prefix="bench-transports-") as tmp:
        root = Path(tmp)
        with SshServer(root / "sshd") as sshd:
            sftp_content = os.urandom(size)

            def measure_sftp(reuse: bool) -> float:
                target = sshd.drop_dir / ("reuse" if reuse else "fresh")
                target.mkdir()
                return run(
                    SftpTransport(), sshd.channel(target), sftp_content, count, reuse, "sftp"
                )

            report("sftp", measure_sftp, count)
        with SmtpServer(root / "smtp") as smtpd:
            entity = smime_entity(size)

            def measure_smtp(reuse: bool) -> float:
                transport = SmtpTransport(gateway_host="bench.gateway.example")
                return run(transport, smtpd.channel(), entity, count, reuse, "smtp")

            report("smtp", measure_smtp, count)
            print(f"smtp  mails received: {len(smtpd.mails)}")


def main() -> None:
    """Start the servers, run both transports both ways, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200, help="deliveries per run (max 2000)")
    parser.add_argument("--size", type=int, default=8192, help="bytes of content per delivery")
    args = parser.parse_args()
    print_table(args.count, args.size)


if __name__ == "__main__":
    main()
