"""Real local receivers for the playbook tests: an HTTP webhook endpoint that checks
Steppe's signature and can fail on purpose, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from aiosmtpd.controller import Controller


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers 503 to the first ``fail_first`` requests (all of them if ``always_fail``)."""

    secret: bytes
    fail_first: int = 0
    always_fail: bool = False
    status_on_failure: int = 503
    received: list[Delivery] = field(default_factory=list)
    url: str = ""

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        stamp = headers.get("x-steppe-timestamp", "")
        expected = (
            "sha256="
            + hmac.new(self.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        )
        ok = hmac.compare_digest(expected, headers.get("x-steppe-signature", ""))
        self.received.append(Delivery(headers, body, ok))
        if self.always_fail or len(self.received) <= self.fail_first:
            return self.status_on_failure
        return 204 if ok else 401


@contextmanager
def webhook_receiver(secret: bytes, **options: Any) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret, **options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(headers, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"


class _FreePortController(Controller):
    """aiosmtpd's controller on a port the system picks (it needs the port to check
    that the server answers, so it is read back from the listening socket)."""

    def _create_server(self) -> Any:
        async def create() -> asyncio.AbstractServer:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    controller = _FreePortController(mailbox, hostname="127.0.0.1")
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()
