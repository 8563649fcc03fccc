"""Demands and matching through the API: each hard filter just inside and just outside,
explanations that add up, tiers (lapsed ones too), SRDI priority, access and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
import shapely

from landsvc.enterprises.models import Enterprise
from landsvc.fields import today
from landsvc.matching import scoring
from tests.builders import BAOAN, FUTIAN, HONG_KONG, feature, square
from tests.offerings.test_rules import VALID

ME = "91440300MA5FXXXX1X"      # the ``enterprise`` token's USCC
OTHER = "91440300MA5GYYYY2Y"
THIRD = "91441300MA4W00001K"
KM_LON = 1 / (111.320 * 0.9236)  # degrees of longitude per km at Futian's latitude


def enterprise(session, uscc, tier="none", district="440304", lapsed=False):
    valid_to = today() - timedelta(days=1) if lapsed else None
    session.add(Enterprise(uscc=uscc, name=f"企业{uscc[-4:]}", district=district, tier=tier,
                           tier_valid_to=valid_to))
    session.flush()


@pytest.fixture
def offer(client, tokens):
    made = iter(range(1, 1000))

    def make(where=FUTIAN, side_m=100.0, mode="transfer", **changes) -> int:
        body = feature(square(*where, side_m), code=f"MT-{next(made):03d}", status="available")
        parcel = client.post("/api/v1/parcels", json=body, headers=tokens["admin"]).json()
        r = client.post("/api/v1/offerings", headers=tokens["admin"], json={
            "parcel_id": parcel["id"], "supply_mode": mode} | VALID[mode] | changes)
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        r = client.post(f"/api/v1/offerings/{oid}/transitions", json={"action": "publish"},
                        headers=tokens["admin"])
        assert r.status_code == 200, r.text
        return oid

    return make


def demand(client, headers, **body):
    return client.post("/api/v1/demands", json={"kinds": ["land"]} | body, headers=headers)


def matched_ids(client, headers, did, kind="offerings"):
    r = client.get(f"/api/v1/demands/{did}/matches?kind={kind}", headers=headers)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def east(km):
    return (FUTIAN[0] + km * KM_LON, FUTIAN[1])


def bearer(session, uscc) -> dict[str, str]:
    from landsvc.tokens.models import Role
    from landsvc.tokens.service import create_token

    token = create_token(session=session, role=Role.enterprise, enterprise_uscc=uscc)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def me(session):
    enterprise(session, ME, "srdi_sme")
    return ME


# -- hard filters: one candidate just inside, one just outside ----------------------------
FILTERS = [
    # (demand body, changes of the offering inside, changes of the one outside)
    ({"near": {"lon": FUTIAN[0], "lat": FUTIAN[1], "radius_km": 5}},
     {"where": east(4.9)}, {"where": east(5.2)}),
    ({"area_min_m2": 9000, "area_max_m2": 11000}, {"side_m": 100}, {"side_m": 110}),
    ({"area_min_mu": 13.5, "area_max_mu": 16.5}, {"side_m": 100}, {"side_m": 90}),
    ({"supply_modes": ["transfer"]}, {"mode": "transfer"}, {"mode": "lease"}),
    ({"max_price_wan": 800}, {"start_price_wan": 800}, {"start_price_wan": 800.01}),
    ({"max_annual_rent_yuan": 200_000}, {"mode": "lease", "annual_rent_yuan": 200_000},
     {"mode": "lease", "annual_rent_yuan": 200_000.01}),
    ({"districts": ["440304"]}, {"where": FUTIAN}, {"where": BAOAN}),
    ({"districts": ["4403"]}, {"where": BAOAN}, {"where": (113.3245, 23.1064)}),
    ({"within": shapely.geometry.mapping(square(*FUTIAN, 1000))},
     {"where": east(0.4)}, {"where": east(0.7)}),
    ({}, {"min_tier": "srdi_sme"}, {"min_tier": "little_giant"}),
]


@pytest.mark.parametrize(("body", "inside", "outside"), FILTERS)
def test_each_hard_filter_keeps_the_candidate_inside_and_drops_the_one_outside(
        client, tokens, offer, me, body, inside, outside):
    good, bad = offer(**inside), offer(**outside)
    r = demand(client, tokens["enterprise"], **body)
    assert r.status_code == 201, r.text
    ids = matched_ids(client, tokens["enterprise"], r.json()["id"])
    assert good in ids and bad not in ids


def test_parks_filter(client, tokens, offer, me, session):
    from tests.buildings.util import add_park

    park = add_park(session, FUTIAN, side_m=2000)
    good, bad = offer(where=FUTIAN), offer(where=east(3))
    did = demand(client, tokens["enterprise"], parks=[park]).json()["id"]
    ids = matched_ids(client, tokens["enterprise"], did)
    assert good in ids and bad not in ids


def test_a_lapsed_tier_counts_as_none_against_the_minimum_tier(client, tokens, offer, session):
    enterprise(session, ME, "little_giant", lapsed=True)
    open_to_all = offer()
    offer(min_tier="innovative_sme")
    did = demand(client, tokens["enterprise"]).json()["id"]
    assert matched_ids(client, tokens["enterprise"], did) == [open_to_all]


def test_draft_offerings_and_premises_demands_are_not_land_matches(client, tokens, offer, me):
    published = offer()
    did = demand(client, tokens["enterprise"], kinds=["premises"]).json()["id"]
    r = client.get(f"/api/v1/demands/{did}/matches?kind=offerings", headers=tokens["enterprise"])
    assert r.status_code == 422 and r.json()["code"] == "kind_not_wanted"
    bid = demand(client, tokens["enterprise"], offering_id=published).json()["id"]
    assert matched_ids(client, tokens["enterprise"], bid) == [published]


def test_listing_technical_needs(client, tokens, me):
    from tests.buildings.util import create_building

    bid = create_building(client, tokens["admin"])["id"]
    ids = []
    for power in (630, 629.9):
        r = client.post("/api/v1/listings", headers=tokens["admin"], json={
            "building_id": bid, "kind": "factory", "floor": 1, "area_m2": 800,
            "rent_yuan_per_m2_month": 25, "power_kva": power, "floor_load_kn_m2": 8,
            "clear_height_m": 6})
        assert r.status_code == 201, r.text
        lid = r.json()["id"]
        client.post(f"/api/v1/listings/{lid}/transitions", json={"action": "publish"},
                    headers=tokens["admin"])
        ids.append(lid)
    did = demand(client, tokens["enterprise"], kinds=["premises"], power_kva=630,
                 clear_height_m=6, max_rent_yuan_per_m2_month=25).json()["id"]
    assert matched_ids(client, tokens["enterprise"], did, "listings") == [ids[0]]


# -- explanations -------------------------------------------------------------------------
def test_contributions_add_up_to_the_score_and_nearer_ranks_first(client, tokens, offer, me):
    far, near = offer(where=east(3)), offer(where=east(1))
    did = demand(client, tokens["enterprise"], near={"lon": FUTIAN[0], "lat": FUTIAN[1],
                                                     "radius_km": 5},
                 area_min_m2=5000, area_max_m2=15000, max_price_wan=1000, term_years=50,
                 industry_code="C3971").json()["id"]
    r = client.get(f"/api/v1/demands/{did}/matches", headers=tokens["enterprise"])
    body = r.json()
    assert body["numberReturned"] == 2
    assert [i["id"] for i in body["items"]] == [near, far]
    for item in body["items"]:
        reasons = item["reasons"]
        assert [x["criterion"] for x in reasons] == list(scoring.CRITERIA)
        assert sum(x["weight"] for x in reasons) == pytest.approx(100)
        assert round(sum(x["contribution"] for x in reasons), 2) == item["score"]
        price = next(x for x in reasons if x["criterion"] == "price")
        assert price["contribution"] == 20 * (1 - 0.5 * 800 / 1000)  # 12.0
        term = next(x for x in reasons if x["criterion"] == "term")
        assert term["contribution"] == 10.0
        assert item["feature"]["id"] == item["id"]
    distance = body["items"][0]["reasons"][0]["value"]
    assert distance == pytest.approx(0.95, abs=0.01)  # to the parcel's nearer edge, 50 m off


def test_explain_rounds_contributions_first():
    fits = [scoring.Fit(c, 1 / 3, None, "") for c in scoring.CRITERIA]
    score, reasons = scoring.explain(scoring.MatchingWeights(), fits)
    assert [r["contribution"] for r in reasons] == [8.33, 6.67, 6.67, 3.33, 5.0, 3.33]
    assert score == 33.33


# -- withdrawn, access, bad input ---------------------------------------------------------
def test_matching_a_withdrawn_demand_is_a_conflict_naming_the_status(client, tokens, me):
    did = demand(client, tokens["enterprise"]).json()["id"]
    r = client.post(f"/api/v1/demands/{did}/transitions", json={"action": "withdraw"},
                    headers=tokens["enterprise"])
    assert r.status_code == 200 and r.json()["properties"]["status"] == "withdrawn"
    r = client.get(f"/api/v1/demands/{did}/matches", headers=tokens["enterprise"])
    assert r.status_code == 409 and r.json()["code"] == "demand_not_open"
    assert "withdrawn" in r.json()["detail"]
    r = client.post(f"/api/v1/demands/{did}/transitions", json={"action": "fulfil"},
                    headers=tokens["enterprise"])
    assert r.status_code == 409 and r.json()["allowed"] == []


def test_access(client, tokens, session, me):
    enterprise(session, OTHER, district="440106")
    other = bearer(session, OTHER)
    did = demand(client, tokens["enterprise"], districts=["440306"]).json()["id"]
    for headers in (other, tokens["guangzhou"]):
        for path in ("", "/matches"):
            r = client.get(f"/api/v1/demands/{did}{path}", headers=headers)
            assert r.status_code == 404 and ME not in r.text
        assert client.get("/api/v1/demands", headers=headers).json()["features"] == []
    r = client.patch(f"/api/v1/demands/{did}", json={"term_years": 5}, headers=other)
    assert r.status_code == 404
    assert client.get(f"/api/v1/demands/{did}").status_code == 401
    for bureau in ("shenzhen", "baoan", "province"):  # owner in Futian, demand names Bao'an
        assert client.get(f"/api/v1/demands/{did}", headers=tokens[bureau]).status_code == 200
    r = demand(client, other, enterprise_uscc=ME)
    assert r.status_code == 403


@pytest.mark.parametrize(("body", "code"), [
    ({"area_min_m2": 2000, "area_max_m2": 1999.99}, "area_range"),
    ({"near": {"radius_km": 5}}, "radius_without_point"),
    ({"near": {"lon": HONG_KONG[0], "lat": HONG_KONG[1], "radius_km": 5}}, "outside_guangdong"),
    ({"within": shapely.geometry.mapping(square(*HONG_KONG, 500))}, "outside_guangdong"),
    ({"districts": ["440399"]}, "unknown_district"),
    ({"parks": [987654]}, "unknown_park"),
    ({"kinds": []}, "missing_value"),
])
def test_bad_input(client, tokens, me, body, code):
    r = demand(client, tokens["enterprise"], **body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code


# -- the offering's candidates ------------------------------------------------------------
def test_candidates_rank_higher_tiers_first_and_srdi_priority_keeps_srdi_only(
        client, tokens, offer, session):
    tiers = {ME: "innovative_sme", OTHER: "little_giant", THIRD: "none"}
    ids = {}
    for uscc, tier in tiers.items():
        enterprise(session, uscc, tier)
        h = bearer(session, uscc)
        ids[uscc] = demand(client, h).json()["id"]  # identical demands: equal scores
    oid = offer()
    r = client.get(f"/api/v1/offerings/{oid}/candidates", headers=tokens["shenzhen"])
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [ids[OTHER], ids[ME], ids[THIRD]]
    assert len({i["score"] for i in items}) == 1
    assert client.get(f"/api/v1/offerings/{oid}/candidates",
                      headers=tokens["guangzhou"]).status_code == 403
    assert client.get(f"/api/v1/offerings/{oid}/candidates",
                      headers=tokens["enterprise"]).status_code == 403

    priority = offer(where=east(2), srdi_priority=True)
    r = client.get(f"/api/v1/offerings/{priority}/candidates", headers=tokens["admin"])
    assert [i["id"] for i in r.json()["items"]] == [ids[OTHER]]
    client.post(f"/api/v1/demands/{ids[OTHER]}/transitions", json={"action": "withdraw"},
                headers=tokens["admin"])
    r = client.get(f"/api/v1/offerings/{priority}/candidates", headers=tokens["admin"])
    assert [i["id"] for i in r.json()["items"]] == [ids[ME], ids[THIRD]]
