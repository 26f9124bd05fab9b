"""The Authorities and channels page's data: certificate expiry, endpoint health, circuits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gateway.delivery.circuit import CircuitStatus
from gateway.services import Services
from gateway.store.models import DeliveryRow


@dataclass(frozen=True)
class CertificateStatus:
    """What the certificate file of a channel says, or why it could not be read."""

    path: str
    not_after: datetime | None
    days_left: int | None
    problem: str | None


@dataclass(frozen=True)
class ChannelHealth:
    """One team's channel of one authority, with how its deliveries are going."""

    authority_id: str
    authority_name: str
    team: str
    kind: str
    address: str
    endpoint: str
    encryption: str
    certificate: CertificateStatus | None
    circuit: CircuitStatus
    counts: dict[str, int]
    last_sent_at: datetime | None
    retrying: int = 0  # copies waiting to be tried again after a failure (from the store)

    @property
    def healthy(self) -> bool:
        """Say whether nothing about the channel needs a person."""
        cert_ok = self.certificate is None or (
            self.certificate.problem is None and (self.certificate.days_left or 0) > 14)
        return (cert_ok and self.circuit.state.value == "closed"
                and self.counts.get("HELD", 0) == 0 and self.retrying == 0)


def certificate_status(services: Services, path_text: str, now: datetime) -> CertificateStatus:
    """Read a PEM certificate (relative paths are under the data directory) for its expiry."""
    path = Path(path_text)
    if not path.is_absolute():
        path = services.settings.data_dir / path
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        return CertificateStatus(path_text, None, None, "certificate file not found")
    except (OSError, ValueError) as exc:
        return CertificateStatus(path_text, None, None, f"cannot read certificate: {exc}")
    not_after = certificate.not_valid_after_utc
    days = (not_after - now).days
    problem = "expired" if not_after <= now else None
    return CertificateStatus(path_text, not_after, days, problem)


def _aware(value: datetime | str) -> datetime:
    """Return an aggregate's datetime as aware UTC (SQLite gives MAX() back as text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def channel_health(session: Session, services: Services, now: datetime) -> list[ChannelHealth]:
    """Return every registered channel of every authority, sorted by authority and team."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    last_sent: dict[tuple[str, str], datetime] = {}
    retrying: dict[tuple[str, str], int] = {}
    failed = func.sum(case((DeliveryRow.last_error.is_not(None), 1), else_=0))
    for authority_id, team_name, status, n, sent, with_error in session.execute(select(
            DeliveryRow.authority, DeliveryRow.team, DeliveryRow.status, func.count(),
            func.max(DeliveryRow.sent_at), failed)
            .group_by(DeliveryRow.authority, DeliveryRow.team, DeliveryRow.status)).all():
        key = (authority_id, team_name)
        counts.setdefault(key, {})[status] = int(n)
        if status == "PENDING" and with_error:
            retrying[key] = int(with_error)
        if sent is not None:
            sent = _aware(sent)
            last_sent[key] = max(last_sent.get(key, sent), sent)
    breaker = services.outbox.breaker
    certificates: dict[str, CertificateStatus] = {}
    result = []
    for authority in sorted(services.directory.authorities.values(), key=lambda a: a.name):
        for team, channel in sorted(authority.teams.items()):
            certificate = None
            if channel.certificate:
                if channel.certificate not in certificates:
                    certificates[channel.certificate] = certificate_status(
                        services, channel.certificate, now)
                certificate = certificates[channel.certificate]
            result.append(ChannelHealth(
                authority.id, authority.name, team, channel.kind, channel.address,
                channel.endpoint, channel.encryption, certificate,
                breaker.status(channel.endpoint, now), counts.get((authority.id, team), {}),
                last_sent.get((authority.id, team)), retrying.get((authority.id, team), 0)))
    return result
