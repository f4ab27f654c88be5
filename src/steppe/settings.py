"""Settings, read from the environment (prefix ``STEPPE_``) or given explicitly.

    >>> s = Settings(data_dir=Path("/tmp/steppe"), demo=True)
    >>> s.resolved_database_url()
    'sqlite:////tmp/steppe/steppe.db'

Outside the demo, a secret key must be set and must not be the demo's one::

    STEPPE_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from steppe.errors import ConfigError

__all__ = ["DEMO_SECRET_KEY", "Settings"]

#: The key the demo runs with. It is public, so nothing else may use it.
DEMO_SECRET_KEY = "steppe-demo-insecure-key"
_MIN_SECRET_LENGTH = 16


class Settings(BaseSettings):
    """Where Steppe keeps its state and how it protects it."""

    model_config = SettingsConfigDict(env_prefix="STEPPE_", extra="ignore")

    data_dir: Path = Field(
        default=Path("steppe-data"),
        description="Folder for the SQLite database, the event lake and other local state.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database; default: a SQLite file in the data dir. "
            "PostgreSQL: postgresql+psycopg://user@host:5432/dbname"
        ),
    )
    secret_key: str | None = Field(
        default=None,
        description="Key for signing sessions and keyed hashes. Required outside the demo.",
    )
    demo: bool = Field(default=False, description="Run as the demo (allows the demo key).")
    api_max_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest request body the API accepts (bytes); larger ones get 413.",
    )
    api_rate_per_minute: int = Field(
        default=6000,
        gt=0,
        description="Sustained requests per minute allowed per API token (429 beyond).",
    )
    api_rate_burst: int = Field(
        default=200, gt=0, description="Requests a token may send at once before pacing applies."
    )

    telemetry_token_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description=(
            "How long telemetry submission takes a token it has just looked up as it was "
            "(revocations and role changes reach it within this time; 0: look up each time)."
        ),
    )
    telemetry_max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description=(
            "Largest telemetry batch one request may carry once inflated (bytes); "
            "larger ones get 413: split them."
        ),
    )
    telemetry_max_concurrent: int = Field(
        default=4,
        gt=0,
        description=(
            "Telemetry requests handled at once; more get 429 with Retry-After (bounds memory)."
        ),
    )

    lake_dir: Path | None = Field(
        default=None,
        description="Folder of the telemetry event lake (Parquet); default: lake/ in the data dir.",
    )
    lake_retention_days: int = Field(
        default=90,
        gt=0,
        description="Days of telemetry kept per organisation unless it has its own setting.",
    )
    lake_retention_every_seconds: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "How often `steppe serve` prunes telemetry past each organisation's retention "
            "(0: never; then run `steppe lake prune` from cron)."
        ),
    )
    lake_max_backlog_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="Accepted telemetry not yet in Parquet (bytes) beyond which ingest gets 429.",
    )
    lake_flush_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Longest time accepted telemetry waits before it is written to Parquet.",
    )
    lake_writer_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description=(
            "Niceness added to the thread that writes accepted telemetry to Parquet, so that "
            "requests being acknowledged come first (Linux; 0: same priority)."
        ),
    )
    lake_handoff_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description=(
            "Memory (bytes of Arrow buffers) for rows an HTTP request decoded, kept for the "
            "Parquet writer so it need not decode the spooled body again (0: never kept)."
        ),
    )
    lake_segment_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description="Size at which a spool (write-ahead) segment is closed and written out.",
    )
    hunt_max_rows: int = Field(
        default=10_000, gt=0, description="Most rows a hunt returns (a note says when cut)."
    )
    hunt_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A hunt running longer is stopped (`steppe hunt` and POST /api/v1/hunt).",
    )
    syslog_max_message_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        description="Longest syslog message kept whole; longer ones are cut and flagged.",
    )
    syslog_queue_messages: int = Field(
        default=100_000, gt=0, description="Syslog messages held between receiving and the lake."
    )
    syslog_queue_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="Bytes of syslog held likewise."
    )
    syslog_max_connections: int = Field(
        default=1024, gt=0, description="Open syslog TCP connections; more are refused."
    )
    syslog_idle_timeout_seconds: float = Field(
        default=300.0, gt=0, description="A syslog TCP connection silent this long is closed."
    )
    syslog_tcp_max_stall_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a syslog TCP sender is paused on a full queue before drops.",
    )

    def resolved_lake_dir(self) -> Path:
        return self.lake_dir if self.lake_dir is not None else self.data_dir / "lake"

    detection_streaming: bool = Field(
        default=False,
        description="Match telemetry against the IOC index as it arrives (the API "
        "process); `steppe serve` turns it on unless set.",
    )
    detection_sigma_dir: Path | None = Field(
        default=None,
        description="A folder of Sigma rules streaming detection also evaluates.",
    )
    detection_refresh_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often streaming detection picks up new or revoked indicators.",
    )
    detection_retro_days: int = Field(
        default=30,
        ge=0,
        description="Days of the lake new indicators are retro-hunted over (0: never).",
    )
    feed_scheduler: bool = Field(
        default=False,
        description="Pull due feeds in a background thread of `steppe serve`.",
    )
    feed_check_seconds: int = Field(
        default=60, gt=0, description="How often the feed scheduler looks for due feeds."
    )
    feed_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of each HTTP request of a feed pull."
    )
    feed_max_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="Largest feed download accepted (bytes)."
    )
    feed_max_redirects: int = Field(
        default=5, ge=0, description="Redirects a feed pull follows before giving up."
    )
    feed_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=[],
        description=(
            "Host names, addresses and CIDR blocks feeds (and TAXII feeds and peers) may "
            "reach although they are loopback, link-local, private, multicast or "
            "unspecified, comma-separated, e.g. '127.0.0.1,10.20.0.0/16,mirror.internal'. "
            "Public addresses are always allowed."
        ),
    )
    feed_file_roots: Annotated[list[Path] | None, NoDecode] = Field(
        default=None,
        description=(
            "Folders file:// feeds may read, comma-separated; default: feeds/ in the data "
            "dir (where `steppe demo` writes its sample feeds)."
        ),
    )

    @field_validator(
        "feed_allowed_hosts", "feed_file_roots", "playbook_webhook_allowed_hosts", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """Environment values are comma-separated lists (a JSON list works too)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    def resolved_feed_file_roots(self) -> list[Path]:
        if self.feed_file_roots is not None:
            return list(self.feed_file_roots)
        return [self.data_dir / "feeds"]

    intel_warninglists_disabled: list[str] = Field(
        default=["google-chrome-crux-1million", "tranco"],
        description=(
            "MISP warninglists not applied, by key (folder name, e.g. 'tranco') or full "
            "name. Values on the other lists are flagged and not matched. Default: the two "
            "top-million rankings (traffic, not benignity)."
        ),
    )
    intel_correlation_cap: int = Field(
        default=50,
        gt=1,
        description=(
            "Objects per observable value kept in the correlation table; a value in more "
            "is over-correlating and no longer relates objects."
        ),
    )
    intel_correlation_exclusions: list[str] = Field(
        default=[], description="Canonical observable values never correlated."
    )
    intel_free_tags: bool = Field(
        default=True,
        description=(
            "Accept tags (STIX labels) outside the MISP taxonomies and galaxies; tags in a "
            "known namespace are always checked."
        ),
    )
    intel_score_threshold: float = Field(
        default=30.0,
        ge=0,
        le=100,
        description="Score (0-100) under which an indicator is expired and not matched.",
    )
    intel_default_base_score: float = Field(
        default=50.0, ge=0, le=100, description="Base score of objects without a confidence."
    )
    intel_false_positive_factor: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Score multiplier for each false-positive sighting.",
    )
    intel_decay: dict[str, tuple[float, float]] = Field(
        default={},
        description=(
            "Per observable type, [lifetime in days, decay speed] overriding the defaults, "
            'e.g. {"ipv4": [14, 1.0]} (JSON in the environment variable).'
        ),
    )
    taxii_max_content_length: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description=(
            "Largest TAXII POST body (bytes), announced as the API root's max_content_length; "
            "larger ones get 413."
        ),
    )
    taxii_async_post: bool = Field(
        default=True,
        description=(
            "Answer a TAXII POST 202 'pending' once its envelope is spooled (fsynced under "
            "data_dir/taxii-intake) and import spooled envelopes in groups in the background; "
            "false imports before answering (status 'complete' at once)."
        ),
    )
    taxii_intake_process: bool = Field(
        default=False,
        description=(
            "Import the asynchronous TAXII POSTs' envelopes in a child process of the server "
            "(it overlaps the HTTP side on another core) instead of a thread; `steppe serve` "
            "turns it on unless set."
        ),
    )
    taxii_intake_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description=(
            "Most bytes of TAXII envelopes accepted and waiting to be imported (asynchronous "
            "POST); past it a POST gets 429 with Retry-After and nothing is spooled."
        ),
    )
    taxii_page_size: int = Field(
        default=1000, gt=0, description="Objects per TAXII page when the client gives no limit."
    )
    taxii_max_page_size: int = Field(
        default=10000, gt=0, description="Most objects one TAXII page holds, whatever the limit."
    )
    web_enabled: bool = Field(
        default=True, description="Serve the web UI (the situation room) at / beside the API."
    )
    web_session_hours: float = Field(
        default=12.0,
        gt=0,
        description="How long a web UI sign-in lasts without activity before it must be redone.",
    )
    web_secure_cookies: bool = Field(
        default=False,
        description=(
            "Mark the web UI's session cookie Secure (browsers send it over HTTPS only); "
            "set it when the UI is served behind TLS."
        ),
    )

    playbook_dir: Path | None = Field(
        default=None,
        description="Folder of playbook files (*.yml, *.yaml), reloaded when they change; "
        "`steppe serve` runs them in the background when set.",
    )
    playbooks_enabled: bool | None = Field(
        default=None,
        description="Run playbooks in the background of `steppe serve` (default: when "
        "STEPPE_PLAYBOOK_DIR is set; false turns it off).",
    )
    playbook_webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=[],
        description=(
            "Host names, addresses and CIDR blocks playbook webhooks may post to although "
            "they are loopback, link-local, private, multicast or unspecified, "
            "comma-separated, e.g. 'soar.internal,10.30.0.0/16'. Public addresses are "
            "always allowed."
        ),
    )
    playbook_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often the playbook runner looks for triggers."
    )
    playbook_settle_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Age an alert or intel object must reach before playbooks see it, so "
        "that a transaction still writing older rows has committed.",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server playbook emails are sent through."
    )
    smtp_port: int = Field(default=25, gt=0, lt=65536, description="Port of the SMTP server.")
    smtp_starttls: bool = Field(
        default=False, description="Upgrade the SMTP connection with STARTTLS before sending."
    )
    smtp_username: str | None = Field(
        default=None, description="SMTP login user (with STEPPE_SMTP_PASSWORD); none: no login."
    )
    smtp_password: str | None = Field(default=None, description="SMTP login password.")
    smtp_sender: str = Field(
        default="steppe@localhost", description="From address of playbook emails."
    )
    smtp_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of the SMTP connection and each command."
    )
    alert_aggregation_minutes: int = Field(
        default=60,
        ge=0,
        le=7 * 24 * 60,
        description="Hits of one indicator or rule on one host within this many minutes "
        "are one alert with a count (0: one alert per event).",
    )
    incident_templates_file: Path | None = Field(
        default=None,
        description="A YAML or JSON file of incident task templates, added to the built-in ones.",
    )
    export_sid_base: int = Field(
        default=1_000_000_000,
        ge=1,
        le=4_000_000_000,
        description="First Suricata/Snort SID of exported rules (steppe.response.exports).",
    )
    export_name: str = Field(
        default="steppe",
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="Name of the exported nftables table and prefix of other export names.",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.resolve() / 'steppe.db'}"

    def require_secret_key(self) -> str:
        """The secret key, refusing a missing or insecure one outside the demo."""
        key = self.secret_key
        if self.demo:
            return key or DEMO_SECRET_KEY
        if not key:
            raise ConfigError(
                "STEPPE_SECRET_KEY is not set; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        if key == DEMO_SECRET_KEY:
            raise ConfigError("STEPPE_SECRET_KEY is the public demo key; set a secret one")
        if len(key) < _MIN_SECRET_LENGTH:
            raise ConfigError(
                f"STEPPE_SECRET_KEY is {len(key)} characters; use at least {_MIN_SECRET_LENGTH}"
            )
        return key
