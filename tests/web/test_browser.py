"""The web UI in a real browser (Debian's chromium through Playwright), on the demo data."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from web_client import browser_sign_in, reset_focus, screenshot, tab_stops, unlabelled_fields


def test_sign_in_and_see_the_situation_dashboard(page: Page, site: str) -> None:
    page.goto(f"{site}/dashboard")
    expect(page).to_have_url(f"{site}/login?next=/dashboard")
    assert unlabelled_fields(page) == []
    screenshot(page, "login")
    browser_sign_in(page, site, "coordinator")
    expect(page.get_by_role("heading", name="Situation of the region")).to_be_visible()
    expect(page.get_by_role("img", name="Alerts by member")).to_be_visible()
    expect(
        page.get_by_role("img", name="Alerts per day over the last 14 days, by severity")
    ).to_be_visible()
    # The coordinator reads every member's telemetry: all ten members are listed.
    members = page.locator("section[aria-labelledby=by-member] tbody tr")
    expect(members).to_have_count(10)
    assert unlabelled_fields(page) == []
    screenshot(page, "dashboard-coordinator")


def test_a_member_sees_only_its_own_alerts_on_the_dashboard(page: Page, site: str) -> None:
    browser_sign_in(page, site, "analyst.kz")
    rows = page.locator("section[aria-labelledby=by-member] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("KZ-CERT")
    screenshot(page, "dashboard-member")


def test_the_dashboard_works_from_the_keyboard(page: Page, site: str) -> None:
    browser_sign_in(page, site, "analyst.in")
    stops = tab_stops(page, 4)
    assert stops[0] == "Skip to content"
    assert stops[1:4] == ["Steppe", "Situation", "Alerts"]
    # The skip link takes the keyboard past the navigation to the page itself.
    reset_focus(page)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Period")).to_be_focused()
    # The period is a labelled control that can be changed without a mouse.
    page.get_by_label("Period").select_option("7")
    page.get_by_role("button", name="Show").press("Enter")
    expect(page).to_have_url(f"{site}/dashboard?days=7")


def test_the_dashboard_refreshes_itself_every_30_seconds(page: Page, site: str) -> None:
    page.clock.install()  # the page's timers run on a clock the test moves
    browser_sign_in(page, site, "analyst.kz")
    live = page.locator("#live")
    expect(live.get_by_role("heading", name="Alerts by member")).to_be_visible()
    # Put a marker where the live figures are; the refresh must replace it with the
    # server's fragment, and only once its 30 seconds are up.
    live.evaluate("el => { el.innerHTML = '<p id=stale>stale</p>' }")
    page.clock.run_for(29_000)
    expect(page.locator("#stale")).to_have_count(1)
    with page.expect_response(lambda r: "/dashboard/live" in r.url) as answer:
        page.clock.run_for(2_000)
    assert answer.value.status == 200
    expect(page.locator("#stale")).to_have_count(0)
    expect(live.get_by_role("heading", name="Alerts by member")).to_be_visible()
    rows = live.locator("section[aria-labelledby=by-member] tbody tr")
    expect(rows).to_have_count(1)  # still only what KZ-CERT may see
    expect(rows.first).to_contain_text("KZ-CERT")


def test_share_an_object_to_a_group_then_members_see_it_and_others_do_not(
    page: Page, site: str, browser: Browser
) -> None:
    # KZ-CERT's Snowman indicator is for CSTO; KZ-CERT narrows it to EAEU.
    browser_sign_in(page, site, "analyst.kz")
    page.get_by_role("navigation").get_by_role("link", name="Intel").click()
    page.get_by_label("Value").fill("103.20.192.4")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="snowman: 103.20.192.4").click()
    object_url = page.url
    assert unlabelled_fields(page) == []
    page.get_by_label("Distribution").select_option("groups")
    page.get_by_label("CSTO").uncheck()
    page.get_by_label("EAEU").check()
    page.get_by_role("button", name="Store the new marking").click()
    expect(page.get_by_role("status")).to_contain_text("new version")
    expect(page.locator("main p").nth(2)).to_contain_text("EAEU")
    screenshot(page, "intel-shared-by-owner")

    def view_as(user: str) -> Page:
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        other = context.new_page()
        browser_sign_in(other, site, user)
        other.goto(object_url)
        return other

    member = view_as("analyst.kg")  # KG-CERT is in EAEU
    expect(member.get_by_role("heading", name="snowman: 103.20.192.4")).to_be_visible()
    screenshot(member, "intel-seen-by-group-member")
    former = view_as("analyst.tj")  # TJ-CERT is in CSTO, not in EAEU
    expect(former.get_by_role("heading", name="Not found")).to_be_visible()
    screenshot(former, "intel-hidden-from-non-member")
    member.context.close()
    former.context.close()


def test_triage_alerts_in_bulk_from_the_queue(page: Page, site: str) -> None:
    browser_sign_in(page, site, "analyst.kz")
    page.get_by_role("navigation").get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="Alert triage")).to_be_visible()
    assert unlabelled_fields(page) == []
    rows = page.locator("tbody tr")
    count = rows.count()
    assert count >= 2
    page.locator("tbody input[name=ids]").nth(0).check()
    page.locator("tbody input[name=ids]").nth(1).check()
    page.get_by_label("Action").select_option("acknowledged")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("2 alerts changed")
    # Still in the open queue (acknowledged is open), now marked.
    expect(page.locator("tbody tr td:nth-child(8)", has_text="acknowledged")).to_have_count(2)
    screenshot(page, "alerts-triaged")
    page.locator("tbody td a").first.click()
    expect(page.get_by_role("heading", name="Evidence (the event)")).to_be_visible()
    page.get_by_role("textbox", name="Add a comment").fill("Seen at the border router too.")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("#comments")).to_contain_text("Seen at the border router too.")
    assert unlabelled_fields(page) == []
    screenshot(page, "alert-detail")


def test_open_an_incident_from_alerts_and_share_it_with_a_member(
    page: Page, site: str, browser: Browser
) -> None:
    browser_sign_in(page, site, "coordinator")
    page.goto(f"{site}/alerts")
    page.get_by_label("Member").select_option(label="KZ-CERT")
    page.get_by_role("button", name="Filter").click()
    page.get_by_label("Choose every alert on this page").check()
    page.get_by_label("Action").select_option("incident")
    page.get_by_label("Incident title (for “open an incident”)").fill("C2 beaconing in KZ")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("heading", name="C2 beaconing in KZ")).to_be_visible()
    incident_url = page.url.split("?")[0]
    page.get_by_label("Add a member").select_option("KZ-CERT")
    page.locator("#participants-panel").get_by_role("button", name="Add").click()
    expect(page.locator("#participants-panel")).to_contain_text("KZ-CERT")
    page.get_by_label("New task").fill("Block the C2 address at the border")
    page.locator("#tasks-panel").get_by_role("button", name="Add").click()
    expect(page.locator("#tasks-panel")).to_contain_text("Block the C2 address")
    assert unlabelled_fields(page) == []
    screenshot(page, "incident-by-coordinator")
    page.get_by_role("link", name="← Incident board").click()
    expect(page.get_by_role("link", name="C2 beaconing in KZ")).to_be_visible()
    screenshot(page, "incident-board")

    def view_as(user: str) -> Page:
        other = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        browser_sign_in(other, site, user)
        other.goto(incident_url)
        return other

    member = view_as("analyst.kz")
    expect(member.get_by_role("heading", name="C2 beaconing in KZ")).to_be_visible()
    expect(member.locator("#evidence-panel li").first).not_to_contain_text("No evidence")
    screenshot(member, "incident-by-participant")
    outsider = view_as("analyst.in")
    expect(outsider.get_by_role("heading", name="Not found")).to_be_visible()
    member.context.close()
    outsider.context.close()


def test_every_page_from_the_navigation_in_the_browser(page: Page, site: str) -> None:
    browser_sign_in(page, site, "admin")
    names = page.get_by_role("navigation").get_by_role("link").all_inner_texts()
    assert names == [
        "Situation",
        "Alerts",
        "Incidents",
        "Intel",
        "Telemetry",
        "Sharing",
        "Feeds",
        "Audit log",
    ]
    for name in names:
        page.get_by_role("navigation").get_by_role("link", name=name).click()
        expect(page.locator("h1")).to_be_visible()
        assert unlabelled_fields(page) == [], name
        # The page's first control after the skip link and the navigation is reachable.
        assert tab_stops(page, 1) == ["Skip to content"], name
        screenshot(page, f"page-{name.lower().replace(' ', '-')}")
