"""OGC API – Features at /ogcapi: documents, paging, bbox, limits, errors and CORS."""

from __future__ import annotations

import io
import json
import re

import geopandas as gpd
import pytest
import shapely

from landsvc import lists
from landsvc.config import get_settings
from landsvc.districts.service import DIVISIONS_FILE
from tests.builders import BAOAN, FUTIAN, HAIZHU, feature, square

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CLASS = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

# A quiet corner of 南山区 (440305) for a grid of parcels: 5 columns, 0.002° apart.
ORIGIN = (113.93, 22.52)
STEP = 0.002


def upload(client, rows, headers):
    body = json.dumps({"type": "FeatureCollection", "features": rows}).encode()
    r = client.post("/api/v1/parcels/import", headers=headers,
                    files={"file": ("p.geojson", io.BytesIO(body), "application/geo+json")})
    assert r.status_code == 200, r.text
    return r.json()


def grid_square(i: int) -> shapely.Polygon:
    return square(ORIGIN[0] + STEP * (i % 5), ORIGIN[1] + STEP * (i // 5), 60)


@pytest.fixture
def grid(client, tokens, session) -> dict[str, shapely.Polygon]:
    """23 visible parcels G-00…G-22 and one withdrawn, W-23: code -> geometry."""
    rows = [feature(grid_square(i), code=f"G-{i:02d}") for i in range(23)]
    rows.append(feature(grid_square(23), code="W-23", status="withdrawn"))
    upload(client, rows, tokens["admin"])
    return {f"G-{i:02d}": grid_square(i) for i in range(23)}


def grid_box() -> str:
    return f"{ORIGIN[0] - 0.01},{ORIGIN[1] - 0.01},{ORIGIN[0] + 0.02},{ORIGIN[1] + 0.02}"


def walk(client, url: str) -> list[dict]:
    """Every page from ``url`` on, following rel=next; checks each page's own members."""
    pages = []
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/geo+json"
        body = r.json()
        assert body["type"] == "FeatureCollection"
        assert body["numberReturned"] == len(body["features"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timeStamp"])
        pages.append(body)
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        assert len(nxt) <= 1
        url = nxt[0] if nxt else None
    return pages


def codes_of(pages: list[dict]) -> list[str]:
    return [f["properties"]["code"] for page in pages for f in page["features"]]


# -- landing, conformance, collections -----------------------------------------------------
def test_landing_page_links_resolve(client):
    r = client.get("/ogcapi")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    links = {link["rel"]: link for link in r.json()["links"]}
    assert set(links) == {"self", "service-desc", "service-doc", "conformance", "data"}
    assert links["self"]["href"] == "http://testserver/ogcapi"
    desc = links["service-desc"]
    assert desc == {"href": "http://testserver/openapi.json", "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                    "title": "OpenAPI 接口定义"}
    document = client.get(desc["href"]).json()
    assert document["openapi"].startswith("3.")
    assert "/ogcapi/collections/{collection_id}/items" in document["paths"]
    assert client.get(links["service-doc"]["href"]).status_code == 200

    assert client.get(links["conformance"]["href"]).json() == {"conformsTo": [CORE, GEOJSON_CLASS]}
    data = client.get(links["data"]["href"])
    assert data.status_code == 200 and data.json()["collections"]
    assert client.get("/ogcapi", params={"f": "json"}).json() == r.json()


def test_collections_describe_every_collection(client):
    body = client.get("/ogcapi/collections").json()
    assert body["links"] == [{"href": "http://testserver/ogcapi/collections", "rel": "self",
                              "type": "application/json"}]
    ids = [c["id"] for c in body["collections"]]
    assert ids == [c for c in ["districts", "parks", "parcels", "offerings", "listings"]
                   if c in ids] and set(API) <= set(ids)
    for info in body["collections"]:
        title = info["title"]
        assert re.search(r"[\u4e00-\u9fff]", title) and re.search(r"[A-Za-z]", title), title
        assert info["description"] and info["itemType"] == "feature"
        assert info["extent"] == {"spatial": {"bbox": [[109.6, 20.1, 117.4, 25.6]],
                                              "crs": CRS84}}
        assert info["crs"] == [CRS84]
        url = f"http://testserver/ogcapi/collections/{info['id']}"
        rels = {link["rel"]: link for link in info["links"]}
        assert rels["self"]["href"] == url and rels["self"]["type"] == "application/json"
        assert rels["items"] == {"href": url + "/items", "rel": "items",
                                 "type": "application/geo+json", "title": title}
        one = client.get(url)
        assert one.status_code == 200 and one.json() == info
        assert client.get(url + "/items", params={"limit": 1}).status_code == 200


def test_divisions_extent_lies_inside_the_declared_extent():
    path = get_settings().geodata_dir / DIVISIONS_FILE
    minx, miny, maxx, maxy = gpd.read_file(path).total_bounds
    assert minx > 109.6 and miny > 20.1 and maxx < 117.4 and maxy < 25.6


def test_unknown_collection_and_feature_are_404(client, grid):
    for url in ("/ogcapi/collections/roads", "/ogcapi/collections/roads/items",
                "/ogcapi/collections/roads/items/1"):
        r = client.get(url)
        assert r.status_code == 404 and r.json()["code"] == "unknown_collection"
        assert set(r.json()) == {"detail", "code"} and "parcels" in r.json()["detail"]
    for fid in ("999999999", "abc", "1.5", "-1", "9" * 40, "１"):
        r = client.get(f"/ogcapi/collections/parcels/items/{fid}")
        assert r.status_code == 404, fid
        assert set(r.json()) == {"detail", "code"} and r.json()["code"] == "not_found"
    # A city's adcode names a city, not a member of the districts collection.
    assert client.get("/ogcapi/collections/districts/items/440300").status_code == 404
    assert client.get("/ogcapi/collections/districts/items/440305").status_code == 200


# -- items: the same rows and properties as /api/v1 -----------------------------------------
def test_items_are_the_public_api_features(client, grid):
    box = grid_box()
    ogc = client.get("/ogcapi/collections/parcels/items", params={"bbox": box, "limit": 100})
    api = client.get("/api/v1/parcels", params={"bbox": box, "limit": 100})
    assert ogc.json()["features"] == api.json()["features"]
    assert sorted(codes_of([ogc.json()])) == sorted(grid)  # W-23 (withdrawn) is not there

    first = api.json()["features"][0]
    r = client.get(f"/ogcapi/collections/parcels/items/{first['id']}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    item = r.json()
    url = "http://testserver/ogcapi/collections/parcels"
    assert item.pop("links") == [
        {"href": f"{url}/items/{first['id']}", "rel": "self", "type": "application/geo+json"},
        {"href": url, "rel": "collection", "type": "application/json"},
    ]
    assert item == first == client.get(f"/api/v1/parcels/{first['id']}").json()


def test_withdrawn_parcel_is_never_an_item(client, grid, tokens):
    withdrawn = client.get("/api/v1/parcels", params={"status": "withdrawn", "bbox": grid_box()},
                           headers=tokens["admin"]).json()["features"]
    assert [f["properties"]["code"] for f in withdrawn] == ["W-23"]
    r = client.get(f"/ogcapi/collections/parcels/items/{withdrawn[0]['id']}",
                   headers=tokens["admin"])  # a token changes nothing: OGC API is public
    assert r.status_code == 404
    pages = walk(client, f"/ogcapi/collections/parcels/items?bbox={grid_box()}&limit=1000")
    assert "W-23" not in codes_of(pages)


def test_district_items_match_the_districts_api(client):
    r = client.get("/ogcapi/collections/districts/items/440304")
    item = r.json()
    item.pop("links")
    assert item == client.get("/api/v1/districts/440304").json()
    assert item["id"] == "440304" and item["properties"]["name"] == "福田区"


API = {c: f"/api/v1/{c}" for c in ("districts", "parks", "parcels", "offerings", "listings")}
"""Each collection's /api/v1 list."""

USCC = "91440300MA5FXXXX1X"


def seed_supply(session) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """Parks, offerings in every state and listings in every state, through the services.

    Returns the ids anonymous callers may see per collection, and those they may not.
    """
    from landsvc.buildings.service import create_building
    from landsvc.listings.service import create_listing, transition_listing
    from landsvc.offerings.service import create_offering, transition_offering
    from landsvc.parcels.service import create_parcel
    from landsvc.parks.service import create_park

    def shape(geom) -> dict:
        return shapely.geometry.mapping(geom)

    public: dict[str, set[int]] = {"parks": set(), "offerings": set(), "listings": set()}
    hidden: dict[str, set[int]] = {"offerings": set(), "listings": set()}
    for i, (lon, lat) in enumerate([FUTIAN, BAOAN, HAIZHU]):
        park, _ = create_park(session=session, geometry=shape(square(lon, lat, 900)),
                              properties={"name": f"园区{i}", "featured_srdi": i == 0,
                                          "leading_industries": ["C39", "C3971"][:i + 1],
                                          "services": ["检测认证"]})
        public["parks"].add(park["id"])

    offered = [  # mode and fields, then the steps it takes
        ("transfer", {"term_years": 50, "start_price_wan": 800}, []),
        ("flexible_term_transfer", {"term_years": 20, "start_price_wan": 400}, ["publish"]),
        ("lease", {"term_years": 10, "annual_rent_yuan": 200_000, "appraised_price_wan": 1000},
         ["publish", "close"]),
        ("lease_then_transfer", {"lease_years": 5, "transfer_years": 40,
                                 "annual_rent_yuan": 200_000, "appraised_price_wan": 1000,
                                 "start_price_wan": 900, "conditions": {
                                     "investment_intensity_wan_per_mu": 500,
                                     "deadline_date": "2031-12-31"}},
         ["publish", "close", "award"]),
        ("lease_and_transfer", {"lease_share_percent": 40, "lease_years": 20,
                                "transfer_years": 50, "annual_rent_yuan": 80_000,
                                "appraised_price_wan": 1000, "start_price_wan": 600},
         ["publish", "close", "fail"]),
        ("transfer", {"term_years": 50, "start_price_wan": 500}, ["cancel"]),
    ]
    for i, (mode, fields, steps) in enumerate(offered):
        parcel, _ = create_parcel(session=session, geometry=shape(
            square(HAIZHU[0] + 0.004 * i, HAIZHU[1] + 0.01, 120)),
            properties={"code": f"OGC-OF-{i}"})
        offering, _ = create_offering(session=session, values={
            "parcel_id": parcel["id"], "supply_mode": mode, **fields})
        for action in steps:
            extra = {"awardee_uscc": USCC, "awardee_name": "深圳甲精密制造有限公司"} \
                if action == "award" else {}
            offering, _ = transition_offering(session=session, offering_id=offering["id"],
                                              action=action, **extra)
        seen = offering["properties"]["status"] in ("published", "closed", "awarded")
        (public if seen else hidden)["offerings"].add(offering["id"])

    building, _ = create_building(session=session, geometry={
        "type": "Point", "coordinates": list(BAOAN)}, properties={
        "name": "宝安1号厂房", "building_type": "multi_storey", "floors": 6,
        "total_floor_area_m2": 6000, "completed": True, "holder_uscc": USCC,
        "holder_name": "深圳甲精密制造有限公司", "holder_industry_code": "C3971",
        "freight_lift": True})
    flats, _ = create_building(session=session, geometry=shape(square(*FUTIAN, 40)), properties={
        "name": "福田人才公寓", "building_type": "high_rise", "floors": 20,
        "total_floor_area_m2": 20000, "completed": True})
    factory = {"kind": "factory", "area_m2": 500, "rent_yuan_per_m2_month": 35,
               "floor_load_kn_m2": 8, "clear_height_m": 6.5, "power_kva": 400}
    housing = {"kind": "affordable_housing", "area_m2": 1200, "units": 20,
               "rent_yuan_per_unit_month": 1500}
    listed = [(building, factory | {"floor": 1}, []), (building, factory | {"floor": 2},
              ["publish"]), (flats, housing, ["publish"]),
              (building, factory | {"floor": 3}, ["publish", "let"]),
              (building, factory | {"floor": 4}, ["withdraw"])]
    for home, fields, steps in listed:
        listing, _ = create_listing(session=session,
                                    properties={"building_id": home["id"], **fields})
        for action in steps:
            listing, _ = transition_listing(session=session, listing_id=listing["id"],
                                            action=action)
        seen = listing["properties"]["status"] == "published"
        (public if seen else hidden)["listings"].add(listing["id"])
    session.flush()
    return public, hidden


@pytest.fixture
def supply(session, grid) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    return seed_supply(session)


@pytest.mark.parametrize("collection", sorted(API))
def test_every_collection_is_its_public_api_list(client, supply, collection):
    public, _ = supply
    ogc = walk(client, f"/ogcapi/collections/{collection}/items?limit=7")
    api = client.get(API[collection], params={"limit": 1000})
    assert api.status_code == 200
    features = [f for page in ogc for f in page["features"]]
    assert features == api.json()["features"] and features
    if collection in public:
        assert {f["id"] for f in features} == public[collection]
    for one in features[:3] + features[-2:]:
        item = client.get(f"/ogcapi/collections/{collection}/items/{one['id']}").json()
        item.pop("links")
        assert item == one == client.get(f"{API[collection]}/{one['id']}").json()


@pytest.mark.parametrize("collection", ["offerings", "listings"])
def test_unpublished_supply_is_never_an_item(client, supply, tokens, collection):
    public, hidden = supply
    assert len(public[collection]) >= 2 and len(hidden[collection]) >= 2
    seen = {f["id"] for page in walk(client, f"/ogcapi/collections/{collection}/items?limit=2")
            for f in page["features"]}
    assert seen == public[collection] and not seen & hidden[collection]
    for fid in hidden[collection]:
        assert client.get(f"{API[collection]}/{fid}", headers=tokens["admin"]).status_code == 200
        r = client.get(f"/ogcapi/collections/{collection}/items/{fid}", headers=tokens["admin"])
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    for fid in public[collection]:
        assert client.get(f"/ogcapi/collections/{collection}/items/{fid}").status_code == 200


# -- property filters -----------------------------------------------------------------------
@pytest.mark.parametrize("collection, ogc, api, count", [
    ("districts", {"city_adcode": "4403"}, {"city": "4403"}, 9),       # Shenzhen's 9 districts
    ("parks", {"featured_srdi": "true"}, {"featured_srdi": "true"}, 1),
    ("parks", {"district": "440306"}, {"district": "440306"}, 1),
    ("parcels", {"land_source": "stock", "district": "4401"},
     {"land_source": "stock", "district": "4401"}, 6),                 # the offerings' parcels
    ("parcels", {"status": "offered"}, {"status": "offered"}, 2),      # published and closed
    ("offerings", {"supply_mode": "lease"}, {"supply_mode": "lease"}, 1),
    ("offerings", {"supply_mode": "先租后让"}, {"supply_mode": "lease_then_transfer"}, 1),
    ("offerings", {"status": "published", "district": "44"}, {"status": "published"}, 1),
    ("offerings", {"status": "draft"}, {"status": "draft"}, 0),        # never public
    ("listings", {"kind": "affordable_housing"}, {"kind": "affordable_housing"}, 1),
    ("listings", {"district": "440306"}, {"district": "440306"}, 1),
])
def test_property_filters_are_the_api_filters(client, supply, collection, ogc, api, count):
    pages = walk(client, f"/ogcapi/collections/{collection}/items?limit=3&"
                 + "&".join(f"{k}={v}" for k, v in ogc.items()))
    features = [f for page in pages for f in page["features"]]
    assert pages[0]["numberMatched"] == len(features) == count
    want = client.get(API[collection], params=api | {"limit": 1000}).json()["features"]
    assert features == want
    for f in features:
        for key, value in api.items():
            if key in f["properties"]:
                got = str(f["properties"][key]).lower()
                assert got.startswith(value) if key == "district" else got == value, (key, got)


def test_park_filter_takes_the_park_id(client, supply, session):
    public, _ = supply
    park = min(public["parks"])  # 园区0 around 福田; the Futian flats stand in it
    r = client.get(f"/ogcapi/collections/listings/items?park_id={park}&limit=100").json()
    assert [f["properties"]["park_id"] for f in r["features"]] == [park]
    r = client.get("/ogcapi/collections/listings/items?park_id=999999999").json()
    assert r["features"] == [] and r["numberMatched"] == 0


@pytest.mark.parametrize("collection, params", [
    ("parcels", {"status": "sold"}), ("parcels", {"land_source": ""}),
    ("offerings", {"supply_mode": "rent"}), ("parcels", {"district": "44x"}),
    ("parks", {"district": "4403001"}), ("parks", {"featured_srdi": "yes"}),
    ("listings", {"park_id": "abc"}), ("listings", {"kind": "house"}),
    ("districts", {"city_adcode": "440305"}), ("districts", {"city_adcode": "44"}),
])
def test_bad_filter_values_are_400(client, collection, params):
    r = client.get(f"/ogcapi/collections/{collection}/items", params=params)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_parameter" and next(iter(params)) in r.json()["detail"]


def test_a_filter_of_another_collection_is_ignored(client, grid):
    base = f"/ogcapi/collections/parcels/items?bbox={grid_box()}&limit=30"
    assert client.get(base + "&kind=house&supply_mode=x").json()["features"] == \
        client.get(base).json()["features"]


# -- paging ---------------------------------------------------------------------------------
def test_paging_follows_next_links_to_the_end(client, grid):
    pages = walk(client, f"/ogcapi/collections/parcels/items?bbox={grid_box()}&limit=10")
    assert [p["numberReturned"] for p in pages] == [10, 10, 3]
    # the first page counts; a later full page skips the count, the last one knows it
    assert [p.get("numberMatched") for p in pages] == [23, None, 23]
    assert sorted(codes_of(pages)) == sorted(grid) and len(set(codes_of(pages))) == 23
    ids = [f["id"] for p in pages for f in p["features"]]
    assert ids == sorted(ids)

    rels = [[link["rel"] for link in p["links"]] for p in pages]
    assert rels == [["self", "next", "collection"], ["self", "prev", "next", "collection"],
                    ["self", "prev", "collection"]]
    second = pages[1]["links"]
    nxt = next(link["href"] for link in second if link["rel"] == "next")
    prev = next(link["href"] for link in second if link["rel"] == "prev")
    assert "limit=10" in nxt and "offset=20" in nxt and "bbox=" in nxt
    assert "offset=0" in prev
    collection = next(link for link in second if link["rel"] == "collection")
    assert collection["href"] == "http://testserver/ogcapi/collections/parcels"
    assert client.get(prev).json()["features"] == pages[0]["features"]


def test_number_matched_is_left_out_rather_than_estimated(client, grid, monkeypatch):
    monkeypatch.setattr(lists, "EXACT_COUNT_LIMIT", 5)  # as if millions matched
    url = f"/ogcapi/collections/parcels/items?bbox={grid_box()}&limit=10"
    body = client.get(url).json()
    assert "numberMatched" not in body and body["numberReturned"] == 10
    api = client.get(f"/api/v1/parcels?bbox={grid_box()}&limit=10").json()
    assert api["numberMatchedExact"] is False  # /api/v1 answers its estimate
    assert sorted(codes_of(walk(client, url))) == sorted(grid)  # paging never needs it


def test_default_limit_is_ten_and_offset_past_the_end_is_empty(client, grid):
    body = client.get(f"/ogcapi/collections/parcels/items?bbox={grid_box()}").json()
    assert body["numberReturned"] == 10 and body["numberMatched"] == 23
    body = client.get(f"/ogcapi/collections/parcels/items?bbox={grid_box()}&offset=40").json()
    assert body["features"] == [] and "numberMatched" not in body  # unknown, not guessed
    assert [link["rel"] for link in body["links"]] == ["self", "prev", "collection"]


def test_districts_page_through_all_124(client):
    pages = walk(client, "/ogcapi/collections/districts/items?limit=50")
    ids = [f["id"] for p in pages for f in p["features"]]
    assert [p["numberReturned"] for p in pages] == [50, 50, 24]
    assert len(ids) == len(set(ids)) == 124 and ids == sorted(ids)
    assert [p.get("numberMatched") for p in pages] == [124, None, 124]


def test_too_large_limit_is_capped_not_refused(client, tokens):
    rows = [feature(square(ORIGIN[0] + 0.0008 * (i % 40), ORIGIN[1] + 0.0008 * (i // 40), 30),
                    code=f"C-{i:04d}") for i in range(lists.MAX_LIMIT + 1)]
    assert upload(client, rows, tokens["admin"])["imported"] == lists.MAX_LIMIT + 1
    box = f"{ORIGIN[0] - 0.001},{ORIGIN[1] - 0.001},{ORIGIN[0] + 0.04},{ORIGIN[1] + 0.03}"
    for asked in (5000, 10**30):
        body = client.get("/ogcapi/collections/parcels/items",
                          params={"bbox": box, "limit": asked}).json()
        assert body["numberReturned"] == lists.MAX_LIMIT
        assert body["numberMatched"] == lists.MAX_LIMIT + 1
        nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
        assert f"limit={lists.MAX_LIMIT}&offset={lists.MAX_LIMIT}" in nxt
        last = client.get(nxt).json()
        assert last["numberReturned"] == 1 and last["features"][0]["properties"]["code"] == \
            f"C-{lists.MAX_LIMIT:04d}"
    # /api/v1 refuses the same request
    assert client.get("/api/v1/parcels", params={"limit": 5000}).status_code == 422


# -- bbox -----------------------------------------------------------------------------------
def expected(grid: dict[str, shapely.Polygon], box: tuple[float, ...]) -> set[str]:
    window = shapely.box(*box)
    return {code for code, geom in grid.items() if geom.intersects(window)}


def test_bbox_matches_an_independent_computation(client, grid):
    g = grid["G-07"]  # column 2, row 1
    minx, miny, maxx, maxy = g.bounds
    eps = 1e-6  # ≈ 0.1 m
    boxes = [
        (minx - eps, miny - eps, minx + eps, miny + eps),   # touches G-07's corner
        (maxx + eps, miny, maxx + 2 * eps, maxy),           # just east of G-07: nothing
        (maxx - eps, miny, maxx + 2 * eps, maxy),           # just inside its east edge
        (ORIGIN[0], ORIGIN[1], ORIGIN[0] + 2.5 * STEP, ORIGIN[1] + 1.5 * STEP),
        (ORIGIN[0] - 0.5, ORIGIN[1] - 0.5, ORIGIN[0] + 0.5, ORIGIN[1] + 0.5),
        (ORIGIN[0] + 0.5 * STEP, ORIGIN[1] + 3.5 * STEP, ORIGIN[0] + 3.7 * STEP,
         ORIGIN[1] + 4.2 * STEP),
    ]
    wanted = [expected(grid, box) for box in boxes]
    assert wanted[0] == {"G-07"} and wanted[1] == set() and wanted[2] == {"G-07"}
    for box, want in zip(boxes, wanted, strict=True):
        text = ",".join(f"{v:.9f}" for v in box)
        pages = walk(client, f"/ogcapi/collections/parcels/items?bbox={text}&limit=7")
        assert set(codes_of(pages)) == want, box
        assert pages[0]["numberMatched"] == len(want)
        assert all(p.get("numberMatched") in (None, len(want)) for p in pages)


def test_bbox_on_districts_matches_the_boundary_file(client):
    frame = gpd.read_file(get_settings().geodata_dir / DIVISIONS_FILE)
    districts = frame[frame.level == "district"]
    for box in [(114.0, 22.5, 114.1, 22.6), (113.2, 23.0, 113.4, 23.2), (116.5, 23.3, 117.0, 23.5)]:
        want = set(districts[districts.intersects(shapely.box(*box))].adcode)
        pages = walk(client, "/ogcapi/collections/districts/items?limit=5&bbox="
                     + ",".join(map(str, box)))
        assert {f["id"] for p in pages for f in p["features"]} == want and len(want) >= 2


def test_bbox_with_heights_uses_lon_lat(client, grid):
    box = (ORIGIN[0], ORIGIN[1], ORIGIN[0] + 2.5 * STEP, ORIGIN[1] + 1.5 * STEP)
    text = f"{box[0]},{box[1]},-100,{box[2]},{box[3]},900"
    body = client.get(f"/ogcapi/collections/parcels/items?bbox={text}&limit=100").json()
    assert set(codes_of([body])) == expected(grid, box)


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("params, code", [
    ({"bbox": "1,2,3"}, "bad_query"), ({"bbox": "a,b,c,d"}, "bad_query"),
    ({"bbox": "114,23,113,22"}, "bad_query"), ({"bbox": "1,2,3,4,5"}, "bad_query"),
    ({"bbox": ""}, "bad_query"), ({"bbox": "0,0,200,1"}, "bad_query"),
    ({"limit": "0"}, "invalid_parameter"), ({"limit": "-1"}, "invalid_parameter"),
    ({"limit": "abc"}, "invalid_parameter"), ({"limit": "1.5"}, "invalid_parameter"),
    ({"limit": "1_0"}, "invalid_parameter"), ({"offset": "-3"}, "invalid_parameter"),
    ({"offset": "x"}, "invalid_parameter"), ({"f": "html"}, "unsupported_format"),
])
def test_bad_parameters_are_400(client, params, code):
    r = client.get("/ogcapi/collections/parcels/items", params=params)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"detail", "code"} and r.json()["code"] == code
    assert next(iter(params)) in r.json()["detail"]


@pytest.mark.parametrize("url", ["/ogcapi", "/ogcapi/conformance", "/ogcapi/collections",
                                 "/ogcapi/collections/parcels",
                                 "/ogcapi/collections/districts/items/440304"])
def test_only_json_is_offered(client, url):
    assert client.get(url, params={"f": "json"}).status_code == 200
    r = client.get(url, params={"f": "html"})
    assert r.status_code == 400 and r.json()["code"] == "unsupported_format"


def test_unknown_parameters_are_ignored(client, grid):
    base = f"/ogcapi/collections/parcels/items?bbox={grid_box()}&limit=30"
    plain = client.get(base).json()
    odd = client.get(base + "&colour=red&datetime=2026-01-01&sortby=name").json()
    assert odd["features"] == plain["features"] and odd["numberMatched"] == 23


# -- CORS -----------------------------------------------------------------------------------
def test_cors_on_ogcapi_only(client):
    origin = {"Origin": "https://maps.example.org"}
    for url in ("/ogcapi", "/ogcapi/collections/parcels/items", "/ogcapi/collections/nope"):
        r = client.get(url, headers=origin)
        assert r.headers["access-control-allow-origin"] == "*", url
        assert "access-control-allow-credentials" not in r.headers

    pre = client.options("/ogcapi/collections/parcels/items", headers=origin | {
        "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "accept"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert pre.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert pre.headers["access-control-allow-headers"] == "accept"
    assert "access-control-allow-credentials" not in pre.headers

    head = client.head("/ogcapi/collections", headers=origin)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert int(head.headers["content-length"]) == len(client.get("/ogcapi/collections").content)
    assert head.headers["access-control-allow-origin"] == "*"

    for url in ("/api/v1/parcels", "/api/v1/health", "/api/v1/districts/440304"):
        r = client.get(url, headers=origin)
        assert r.status_code == 200 and not any(h.startswith("access-control-")
                                                for h in r.headers), url
        pre = client.options(url, headers=origin | {"Access-Control-Request-Method": "GET"})
        assert pre.status_code == 405
        assert not any(h.startswith("access-control-") for h in pre.headers), url
    # writes are no business of the OGC API
    r = client.post("/ogcapi/collections", headers=origin)
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
