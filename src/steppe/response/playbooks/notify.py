"""Notify actions: a signed webhook, an e-mail over SMTP, a message on a broker subject.

Webhook receivers verify the signature: ``X-Steppe-Signature`` is ``sha256=`` and the hex
HMAC-SHA256, keyed with the shared secret, of ``X-Steppe-Timestamp`` + ``.`` + the raw
body (:func:`sign`; docs/playbooks.md has a receiver's side). The secret is never in the
playbook: ``secret`` names the environment variable that holds it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import smtplib
import ssl
import time
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import orjson

from steppe.ingest.feeds.hosts import HostPolicy, HostRefused, HostUnresolved, guarded_client
from steppe.response.playbooks.actions import Action, ActionContext, PermanentFailure
from steppe.response.playbooks.model import TriggerKind

__all__ = ["EmailAction", "PublishAction", "WebhookAction", "payload", "sign"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+")
_SUBJECT = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
#: Answers worth trying again; other 4xx answers say the request itself is wrong.
_RETRYABLE = frozenset({408, 409, 425, 429})


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Steppe-Signature`` value of ``body`` sent at ``timestamp``.

    >>> sign(b"s3cret", "1700000000", b'{"a":1}')[:15]
    'sha256=1698a50b'
    """
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def payload(ctx: ActionContext, message: str | None = None) -> bytes:
    """The JSON a webhook or broker subject receives: the item, the playbook, the run."""
    context = ctx.context
    body: dict[str, Any] = {
        "playbook": ctx.playbook,
        "owner": ctx.item.get("owner"),
        "run": ctx.run_id,
        "action": ctx.position,
        "trigger": ctx.trigger.value,
        "message": message,
    }
    subject = _SUBJECT_OF[ctx.trigger]
    body[subject] = context.get(subject)
    if "incident_id" in context:
        body["incident_id"] = context["incident_id"]
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


_SUBJECT_OF = {
    TriggerKind.ALERT: "alert",
    TriggerKind.INTEL: "intel",
    TriggerKind.INCIDENT_STATUS: "incident",
}


class WebhookAction(Action):
    """POST the item as JSON to ``url``, signed with the secret named by ``secret``."""

    type = "webhook"

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return ("url", "secret", "timeout", "message")

    def check(self, trigger: TriggerKind) -> None:
        self.url = self.spec.required_text("url")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.spec.error("url", "must be an http:// or https:// URL")
        self.secret_name = self.spec.required_text("secret")
        if not _ENV_NAME.fullmatch(self.secret_name):
            raise self.spec.error(
                "secret",
                "names the environment variable holding the secret (e.g. STEPPE_HOOK_SECRET), "
                "never the secret itself",
            )
        timeout = self.spec.number("timeout", 10.0, minimum=0.1, maximum=300)
        assert timeout is not None
        self.timeout = timeout
        message = self.spec.text("message")
        self.message = None if message is None else self.template_of("message", message, trigger)

    def run(self, ctx: ActionContext) -> Mapping[str, Any]:
        secret = os.environ.get(self.secret_name)
        if not secret:
            raise PermanentFailure(
                f"the webhook secret {self.secret_name} is not set in the runner's environment"
            )
        message = None if self.message is None else self.message.render(ctx.context)
        body = payload(ctx, message)
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "steppe-playbooks",
            "X-Steppe-Timestamp": stamp,
            "X-Steppe-Signature": sign(secret.encode(), stamp, body),
            "X-Steppe-Delivery": f"{ctx.run_id}.{ctx.position}",
        }
        # Redirects are not followed: the signed body goes where the playbook says only.
        # The host is checked (and pinned) on every delivery, as feeds' are: a name that
        # starts resolving to an internal address is refused.
        policy = HostPolicy.for_webhooks(ctx.settings)
        try:
            with guarded_client(policy, timeout=self.timeout, max_redirects=0) as client:
                response = client.post(
                    self.url, content=body, headers=headers, follow_redirects=False
                )
        except HostUnresolved as exc:
            raise ConnectionError(str(exc)) from None  # DNS may answer next time
        except HostRefused as exc:
            raise PermanentFailure(str(exc)) from None
        except httpx.HTTPError as exc:
            raise ConnectionError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        status = response.status_code
        if 200 <= status < 300:
            return {"status": status}
        answer = response.text[:200].strip()
        message = f"{self.url} answered {status}" + (f": {answer}" if answer else "")
        if 400 <= status < 500 and status not in _RETRYABLE:
            raise PermanentFailure(message)
        raise ConnectionError(message)


class EmailAction(Action):
    """Send an e-mail through the SMTP server of the settings (STEPPE_SMTP_*)."""

    type = "email"
    _DEFAULT_SUBJECT: ClassVar[dict[TriggerKind, str]] = {
        TriggerKind.ALERT: "[Steppe] {alert.severity} alert at {alert.organisation}: {alert.title}",
        TriggerKind.INTEL: "[Steppe] new {intel.type}: {intel.name}",
        TriggerKind.INCIDENT_STATUS: "[Steppe] incident {incident.id} is {incident.status}",
    }

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return ("to", "subject", "body")

    def check(self, trigger: TriggerKind) -> None:
        self.to = self.spec.texts("to")
        if not self.to:
            raise self.spec.error(None, "'to' is required: one address or a list")
        for address in self.to:
            if not _EMAIL.fullmatch(address):
                raise self.spec.error("to", f"{address!r} is not an e-mail address")
        self.subject = self.template("subject", trigger, self._DEFAULT_SUBJECT[trigger])
        body = self.spec.text("body")
        self.body = None if body is None else self.template_of("body", body, trigger)

    def run(self, ctx: ActionContext) -> Mapping[str, Any]:
        settings = ctx.settings
        if not settings.smtp_host:
            raise PermanentFailure("STEPPE_SMTP_HOST is not set: no SMTP server to send through")
        context = ctx.context
        message = EmailMessage()
        message["From"] = settings.smtp_sender
        message["To"] = ", ".join(self.to)
        # One line: a header must not be split by what an alert carries.
        message["Subject"] = " ".join(self.subject.render(context).split())[:250]
        message_id = make_msgid(idstring=f"run{ctx.run_id}.{ctx.position}", domain="steppe")
        message["Message-ID"] = message_id
        if self.body is not None:
            text = self.body.render(context)
        else:
            text = orjson.dumps(orjson.loads(payload(ctx)), option=orjson.OPT_INDENT_2).decode()
        message.set_content(text)
        try:
            with smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
            ) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentFailure(f"SMTP login refused: {exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(
                f"every recipient was refused: {sorted(exc.recipients)}"
            ) from None
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(text) from None
            raise ConnectionError(text) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ConnectionError(
                f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}"
            ) from None
        return {"message_id": message_id, "refused": sorted(refused)}


class PublishAction(Action):
    """Publish the item as JSON on a broker subject (a template, e.g. ``response.{alert.org_id}``)."""

    type = "publish"
    needs_broker = True

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return ("subject", "message")

    def check(self, trigger: TriggerKind) -> None:
        self.subject = self.template("subject", trigger)
        probe = self.subject.render({})
        if "*" in probe or " " in probe:
            raise self.spec.error("subject", "a subject to publish on has no wildcards or spaces")
        message = self.spec.text("message")
        self.message = None if message is None else self.template_of("message", message, trigger)

    def run(self, ctx: ActionContext) -> Mapping[str, Any]:
        if ctx.broker is None:
            raise PermanentFailure("no broker in this process")
        subject = self.subject.render(ctx.context)
        if not _SUBJECT.fullmatch(subject):
            raise PermanentFailure(f"{subject!r} is not a subject (dot-separated words)")
        message = None if self.message is None else self.message.render(ctx.context)
        ctx.broker.publish(subject, payload(ctx, message))
        return {"subject": subject}
