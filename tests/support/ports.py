"""Free loopback ports for servers started by tests."""

from __future__ import annotations

import socket
import time


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_banner(host: str, port: int, prefix: bytes, timeout: float = 10.0) -> None:
    """Wait until a server on host:port accepts a connection and greets with `prefix`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0) as sock:
                if sock.recv(256).startswith(prefix):
                    return
        except OSError as exc:
            last_error = exc
        time.sleep(0.05)
    raise RuntimeError(f"no server greeting on {host}:{port} after {timeout}s: {last_error}")
