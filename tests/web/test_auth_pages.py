"""Signing in and out of the web UI: sessions, CSRF, redirects, headers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from web_client import csrf_of, sign_in


def test_a_page_without_a_session_redirects_to_sign_in_and_back(web: TestClient) -> None:
    answer = web.get("/dashboard?days=7")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/dashboard?days=7"
    form = web.get(answer.headers["location"])
    assert 'name="next" value="/dashboard?days=7"' in form.text


def test_sign_in_opens_a_session_cookie_that_scripts_cannot_read(web: TestClient) -> None:
    form = web.get("/login")
    token = form.text.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
    answer = web.post(
        "/login",
        data={
            "user": "analyst.kz",
            "password": "steppe-demo",
            "login_csrf": token,
            "next": "/alerts",
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/alerts"
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "steppe_session=" in v
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert web.get("/dashboard").status_code == 200


def test_a_wrong_password_or_user_gets_the_same_answer(web: TestClient) -> None:
    for user, password in (("analyst.kz", "not-the-password"), ("nobody.here", "steppe-demo")):
        form = web.get("/login")
        token = form.text.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
        answer = web.post("/login", data={"user": user, "password": password, "login_csrf": token})
        assert answer.status_code == 401
        assert "wrong user name or password" in answer.text
        assert "steppe_session=" not in answer.headers.get("set-cookie", "")


def test_a_sign_in_posted_from_elsewhere_is_refused(web: TestClient) -> None:
    # No login form was fetched, so there is no double-submit cookie to match.
    answer = web.post(
        "/login", data={"user": "analyst.kz", "password": "steppe-demo", "login_csrf": "forged"}
    )
    assert answer.status_code == 403
    assert "expired" in answer.text
    assert web.get("/dashboard").status_code == 303


def test_next_never_leaves_the_site(web: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        form = web.get("/login")
        token = form.text.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
        answer = web.post(
            "/login",
            data={
                "user": "coordinator",
                "password": "steppe-demo",
                "login_csrf": token,
                "next": target,
            },
        )
        assert answer.headers["location"] == "/dashboard"


def test_sign_out_needs_the_csrf_token_and_ends_the_session(web: TestClient) -> None:
    sign_in(web, "coordinator")
    assert web.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert web.get("/dashboard").status_code == 200  # still signed in
    answer = web.post("/logout", data={"csrf_token": csrf_of(web)})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert web.get("/dashboard").status_code == 303


def test_a_copied_cookie_is_worthless_after_sign_out(web: TestClient) -> None:
    sign_in(web, "coordinator")
    stolen = web.cookies.get("steppe_session")
    assert stolen
    web.post("/logout", data={"csrf_token": csrf_of(web)})
    web.cookies.set("steppe_session", stolen)
    assert web.get("/dashboard").status_code == 303


def test_pages_carry_a_strict_content_security_policy(web: TestClient) -> None:
    answer = web.get("/login")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_fragment_without_a_session_answers_401_not_a_redirect(web: TestClient) -> None:
    answer = web.get("/dashboard/live", headers={"X-Steppe-Fragment": "1"})
    assert answer.status_code == 401


def test_bad_input_on_a_page_is_an_html_error_not_a_traceback(web: TestClient) -> None:
    sign_in(web, "coordinator")
    answer = web.get("/dashboard?days=1000")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "days" in answer.text and "Traceback" not in answer.text


def test_the_api_still_answers_problem_json_beside_the_ui(web: TestClient) -> None:
    answer = web.get("/api/v1/alerts")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
