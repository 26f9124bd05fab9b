"""Configuration from the environment, read once; secrets from env vars or `*_FILE` paths.

Every setting has a documented default that runs the embedded profile (SQLite, a SQLite
broker, demo keys generated under the data directory). Production sets `DATABASE_URL`,
`BROKER_URL` and the key files explicitly; a missing required secret fails loudly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gateway.domain.errors import GatewayError


class SettingsError(GatewayError):
    """A required setting is missing or malformed."""


def _env(name: str, default: str | None = None) -> str | None:
    """Read `name`, or the contents of the file named by `name_FILE`, or the default."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    """Read an integer setting, failing loudly on a non-number."""
    raw = _env(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from exc


def _path(name: str, default: Path) -> Path:
    """Read a file path setting (key and certificate files are named, never inlined)."""
    raw = os.environ.get(name)
    return Path(raw).resolve() if raw else default


def _paths(name: str, default: Path) -> tuple[Path, ...]:
    """Read a colon-separated list of paths, current first (previous ones kept for rotation)."""
    raw = os.environ.get(name)
    if not raw:
        return (default,)
    return tuple(Path(part).resolve() for part in raw.split(os.pathsep) if part)


@dataclass(frozen=True)
class Settings:
    """Every setting the gateway reads (see README "Configuration")."""

    data_dir: Path
    database_url: str
    broker_url: str
    config_dir: Path
    cache_dir: Path
    pki_dir: Path
    signing_key_path: Path
    signing_cert_path: Path
    decryption_key_paths: tuple[Path, ...]
    decryption_cert_paths: tuple[Path, ...]
    ca_file: Path
    pgp_key_path: Path
    pgp_passphrase: str | None
    max_body_bytes: int = 1_048_576
    data_key: str | None = None  # base64 AES-256 key for sealing raw messages at rest
    embedded: bool = True
    sweep_seconds: int = 30
    pull_seconds: int = 60
    stuck_after_seconds: int = 120
    retry_ceiling_hours: int = 24
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def drop_root(self) -> Path:
        """Return where relative folder-channel addresses are resolved."""
        return self.data_dir

    @property
    def keys_dir(self) -> Path:
        """Return where demo keys and the at-rest data key are kept by default."""
        return self.data_dir / "keys"


def load_settings(environ_overrides: dict[str, str] | None = None) -> Settings:
    """Build Settings from the environment (with optional overrides, used by tests and CLI)."""
    saved: dict[str, str | None] = {}
    for key, value in (environ_overrides or {}).items():
        saved[key] = os.environ.get(key)
        os.environ[key] = value
    try:
        return _build()
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _build() -> Settings:
    """Read the environment into a Settings object."""
    data_dir = Path(_env("GATEWAY_DATA_DIR", "var") or "var").resolve()
    database_url = _env("DATABASE_URL") or f"sqlite:///{data_dir / 'gateway.db'}"
    broker_url = _env("BROKER_URL") or f"sqla+sqlite:///{data_dir / 'broker.db'}"
    pki_dir = Path(_env("GATEWAY_PKI_DIR") or data_dir / "keys" / "pki").resolve()
    default_config = Path(__file__).resolve().parent.parent / "config" / "demo"
    config_dir = Path(_env("GATEWAY_CONFIG_DIR") or default_config).resolve()
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker_url,
        config_dir=config_dir,
        cache_dir=Path(_env("GATEWAY_CACHE_DIR") or data_dir / "cache").resolve(),
        pki_dir=pki_dir,
        signing_key_path=_path("GATEWAY_SIGNING_KEY_PATH", pki_dir / "gateway.key"),
        signing_cert_path=_path("GATEWAY_SIGNING_CERT_PATH", pki_dir / "gateway.pem"),
        decryption_key_paths=_paths("GATEWAY_DECRYPTION_KEY_PATHS", pki_dir / "gateway-enc.key"),
        decryption_cert_paths=_paths("GATEWAY_DECRYPTION_CERT_PATHS",
                                     pki_dir / "gateway-enc.pem"),
        ca_file=_path("GATEWAY_CA_FILE", pki_dir / "ca.pem"),
        pgp_key_path=_path("GATEWAY_PGP_KEY_PATH", pki_dir / "pgp" / "gateway.sec.asc"),
        pgp_passphrase=_env("GATEWAY_PGP_PASSPHRASE"),
        max_body_bytes=_int("GATEWAY_MAX_BODY_BYTES", 1_048_576),
        data_key=_env("GATEWAY_DATA_KEY"),
        embedded=database_url.startswith("sqlite"),
        sweep_seconds=_int("GATEWAY_SWEEP_SECONDS", 30),
        pull_seconds=_int("GATEWAY_PULL_SECONDS", 60),
        stuck_after_seconds=_int("GATEWAY_STUCK_AFTER_SECONDS", 120),
        retry_ceiling_hours=_int("GATEWAY_RETRY_CEILING_HOURS", 24),
    )
