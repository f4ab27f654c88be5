"""Driving the web UI in tests: signing in (test client and browser), screenshots."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Page

from steppe.cli.demo_cmd import DEMO_PASSWORD

ARTIFACTS = Path(os.environ.get("STEPPE_TEST_ARTIFACTS", "test-artifacts")) / "screenshots"


def sign_in(client: TestClient, user: str, password: str = DEMO_PASSWORD) -> None:
    """Sign ``client`` in through the form, as a browser would."""
    form = client.get("/login")
    token = form.text.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/login", data={"user": user, "password": password, "login_csrf": token, "next": "/"}
    )
    assert answer.status_code == 303, answer.text


def csrf_of(client: TestClient, page: str = "/dashboard") -> str:
    html = client.get(page).text
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_sign_in(page: Page, site: str, user: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{site}/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/dashboard")


# Form fields that have no accessible name (no <label for>, no aria-label/labelledby).
_UNLABELLED_JS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""


def unlabelled_fields(page: Page) -> list[str]:
    """Every visible form field of the page without a label (should be none)."""
    found: list[str] = page.evaluate(_UNLABELLED_JS)
    return found


def reset_focus(page: Page) -> None:
    """Put the keyboard back at the top of the page (nothing focused)."""
    # Blurring is not enough: Tab would go on from the element that had the focus.
    page.evaluate(
        "() => { const b = document.body; b.setAttribute('tabindex', '-1'); b.focus();"
        " b.removeAttribute('tabindex'); }"
    )


def tab_stops(page: Page, count: int) -> list[str]:
    """What the keyboard reaches: the first ``count`` elements Tab focuses, as text."""
    reset_focus(page)
    reached = []
    for _ in range(count):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return (e.getAttribute('aria-label') || e.textContent || e.value || e.tagName).trim(); }"
            )
        )
    return reached
