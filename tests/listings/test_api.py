"""The listings API: fields per kind, sublessors, lifecycle, who sees and writes, filters."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from landsvc.listings.models import Listing
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.builders import BAOAN, FUTIAN, HAIZHU, HONG_KONG
from tests.buildings.util import HOLDER, OTHER, add_park, create_building, point


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Listing))


def factory(bid, **fields) -> dict:
    return {"building_id": bid, "kind": "factory", "floor": 3, "area_m2": 800,
            "rent_yuan_per_m2_month": 28.5} | fields


def housing(bid, **fields) -> dict:
    return {"building_id": bid, "kind": "affordable_housing", "area_m2": 500, "units": 10,
            "rent_yuan_per_unit_month": 1500} | fields


def post(client, headers, body):
    return client.post("/api/v1/listings", json=body, headers=headers)


def create(client, headers, body) -> dict:
    r = post(client, headers, body)
    assert r.status_code == 201, r.text
    return r.json()


def act(client, headers, lid, action):
    return client.post(f"/api/v1/listings/{lid}/transitions", json={"action": action},
                       headers=headers)


@pytest.fixture
def bid(client, tokens) -> int:
    """A six-storey 6000 ㎡ building in Bao'an with a freight lift, held by the test enterprise."""
    return create_building(client, tokens["admin"])["id"]


def test_create_a_factory_listing(client, tokens, bid):
    created = create(client, tokens["shenzhen"], factory(bid, kind="标准厂房", floor_load_kn_m2=8,
                                                           clear_height_m=5.4, power_kva=630))
    assert created["geometry"] == {"type": "Point", "coordinates": list(BAOAN)}
    assert created["properties"] == created["properties"] | {
        "building_id": bid, "building_name": "宝安1号厂房", "building_type": "multi_storey",
        "building_type_label": "多层厂房", "kind": "standard_factory", "kind_label": "标准厂房",
        "status": "draft", "status_label": "草稿", "floor": 3, "area_m2": 800.0,
        "rent_yuan_per_m2_month": 28.5, "units": None, "rent_yuan_per_unit_month": None,
        "floor_load_kn_m2": 8.0, "clear_height_m": 5.4, "power_kva": 630.0,
        "freight_lift": True,                                 # the building's
        "landlord": "深圳甲精密制造有限公司", "landlord_kind": "owner",  # the building's holder
        "owner_authorisation_ref": None, "district": "440306", "district_name": "宝安区",
        "park_id": None, "published_at": None,
    }
    r = client.get(f"/api/v1/listings/{created['id']}", headers=tokens["shenzhen"])
    assert r.json() == created and r.headers["ETag"]


def test_a_housing_listing_takes_the_footprint_of_its_building(client, tokens):
    import shapely

    from tests.builders import square

    footprint = shapely.geometry.mapping(square(*FUTIAN, 50))
    b = create_building(client, tokens["admin"], footprint, building_type="high_rise", floors=30,
                        total_floor_area_m2=20000, freight_lift=False)
    created = create(client, tokens["admin"], housing(b["id"], floor=30))
    assert created["geometry"] == b["geometry"] and created["geometry"]["type"] == "MultiPolygon"
    props = created["properties"]
    assert props["units"] == 10 and props["rent_yuan_per_unit_month"] == 1500.0
    assert props["rent_yuan_per_m2_month"] is None and props["freight_lift"] is False
    assert props["district"] == "440304" and props["floor"] == 30


@pytest.mark.parametrize("body, code, words", [
    ({"floor": 0}, "floor_out_of_range", ["floor", "1–6"]),
    ({"floor": 7}, "floor_out_of_range", ["floor", "1–6"]),
    ({"area_m2": 6000.01}, "listing_exceeds_building", ["area_m2", "6000.00"]),
    ({"area_m2": 0}, "out_of_range", ["area_m2"]),
    ({"area_m2": None}, "missing_value", ["area_m2"]),
    ({"kind": "warehouse"}, "invalid_value", ["kind"]),
    ({"kind": None}, "missing_value", ["kind"]),
    ({"rent_yuan_per_m2_month": None}, "rent_required", ["rent_yuan_per_m2_month", "元/㎡·月"]),
    ({"units": 4}, "rent_basis_mismatch", ["units"]),
    ({"rent_yuan_per_m2_month": 0}, "out_of_range", ["rent_yuan_per_m2_month"]),
    ({"rent_yuan_per_m2_month": 1e8}, "out_of_range", ["rent_yuan_per_m2_month"]),
    ({"floor_load_kn_m2": 10000}, "out_of_range", ["floor_load_kn_m2"]),
    ({"clear_height_m": -1}, "out_of_range", ["clear_height_m"]),
    ({"power_kva": 0}, "out_of_range", ["power_kva"]),
    ({"landlord": "房" * 201}, "too_long", ["landlord"]),
    ({"landlord_kind": "agent"}, "invalid_value", ["landlord_kind"]),
    ({"landlord_kind": "sublessor"}, "sublessor_unauthorised", ["owner_authorisation_ref"]),
    ({"landlord_kind": "二房东（转租）", "owner_authorisation_ref": "  "},
     "sublessor_unauthorised", ["二房东"]),
    ({"building_id": 999999}, "unknown_reference", ["building_id", "999999"]),
    ({"building_id": None}, "missing_value", ["building_id"]),
    ({"status": "published"}, "validation_error", ["status"]),   # read-only
])
def test_factory_fields_are_checked_and_nothing_is_written(client, tokens, session, bid, body,
                                                           code, words):
    before = count(session)
    r = post(client, tokens["admin"], factory(bid, **body))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code, r.json()
    for word in words:
        assert word in r.json()["detail"]
    assert count(session) == before


@pytest.mark.parametrize("body, code, word", [
    ({"units": None}, "rent_required", "units"),
    ({"rent_yuan_per_unit_month": None}, "rent_required", "rent_yuan_per_unit_month"),
    ({"units": 0}, "out_of_range", "units"),
    ({"rent_yuan_per_m2_month": 30}, "rent_basis_mismatch", "rent_yuan_per_m2_month"),
])
def test_housing_is_let_by_the_unit(client, tokens, session, bid, body, code, word):
    before = count(session)
    r = post(client, tokens["admin"], housing(bid, **body))
    assert r.status_code == 422 and r.json()["code"] == code and word in r.json()["detail"]
    assert count(session) == before


def test_bounds_just_inside_and_a_sublessor_with_authorisation(client, tokens, bid):
    for fields in ({"floor": 1}, {"floor": 6}, {"area_m2": 6000}, {"area_m2": 0.01}):
        assert create(client, tokens["admin"], factory(bid, **fields))["properties"]
    sub = create(client, tokens["admin"], factory(
        bid, landlord_kind="sublessor", landlord="深圳乙物业管理有限公司",
        owner_authorisation_ref="宝安授权〔2026〕017号"))["properties"]
    assert sub["landlord_kind"] == "sublessor" and sub["landlord_kind_label"] == "二房东（转租）"
    assert sub["landlord"] == "深圳乙物业管理有限公司"
    assert sub["owner_authorisation_ref"] == "宝安授权〔2026〕017号"


def test_a_listing_cannot_lie_outside_guangdong(client, tokens, session, bid):
    # A listing's place is its building's, and no building lies outside Guangdong.
    r = client.post("/api/v1/buildings", headers=tokens["admin"], json={
        "type": "Feature", "geometry": point(HONG_KONG),
        "properties": {"name": "香港", "building_type": "high_rise", "floors": 3,
                       "total_floor_area_m2": 900}})
    assert r.status_code == 422 and r.json()["code"] == "outside_guangdong"
    listing = create(client, tokens["admin"], factory(bid))
    r = client.patch(f"/api/v1/buildings/{bid}", headers=tokens["admin"],
                     json={"type": "Feature", "geometry": point(HONG_KONG)})
    assert r.status_code == 422 and r.json()["code"] == "outside_guangdong"
    r = client.get(f"/api/v1/listings/{listing['id']}", headers=tokens["admin"])
    assert r.json()["geometry"]["coordinates"] == list(BAOAN)


# -- lifecycle ----------------------------------------------------------------------------
def test_lifecycle_and_its_409(client, tokens, bid):
    admin = tokens["admin"]
    lid = create(client, admin, factory(bid))["id"]
    r = act(client, admin, lid, "let")
    assert r.status_code == 409
    assert r.json() == {"detail": r.json()["detail"], "code": "illegal_transition",
                        "allowed": ["publish", "withdraw"]}
    assert "草稿" in r.json()["detail"]
    r = act(client, admin, lid, "publish")
    assert r.status_code == 200 and r.json()["properties"]["status"] == "published"
    assert r.json()["properties"]["published_at"] and r.headers["ETag"]
    assert act(client, admin, lid, "publish").json()["allowed"] == ["let", "withdraw"]
    # While published it may still change.
    r = client.patch(f"/api/v1/listings/{lid}", json={"rent_yuan_per_m2_month": 26},
                     headers=admin)
    assert r.status_code == 200 and r.json()["properties"]["rent_yuan_per_m2_month"] == 26.0
    assert act(client, admin, lid, "let").json()["properties"]["status"] == "let"
    r = act(client, admin, lid, "withdraw")
    assert r.status_code == 409 and r.json()["allowed"] == []
    r = client.patch(f"/api/v1/listings/{lid}", json={"rent_yuan_per_m2_month": 20},
                     headers=admin)
    assert r.status_code == 409 and r.json()["code"] == "listing_not_editable"
    r = client.get(f"/api/v1/listings/{lid}", headers=admin)
    assert r.json()["properties"]["rent_yuan_per_m2_month"] == 26.0
    r = act(client, admin, lid, "sell")
    assert r.status_code == 422 and r.json()["code"] == "validation_error"

    draft = create(client, admin, factory(bid))["id"]
    assert act(client, admin, draft, "withdraw").json()["properties"]["status"] == "withdrawn"
    assert client.patch(f"/api/v1/listings/{draft}", json={"floor": 2},
                        headers=admin).status_code == 409
    assert act(client, admin, 999999, "publish").status_code == 404


def test_patch_checks_the_whole_result_and_if_match(client, tokens, bid):
    admin = tokens["admin"]
    created = client.post("/api/v1/listings", json=factory(bid), headers=admin)
    lid, etag = created.json()["id"], created.headers["ETag"]
    # Becoming housing needs units, a per-unit rent, and no per-㎡ rent any more.
    r = client.patch(f"/api/v1/listings/{lid}", json={"kind": "affordable_housing"},
                     headers=admin)
    assert r.status_code == 422 and r.json()["code"] == "rent_required"
    r = client.patch(f"/api/v1/listings/{lid}", headers=admin | {"If-Match": etag}, json={
        "kind": "affordable_housing", "units": 8, "rent_yuan_per_unit_month": 1200,
        "rent_yuan_per_m2_month": None})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["kind"] == "affordable_housing"
    r = client.patch(f"/api/v1/listings/{lid}", json={"units": 9},
                     headers=admin | {"If-Match": etag})
    assert r.status_code == 412
    r = client.patch(f"/api/v1/listings/{lid}", json={"building_id": bid}, headers=admin)
    assert r.status_code == 422 and "building_id" in r.json()["detail"]


# -- access -------------------------------------------------------------------------------
def enterprise(session, uscc) -> dict:
    token = create_token(session=session, role=Role.enterprise, enterprise_uscc=uscc)
    return {"Authorization": f"Bearer {token}"}


def test_anonymous_callers_see_published_listings_only(client, tokens, bid):
    admin = tokens["admin"]
    draft = create(client, admin, factory(bid))["id"]
    shown = create(client, admin, factory(bid))["id"]
    act(client, admin, shown, "publish")
    let = create(client, admin, factory(bid))["id"]
    act(client, admin, let, "publish")
    act(client, admin, let, "let")

    def seen(headers, **params):
        r = client.get("/api/v1/listings", params=params | {"building_id": bid},
                       headers=headers)
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["features"]}

    assert seen({}) == {shown} and seen({}, status="draft") == set()
    assert seen(tokens["guangzhou"]) == {shown}
    assert seen(tokens["baoan"]) == {draft, shown, let}
    assert seen(tokens["baoan"], status="draft") == {draft}
    assert client.get(f"/api/v1/listings/{draft}").status_code == 404
    assert client.get(f"/api/v1/listings/{let}").status_code == 404
    assert client.get(f"/api/v1/listings/{shown}").status_code == 200
    assert client.get(f"/api/v1/listings/{draft}", headers=tokens["guangzhou"]).status_code == 404


def test_a_bureau_outside_the_jurisdiction_writes_nothing(client, tokens, session, bid):
    before = count(session)
    assert post(client, {}, factory(bid)).status_code == 401
    r = post(client, tokens["guangzhou"], factory(bid))
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    assert count(session) == before

    lid = create(client, tokens["baoan"], factory(bid))["id"]
    act(client, tokens["baoan"], lid, "publish")
    r = client.patch(f"/api/v1/listings/{lid}", json={"rent_yuan_per_m2_month": 1},
                     headers=tokens["guangzhou"])
    assert r.status_code == 403
    assert act(client, tokens["guangzhou"], lid, "withdraw").status_code == 403
    assert act(client, {}, lid, "withdraw").status_code == 401
    after = client.get(f"/api/v1/listings/{lid}").json()["properties"]
    assert after["status"] == "published" and after["rent_yuan_per_m2_month"] == 28.5


def test_the_holder_enterprise_lets_its_own_building_only(client, tokens, session, bid):
    holder = tokens["enterprise"]                      # HOLDER's token
    other = enterprise(session, OTHER)
    elsewhere = create_building(client, tokens["admin"], point(FUTIAN), holder_uscc=OTHER)["id"]

    mine = create(client, holder, factory(bid))
    assert mine["properties"]["status"] == "draft"
    r = post(client, holder, factory(elsewhere))
    assert r.status_code == 403
    r = post(client, other, factory(bid))
    assert r.status_code == 403
    # The holder sees its drafts; another enterprise does not.
    ids = {f["id"] for f in client.get("/api/v1/listings", headers=holder).json()["features"]}
    assert mine["id"] in ids
    assert client.get(f"/api/v1/listings/{mine['id']}", headers=other).status_code == 404
    r = client.patch(f"/api/v1/listings/{mine['id']}", json={"floor": 5}, headers=holder)
    assert r.status_code == 200 and r.json()["properties"]["floor"] == 5
    assert act(client, holder, mine["id"], "publish").status_code == 200
    r = client.patch(f"/api/v1/listings/{mine['id']}", json={"floor": 4}, headers=other)
    assert r.status_code == 403
    assert act(client, other, mine["id"], "withdraw").status_code == 403
    assert act(client, holder, mine["id"], "let").json()["properties"]["status"] == "let"
    assert client.get(f"/api/v1/buildings/{bid}").json()["properties"]["holder_uscc"] == HOLDER


# -- filters ------------------------------------------------------------------------------
def test_filters(client, tokens, session):
    admin = tokens["admin"]
    park = add_park(session, BAOAN)
    baoan = create_building(client, admin)["id"]
    futian = create_building(client, admin, point(FUTIAN))["id"]
    haizhu = create_building(client, admin, point(HAIZHU))["id"]
    made = {
        "cheap": create(client, admin, factory(baoan, rent_yuan_per_m2_month=28, area_m2=300)),
        "dear": create(client, admin, factory(futian, rent_yuan_per_m2_month=35, area_m2=1500,
                                              kind="standard_factory")),
        # 10 × 1500 元 over 500 ㎡: 30 元/㎡·月
        "flats": create(client, admin, housing(haizhu)),
        "draft": create(client, admin, factory(baoan, rent_yuan_per_m2_month=10)),
    }
    ids = {name: m["id"] for name, m in made.items()}
    for name in ("cheap", "dear", "flats"):
        act(client, admin, ids[name], "publish")

    def found(headers=None, **params):
        r = client.get("/api/v1/listings", params=params | {"limit": 1000}, headers=headers)
        assert r.status_code == 200, r.text
        return {name for name, i in ids.items() if i in {f["id"] for f in r.json()["features"]}}

    assert found() == {"cheap", "dear", "flats"}
    assert found(admin) == {"cheap", "dear", "flats", "draft"}
    assert found(admin, status="draft") == {"draft"}
    assert found(kind="factory") == {"cheap"}
    assert found(kind="affordable_housing") == {"flats"}
    assert found(district="4403") == {"cheap", "dear"}
    assert found(district="440105") == {"flats"}
    assert found(park=park) == {"cheap"}
    assert found(min_area_m2=300, max_area_m2=500) == {"cheap", "flats"}
    assert found(min_area_m2=300.01) == {"dear", "flats"}
    assert found(max_rent=30) == {"cheap", "flats"}
    assert found(max_rent=29.99) == {"cheap"}
    assert found(max_rent_per_unit=1500) == {"flats"}
    assert found(max_rent_per_unit=1499.99) == set()
    box = f"{HAIZHU[0] - 0.01},{HAIZHU[1] - 0.01},{HAIZHU[0] + 0.01},{HAIZHU[1] + 0.01}"
    assert found(bbox=box) == {"flats"}

    for params in ({"kind": "warehouse"}, {"status": "sold"}, {"district": "44x"},
                   {"max_rent": -1}, {"limit": 0}):
        r = client.get("/api/v1/listings", params=params)
        assert r.status_code == 422 and set(r.json()) == {"detail", "code"}
    assert client.get("/api/v1/listings", params={"bbox": "a,b,c,d"}).status_code == 400


def test_paging(client, tokens, bid):
    ids = []
    for _ in range(5):
        lid = create(client, tokens["admin"], factory(bid))["id"]
        act(client, tokens["admin"], lid, "publish")
        ids.append(lid)
    url, seen = f"/api/v1/listings?limit=2&building_id={bid}", []
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == 5 and body["numberReturned"] <= 2
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert seen == ids
