"""The demo enterprise in Chromium: its overview with the tier in force, then its most urgent
approval case with the stage clocks; figures checked against the API, screenshots saved."""

from __future__ import annotations

import httpx

from tests.web.conftest import browser_login, screenshot


def test_the_demo_enterprise_follows_its_most_urgent_case(demo_site, browser):
    account = demo_site.accounts["enterprise"]
    uscc = account["enterprise_uscc"]
    made = demo_site.cli("token", "create", "--role", "enterprise", "--enterprise", uscc)
    assert made.returncode == 0, made.stderr
    api = httpx.Client(base_url=demo_site.url,
                       headers={"Authorization": f"Bearer {made.stdout.strip()}"})
    record = api.get(f"/api/v1/enterprises/{uscc}").json()
    cases = api.get("/api/v1/approvals").json()["items"]
    urgent = next(c for c in cases if c["stage"] is not None)   # the API's order

    page = browser.new_page()
    browser_login(page, demo_site.url, account["username"], account["password"])
    assert page.url == f"{demo_site.url}/enterprise/"
    assert page.locator("h1").first.inner_text() == record["name"]
    assert page.locator("#effective-tier strong").inner_text() == record["effective_tier_label"]
    assert page.locator("#count-cases").inner_text() == str(
        sum(1 for c in cases if c["status"] not in ("approved", "rejected", "withdrawn")))
    screenshot(page, "enterprise-home")

    page.click("nav.subnav >> text=审批事项")
    page.wait_for_load_state("load")
    first = page.locator("#cases tbody tr").first
    assert first.get_attribute("data-case") == str(urgent["id"])
    first.locator("a").first.click()
    page.wait_for_load_state("load")
    assert page.url == f"{demo_site.url}/enterprise/approvals/{urgent['id']}"
    for s in urgent["stages"]:
        row = page.locator(f"#stages tr[data-stage='{s['stage']}']")
        assert row.locator("[data-field='working_days_used']").inner_text() == str(
            s["working_days_used"])
        assert row.locator("[data-field='working_days_left']").inner_text() == str(
            s["working_days_left"])
    assert page.locator("#history li").count() == len(
        api.get(f"/api/v1/approvals/{urgent['id']}/history").json()["items"])
    screenshot(page, "enterprise-case")
