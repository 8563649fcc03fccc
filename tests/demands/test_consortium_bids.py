"""联合竞买: an enterprise may not sit in two consortia whose open demands name the same
offering (DESIGN, contract — demand)."""

from __future__ import annotations

from tests.matching.test_matching import enterprise, offer  # noqa: F401  (fixture)

A, B, C, D = ("91440300MA5FAAAA1A", "91440300MA5FBBBB2B", "91440300MA5FCCCC3C",
              "91440300MA5FDDDD4D")


def consortium(client, tokens, lead, shares) -> int:
    r = client.post("/api/v1/consortia", headers=tokens["admin"], json={
        "name": f"联合体{lead[-4:]}", "lead_uscc": lead,
        "members": [{"uscc": u, "share_percent": p} for u, p in shares.items()]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def bid(client, tokens, consortium_id, offering_id):
    return client.post("/api/v1/demands", headers=tokens["admin"], json={
        "kinds": ["land"], "consortium_id": consortium_id, "offering_id": offering_id})


def test_a_member_of_two_consortia_cannot_bid_twice_for_one_offering(client, tokens, session,
                                                                     offer):  # noqa: F811
    for uscc in (A, B, C, D):
        enterprise(session, uscc, "srdi_sme")
    wanted, other = offer(joint_bidding_allowed=True), offer(joint_bidding_allowed=True)
    x = consortium(client, tokens, A, {A: 60, B: 40})
    y = consortium(client, tokens, C, {B: 50, C: 50})
    w = consortium(client, tokens, C, {C: 50, D: 50})

    first = bid(client, tokens, x, wanted)
    assert first.status_code == 201, first.text
    second = bid(client, tokens, y, wanted)  # B sits in both
    assert second.status_code == 409
    body = second.json()
    assert body["code"] == "member_in_rival_consortium"
    assert (body["uscc"], body["consortium_id"], body["demand_id"]) == (B, x, first.json()["id"])
    assert B in body["detail"] and str(wanted) in body["detail"]

    assert bid(client, tokens, y, other).status_code == 201   # another offering: free
    r = bid(client, tokens, w, wanted)
    assert r.status_code == 201, r.text  # no member shared with x
    assert bid(client, tokens, x, wanted).status_code == 201   # the same consortium again

    def withdraw_bids_of(consortium_id):
        listed = client.get("/api/v1/demands?status=open&limit=1000", headers=tokens["admin"])
        for d in listed.json()["features"]:
            if d["properties"]["consortium_id"] == consortium_id:
                r = client.post(f"/api/v1/demands/{d['id']}/transitions",
                                json={"action": "withdraw"}, headers=tokens["admin"])
                assert r.status_code == 200, r.text

    withdraw_bids_of(x)  # B is free again, but C still bids through w
    again = bid(client, tokens, y, wanted)
    assert again.status_code == 409
    assert (again.json()["uscc"], again.json()["consortium_id"]) == (C, w)
    withdraw_bids_of(w)
    assert bid(client, tokens, y, wanted).status_code == 201
