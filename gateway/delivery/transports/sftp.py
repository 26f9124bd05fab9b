"""SFTP transport: upload each copy to a council drop folder, atomically and idempotently.

- Key authentication with the gateway's private key file; the server's host key is pinned
  (a known_hosts-style line or file in the channel). An unknown or changed host key is a
  permanent failure: a person must check it, we never trust on first use.
- The copy is written as `<filename>.part` and renamed to `<filename>` only when complete, so
  the receiving system never sees a half-written file. The name is the delivery id, so a file
  already present under the final name means an earlier attempt got there: nothing is re-sent.
- One SSH connection per endpoint is kept open and reused; a dead one is replaced on the
  next send without the caller noticing.

Channel: kind='sftp', address='sftp://user@host:port/remote/dir', options
('private_key', path), one of ('host_key', 'ssh-ed25519 AAAA...') or ('known_hosts', path),
and optionally ('connect_timeout', seconds), ('timeout', seconds).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import io
import posixpath
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import paramiko

from gateway.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from gateway.delivery.transports.base import OutboundMessage, TransportReceipt
from gateway.domain.routing import Channel

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_TIMEOUT = 30.0
KEEPALIVE_SECONDS = 30
DEFAULT_MAX_IDLE = 300.0

T = TypeVar("T")
# Host key algorithm names as they appear in known_hosts lines (not host names like "ssh-gw").
_KEY_TYPE = re.compile(
    r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9-]+@openssh\.com)$"
)


@dataclass(frozen=True)
class SftpEndpoint:
    """Everything needed to open one SFTP connection; equal endpoints share a connection."""

    user: str
    host: str
    port: int
    remote_dir: str
    private_key: str
    host_key: str | None = None  # "ssh-ed25519 AAAA..." (optionally preceded by host names)
    known_hosts: str | None = None  # path to a known_hosts file
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    timeout: float = DEFAULT_TIMEOUT

    @property
    def pool_key(self) -> tuple[str, str, int, str, str | None, str | None]:
        """Return what identifies one SSH connection (the directory is not part of it)."""
        return (self.user, self.host, self.port, self.private_key, self.host_key, self.known_hosts)


def parse_channel(channel: Channel) -> SftpEndpoint:
    """Read an SFTP endpoint from a channel; raise PermanentDeliveryError if it is misconfigured."""
    if channel.kind != "sftp":
        raise PermanentDeliveryError(f"not an sftp channel: {channel.kind}")
    url = urlsplit(channel.address)
    if url.scheme != "sftp" or not url.hostname or not url.username:
        raise PermanentDeliveryError(f"sftp address must be sftp://user@host[:port]/dir: {url!r}")
    options = dict(channel.options)
    private_key = options.get("private_key")
    if not private_key:
        raise PermanentDeliveryError("sftp channel has no ('private_key', path) option")
    if not options.get("host_key") and not options.get("known_hosts"):
        raise PermanentDeliveryError("sftp channel pins no host key ('host_key' or 'known_hosts')")
    try:
        port = url.port or 22
        connect_timeout = float(options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
    except ValueError as exc:
        raise PermanentDeliveryError(f"bad sftp channel setting: {exc}") from exc
    return SftpEndpoint(
        user=unquote(url.username),
        host=url.hostname,
        port=port,
        remote_dir=unquote(url.path) or ".",
        private_key=private_key,
        host_key=options.get("host_key"),
        known_hosts=options.get("known_hosts"),
        connect_timeout=connect_timeout,
        timeout=timeout,
    )


class _UnknownHostKeyError(paramiko.SSHException):
    """The server offered a host key that is not pinned for it."""


class _RejectUnknown(paramiko.MissingHostKeyPolicy):
    """Refuse any server whose key is not pinned: no trust on first use."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        """Raise: the server's host key is not in the pinned set."""
        raise _UnknownHostKeyError(
            f"host key {key.get_name()} {key.fingerprint} of {hostname} is not pinned"
        )


def _pin_host_keys(endpoint: SftpEndpoint, keys: paramiko.HostKeys) -> None:
    """Add to `keys` the host keys the server must present, from the channel's options."""
    if endpoint.known_hosts:
        try:
            keys.load(endpoint.known_hosts)
        except OSError as exc:
            raise PermanentDeliveryError(f"cannot read known_hosts file: {exc}") from exc
    if endpoint.host_key:
        key_type, key = _parse_host_key(endpoint.host_key)
        # paramiko looks a server up as "host" on port 22 and "[host]:port" otherwise.
        names = [endpoint.host] if endpoint.port == 22 else [f"[{endpoint.host}]:{endpoint.port}"]
        for name in names:
            keys.add(name, key_type, key)


def _parse_host_key(line: str) -> tuple[str, paramiko.PKey]:
    """Parse 'type base64 [comment]', optionally preceded by host names, into a paramiko key."""
    fields = line.split()
    for i, field in enumerate(fields[:-1]):
        if _KEY_TYPE.match(field):
            try:
                blob = base64.b64decode(fields[i + 1], validate=True)
                return field, paramiko.PKey.from_type_string(field, blob)
            except (binascii.Error, ValueError, paramiko.SSHException) as exc:
                raise PermanentDeliveryError(f"bad pinned host key: {exc}") from exc
    raise PermanentDeliveryError("bad pinned host key: expected 'ssh-<type> <base64>'")


def _load_private_key(path: str) -> paramiko.PKey:
    """Load the gateway's client key (any type paramiko reads); missing or bad is permanent."""
    try:
        return paramiko.PKey.from_path(path)
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise PermanentDeliveryError(f"cannot load sftp private key {path}: {exc}") from exc


class _Connection:
    """One open SSH connection with its SFTP session."""

    def __init__(self, client: paramiko.SSHClient, sftp: paramiko.SFTPClient):
        self.client = client
        self.sftp = sftp
        self.last_used = time.monotonic()

    def is_alive(self) -> bool:
        """Return whether the SSH transport still looks usable (a cheap, local check)."""
        transport = self.client.get_transport()
        return transport is not None and transport.is_active()

    def close(self) -> None:
        """Close the session and the connection, ignoring errors on an already-dead link."""
        for closer in (self.sftp.close, self.client.close):
            # Closing a dead link may raise; there is nothing left to report.
            with contextlib.suppress(Exception):
                closer()


def _connect(endpoint: SftpEndpoint) -> _Connection:
    """Open an authenticated SFTP session to `endpoint`, checking its pinned host key."""
    pkey = _load_private_key(endpoint.private_key)
    client = paramiko.SSHClient()
    _pin_host_keys(endpoint, client.get_host_keys())
    client.set_missing_host_key_policy(_RejectUnknown())
    try:
        with _translated():
            client.connect(
                endpoint.host,
                port=endpoint.port,
                username=endpoint.user,
                pkey=pkey,
                timeout=endpoint.connect_timeout,
                banner_timeout=endpoint.connect_timeout,
                auth_timeout=endpoint.connect_timeout,
                channel_timeout=endpoint.connect_timeout,
                allow_agent=False,
                look_for_keys=False,
            )
            sftp = client.open_sftp()
            transport = client.get_transport()
            if transport is not None:
                # Keeps NAT and firewall state alive while the connection waits in the pool.
                transport.set_keepalive(KEEPALIVE_SECONDS)
            sftp.get_channel().settimeout(endpoint.timeout)  # type: ignore[union-attr]
    except BaseException:
        client.close()
        raise
    return _Connection(client, sftp)


@contextmanager
def _translated() -> Iterator[None]:
    """Turn paramiko, socket and SFTP errors into transient or permanent delivery errors."""
    try:
        yield
    except (PermanentDeliveryError, TransientDeliveryError):
        raise
    except (_UnknownHostKeyError, paramiko.BadHostKeyException) as exc:
        raise PermanentDeliveryError(f"sftp host key not trusted: {exc}") from exc
    except paramiko.AuthenticationException as exc:
        raise PermanentDeliveryError(f"sftp authentication refused: {exc}") from exc
    except paramiko.SFTPError as exc:
        raise TransientDeliveryError(f"sftp protocol error: {exc}") from exc
    except paramiko.SSHException as exc:
        raise TransientDeliveryError(f"ssh error: {exc}") from exc
    except TimeoutError as exc:
        raise TransientDeliveryError(f"sftp timed out: {exc}") from exc
    except EOFError as exc:
        raise TransientDeliveryError("sftp connection closed by the server") from exc
    except OSError as exc:
        # SFTP status codes arrive as OSError with an errno; a missing folder or a refused
        # permission is configuration a person must fix, anything else may pass.
        if exc.errno in (errno.ENOENT, errno.EACCES, errno.EPERM) and not isinstance(
            exc, ConnectionError
        ):
            raise PermanentDeliveryError(f"sftp refused: {exc}") from exc
        raise TransientDeliveryError(f"sftp connection failed: {exc}") from exc


class SftpTransport:
    """Deliver copies to SFTP drop folders, reusing one connection per endpoint."""

    kind = "sftp"

    def __init__(
        self,
        connect: Callable[[SftpEndpoint], _Connection] = _connect,
        max_idle: float = DEFAULT_MAX_IDLE,
    ):
        """Create an empty pool; connections idle over `max_idle` seconds are replaced."""
        self._connect = connect
        self.max_idle = max_idle
        self._pool: dict[tuple[object, ...], _Connection] = {}
        self._locks: dict[tuple[object, ...], threading.Lock] = {}
        self._pool_lock = threading.Lock()
        self.connections_opened = 0

    def send(self, message: OutboundMessage) -> TransportReceipt:
        """Upload `message` as `<remote dir>/<filename>` via a `.part` file and a rename."""
        endpoint = parse_channel(message.channel)
        final = posixpath.join(endpoint.remote_dir, message.filename)
        with self._lock_for(endpoint):
            return self._with_connection(endpoint, lambda c: _upload(c.sftp, final, message))

    def close(self) -> None:
        """Close every pooled connection."""
        with self._pool_lock:
            connections = list(self._pool.values())
            self._pool.clear()
        for connection in connections:
            connection.close()

    def _lock_for(self, endpoint: SftpEndpoint) -> threading.Lock:
        """Return the lock that serialises use of `endpoint`'s connection."""
        with self._pool_lock:
            return self._locks.setdefault(endpoint.pool_key, threading.Lock())

    def _with_connection(self, endpoint: SftpEndpoint, work: Callable[[_Connection], T]) -> T:
        """Run `work` on the pooled connection; if a reused one turns out dead, retry once fresh."""
        key = endpoint.pool_key
        connection = self._pool.get(key)
        if connection is not None and (
            not connection.is_alive() or time.monotonic() - connection.last_used > self.max_idle
        ):
            self._discard(key, connection)
            connection = None
        reused = connection is not None
        if connection is None:
            connection = self._open(endpoint)
        try:
            with _translated():
                return self._run(work, connection)
        except TransientDeliveryError:
            self._discard(key, connection)
            if not reused:
                raise
        # The link went stale while idle (server restarted, NAT dropped it): the work is
        # idempotent (.part, rename, already-delivered check), so one retry is safe.
        connection = self._open(endpoint)
        try:
            with _translated():
                return self._run(work, connection)
        except TransientDeliveryError:
            self._discard(key, connection)
            raise

    @staticmethod
    def _run(work: Callable[[_Connection], T], connection: _Connection) -> T:
        """Run `work` on `connection` and note when the connection was last used."""
        try:
            return work(connection)
        finally:
            connection.last_used = time.monotonic()

    def _open(self, endpoint: SftpEndpoint) -> _Connection:
        """Open a new connection to `endpoint` and put it in the pool."""
        connection = self._connect(endpoint)
        self.connections_opened += 1
        with self._pool_lock:
            self._pool[endpoint.pool_key] = connection
        return connection

    def _discard(self, key: tuple[object, ...], connection: _Connection) -> None:
        """Drop a failed connection from the pool and close it."""
        with self._pool_lock:
            if self._pool.get(key) is connection:
                del self._pool[key]
        connection.close()


def _upload(sftp: paramiko.SFTPClient, final: str, message: OutboundMessage) -> TransportReceipt:
    """Write `message` to `final` through `final.part`, unless `final` is already there."""
    existing = _stat_or_none(sftp, final)
    if existing is not None:
        if existing.st_mode is not None and not stat.S_ISREG(existing.st_mode):
            raise PermanentDeliveryError(f"{final} exists on the server and is not a file")
        return TransportReceipt(
            reference=final,
            already_delivered=True,
            detail=f"{final} already present ({existing.st_size} bytes); not re-sent",
        )
    part = final + ".part"
    # "wb" truncates any .part left by an interrupted attempt; confirm=True stats the size.
    sftp.putfo(io.BytesIO(message.content), part, file_size=len(message.content), confirm=True)
    try:
        sftp.posix_rename(part, final)
    except OSError as exc:
        if exc.errno is not None and exc.errno != errno.EOPNOTSUPP:
            raise
        # Servers without the posix-rename extension: plain SFTP rename, which refuses to
        # overwrite; `final` was absent a moment ago and only this delivery uses the name.
        sftp.rename(part, final)
    return TransportReceipt(reference=final, detail=f"uploaded {len(message.content)} bytes")


def _stat_or_none(sftp: paramiko.SFTPClient, path: str) -> paramiko.SFTPAttributes | None:
    """Return the attributes of `path`, or None if it does not exist."""
    try:
        return sftp.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
