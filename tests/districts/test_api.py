"""Guangdong's divisions: the data themselves, listing, lookup and point location."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text

from landsvc.config import get_settings
from tests.builders import BAOAN, BEIJING, DONGGUAN, FUTIAN, HAIZHU, HONG_KONG, ZHONGSHAN


@pytest.fixture(scope="module")
def divisions() -> gpd.GeoDataFrame:
    return gpd.read_file(get_settings().geodata_dir / "guangdong_divisions.geojson")


def test_all_cities_and_districts_are_served(client, divisions):
    districts = client.get("/api/v1/districts", params={"limit": 1000}).json()
    cities = client.get("/api/v1/districts", params={"level": "city"}).json()
    assert len(districts["features"]) == districts["numberMatched"] == 124
    assert len(cities["features"]) == 21
    city_codes = {f["id"] for f in cities["features"]}
    assert {f["properties"]["city_adcode"] for f in districts["features"]} == city_codes
    by_code = {f["id"]: f["properties"] for f in districts["features"]}
    assert by_code["441900"]["name"] == "东莞市" and by_code["441900"]["city_adcode"] == "441900"
    assert by_code["442000"]["name"] == "中山市" and by_code["442000"]["city_adcode"] == "442000"
    assert by_code["440306"] == {"adcode": "440306", "name": "宝安区", "level": "district",
                                 "city_adcode": "440300", "city_name": "深圳市"}
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in districts["features"])


def test_city_filter_takes_six_or_four_digits(client):
    six = client.get("/api/v1/districts", params={"city": "440300"}).json()
    four = client.get("/api/v1/districts", params={"city": "4403"}).json()
    assert six["features"] == four["features"] and six["numberMatched"] == 9
    assert {f["properties"]["name"] for f in six["features"]} == {
        "罗湖区", "福田区", "南山区", "宝安区", "龙岗区", "盐田区", "龙华区", "坪山区", "光明区"}
    r = client.get("/api/v1/districts", params={"city": "44030"})
    assert r.status_code == 422 and "city" in r.json()["detail"]


def test_district_list_pages_like_every_list(client):
    first = client.get("/api/v1/districts").json()
    assert first["numberReturned"] == 100 and first["numberMatched"] == 124
    (nxt,) = [link["href"] for link in first["links"] if link["rel"] == "next"]
    second = client.get(nxt).json()
    assert second["numberReturned"] == 24
    assert not [link for link in second["links"] if link["rel"] == "next"]
    codes = [f["id"] for f in first["features"] + second["features"]]
    assert codes == sorted(set(codes)) and len(codes) == 124


def test_districts_form_a_clean_coverage(session):
    """No overlaps between districts; each city is exactly the union of its districts."""
    overlap = session.scalar(text("""
        SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
        FROM district a JOIN district b ON a.adcode < b.adcode AND a.geom && b.geom
             AND ST_Intersects(a.geom, b.geom)"""))
    assert overlap < 10_000  # m²: slivers under 1 ha across 124 districts, i.e. none visible
    mismatch = session.execute(text("""
        SELECT c.adcode, ST_Area(ST_SymDifference(c.geom, ST_Union(d.geom))::geography)
        FROM city c JOIN district d ON d.city_adcode = c.adcode
        GROUP BY c.adcode, c.geom""")).all()
    assert len(mismatch) == 21 and max(m[1] for m in mismatch) < 1_000
    assert session.scalar(text("SELECT bool_and(ST_IsValid(geom)) FROM district"))


@pytest.mark.parametrize("point, adcode", [
    (FUTIAN, "440304"), (BAOAN, "440306"), (HAIZHU, "440105"), (DONGGUAN, "441900"),
    (ZHONGSHAN, "442000"),
])
def test_locate_known_places(client, point, adcode):
    r = client.get("/api/v1/districts/locate", params={"lon": point[0], "lat": point[1]})
    assert r.status_code == 200 and r.json()["id"] == adcode
    assert r.json() == client.get(f"/api/v1/districts/{adcode}").json()


@pytest.mark.parametrize("a, b", [("440304", "440305"), ("441900", "440306"),
                                  ("442000", "440606"), ("440106", "440105")])
def test_locate_either_side_of_a_border(client, divisions, a, b):
    """Points 30 m either side of a shared border, checked against shapely on the file."""
    ga = divisions[(divisions.adcode == a) & (divisions.level == "district")].geometry.iloc[0]
    gb = divisions[(divisions.adcode == b) & (divisions.level == "district")].geometry.iloc[0]
    border = shapely.line_merge(ga.boundary.intersection(gb.boundary))
    assert not border.is_empty, "the two districts must share a border"
    for frac in (0.3, 0.5, 0.7):
        p = border.interpolate(frac, normalized=True)
        q = border.interpolate(frac + 0.001, normalized=True)
        normal = np.array([-(q.y - p.y), q.x - p.x])
        normal *= 0.0003 / np.linalg.norm(normal)  # ≈ 30 m
        for sign in (1, -1):
            x, y = p.x + sign * normal[0], p.y + sign * normal[1]
            expect = a if ga.contains(shapely.Point(x, y)) else b
            if not (ga.contains(shapely.Point(x, y)) or gb.contains(shapely.Point(x, y))):
                continue  # the offset fell in a third district at a corner
            got = client.get("/api/v1/districts/locate", params={"lon": x, "lat": y}).json()
            assert got["id"] == expect, (frac, sign, x, y)


def test_locate_outside_guangdong_and_bad_input(client):
    for lon, lat in (HONG_KONG, BEIJING):
        r = client.get("/api/v1/districts/locate", params={"lon": lon, "lat": lat})
        assert r.status_code == 404 and r.json()["code"] == "outside_guangdong"
        assert "广东省" in r.json()["detail"]
    swapped = client.get("/api/v1/districts/locate", params={"lon": FUTIAN[1], "lat": FUTIAN[0]})
    assert swapped.status_code == 422 and "颠倒" in swapped.json()["detail"]
    assert client.get("/api/v1/districts/locate", params={"lon": 200, "lat": 23}
                      ).status_code == 422
    assert client.get("/api/v1/districts/locate", params={"lon": "x", "lat": 23}
                      ).status_code == 422
    assert client.get("/api/v1/districts/locate", params={"lon": 113}).status_code == 422


def test_get_city_or_district(client):
    assert client.get("/api/v1/districts/440300").json()["properties"]["level"] == "city"
    assert client.get("/api/v1/districts/440300").json()["properties"]["name"] == "深圳市"
    r = client.get("/api/v1/districts/999999")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_health_reports_postgis(client, session):
    want = session.scalar(text("SELECT postgis_lib_version()"))
    assert client.get("/api/v1/health").json() == {
        "status": "ok", "database": "ok", "postgis": want}
