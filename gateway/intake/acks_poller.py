"""Pick up what councils' case systems leave in their `acks/` folder: receipts and RHI exports.

An authority's acks folder sits beside its drop folders: for drop folders
`sftp://user@host/in/front_door` (or the embedded profile's `drop/kent/front_door`) it is
`/in/acks` (`drop/kent/acks`), reached with the same SFTP key and pinned host key as the
deliveries. In it, a file whose name contains `rhi` (any case: `rhi-0417.xml`,
`0417.rhi.json`) is an RHI export; any other file is an acknowledgement. Both are in the
authority's own case-system format (directory `case_system`).

Each settled file is kept and applied by `ReceiptsService` (channel "sftp", or "folder" for a
local folder, the path as source name), then a reply `replies/<name>.receipt.json` is written
and the file moved to `processed/` or `rejected/` (malformed files, kept with reasons in the
quarantine). Partial uploads (`.part`, `.tmp`, hidden files) are never taken, and on SFTP a
file whose size or time changes during a short settling wait is left for the next poll. The
lock, partial-name rules, SFTP connection, host-key pinning and error translation are those
of the force outbox poller (`gateway.intake.sftp_poller`) and the SFTP transport.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import posixpath
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import paramiko
from sqlalchemy import select

from gateway.delivery.errors import PermanentDeliveryError, TransientDeliveryError
from gateway.delivery.transports.sftp import (
    SftpEndpoint,
    _connect,
    _Connection,
    _stat_or_none,
    _translated,
    parse_channel,
)
from gateway.domain.enums import InboundStatus
from gateway.domain.routing import Channel, CoordinatorItem
from gateway.intake.sftp_poller import REPLY_SUFFIX, force_lock, is_partial
from gateway.receipts_service import Ingested, ReceiptsService
from gateway.services import Services
from gateway.store.models import CoordinatorItemRow, InboundMessage
from routing.directory import FRONT_DOOR

log = logging.getLogger(__name__)

ACKS = "acks"
PROCESSED, REJECTED, REPLIES = "processed", "rejected", "replies"
PULL_FAILED = "acks_pull_failed"
FILE_FAILED = "acks_file_failed"
DEFAULT_SETTLE_SECONDS = 2.0
DEFAULT_MAX_FILES = 200


@dataclass(frozen=True)
class AcksSource:
    """One authority's acks folder: a local folder, or a folder on its SFTP server."""

    authority: str
    kind: str  # "folder" | "sftp"
    folder: str  # local path, or remote path on the SFTP server
    channel: Channel | None = None  # the SFTP channel whose key and host key are used

    @property
    def endpoint(self) -> SftpEndpoint:
        """Return the SFTP endpoint (PermanentDeliveryError if the channel is unusable)."""
        if self.channel is None:
            raise PermanentDeliveryError(f"{self.authority}: no sftp channel for acks")
        return parse_channel(self.channel)


def acks_source(services: Services, authority_id: str) -> AcksSource | None:
    """Return the acks folder beside an authority's drop folders (front door's first)."""
    authority = services.directory.authority(authority_id)
    if authority is None:
        return None
    teams = sorted(authority.teams.items(), key=lambda pair: (pair[0] != FRONT_DOOR, pair[0]))
    for _, channel in teams:
        if channel.kind == "folder":
            parent = posixpath.dirname(channel.address.rstrip("/"))
            folder = services.settings.drop_root / parent / ACKS
            return AcksSource(authority.id, "folder", str(folder))
        if channel.kind == "sftp":
            try:
                remote = parse_channel(channel).remote_dir.rstrip("/")
            except PermanentDeliveryError:
                continue
            return AcksSource(authority.id, "sftp",
                              posixpath.join(posixpath.dirname(remote) or "/", ACKS), channel)
    return None


def acks_sources(services: Services) -> list[AcksSource]:
    """Return every authority's acks folder: SFTP ones, and local ones that exist."""
    found = []
    for authority_id in sorted(services.directory.authorities):
        source = acks_source(services, authority_id)
        if source is None:
            continue
        if source.kind == "folder" and not Path(source.folder).is_dir():
            continue  # a council that never answers through a folder has none
        found.append(source)
    return found


def folder_sources(services: Services) -> list[AcksSource]:
    """Return the local acks folders that exist (the embedded profile and tests)."""
    return [s for s in acks_sources(services) if s.kind == "folder"]


def is_rhi_export(name: str) -> bool:
    """Say whether a file in an acks folder is an RHI export (else an acknowledgement)."""
    return "rhi" in name.lower()


# -- reports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FiledAck:
    """One file taken from an acks folder: what it was, what became of it, where it went."""

    path: str
    kind: str  # "receipt" | "rhi"
    receipt_id: str | None
    status: str
    moved_to: str
    reply_path: str


@dataclass
class AcksReport:
    """What one poll of one authority's acks folder did."""

    authority: str
    filed: list[FiledAck] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: str | None = None
    busy: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly summary (CLI output, task result)."""
        return {"authority": self.authority, "error": self.error, "busy": self.busy,
                "skipped": self.skipped, "failed": self.failed,
                "filed": [f.__dict__ for f in self.filed]}


# -- the two kinds of folder ----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A regular file in an acks folder as listed."""

    name: str
    path: str
    size: int
    mtime: float


class Files(Protocol):
    """The few file operations the poller needs, on a local folder or over SFTP."""

    def entries(self, folder: str) -> list[Entry]: ...
    def size_and_time(self, path: str) -> tuple[int, float] | None: ...
    def read(self, path: str, limit: int) -> bytes: ...
    def write(self, path: str, data: bytes) -> None: ...
    def exists(self, path: str) -> bool: ...
    def ensure_dir(self, path: str) -> None: ...
    def rename(self, source: str, target: str) -> None: ...


class LocalFiles:
    """Files in a local folder (the embedded profile's drop folders)."""

    def entries(self, folder: str) -> list[Entry]:
        """List the regular files of `folder`."""
        found = []
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False):
                info = entry.stat(follow_symlinks=False)
                found.append(Entry(entry.name, entry.path, info.st_size, info.st_mtime))
        return found

    def size_and_time(self, path: str) -> tuple[int, float] | None:
        """Return size and modification time, or None if the file is gone."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return None
        return info.st_size, info.st_mtime

    def read(self, path: str, limit: int) -> bytes:
        """Read up to `limit` + 1 bytes."""
        with open(path, "rb") as handle:
            return handle.read(limit + 1)

    def write(self, path: str, data: bytes) -> None:
        """Write through a .part file and a rename, so nobody reads half a reply."""
        part = path + ".part"
        Path(part).write_bytes(data)
        os.replace(part, path)

    def exists(self, path: str) -> bool:
        """Say whether `path` exists."""
        return os.path.lexists(path)

    def ensure_dir(self, path: str) -> None:
        """Create a folder if missing."""
        os.makedirs(path, exist_ok=True)

    def rename(self, source: str, target: str) -> None:
        """Move a file."""
        os.rename(source, target)


class SftpFiles:
    """Files on a council's SFTP server, through one open session."""

    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self.sftp = sftp

    def entries(self, folder: str) -> list[Entry]:
        """List the regular files of `folder`."""
        return [Entry(a.filename, posixpath.join(folder, a.filename), a.st_size or 0,
                      float(a.st_mtime or 0)) for a in self.sftp.listdir_attr(folder)
                if a.st_mode is not None and stat.S_ISREG(a.st_mode)]

    def size_and_time(self, path: str) -> tuple[int, float] | None:
        """Return size and modification time, or None if the file is gone."""
        found = _stat_or_none(self.sftp, path)
        return None if found is None else (found.st_size or 0, float(found.st_mtime or 0))

    def read(self, path: str, limit: int) -> bytes:
        """Read up to `limit` + 1 bytes."""
        with self.sftp.open(path, "rb") as handle:
            return bytes(handle.read(limit + 1))

    def write(self, path: str, data: bytes) -> None:
        """Write through a .part file and a rename."""
        part = path + ".part"
        with self.sftp.open(part, "wb") as handle:
            handle.write(data)
        if _stat_or_none(self.sftp, path) is not None:
            self.sftp.remove(path)
        self.sftp.rename(part, path)

    def exists(self, path: str) -> bool:
        """Say whether `path` exists."""
        return _stat_or_none(self.sftp, path) is not None

    def ensure_dir(self, path: str) -> None:
        """Create a folder if missing."""
        if _stat_or_none(self.sftp, path) is None:
            try:
                self.sftp.mkdir(path)
            except OSError:
                if _stat_or_none(self.sftp, path) is None:  # not a race with another poller
                    raise

    def rename(self, source: str, target: str) -> None:
        """Move a file."""
        self.sftp.rename(source, target)


# -- the poller -----------------------------------------------------------------------------


class AcksPoller:
    """Polls authorities' acks folders and feeds each settled file to ReceiptsService."""

    def __init__(self, services: Services,
                 connect: Callable[[SftpEndpoint], _Connection] = _connect,
                 sleep: Callable[[float], None] = time.sleep,
                 settle_seconds: float = DEFAULT_SETTLE_SECONDS,
                 max_files: int = DEFAULT_MAX_FILES) -> None:
        self.services = services
        self.receipts = ReceiptsService(services)
        self._connect = connect
        self._sleep = sleep
        self.settle_seconds = settle_seconds
        self.max_files = max_files

    def poll_all(self, sources: Iterable[AcksSource]) -> list[AcksReport]:
        """Poll each authority in turn; one outage does not stop the others."""
        return [self.poll(source) for source in sources]

    def poll(self, source: AcksSource) -> AcksReport:
        """Take every settled file from one acks folder; never raise for SFTP trouble."""
        with force_lock(self.services, f"acks:{source.authority}") as acquired:
            if not acquired:
                return AcksReport(source.authority, busy=True)
            report = AcksReport(source.authority)
            try:
                with self._files(source) as files:
                    self._poll_with(files, source, report)
            except (PermanentDeliveryError, TransientDeliveryError, OSError) as exc:
                report.error = str(exc)
                log.warning("acks pull for %s failed: %s", source.authority, exc)
                self._tell_coordinator(source, PULL_FAILED, f"cannot pull receipts from "
                                       f"{source.authority}'s acks folder ({source.folder}): "
                                       f"{exc}")
            return report

    @contextlib.contextmanager
    def _files(self, source: AcksSource) -> Iterator[Files]:
        """Open the folder: locally, or an SFTP session (errors translated)."""
        if source.kind == "folder":
            yield LocalFiles()
            return
        connection = self._connect(source.endpoint)
        try:
            with _translated():
                yield SftpFiles(connection.sftp)
        finally:
            connection.close()

    def _poll_with(self, files: Files, source: AcksSource, report: AcksReport) -> None:
        """List, let the files settle, then take each one oldest first."""
        entries = []
        for entry in files.entries(source.folder):
            if is_partial(entry.name):
                report.skipped.append(entry.name)
            else:
                entries.append(entry)
        entries.sort(key=lambda e: (e.mtime, e.name))
        if source.kind == "sftp" and entries and self.settle_seconds > 0:
            self._sleep(self.settle_seconds)
            settled = []
            for entry in entries:
                if files.size_and_time(entry.path) == (entry.size, entry.mtime):
                    settled.append(entry)
                else:
                    report.skipped.append(entry.name)
            entries = settled
        if not entries:
            return
        for name in (PROCESSED, REJECTED, REPLIES):
            files.ensure_dir(posixpath.join(source.folder, name))
        for entry in entries[: self.max_files]:
            try:
                report.filed.append(self._take(files, source, entry))
            except (paramiko.SSHException, EOFError, ConnectionError, TimeoutError):
                raise  # the link is gone: end this poll, the next one resumes
            except Exception as exc:
                # One bad file must not block the ones behind it; it stays and is retried.
                log.exception("acks pull of %s failed", entry.path)
                report.failed.append(f"{entry.name}: {exc}")
                self._tell_coordinator(source, FILE_FAILED, f"{source.authority}: {entry.name} "
                                       f"could not be taken ({exc}); it stays in the acks "
                                       "folder and is retried on every poll")

    def _take(self, files: Files, source: AcksSource, entry: Entry) -> FiledAck:
        """Ingest one file, reply, then move it into processed/ or rejected/."""
        kind = "rhi" if is_rhi_export(entry.name) else "receipt"
        limit = self.services.settings.max_body_bytes
        raw = files.read(entry.path, limit)
        if len(raw) > limit:
            raise ValueError(f"is over the {limit}-byte limit; left unread for a person")
        result = self._ingest(source, entry, kind, raw)
        reply = {**result.as_dict(), "file": entry.name, "kind": kind}
        reply_path = posixpath.join(source.folder, REPLIES, entry.name + REPLY_SUFFIX)
        files.write(reply_path, json.dumps(reply, indent=2, sort_keys=True,
                                           default=str).encode("utf-8"))
        rejected = result.status is InboundStatus.QUARANTINED
        target = posixpath.join(source.folder, REJECTED if rejected else PROCESSED, entry.name)
        if files.exists(target):
            target = f"{target}.{result.inbound_id}"  # a re-used name: keep both
        files.rename(entry.path, target)
        return FiledAck(entry.path, kind, result.inbound_id, result.status.value, target,
                        reply_path)

    def _ingest(self, source: AcksSource, entry: Entry, kind: str, raw: bytes) -> Ingested:
        """Ingest the bytes, or finish what an interrupted poll already stored for them."""
        digest = hashlib.sha256(raw).hexdigest()
        with self.services.db.read() as session:
            stored = session.execute(select(InboundMessage.id).where(
                InboundMessage.sender == source.authority,
                InboundMessage.source_name == entry.path, InboundMessage.sha256 == digest,
            ).order_by(InboundMessage.received_at).limit(1)).scalar_one_or_none()
        if stored is not None:
            return self.receipts.apply_stored(stored)
        channel = "sftp" if source.kind == "sftp" else "folder"
        ingest = self.receipts.ingest_rhi if kind == "rhi" else self.receipts.ingest_receipt
        return ingest(source.authority, raw, channel=channel, source_name=entry.path)

    def _tell_coordinator(self, source: AcksSource, kind: str, message: str) -> None:
        """Raise a coordinator item, unless one of this kind is still open for the authority."""
        now = self.services.clock()
        with self.services.db.unit_of_work() as session:
            open_item = session.execute(select(CoordinatorItemRow.id).where(
                CoordinatorItemRow.kind == kind,
                CoordinatorItemRow.authority == source.authority,
                CoordinatorItemRow.resolved_at.is_(None)).limit(1)).scalar_one_or_none()
            if open_item is None:
                self.services.pipeline.raise_item(session, CoordinatorItem(
                    kind=kind, message=message, authority=source.authority), now)


def poll_acks(services: Services, authority: str | None = None) -> list[AcksReport]:
    """Poll every authority's acks folder (or one); the entry point of the task and the CLI."""
    sources = acks_sources(services)
    if authority is not None:
        sources = [s for s in sources if s.authority == authority]
    return AcksPoller(services).poll_all(sources)
