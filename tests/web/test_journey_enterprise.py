"""The demo enterprise in Chromium: draws the area it needs on the map with the mouse
(Leaflet-Geoman), submits the demand, sees its ranked matches on the map, and files a
green-channel approval case for the best offering. Every figure is checked against the API;
every request stays on the demo server."""

from __future__ import annotations

import json
import re

import httpx

from tests.web.conftest import browser_login, screenshot


def _park_and_offering(api: httpx.Client, district: str) -> tuple[dict, dict]:
    """A demo park and the published offering nearest it, as near the enterprise as the
    demo has them: in its district, else its city, else anywhere in the province."""
    for where in (district, district[:4], None):
        scope = {"district": where} if where else {}
        found_parks = api.get("/api/v1/parks", params={"limit": 500} | scope).json()["features"]
        found = api.get("/api/v1/offerings", params={"status": "published", "limit": 500}
                        | scope).json()["features"]
        if found_parks and found:
            def gap(pair):
                (pw, ps, pe, pn), (ow, os_, oe, on) = (_bounds(g["geometry"]) for g in pair)
                return abs((pw + pe) - (ow + oe)) + abs((ps + pn) - (os_ + on))

            return min(((p, o) for p in found_parks for o in found), key=gap)
    raise AssertionError("the demo has no park with a published offering")


def _bounds(geometry: dict) -> tuple[float, float, float, float]:
    coords = []

    def walk(part):
        if isinstance(part[0], int | float):
            coords.append(part)
        else:
            for p in part:
                walk(p)

    walk(geometry["coordinates"])
    lons, lats = [c[0] for c in coords], [c[1] for c in coords]
    return min(lons), min(lats), max(lons), max(lats)


def test_the_demo_enterprise_draws_its_demand_and_files_a_case(demo_site, browser):
    account = demo_site.accounts["enterprise"]
    uscc = account["enterprise_uscc"]
    made = demo_site.cli("token", "create", "--role", "enterprise", "--enterprise", uscc)
    assert made.returncode == 0, made.stderr
    api = httpx.Client(base_url=demo_site.url, timeout=30,
                       headers={"Authorization": f"Bearer {made.stdout.strip()}"})
    record = api.get(f"/api/v1/enterprises/{uscc}").json()
    park, target = _park_and_offering(api, record["district"])
    # The polygon: around the park and that offering, a little wider.
    pw, ps, pe, pn = _bounds(park["geometry"])
    ow, os_, oe, on = _bounds(target["geometry"])
    w, s, e, n = min(pw, ow), min(ps, os_), max(pe, oe), max(pn, on)
    dx, dy = (e - w) * 0.15 + 0.002, (n - s) * 0.15 + 0.002
    w, s, e, n = w - dx, s - dy, e + dx, n + dy
    vertices = [(w, s), (e, s), (e, n), ((w + e) / 2, n + dy), (w, n)]  # lon, lat

    page = browser.new_page()
    errors, hosts = [], set()
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("response", lambda resp: errors.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 and not resp.url.endswith("/favicon.ico") else None)
    page.on("request", lambda req: hosts.add(re.match(r"^[a-z]+://([^/:]+)", req.url)[1])
            if req.url.startswith("http") else None)
    browser_login(page, demo_site.url, account["username"], account["password"])
    page.goto(f"{demo_site.url}/enterprise/demands/new", wait_until="networkidle")
    assert page.locator("h1").first.inner_text() == "提出用地需求"

    # -- draw with the mouse -------------------------------------------------------------
    page.evaluate("b => landsvcDemandMap.fitBounds(b, {animate: false, padding: [40, 40]})",
                  [[s, w], [n + dy, e]])
    page.locator("#draw-map").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = page.locator("#draw-map").bounding_box()  # in the viewport, where the mouse is
    page.locator("#draw-map .leaflet-pm-icon-polygon").click()
    points = []
    for lon, lat in vertices:
        p = page.evaluate("ll => landsvcDemandMap.latLngToContainerPoint(ll)", [lat, lon])
        points.append((box["x"] + p["x"], box["y"] + p["y"]))
    for x, y in [*points, points[0]]:  # back on the first vertex: the polygon is finished
        page.mouse.move(x, y, steps=4)
        page.mouse.click(x, y)
        page.wait_for_timeout(350)
    drawn = json.loads(page.locator("#f-within").input_value())
    assert drawn["type"] == "Polygon"
    ring = drawn["coordinates"][0]
    assert len(ring) == len(vertices) + 1 and ring[0] == ring[-1]
    metres_per_pixel = page.evaluate(
        "() => { const c = landsvcDemandMap.getCenter(), p = landsvcDemandMap.latLngToContainerPoint(c);"
        " return c.distanceTo(landsvcDemandMap.containerPointToLatLng([p.x + 1, p.y])); }")
    for (lon, lat), (glon, glat) in zip(vertices, ring[:-1], strict=True):
        off_m = ((glon - lon) * 111_320 * 0.92) ** 2 + ((glat - lat) * 111_320) ** 2
        assert off_m ** 0.5 < 3 * metres_per_pixel + 1, (lon, lat, glon, glat)
    assert page.locator("#draw-status").inner_text().startswith("已画出区域")

    # -- the rest of the form ------------------------------------------------------------
    page.select_option("#f-area_unit", "mu")
    page.fill("#f-area_min", "1")
    page.fill("#f-area_max", "5000")
    page.check(f"input[name=supply_modes][value={target['properties']['supply_mode']}]")
    page.fill("#f-industry_code", record.get("industry_code") or "C39")
    page.fill("#f-needed_by_date", "2027-12-31")
    screenshot(page, "enterprise-draw")

    # A refusal first (the smallest area above the largest): the page comes back with the
    # service's message at the field, and the polygon drawn again from the kept field.
    page.fill("#f-area_min", "6000")
    page.click("button:has-text('提交需求并查看匹配')")
    page.wait_for_load_state("networkidle")
    assert page.locator("#e-area_min").inner_text() == (
        f"最小面积 {6000 * 2000 / 3:.2f} ㎡ 大于最大面积 {5000 * 2000 / 3:.2f} ㎡")
    assert json.loads(page.locator("#f-within").input_value()) == drawn
    redrawn = page.evaluate(
        "() => { const found = []; landsvcDemandMap.eachLayer(l => {"
        " if (l instanceof L.Polygon && l.options.dashArray === '6 4')"
        " found.push(l.toGeoJSON().geometry); }); return found; }")
    assert len(redrawn) == 1
    assert [[round(c, 9) for c in p] for p in redrawn[0]["coordinates"][0]] == [
        [round(c, 9) for c in p] for p in ring]
    assert page.locator("#f-area_unit").input_value() == "mu"
    assert page.locator("#f-needed_by_date").input_value() == "2027-12-31"
    errors[:] = [e for e in errors if not e.startswith("422 ")]  # the refusal itself
    page.fill("#f-area_min", "1")
    page.click("button:has-text('提交需求并查看匹配')")
    page.wait_for_url(re.compile(r".*/enterprise/demands/\d+$"))
    page.wait_for_load_state("networkidle")
    demand_id = int(page.url.rsplit("/", 1)[1])

    # -- the demand as stored, and its matches as the API ranks them ---------------------------
    demand = api.get(f"/api/v1/demands/{demand_id}").json()["properties"]
    assert demand["enterprise_uscc"] == uscc and demand["status"] == "open"
    assert demand["within"]["coordinates"][0] == [[round(c, 7) for c in p] for p in ring]
    assert demand["area_min_m2"] == round(2000 / 3, 2)
    assert demand["area_max_m2"] == round(5000 * 2000 / 3, 2)
    assert demand["supply_modes"] == [target["properties"]["supply_mode"]]
    assert demand["needed_by_date"] == "2027-12-31"
    expected = api.get(f"/api/v1/demands/{demand_id}/matches",
                       params={"kind": "offerings"}).json()["items"]
    assert target["id"] in [m["id"] for m in expected]
    shown = [int(i) for i in page.locator("li.match").evaluate_all(
        "els => els.map(e => e.id.replace('offering-', ''))")]
    assert shown == [m["id"] for m in expected]
    scores = page.locator("li.match .score strong").all_inner_texts()
    assert scores == [f"{m['score']:,.2f}" for m in expected]
    labels = page.locator("#match-map .match-rank.offering").all_inner_texts()
    assert labels == [str(i) for i in range(1, len(expected) + 1)]
    assert page.locator("#match-map path.leaflet-interactive").count() >= len(expected) + 1
    screenshot(page, "enterprise-matches")

    # -- apply for the best offering -----------------------------------------------------
    best = expected[0]["id"]
    page.click(f"a[href='/enterprise/demands/{demand_id}/apply?offering_id={best}']")
    page.wait_for_load_state("load")
    assert "排第 1 位" in page.locator("main").inner_text()
    page.fill("#f-project_name", "演示：智能装备扩产项目")
    page.fill("#f-investment_wan", "8500")
    page.click("button:has-text('提交审批申请')")
    page.wait_for_url(re.compile(r".*/enterprise/approvals/\d+$"))
    page.wait_for_load_state("networkidle")
    case_id = int(page.url.rsplit("/", 1)[1])
    case = api.get(f"/api/v1/approvals/{case_id}").json()
    assert (case["applicant_uscc"], case["offering_id"], case["demand_id"]) == (
        uscc, best, demand_id)
    assert case["project_name"] == "演示：智能装备扩产项目" and case["investment_wan"] == 8500
    assert case["channel"] == "green"  # the demo account is a little giant
    assert "演示：智能装备扩产项目" in page.locator("main").inner_text()
    screenshot(page, "enterprise-case-filed")

    assert errors == []
    assert hosts == {"127.0.0.1"}
    page.close()
