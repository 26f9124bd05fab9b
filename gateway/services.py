"""Builds the running gateway from Settings: store, directory, adapters, pipeline, outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from adapters.base import CaseSystemAdapter, PoliceAdapter, Rendered
from adapters.registry import case_system_adapter, police_adapters
from gateway.clock import system_clock
from gateway.delivery.crypto.channel import MessageProtector, PgpKeyFile
from gateway.delivery.crypto.errors import CryptoError
from gateway.delivery.crypto.inbound import looks_protected, unprotect_with
from gateway.delivery.crypto.keystore import KeyPairPaths, KeyStore
from gateway.delivery.errors import PermanentDeliveryError
from gateway.delivery.outbox import Outbox
from gateway.delivery.retry import RetryPolicy
from gateway.delivery.transports.base import Transport
from gateway.delivery.transports.folder import FolderTransport
from gateway.delivery.transports.sftp import SftpTransport
from gateway.delivery.transports.smtp import SmtpTransport
from gateway.domain.enums import RiskGrade
from gateway.domain.episode import Episode
from gateway.domain.errors import FieldError, InvalidMessage
from gateway.domain.model import Notification
from gateway.domain.routing import Channel, CoordinatorItem, Recipient, RoutingDecision
from gateway.pipeline import Pipeline
from gateway.settings import Settings
from gateway.store import migrate
from gateway.store.db import Database
from gateway.store.sealing import DataSealer, decode_key, load_or_create_key
from routing.directory import Directory
from routing.directory_loader import load_directory
from routing.recipients import EpisodeHistory, PriorRecipient, route


@dataclass
class Services:
    """Everything a web process or a worker needs, built once from Settings."""

    settings: Settings
    clock: Callable[[], datetime] = system_clock
    enqueue: Callable[[Iterable[str]], None] | None = None
    postcodes: Any = None
    transports: dict[str, Transport] = field(default_factory=dict)
    tracking: bool = True  # clocks, acknowledgements and chases (gateway.tracking)
    _warned: set[tuple[str, str]] = field(default_factory=set)
    _tracker: Any = None

    @cached_property
    def db(self) -> Database:
        """Return the database."""
        return Database(self.settings.database_url)

    def prepare(self) -> None:
        """Bring the schema up to date (idempotent)."""
        migrate.upgrade(self.db.engine)

    @cached_property
    def sealer(self) -> DataSealer:
        """Return the at-rest sealer; only the embedded profile may create its own key."""
        if self.settings.data_key:
            return DataSealer(decode_key(self.settings.data_key))
        path = self.settings.keys_dir / "data.key"
        return DataSealer(load_or_create_key(path, create=self.settings.embedded))

    @cached_property
    def directory(self) -> Directory:
        """Return the directory of authorities and forces."""
        return load_directory(self.settings.config_dir)

    @cached_property
    def postcode_index(self) -> Any:
        """Return the postcode index (built into the cache on first use)."""
        if self.postcodes is not None:
            return self.postcodes
        from routing.geography import PostcodeIndex

        return PostcodeIndex.load(cache_dir=self.settings.cache_dir)

    @cached_property
    def police_adapters(self) -> dict[str, PoliceAdapter]:
        """Return every registered police adapter."""
        return police_adapters()

    def force_overrides(self, force_id: str) -> Mapping[str, Any] | None:
        """Return a force's mapping overrides from the directory, with its risk vocabulary."""
        force = self.directory.force(force_id)
        if force is None:
            return None
        overrides: dict[str, Any] = dict(force.mapping)
        forbidden = sorted(g.value for g in RiskGrade if g not in force.risk.allowed_grades)
        # A grade the force's vocabulary forbids is rejected at parse time when the rule
        # says "hold"; under "flag" it passes and routing raises a coordinator item.
        if forbidden and force.risk.on_forbidden == "hold":
            overrides.setdefault("forbidden_grades", forbidden)
        return overrides

    def resolve_force(self, name: str) -> str | None:
        """Return the directory id of a force named in a message, or None if unknown."""
        force = self.directory.force(name)
        return force.id if force else None

    def route(self, notification: Notification, previous: Sequence[Recipient],
              episode: Episode | None, now: datetime) -> RoutingDecision:
        """Route through the directory and postcode index (pure, given those)."""
        history = EpisodeHistory(
            recipients=tuple(PriorRecipient(r.authority, r.team, r.role) for r in previous),
            child=episode.child if episode else None,
            placement=episode.placement if episode else None,
        )
        return route(notification, history, self.directory, self.postcode_index, now)

    def _enqueue(self, ids: Iterable[str]) -> None:
        """Hand delivery ids to the queue (after commit)."""
        if self.enqueue is not None:
            self.enqueue(ids)
            return
        from gateway.worker import enqueue_deliveries

        enqueue_deliveries(ids)

    @cached_property
    def pipeline(self) -> Pipeline:
        """Return the intake-to-outbox service."""
        pipeline = Pipeline(self.db, self.sealer, self.police_adapters, self.route,
                            self.force_overrides, self.clock, self._enqueue,
                            resolve_force=self.resolve_force, unwrap=self.unwrap)
        if self.tracking:
            from gateway.tracking.service import Tracker

            # Tracking writes its chases through this pipeline and starts its clocks from
            # each applied event (gateway.tracking.wiring.tracker finds it here).
            self._tracker = Tracker(self.db, self.directory, pipeline, enqueue=self._enqueue)
            pipeline.listeners.append(self._tracker.on_event)
        return pipeline

    def render(self, notification: Notification, channel: Channel, profile: str) -> Rendered:
        """Render a copy in the rendering its channel asks for."""
        adapter: CaseSystemAdapter = case_system_adapter(channel.rendering)
        try:
            return adapter.render(notification, profile)
        except ValueError as exc:  # an unknown minimisation profile: configuration, not data
            raise PermanentDeliveryError(f"cannot render for {channel.endpoint}: {exc}") from exc

    @cached_property
    def keystore(self) -> KeyStore:
        """Return the gateway's own keys (re-read when their files change: rotation)."""
        settings = self.settings
        decryption = [KeyPairPaths(key, cert) for key, cert in
                      zip(settings.decryption_key_paths, settings.decryption_cert_paths,
                          strict=True)]
        return KeyStore(KeyPairPaths(settings.signing_key_path, settings.signing_cert_path),
                        decryption)

    @cached_property
    def protector(self) -> MessageProtector:
        """Return the signer and encrypter of outgoing copies."""
        pgp_key = None
        if self.settings.pgp_key_path.exists():
            pgp_key = PgpKeyFile(self.settings.pgp_key_path, self.settings.pgp_passphrase)
        return MessageProtector(self.keystore, self.settings.ca_file, self.clock,
                                pgp_key=pgp_key, on_warning=self._certificate_warning)

    def protect(self, rendered: Rendered, channel: Channel) -> tuple[bytes, str, str]:
        """Sign and encrypt a rendered copy as its channel requires."""
        if channel.certificate and not Path(channel.certificate).is_absolute():
            # Relative certificate paths in the directory are under the data directory.
            channel = replace(channel, certificate=str(self.settings.data_dir /
                                                       channel.certificate))
        return self.protector(rendered, channel)

    def unwrap(self, raw: bytes, force_id: str) -> bytes:
        """Open a signed and encrypted police message; plain XML passes through unchanged.

        Raise InvalidMessage when it cannot be opened, is not signed by the force's
        registered certificate, or the force has none registered.
        """
        if not looks_protected(raw):
            return raw
        force = self.directory.force(force_id)
        if force is None or not force.certificate:
            raise InvalidMessage([FieldError(
                "document", f"is signed and encrypted, but no certificate is registered for "
                f"force {force_id!r} to verify it (set `certificate:` in its directory file)")])
        path = Path(force.certificate)
        if not path.is_absolute():
            path = self.settings.data_dir / path
        try:
            sender = self.keystore.certificates.certificate(path)
            verified = unprotect_with(raw, self.keystore.decryption_identities(), [sender],
                                      now=self.clock())
        except CryptoError as exc:
            raise InvalidMessage([FieldError("document", f"cannot be opened: {exc}")]) from exc
        return verified.content

    def _certificate_warning(self, channel: Channel, message: str) -> None:
        """Raise a coordinator item for a certificate about to expire (once per process)."""
        key = (channel.endpoint, message)
        if key in self._warned:
            return
        self._warned.add(key)
        with self.db.unit_of_work() as session:
            self.pipeline.raise_item(session, CoordinatorItem(
                kind="certificate_warning", message=f"{channel.endpoint}: {message}"),
                self.clock())

    @cached_property
    def outbox(self) -> Outbox:
        """Return the delivery service."""
        transports: dict[str, Transport] = {
            "folder": FolderTransport(self.settings.drop_root),
            "sftp": SftpTransport(),
            "smtp": SmtpTransport(),
        }
        transports.update(self.transports)
        retry = RetryPolicy(ceiling=timedelta(hours=self.settings.retry_ceiling_hours))
        outbox = Outbox(self.db, self.pipeline, self.render, self.protect, transports,
                        self.clock, retry=retry, enqueue=self._enqueue)
        if self._tracker is not None:
            outbox.sent_listeners.append(self._tracker.on_sent)
        return outbox
