"""Benchmark the whole delivery path in one run: crypto cost, transport rate, outbox rate.

1. Sign+encrypt per message for each signing key type (RSA-3072, ECDSA P-256), beside the
   bare `cryptography` primitive floor (bench_crypto.py).
2. Deliveries per second to a local OpenSSH sshd and a local SMTP server with STARTTLS, with
   connection reuse on and off (bench_transports.py).
3. Deliveries per second through the outbox end to end (claim, render, sign, encrypt, send,
   record SENT with its audit entry) to the same two servers, connections reused.

Run: .venv/bin/python bench/bench_delivery.py [--rounds 50] [--count 200] [--size 8192]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO)]  # run as a plain script

import bench_crypto  # noqa: E402
import bench_transports  # noqa: E402
from sqlalchemy import select  # noqa: E402

from gateway.delivery.crypto.demo_pki import init_demo_pki  # noqa: E402
from gateway.domain.enums import RecipientRole  # noqa: E402
from gateway.domain.routing import Channel, Recipient  # noqa: E402
from gateway.services import Services  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.store.models import EventRow  # noqa: E402
from gateway.store.sealing import new_key_text  # noqa: E402
from tests.support.messages import compact  # noqa: E402
from tests.support.smtpd import SmtpServer  # noqa: E402
from tests.support.sshd import SshServer  # noqa: E402

FORCE = "warwickshire-police"
COUNCIL = "kent"


def outbox_services(root: Path) -> tuple[Services, str, str]:
    """Build embedded Services with a demo PKI; process one message; return its episode, event."""
    data = root / "data"
    init_demo_pki(data / "keys" / "pki", [COUNCIL], "ec")
    test_cache = REPO / "var" / "test-cache"  # the postcode index the tests already built
    cache = test_cache if test_cache.exists() else REPO / "var" / "cache"
    settings = load_settings({"GATEWAY_DATA_DIR": str(data), "GATEWAY_DATA_KEY": new_key_text(),
                              "GATEWAY_CACHE_DIR": str(cache)})
    queue: list[str] = []
    services = Services(settings, enqueue=queue.extend)
    services.prepare()
    receipt = services.pipeline.process(
        services.pipeline.receive("compact", compact("missing_reported_basic", force=FORCE),
                                  FORCE))
    assert receipt.episode_id is not None, receipt
    with services.db.read() as session:
        event_id = session.execute(select(EventRow.id).where(
            EventRow.episode_id == receipt.episode_id)).scalar_one()
    return services, receipt.episode_id, event_id


def outbox_rate(services: Services, episode_id: str, event_id: str, channel: Channel,
                count: int, tag: str) -> float:
    """Create `count` deliveries on `channel`, deliver each through the outbox; return per s."""
    ids = []
    with services.db.unit_of_work() as session:
        for n in range(count):
            recipient = Recipient(COUNCIL, f"{tag}-{n}", RecipientRole.ACTION, channel, "bench")
            ids.append(services.pipeline.create_delivery(session, episode_id, event_id,
                                                         recipient, services.clock()))
    services.outbox.deliver_one(ids[0])  # warm: connection, key and certificate caches
    start = time.perf_counter()
    statuses = [services.outbox.deliver_one(i) for i in ids[1:]]
    elapsed = time.perf_counter() - start
    assert set(statuses) == {"SENT"}, set(statuses)
    return (count - 1) / elapsed


def print_outbox(count: int) -> None:
    """Print deliveries per second through the outbox to sshd and to the SMTP server."""
    count = max(2, min(count, bench_transports.MAX_COUNT))
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        root = Path(tmp)
        services, episode_id, event_id = outbox_services(root)
        certificate = str(root / "data" / "keys" / "pki" / "parties" / f"{COUNCIL}-enc.pem")
        with SshServer(root / "sshd") as sshd, SmtpServer(root / "smtp") as smtpd:
            channels = {"sftp": replace(sshd.channel(), certificate=certificate),
                        "smtp": replace(smtpd.channel(), certificate=certificate)}
            for name, channel in channels.items():
                rate = outbox_rate(services, episode_id, event_id, channel, count, name)
                print(f"{name:5} outbox   : {rate:8.1f} deliveries/s  ({count} deliveries: "
                      f"claim, render, sign, encrypt, send, record)")
            for transport in services.outbox.transports.values():
                transport.close()


def main() -> None:
    """Print all three tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50, help="crypto rounds per figure")
    parser.add_argument("--count", type=int, default=200, help="deliveries per rate (max 2000)")
    parser.add_argument("--size", type=int, default=8192, help="bytes per transport copy")
    args = parser.parse_args()
    print("== 1. sign+encrypt per message, beside the primitive floor ==")
    bench_crypto.print_table(args.rounds)
    print()
    print(f"== 2. transports alone ({args.size}-byte copies), connection reuse on and off ==")
    bench_transports.print_table(args.count, args.size)
    print()
    print("== 3. through the outbox, end to end (reuse on; SQLite store) ==")
    print_outbox(args.count)


if __name__ == "__main__":
    main()
