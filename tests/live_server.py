"""Serving an app over real HTTP in a test: uvicorn on a free port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI


@contextmanager
def served(app: FastAPI, ready_path: str = "/api/v1/openapi.json") -> Iterator[str]:
    """Run ``app`` under uvicorn on a free port; yields its base URL once it answers.

    It logs nothing: on Python 3.11 a traceback formatted in the server thread while
    pytest formats one in the main thread can crash CPython's ``ast`` ("AST constructor
    recursion depth mismatch"). To see the traceback of a 500, repeat the request with a
    ``TestClient`` and ``raise_server_exceptions=True``.
    """
    # Binding the socket here, not in uvicorn, means no other process can take the port
    # between choosing it and listening on it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn leaves a socket it is given as it is; without TCP_NODELAY every response
    # waits ~40 ms for the client's delayed ACK (headers and body are two writes).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="critical",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)  # off the main thread it leaves signals alone
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{port}", daemon=True
    )
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if not thread.is_alive():
                raise RuntimeError("uvicorn stopped before it answered")
            try:
                if server.started and httpx.get(f"{base_url}{ready_path}").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not answer on {base_url} within 15 s")
            time.sleep(0.02)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not shut down"
