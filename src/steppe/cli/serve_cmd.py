"""`steppe serve`: the REST API (and, later, the web UI) over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from steppe.api.app import API_PREFIX, create_app, settle_heap
from steppe.cli.runtime import Runtime
from steppe.settings import Settings

__all__ = ["serve"]


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the API at /api/v1 (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs)."""
    rt: Runtime = ctx.obj
    settings = rt.settings
    if rt.is_demo and not settings.demo:
        settings = settings.model_copy(update={"demo": True})
    if "detection_streaming" not in settings.model_fields_set:
        settings = settings.model_copy(update={"detection_streaming": True})
    if "taxii_intake_process" not in settings.model_fields_set:
        settings = settings.model_copy(update={"taxii_intake_process": True})
    run_api(rt, settings, host, port)


def run_api(rt: Runtime, settings: Settings, host: str, port: int) -> None:
    app = create_app(settings)
    settle_heap()
    rt.err.print(f"Steppe API on http://{host}:{port}{API_PREFIX}  (docs: {API_PREFIX}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
