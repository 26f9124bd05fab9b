"""Run a real OpenSSH sshd on loopback for SFTP tests: own host key, own client key, own config.

The server runs in the foreground (`sshd -D -e`) under the current user, with the SFTP
subsystem served by internal-sftp, and logs to a file so tests can count logins.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.domain.routing import Channel
from tests.support.ports import free_port, wait_for_banner

HOST = "127.0.0.1"


def find_sshd() -> str:
    """Return the path of the sshd binary, or fail saying which package provides it."""
    found = shutil.which("sshd") or shutil.which("sshd", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("OpenSSH sshd not found: install the Debian package openssh-server")
    return found


def write_ed25519_key(private_path: Path, comment: str) -> str:
    """Write a new Ed25519 private key (OpenSSH format, mode 0600); return its public line."""
    key = ed25519.Ed25519PrivateKey.generate()
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    line = f"{public.decode('ascii')} {comment}"
    private_path.with_suffix(".pub").write_text(line + "\n")
    return line


def _descendants(pid: int) -> list[int]:
    """Return the pids of all live descendants of `pid` (Linux /proc walk)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: read after the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    """Return whether `pid` is running (a zombie waiting to be reaped does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class SshServer:
    """One sshd on 127.0.0.1 that accepts the generated client key for the current user."""

    def __init__(self, workdir: Path, port: int | None = None):
        """Prepare keys, config and a drop folder under `workdir` (created if needed)."""
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.host = HOST
        self.port = port or free_port()
        self.user = getpass.getuser()
        self.sshd = find_sshd()
        self.host_key_path = workdir / "ssh_host_ed25519_key"
        self.host_key_line = write_ed25519_key(self.host_key_path, "test-host")
        self.client_key_path = workdir / "client_ed25519_key"
        client_public = write_ed25519_key(self.client_key_path, "gateway-test")
        self.authorized_keys = workdir / "authorized_keys"
        self.authorized_keys.write_text(client_public + "\n")
        self.authorized_keys.chmod(0o600)
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {self.host_key_line}\n")
        self.drop_dir = workdir / "drop"
        self.drop_dir.mkdir(exist_ok=True)
        self.log_path = workdir / "sshd.log"
        self.config_path = workdir / "sshd_config"
        self.config_path.write_text(self._config())
        self._process: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        """Return the sshd_config text: loopback only, keys only, internal-sftp."""
        return "\n".join(
            [
                f"ListenAddress {self.host}",
                f"Port {self.port}",
                f"HostKey {self.host_key_path}",
                "PidFile none",
                f"AuthorizedKeysFile {self.authorized_keys}",
                # The temp tree is not owned the way StrictModes wants a home directory.
                "StrictModes no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "UseDNS no",
                "MaxStartups 200",
                "MaxSessions 50",
                "Subsystem sftp internal-sftp",
                "LogLevel INFO",
                "",
            ]
        )

    def start(self) -> None:
        """Start sshd in the foreground and wait for its SSH banner."""
        if self.running:
            return
        if os.geteuid() == 0:
            # Privilege separation needs this directory; a fresh container may lack it.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        check = subprocess.run(
            [self.sshd, "-t", "-f", str(self.config_path)], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"sshd rejects its test config: {check.stderr.strip()}")
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [self.sshd, "-D", "-e", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        try:
            wait_for_banner(self.host, self.port, b"SSH-")
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"sshd did not start; log:\n{self.log_path.read_text()}") from None

    @property
    def running(self) -> bool:
        """Return whether the listening sshd process is alive."""
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop sshd and every session it forked, so open connections die too."""
        process = self._process
        if process is None:
            return
        self._process = None
        # Session processes outlive the listener unless killed; find them while it is alive.
        pids = _descendants(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        # Sessions may sit with SIGTERM blocked; an outage is abrupt anyway.
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.02)

    def restart(self) -> None:
        """Stop and start again on the same port with the same keys."""
        self.stop()
        self.start()

    def accepted_logins(self) -> int:
        """Return how many public-key logins the server has accepted so far."""
        if not self.log_path.exists():
            return 0
        return self.log_path.read_text(errors="replace").count("Accepted publickey")

    def channel(self, remote_dir: Path | None = None, **options: str) -> Channel:
        """Return an sftp Channel for this server, pinned to its host key, into `remote_dir`."""
        target = remote_dir or self.drop_dir
        merged = {
            "private_key": str(self.client_key_path),
            "host_key": self.host_key_line,
            "connect_timeout": "5",
            "timeout": "10",
            **options,
        }
        return Channel(
            kind="sftp",
            address=f"sftp://{self.user}@{self.host}:{self.port}{target}",
            encryption="cms",
            options=tuple(sorted(merged.items())),
        )

    def __enter__(self) -> SshServer:
        """Start the server for a with-block."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server at the end of a with-block."""
        self.stop()
