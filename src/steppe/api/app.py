"""The FastAPI application, built by :func:`create_app` from Settings — no globals.

>>> app = create_app(Settings(data_dir=Path("steppe-demo"), demo=True))  # doctest: +SKIP
>>> uvicorn.run(app)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine

from steppe.alerts.detect import StreamingDetector
from steppe.api.deps import Services
from steppe.api.limits import RateLimiter, RequestGuard
from steppe.api.problems import document_problems, install_problem_handlers
from steppe.api.routes import (
    alerts,
    audit,
    blocklists,
    directory,
    enrichment,
    exports,
    feeds,
    hunt,
    incidents,
    intel,
    playbooks,
    telemetry,
    triage,
)
from steppe.api.token_cache import RecentTokens
from steppe.audit.trail import AuditTrail
from steppe.detection.sigma.store import RuleStore
from steppe.errors import ConfigError
from steppe.federation.server import create_taxii_app, taxii_intake
from steppe.heap import settle_heap
from steppe.ingest.feeds.fetch import limits_from
from steppe.ingest.feeds.scheduler import FeedScheduler
from steppe.ingest.telemetry.service import TelemetryService
from steppe.intel.config import IntelConfig
from steppe.lake.lake import use_system_allocator
from steppe.lake.scheduler import RetentionScheduler
from steppe.response.playbooks import PlaybookLibrary, PlaybookRunner
from steppe.settings import Settings
from steppe.storage import migrate
from steppe.storage.engine import make_engine
from steppe.web.app import install_web

__all__ = ["API_PREFIX", "TAXII_PREFIX", "create_app", "settle_heap"]

API_PREFIX = "/api/v1"
TAXII_PREFIX = "/taxii2"


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the API for ``settings`` (the engine may be given, e.g. by tests)."""
    secret_key = settings.require_secret_key()
    if engine is None:
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url())
    current, head = migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        raise ConfigError(
            f"the database is at schema {current or 'none'}, not {head}: run `steppe init` first"
        )
    built_engine = engine
    telemetry_service = TelemetryService(settings)
    playbook_library = PlaybookLibrary(settings.playbook_dir)
    intake = taxii_intake(settings, engine, secret_key) if settings.taxii_async_post else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Threads start with the server, not when the app is built (tests build many).
        use_system_allocator()
        scheduler = None
        if settings.feed_scheduler:
            scheduler = FeedScheduler(
                built_engine,
                AuditTrail(key=secret_key, actor="scheduler:feeds"),
                limits_from(settings),
                every=settings.feed_check_seconds,
                config=IntelConfig.from_settings(settings),
            )
            scheduler.start()
        app.state.feed_scheduler = scheduler
        detector = None
        if settings.detection_streaming:
            detector = StreamingDetector(
                built_engine,
                AuditTrail(key=secret_key, actor="detector:ioc"),
                telemetry_service.broker,
                lake_root=settings.resolved_lake_dir(),
                refresh_seconds=settings.detection_refresh_seconds,
                retro_days=settings.detection_retro_days,
                window_seconds=settings.alert_aggregation_minutes * 60,
                rules=(
                    RuleStore([settings.detection_sigma_dir])
                    if settings.detection_sigma_dir is not None
                    else None
                ),
            )
            detector.start()
        app.state.ioc_detector = detector
        retention = None
        if settings.lake_retention_every_seconds > 0:
            retention = RetentionScheduler(
                built_engine,
                AuditTrail(key=secret_key, actor="scheduler:retention"),
                settings.resolved_lake_dir(),
                default_days=settings.lake_retention_days,
                every=settings.lake_retention_every_seconds,
            )
            retention.start()
        app.state.retention_scheduler = retention
        runner = None
        run_playbooks = settings.playbooks_enabled
        if run_playbooks is None:
            run_playbooks = settings.playbook_dir is not None
        if run_playbooks:
            runner = PlaybookRunner(
                built_engine,
                secret_key,
                playbook_library,
                settings,
                broker=telemetry_service.broker,
            )
            runner.start()
        app.state.playbook_runner = runner
        if intake is not None:
            intake.start()  # imports what a crashed server left spooled
        try:
            yield
        finally:
            if intake is not None:
                intake.stop()
            if runner is not None:
                runner.stop()
            if retention is not None:
                retention.stop()
            if detector is not None:
                detector.stop()
            if scheduler is not None:
                scheduler.stop()
            telemetry_service.close()  # writes what is spooled; nothing accepted is lost

    # The docs page's Swagger UI assets come from the fastapi-offline wheel, not a CDN:
    # centers run air-gapped.
    app = FastAPIOffline(
        lifespan=lifespan,
        title="Steppe API",
        version="1",
        description=(
            "Shared threat intelligence for a coalition of CERTs. Authenticate with "
            "`Authorization: Bearer <token>` (`steppe token create USER`). Every read is "
            "filtered by the sharing policy: an object you may not see answers 404, exactly "
            "like one that does not exist. Errors are RFC 9457 problem+json."
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        static_url=f"{API_PREFIX}/docs-assets",
        swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
    )
    app.state.services = Services(
        settings=settings,
        engine=engine,
        secret_key=secret_key,
        limiter=RateLimiter(settings.api_rate_per_minute, settings.api_rate_burst),
        telemetry=telemetry_service,
        recent_tokens=RecentTokens(settings.telemetry_token_cache_seconds),
    )
    app.state.telemetry_gate = asyncio.Semaphore(settings.telemetry_max_concurrent)
    app.state.taxii_intake = intake  # None when TAXII POSTs import before answering
    app.state.playbook_library = playbook_library
    install_problem_handlers(app)
    for router in (
        directory.router,
        intel.router,
        enrichment.router,
        feeds.router,
        audit.router,
        telemetry.router,
        alerts.router,
        playbooks.router,
        triage.router,
        incidents.router,
        exports.router,
        blocklists.router,
        hunt.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    # TAXII 2.1 has its own media types and error resources: a sub-app, not in the OpenAPI.
    app.mount(
        TAXII_PREFIX,
        create_taxii_app(
            settings, engine, secret_key, app.state.services.limiter.check, intake=intake
        ),
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if settings.web_enabled:
        install_web(app)
    app.add_middleware(
        RequestGuard,
        max_bytes=settings.api_max_body_bytes,
        # Telemetry may carry NULs (Windows events pad with them) and gzip is binary;
        # the lake stores them as they are, and nothing of it goes to the database.
        binary_paths=(f"{API_PREFIX}/telemetry",),
    )
    return app
