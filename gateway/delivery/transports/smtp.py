"""SMTP transport: send each S/MIME copy to a secure mailbox, over verified STARTTLS only.

- STARTTLS is required: a server that does not offer it gets nothing but QUIT (permanent
  failure). The server certificate is checked against the channel's CA file and host name.
- The mail is marked OFFICIAL-SENSITIVE in its subject and headers; the subject carries the
  delivery id and never anything about the child.
- `Message-ID` is `<delivery-id@gateway-host>`, so a resent copy is recognisably the same mail.
- The S/MIME entity in `message.content` becomes the mail itself: its Content-* headers are
  lifted to the top level and its body is sent byte for byte (line ends made CRLF).
- One SMTP session per server is kept open; NOOP checks it is still alive before reuse.

Replies map to the delivery error types: 4xx and lost connections are transient, 5xx and
certificate failures are permanent.

Channel: kind='smtp', address='mailbox@council.gov.uk', options ('host', name),
('port', n, default 25), ('ca_file', path), ('from', address), optionally ('username', name)
with ('password_file', path), and ('timeout', seconds).
"""

from __future__ import annotations

import base64
import email.policy
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from gateway.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from gateway.delivery.transports.base import OutboundMessage, TransportReceipt
from gateway.domain.routing import Channel

PROTECTIVE_MARKING = "OFFICIAL-SENSITIVE"
SUBJECT_TEMPLATE = "[" + PROTECTIVE_MARKING + "] Missing child notification {delivery_id}"
DEFAULT_PORT = 25
DEFAULT_TIMEOUT = 30.0

_POLICY = email.policy.SMTP
# dot-atom-text of RFC 5322: what may stand left of the "@" in a Message-ID unquoted.
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@dataclass(frozen=True)
class SmtpEndpoint:
    """One mail server and how to reach it; equal servers share a session."""

    host: str
    port: int
    ca_file: str
    from_addr: str
    username: str | None = None
    password_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def pool_key(self) -> tuple[str, int, str, str | None, str | None]:
        """Return what identifies one SMTP session (sender and recipient are per mail)."""
        return (self.host, self.port, self.ca_file, self.username, self.password_file)


def parse_channel(channel: Channel) -> SmtpEndpoint:
    """Read the mail server settings from a channel; raise PermanentDeliveryError if wrong."""
    if channel.kind != "smtp":
        raise PermanentDeliveryError(f"not an smtp channel: {channel.kind}")
    options = dict(channel.options)
    missing = [name for name in ("host", "ca_file", "from") if not options.get(name)]
    if missing:
        raise PermanentDeliveryError(f"smtp channel lacks option(s): {', '.join(missing)}")
    if "@" not in channel.address:
        raise PermanentDeliveryError(f"smtp address is not a mailbox: {channel.address!r}")
    if options.get("username") and not options.get("password_file"):
        raise PermanentDeliveryError("smtp channel has a username but no password_file")
    try:
        port = int(options.get("port", DEFAULT_PORT))
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
    except ValueError as exc:
        raise PermanentDeliveryError(f"bad smtp channel setting: {exc}") from exc
    return SmtpEndpoint(
        host=options["host"],
        port=port,
        ca_file=options["ca_file"],
        from_addr=options["from"],
        username=options.get("username") or None,
        password_file=options.get("password_file") or None,
        timeout=timeout,
    )


def message_id(delivery_id: str, gateway_host: str) -> str:
    """Return the Message-ID of a delivery: `<delivery-id@gateway-host>`."""
    if not _DOT_ATOM.match(delivery_id):
        raise PermanentDeliveryError(f"delivery id cannot form a Message-ID: {delivery_id!r}")
    return f"<{delivery_id}@{gateway_host}>"


def build_mail(
    message: OutboundMessage, *, from_addr: str, to_addr: str, gateway_host: str
) -> bytes:
    """Return the whole mail (CRLF line ends): marked headers, then the S/MIME entity."""
    headers = EmailMessage(policy=_POLICY)
    headers["From"] = from_addr
    headers["To"] = to_addr
    headers["Subject"] = SUBJECT_TEMPLATE.format(delivery_id=message.delivery_id)
    headers["Date"] = formatdate(usegmt=True)
    headers["Message-ID"] = message_id(message.delivery_id, gateway_host)
    headers["MIME-Version"] = "1.0"
    headers["X-Protective-Marking"] = PROTECTIVE_MARKING
    headers["X-Classification"] = PROTECTIVE_MARKING
    top = b"".join(_POLICY.fold_binary(name, value) for name, value in headers.items())
    content_headers, body = _split_entity(message)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return top + content_headers + b"\r\n" + body


def _split_entity(message: OutboundMessage) -> tuple[bytes, bytes]:
    """Split the S/MIME entity into its Content-* header lines and its body, both CRLF."""
    content = _crlf(message.content)
    head, sep, body = content.partition(b"\r\n\r\n")
    fields = _header_fields(head) if sep else []
    kept = [raw for name, raw in fields if name.lower().startswith(b"content-")]
    if sep and fields and any(name.lower() == b"content-type" for name, _ in fields):
        return b"".join(kept), body
    # Not a MIME entity (e.g. bare DER): carry the bytes as one base64 part of its media type.
    encoded = base64.encodebytes(message.content).replace(b"\n", b"\r\n")
    wrapper = (
        f'Content-Type: {message.media_type}; name="smime{message.suffix or ".p7m"}"\r\n'
        f'Content-Disposition: attachment; filename="smime{message.suffix or ".p7m"}"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
    ).encode("ascii")
    return wrapper, encoded


def _header_fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """Return (name, raw lines with folding kept) for each header field of a header block."""
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + line + b"\r\n")
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not name or b" " in name:
            return []  # not a header block
        fields.append((name.strip(), line + b"\r\n"))
    return fields


def _crlf(data: bytes) -> bytes:
    """Make every line end CRLF, as SMTP requires (smtplib sends bytes unchanged)."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def _reply_error(code: int, text: str) -> TransientDeliveryError | PermanentDeliveryError:
    """Map an SMTP reply code to the delivery error type it calls for."""
    if 400 <= code < 500:
        return TransientDeliveryError(f"smtp {code}: {text}")
    return PermanentDeliveryError(f"smtp {code}: {text}")


def _text(raw: bytes | str) -> str:
    """Return an SMTP reply text as str."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


@contextmanager
def _translated() -> Iterator[None]:
    """Turn smtplib, ssl and socket errors into transient or permanent delivery errors."""
    try:
        yield
    except (PermanentDeliveryError, TransientDeliveryError):
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
        raise _reply_error(code, _text(text)) from exc
    except smtplib.SMTPResponseException as exc:
        raise _reply_error(exc.smtp_code, _text(exc.smtp_error)) from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise TransientDeliveryError(f"smtp server disconnected: {exc}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentDeliveryError(f"smtp server lacks a needed extension: {exc}") from exc
    except ssl.SSLCertVerificationError as exc:
        raise PermanentDeliveryError(f"smtp server certificate not trusted: {exc}") from exc
    except ssl.SSLError as exc:
        raise TransientDeliveryError(f"smtp TLS failed: {exc}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        # Refused, reset, timed out, name not resolved: the far end may be back later.
        raise TransientDeliveryError(f"smtp connection failed: {exc}") from exc


class SmtpTransport:
    """Send S/MIME copies by mail over STARTTLS, keeping one session per server open."""

    kind = "smtp"

    def __init__(self, gateway_host: str | None = None):
        """Create an empty pool; `gateway_host` names this gateway in HELO and Message-IDs."""
        self.gateway_host = gateway_host or socket.getfqdn()
        self._pool: dict[tuple[object, ...], smtplib.SMTP] = {}
        self._locks: dict[tuple[object, ...], threading.Lock] = {}
        self._pool_lock = threading.Lock()
        self.connections_opened = 0

    def send(self, message: OutboundMessage) -> TransportReceipt:
        """Send `message` to the channel's mailbox; return its Message-ID as the reference."""
        endpoint = parse_channel(message.channel)
        mail = build_mail(
            message,
            from_addr=endpoint.from_addr,
            to_addr=message.channel.address,
            gateway_host=self.gateway_host,
        )
        with self._lock_for(endpoint):
            session = self._session(endpoint)
            try:
                with _translated():
                    session.sendmail(endpoint.from_addr, [message.channel.address], mail)
            except TransientDeliveryError as exc:
                if _session_unusable(exc):
                    self._discard(endpoint.pool_key)
                raise
        return TransportReceipt(
            reference=message_id(message.delivery_id, self.gateway_host),
            detail=f"accepted by {endpoint.host}:{endpoint.port} for {message.channel.address}",
        )

    def close(self) -> None:
        """QUIT every pooled session."""
        with self._pool_lock:
            sessions = list(self._pool.values())
            self._pool.clear()
        for session in sessions:
            _quit(session)

    def _lock_for(self, endpoint: SmtpEndpoint) -> threading.Lock:
        """Return the lock that serialises use of `endpoint`'s session."""
        with self._pool_lock:
            return self._locks.setdefault(endpoint.pool_key, threading.Lock())

    def _session(self, endpoint: SmtpEndpoint) -> smtplib.SMTP:
        """Return a live session to `endpoint`: the pooled one if NOOP says so, else a new one."""
        session = self._pool.get(endpoint.pool_key)
        if session is not None:
            try:
                code, _ = session.noop()
            except (OSError, smtplib.SMTPException):
                code = 0
            if code == 250:
                return session
            self._discard(endpoint.pool_key)
        session = self._connect(endpoint)
        with self._pool_lock:
            self._pool[endpoint.pool_key] = session
        return session

    def _connect(self, endpoint: SmtpEndpoint) -> smtplib.SMTP:
        """Open a session: EHLO, verified STARTTLS (required), EHLO again, AUTH if configured."""
        tls = _tls_context(endpoint.ca_file)
        password = _read_password(endpoint.password_file) if endpoint.username else None
        with _translated():
            # The host is given here, not to connect(): starttls() checks the certificate
            # against the name the session was created with.
            session = smtplib.SMTP(
                endpoint.host,
                endpoint.port,
                local_hostname=self.gateway_host,
                timeout=endpoint.timeout,
            )
        self.connections_opened += 1
        try:
            with _translated():
                session.ehlo()
                if not session.has_extn("starttls"):
                    raise PermanentDeliveryError(
                        f"{endpoint.host}:{endpoint.port} does not offer STARTTLS; "
                        "refusing to send in clear"
                    )
                session.starttls(context=tls)
                session.ehlo()
                if endpoint.username and password is not None:
                    session.login(endpoint.username, password)
        except BaseException:
            _quit(session)
            raise
        return session

    def _discard(self, key: tuple[object, ...]) -> None:
        """Drop and close the pooled session under `key`, if any."""
        with self._pool_lock:
            session = self._pool.pop(key, None)
        if session is not None:
            _quit(session)


def _session_unusable(exc: TransientDeliveryError) -> bool:
    """Return whether a failed send left the session unfit for another mail."""
    cause = exc.__cause__
    # A 4xx reply to one mail leaves the session usable (smtplib sent RSET), except 421,
    # which announces that the server is closing it.
    return not isinstance(cause, smtplib.SMTPResponseException) or cause.smtp_code == 421


def _tls_context(ca_file: str) -> ssl.SSLContext:
    """Return a client TLS context that trusts only `ca_file` and checks the host name."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise PermanentDeliveryError(f"cannot load smtp CA file {ca_file}: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _read_password(path: str | None) -> str:
    """Read the SMTP password from its file (first line, without the line end)."""
    if path is None:
        raise PermanentDeliveryError("smtp channel has a username but no password_file")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n")
    except OSError as exc:
        raise PermanentDeliveryError(f"cannot read smtp password file: {exc}") from exc


def _quit(session: smtplib.SMTP) -> None:
    """Say QUIT if the link still works, then close the socket whatever happens."""
    with suppress(OSError, smtplib.SMTPException):
        session.quit()
    with suppress(OSError):
        session.close()
