"""Split transfer (分割转让): units of whole floors or buildings, transfers and their rules."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from landsvc.buildings.models import BuildingUnit, UnitTransfer
from landsvc.policies.service import set_setting
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.buildings.util import BUYER, BUYER2, HOLDER, OTHER, create_building


def counts(session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(BuildingUnit)),
            session.scalar(select(func.count()).select_from(UnitTransfer)))


def enterprise(session, uscc) -> dict:
    token = create_token(session=session, role=Role.enterprise, enterprise_uscc=uscc)
    return {"Authorization": f"Bearer {token}"}


def add_unit(client, headers, bid, **body):
    return client.post(f"/api/v1/buildings/{bid}/units", json=body, headers=headers)


def unit(client, headers, bid, **body) -> dict:
    r = add_unit(client, headers, bid, **body)
    assert r.status_code == 201, r.text
    return r.json()


def transfer(client, headers, uid, buyer=BUYER, on="2019-03-10", **extra):
    body = {"buyer_uscc": buyer, "buyer_name": f"乙方 {buyer[-3:]}", "chain_partner": True,
            "date": on} | extra
    return client.post(f"/api/v1/units/{uid}/transfers", json=body, headers=headers)


def refused(r, code: str, *words: str) -> dict:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == code, body
    for word in words:
        assert word in body["detail"], body
    return body


# -- units --------------------------------------------------------------------------------
def test_units_are_whole_floors_within_the_building(client, tokens, session):
    admin = tokens["admin"]
    bid = create_building(client, admin)["id"]  # 6 floors, 6000 ㎡
    first = unit(client, admin, bid, floors=[2, 1], area_m2=2000)
    assert first == first | {"building_id": bid, "floors": [1, 2], "whole_building": False,
                             "area_m2": 2000.0, "holder_uscc": HOLDER, "locked_until": None,
                             "transfers": []}
    top = unit(client, admin, bid, floors=[6], area_m2=1000)  # the top floor: just inside
    assert top["floors"] == [6]
    before = counts(session)
    refused(add_unit(client, admin, bid, floors=[7], area_m2=10), "unit_floor_out_of_range",
            "1–6", "7")
    refused(add_unit(client, admin, bid, floors=[0], area_m2=10), "unit_floor_out_of_range")
    refused(add_unit(client, admin, bid, floors=[2, 3], area_m2=10), "unit_floors_overlap",
            "第 2 层", f"单元 {first['id']}")
    refused(add_unit(client, admin, bid, floors=[3, 3], area_m2=10), "invalid_value", "重复")
    refused(add_unit(client, admin, bid, whole_building=True, area_m2=10),
            "unit_overlaps_whole_building")
    for body in ({"floors": [], "area_m2": 10}, {"area_m2": 10},
                 {"floors": [3], "whole_building": True, "area_m2": 10},
                 {"whole_building": False, "area_m2": 10}):
        refused(add_unit(client, admin, bid, **body), "unit_floors_or_whole_building")
    refused(add_unit(client, admin, bid, floors=[3]), "missing_value", "area_m2")
    refused(add_unit(client, admin, bid, floors=[3], area_m2=0), "out_of_range", "area_m2")
    # 3000 ㎡ taken of 6000: 3000.01 more is too much, 3000 fills the building exactly.
    body = refused(add_unit(client, admin, bid, floors=[3, 4, 5], area_m2=3000.01),
                   "units_exceed_building", "6000.00", "3000.00", "3000.01")
    assert body["available_m2"] == 3000.0
    assert counts(session) == before
    unit(client, admin, bid, floors=[3, 4, 5], area_m2=3000)
    r = client.post(f"/api/v1/buildings/{bid}/units", json={"floors": [3]}, headers=admin)
    assert r.status_code == 422
    assert client.post("/api/v1/buildings/999999/units", json={"floors": [1], "area_m2": 1},
                       headers=admin).status_code == 404


def test_a_whole_building_unit_excludes_floor_units(client, tokens):
    admin = tokens["admin"]
    bid = create_building(client, admin)["id"]
    whole = unit(client, admin, bid, whole_building=True, area_m2=6000)
    assert whole["floors"] is None and whole["whole_building"] is True
    refused(add_unit(client, admin, bid, floors=[1], area_m2=10),
            "unit_overlaps_whole_building", f"单元 {whole['id']}")


@pytest.mark.parametrize("props, code, word", [
    ({"completed": False}, "building_not_completed", "竣工"),
    ({"holder_industry_code": "F51"}, "holder_not_manufacturer", "F51"),
    ({"holder_industry_code": None}, "holder_not_manufacturer", "门类 C"),
    ({"holder_uscc": None}, "holder_unknown", "holder_uscc"),
])
def test_only_a_completed_building_of_a_manufacturer_is_split(client, tokens, session, props,
                                                              code, word):
    bid = create_building(client, tokens["admin"], **props)["id"]
    before = counts(session)
    refused(add_unit(client, tokens["admin"], bid, floors=[1], area_m2=100), code, word)
    assert counts(session) == before


def test_the_manufacturer_rule_can_be_switched_off_for_a_jurisdiction(client, tokens, session):
    bid = create_building(client, tokens["admin"], holder_industry_code="F51")["id"]
    set_setting(session, "440306", "split_transfer.require_manufacturer", False)
    unit(client, tokens["admin"], bid, floors=[1], area_m2=100)


def test_a_building_cannot_shrink_below_its_units(client, tokens):
    admin = tokens["admin"]
    bid = create_building(client, admin)["id"]
    unit(client, admin, bid, floors=[5], area_m2=2500)
    refused(client.patch(f"/api/v1/buildings/{bid}", json={"floors": 4}, headers=admin),
            "units_beyond_floors", "5")
    refused(client.patch(f"/api/v1/buildings/{bid}", json={"total_floor_area_m2": 2499.99},
                         headers=admin), "units_exceed_building", "2500")
    r = client.patch(f"/api/v1/buildings/{bid}", json={"floors": 5, "total_floor_area_m2": 2500},
                     headers=admin)
    assert r.status_code == 200, r.text


# -- transfers ----------------------------------------------------------------------------
@pytest.fixture
def split(client, tokens):
    """A 10,000 ㎡ building in four units: 3000, 2999.99, 0.02 and 0.01 ㎡."""
    admin = tokens["admin"]
    bid = create_building(client, admin, floors=5, total_floor_area_m2=10000)["id"]
    areas = {"A": 3000, "B": 2999.99, "C": 0.02, "D": 0.01}
    ids = {name: unit(client, admin, bid, floors=[i + 1], area_m2=area)["id"]
           for i, (name, area) in enumerate(areas.items())}
    return bid, ids


def test_the_holder_keeps_forty_percent(client, tokens, session, split):
    admin = tokens["admin"]
    bid, ids = split
    assert transfer(client, admin, ids["A"]).status_code == 201       # holder keeps 7000
    assert transfer(client, admin, ids["B"]).status_code == 201       # 4000.01: 40.0001 %
    before = counts(session)
    body = refused(transfer(client, admin, ids["C"]), "holder_share_below_minimum",
                   "3999.99", "10000.00", "39.9999 %", "40 %", "4000.00")
    assert body["holder_area_after_m2"] == 3999.99 and body["minimum_area_m2"] == 4000.0
    assert counts(session) == before
    assert transfer(client, admin, ids["D"]).status_code == 201       # exactly 4000.00: 40 %
    refused(transfer(client, admin, ids["C"]), "holder_share_below_minimum", "3999.98")

    page = client.get(f"/api/v1/buildings/{bid}/units", headers=admin).json()
    assert page["holder_area_m2"] == 4000.0 and page["holder_share_percent"] == 40.0
    assert page["holder_uscc"] == HOLDER and page["numberMatched"] == 4


def test_the_minimum_share_is_configurable(client, tokens, session, split):
    admin = tokens["admin"]
    _, ids = split
    set_setting(session, "4403", "split_transfer.holder_min_share_percent", 39.9999)
    for name in ("A", "B", "C"):
        assert transfer(client, admin, ids[name]).status_code == 201, name
    refused(transfer(client, admin, ids["D"]), "holder_share_below_minimum", "39.9998 %",
            "39.9999 %")


def test_resale_lock_ends_on_the_fifth_anniversary(client, tokens, split):
    admin = tokens["admin"]
    _, ids = split
    r = transfer(client, admin, ids["A"], on="2019-03-10")
    assert r.status_code == 201
    sold = r.json()
    assert sold["holder_uscc"] == BUYER and sold["locked_until"] == "2024-03-10"
    assert sold["transfers"] == [{
        "id": sold["transfers"][0]["id"], "seller_uscc": HOLDER, "buyer_uscc": BUYER,
        "buyer_name": f"乙方 {BUYER[-3:]}", "chain_partner": True, "date": "2019-03-10",
        "locked_until": "2024-03-10"}]

    body = refused(transfer(client, admin, ids["A"], buyer=BUYER2, on="2024-03-10"),
                   "resale_locked", "2024-03-10", "2024-03-11")
    assert body["locked_until"] == "2024-03-10" and body["lifts_on"] == "2024-03-11"
    refused(transfer(client, admin, ids["A"], buyer=BUYER2, on="2019-03-09"),
            "transfer_before_previous", "2019-03-10")
    r = transfer(client, admin, ids["A"], buyer=BUYER2, on="2024-03-11")
    assert r.status_code == 201, r.text
    resold = r.json()
    assert [(t["seller_uscc"], t["buyer_uscc"], t["date"]) for t in resold["transfers"]] == [
        (HOLDER, BUYER, "2019-03-10"), (BUYER, BUYER2, "2024-03-11")]
    assert resold["holder_uscc"] == BUYER2 and resold["locked_until"] == "2029-03-11"


def test_a_lock_from_29_february_ends_on_28_february(client, tokens, split):
    admin = tokens["admin"]
    _, ids = split
    assert transfer(client, admin, ids["A"], on="2016-02-29").json()["locked_until"] \
        == "2021-02-28"
    refused(transfer(client, admin, ids["A"], buyer=BUYER2, on="2021-02-28"), "resale_locked",
            "2021-03-01")
    assert transfer(client, admin, ids["A"], buyer=BUYER2, on="2021-03-01").status_code == 201


def test_transfer_fields_are_checked(client, tokens, session, split):
    admin = tokens["admin"]
    _, ids = split
    before = counts(session)
    refused(transfer(client, admin, ids["A"], chain_partner=False), "not_chain_partner")
    body = {"buyer_uscc": BUYER, "buyer_name": "乙方", "date": "2019-03-10"}
    refused(client.post(f"/api/v1/units/{ids['A']}/transfers", json=body, headers=admin),
            "not_chain_partner", "chain_partner")
    refused(transfer(client, admin, ids["A"], buyer=HOLDER), "buyer_is_holder", HOLDER)
    refused(transfer(client, admin, ids["A"], buyer="91441300MA4W0000IK"), "invalid_uscc")
    refused(transfer(client, admin, ids["A"], buyer_name=" "), "missing_value", "buyer_name")
    refused(transfer(client, admin, ids["A"], on="2999-01-01"), "transfer_date_in_future")
    r = transfer(client, admin, ids["A"], on="2019-02-30")
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert counts(session) == before
    assert transfer(client, admin, 999999).status_code == 404


def test_who_may_see_and_record_transfers(client, tokens, session, split):
    bid, ids = split
    other = enterprise(session, OTHER)
    buyer = enterprise(session, BUYER)
    url = f"/api/v1/buildings/{bid}/units"
    before = counts(session)
    assert transfer(client, {}, ids["A"]).status_code == 401
    assert transfer(client, tokens["enterprise"], ids["A"]).status_code == 403
    r = transfer(client, tokens["guangzhou"], ids["A"])
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    assert add_unit(client, tokens["guangzhou"], bid, floors=[5], area_m2=1).status_code == 403
    assert add_unit(client, tokens["enterprise"], bid, floors=[5], area_m2=1).status_code == 403
    assert counts(session) == before

    assert client.get(url).status_code == 401
    assert client.get(url, headers=tokens["guangzhou"]).status_code == 403
    assert client.get(url, headers=buyer).status_code == 403
    assert client.get(url, headers=tokens["enterprise"]).status_code == 200   # the holder
    assert transfer(client, tokens["baoan"], ids["A"]).status_code == 201
    assert client.get(url, headers=buyer).status_code == 200                  # now a buyer
    assert client.get(url, headers=other).status_code == 403
    assert client.get(f"/api/v1/units/{ids['A']}", headers=buyer).json()["holder_uscc"] == BUYER
    assert client.get(f"/api/v1/units/{ids['A']}", headers=other).status_code == 403
    assert client.get("/api/v1/units/999999", headers=tokens["admin"]).status_code == 404


def test_units_page(client, tokens, split):
    bid, ids = split
    url = f"/api/v1/buildings/{bid}/units?limit=3"
    first = client.get(url, headers=tokens["shenzhen"]).json()
    assert [u["id"] for u in first["items"]] == [ids["A"], ids["B"], ids["C"]]
    assert first["numberMatched"] == 4 and first["numberReturned"] == 3
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = client.get(nxt, headers=tokens["shenzhen"]).json()
    assert [u["id"] for u in second["items"]] == [ids["D"]]
    assert second["holder_share_percent"] == 100.0
