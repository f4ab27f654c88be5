"""Fixtures for the web UI: the demo coalition served over HTTP, and a real browser.

The demo (``steppe demo --no-serve``) is built once per test session; each test gets its
own copy of its folder (database, lake), so what one test changes no other sees. The
browser is Debian's chromium driven by Playwright (``scripts/test.sh`` installs it when
missing); screenshots go to ``test-artifacts/screenshots/`` (``STEPPE_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, sync_playwright

from live_server import served
from steppe.api.app import create_app
from steppe.cli.main import main
from steppe.settings import Settings

CHROMIUM = os.environ.get("STEPPE_TEST_CHROMIUM", "/usr/bin/chromium")
# As root in a container chromium needs --no-sandbox; the rest keep it from reaching
# out to Google's services, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web") / "demo"
    saved = os.environ.pop("STEPPE_SECRET_KEY", None)
    try:
        main(["demo", "--dir", str(folder), "--no-serve"])
    except SystemExit as exit_:
        assert not exit_.code, "steppe demo failed"
    finally:
        if saved is not None:
            os.environ["STEPPE_SECRET_KEY"] = saved
    return folder


@pytest.fixture
def demo_app(demo_folder: Path, tmp_path: Path) -> Iterator[FastAPI]:
    """The app over this test's own copy of the demo folder."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_folder, folder)
    app = create_app(Settings(data_dir=folder, demo=True))
    yield app
    app.state.services.engine.dispose()


@pytest.fixture
def web(demo_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(demo_app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.fixture
def site(demo_app: FastAPI) -> Iterator[str]:
    """Base URL of the demo app served over HTTP."""
    with served(demo_app) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test.sh (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()
