"""The public in Chromium, without signing in: opens the rent guide, sees the guideline table
and its date, goes to the offerings, filters them, opens one and sees its district's
guideline beside it. Every figure is checked against the API; no request leaves 127.0.0.1."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.web.conftest import screenshot
from tests.webmaps.pages import offline


def _target(api: httpx.Client, guided: set[str]) -> dict:
    """A published offering in a district with a guideline in force (else any published)."""
    found = api.get("/api/v1/offerings", params={"status": "published", "limit": 1000}).json()
    assert found["features"], "the demo has no published offering"
    return next((f for f in found["features"] if f["properties"]["district"] in guided),
                found["features"][0])


def test_the_public_reads_the_rent_guide_and_an_offering(demo_site, browser):
    api = httpx.Client(base_url=demo_site.url, timeout=30)
    in_force = api.get("/api/v1/rent-guidelines").json()
    assert in_force["items"], "the demo publishes a guideline"
    page, host, requests, problems = offline(browser, demo_site.url)
    responses = []
    page.on("response", lambda r: responses.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

    # -- the rent guide ------------------------------------------------------------------
    page.goto(f"{demo_site.url}/", wait_until="networkidle")
    assert page.locator("h1").first.inner_text() == "工业厂房租金指导价"
    meta = page.locator("#guide-version").inner_text()
    assert f"生效日期 {in_force['effective_date']}" in meta
    assert f"版本 {in_force['version']}" in meta
    rows = page.locator("table.guideline tbody tr")
    assert rows.count() == len(in_force["items"])
    first = in_force["items"][0]
    assert rows.first.locator("td").all_inner_texts()[:4] == [
        first["district_name"], first["zone_name"] or "全区", first["building_type_label"],
        f"{first['median']:,.2f}"]
    frame = page.frame_locator("iframe.rent-frame")
    frame.locator(".leaflet-container").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    screenshot(page, "public-home")

    # -- the offerings, filtered -----------------------------------------------------------
    guided = {i["district"] for i in in_force["items"]}
    target = _target(api, guided)
    district = target["properties"]["district"]
    mode = target["properties"]["supply_mode"]
    page.get_by_role("link", name="供地信息").first.click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == "/portal/offerings"
    page.select_option("#f-district", district)
    page.select_option("#f-supply_mode", mode)
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state("networkidle")
    assert parse_qs(urlsplit(page.url).query)["district"] == [district]
    expected = api.get("/api/v1/offerings", params={"district": district, "supply_mode": mode,
                                                    "limit": 20}).json()
    shown = [int(i) for i in page.locator("tr[data-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)")]
    assert shown == [f["id"] for f in expected["features"]]
    assert target["id"] in shown
    page.locator("#offerings-map[data-ready=true]").wait_for()
    drawn = page.locator("#offerings-map .leaflet-overlay-pane path.leaflet-interactive")
    assert drawn.count() == len(shown)
    screenshot(page, "public-offerings")

    # -- one offering and its district's guideline -----------------------------------------
    page.locator(f'a[href="/portal/offerings/{target["id"]}"]').first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text().startswith(
        f"供地 {target['id']} · {target['properties']['supply_mode_label']}")
    local = api.get("/api/v1/rent-guidelines", params={"district": district}).json()
    section = page.locator("#guideline")
    if local["items"]:
        assert section.locator("tbody tr").count() == len(local["items"])
        assert f"生效日期 {local['effective_date']}" in section.inner_text()
        assert {r.locator("td").nth(1).inner_text() for r in section.locator("tbody tr").all()} \
            == {i["building_type_label"] for i in local["items"]}
    else:
        assert "暂无现行的租金指导价" in section.inner_text()
    page.locator("#offering-map[data-ready=true]").wait_for()
    page.locator("#offering-map .leaflet-overlay-pane path.leaflet-interactive").click()
    popup = page.locator(".leaflet-popup-content").inner_text()
    assert popup.startswith(f"供地 {target['id']} · {target['properties']['supply_mode_label']}")
    page.wait_for_timeout(400)  # the popup fades in
    screenshot(page, "public-offering-detail")

    # -- a featured park and a listing with its guideline ----------------------------------
    page.get_by_role("link", name="特色园区").first.click()
    page.wait_for_load_state("networkidle")
    parks = api.get("/api/v1/parks", params={"featured_srdi": "true"}).json()["features"]
    park = parks[0]
    page.locator(f'a[href="/portal/parks/{park["id"]}"]').first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text().startswith(park["properties"]["name"])
    page.locator("#park-map[data-ready=true]").wait_for()
    in_park = api.get("/api/v1/offerings", params={"park": park["id"]}).json()
    assert f"园内供地（{in_park['numberMatched']}）" in page.locator("#offerings-title").inner_text()
    screenshot(page, "public-park")

    listings = api.get("/api/v1/listings", params={"kind": "factory", "limit": 1000}).json()
    listing = next((f for f in listings["features"] if f["properties"]["flags"]),
                   listings["features"][0])
    page.goto(f"{demo_site.url}/portal/listings/{listing['id']}", wait_until="networkidle")
    page.locator("#listing-map[data-ready=true]").wait_for()
    warned = page.locator(".alert.warn").count() == 1
    assert warned == ("above_guideline" in listing["properties"]["flags"])
    if listing["properties"]["guideline"]:
        assert f"{listing['properties']['guideline']['median']:,.2f}" in \
            page.locator("#guideline").inner_text()
    screenshot(page, "public-listing")

    left = [u for u in requests if u.startswith("http") and urlsplit(u).netloc != host]
    assert left == [], left
    assert problems == [] and responses == [], problems + responses
