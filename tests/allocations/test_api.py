"""Allocations through the API: a draft serving the higher tier first, its confirmation
(offerings awarded, parcels leased/transferred, demands matched), a stale draft, access."""

from __future__ import annotations

import pytest

from tests.builders import BAOAN, FUTIAN
from tests.matching.test_matching import ME, OTHER, THIRD, east, enterprise, offer  # noqa: F401

URL = "/api/v1/allocations"


def demand(client, tokens, uscc, **body) -> int:
    r = client.post("/api/v1/demands", headers=tokens["admin"],
                    json={"kinds": ["land"], "enterprise_uscc": uscc} | body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def candidate_scores(client, tokens, offering_id) -> dict[int, float]:
    r = client.get(f"/api/v1/offerings/{offering_id}/candidates", headers=tokens["admin"])
    assert r.status_code == 200, r.text
    return {i["id"]: i["score"] for i in r.json()["items"]}


@pytest.fixture
def market(client, tokens, session, offer):  # noqa: F811
    """Offering ``land`` (transfer, Futian) fits all three demands; ``lease`` (3 km east) fits
    only the SRDI SME's. The little giant can take ``land`` only, so can the innovative SME."""
    enterprise(session, ME, "srdi_sme")
    enterprise(session, OTHER, "little_giant")
    enterprise(session, THIRD, "innovative_sme", district="441302")
    land = offer(where=FUTIAN)
    lease = offer(where=east(3), mode="lease")
    srdi = demand(client, tokens, ME)
    giant = demand(client, tokens, OTHER, supply_modes=["transfer"])
    innov = demand(client, tokens, THIRD, near={"lon": FUTIAN[0], "lat": FUTIAN[1],
                                                "radius_km": 1})
    return {"land": land, "lease": lease, "srdi": srdi, "giant": giant, "innov": innov}


def draft(client, headers, **body):
    return client.post(URL, json={"jurisdiction": "4403"} | body, headers=headers)


def test_draft_serves_the_little_giant_first_and_says_why_the_others_are_left_out(
        client, tokens, market):
    m = market
    land_scores = candidate_scores(client, tokens, m["land"])
    lease_scores = candidate_scores(client, tokens, m["lease"])
    assert set(land_scores) == {m["srdi"], m["giant"], m["innov"]}
    assert set(lease_scores) == {m["srdi"]}
    r = draft(client, tokens["shenzhen"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "draft" and body["jurisdiction"] == "4403"
    assert body["offering_ids"] == sorted([m["land"], m["lease"]])
    assert body["assignments"] == [
        {"demand_id": m["giant"], "offering_id": m["land"], "score": land_scores[m["giant"]],
         "tier": "little_giant", "tier_label": "专精特新“小巨人”企业"},
        {"demand_id": m["srdi"], "offering_id": m["lease"], "score": lease_scores[m["srdi"]],
         "tier": "srdi_sme", "tier_label": body["assignments"][1]["tier_label"]},
    ]
    assert [(u["demand_id"], u["code"], u["offering_ids"]) for u in body["unassigned"]] == [
        (m["innov"], "higher_tier", [m["land"]])]
    assert "梯度更高" in body["unassigned"][0]["reason"]
    # stored as computed
    again = client.get(f"{URL}/{body['id']}", headers=tokens["shenzhen"])
    assert again.status_code == 200 and again.json() == body


def test_confirm_awards_the_offerings_and_matches_the_demands(client, tokens, market):
    m = market
    aid = draft(client, tokens["shenzhen"]).json()["id"]
    r = client.post(f"{URL}/{aid}/confirm", headers=tokens["shenzhen"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "confirmed" and r.json()["confirmed_at"]
    land = client.get(f"/api/v1/offerings/{m['land']}", headers=tokens["admin"]).json()
    lease = client.get(f"/api/v1/offerings/{m['lease']}", headers=tokens["admin"]).json()
    assert land["properties"]["status"] == "awarded"
    assert land["properties"]["awardee_uscc"] == OTHER
    assert land["properties"]["awardee_name"] == f"企业{OTHER[-4:]}"
    assert lease["properties"]["status"] == "awarded"
    assert lease["properties"]["awardee_uscc"] == ME
    for offering, parcel_status in ((land, "transferred"), (lease, "leased")):
        parcel = client.get(f"/api/v1/parcels/{offering['properties']['parcel_id']}",
                            headers=tokens["admin"]).json()
        assert parcel["properties"]["status"] == parcel_status
    statuses = {k: client.get(f"/api/v1/demands/{m[k]}", headers=tokens["admin"])
                .json()["properties"]["status"] for k in ("srdi", "giant", "innov")}
    assert statuses == {"srdi": "matched", "giant": "matched", "innov": "open"}
    r = client.post(f"{URL}/{aid}/confirm", headers=tokens["shenzhen"])
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"


def test_a_stale_draft_is_refused_whole_naming_what_changed(client, tokens, market):
    m = market
    aid = draft(client, tokens["admin"]).json()["id"]
    r = client.post(f"/api/v1/demands/{m['giant']}/transitions", json={"action": "withdraw"},
                    headers=tokens["admin"])
    assert r.status_code == 200, r.text
    r = client.post(f"{URL}/{aid}/confirm", headers=tokens["admin"])
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "allocation_stale"
    assert body["demands"] == [{"id": m["giant"], "status": "withdrawn"}]
    assert body["offerings"] == []
    assert f"用地需求 {m['giant']}" in body["detail"]
    # nothing applied: both offerings still published, the SRDI SME's demand still open
    for k in ("land", "lease"):
        o = client.get(f"/api/v1/offerings/{m[k]}", headers=tokens["admin"]).json()
        assert o["properties"]["status"] == "published"
    d = client.get(f"/api/v1/demands/{m['srdi']}", headers=tokens["admin"]).json()
    assert d["properties"]["status"] == "open"
    assert client.get(f"{URL}/{aid}", headers=tokens["admin"]).json()["status"] == "draft"


def test_a_closed_offering_is_still_awardable_but_a_cancelled_one_is_stale(
        client, tokens, market):
    m = market
    aid = draft(client, tokens["admin"]).json()["id"]
    for oid, action in ((m["land"], "close"), (m["lease"], "cancel")):
        r = client.post(f"/api/v1/offerings/{oid}/transitions", json={"action": action},
                        headers=tokens["admin"])
        assert r.status_code == 200, r.text
    r = client.post(f"{URL}/{aid}/confirm", headers=tokens["admin"])
    assert r.status_code == 409
    assert r.json()["offerings"] == [{"id": m["lease"], "status": "cancelled"}]


def test_scope_by_ids_and_jurisdiction(client, tokens, market, offer):  # noqa: F811
    m = market
    baoan = offer(where=BAOAN)
    r = draft(client, tokens["shenzhen"], jurisdiction="440304")
    assert r.status_code == 201
    assert baoan not in r.json()["offering_ids"]
    r = draft(client, tokens["shenzhen"], offering_ids=[m["land"]],
              demand_ids=[m["srdi"], m["innov"]])
    assert r.status_code == 201, r.text
    body = r.json()
    assert [(a["demand_id"], a["offering_id"]) for a in body["assignments"]] == [
        (m["srdi"], m["land"])]
    assert [(u["demand_id"], u["code"]) for u in body["unassigned"]] == [
        (m["innov"], "higher_tier")]
    r = draft(client, tokens["shenzhen"], offering_ids=[m["lease"]], demand_ids=[m["innov"]])
    assert [(u["demand_id"], u["code"]) for u in r.json()["unassigned"]] == [
        (m["innov"], "no_candidate")]


@pytest.mark.parametrize(("body", "code"), [
    ({"jurisdiction": "44a3"}, "jurisdiction_invalid"),
    ({"jurisdiction": "440"}, "jurisdiction_invalid"),
    ({"offering_ids": [999_999]}, "offering_not_found"),
    ({"demand_ids": [999_999]}, "demand_not_found"),
])
def test_bad_input(client, tokens, body, code):
    r = draft(client, tokens["admin"], **body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code


def test_unpublished_or_outside_offerings_are_refused(client, tokens, market, offer):  # noqa: F811
    m = market
    baoan = offer(where=BAOAN)
    r = draft(client, tokens["admin"], jurisdiction="440304", offering_ids=[baoan])
    assert r.status_code == 422 and r.json()["code"] == "offering_outside_jurisdiction"
    client.post(f"/api/v1/offerings/{m['land']}/transitions", json={"action": "close"},
                headers=tokens["admin"])
    r = draft(client, tokens["admin"], offering_ids=[m["land"]])
    assert r.status_code == 422 and r.json()["code"] == "offering_not_published"
    r = draft(client, tokens["baoan"], jurisdiction="440306", offering_ids=[m["land"]])
    assert r.status_code == 403


def test_access(client, tokens, market):
    assert draft(client, {}).status_code == 401
    assert draft(client, tokens["enterprise"]).status_code == 403
    r = draft(client, tokens["guangzhou"])
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    assert draft(client, tokens["baoan"]).status_code == 403          # 4403 is wider than 440306
    aid = draft(client, tokens["province"], jurisdiction="44").json()["id"]
    assert client.get(f"{URL}/{aid}", headers=tokens["shenzhen"]).status_code == 403
    assert client.get(f"{URL}/{aid}").status_code == 401
    assert client.post(f"{URL}/{aid}/confirm", headers=tokens["guangzhou"]).status_code == 403
    assert client.post(f"{URL}/{aid}/confirm", headers=tokens["enterprise"]).status_code == 403
    assert client.get(f"{URL}/999999", headers=tokens["admin"]).status_code == 404
    assert client.get(f"{URL}/999999", headers=tokens["enterprise"]).status_code == 403
