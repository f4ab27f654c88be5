"""The web UI: server-rendered pages served by the API's app, no third-party code.

:func:`install_web` adds the pages (``/``, ``/login``, ``/dashboard`` …) and their static
files (our own CSS and a small script for partial updates) to the FastAPI app that
serves the API, so one process, one port and one policy serve both. Pages render with
Jinja2 (autoescaped); charts and the region map are SVG drawn on the server
(:mod:`steppe.web.charts`, :mod:`steppe.web.regionmap`), so the UI works with no
internet at all, and reading works with scripts off.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from steppe.web.pages import PAGE_ROUTERS

__all__ = ["install_web"]


def install_web(app: FastAPI) -> None:
    """Add the web UI's pages and static files to ``app`` (the API's app)."""
    app.mount("/static", StaticFiles(packages=[("steppe.web", "static")]), name="static")
    for router in PAGE_ROUTERS:
        app.include_router(router)
