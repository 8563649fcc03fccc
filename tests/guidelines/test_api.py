"""Periods, publication, supersession and as_of, immutability, drafts and access."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from landsvc.errors import InvalidInput
from landsvc.guidelines.rules import parse_period
from tests.builders import BAOAN, FUTIAN, square
from tests.guidelines.helpers import group, records


@pytest.mark.parametrize("period, start, end", [
    ("2026", date(2026, 1, 1), date(2026, 12, 31)),
    ("2026H1", date(2026, 1, 1), date(2026, 6, 30)),
    ("2026h2", date(2026, 7, 1), date(2026, 12, 31)),
    ("2026Q1", date(2026, 1, 1), date(2026, 3, 31)),
    ("2024Q1", date(2024, 1, 1), date(2024, 3, 31)),
    ("2026Q3", date(2026, 7, 1), date(2026, 9, 30)),
    ("2026Q4", date(2026, 10, 1), date(2026, 12, 31)),
])
def test_periods(period, start, end):
    parsed = parse_period(period)
    assert (parsed.start, parsed.end) == (start, end)
    assert parsed.text == period.upper()


@pytest.mark.parametrize("bad", ["", "26", "2026H3", "2026Q5", "2026Q0", "2026-07", "1999",
                                 "2026 H1", "H12026", "2026Q3x"])
def test_bad_periods(bad):
    with pytest.raises(InvalidInput, match="period"):
        parse_period(bad)


def _leases(session, seed=1):
    rng = np.random.default_rng(seed)
    records(session, group(rng, 20, district="440306", point=BAOAN,
                           building_type="multi_storey", centre=30))


def compute(client, headers, period="2026H2", level="district"):
    return client.post("/api/v1/rent-guidelines/compute", json={"period": period, "level": level},
                       headers=headers)


def publish(client, headers, vid, day):
    return client.post(f"/api/v1/rent-guidelines/versions/{vid}/publish",
                       json={"effective_date": day}, headers=headers)


def test_compute_publish_and_public_read(client, tokens, session):
    _leases(session)
    r = compute(client, tokens["baoan"])
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft" and draft["scope"] == "440306"
    assert {(i["district"], i["building_type"]) for i in draft["items"]} == {
        ("440306", "multi_storey")}
    # Drafts: not public, not for another bureau, seen by the bureau and by ?version=
    assert client.get("/api/v1/rent-guidelines").json()["items"] == []
    assert client.get(f"/api/v1/rent-guidelines?version={draft['id']}").status_code == 404
    assert client.get(f"/api/v1/rent-guidelines?version={draft['id']}",
                      headers=tokens["guangzhou"]).status_code == 404
    seen = client.get(f"/api/v1/rent-guidelines?version={draft['id']}", headers=tokens["baoan"])
    assert seen.status_code == 200 and len(seen.json()["items"]) == 1
    listed = client.get("/api/v1/rent-guidelines/versions").json()["items"]
    assert draft["id"] not in [v["id"] for v in listed]
    # Publishing: another jurisdiction may not, the enterprise may not, the bureau may
    assert publish(client, tokens["guangzhou"], draft["id"], "2026-07-01").status_code == 404
    assert publish(client, tokens["enterprise"], draft["id"], "2026-07-01").status_code == 403
    assert publish(client, None, draft["id"], "2026-07-01").status_code == 401
    r = publish(client, tokens["baoan"], draft["id"], "2026-07-01")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "published" and r.json()["effective_date"] == "2026-07-01"
    assert publish(client, tokens["baoan"], draft["id"], "2026-07-01").status_code == 409
    answer = client.get("/api/v1/rent-guidelines",
                        params={"as_of": "2026-07-01", "district": "440306",
                                "building_type": "multi_storey"}).json()
    assert [i["version"] for i in answer["items"]] == [draft["id"]]
    assert answer["items"][0]["effective_date"] == "2026-07-01"
    assert client.get("/api/v1/rent-guidelines", params={"as_of": "2026-06-30"}).json()[
        "items"] == []


def test_access_to_compute(client, tokens, session):
    assert compute(client, tokens["enterprise"]).status_code == 403
    assert compute(client, None).status_code == 401
    r = compute(client, tokens["admin"])
    assert r.status_code == 201 and r.json()["scope"] == "44"


@pytest.mark.parametrize("body", [{"period": "2026H3"}, {"period": "20260"},
                                  {"period": "2026", "level": "city"}, {}])
def test_bad_compute_bodies(client, tokens, body):
    r = client.post("/api/v1/rent-guidelines/compute", json=body, headers=tokens["shenzhen"])
    assert r.status_code == 422, r.text
    assert r.json()["code"] in ("invalid_period", "validation_error")


def test_publishing_an_empty_computation_is_refused(client, tokens):
    draft = compute(client, tokens["guangzhou"], "2020").json()
    assert draft["items"] == []
    r = publish(client, tokens["guangzhou"], draft["id"], "2026-07-01")
    assert r.status_code == 422 and r.json()["code"] == "empty_computation"


def test_correction_supersedes_and_history_stays(client, tokens, session):
    _leases(session)
    first = compute(client, tokens["shenzhen"]).json()
    publish(client, tokens["shenzhen"], first["id"], "2026-07-01")
    _leases(session, seed=2)  # late registrations: a corrected computation
    second = compute(client, tokens["shenzhen"]).json()
    assert publish(client, tokens["shenzhen"], second["id"], "2026-08-01").status_code == 200
    # Same-day publication: the later one wins
    third = compute(client, tokens["shenzhen"]).json()
    assert publish(client, tokens["shenzhen"], third["id"], "2026-08-01").status_code == 200

    def in_force(day):
        items = client.get("/api/v1/rent-guidelines",
                           params={"as_of": day, "district": "440306",
                                   "building_type": "multi_storey"}).json()["items"]
        return [i["version"] for i in items]

    assert in_force("2026-07-15") == [first["id"]]
    assert in_force("2026-08-01") == [third["id"]]
    versions = {v["id"]: v for v in client.get("/api/v1/rent-guidelines/versions").json()["items"]}
    assert versions[second["id"]]["supersedes"] == first["id"]
    assert versions[first["id"]]["superseded_by"] == second["id"]
    assert versions[third["id"]]["supersedes"] == second["id"]
    old = client.get(f"/api/v1/rent-guidelines/versions/{first['id']}").json()
    assert old["status"] == "published"
    assert [i | {"effective_date": None} for i in old["items"]] == first["items"]
    counted = {}
    for v in (first["id"], second["id"]):
        item = client.get(f"/api/v1/rent-guidelines?version={v}&district=440306"
                          "&building_type=multi_storey").json()["items"][0]
        counted[v] = item["samples"] + item["excluded"]
    assert counted == {first["id"]: 20, second["id"]: 40}  # history keeps the first figures


def test_the_database_refuses_changes_to_a_published_version(client, tokens, session):
    _leases(session)
    vid = compute(client, tokens["shenzhen"]).json()["id"]
    publish(client, tokens["shenzhen"], vid, "2026-07-01")
    for statement in (
        "UPDATE rent_guideline_item SET median = median + 1 WHERE version_id = :v",
        "DELETE FROM rent_guideline_item WHERE version_id = :v",
        "UPDATE rent_guideline_version SET effective_date = '2026-01-01' WHERE id = :v",
        "DELETE FROM rent_guideline_version WHERE id = :v",
        "INSERT INTO rent_guideline_item (version_id, district, building_type, median, p25, p75,"
        " weighted_mean, samples, source, excluded) VALUES (:v, '440306', 'high_rise', 1, 1, 1,"
        " 1, 10, 'district', 0)",
    ):
        nested = session.begin_nested()
        with pytest.raises(DBAPIError, match="已发布的租金指导价版本"):
            session.execute(text(statement), {"v": vid})
        nested.rollback()
    # A draft can still be discarded
    draft = compute(client, tokens["shenzhen"]).json()["id"]
    session.execute(text("DELETE FROM rent_guideline_item WHERE version_id = :v"), {"v": draft})


def _zone(lon_lat, name="测试片区", side=2000):
    return {"name": name, "geometry": square(*lon_lat, side).__geo_interface__}


def test_zones_and_zone_level_fallback(client, tokens, session):
    assert client.post("/api/v1/rent-zones", json=_zone(BAOAN),
                       headers=tokens["guangzhou"]).status_code == 403
    assert client.post("/api/v1/rent-zones", json=_zone(BAOAN),
                       headers=tokens["enterprise"]).status_code == 403
    r = client.post("/api/v1/rent-zones", json=_zone(BAOAN), headers=tokens["baoan"])
    assert r.status_code == 201, r.text
    zone = r.json()
    assert zone["properties"]["district"] == "440306"
    assert client.post("/api/v1/rent-zones", json=_zone(BAOAN, "重叠"),
                       headers=tokens["baoan"]).status_code == 409
    small = client.post("/api/v1/rent-zones", json=_zone(FUTIAN, "福田片区", 500),
                        headers=tokens["shenzhen"]).json()
    rng = np.random.default_rng(7)
    # 12 leases inside the Bao'an zone; 3 in the Futian zone (too few: Futian's district
    # figures from 12 more leases outside the zone but inside Futian).
    records(session, group(rng, 12, district="440306", point=BAOAN,
                           building_type="multi_storey", centre=30))
    records(session, group(rng, 3, district="440304", point=FUTIAN,
                           building_type="multi_storey", centre=60))
    records(session, group(rng, 12, district="440304", point=(FUTIAN[0] + 0.02, FUTIAN[1]),
                           building_type="multi_storey", centre=60))
    r = compute(client, tokens["shenzhen"], "2026", "zone")
    assert r.status_code == 201, r.text
    items = {(i["zone"], i["building_type"]): i for i in r.json()["items"]}
    assert items[(zone["id"], "multi_storey")]["source"] == "zone"
    zone_item = items[(zone["id"], "multi_storey")]
    assert zone_item["samples"] + zone_item["excluded"] == 12
    assert items[(small["id"], "multi_storey")]["source"] == "district"
    futian = items[(small["id"], "multi_storey")]
    assert futian["samples"] + futian["excluded"] == 15  # the whole district's leases
    # city figures carry the types neither zone nor district have? none here: no high-rise
    assert (zone["id"], "high_rise") not in items
    listed = client.get("/api/v1/rent-zones", params={"district": "4403"}).json()
    assert {f["id"] for f in listed["features"]} == {zone["id"], small["id"]}


def test_bad_zone_geometry(client, tokens):
    bowtie = {"type": "Polygon", "coordinates": [[[113.8, 22.6], [113.81, 22.61], [113.81, 22.6],
                                                  [113.8, 22.61], [113.8, 22.6]]]}
    r = client.post("/api/v1/rent-zones", json={"name": "x", "geometry": bowtie},
                    headers=tokens["baoan"])
    assert r.status_code == 422 and "geometry" in r.json()["detail"]
