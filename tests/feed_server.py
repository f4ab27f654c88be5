"""A local HTTP server for feed tests: serves files from a dict, honours ETag and
If-Modified-Since, counts what it sends, and can fail on purpose."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from steppe.ingest.feeds.fetch import FetchLimits
from steppe.ingest.feeds.hosts import HostPolicy

#: The host policy of feed tests: this server (127.0.0.1) and files under the temporary
#: folder (tmp_path) and the repository's test data are allowed; nothing else private.
LOCAL_HOSTS = HostPolicy.from_entries(
    ["127.0.0.1"], [Path(tempfile.gettempdir()), Path(__file__).parent / "data"]
)
#: Settings (environment) that let the CLI and the API do the same.
LOCAL_SETTINGS = {
    "feed_allowed_hosts": ["127.0.0.1"],
    "feed_file_roots": [Path(tempfile.gettempdir()), Path(__file__).parent / "data"],
}


def local_limits(**options: float) -> FetchLimits:
    """Fetch limits with :data:`LOCAL_HOSTS` as their host policy."""
    return FetchLimits(hosts=LOCAL_HOSTS, **options)  # type: ignore[arg-type]


LAST_MODIFIED = "Sat, 22 Aug 2026 01:00:29 GMT"


@dataclass
class FeedServer:
    """``files``: path → body; ``status``: path → forced HTTP status."""

    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, status)
    bytes_sent: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(
            self, code: int, body: bytes = b"", headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            server.bytes_sent += len(body)
            server.requests.append((self.path, code))

        def do_GET(self) -> None:
            path = self.path
            if path in server.redirects:
                self._send(302, headers={"Location": server.redirects[path]})
                return
            if path in server.status:
                self._send(server.status[path], b"failing on purpose")
                return
            body = server.files.get(path)
            if body is None:
                self._send(404, b"not here")
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag or (
                self.headers.get("If-None-Match") is None
                and self.headers.get("If-Modified-Since") == LAST_MODIFIED
            ):
                self._send(304, headers={"ETag": etag})
                return
            self._send(200, body, {"ETag": etag, "Last-Modified": LAST_MODIFIED})

    return Handler


@pytest.fixture(name="feed_server")
def feed_server_fixture() -> Iterator[FeedServer]:
    """Import this into a test module to use the ``feed_server`` fixture."""
    state = FeedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
