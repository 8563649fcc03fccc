"""The offerings API: every mode through the lifecycle with the parcel following, limits
through the API, one live offering per parcel, access, drafts, filters and policy overrides."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import func, insert, select

from landsvc.offerings.models import Offering
from landsvc.parks.models import Park
from landsvc.policies.service import set_setting
from tests.builders import BAOAN, FUTIAN, HAIZHU, feature, square
from tests.offerings.test_rules import VALID

USCC = "91440300MA5FXXXX1X"


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Offering))


@pytest.fixture
def make_parcel(client, tokens):
    made = iter(range(1, 1000))

    def make(where=FUTIAN, status="available", side_m=100.0, **props) -> dict:
        code = f"OF-{next(made):03d}"
        body = feature(square(*where, side_m), code=code, status=status, **props)
        r = client.post("/api/v1/parcels", json=body, headers=tokens["admin"])
        assert r.status_code == 201, r.text
        return r.json()

    return make


def offer(client, headers, parcel_id, mode, **changes):
    body = {"parcel_id": parcel_id, "supply_mode": mode} | VALID[mode] | changes
    return client.post("/api/v1/offerings", json=body, headers=headers)


def step(client, headers, offering_id, action, **extra):
    return client.post(f"/api/v1/offerings/{offering_id}/transitions",
                       json={"action": action} | extra, headers=headers)


def parcel_status(client, parcel_id) -> str:
    return client.get(f"/api/v1/parcels/{parcel_id}").json()["properties"]["status"]


# -- lifecycle ----------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "awarded"), [
    ("transfer", "transferred"), ("flexible_term_transfer", "transferred"), ("lease", "leased"),
    ("lease_then_transfer", "leased"), ("lease_and_transfer", "transferred")])
def test_full_lifecycle_and_the_parcel_status_after_each_step(client, tokens, make_parcel,
                                                              mode, awarded):
    sz = tokens["shenzhen"]
    parcel = make_parcel()
    r = offer(client, sz, parcel["id"], mode, min_tier="srdi_sme", srdi_priority=True,
              joint_bidding_allowed=True, bidding_opens_at="2026-12-01T09:00:00+08:00",
              bidding_closes_at="2026-12-20T17:00:00+08:00")
    assert r.status_code == 201, r.text
    created = r.json()
    props = created["properties"]
    oid = created["id"]
    assert r.headers["ETag"]
    assert created["geometry"] == parcel["geometry"]
    assert props["status"] == "draft" and props["status_label"] == "草稿"
    assert props["supply_mode"] == mode and props["parcel_code"] == parcel["properties"]["code"]
    assert props["allowed_actions"] == ["publish", "cancel"]
    for key in ("district", "district_name", "area_m2", "area_mu", "land_source", "park_id"):
        assert props[key] == parcel["properties"][key], key
    assert props["min_tier"] == "srdi_sme" and props["srdi_priority"] is True
    assert props["joint_bidding_allowed"] is True
    assert props["bidding_opens_at"] == "2026-12-01T01:00:00+00:00"
    for field, value in VALID[mode].items():
        assert props[field] == value, field
    assert parcel_status(client, parcel["id"]) == "available"
    assert props["published_at"] is None and props["decided_at"] is None

    steps = [("publish", "published", "offered", ["close", "cancel"], "published_at"),
             ("close", "closed", "offered", ["award", "fail", "cancel"], "closed_at"),
             ("award", "awarded", awarded, [], "decided_at")]
    for action, status, parcel_after, allowed, stamp in steps:
        extra = {"awardee_uscc": USCC, "awardee_name": "深圳某精密制造有限公司"} \
            if action == "award" else {}
        r = step(client, sz, oid, action, **extra)
        assert r.status_code == 200, r.text
        after = r.json()["properties"]
        assert after["status"] == status and after["allowed_actions"] == allowed
        assert after[stamp] is not None
        assert parcel_status(client, parcel["id"]) == parcel_after
        assert client.get(f"/api/v1/offerings/{oid}").json() == \
            {**r.json(), "properties": after | {"allowed_actions": []}}
    assert after["awardee_uscc"] == USCC and after["awardee_name"] == "深圳某精密制造有限公司"


@pytest.mark.parametrize("end", [["cancel"], ["publish", "cancel"], ["publish", "close", "cancel"],
                                 ["publish", "close", "fail"]], ids="-".join)
def test_fail_and_cancel_give_the_parcel_back_its_status(client, tokens, make_parcel, end):
    parcel = make_parcel(status="reserved")
    oid = offer(client, tokens["shenzhen"], parcel["id"], "lease").json()["id"]
    for action in end:
        r = step(client, tokens["shenzhen"], oid, action)
        assert r.status_code == 200, r.text
    assert r.json()["properties"]["status"] == {"cancel": "cancelled", "fail": "failed"}[end[-1]]
    assert r.json()["properties"]["decided_at"] is not None
    assert parcel_status(client, parcel["id"]) == "reserved"
    # the parcel is free again: a new offering may follow
    again = offer(client, tokens["shenzhen"], parcel["id"], "transfer")
    assert again.status_code == 201, again.text


def test_illegal_step_is_409_listing_the_allowed(client, tokens, make_parcel):
    oid = offer(client, tokens["admin"], make_parcel()["id"], "transfer").json()["id"]
    r = step(client, tokens["admin"], oid, "award", awardee_uscc=USCC, awardee_name="某公司")
    assert r.status_code == 409
    assert r.json()["code"] == "illegal_transition"
    assert r.json()["allowed"] == ["publish", "cancel"] and "草稿" in r.json()["detail"]
    step(client, tokens["admin"], oid, "cancel")
    r = step(client, tokens["admin"], oid, "publish")
    assert r.status_code == 409 and r.json()["allowed"] == []
    assert step(client, tokens["admin"], oid, "fly").status_code == 422


def test_award_names_a_well_formed_awardee(client, tokens, make_parcel):
    admin = tokens["admin"]
    parcel = make_parcel()
    oid = offer(client, admin, parcel["id"], "lease").json()["id"]
    r = step(client, admin, oid, "publish", awardee_uscc=USCC)
    assert r.status_code == 422 and r.json()["code"] == "field_not_for_action"
    step(client, admin, oid, "publish")
    step(client, admin, oid, "close")
    cases = [({}, "missing_field", "awardee_uscc"),
             ({"awardee_uscc": "91440300MA5FXXXX1"}, "invalid_uscc", "awardee_uscc"),
             ({"awardee_uscc": "91440300MA5FXXXXIX"}, "invalid_uscc", "GB 32100"),
             ({"awardee_uscc": USCC}, "missing_field", "awardee_name")]
    for extra, code, word in cases:
        r = step(client, admin, oid, "award", **extra)
        assert r.status_code == 422 and r.json()["code"] == code, r.text
        assert word in r.json()["detail"]
    assert parcel_status(client, parcel["id"]) == "offered"
    r = step(client, admin, oid, "award", awardee_uscc=USCC.lower(), awardee_name=" 某公司 ")
    assert r.status_code == 200, r.text
    assert (r.json()["properties"]["awardee_uscc"], r.json()["properties"]["awardee_name"]) \
        == (USCC, "某公司")
    assert parcel_status(client, parcel["id"]) == "leased"


# -- where an offering may be made --------------------------------------------------------
@pytest.mark.parametrize(("status", "label"), [("leased", "已出租"), ("transferred", "已出让"),
                                               ("offered", "供应中"), ("withdrawn", "已撤回")])
def test_only_available_or_reserved_parcels(client, tokens, session, make_parcel, status, label):
    parcel = make_parcel(status=status)
    before = count(session)
    r = offer(client, tokens["shenzhen"], parcel["id"], "lease")
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "parcel_not_available" and label in r.json()["detail"]
    assert count(session) == before


def test_one_live_offering_per_parcel(client, tokens, session, make_parcel):
    sz = tokens["shenzhen"]
    pid = make_parcel()["id"]
    first = offer(client, sz, pid, "lease").json()["id"]
    for state, then in (("草稿", "publish"), ("已发布", "close"), ("竞价结束", None)):
        r = offer(client, sz, pid, "transfer")
        assert r.status_code == 409 and r.json()["code"] == "offering_exists", r.text
        assert r.json()["offering_id"] == first and str(first) in r.json()["detail"]
        assert state in r.json()["detail"]
        if then:
            assert step(client, sz, first, then).status_code == 200
    assert session.scalar(select(func.count()).select_from(Offering)
                          .where(Offering.parcel_id == pid)) == 1


def test_unknown_parcel_and_bad_bodies(client, tokens, session):
    admin = tokens["admin"]
    before = count(session)
    r = offer(client, admin, 99_999_999, "transfer")
    assert r.status_code == 422 and r.json()["code"] == "unknown_parcel"
    body = {"parcel_id": 1, "supply_mode": "sale", "term_years": 50, "start_price_wan": 1}
    assert client.post("/api/v1/offerings", json=body, headers=admin).status_code == 422
    body |= {"supply_mode": "transfer", "colour": "red"}
    r = client.post("/api/v1/offerings", json=body, headers=admin)
    assert r.status_code == 422 and "colour" in r.json()["detail"]
    body = {"parcel_id": 1, "supply_mode": "transfer", "bidding_opens_at": "2026-12-01T09:00:00"}
    r = client.post("/api/v1/offerings", json=body, headers=admin)
    assert r.status_code == 422 and "bidding_opens_at" in r.json()["detail"]  # no time zone
    assert count(session) == before


# -- limits through the API (each bound itself: test_rules.py) ---------------------------
OUTSIDE = [
    ("transfer", {"term_years": 49}, "term_out_of_range", "term_years"),
    ("flexible_term_transfer", {"term_years": 4}, "term_out_of_range", "term_years"),
    ("flexible_term_transfer", {"term_years": 50}, "term_out_of_range", "term_years"),
    ("lease", {"term_years": 21}, "lease_term_out_of_range", "term_years"),
    ("lease", {"annual_rent_yuan": 199_999.99}, "rent_below_floor", "annual_rent_yuan"),
    ("lease", {"rent_review_years": 4}, "rent_review_too_frequent", "rent_review_years"),
    ("lease", {"rent_review_cap_percent": 10.5}, "rent_review_cap_exceeded",
     "rent_review_cap_percent"),
    ("lease", {"start_price_wan": 100}, "field_not_for_mode", "start_price_wan"),
    ("lease", {"term_years": None}, "missing_field", "term_years"),
    ("lease_then_transfer", {"lease_years": 11}, "lease_term_out_of_range", "lease_years"),
    ("lease_then_transfer", {"transfer_years": 46}, "lease_and_transfer_total", "transfer_years"),
    ("lease_then_transfer", {"conditions": {"deadline_date": "2031-01-01"}},
     "performance_condition_required", "conditions"),
    ("lease_then_transfer", {"term_years": 50}, "field_not_for_mode", "term_years"),
    ("lease_and_transfer", {"lease_share_percent": 100}, "lease_share_out_of_range",
     "lease_share_percent"),
    ("lease_and_transfer", {"transfer_years": 51}, "transfer_term_out_of_range", "transfer_years"),
    ("lease_and_transfer", {"annual_rent_yuan": 79_999.99}, "rent_below_floor",
     "annual_rent_yuan"),
    ("transfer", {"bidding_opens_at": "2026-12-02T00:00:00+08:00",
                  "bidding_closes_at": "2026-12-01T16:00:00Z"}, "bidding_window",
     "bidding_closes_at"),
]


@pytest.mark.parametrize(("mode", "changes", "code", "field"), OUTSIDE,
                         ids=[f"{c[0]}-{c[2]}" for c in OUTSIDE])
def test_a_rule_broken_is_a_422_naming_it_and_nothing_is_written(client, tokens, session,
                                                                 make_parcel, mode, changes,
                                                                 code, field):
    pid = make_parcel()["id"]
    before = count(session)
    r = offer(client, tokens["shenzhen"], pid, mode, **changes)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code and r.json()["detail"].startswith(field)
    assert count(session) == before
    assert parcel_status(client, pid) == "available"


def test_chinese_mode_and_tier_names_and_defaults(client, tokens, make_parcel):
    body = {"parcel_id": make_parcel()["id"], "supply_mode": "先租后让",
            "min_tier": "专精特新“小巨人”企业"} | VALID["lease_then_transfer"]
    del body["lease_years"]
    r = client.post("/api/v1/offerings", json=body, headers=tokens["admin"])
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert props["supply_mode"] == "lease_then_transfer" and props["supply_mode_label"] == "先租后让"
    assert props["min_tier"] == "little_giant"
    assert (props["lease_years"], props["rent_credited"]) == (5, True)
    assert props["conditions"] == VALID["lease_then_transfer"]["conditions"]
    assert props["term_years"] is None and props["rent_review_years"] is None
    lease = offer(client, tokens["admin"], make_parcel()["id"], "lease").json()["properties"]
    assert (lease["rent_review_years"], lease["rent_review_cap_percent"]) == (5, 10.0)
    assert (lease["min_tier"], lease["srdi_priority"], lease["joint_bidding_allowed"]) == \
        ("none", False, False)


# -- PATCH while draft --------------------------------------------------------------------
def test_patch_changes_a_draft_only(client, tokens, make_parcel):
    sz = tokens["shenzhen"]
    r = offer(client, sz, make_parcel()["id"], "lease")
    oid, etag = r.json()["id"], r.headers["ETag"]
    r = client.patch(f"/api/v1/offerings/{oid}", json={"annual_rent_yuan": 250_000},
                     headers=sz | {"If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["annual_rent_yuan"] == 250_000
    assert r.json()["properties"]["term_years"] == 10 and r.headers["ETag"] != etag
    stale = client.patch(f"/api/v1/offerings/{oid}", json={"term_years": 12},
                         headers=sz | {"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    r = client.patch(f"/api/v1/offerings/{oid}", json={"annual_rent_yuan": 1000}, headers=sz)
    assert r.status_code == 422 and r.json()["code"] == "rent_below_floor"
    r = client.patch(f"/api/v1/offerings/{oid}", json={"parcel_id": 5}, headers=sz)
    assert r.status_code == 422 and "parcel_id" in r.json()["detail"]
    # a new mode: the stored fields it does not take are dropped, named foreign ones refused
    r = client.patch(f"/api/v1/offerings/{oid}", json={"supply_mode": "transfer"}, headers=sz)
    assert r.status_code == 422 and r.json()["code"] == "missing_field"
    assert r.json()["detail"].startswith("start_price_wan")
    r = client.patch(f"/api/v1/offerings/{oid}", json={"supply_mode": "transfer",
                                                       "start_price_wan": 700}, headers=sz)
    assert r.status_code == 422 and r.json()["code"] == "term_out_of_range"  # 10 years kept
    r = client.patch(f"/api/v1/offerings/{oid}", json={
        "supply_mode": "transfer", "term_years": 50, "annual_rent_yuan": 5}, headers=sz)
    assert r.status_code == 422 and r.json()["code"] == "field_not_for_mode"
    r = client.patch(f"/api/v1/offerings/{oid}", json={
        "supply_mode": "transfer", "term_years": 50, "start_price_wan": 700}, headers=sz)
    assert r.status_code == 200, r.text
    props = r.json()["properties"]
    assert props["supply_mode"] == "transfer" and props["appraised_price_wan"] == 1000
    assert props["annual_rent_yuan"] is None and props["rent_review_years"] is None

    step(client, sz, oid, "publish")
    r = client.patch(f"/api/v1/offerings/{oid}", json={"start_price_wan": 1}, headers=sz)
    assert r.status_code == 409 and r.json()["code"] == "not_draft"
    assert r.json()["allowed"] == ["close", "cancel"] and "已发布" in r.json()["detail"]


# -- access -------------------------------------------------------------------------------
def test_a_bureau_outside_the_jurisdiction_can_neither_create_nor_step(client, tokens, session,
                                                                      make_parcel):
    pid = make_parcel(where=FUTIAN)["id"]
    before = count(session)
    r = offer(client, tokens["guangzhou"], pid, "lease")
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    r = offer(client, tokens["baoan"], pid, "lease")  # Bao'an is Shenzhen, not Futian
    assert r.status_code == 403
    assert count(session) == before
    assert offer(client, {}, pid, "lease").status_code == 401
    assert offer(client, tokens["enterprise"], pid, "lease").status_code == 403

    oid = offer(client, tokens["shenzhen"], pid, "lease").json()["id"]
    for who in ("guangzhou", "baoan", "enterprise"):
        r = step(client, tokens[who], oid, "publish")
        assert r.status_code == 403, (who, r.text)
        r = client.patch(f"/api/v1/offerings/{oid}", json={"term_years": 6}, headers=tokens[who])
        assert r.status_code == 403, (who, r.text)
    assert step(client, {}, oid, "publish").status_code == 401
    assert parcel_status(client, pid) == "available"
    assert client.get(f"/api/v1/offerings/{oid}", headers=tokens["shenzhen"]
                      ).json()["properties"]["status"] == "draft"
    assert step(client, tokens["province"], oid, "publish").status_code == 200


def test_anonymous_callers_never_see_drafts_failed_or_cancelled(client, tokens, make_parcel):
    sz = tokens["shenzhen"]
    ids = {}
    for name, actions in [("draft", []), ("published", ["publish"]),
                          ("closed", ["publish", "close"]),
                          ("failed", ["publish", "close", "fail"]),
                          ("cancelled", ["cancel"])]:
        oid = offer(client, sz, make_parcel()["id"], "transfer").json()["id"]
        for action in actions:
            assert step(client, sz, oid, action).status_code == 200
        ids[name] = oid
    awarded = offer(client, sz, make_parcel()["id"], "lease").json()["id"]
    for action in ("publish", "close"):
        step(client, sz, awarded, action)
    step(client, sz, awarded, "award", awardee_uscc=USCC, awardee_name="某公司")
    ids["awarded"] = awarded

    def listed(headers) -> set[int]:
        r = client.get("/api/v1/offerings", params={"district": "440304"}, headers=headers)
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["features"]}

    public = {ids["published"], ids["closed"], ids["awarded"]}
    for who in ({}, tokens["enterprise"], tokens["guangzhou"], tokens["baoan"]):
        assert listed(who) == public
        for name, oid in ids.items():
            r = client.get(f"/api/v1/offerings/{oid}", headers=who)
            assert r.status_code == (200 if oid in public else 404), (name, r.text)
            if r.status_code == 200:
                assert r.json()["properties"]["allowed_actions"] == []
    assert listed(sz) == listed(tokens["admin"]) == set(ids.values())
    r = client.get(f"/api/v1/offerings/{ids['closed']}", headers=sz)
    assert r.json()["properties"]["allowed_actions"] == ["award", "fail", "cancel"]


# -- a parcel under an offering -----------------------------------------------------------
def test_a_parcel_under_a_live_offering_keeps_its_place_and_status(client, tokens, make_parcel):
    admin = tokens["admin"]
    parcel = make_parcel()
    pid = parcel["id"]
    oid = offer(client, admin, pid, "lease").json()["id"]
    for body in ({"status": "reserved"}, {"status": "已预留"},
                 feature(square(FUTIAN[0] + 0.001, FUTIAN[1]))):
        r = client.patch(f"/api/v1/parcels/{pid}", json=body, headers=admin)
        assert r.status_code == 409 and r.json()["code"] == "parcel_under_offering", r.text
        assert str(oid) in r.json()["detail"]
    # other properties may change; the boundary sent back as read is no move
    r = client.patch(f"/api/v1/parcels/{pid}", json={"name": "新名称"}, headers=admin)
    assert r.status_code == 200, r.text
    same = {"type": "Feature", "geometry": parcel["geometry"], "properties": {"status": "available"}}
    assert client.patch(f"/api/v1/parcels/{pid}", json=same, headers=admin).status_code == 200
    step(client, admin, oid, "cancel")
    r = client.patch(f"/api/v1/parcels/{pid}", json={"status": "reserved"}, headers=admin)
    assert r.status_code == 200 and r.json()["properties"]["status"] == "reserved"


# -- list filters -------------------------------------------------------------------------
def test_filters_and_paging(client, tokens, session, make_parcel):
    session.execute(insert(Park).values(
        name="测试园区", district="440306", geom=func.ST_Multi(func.ST_GeomFromText(
            shapely.to_wkt(square(*BAOAN, 1000)), 4326))))
    made = {}
    plan = [("a", FUTIAN, 100, "transfer"), ("b", FUTIAN, 200, "lease"),
            ("c", BAOAN, 100, "lease"), ("d", BAOAN, 300, "lease_and_transfer"),
            ("e", HAIZHU, 100, "lease")]
    for i, (name, where, side, mode) in enumerate(plan):
        parcel = make_parcel(where=(where[0] + 0.0005 * i, where[1]), side_m=side)
        r = offer(client, tokens["admin"], parcel["id"], mode)
        assert r.status_code == 201, r.text
        made[name] = r.json()
    step(client, tokens["admin"], made["b"]["id"], "publish")
    park_id = made["c"]["properties"]["park_id"]
    assert park_id is not None and made["d"]["properties"]["park_id"] == park_id
    assert made["a"]["properties"]["park_id"] is None

    def names(**params) -> list[str]:
        r = client.get("/api/v1/offerings", params=params, headers=tokens["admin"])
        assert r.status_code == 200, r.text
        by_id = {v["id"]: k for k, v in made.items()}
        return [by_id[f["id"]] for f in r.json()["features"] if f["id"] in by_id]

    assert names() == ["a", "b", "c", "d", "e"]  # by id
    assert names(supply_mode="lease") == ["b", "c", "e"]
    assert names(supply_mode="lease", district="4403") == ["b", "c"]
    assert names(district="440105") == ["e"]
    assert names(status="published") == ["b"]
    assert names(park=park_id) == ["c", "d"]
    area = {k: v["properties"]["area_m2"] for k, v in made.items()}
    assert names(min_area_m2=area["b"]) == ["b", "d"]
    assert names(max_area_m2=area["a"]) == sorted(k for k in made if area[k] <= area["a"])
    x, y = BAOAN
    assert names(bbox=f"{x - 0.01},{y - 0.01},{x + 0.01},{y + 0.01}") == ["c", "d"]
    anonymous = client.get("/api/v1/offerings", params={"limit": 1000}).json()
    assert made["b"]["id"] in {f["id"] for f in anonymous["features"]}
    assert made["a"]["id"] not in {f["id"] for f in anonymous["features"]}

    r = client.get("/api/v1/offerings", params={"district": "4403", "limit": 2},
                   headers=tokens["admin"])
    page = r.json()
    assert page["numberMatched"] == 4 and page["numberReturned"] == 2
    assert [f["id"] for f in page["features"]] == [made["a"]["id"], made["b"]["id"]]
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    page2 = client.get(nxt, headers=tokens["admin"]).json()
    assert [f["id"] for f in page2["features"]] == [made["c"]["id"], made["d"]["id"]]
    for bad in ({"district": "44x"}, {"bbox": "1,2,3"}, {"limit": 1001}, {"status": "sold"},
                {"supply_mode": "sale"}, {"min_area_m2": -1}):
        r = client.get("/api/v1/offerings", params=bad)
        assert r.status_code in (400, 422) and r.json()["code"], bad


# -- per-jurisdiction rules ---------------------------------------------------------------
def test_a_limit_changed_for_guangzhou_applies_there_only(client, tokens, session, make_parcel):
    set_setting(session, "4401", "offerings.lease_max_years", 15, note="测试")
    gz = make_parcel(where=HAIZHU)["id"]
    r = offer(client, tokens["guangzhou"], gz, "lease", term_years=16)
    assert r.status_code == 422 and r.json()["code"] == "lease_term_out_of_range"
    assert "5–15 年" in r.json()["detail"]
    sz = make_parcel(where=FUTIAN)["id"]
    assert offer(client, tokens["shenzhen"], sz, "lease", term_years=16).status_code == 201
    r = offer(client, tokens["guangzhou"], gz, "lease", term_years=15)
    assert r.status_code == 201, r.text
    # the leased part of lease_and_transfer follows the lease rules too
    gz2 = make_parcel(where=(HAIZHU[0] + 0.003, HAIZHU[1]))["id"]
    r = offer(client, tokens["guangzhou"], gz2, "lease_and_transfer", lease_years=16)
    assert r.status_code == 422 and "5–15 年" in r.json()["detail"]


def test_publish_checks_the_rules_in_force_then(client, tokens, session, make_parcel):
    oid = offer(client, tokens["guangzhou"], make_parcel(where=HAIZHU)["id"], "lease",
                term_years=20).json()["id"]
    set_setting(session, "440105", "offerings.lease_max_years", 18)
    r = step(client, tokens["guangzhou"], oid, "publish")
    assert r.status_code == 422 and r.json()["code"] == "lease_term_out_of_range"
    assert "5–18 年" in r.json()["detail"]
    r = client.get(f"/api/v1/offerings/{oid}", headers=tokens["guangzhou"])
    assert r.json()["properties"]["status"] == "draft"
    client.patch(f"/api/v1/offerings/{oid}", json={"term_years": 18}, headers=tokens["guangzhou"])
    assert step(client, tokens["guangzhou"], oid, "publish").status_code == 200
