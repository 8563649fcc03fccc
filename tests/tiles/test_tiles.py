"""GET /tiles/{layer}/{z}/{x}/{y}.pbf against PostGIS: decoded with mapbox-vector-tile and
compared with the rows and with tile coordinates worked out here from the Web Mercator
formulas (not from PostGIS)."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from sqlalchemy import func, select

from landsvc.districts.models import District
from landsvc.tiles.router import router as tiles_router
from landsvc.tiles.service import MAX_ZOOM, MEDIA_TYPE
from tests.builders import BAOAN, FUTIAN, HAIZHU, feature, square
from tests.buildings.util import add_park, create_building
from tests.offerings.test_rules import VALID

Z = 13


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, float, float]:
    """Tile x, y and the position inside it in 0–4096 units, y downwards (slippy-map
    formulas: x from longitude, y from the Mercator ordinate ln(tan φ + sec φ))."""
    n = 1 << z
    fx = (lon + 180) / 360 * n
    phi = math.radians(lat)
    fy = (1 - math.log(math.tan(phi) + 1 / math.cos(phi)) / math.pi) / 2 * n
    return int(fx), int(fy), (fx % 1) * 4096, (fy % 1) * 4096


@pytest.fixture
def tiles_client(client):
    """The app's client; the tile router is added when main does not include it yet."""
    if not any(getattr(r, "path", "").startswith("/tiles/") for r in client.app.routes):
        client.app.include_router(tiles_router)
    return client


def get(client, layer, z, x, y, headers=None, **params):
    return client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf", params=params, headers=headers or {})


def decode(r) -> dict:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MEDIA_TYPE
    return mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": True})


def codes(r, layer="parcels", key="code") -> set:
    if r.status_code == 204:
        assert r.content == b""
        return set()
    return {f["properties"][key] for f in decode(r)[layer]["features"]}


@pytest.fixture
def parcels(tiles_client, tokens):
    """T-1..T-3 near 福田 (T-3 withdrawn), T-9 at 广州塔: ids by code."""
    made = {}
    for code, (lon, lat), status in (("T-1", FUTIAN, "available"),
                                     ("T-2", (FUTIAN[0] + 0.002, FUTIAN[1]), "reserved"),
                                     ("T-3", (FUTIAN[0] - 0.002, FUTIAN[1]), "withdrawn"),
                                     ("T-9", HAIZHU, "available")):
        body = feature(square(lon, lat, 120), code=code, name=f"{code}号", status=status,
                       land_source="stock")
        r = tiles_client.post("/api/v1/parcels", json=body, headers=tokens["admin"])
        assert r.status_code == 201, r.text
        made[code] = r.json()["id"]
    return made


def test_parcels_tile_holds_the_public_parcels_with_their_facts(tiles_client, parcels, session):
    x, y, px, py = tile_of(*FUTIAN, Z)
    r = get(tiles_client, "parcels", Z, x, y)
    assert r.headers["cache-control"] == "public, max-age=60"
    layer = decode(r)["parcels"]
    assert layer["extent"] == 4096
    by_code = {f["properties"]["code"]: f for f in layer["features"]}
    # T-3 is withdrawn: the API hides it from anonymous callers, so do the tiles.
    assert set(by_code) == {"T-1", "T-2"}
    props = by_code["T-1"]["properties"]
    assert props["status"] == "available" and props["status_label"] == "可供应"
    assert props["land_source_label"] == "存量建设用地"
    assert props["district"] == "440304" and props["district_name"] == "福田区"
    assert props["id"] == parcels["T-1"] and props["name"] == "T-1号"
    # 120 m square: ~118 m at 22.5° N; a z13 tile is 40075 km·cos φ / 8192 ≈ 4.52 km wide,
    # so the square spans ≈ 120 / 4520 × 4096 ≈ 109 units around its centre.
    ring = by_code["T-1"]["geometry"]["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    assert abs((min(xs) + max(xs)) / 2 - px) <= 2 and abs((min(ys) + max(ys)) / 2 - py) <= 2
    assert 100 <= max(xs) - min(xs) <= 118
    assert by_code["T-1"]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_a_bureau_token_sees_its_withdrawn_parcel_privately(tiles_client, parcels, tokens):
    x, y, *_ = tile_of(*FUTIAN, Z)
    r = get(tiles_client, "parcels", Z, x, y, tokens["shenzhen"])
    assert codes(r) == {"T-1", "T-2", "T-3"}
    assert r.headers["cache-control"] == "private, no-store"
    assert codes(get(tiles_client, "parcels", Z, x, y, tokens["guangzhou"])) == {"T-1", "T-2"}
    r = get(tiles_client, "parcels", Z, x, y, {"Authorization": "Bearer nonsense"})
    assert r.status_code == 401


def test_filters_narrow_a_tile(tiles_client, parcels):
    x, y, *_ = tile_of(*FUTIAN, Z)
    assert codes(get(tiles_client, "parcels", Z, x, y, status="reserved")) == {"T-2"}
    assert codes(get(tiles_client, "parcels", Z, x, y, district="440306")) == set()
    assert codes(get(tiles_client, "parcels", Z, x, y, district="4403")) == {"T-1", "T-2"}
    r = get(tiles_client, "parcels", Z, x, y, status="sold")
    assert r.status_code == 422 and "status" in r.json()["detail"]
    r = get(tiles_client, "parcels", Z, x, y, supply_mode="lease")
    assert r.status_code == 422 and "supply_mode" in r.json()["detail"]
    r = get(tiles_client, "parcels", Z, x, y, district="12345")
    assert r.status_code == 422 and "district" in r.json()["detail"]


def test_empty_tiles_and_tiles_below_the_layers_zoom_are_204(tiles_client, parcels):
    x, y, *_ = tile_of(*FUTIAN, Z)
    r = get(tiles_client, "parcels", Z, x + 3, y)  # 13.5 km east of 福田: no parcel there
    assert r.status_code == 204 and r.content == b""
    assert r.headers["cache-control"] == "public, max-age=60"
    x11, y11, *_ = tile_of(*FUTIAN, 11)
    assert get(tiles_client, "parcels", 11, x11, y11).status_code == 204  # parcels from z12
    x12, y12, *_ = tile_of(*FUTIAN, 12)
    assert codes(get(tiles_client, "parcels", 12, x12, y12)) == {"T-1", "T-2"}
    xg, yg, *_ = tile_of(*HAIZHU, 12)
    assert codes(get(tiles_client, "parcels", 12, xg, yg)) == {"T-9"}
    x9, y9, *_ = tile_of(*FUTIAN, 9)
    assert codes(get(tiles_client, "districts", 9, x9, y9), "districts", "adcode")


@pytest.mark.parametrize(("path", "status"), [
    ("parcels/19/0/0", 404), ("parcels/-1/0/0", 404), ("parcels/3/8/0", 404),
    ("parcels/3/0/8", 404), ("parcels/3/-1/0", 404), ("roads/3/0/0", 404),
    ("parcels/a/0/0", 422), ("parcels/3/0/1.5", 422),
])
def test_bad_tiles(tiles_client, path, status):
    r = tiles_client.get(f"/tiles/{path}.pbf")
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert MAX_ZOOM == 18


def test_districts_tile_against_the_table(tiles_client, session):
    # z7 tile holding 深圳: every district whose polygon meets the tile (buffer included)
    # must be there; compare with the districts whose bbox PostGIS says intersects — a
    # superset check both ways on the codes that certainly lie inside (the tile's core).
    x, y, *_ = tile_of(*FUTIAN, 7)
    found = codes(get(tiles_client, "districts", 7, x, y), "districts", "adcode")
    n = 1 << 7
    west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    inside = set(session.scalars(select(District.adcode).where(func.ST_Within(
        District.geom, func.ST_MakeEnvelope(west, south, east, north, 4326)))))
    assert "440304" in inside and inside <= found
    assert {"440304", "440306"} <= found
    feature_props = {f["properties"]["adcode"]: f["properties"]
                     for f in decode(get(tiles_client, "districts", 7, x, y))["districts"]
                     ["features"]}
    assert feature_props["440304"]["name"] == "福田区"
    assert feature_props["440304"]["city_name"] == "深圳市"


def test_offerings_listings_and_parks_tiles(tiles_client, tokens, parcels, session):
    sz = tokens["shenzhen"]
    r = tiles_client.post("/api/v1/offerings", headers=sz, json={
        "parcel_id": parcels["T-1"], "supply_mode": "lease"} | VALID["lease"])
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    x, y, *_ = tile_of(*FUTIAN, Z)
    assert get(tiles_client, "offerings", Z, x, y).status_code == 204  # a draft is not public
    assert codes(get(tiles_client, "offerings", Z, x, y, sz), "offerings", "id") == {oid}
    r = tiles_client.post(f"/api/v1/offerings/{oid}/transitions", headers=sz,
                          json={"action": "publish"})
    assert r.status_code == 200, r.text
    props = decode(get(tiles_client, "offerings", Z, x, y))["offerings"]["features"][0][
        "properties"]
    assert props["supply_mode"] == "lease" and props["supply_mode_label"] == "长期租赁"
    assert props["parcel_code"] == "T-1" and props["status_label"] == "已发布"
    assert get(tiles_client, "offerings", Z, x, y, supply_mode="transfer").status_code == 204

    bid = create_building(tiles_client, tokens["admin"])["id"]
    r = tiles_client.post("/api/v1/listings", headers=tokens["admin"], json={
        "building_id": bid, "kind": "factory", "floor": 3, "area_m2": 800,
        "rent_yuan_per_m2_month": 28.5})
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    bx, by, *_ = tile_of(*BAOAN, Z)
    assert get(tiles_client, "listings", Z, bx, by).status_code == 204  # draft
    tiles_client.post(f"/api/v1/listings/{lid}/transitions", headers=tokens["admin"],
                      json={"action": "publish"})
    listing = decode(get(tiles_client, "listings", Z, bx, by))["listings"]["features"]
    assert [f["properties"]["id"] for f in listing] == [lid]
    assert listing[0]["geometry"]["type"] == "Point" and listing[0]["properties"]["kind_label"] == "厂房"
    assert listing[0]["properties"]["rent_yuan_per_m2_month"] == 28.5

    park = add_park(session, BAOAN, name="瓦片测试园区")
    found = decode(get(tiles_client, "parks", Z, bx, by))["parks"]["features"]
    assert {f["properties"]["id"]: f["properties"]["name"] for f in found}[park] == "瓦片测试园区"
