"""The web UI's pages, one router per area (each a :class:`~steppe.web.rendering.HtmlRoute`)."""

from __future__ import annotations

from fastapi import APIRouter

from steppe.web.pages import admin, alerts, auth, dashboard, incidents, intel, telemetry

__all__ = ["PAGE_ROUTERS"]

#: Every page router, in the order the app includes them.
PAGE_ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    dashboard.router,
    alerts.router,
    incidents.router,
    intel.router,
    telemetry.router,
    admin.router,
)
