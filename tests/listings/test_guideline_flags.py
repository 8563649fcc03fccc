"""Listings show the guideline in force and are flagged above P75 plus the margin."""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from landsvc.fields import today
from tests.builders import BAOAN, HAIZHU
from tests.buildings.util import create_building, point
from tests.guidelines.helpers import group, records


def _published_guideline(client, tokens, session) -> dict:
    rng = np.random.default_rng(3)
    records(session, group(rng, 30, district="440306", point=BAOAN,
                           building_type="multi_storey", centre=30))
    year = str(today().year)
    draft = client.post("/api/v1/rent-guidelines/compute", json={"period": year},
                        headers=tokens["baoan"]).json()
    r = client.post(f"/api/v1/rent-guidelines/versions/{draft['id']}/publish",
                    json={"effective_date": today().isoformat()}, headers=tokens["baoan"])
    assert r.status_code == 200, r.text
    return next(i for i in r.json()["items"] if i["building_type"] == "multi_storey")


def _listing(client, headers, bid, rent, publish=True) -> dict:
    r = client.post("/api/v1/listings", headers=headers, json={
        "building_id": bid, "kind": "factory", "area_m2": 500, "rent_yuan_per_m2_month": rent})
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    if publish:
        r = client.post(f"/api/v1/listings/{lid}/transitions", json={"action": "publish"},
                        headers=headers)
    return r.json()


def test_guideline_and_flag(client, tokens, session):
    bid = create_building(client, tokens["admin"])["id"]  # multi-storey, Bao'an
    item = _published_guideline(client, tokens, session)
    threshold = round(item["p75"] * 1.3, 2)  # default margin 30 %
    ok = _listing(client, tokens["baoan"], bid, round(threshold - 0.01, 2))
    high = _listing(client, tokens["baoan"], bid, round(threshold + 0.01, 2))
    draft_high = _listing(client, tokens["baoan"], bid, threshold + 50, publish=False)
    g = ok["properties"]["guideline"]
    assert {k: g[k] for k in ("median", "p25", "p75", "weighted_mean", "samples", "source")} == {
        k: item[k] for k in ("median", "p25", "p75", "weighted_mean", "samples", "source")}
    assert g["flag_threshold"] == threshold and g["margin_percent"] == 30
    assert ok["properties"]["flags"] == []
    assert high["properties"]["flags"] == ["above_guideline"]
    assert draft_high["properties"]["flags"] == []  # only published listings are flagged
    # The public list and the page show the same figures
    page = client.get("/api/v1/listings", params={"district": "440306"}).json()
    shown = {f["id"]: f["properties"] for f in page["features"]}
    assert shown[high["id"]]["flags"] == ["above_guideline"]
    assert shown[ok["id"]]["guideline"]["median"] == item["median"]
    # The supervision list
    flagged = client.get("/api/v1/listings?flag=above_guideline", headers=tokens["baoan"])
    assert flagged.status_code == 200
    assert [f["id"] for f in flagged.json()["features"]] == [high["id"]]
    assert flagged.json()["numberMatched"] == 1
    admin = client.get("/api/v1/listings?flag=above_guideline", headers=tokens["admin"]).json()
    assert [f["id"] for f in admin["features"]] == [high["id"]]
    assert client.get("/api/v1/listings?flag=above_guideline",
                      headers=tokens["guangzhou"]).json()["features"] == []
    assert client.get("/api/v1/listings?flag=above_guideline",
                      headers=tokens["enterprise"]).status_code == 403
    assert client.get("/api/v1/listings?flag=above_guideline").status_code == 401
    assert client.get("/api/v1/listings?flag=cheap", headers=tokens["admin"]).status_code == 422
    # A later version elsewhere (Guangzhou, with a building there) leaves Bao'an's in force
    create_building(client, tokens["admin"], point(HAIZHU), name="广州厂房")
    records(session, group(np.random.default_rng(4), 12, district="440105", point=HAIZHU,
                           building_type="multi_storey", centre=50))
    gz = client.post("/api/v1/rent-guidelines/compute", json={"period": str(today().year)},
                     headers=tokens["guangzhou"]).json()
    client.post(f"/api/v1/rent-guidelines/versions/{gz['id']}/publish",
                json={"effective_date": today().isoformat()}, headers=tokens["guangzhou"])
    still = client.get(f"/api/v1/listings/{high['id']}").json()["properties"]
    assert still["guideline"]["version"] == item["version"]
    assert still["flags"] == ["above_guideline"]
    # A wider margin for Shenzhen clears the flag
    session.execute(text("INSERT INTO policy_setting (scope, name, value) "
                         "VALUES ('4403', 'guidelines.listing_margin_percent', '60')"))
    again = client.get(f"/api/v1/listings/{high['id']}").json()["properties"]
    assert again["flags"] == [] and again["guideline"]["margin_percent"] == 60


def test_no_guideline_no_flag(client, tokens):
    bid = create_building(client, tokens["admin"])["id"]
    listing = _listing(client, tokens["baoan"], bid, 999)
    assert listing["properties"]["guideline"] is None
    assert listing["properties"]["flags"] == []
