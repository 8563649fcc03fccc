"""The buildings API: points and footprints, field checks, Guangdong only, access, lists."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import func, select

from landsvc.buildings.models import Building
from tests.builders import BAOAN, FUTIAN, HAIZHU, HONG_KONG, bowtie, square
from tests.buildings.util import HOLDER, add_park, building, create_building, point


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Building))


def test_create_read_update_a_point_building(client, tokens):
    created = create_building(client, tokens["shenzhen"], building_type="多层厂房")
    props = created["properties"]
    assert created["geometry"] == {"type": "Point", "coordinates": list(BAOAN)}
    assert props == props | {
        "name": "宝安1号厂房", "building_type": "multi_storey", "building_type_label": "多层厂房",
        "floors": 6, "total_floor_area_m2": 6000.0, "completed": True, "holder_uscc": HOLDER,
        "holder_industry_code": "C3971", "freight_lift": True, "district": "440306",
        "district_name": "宝安区", "park_id": None,
    }
    r = client.get(f"/api/v1/buildings/{created['id']}")
    assert r.status_code == 200 and r.json() == created
    etag = r.headers["ETag"]

    r = client.patch(f"/api/v1/buildings/{created['id']}", json={"floors": 8},
                     headers=tokens["shenzhen"] | {"If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["floors"] == 8 and r.headers["ETag"] != etag
    assert r.json()["properties"]["name"] == "宝安1号厂房"
    stale = client.patch(f"/api/v1/buildings/{created['id']}", json={"floors": 9},
                         headers=tokens["shenzhen"] | {"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    assert client.get(f"/api/v1/buildings/{created['id']}").json()["properties"]["floors"] == 8


def test_a_footprint_is_stored_as_multipolygon_and_may_move(client, tokens):
    footprint = square(*FUTIAN, 60)
    created = create_building(client, tokens["shenzhen"],
                              shapely.geometry.mapping(footprint))
    assert created["geometry"]["type"] == "MultiPolygon"
    assert shapely.geometry.shape(created["geometry"]).equals_exact(
        shapely.MultiPolygon([footprint]), 1e-7)
    assert created["properties"]["district"] == "440304"
    moved = client.patch(f"/api/v1/buildings/{created['id']}",
                         json={"type": "Feature", "geometry": point(BAOAN)},
                         headers=tokens["shenzhen"])
    assert moved.status_code == 200, moved.text
    assert moved.json()["properties"]["district"] == "440306"
    assert moved.json()["geometry"]["type"] == "Point"


@pytest.mark.parametrize("props, field, code", [
    ({"name": None}, "name", "missing_value"),
    ({"name": "  "}, "name", "missing_value"),
    ({"name": "楼" * 201}, "name", "too_long"),
    ({"building_type": "tower"}, "building_type", "invalid_value"),
    ({"building_type": None}, "building_type", "missing_value"),
    ({"floors": 0}, "floors", "out_of_range"),
    ({"floors": 201}, "floors", "out_of_range"),
    ({"floors": None}, "floors", "missing_value"),
    ({"total_floor_area_m2": 0}, "total_floor_area_m2", "out_of_range"),
    ({"total_floor_area_m2": 0.004}, "total_floor_area_m2", "out_of_range"),  # rounds to 0.00
    ({"total_floor_area_m2": 1e12}, "total_floor_area_m2", "out_of_range"),
    ({"total_floor_area_m2": None}, "total_floor_area_m2", "missing_value"),
    ({"holder_uscc": "91440300MA5FXXXX1"}, "holder_uscc", "invalid_uscc"),     # 17 characters
    ({"holder_uscc": "91440300MA5FXXXXIX"}, "holder_uscc", "invalid_uscc"),    # I is not used
    ({"holder_industry_code": "C1"}, "holder_industry_code", "invalid_industry_code"),
    ({"holder_industry_code": "C39712"}, "holder_industry_code", "invalid_industry_code"),
    ({"holder_industry_code": "U39"}, "holder_industry_code", "invalid_industry_code"),
    ({"completed": "maybe"}, "completed", "validation_error"),
    ({"district": "440306"}, "district", "validation_error"),  # read-only
])
def test_each_field_is_checked_and_nothing_is_written(client, tokens, session, props, field,
                                                      code):
    before = count(session)
    r = client.post("/api/v1/buildings", json=building(**props), headers=tokens["admin"])
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code and field in r.json()["detail"]
    assert count(session) == before


@pytest.mark.parametrize("props", [
    {"floors": 1}, {"floors": 200}, {"total_floor_area_m2": 0.005},
    {"total_floor_area_m2": 999_999_999_999.99}, {"holder_industry_code": "c39"},
    {"holder_industry_code": "T9700"}, {"holder_uscc": "91440300ma5fxxxx1x"},
    {"holder_uscc": None, "holder_name": None, "holder_industry_code": None},
    {"building_type": "高层厂房"},
])
def test_values_just_inside_the_limits_are_taken(client, tokens, props):
    created = create_building(client, tokens["admin"], **props)["properties"]
    if "floors" in props:
        assert created["floors"] == props["floors"]
    if props.get("total_floor_area_m2") == 0.005:
        assert created["total_floor_area_m2"] == 0.01
    if "holder_industry_code" in props and props["holder_industry_code"]:
        assert created["holder_industry_code"] == props["holder_industry_code"].upper()
    if props.get("holder_uscc"):
        assert created["holder_uscc"] == HOLDER


@pytest.mark.parametrize("geometry, code, word", [
    (point(HONG_KONG), "outside_guangdong", "广东省范围外"),
    (point((BAOAN[1], BAOAN[0])), "invalid_geometry", "是否颠倒"),  # lat/lon swapped
    (shapely.geometry.mapping(square(*HONG_KONG, 80)), "outside_guangdong", "广东省范围外"),
    (shapely.geometry.mapping(bowtie(*BAOAN)), "invalid_geometry", "Self-intersection"),
    ({"type": "LineString", "coordinates": [list(BAOAN), list(FUTIAN)]}, "invalid_geometry",
     "LineString"),
    ({"type": "Point", "coordinates": [200, 22]}, "invalid_geometry", "经纬度超出范围"),
    ({"type": "Polygon", "coordinates": [[1, 2]]}, "invalid_geometry", "geometry"),
    ({"type": "Point", "coordinates": []}, "invalid_geometry", "几何为空"),
])
def test_bad_or_outside_geometry_is_refused(client, tokens, session, geometry, code, word):
    before = count(session)
    r = client.post("/api/v1/buildings", json=building(geometry), headers=tokens["admin"])
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code and word in r.json()["detail"]
    assert count(session) == before


def test_writes_need_a_bureau_inside_its_jurisdiction(client, tokens, session):
    before = count(session)
    assert client.post("/api/v1/buildings", json=building()).status_code == 401
    r = client.post("/api/v1/buildings", json=building(), headers=tokens["enterprise"])
    assert r.status_code == 403
    r = client.post("/api/v1/buildings", json=building(), headers=tokens["guangzhou"])
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    assert count(session) == before

    created = create_building(client, tokens["baoan"])
    bid = created["id"]
    # Moving it out of Bao'an is outside the Bao'an bureau's jurisdiction: nothing changes.
    r = client.patch(f"/api/v1/buildings/{bid}", headers=tokens["baoan"],
                     json={"type": "Feature", "geometry": point(FUTIAN),
                           "properties": {"name": "新名"}})
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    r = client.patch(f"/api/v1/buildings/{bid}", json={"name": "新名"}, headers=tokens["guangzhou"])
    assert r.status_code == 403
    assert client.patch(f"/api/v1/buildings/{bid}", json={"name": "x"}).status_code == 401
    assert client.get(f"/api/v1/buildings/{bid}").json() == created
    # Buildings are public inventory.
    assert client.get(f"/api/v1/buildings/{bid}", headers=tokens["enterprise"]).json() == created
    assert client.patch("/api/v1/buildings/999999", json={"name": "x"},
                        headers=tokens["admin"]).status_code == 404
    assert client.get("/api/v1/buildings/999999").status_code == 404


def test_park_is_derived_and_read_only(client, tokens, session):
    park = add_park(session, BAOAN)
    inside = create_building(client, tokens["admin"])
    outside = create_building(client, tokens["admin"], point((BAOAN[0] + 0.05, BAOAN[1])))
    assert inside["properties"]["park_id"] == park
    assert outside["properties"]["park_id"] is None
    r = client.patch(f"/api/v1/buildings/{inside['id']}", json={"park_id": 7},
                     headers=tokens["admin"])
    assert r.status_code == 422 and "park_id" in r.json()["detail"]
    r = client.get("/api/v1/buildings", params={"park": park})
    assert [f["id"] for f in r.json()["features"]] == [inside["id"]]


def test_filters_and_paging(client, tokens):
    made = {
        "futian-high": create_building(client, tokens["admin"], point(FUTIAN),
                                       building_type="high_rise"),
        "baoan-single": create_building(client, tokens["admin"], building_type="single_storey",
                                        floors=1),
        "baoan-multi": create_building(client, tokens["admin"],
                                       point((BAOAN[0] + 0.01, BAOAN[1]))),
        "haizhu-multi": create_building(client, tokens["admin"], point(HAIZHU)),
    }
    ids = {name: b["id"] for name, b in made.items()}

    def found(**params):
        r = client.get("/api/v1/buildings", params=params | {"limit": 1000})
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["features"]} & set(ids.values())

    assert found() == set(ids.values())
    assert found(district="4403") == {ids["futian-high"], ids["baoan-single"], ids["baoan-multi"]}
    assert found(district="440306") == {ids["baoan-single"], ids["baoan-multi"]}
    assert found(building_type="multi_storey") == {ids["baoan-multi"], ids["haizhu-multi"]}
    box = f"{BAOAN[0] - 0.001},{BAOAN[1] - 0.001},{BAOAN[0] + 0.001},{BAOAN[1] + 0.001}"
    assert found(bbox=box) == {ids["baoan-single"]}

    url, seen = "/api/v1/buildings?limit=3", []
    while url:
        body = client.get(url).json()
        assert body["numberReturned"] == len(body["features"]) <= 3
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == body["numberMatched"] and set(seen) >= set(ids.values())

    for params in ({"building_type": "tower"}, {"district": "44x"}, {"park": "a"},
                   {"limit": 1001}):
        r = client.get("/api/v1/buildings", params=params)
        assert r.status_code == 422 and set(r.json()) == {"detail", "code"}
    assert client.get("/api/v1/buildings", params={"bbox": "1,2,3"}).status_code == 400
