"""The demo's provincial bureau in Chromium: uploads a small GeoJSON parcel file with one bad
row and reads that row's index and reason in the import report; then takes a submitted case
from the approvals queue through accept → start_review → approve with the case page's forms,
and sees the queue change. Every figure is checked against the API; every request stays on
the demo server."""

from __future__ import annotations

import json
import re

import httpx

from tests.builders import bowtie, feature, square
from tests.web.conftest import browser_login, screenshot

SPOT = (113.2644, 23.1291)  # 广州市越秀区
STEPS = (("accept", "已受理", "材料齐全，予以受理（浏览器）"),
         ("start_review", "审查中", "审查完毕，提交决定（浏览器）"),
         ("approve", "已批准", "符合供地条件，予以批准（浏览器）"))


def _queue(page) -> list[tuple[int, str]]:
    """The queue's rows as shown: (case id, status)."""
    return [(int(row.get_attribute("data-id")), row.get_attribute("data-status"))
            for row in page.locator("#approval-queue tbody tr[data-id]").all()]


def test_the_demo_bureau_imports_parcels_and_approves_a_case(demo_site, browser, tmp_path):
    account = demo_site.accounts["bureau"]
    assert account["jurisdiction"] == "44"
    made = demo_site.cli("token", "create", "--role", "bureau", "--jurisdiction", "44")
    assert made.returncode == 0, made.stderr
    api = httpx.Client(base_url=demo_site.url, timeout=60,
                       headers={"Authorization": f"Bearer {made.stdout.strip()}"})

    page = browser.new_page()
    problems, hosts = [], set()
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("response", lambda resp: problems.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 and not resp.url.endswith("/favicon.ico")
            and not (resp.status == 422 and resp.url.endswith("/bureau/parcels/import"))
            else None)
    page.on("request", lambda req: hosts.add(re.match(r"^[a-z]+://([^/:]+)", req.url)[1])
            if req.url.startswith("http") else None)
    browser_login(page, demo_site.url, account["username"], account["password"])

    # -- a parcel file with one bad row: its index and reason in the report ----------------
    lon, lat = SPOT
    rows = [feature(square(lon, lat, 80), code="JOURNEY-BUREAU-1", land_source="stock"),
            feature(bowtie(lon + 0.002, lat), code="JOURNEY-BUREAU-2", land_source="stock"),
            feature(square(lon + 0.004, lat, 80), code="JOURNEY-BUREAU-3",
                    land_source="new_quota")]
    upload = tmp_path / "parcels.geojson"
    upload.write_text(json.dumps({"type": "FeatureCollection", "features": rows},
                                 ensure_ascii=False), encoding="utf-8")
    # what the API says of the same file (all or nothing: it writes nothing either)
    answer = api.post("/api/v1/parcels/import",
                      files={"file": ("parcels.geojson", upload.read_bytes(),
                                      "application/geo+json")})
    assert answer.status_code == 422, answer.text
    expected = answer.json()["report"]["rejected"]
    assert [r["index"] for r in expected] == [1]

    page.goto(f"{demo_site.url}/bureau/parcels/import", wait_until="load")
    page.set_input_files("#parcel-import input[type=file][name=file]#f-file", str(upload))
    page.locator("#parcel-import [type=submit]").first.click()
    page.wait_for_selector("#import-summary")
    report = page.locator("#import-report tr[data-index]")
    assert report.count() == 1
    assert report.first.get_attribute("data-index") == "1"
    reason = report.first.inner_text()
    assert expected[0]["reason"] in reason, (reason, expected)
    assert "JOURNEY-BUREAU-2" in reason
    screenshot(page, "bureau-upload-report")
    near = api.get("/api/v1/parcels", params={
        "bbox": f"{lon - .01},{lat - .01},{lon + .01},{lat + .01}"}).json()["features"]
    assert not [f for f in near if f["properties"]["code"].startswith("JOURNEY-BUREAU")]

    # -- the queue, in the API's order ---------------------------------------------------
    page.goto(f"{demo_site.url}/bureau/approvals", wait_until="load")
    before = _queue(page)
    listed = api.get("/api/v1/approvals", params={"limit": 50}).json()["items"]
    assert [i for i, _ in before] == [c["id"] for c in listed]
    assert [s for _, s in before] == [c["status"] for c in listed]
    enterprise = demo_site.accounts["enterprise"]["enterprise_uscc"]
    # a submitted case (or an accepted one), not the demo enterprise's own: its journey
    # reads those
    pick = next((c for wanted in ("submitted", "accepted") for c in listed
                 if c["status"] == wanted and c["applicant_uscc"] != enterprise), None)
    assert pick is not None, [c["status"] for c in listed]
    case_id = pick["id"]
    position = [i for i, _ in before].index(case_id)
    row = page.locator(f'#approval-queue tr[data-id="{case_id}"]')
    assert pick["status_label"] in row.inner_text()
    screenshot(page, "bureau-queue-before")

    # -- accept → start_review → approve through the case page's forms ---------------------
    row.locator(f'a[href="/bureau/approvals/{case_id}"]').click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text().startswith(f"用地审批 #{case_id}")
    steps = STEPS if pick["status"] == "submitted" else STEPS[1:]
    for action, label, comment in steps:
        form = page.locator(f"#step-{action}")
        assert form.count() == 1, page.locator("#case-actions").inner_text()
        form.locator(f"#f-{action}-comment").fill(comment)
        form.locator("button[type=submit]").click()
        page.wait_for_load_state("load")
        assert page.url == f"{demo_site.url}/bureau/approvals/{case_id}"
        assert label in page.locator("#case-status").inner_text()
        history = page.locator("#history li").last
        assert history.get_attribute("data-action") == action
        assert comment in history.inner_text()
    assert page.locator("#case-actions form").count() == 0
    screenshot(page, "bureau-case")
    case = api.get(f"/api/v1/approvals/{case_id}").json()
    assert case["status"] == "approved" and case["stage"] is None
    steps_taken = api.get(f"/api/v1/approvals/{case_id}/history").json()["items"]
    assert [(h["action"], h["comment"]) for h in steps_taken[-len(steps):]] == [
        (a, c) for a, _, c in steps]
    assert all(h["actor"] == f"bureau:44 user:{account['username']}"
               for h in steps_taken[-len(steps):])

    # -- the queue has changed ------------------------------------------------------------
    page.goto(f"{demo_site.url}/bureau/approvals", wait_until="load")
    after = _queue(page)
    assert [i for i, _ in after] == [c["id"] for c in
                                     api.get("/api/v1/approvals", params={"limit": 50})
                                     .json()["items"]]
    assert dict(after)[case_id] == "approved"
    assert "已批准" in page.locator(f'#approval-queue tr[data-id="{case_id}"]').inner_text()
    moved = [i for i, _ in after].index(case_id)
    open_rows = [n for n, (_, s) in enumerate(after)
                 if s not in ("approved", "rejected", "withdrawn")]
    assert all(n < moved for n in open_rows)  # behind every open case now
    assert moved != position or len(open_rows) == position
    screenshot(page, "bureau-queue-after")
    assert page.locator("#approval-queue tr.overdue").count() == sum(
        1 for c in api.get("/api/v1/approvals", params={"limit": 50}).json()["items"]
        if c["overdue"])

    # -- the demo's quota pool, as the API tells it ----------------------------------------
    pools = api.get("/api/v1/quota-pools").json()["items"]
    assert pools
    pool = api.get(f"/api/v1/quota-pools/{pools[0]['id']}").json()
    page.goto(f"{demo_site.url}/bureau/quota", wait_until="load")
    page.locator(f'#pools tr[data-id="{pool["id"]}"] a').click()
    page.wait_for_load_state("load")
    for key in ("total", "allocated", "remaining"):
        assert page.locator(f"#{key}-ha").inner_text() == f"{pool[key + '_ha']:,.4f} 公顷"
    assert page.locator("#quota-allocations tbody tr[data-id]").count() == len(
        pool["allocations"])
    screenshot(page, "bureau-quota")

    assert not problems, problems
    assert hosts == {"127.0.0.1"}, hosts
