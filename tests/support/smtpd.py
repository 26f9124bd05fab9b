"""Run a real SMTP server (aiosmtpd) on loopback, with STARTTLS required, that keeps what it gets.

Variants for fault tests: answer the first N mails with a 4xx reply, offer no STARTTLS at all,
or require AUTH with a fixed user name and password.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from gateway.domain.routing import Channel
from tests.support.ports import free_port
from tests.support.tls import TlsFiles, make_tls_files

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMail:
    """One mail as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool  # whether it came over TLS


@dataclass
class RecordingHandler:
    """aiosmtpd handler that stores mails and can refuse the first few with a 4xx reply."""

    fail_first: int = 0
    fail_reply: str = "451 4.3.0 Mailbox temporarily unavailable, try again later"
    mails: list[ReceivedMail] = field(default_factory=list)
    mail_commands: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Count the MAIL command and accept the sender."""
        with self._lock:
            self.mail_commands += 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Store the mail, or refuse it while `fail_first` refusals remain."""
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return self.fail_reply
            content = envelope.original_content or b""
            self.mails.append(
                ReceivedMail(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=bytes(content),
                    tls=session.ssl is not None,
                )
            )
        return "250 2.0.0 Message accepted"


class _CountingController(Controller):
    """Controller that counts the SMTP connections it serves."""

    connections = 0

    def factory(self) -> SMTP:
        """Build the per-connection SMTP protocol, counting it."""
        self.connections += 1
        protocol: SMTP = super().factory()  # type: ignore[no-untyped-call]
        return protocol


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1; STARTTLS required unless `starttls=False`."""

    def __init__(
        self,
        workdir: Path,
        *,
        starttls: bool = True,
        fail_first: int = 0,
        credentials: tuple[str, str] | None = None,
        tls_files: TlsFiles | None = None,
    ):
        """Prepare certificates under `workdir`; nothing listens until `start()`."""
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.host = HOST
        self.port = free_port()
        self.starttls = starttls
        self.credentials = credentials
        self.tls = tls_files or make_tls_files(workdir / "tls")
        self.handler = RecordingHandler(fail_first=fail_first)
        self._controller: _CountingController | None = None

    @property
    def mails(self) -> list[ReceivedMail]:
        """Return the mails accepted so far."""
        return self.handler.mails

    @property
    def connections(self) -> int:
        """Return how many client connections the server has served since it started."""
        return self._controller.connections if self._controller else 0

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """Accept only the configured user name and password."""
        ok = (
            self.credentials is not None
            and isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == self.credentials
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        """Start serving; STARTTLS (and AUTH) as configured."""
        kwargs: dict[str, Any] = {}
        if self.starttls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.server_cert, self.tls.server_key)
            kwargs.update(tls_context=context, require_starttls=True)
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        controller = _CountingController(
            self.handler, hostname=self.host, port=self.port, ready_timeout=10, **kwargs
        )
        controller.start()
        controller.connections = 0  # the controller's own readiness probe is not a client
        self._controller = controller

    def stop(self) -> None:
        """Stop serving."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def channel(self, mailbox: str = "mcu@council.example.gov.uk", **options: str) -> Channel:
        """Return an smtp Channel for this server that trusts its CA."""
        merged = {
            "host": self.host,
            "port": str(self.port),
            "ca_file": str(self.tls.ca_cert),
            "from": "gateway@gateway.example.gov.uk",
            "timeout": "10",
            **options,
        }
        if self.credentials is not None and "username" not in options:
            password_file = self.workdir / "smtp-password"
            password_file.write_text(self.credentials[1] + "\n")
            merged.update(username=self.credentials[0], password_file=str(password_file))
        return Channel(kind="smtp", address=mailbox, options=tuple(sorted(merged.items())))

    def __enter__(self) -> SmtpServer:
        """Start the server for a with-block."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server at the end of a with-block."""
        self.stop()
