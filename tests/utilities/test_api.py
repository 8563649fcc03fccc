"""Tariffs and mark-up complaints through the API on a real PostGIS: loading tariffs and
who may, the judgement of a complaint (hand-worked figures in the comments), a tariff change
inside the period, the most specific division, no tariff, the case lifecycle per role, who
reads a complaint, and the per-district statistics against an independent sum."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pandas as pd
import pytest
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy.orm import Session

from landsvc.buildings.models import Building, BuildingType
from landsvc.fields import today
from landsvc.listings.models import Listing, ListingKind, ListingStatus
from landsvc.policies.service import set_setting
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.builders import BAOAN

TARIFFS = "/api/v1/tariffs"
COMPLAINTS = "/api/v1/utility-complaints"


@pytest.fixture
def app(make_app):
    """The app, with the utilities router until the lead registers it in main.py."""
    app = make_app()
    if not any(getattr(r, "path", "") == TARIFFS for r in app.routes):
        from landsvc.utilities.router import router

        app.include_router(router)
    return app


def add_tariff(client, tokens, district="440306", utility="electricity", category="一般工商业",
               price=0.65, day="2026-01-01", who="admin"):
    r = client.post(TARIFFS, headers=tokens[who], json={
        "district": district, "utility": utility, "category": category,
        "unit_price_yuan": price, "effective_from": day})
    assert r.status_code == 201, r.text
    return r.json()


def complaint(**changes) -> dict:
    return {"landlord": "深圳某物业管理有限公司", "district": "440306", "utility": "electricity",
            "category": "一般工商业", "billed_unit_price_yuan": 1.30, "quantity": 1000,
            "period_start": "2026-03-01", "period_end": "2026-03-31"} | changes


def file(client, tokens, who="enterprise", status=201, **changes) -> dict:
    r = client.post(COMPLAINTS, headers=tokens[who], json=complaint(**changes))
    assert r.status_code == status, r.text
    return r.json()


# -- tariffs ------------------------------------------------------------------------------
def test_tariffs_are_loaded_by_the_bureau_in_its_jurisdiction_and_read_by_all(client, tokens):
    t = add_tariff(client, tokens, who="baoan")
    assert (t["district"], t["utility"], t["unit_price_yuan"], t["unit"]) == (
        "440306", "electricity", 0.65, "元/千瓦时")
    assert add_tariff(client, tokens, district="440300", utility="water", category="非居民",
                      price=4.5, who="shenzhen")["district"] == "4403"
    r = client.post(TARIFFS, headers=tokens["baoan"], json={
        "district": "4403", "utility": "gas", "category": "工商业", "unit_price_yuan": 4,
        "effective_from": "2026-01-01"})
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    body = {"district": "440306", "utility": "gas", "category": "工商业",
            "unit_price_yuan": 4, "effective_from": "2026-01-01"}
    assert client.post(TARIFFS, headers=tokens["enterprise"], json=body).status_code == 403
    assert client.post(TARIFFS, json=body).status_code == 401
    # the same place, utility, category and day twice
    r = client.post(TARIFFS, headers=tokens["admin"], json=body | {"utility": "electricity",
                                                                   "category": "一般工商业"})
    assert r.status_code == 409 and r.json()["code"] == "duplicate_tariff"
    for bad, field in [({"district": "4499"}, "district"), ({"district": "12"}, "district"),
                       ({"utility": "steam"}, "utility"), ({"unit_price_yuan": 0},
                                                           "unit_price_yuan"),
                       ({"category": "  "}, "category")]:
        r = client.post(TARIFFS, headers=tokens["admin"], json=body | bad)
        assert r.status_code == 422 and r.json()["detail"].startswith(field), (bad, r.text)
    # public reading; a district lists its own tariffs and those above it
    r = client.get(TARIFFS, params={"district": "440306"})
    assert r.status_code == 200
    assert {(i["district"], i["utility"]) for i in r.json()["items"]} >= {
        ("440306", "electricity"), ("4403", "water")}
    r = client.get(TARIFFS, params={"district": "440106", "utility": "water"})
    assert all(not i["district"].startswith("4403") for i in r.json()["items"])


# -- complaints: the judgement --------------------------------------------------------------
def test_double_the_tariff_opens_a_case(client, tokens):
    add_tariff(client, tokens)
    c = file(client, tokens)
    # (1.30 − 0.65) / 0.65 = 100 %; (1.30 − 0.65 × 1.02) × 1000 = 637.00 元 (2 % allowance)
    assert (c["tariff_unit_price_yuan"], c["markup_percent"], c["overcharge_yuan"],
            c["tolerance_percent"], c["case_opened"], c["status"]) == (
        0.65, 100.0, 637.0, 2.0, True, "filed")
    assert c["complainant_uscc"] == "91440300MA5FXXXX1X" and c["reason"] is None
    assert c["allowed_actions"] == ["investigate", "dismiss"]


def test_a_tariff_change_inside_the_period(client, tokens):
    add_tariff(client, tokens, price=0.60, day="2026-01-01")
    add_tariff(client, tokens, price=0.70, day="2026-03-21", who="baoan")
    c = file(client, tokens, billed_unit_price_yuan=1.00, quantity=3100)
    # 20 days at 0.60, 11 at 0.70: 19.7 / 31 = 0.635483… → 0.6355;
    # 3100 − 3100 × 19.7/31 × 1.02 = 3100 − 2009.40 = 1090.60; 11.3 / 19.7 = 57.3604… %
    assert (c["tariff_unit_price_yuan"], c["markup_percent"], c["overcharge_yuan"]) == (
        0.6355, 57.36, 1090.6)
    assert [(s["days"], s["unit_price_yuan"]) for s in c["tariff_segments"]] == [(20, 0.6),
                                                                                (11, 0.7)]


def test_within_the_tolerance_is_kept_dismissed(client, tokens):
    add_tariff(client, tokens)
    add_tariff(client, tokens, utility="water", category="非居民", price=4.5)
    # 0.663 = 0.65 × 1.02, the allowance exactly: no overcharge
    c = file(client, tokens, billed_unit_price_yuan=0.663)
    assert (c["case_opened"], c["status"], c["overcharge_yuan"], c["markup_percent"]) == (
        False, "dismissed", 0.0, 2.0)
    assert "within the tariff" in c["reason"] and c["allowed_actions"] == []
    # water has no allowance: one fen per m³ over 4.50 on 10 m³ is 0.10 元 overcharged
    w = file(client, tokens, utility="water", category="非居民", billed_unit_price_yuan=4.51,
             quantity=10)
    assert (w["case_opened"], w["status"], w["overcharge_yuan"]) == (True, "filed", 0.1)


def test_the_tolerance_is_configurable_per_jurisdiction(client, tokens, session):
    add_tariff(client, tokens)
    set_setting(session, "4403", "utilities.electricity_tolerance_percent", 10)
    # 0.70 against 0.65 is 7.69 % over ((0.70 − 0.65) / 0.65 = 7.6923 %): inside 10 %
    c = file(client, tokens, billed_unit_price_yuan=0.70)
    assert (c["tolerance_percent"], c["markup_percent"], c["case_opened"]) == (10.0, 7.69, False)


def test_the_most_specific_division_wins(client, tokens):
    add_tariff(client, tokens, district="44", price=0.80)
    add_tariff(client, tokens, district="4403", price=0.70)
    add_tariff(client, tokens, district="440306", price=0.65, day="2025-01-01")
    add_tariff(client, tokens, district="4403", price=0.75, day="2026-02-01")
    # Bao'an: its own 0.65 (2025) beats the city's newer ones
    assert file(client, tokens)["tariff_unit_price_yuan"] == 0.65
    # Futian: the city's tariff of February (March billed)
    assert file(client, tokens, district="440304")["tariff_unit_price_yuan"] == 0.75
    # Haizhu (Guangzhou): only the province's
    assert file(client, tokens, district="440105")["tariff_unit_price_yuan"] == 0.80


def test_no_tariff_is_a_422_saying_so(client, tokens, session):
    r = client.post(COMPLAINTS, headers=tokens["enterprise"], json=complaint())
    assert r.status_code == 422 and r.json()["code"] == "no_tariff"
    assert "没有执行中的电价" in r.json()["detail"]
    # a tariff starting inside the period leaves its first days uncovered
    add_tariff(client, tokens, day="2026-03-10")
    r = client.post(COMPLAINTS, headers=tokens["enterprise"], json=complaint())
    assert r.status_code == 422 and "2026-03-01" in r.json()["detail"]
    # another category: the answer names the categories that exist
    r = client.post(COMPLAINTS, headers=tokens["enterprise"],
                    json=complaint(category="大工业", period_start="2026-04-01",
                                   period_end="2026-04-30"))
    assert r.status_code == 422 and "一般工商业" in r.json()["detail"]
    from landsvc.utilities.models import UtilityComplaint

    assert session.query(UtilityComplaint).count() == 0


def test_bad_complaints_name_the_field(client, tokens):
    add_tariff(client, tokens)
    for bad, field in [({"billed_unit_price_yuan": -1}, "billed_unit_price_yuan"),
                       ({"quantity": 0}, "quantity"),
                       ({"period_end": "2026-02-01"}, "period_end"),
                       ({"period_end": (today() + timedelta(days=3)).isoformat()}, "period_end"),
                       ({"period_start": "2024-01-01", "period_end": "2025-06-30"}, "period_end"),
                       ({"district": "4403"}, "district"), ({"district": "440399"}, "district"),
                       ({"landlord": None}, "landlord"), ({"utility": "steam"}, "utility"),
                       ({"listing_id": 999_999_999}, "listing_id")]:
        r = client.post(COMPLAINTS, headers=tokens["enterprise"], json=complaint(**bad))
        assert r.status_code == 422 and r.json()["detail"].startswith(field), (bad, r.text)
    assert client.post(COMPLAINTS, headers=tokens["baoan"], json=complaint()).status_code == 403
    assert client.post(COMPLAINTS, json=complaint()).status_code == 401


def test_a_complaint_about_a_let_listing_takes_its_place_and_landlord(client, tokens, session):
    add_tariff(client, tokens)
    building = Building(name="宝安2号厂房", geom=from_shape(shapely.Point(*BAOAN), srid=4326),
                        district="440306", building_type=BuildingType.multi_storey, floors=5,
                        total_floor_area_m2=5000, completed=True)
    session.add(building)
    session.flush()
    listing = Listing(building_id=building.id, kind=ListingKind.factory,
                      status=ListingStatus.let, area_m2=800, rent_yuan_per_m2_month=30,
                      landlord="宝安某实业有限公司")
    session.add(listing)
    session.flush()
    c = file(client, tokens, listing_id=listing.id, landlord=None, district=None)
    assert (c["listing_id"], c["district"], c["landlord"]) == (listing.id, "440306",
                                                               "宝安某实业有限公司")
    r = client.post(COMPLAINTS, headers=tokens["enterprise"],
                    json=complaint(listing_id=listing.id, district="440304"))
    assert r.status_code == 422 and r.json()["code"] == "district_mismatch"


# -- the case lifecycle and access ----------------------------------------------------------
def other_enterprise(session: Session) -> dict:
    token = create_token(session=session, role=Role.enterprise,
                         enterprise_uscc="91440300MA5GYYYY2Y")
    return {"Authorization": f"Bearer {token}"}


def test_transitions_by_role(client, tokens, session):
    add_tariff(client, tokens)
    c = file(client, tokens)
    url = f"{COMPLAINTS}/{c['id']}/transitions"
    assert client.post(url, json={"action": "investigate"}).status_code == 401
    r = client.post(url, headers=tokens["enterprise"], json={"action": "investigate"})
    assert r.status_code == 403            # the filer reads it but does not judge it
    r = client.post(url, headers=tokens["guangzhou"], json={"action": "investigate"})
    assert r.status_code == 404            # outside Guangzhou's jurisdiction: not even seen
    r = client.post(url, headers=other_enterprise(session), json={"action": "investigate"})
    assert r.status_code == 404
    r = client.post(url, headers=tokens["baoan"], json={"action": "resolve", "refund_yuan": 1})
    assert r.status_code == 409 and r.json()["allowed"] == ["investigate", "dismiss"]
    r = client.post(url, headers=tokens["baoan"], json={"action": "investigate",
                                                        "refund_yuan": 5})
    assert r.status_code == 422 and r.json()["detail"].startswith("refund_yuan")
    r = client.post(url, headers=tokens["baoan"], json={"action": "investigate"})
    assert r.status_code == 200 and r.json()["status"] == "investigating"
    for bad in [{"action": "resolve"}, {"action": "resolve", "refund_yuan": -0.01}]:
        r = client.post(url, headers=tokens["shenzhen"], json=bad)
        assert r.status_code == 422 and r.json()["detail"].startswith("refund_yuan"), r.text
    r = client.post(url, headers=tokens["shenzhen"],
                    json={"action": "resolve", "refund_yuan": 637.005, "note": "已责令退还"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["refund_yuan"], r.json()["note"]) == (
        "resolved", 637.01, "已责令退还")   # 637.005 → 637.01, half up
    r = client.post(url, headers=tokens["admin"], json={"action": "dismiss"})
    assert r.status_code == 409 and r.json()["allowed"] == []
    # an admin dismisses another; a dismissed one (also within tolerance) moves no further
    d = file(client, tokens)
    r = client.post(f"{COMPLAINTS}/{d['id']}/transitions", headers=tokens["admin"],
                    json={"action": "dismiss"})
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    w = file(client, tokens, billed_unit_price_yuan=0.65)
    r = client.post(f"{COMPLAINTS}/{w['id']}/transitions", headers=tokens["baoan"],
                    json={"action": "investigate"})
    assert r.status_code == 409
    r = client.post(f"{COMPLAINTS}/{w['id']}/transitions", headers=tokens["baoan"],
                    json={"action": "reopen"})
    assert r.status_code == 422


def test_who_reads_a_complaint(client, tokens, session):
    add_tariff(client, tokens)
    c = file(client, tokens)
    url = f"{COMPLAINTS}/{c['id']}"
    for who in ("enterprise", "baoan", "shenzhen", "province", "admin"):
        assert client.get(url, headers=tokens[who]).status_code == 200, who
    assert client.get(url, headers=tokens["guangzhou"]).status_code == 404
    assert client.get(url, headers=other_enterprise(session)).status_code == 404
    assert client.get(url).status_code == 401
    ids = lambda headers, **q: [i["id"] for i in client.get(COMPLAINTS, headers=headers,  # noqa: E731
                                                            params=q).json()["items"]]
    assert c["id"] in ids(tokens["enterprise"]) and c["id"] in ids(tokens["baoan"])
    assert ids(tokens["guangzhou"]) == [] and ids(other_enterprise(session)) == []
    assert ids(tokens["admin"], district="4401") == []
    assert ids(tokens["admin"], status="filed", district="440306") == [c["id"]]


# -- statistics ---------------------------------------------------------------------------
def test_stats_per_district_against_an_independent_sum(client, tokens):
    add_tariff(client, tokens, district="4403", price=0.70)
    add_tariff(client, tokens, district="440306", price=0.65)
    add_tariff(client, tokens, district="4401", utility="water", category="非居民", price=3.46)
    cases = [  # district, utility, category, tariff, tolerance %, billed, quantity
        ("440306", "electricity", "一般工商业", "0.65", "2", "1.30", "1000"),
        ("440306", "electricity", "一般工商业", "0.65", "2", "0.66", "800"),
        ("440306", "electricity", "一般工商业", "0.65", "2", "0.95", "1234.5"),
        ("440304", "electricity", "一般工商业", "0.70", "2", "1.10", "2500"),
        ("440304", "electricity", "一般工商业", "0.70", "2", "0.71", "100"),
        ("440105", "water", "非居民", "3.46", "0", "5.00", "321.123"),
    ]
    filed = []
    for district, utility, category, _, _, billed, quantity in cases:
        filed.append(file(client, tokens, district=district, utility=utility, category=category,
                          billed_unit_price_yuan=float(billed), quantity=float(quantity)))
    # bureau steps: the first Bao'an case resolved with 600 元, the Futian big one dismissed
    steps = [(filed[0]["id"], "investigate", None), (filed[0]["id"], "resolve", 600),
             (filed[3]["id"], "dismiss", None)]
    for cid, action, refund in steps:
        body = {"action": action} | ({"refund_yuan": refund} if refund is not None else {})
        r = client.post(f"{COMPLAINTS}/{cid}/transitions", headers=tokens["admin"], json=body)
        assert r.status_code == 200, r.text

    # The independent figures: overcharge = max(0, billed − tariff × (1 + tol)) × quantity
    # to the fen, half up; a case opens when that is at least 0.01.
    rows = []
    for district, _, _, tariff, tol, billed, quantity in cases:
        over = max(D(0), (D(billed) - D(tariff) * (1 + D(tol) / 100)) * D(quantity))
        over = over.quantize(D("0.01"), ROUND_HALF_UP)
        rows.append({"district": district, "over": over, "opened": over >= D("0.01")})
    frame = pd.DataFrame(rows)
    frame["status"] = ["resolved", "dismissed", "filed", "dismissed", "dismissed", "filed"]
    # row 1: 0.66 ≤ 0.663 within; row 4: 0.71 ≤ 0.714 within; row 3: dismissed by the bureau
    frame["refund"] = [D(600), D(0), D(0), D(0), D(0), D(0)]
    expected = frame.groupby("district").agg(
        cases=("over", "size"), opened=("opened", "sum"),
        resolved=("status", lambda s: int((s == "resolved").sum())),
        dismissed=("status", lambda s: int((s == "dismissed").sum())),
        overcharge_yuan=("over", lambda s: float(sum(s))),
        refund_yuan=("refund", lambda s: float(sum(s))))

    r = client.get(f"{COMPLAINTS}/stats", headers=tokens["admin"], params={"jurisdiction": "44"})
    assert r.status_code == 200, r.text
    got = {d["district"]: d for d in r.json()["districts"]}
    assert set(got) == set(expected.index)
    for district, row in expected.iterrows():
        g = got[district]
        assert (g["cases"], g["opened"], g["resolved"], g["dismissed"]) == (
            row.cases, row.opened, row.resolved, row.dismissed), district
        assert g["overcharge_yuan"] == pytest.approx(row.overcharge_yuan, abs=1e-9)
        assert g["refund_yuan"] == pytest.approx(row.refund_yuan, abs=1e-9)
    assert got["440306"]["district_name"] == "宝安区"
    totals = r.json()["totals"]
    assert totals["cases"] == 6
    assert totals["overcharge_yuan"] == pytest.approx(float(frame["over"].sum()), abs=1e-9)

    # a bureau's own jurisdiction by default; another's refused; a later window is empty
    r = client.get(f"{COMPLAINTS}/stats", headers=tokens["shenzhen"])
    assert {d["district"] for d in r.json()["districts"]} == {"440306", "440304"}
    r = client.get(f"{COMPLAINTS}/stats", headers=tokens["shenzhen"],
                   params={"jurisdiction": "4401"})
    assert r.status_code == 403
    tomorrow = (today() + timedelta(days=1)).isoformat()
    r = client.get(f"{COMPLAINTS}/stats", headers=tokens["admin"], params={"from": tomorrow})
    assert r.json()["totals"]["cases"] == 0 and r.json()["districts"] == []
    r = client.get(f"{COMPLAINTS}/stats", headers=tokens["admin"],
                   params={"from": tomorrow, "to": today().isoformat()})
    assert r.status_code == 422
    assert client.get(f"{COMPLAINTS}/stats", headers=tokens["enterprise"]).status_code == 403
    assert client.get(f"{COMPLAINTS}/stats").status_code == 401
    assert client.get(f"{COMPLAINTS}/stats", headers=tokens["admin"],
                      params={"jurisdiction": "x"}).status_code == 422
