"""Fixtures that start real servers on loopback: OpenSSH sshd and an SMTP server with STARTTLS."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.smtpd import SmtpServer
from tests.support.sshd import SshServer, find_sshd


def _need(what: str, why: str) -> None:
    """Skip when a server is not installed, or fail when GATEWAY_REQUIRE_SERVERS=1 (CI)."""
    message = f"{what} is not available on this machine: {why}"
    if os.environ.get("GATEWAY_REQUIRE_SERVERS") == "1":
        pytest.fail(message + " (GATEWAY_REQUIRE_SERVERS=1)")
    pytest.skip(message)


@pytest.fixture
def sshd_server(tmp_path: Path) -> Iterator[SshServer]:
    """Yield a running OpenSSH sshd on 127.0.0.1 that accepts the generated client key."""
    try:
        find_sshd()
    except RuntimeError as exc:
        _need("OpenSSH sshd", str(exc))
    server = SshServer(tmp_path / "sshd")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server_factory(tmp_path: Path) -> Iterator[Callable[..., SmtpServer]]:
    """Yield a function that starts an SMTP server variant; all are stopped afterwards."""
    servers: list[SmtpServer] = []

    def start(**variant: Any) -> SmtpServer:
        server = SmtpServer(tmp_path / f"smtp{len(servers)}", **variant)
        servers.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpServer]) -> SmtpServer:
    """Return a running SMTP server on 127.0.0.1 that requires STARTTLS and keeps its mails."""
    return smtp_server_factory()
