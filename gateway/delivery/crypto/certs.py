"""Decide whether a party's certificate may be used now: chain, key usage, dates, revocation.

The issuer signature check is `cryptography`'s `verify_directly_issued_by`; the policy around it
(which usages a purpose needs, how close to expiry becomes a warning) is the gateway's own and is
spelt out here rather than through a web-PKI verifier, whose rules (server names, EKUs for TLS)
do not fit message certificates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa

Purpose = Literal["encryption", "signing"]
EXPIRY_WARNING = timedelta(days=30)
_MAX_CHAIN = 6


@dataclass(frozen=True)
class CertificateStatus:
    """Whether a certificate can be used, why not if not, and what a coordinator should know."""

    usable: bool
    reason: str
    warnings: tuple[str, ...] = ()
    subject: str = ""
    not_after: datetime | None = None


def describe(cert: x509.Certificate) -> str:
    """Return the certificate's subject in the one-line RFC 4514 form shown to people."""
    return cert.subject.rfc4514_string()


def validate_certificate(
    cert: x509.Certificate,
    ca_certs: Sequence[x509.Certificate],
    now: datetime,
    *,
    purpose: Purpose = "encryption",
    crls: Iterable[x509.CertificateRevocationList] = (),
    revoked_serials: Iterable[int] = (),
    warn_within: timedelta = EXPIRY_WARNING,
) -> CertificateStatus:
    """Check `cert` for `purpose` at `now` against trusted `ca_certs` and revocation data.

    Unusable: no chain to a trusted CA (or a bad issuer signature, or an expired CA), a missing
    key usage, outside its validity period, or revoked. Usable with a warning: expires within
    `warn_within`, or a CRL past its next update.
    """
    subject = describe(cert)

    def refuse(reason: str) -> CertificateStatus:
        return CertificateStatus(False, reason, (), subject, cert.not_valid_after_utc)

    if now < cert.not_valid_before_utc:
        return refuse(f"not valid until {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    if now > cert.not_valid_after_utc:
        return refuse(f"expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    usage_problem = _usage_problem(cert, purpose)
    if usage_problem:
        return refuse(usage_problem)
    chain_problem, issuer = _chain_problem(cert, list(ca_certs), now)
    if chain_problem:
        return refuse(chain_problem)

    warnings: list[str] = []
    revoked = set(revoked_serials)
    if cert.serial_number in revoked:
        return refuse(f"revoked (serial {cert.serial_number:x} is on the revocation list)")
    assert issuer is not None
    for crl in crls:
        if crl.issuer != cert.issuer:
            continue
        if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            warnings.append(f"ignored a CRL from {crl.issuer.rfc4514_string()}: bad signature")
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            return refuse(f"revoked on {entry.revocation_date_utc:%Y-%m-%d} (CRL)")
        next_update = crl.next_update_utc
        if next_update is not None and next_update < now:
            warnings.append(f"CRL is out of date (next update was {next_update:%Y-%m-%d})")

    left = cert.not_valid_after_utc - now
    if left <= warn_within:
        warnings.append(
            f"expires on {cert.not_valid_after_utc:%Y-%m-%d} (in {left.days} days): renew it"
        )
    return CertificateStatus(
        True,
        f"valid for {purpose} until {cert.not_valid_after_utc:%Y-%m-%d}",
        tuple(warnings),
        subject,
        cert.not_valid_after_utc,
    )


def _usage_problem(cert: x509.Certificate, purpose: Purpose) -> str | None:
    try:
        usage: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None  # RFC 5280: no key usage extension means no restriction
    if purpose == "encryption":
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            return "not an RSA key: the gateway can encrypt only to RSA certificates"
        if usage is not None and not (usage.key_encipherment or usage.data_encipherment):
            return "key usage does not allow encryption (needs keyEncipherment)"
    elif usage is not None and not (usage.digital_signature or usage.content_commitment):
        return "key usage does not allow signing (needs digitalSignature)"
    return None


def _chain_problem(
    cert: x509.Certificate, ca_certs: list[x509.Certificate], now: datetime
) -> tuple[str | None, x509.Certificate | None]:
    """Walk from `cert` up through `ca_certs` to a self-signed one; return (problem, issuer)."""
    current = cert
    direct_issuer: x509.Certificate | None = None
    for _ in range(_MAX_CHAIN):
        issuer = _find_issuer(current, ca_certs)
        if issuer is None:
            return (
                f"issuer {current.issuer.rfc4514_string()} is not a trusted CA "
                "(or its signature does not verify)",
                None,
            )
        if direct_issuer is None:
            direct_issuer = issuer
        if issuer != current:  # a pinned self-signed leaf is its own anchor, not a CA
            ca_problem = _ca_problem(issuer, now)
            if ca_problem:
                return ca_problem, None
        if issuer.subject == issuer.issuer:
            return None, direct_issuer
        current = issuer
    return "certificate chain is too long", None


def _find_issuer(
    cert: x509.Certificate, ca_certs: list[x509.Certificate]
) -> x509.Certificate | None:
    for candidate in ca_certs:
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return candidate
    return None


def _ca_problem(ca: x509.Certificate, now: datetime) -> str | None:
    name = describe(ca)
    if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
        return f"issuing CA {name} is outside its validity period"
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return f"issuer {name} is not marked as a CA"
    if not constraints.ca:
        return f"issuer {name} is not marked as a CA"
    return None
