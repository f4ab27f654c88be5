"""Settings, read from the environment (prefix ``STEPPE_``) or given explicitly.

    >>> s = Settings(data_dir=Path("/tmp/steppe"), demo=True)
    >>> s.resolved_database_url()
    'sqlite:////tmp/steppe/steppe.db'

Outside the demo, a secret key must be set and must not be the demo's one::

    STEPPE_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    taxii_max_content_length: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description=(
            "Largest TAXII POST body (bytes), announced as the API root's max_content_length; "
            "larger ones get 413."
        ),
    )
    taxii_page_size: int = Field(
        default=1000, gt=0, description="Objects per TAXII page when the client gives no limit."
    )
    taxii_max_page_size: int = Field(
        default=10000, gt=0, description="Most objects one TAXII page holds, whatever the limit."
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
