"""Run a WSGI app with waitress in a thread on a free loopback port, for browser tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from tests.support.ports import free_port


@contextmanager
def serve(app: Any, threads: int = 4) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 until the block ends; yield its base URL."""
    port = free_port()
    server = create_server(app, host="127.0.0.1", port=port, threads=threads,
                           clear_untrusted_proxy_headers=True)
    thread = threading.Thread(target=server.run, name=f"waitress-{port}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.task_dispatcher.shutdown()
        server.close()
        # Browsers keep connections alive: close them so the serving loop ends.
        wasyncore.close_all(server._map)
        thread.join(timeout=5)
