"""Bureau console in a real browser: upload a parcel file with bad rows, read the report."""

from __future__ import annotations

import httpx

from tests.builders import BAOAN, FUTIAN, HONG_KONG, bowtie, feature, square, write_geojson
from tests.web.conftest import browser_login, screenshot


def parcel_count(base: str) -> int:
    answer = httpx.get(f"{base}/api/v1/parcels", params={"limit": 1}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["numberMatched"]


def test_upload_with_bad_rows_shows_the_report(demo_site, browser, tmp_path):
    account = demo_site.accounts["bureau"]
    path = write_geojson(tmp_path / "地块.geojson", [
        feature(square(*FUTIAN, 120), code="WEB-BROWSER-1", name="福田样例"),
        feature(bowtie(*BAOAN), code="WEB-BROWSER-2", name="自相交"),
        feature(square(*BAOAN, 90), code="WEB-BROWSER-3"),
        feature(square(*HONG_KONG, 80), code="WEB-BROWSER-4", name="境外"),
    ])
    page = browser.new_page()
    browser_login(page, demo_site.url, account["username"], account["password"])
    before = parcel_count(demo_site.url)
    page.goto(f"{demo_site.url}/bureau/parcels/import", wait_until="load")
    assert page.locator("form#parcel-import").count() == 1
    page.set_input_files("#f-file", str(path))
    with page.expect_navigation(wait_until="load"):
        page.click("form#parcel-import button[type=submit]")

    rows = page.locator("#import-report tbody tr")
    assert rows.count() == 2
    assert [rows.nth(i).get_attribute("data-index") for i in range(2)] == ["1", "3"]
    assert rows.nth(0).locator("td").nth(1).inner_text() == "WEB-BROWSER-2"
    assert rows.nth(0).locator("td").nth(2).inner_text().startswith("几何无效：Self-intersection")
    assert "位于广东省范围外" in rows.nth(1).locator("td").nth(2).inner_text()
    summary = page.locator("#import-summary").inner_text()
    assert "导入 0 行" in summary and "有误 2 行" in summary and "全部或全不" in summary
    # Each of the four rows is drawn on the map, as its shape and as a dot.
    page.wait_for_function(
        "document.querySelectorAll('#import-map .leaflet-overlay-pane path').length === 8",
        timeout=15000)
    screenshot(page, "bureau-import-report")
    assert parcel_count(demo_site.url) == before


def test_supply_pages_read_only_tour(demo_site, browser):
    """The lists, a detail page with its map, and the forms, as a bureau sees them."""
    account = demo_site.accounts["bureau"]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_login(page, demo_site.url, account["username"], account["password"])
    page.goto(f"{demo_site.url}/bureau/offerings?status=published", wait_until="load")
    rows = page.locator("#offering-list tbody tr[data-id]")
    assert rows.count() > 0
    assert all(rows.nth(i).locator(".badge").inner_text() == "已发布"
               for i in range(rows.count()))
    screenshot(page, "bureau-offerings")
    rows.first.locator("a").click()
    page.wait_for_load_state("load")
    page.wait_for_function(
        "document.querySelectorAll('#offering-map .leaflet-overlay-pane path').length === 1",
        timeout=15000)
    actions = page.locator("#offering-actions button")
    assert sorted(actions.nth(i).get_attribute("value") for i in range(actions.count())) == \
        ["cancel", "close"]
    screenshot(page, "bureau-offering-detail")
    page.goto(f"{demo_site.url}/bureau/offerings/new", wait_until="load")
    assert page.locator("#parcel-choices option").count() > 0
    screenshot(page, "bureau-offering-form")
    page.goto(f"{demo_site.url}/bureau/listings", wait_until="load")
    assert page.locator("#listing-list tbody tr[data-id]").count() > 0
    screenshot(page, "bureau-listings")
    page.locator("#listing-list tbody tr[data-id] a").first.click()
    page.wait_for_load_state("load")
    assert page.locator("#listing-actions").count() == 1
    screenshot(page, "bureau-listing-detail")
    page.goto(f"{demo_site.url}/bureau/buildings/new", wait_until="load")
    page.locator("#building-pick-map").click(position={"x": 300, "y": 150})
    assert page.input_value("#f-lon") and page.input_value("#f-lat")
    screenshot(page, "bureau-building-form")
    assert not errors, errors
