"""Protect a rendered copy as its channel asks: CMS `.p7m`, S/MIME for mail, OpenPGP, or none.

`MessageProtector` is the outbox's `protect` step: `protector(rendered, channel)` returns
`(content, suffix, media_type)`. It checks the recipient certificate first (chain to the CA
bundle, encryption usage, dates, revocation) and refuses an unusable one with a CryptoError
(which the outbox holds for a coordinator); a certificate close to expiry is used and reported
through `on_warning`, so nothing about it is silent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cryptography import x509

from gateway.delivery.crypto.certs import validate_certificate
from gateway.delivery.crypto.cms import P7M_MEDIA_TYPE, protect_der
from gateway.delivery.crypto.errors import CryptoError
from gateway.delivery.crypto.identity import SignerIdentity
from gateway.delivery.crypto.keystore import FileCache, KeyStore
from gateway.delivery.crypto.pgp import PGP_MEDIA_TYPE, PgpSecretKey, pgp_protect
from gateway.delivery.crypto.smime import SMIME_MEDIA_TYPE, protect_smime
from gateway.delivery.errors import TransientDeliveryError
from gateway.domain.routing import Channel


class RenderedCopy(Protocol):
    """What a case-system adapter renders (adapters.base.Rendered has this shape)."""

    @property
    def content(self) -> bytes:
        """The rendered bytes."""
        ...

    @property
    def media_type(self) -> str:
        """Their media type."""
        ...

    @property
    def suffix(self) -> str:
        """The file suffix of the rendering, e.g. `.json`."""
        ...


@dataclass(frozen=True)
class PgpKeyFile:
    """Where our armored OpenPGP secret key lives, and its passphrase if any."""

    path: Path
    passphrase: str | None = None


class MessageProtector:
    """Signs and encrypts rendered copies for their channel; usable as the outbox's Protector."""

    def __init__(
        self,
        keys: KeyStore,
        ca_file: Path,
        clock: Callable[[], datetime],
        *,
        pgp_key: PgpKeyFile | None = None,
        crl_files: Sequence[Path] = (),
        revoked_serials: Iterable[int] = (),
        on_warning: Callable[[Channel, str], None] | None = None,
    ) -> None:
        self._keys = keys
        self._ca_file = ca_file
        self._clock = clock
        self._pgp_key = pgp_key
        self._crl_files = tuple(crl_files)
        self._revoked = frozenset(revoked_serials)
        self._on_warning = on_warning or (lambda channel, message: None)
        self._armored: FileCache[bytes] = FileCache(bytes)

    def __call__(self, rendered: RenderedCopy, channel: Channel) -> tuple[bytes, str, str]:
        """Return (content, file suffix, media type) of the protected copy for `channel`."""
        if channel.encryption == "none":
            return rendered.content, rendered.suffix, rendered.media_type
        if not channel.certificate:
            raise CryptoError(
                "unusable_certificate",
                f"{channel.endpoint}: {channel.encryption} encryption needs a recipient "
                "certificate or key file, and none is configured",
            )
        if channel.encryption == "pgp":
            return self._pgp(rendered, channel, Path(channel.certificate))
        if channel.encryption == "cms":
            return self._cms(rendered, channel, self.recipient_certificates(channel))
        raise CryptoError("unsupported", f"{channel.endpoint}: encryption {channel.encryption!r}")

    def recipient_certificates(self, channel: Channel) -> list[x509.Certificate]:
        """Return the usable certificates in the channel's file; raise if none is usable."""
        assert channel.certificate
        certs = self._keys.certificates.certificates(Path(channel.certificate))
        ca_certs = self._keys.certificates.certificates(self._ca_file)
        crls = [self._keys.certificates.crl(path) for path in self._crl_files]
        now = self._clock()
        usable: list[x509.Certificate] = []
        refused: list[str] = []
        for cert in certs:
            status = validate_certificate(
                cert, ca_certs, now, crls=crls, revoked_serials=self._revoked
            )
            if status.usable:
                usable.append(cert)
                for warning in status.warnings:
                    self._on_warning(channel, f"certificate {status.subject}: {warning}")
            else:
                refused.append(f"{status.subject}: {status.reason}")
        if not usable:
            raise CryptoError("unusable_certificate", f"{channel.endpoint}: " + "; ".join(refused))
        for problem in refused:  # a file with old and new certificates: say which was skipped
            self._on_warning(channel, f"certificate skipped, {problem}")
        return usable

    def _signer(self) -> SignerIdentity:
        try:
            return self._keys.signer()
        except CryptoError as exc:
            if exc.reason == "key_mismatch":
                # Most likely a rotation caught between writing the key and the certificate.
                raise TransientDeliveryError(f"gateway signing key: {exc.detail}") from exc
            raise

    def _cms(
        self, rendered: RenderedCopy, channel: Channel, recipients: list[x509.Certificate]
    ) -> tuple[bytes, str, str]:
        signer = self._signer()
        if channel.kind == "smtp":
            entity = protect_smime(
                rendered.content,
                signer,
                recipients,
                content_type=rendered.media_type.split(";")[0].strip(),
                filename=f"notification{rendered.suffix}",
            )
            return entity, rendered.suffix + ".p7m", SMIME_MEDIA_TYPE
        return (
            protect_der(rendered.content, signer, recipients),
            rendered.suffix + ".p7m",
            (P7M_MEDIA_TYPE),
        )

    def _pgp(
        self, rendered: RenderedCopy, channel: Channel, recipient_key: Path
    ) -> tuple[bytes, str, str]:
        if self._pgp_key is None:
            raise CryptoError(
                "unusable_certificate",
                f"{channel.endpoint}: OpenPGP is configured but the gateway has no PGP key",
            )
        signer = PgpSecretKey(self._armored.get(self._pgp_key.path), self._pgp_key.passphrase)
        armored = pgp_protect(rendered.content, signer, self._armored.get(recipient_key))
        return armored, rendered.suffix + ".asc", PGP_MEDIA_TYPE
