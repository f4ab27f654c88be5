"""Every page for every kind of user, over the test client: what it shows, who may act."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from web_client import csrf_of, sign_in

USERS = ("coordinator", "admin", "analyst.kz", "analyst.in")
PAGES = (
    "/dashboard",
    "/alerts",
    "/alerts?status=",
    "/incidents",
    "/intel",
    "/intel?q=103.20.192.4",
    "/sharing",
    "/feeds",
    "/telemetry",
    "/telemetry?days=90",
    "/audit",
)


class _Fields(HTMLParser):
    """Form fields and labels of a page, to find fields without a label."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))
        if tag in ("input", "select", "textarea") and found.get("type") != "hidden":
            self.fields.append(found)

    def unlabelled(self) -> list[dict[str, str | None]]:
        return [
            f for f in self.fields if f.get("id") not in self.labelled and not f.get("aria-label")
        ]


@pytest.mark.parametrize("user", USERS)
def test_every_page_renders_with_labelled_fields_or_refuses_plainly(
    web: TestClient, user: str
) -> None:
    sign_in(web, user)
    for page in PAGES:
        answer = web.get(page)
        if page == "/audit" and user != "admin":
            assert answer.status_code == 403, (user, page)
            assert "instance admins" in answer.text
            continue
        assert answer.status_code == 200, (user, page, answer.text[:500])
        fields = _Fields()
        fields.feed(answer.text)
        assert fields.unlabelled() == [], (user, page)
        assert f">{user}<" in answer.text  # the page frame says who is signed in


def test_unsafe_requests_need_the_session_csrf_token(web: TestClient) -> None:
    sign_in(web, "analyst.kz")
    stix_id = "indicator--2d1a3ae7-f52e-5c8d-8201-ae9f1cdb5dfb"  # KZ-CERT's, from the demo
    form = {"distribution": "community", "tlp": "green"}
    assert web.post(f"/intel/{stix_id}/share", data=form).status_code == 403
    assert web.post(f"/intel/{stix_id}/share", data={**form, "csrf_token": "x"}).status_code == 403
    answer = web.post(f"/intel/{stix_id}/share", data={**form, "csrf_token": csrf_of(web)})
    assert answer.status_code == 303
    answer = web.post(
        f"/intel/{stix_id}/share",
        data=form,
        headers={"X-CSRF-Token": csrf_of(web), "X-Steppe-Fragment": "1"},
    )
    assert answer.status_code == 303  # the header does as well as the field (scripts)


def test_only_the_owner_sees_the_share_form_and_may_share(web: TestClient) -> None:
    stix_id = "indicator--2d1a3ae7-f52e-5c8d-8201-ae9f1cdb5dfb"
    sign_in(web, "analyst.kg")  # in CSTO: sees KZ-CERT's object
    page = web.get(f"/intel/{stix_id}")
    assert page.status_code == 200 and "Store the new marking" not in page.text
    answer = web.post(
        f"/intel/{stix_id}/share",
        data={"distribution": "community", "tlp": "green", "csrf_token": csrf_of(web)},
    )
    assert answer.status_code == 403 and "only its owner" in answer.text


def test_an_object_the_user_may_not_see_is_not_found(web: TestClient) -> None:
    sign_in(web, "analyst.in")  # not in CSTO
    answer = web.get("/intel/indicator--2d1a3ae7-f52e-5c8d-8201-ae9f1cdb5dfb")
    assert answer.status_code == 404
    assert answer.text.count("no object") == 1


def test_groups_are_managed_under_the_api_rules(web: TestClient) -> None:
    sign_in(web, "analyst.kz")
    page = web.get("/sharing")
    assert "New group" not in page.text and "Add a member" not in page.text
    answer = web.post("/sharing/groups", data={"name": "X", "csrf_token": csrf_of(web, "/sharing")})
    assert answer.status_code == 403
    sign_in(web, "admin")
    token = csrf_of(web, "/sharing")
    answer = web.post(
        "/sharing/groups",
        data={"name": "Caspian", "owner": "KZ-CERT", "hidden_roster": "true", "csrf_token": token},
    )
    assert answer.status_code == 303
    answer = web.post(
        "/sharing/groups/Caspian/members", data={"organisation": "TM-CERT", "csrf_token": token}
    )
    assert answer.status_code == 303
    sign_in(web, "analyst.tm")
    row = web.get("/sharing").text.split("<strong>Caspian</strong>", 1)[1].split("</tr>", 1)[0]
    assert "<em>hidden</em> (you are a member)" in row and "KZ-CERT" not in row.split("</td>")[2]


def test_the_audit_log_verifies_its_chain_for_admins(web: TestClient) -> None:
    sign_in(web, "admin")
    page = web.get("/audit?verify=true&limit=50")
    assert "The chain holds" in page.text
    assert "web.login" in page.text


MEMBERS = ("AFCERT", "CERT-In", "CNCERT", "KG-CERT", "KZ-CERT", "PKCERT", "RU-CERT", "TJ-CERT")


def test_telemetry_shows_each_user_the_organisations_it_may_read(web: TestClient) -> None:
    sign_in(web, "analyst.kz")
    page = web.get("/telemetry").text
    assert "<td>KZ-CERT</td>" in page and "Events per day over the last 14 days" in page
    assert [m for m in MEMBERS if f"<td>{m}</td>" in page] == ["KZ-CERT"]
    assert "quarantined" not in page  # the lake's plumbing is the center's
    sign_in(web, "coordinator")
    page = web.get("/telemetry?days=7").text
    assert all(f"<td>{m}</td>" in page for m in MEMBERS)
    assert "quarantined segments" in page and "last 7 days" in page
    assert web.get("/telemetry?days=0").status_code == 422


def test_feeds_show_their_address_only_to_managers(web: TestClient) -> None:
    sign_in(web, "analyst.kz")
    page = web.get("/feeds").text
    assert "snowman.txt" in page  # KZ-CERT's own feed
    assert "ipsum-sample" not in page  # the center's: no address shown
    answer = web.post("/feeds/ipsum/pull", data={"csrf_token": csrf_of(web, "/feeds")})
    assert answer.status_code == 403
    answer = web.post("/feeds/snowman/pull", data={"csrf_token": csrf_of(web, "/feeds")})
    assert answer.status_code == 303 and "pulled+snowman" in answer.headers["location"]


def test_alert_and_incident_pages_are_labelled_and_follow_the_policy(web: TestClient) -> None:
    sign_in(web, "analyst.kz")
    queue = web.get("/alerts").text
    alert_id = queue.split('href="/alerts/', 1)[1].split('"', 1)[0]
    token = csrf_of(web, "/alerts")
    answer = web.post(
        "/alerts/triage",
        data={"ids": [alert_id], "action": "incident", "title": "Beacon", "csrf_token": token},
    )
    assert answer.status_code == 303
    incident = answer.headers["location"].split("?", 1)[0]
    for page in (f"/alerts/{alert_id}", incident):
        html = web.get(page)
        assert html.status_code == 200
        fields = _Fields()
        fields.feed(html.text)
        assert fields.unlabelled() == [], page
    sign_in(web, "analyst.in")  # another member: neither the alert nor the incident
    assert web.get(f"/alerts/{alert_id}").status_code == 404
    assert web.get(incident).status_code == 404
    sign_in(web, "coordinator")  # the center coordinates every incident
    assert web.get(incident).status_code == 200


def test_a_reader_of_the_queue_cannot_triage_an_alert_it_may_not_read(web: TestClient) -> None:
    sign_in(web, "analyst.kz")
    alert_id = web.get("/alerts").text.split('href="/alerts/', 1)[1].split('"', 1)[0]
    sign_in(web, "analyst.in")
    token = csrf_of(web, "/alerts")
    answer = web.post(
        "/alerts/triage", data={"ids": [alert_id], "action": "closed", "csrf_token": token}
    )
    assert answer.status_code == 303
    assert "0 alerts changed; 1 not: no alert" in unquote(answer.headers["location"])
    answer = web.post(f"/alerts/{alert_id}/status", data={"status": "closed", "csrf_token": token})
    assert answer.status_code == 404
