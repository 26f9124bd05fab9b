"""SFTP pull: fetch police messages from a force's SFTP outbox, commit them, then file them away.

For each settled file in the force's outbox the poller

1. reads the bytes and commits them sealed (`Pipeline.receive`, channel "sftp", the remote
   path as source name), then processes the message;
2. writes `<replies>/<name>.receipt.json` (receipt id, status, field-level errors), through a
   `.part` file and a rename so the force never reads half a reply;
3. only then moves the file to `<processed>/` (accepted, held, duplicate, superseded) or
   `<rejected>/` (quarantined).

Crash safety: a file is looked up by (force, remote path, sha256) before it is received, so
a poll that died after the commit finds the stored message instead of storing a second copy;
if it had not yet been processed it is processed now. The same bytes under another name are
received again and become a DUPLICATE by their (force, reference, event, revision) key. In
every case the file still gets its reply and is moved. The reply is written before the move,
so a crash between the two re-sends the same reply rather than losing it.

Partial uploads are never taken: names ending in `.part`, `.tmp`, `.filepart` or starting
with `.` are skipped, and a file whose size or modification time changes during a short
settling wait is left for the next poll.

Connection, key authentication and host-key pinning are those of the SFTP delivery
transport (`gateway.delivery.transports.sftp`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import logging
import posixpath
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import paramiko
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import select, text

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
from gateway.pipeline import Receipt
from gateway.services import Services
from gateway.store import audit
from gateway.store.models import CoordinatorItemRow, InboundMessage

log = logging.getLogger(__name__)

PARTIAL_SUFFIXES = (".part", ".tmp", ".filepart", ".partial", ".crdownload")
REPLY_SUFFIX = ".receipt.json"
PULL_FAILED = "sftp_pull_failed"
FILE_FAILED = "sftp_file_failed"
SYSTEM = "gateway"
# Errors that mean the SSH link itself failed, as opposed to trouble with one file.
_LINK_ERRORS = (paramiko.SSHException, EOFError, ConnectionError, TimeoutError)
DEFAULT_SETTLE_SECONDS = 2.0
DEFAULT_MAX_FILES = 200
# Statuses whose file goes to rejected/; everything else was accepted in some form.
REJECTED_STATUSES = frozenset({InboundStatus.QUARANTINED})


class PullConfigError(ValueError):
    """A force's `pull:` section is unusable; the message names the key and the reason."""


@dataclass(frozen=True)
class PullConfig:
    """Where and how to pull one force's files (see `PullSchema` for the YAML form)."""

    force_id: str
    format: str
    channel: Channel  # kind "sftp"; address sftp://user@host:port/<outbox dir>
    processed: str = "processed"  # relative to the outbox dir, or absolute
    rejected: str = "rejected"
    replies: str = "replies"
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    max_files: int = DEFAULT_MAX_FILES

    @property
    def endpoint(self) -> SftpEndpoint:
        """Return the SFTP endpoint (raises PermanentDeliveryError if misconfigured)."""
        return parse_channel(self.channel)

    def folder(self, name: str) -> str:
        """Return the remote path of the processed, rejected or replies folder."""
        outbox = self.endpoint.remote_dir
        return name if name.startswith("/") else posixpath.join(outbox, name)


class PullChannelSchema(Schema):
    """The SFTP channel of a `pull:` section: address and key options."""

    class Meta:
        unknown = RAISE

    kind = fields.String(load_default="sftp", validate=validate.Equal("sftp"))
    address = fields.String(required=True, validate=validate.Regexp(
        r"^sftp://[^@/]+@[^/]+/.*$", error="must be sftp://user@host[:port]/outbox/dir"))
    options = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class PullSchema(Schema):
    """The optional `pull:` section of config/forces/<force>.yaml."""

    class Meta:
        unknown = RAISE

    format = fields.String(validate=validate.OneOf(["compact", "niche"]))
    channel = fields.Nested(PullChannelSchema, required=True)
    processed = fields.String(validate=validate.Length(min=1))
    rejected = fields.String(validate=validate.Length(min=1))
    replies = fields.String(validate=validate.Length(min=1))
    settle_seconds = fields.Float(validate=validate.Range(min=0, max=60))
    max_files = fields.Integer(validate=validate.Range(min=1))


def pull_config(force_id: str, default_format: str, data: Mapping[str, Any]) -> PullConfig:
    """Build a PullConfig from a force's `pull:` section; raise PullConfigError naming the key."""
    try:
        loaded: dict[str, Any] = PullSchema().load(dict(data))
    except ValidationError as exc:
        raise PullConfigError(f"pull: {_flatten(exc.messages)}") from exc
    channel_data = loaded["channel"]
    options = dict(channel_data["options"])
    channel = Channel(kind="sftp", address=channel_data["address"], encryption="none",
                      options=tuple(sorted(options.items())))
    try:
        parse_channel(channel)
    except PermanentDeliveryError as exc:
        raise PullConfigError(f"pull.channel: {exc}") from exc
    extra = {k: loaded[k] for k in ("processed", "rejected", "replies", "settle_seconds",
                                    "max_files") if k in loaded}
    return PullConfig(force_id=force_id, format=loaded.get("format", default_format),
                      channel=channel, **extra)


def _flatten(messages: Any, prefix: str = "") -> str:
    """Render marshmallow's nested error messages as `key: reason; ...`."""
    if isinstance(messages, Mapping):
        return "; ".join(_flatten(v, f"{prefix}{k}." if prefix or k else "")
                         for k, v in messages.items())
    if isinstance(messages, list):
        return "; ".join(f"{prefix.rstrip('.')}: {m}" if isinstance(m, str) else _flatten(m, prefix)
                         for m in messages)
    return f"{prefix.rstrip('.')}: {messages}"


def pull_configs(services: Services) -> list[PullConfig]:
    """Return the pull configs of every force in the directory that has a `pull:` section.

    Reads `Force.pull` (a mapping in the `PullSchema` shape) where the directory provides it;
    forces without one push over HTTPS and are not polled.
    """
    return [config for config, _ in _pull_sections(services.directory.forces.values())
            if config is not None]


def check_pull_sections(forces: Iterable[Any]) -> list[str]:
    """Return a problem line per force whose `pull:` section is unusable (for config check)."""
    return [problem for _, problem in _pull_sections(forces) if problem is not None]


def _pull_sections(forces: Iterable[Any]) -> list[tuple[PullConfig | None, str | None]]:
    """Read each force's `pull` attribute: (config, None), (None, problem), or skip it."""
    found: list[tuple[PullConfig | None, str | None]] = []
    for force in forces:
        section = getattr(force, "pull", None)
        if isinstance(section, PullConfig):
            found.append((section, None))
        elif isinstance(section, Mapping):
            try:
                found.append((pull_config(force.id, force.adapter, section), None))
            except PullConfigError as exc:
                found.append((None, f"forces/{force.id}.yaml: {exc}"))
    return found


# -- what a poll did ------------------------------------------------------------------------


@dataclass(frozen=True)
class FiledMessage:
    """One remote file taken: its receipt and where the file and its reply went."""

    remote_path: str
    receipt_id: str | None
    status: str
    moved_to: str
    reply_path: str
    reused: bool = False  # found already stored by an earlier, interrupted poll


@dataclass
class PollReport:
    """What one poll of one force's outbox did."""

    force_id: str
    filed: list[FiledMessage] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # partial or still growing
    error: str | None = None
    failed: list[str] = field(default_factory=list)  # files that raised; left in the outbox
    busy: bool = False  # another poller was already working on this force's outbox

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly summary (CLI output, task result)."""
        return {"force": self.force_id, "error": self.error, "busy": self.busy,
                "skipped": self.skipped, "failed": self.failed,
                "filed": [{"file": f.remote_path, "receipt_id": f.receipt_id,
                           "status": f.status, "moved_to": f.moved_to, "reply": f.reply_path,
                           "reused": f.reused} for f in self.filed]}


@dataclass(frozen=True)
class _Candidate:
    """A regular file in the outbox as listed."""

    name: str
    path: str
    size: int
    mtime: int


# -- the poller -----------------------------------------------------------------------------


class SftpPoller:
    """Polls force SFTP outboxes and feeds each settled file through the pipeline."""

    def __init__(self, services: Services,
                 connect: Callable[[SftpEndpoint], _Connection] = _connect,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.services = services
        self._connect = connect
        self._sleep = sleep

    def poll(self, config: PullConfig) -> PollReport:
        """Take every settled file from one force's outbox; never raise for SFTP trouble.

        Only one poller at a time works on a force's outbox (across processes and hosts);
        a poll that finds another at work returns at once with `busy` set.
        """
        with force_lock(self.services, config.force_id) as acquired:
            if not acquired:
                return PollReport(config.force_id, busy=True)
            return self._poll_locked(config)

    def _poll_locked(self, config: PullConfig) -> PollReport:
        """Do the poll while holding the force's lock."""
        report = PollReport(config.force_id)
        try:
            endpoint = config.endpoint
            connection = self._connect(endpoint)
        except (PermanentDeliveryError, TransientDeliveryError) as exc:
            return self._failed(config, report, exc)
        try:
            with _translated():
                self._poll_with(connection.sftp, config, endpoint, report)
        except (PermanentDeliveryError, TransientDeliveryError) as exc:
            return self._failed(config, report, exc)
        finally:
            connection.close()
        return report

    def poll_all(self, configs: Iterable[PullConfig]) -> list[PollReport]:
        """Poll each force in turn; one force's outage does not stop the others."""
        return [self.poll(config) for config in configs]

    # -- one poll --------------------------------------------------------------------------

    def _poll_with(self, sftp: paramiko.SFTPClient, config: PullConfig, endpoint: SftpEndpoint,
                   report: PollReport) -> None:
        """List, let the files settle, then take each one oldest first."""
        candidates, skipped = _list_outbox(sftp, endpoint.remote_dir)
        report.skipped.extend(skipped)
        candidates = self._settled(sftp, candidates, config, report)
        if not candidates:
            return
        for folder in (config.processed, config.rejected, config.replies):
            _ensure_dir(sftp, config.folder(folder))
        for candidate in candidates[: config.max_files]:
            try:
                filed = self._take(sftp, config, candidate)
            except _LINK_ERRORS:
                raise  # the connection is gone: end this poll, the next one resumes
            except Exception as exc:
                # One bad file must not block the files behind it; it stays in the outbox
                # and is tried again next poll, and a coordinator is told.
                log.exception("sftp pull of %s failed", candidate.path)
                report.failed.append(f"{candidate.name}: {exc}")
                self._tell_coordinator(config, FILE_FAILED, f"{config.force_id}: "
                                       f"{candidate.name} could not be taken ({exc}); it stays "
                                       "in the outbox and is retried on every poll")
                continue
            if filed is None:
                report.skipped.append(candidate.name)
            else:
                report.filed.append(filed)

    def _settled(self, sftp: paramiko.SFTPClient, candidates: list[_Candidate],
                 config: PullConfig, report: PollReport) -> list[_Candidate]:
        """Keep only files whose size and mtime do not change over the settling wait."""
        if not candidates or config.settle_seconds <= 0:
            return candidates
        self._sleep(config.settle_seconds)
        settled: list[_Candidate] = []
        for candidate in candidates:
            now = _stat_or_none(sftp, candidate.path)
            if now is not None and (now.st_size, now.st_mtime) == (candidate.size,
                                                                   candidate.mtime):
                settled.append(candidate)
            elif now is not None:
                report.skipped.append(candidate.name)
        return settled

    def _take(self, sftp: paramiko.SFTPClient, config: PullConfig,
              candidate: _Candidate) -> FiledMessage | None:
        """Receive one file, reply, then move it; None if it changed while being read."""
        limit = self.services.settings.max_body_bytes
        if candidate.size > limit:
            return self._refuse_oversized(sftp, config, candidate, limit)
        with sftp.open(candidate.path, "rb") as handle:
            raw = handle.read(limit + 1)
        if len(raw) != candidate.size:
            return None  # still being written after all: next poll
        receipt, reused = self._receive(config, candidate, raw)
        reply = {**receipt.as_dict(), "file": candidate.name, "channel": "sftp",
                 "format": config.format}
        reply_path = self._write_reply(sftp, config, candidate.name, reply)
        moved_to = self._move(sftp, config, candidate, receipt.id,
                              rejected=receipt.status in REJECTED_STATUSES)
        with self.services.db.unit_of_work() as session:
            audit.record(session, at=self.services.clock(), actor=SYSTEM,
                         action="inbound.sftp_filed", subject_type="inbound",
                         subject_id=receipt.id,
                         detail={"file": candidate.path, "moved_to": moved_to,
                                 "reply": reply_path, "status": receipt.status.value,
                                 "reused": reused})
        return FiledMessage(candidate.path, receipt.id, receipt.status.value, moved_to,
                            reply_path, reused)

    def _receive(self, config: PullConfig, candidate: _Candidate,
                 raw: bytes) -> tuple[Receipt, bool]:
        """Commit and process the bytes, or pick up the copy an interrupted poll stored."""
        pipeline = self.services.pipeline
        digest = hashlib.sha256(raw).hexdigest()
        with self.services.db.read() as session:
            stored = session.execute(select(InboundMessage.id, InboundMessage.status).where(
                InboundMessage.sender == config.force_id,
                InboundMessage.channel == "sftp",
                InboundMessage.source_name == candidate.path,
                InboundMessage.sha256 == digest,
            ).order_by(InboundMessage.received_at).limit(1)).first()
        actor = f"force:{config.force_id}"
        if stored is None:
            inbound_id = pipeline.receive(config.format, raw, config.force_id, channel="sftp",
                                          source_name=candidate.path)
            return pipeline.process(inbound_id, actor=actor), False
        inbound_id, status = stored
        if status == InboundStatus.RECEIVED.value:
            return pipeline.process(inbound_id, actor=actor), True
        receipt = pipeline.receipt(inbound_id)
        if receipt is None:  # pragma: no cover - the row was read a moment ago
            raise KeyError(inbound_id)
        return receipt, True

    def _refuse_oversized(self, sftp: paramiko.SFTPClient, config: PullConfig,
                          candidate: _Candidate, limit: int) -> FiledMessage:
        """Reject a file over the size limit unread: reply with the reason, move it aside."""
        error = {"field": "file", "message": f"is {candidate.size} bytes; the limit is {limit}",
                 "value": candidate.name}
        reply = {"receipt_id": None, "status": "REFUSED", "errors": [error],
                 "episode_id": None, "deliveries": [], "file": candidate.name,
                 "channel": "sftp", "format": config.format}
        reply_path = self._write_reply(sftp, config, candidate.name, reply)
        moved_to = self._move(sftp, config, candidate, None, rejected=True)
        now = self.services.clock()
        with self.services.db.unit_of_work() as session:
            audit.record(session, at=now, actor=SYSTEM,
                         action="inbound.sftp_refused", subject_type="sftp_file",
                         subject_id=hashlib.sha256(candidate.path.encode()).hexdigest(),
                         detail={"file": candidate.path, "size": candidate.size,
                                 "limit": limit, "moved_to": moved_to})
            self.services.pipeline.raise_item(session, CoordinatorItem(
                kind="sftp_file_refused", message=f"{config.force_id}: {candidate.name} is "
                f"{candidate.size} bytes, over the {limit}-byte limit; moved to {moved_to} "
                "unread"), now, force=config.force_id)
        return FiledMessage(candidate.path, None, "REFUSED", moved_to, reply_path)

    @staticmethod
    def _write_reply(sftp: paramiko.SFTPClient, config: PullConfig, name: str,
                     reply: Mapping[str, Any]) -> str:
        """Write the reply file atomically (overwriting an earlier identical one)."""
        final = posixpath.join(config.folder(config.replies), name + REPLY_SUFFIX)
        body = json.dumps(reply, indent=2, sort_keys=True, default=str).encode("utf-8")
        part = final + ".part"
        sftp.putfo(io.BytesIO(body), part, file_size=len(body), confirm=True)
        _replace(sftp, part, final)
        return final

    @staticmethod
    def _move(sftp: paramiko.SFTPClient, config: PullConfig, candidate: _Candidate,
              receipt_id: str | None, *, rejected: bool) -> str:
        """Rename the file into processed/ or rejected/, never overwriting an earlier file."""
        folder = config.folder(config.rejected if rejected else config.processed)
        target = posixpath.join(folder, candidate.name)
        if _stat_or_none(sftp, target) is not None:
            # A force that re-uses file names: keep both, told apart by receipt id.
            suffix = receipt_id or hashlib.sha256(candidate.path.encode()).hexdigest()[:12]
            target = f"{target}.{suffix}"
        sftp.rename(candidate.path, target)
        return target

    def _failed(self, config: PullConfig, report: PollReport,
                exc: PermanentDeliveryError | TransientDeliveryError) -> PollReport:
        """Record a failed poll and tell a coordinator (once while the failure stays open)."""
        kind = "permanent" if isinstance(exc, PermanentDeliveryError) else "transient"
        report.error = f"{kind}: {exc}"
        log.warning("sftp pull for %s failed: %s", config.force_id, report.error)
        self._tell_coordinator(config, PULL_FAILED, f"cannot pull files from "
                               f"{config.force_id}'s SFTP outbox ({config.channel.address}): "
                               f"{report.error}")
        return report

    def _tell_coordinator(self, config: PullConfig, kind: str, message: str) -> None:
        """Raise a coordinator item, unless one of this kind is still open for the force."""
        now = self.services.clock()
        with self.services.db.unit_of_work() as session:
            open_item = session.execute(select(CoordinatorItemRow.id).where(
                CoordinatorItemRow.kind == kind,
                CoordinatorItemRow.force == config.force_id,
                CoordinatorItemRow.resolved_at.is_(None)).limit(1)).scalar_one_or_none()
            if open_item is None:
                self.services.pipeline.raise_item(
                    session, CoordinatorItem(kind=kind, message=message), now,
                    force=config.force_id)


@contextlib.contextmanager
def force_lock(services: Services, force_id: str) -> Iterator[bool]:
    """Hold the lock on one force's outbox if free; yield whether it was acquired.

    PostgreSQL: a session advisory lock, so pollers on every host exclude each other.
    SQLite (embedded, one host): an flock on a file under the data directory.
    """
    key = int.from_bytes(hashlib.sha256(f"sftp-pull:{force_id}".encode()).digest()[:8],
                         "big", signed=True)
    if services.db.engine.dialect.name == "postgresql":
        with services.db.engine.connect() as connection:
            acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                               {"k": key}).scalar())
            try:
                yield acquired
            finally:
                if acquired:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()
        return
    lock_dir = services.settings.data_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"sftp-pull-{key & 0xFFFFFFFFFFFF:012x}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- remote file helpers -------------------------------------------------------------------


def is_partial(name: str) -> bool:
    """Say whether a file name marks an upload in progress (or a hidden file)."""
    return name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES)


def _list_outbox(sftp: paramiko.SFTPClient,
                 outbox: str) -> tuple[list[_Candidate], list[str]]:
    """Return the regular, complete-looking files of the outbox (oldest first) and the skipped."""
    candidates: list[_Candidate] = []
    skipped: list[str] = []
    for entry in sftp.listdir_attr(outbox):
        if entry.st_mode is None or not stat.S_ISREG(entry.st_mode):
            continue
        if is_partial(entry.filename):
            skipped.append(entry.filename)
            continue
        candidates.append(_Candidate(entry.filename, posixpath.join(outbox, entry.filename),
                                     entry.st_size or 0, entry.st_mtime or 0))
    candidates.sort(key=lambda c: (c.mtime, c.name))
    return candidates, skipped


def _ensure_dir(sftp: paramiko.SFTPClient, path: str) -> None:
    """Create a remote folder if it is missing."""
    if _stat_or_none(sftp, path) is None:
        try:
            sftp.mkdir(path)
        except OSError:
            if _stat_or_none(sftp, path) is None:  # not a race with another poller
                raise


def _replace(sftp: paramiko.SFTPClient, source: str, target: str) -> None:
    """Rename `source` over `target` (posix-rename, or remove then rename on older servers)."""
    try:
        sftp.posix_rename(source, target)
    except OSError as exc:
        if exc.errno is not None and exc.errno != errno.EOPNOTSUPP:
            raise
        if _stat_or_none(sftp, target) is not None:
            sftp.remove(target)
        sftp.rename(source, target)


def poll_forces(services: Services, force_id: str | None = None,
                configs: Iterable[PullConfig] | None = None) -> list[PollReport]:
    """Poll every configured force (or just `force_id`); the entry point of task and CLI."""
    if configs is None:
        for problem in check_pull_sections(services.directory.forces.values()):
            log.error("force not polled: %s", problem)
        configs = pull_configs(services)
    chosen = list(configs)
    if force_id is not None:
        chosen = [c for c in chosen if c.force_id == force_id]
    return SftpPoller(services).poll_all(chosen)
