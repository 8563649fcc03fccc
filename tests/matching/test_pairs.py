"""The set-based pairs (landsvc.matching.pairs) against the per-demand matching: each hard
filter in both query shapes, the same candidates as every demand's own matches, and scores
equal to the explained ones to the cent."""

from __future__ import annotations

import random

import numpy as np
import pytest
import shapely
from sqlalchemy import update

from landsvc.fields import today
from landsvc.matching import pairs
from landsvc.parks.models import Park
from tests.builders import BAOAN, FUTIAN
from tests.buildings.util import add_park
from tests.matching.test_matching import (  # noqa: F401
    FILTERS,
    ME,
    OTHER,
    THIRD,
    bearer,
    demand,
    east,
    enterprise,
    me,
    offer,
)


def found_pairs(session, offering_ids, demand_ids=None, priority=True) -> set[tuple[int, int]]:
    found = pairs.land_pairs(session, offering_ids=offering_ids, demand_ids=demand_ids,
                             on=today(), priority=priority)
    return set(zip(found.demand_id.tolist(), found.offering_id.tolist(), strict=True))


@pytest.mark.parametrize("first", ["demands", "offerings"])
@pytest.mark.parametrize(("body", "inside", "outside"), FILTERS)
def test_each_hard_filter_in_both_query_shapes(
        client, tokens, offer, me, session, body, inside, outside, first):  # noqa: F811
    good, bad = offer(**inside), offer(**outside)
    did = demand(client, tokens["enterprise"], **body).json()["id"]
    # one named demand is enumerated first; all open demands, the two offerings first
    got = found_pairs(session, [good, bad], [did] if first == "demands" else None)
    assert (did, good) in got and (did, bad) not in got


@pytest.mark.parametrize("first", ["demands", "offerings"])
def test_parks_bid_intentions_and_joint_bidding(
        client, tokens, offer, me, session, first):  # noqa: F811
    park = add_park(session, FUTIAN, side_m=2000)
    in_park, outside, joint = offer(where=FUTIAN), offer(where=east(3)), offer(
        where=east(0.3), joint_bidding_allowed=True)
    in_park_demand = demand(client, tokens["enterprise"], parks=[park]).json()["id"]
    bid = demand(client, tokens["enterprise"], offering_id=outside).json()["id"]
    enterprise(session, OTHER, "none")
    r = client.post("/api/v1/consortia", headers=tokens["admin"], json={
        "name": "联合体", "lead_uscc": ME,
        "members": [{"uscc": ME, "share_percent": 60}, {"uscc": OTHER, "share_percent": 40}]})
    assert r.status_code == 201, r.text
    joint_demand = demand(client, tokens["admin"], consortium_id=r.json()["id"]).json()["id"]
    ids = [in_park_demand, bid, joint_demand]
    offerings = [in_park, outside, joint]
    got = found_pairs(session, offerings, ids if first == "demands" else None)
    assert {p for p in got if p[0] == in_park_demand} == {(in_park_demand, in_park),
                                                          (in_park_demand, joint)}
    assert {p for p in got if p[0] == bid} == {(bid, outside)}
    assert {p for p in got if p[0] == joint_demand} == {(joint_demand, joint)}


def test_a_consortium_tier_is_derived_after_the_query(
        client, tokens, offer, session, me):  # noqa: F811
    enterprise(session, OTHER, "none")
    srdi_only = offer(min_tier="srdi_sme", joint_bidding_allowed=True)
    r = client.post("/api/v1/consortia", headers=tokens["admin"], json={
        "name": "联合体", "lead_uscc": OTHER,  # led by a tier-none member: the consortium's none
        "members": [{"uscc": ME, "share_percent": 60}, {"uscc": OTHER, "share_percent": 40}]})
    joint = demand(client, tokens["admin"], consortium_id=r.json()["id"]).json()["id"]
    mine = demand(client, tokens["enterprise"]).json()["id"]
    assert found_pairs(session, [srdi_only]) == {(mine, srdi_only)}
    assert joint not in {d for d, _ in found_pairs(session, [srdi_only], [joint])}


def test_srdi_priority_keeps_srdi_tiers_while_any_is_there(
        client, tokens, offer, session, me):  # noqa: F811
    enterprise(session, OTHER, "innovative_sme")
    labelled = offer(srdi_priority=True)
    mine = demand(client, tokens["enterprise"]).json()["id"]
    theirs = demand(client, bearer(session, OTHER)).json()["id"]
    assert found_pairs(session, [labelled]) == {(mine, labelled)}
    assert found_pairs(session, [labelled], priority=False) == {(mine, labelled),
                                                                (theirs, labelled)}
    assert found_pairs(session, [labelled], [theirs]) == {(theirs, labelled)}  # no SRDI there


@pytest.fixture
def market(client, tokens, offer, session):  # noqa: F811
    """A seeded mix: offerings of every mode around Futian and Bao'an, one park leading in C39;
    demands of three enterprises by point, polygon, district and nothing, with budgets, terms
    and industries."""
    rnd = random.Random(7)
    for uscc, tier in ((ME, "srdi_sme"), (OTHER, "none"), (THIRD, "little_giant")):
        enterprise(session, uscc, tier)
    park = add_park(session, FUTIAN, side_m=3000)
    session.execute(update(Park).where(Park.id == park).values(
        leading_industries=["C39", "C35"], services=["供电", "供水", "污水处理"]))
    offerings = []
    for _ in range(24):
        mode = rnd.choice(["transfer", "flexible_term_transfer", "lease", "lease_then_transfer",
                           "lease_and_transfer"])
        where = rnd.choice([east(rnd.uniform(0, 6)), BAOAN, east(-rnd.uniform(0, 3))])
        offerings.append(offer(where=where, side_m=rnd.choice([70, 90, 100, 120]), mode=mode))
    heads = {ME: tokens["enterprise"], OTHER: bearer(session, OTHER),
             THIRD: bearer(session, THIRD)}
    places = [{"near": {"lon": FUTIAN[0], "lat": FUTIAN[1], "radius_km": 4}},
              {"near": {"lon": east(2)[0], "lat": east(2)[1], "radius_km": 2.5}},
              {"within": shapely.geometry.mapping(shapely.box(FUTIAN[0] - 0.01, FUTIAN[1] - 0.01,
                                                              FUTIAN[0] + 0.04, FUTIAN[1] + 0.01))},
              {"districts": ["440304"]}, {"districts": ["4403"]}, {}]
    demands = []
    for place in places:
        for head in heads.values():
            body = place | rnd.choice([{}, {"area_min_m2": 6000}, {"area_max_m2": 12000},
                                       {"area_min_m2": 5000, "area_max_m2": 15000}])
            body |= rnd.choice([{}, {"max_price_wan": 850}, {"max_annual_rent_yuan": 210_000},
                                {"max_price_wan": 1000, "max_annual_rent_yuan": 250_000}])
            body |= rnd.choice([{}, {"term_years": 20}, {"term_years": 50}])
            body |= rnd.choice([{}, {"industry_code": "C39"}, {"industry_code": "C3911"},
                                {"industry_code": "C26"}, {"industry_code": "I65"}])
            r = demand(client, head, **body)
            assert r.status_code == 201, r.text
            demands.append(r.json()["id"])
    return offerings, demands, heads


def test_pairs_are_each_demands_own_matches_with_the_same_scores(client, tokens, session,
                                                                 market):
    offerings, demands, _ = market
    found = pairs.land_pairs(session, offering_ids=offerings, on=today(), priority=False)
    assert len(found) > 60  # the mix does match
    for did in demands:
        r = client.get(f"/api/v1/demands/{did}/matches?kind=offerings&limit=100",
                       headers=tokens["admin"])
        assert r.status_code == 200, r.text
        own = {i["id"]: i["score"] for i in r.json()["items"]}
        mine = found.demand_id == did
        assert dict(zip(found.offering_id[mine].tolist(),
                        (found.cents[mine] / 100).tolist(), strict=True)) == own


def test_pair_scores_are_the_explained_candidates_scores(client, tokens, session, market):
    offerings, _, _ = market
    found = pairs.land_pairs(session, offering_ids=offerings, on=today())
    for oid in offerings:
        r = client.get(f"/api/v1/offerings/{oid}/candidates?limit=100", headers=tokens["admin"])
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        mine = found.offering_id == oid
        assert {i["id"]: (i["score"], i["tier"]) for i in items} == {
            d: (c / 100, ["none", "innovative_sme", "srdi_sme", "little_giant"][t])
            for d, c, t in zip(found.demand_id[mine].tolist(), found.cents[mine].tolist(),
                               found.tier_rank[mine].tolist(), strict=True)}
        for item in items:
            assert round(sum(x["contribution"] for x in item["reasons"]), 2) == item["score"]


def test_both_query_shapes_give_the_same_pairs(session, market):
    offerings, demands, _ = market
    few_demands = pairs.land_pairs(session, offering_ids=offerings, demand_ids=demands[:5],
                                   on=today())
    few_offerings = pairs.land_pairs(session, offering_ids=offerings[:3], demand_ids=demands,
                                     on=today())
    everything = pairs.land_pairs(session, offering_ids=offerings, on=today())

    def of(found, keep):
        return sorted(zip(found.demand_id[keep].tolist(), found.offering_id[keep].tolist(),
                          found.cents[keep].tolist(), strict=True))

    assert of(few_demands, np.ones(len(few_demands), bool)) == of(
        everything, np.isin(everything.demand_id, demands[:5]))
    assert of(few_offerings, np.ones(len(few_offerings), bool)) == of(
        everything, np.isin(everything.offering_id, offerings[:3]))
