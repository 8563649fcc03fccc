"""Enterprise portal: demands, their matches, withdrawing, and filing a green-channel case
for a matched offering — every figure checked against the services and the database."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest
import shapely
from sqlalchemy import func, select

from landsvc.access import OPERATOR, Principal
from landsvc.approvals.models import ApprovalCase, Channel
from landsvc.demands import service as demands
from landsvc.demands.models import Demand, DemandStatus
from landsvc.enterprises.models import Enterprise
from landsvc.enterprises.service import create_consortium
from landsvc.matching import service as matching
from landsvc.offerings import service as offerings
from landsvc.parcels import service as parcels
from landsvc.tokens.models import Role
from tests.builders import BAOAN, FUTIAN, square
from tests.buildings.util import add_park
from tests.offerings.test_rules import VALID
from tests.web.conftest import csrf_of, login

ME = "91440300MA5FXXXX1X"
OTHER = "91440300MA5GYYYY2Y"
PARTNER = "91441300MA4W00001K"
KM_LON = 1 / (111.320 * 0.9236)  # degrees of longitude per km at Futian's latitude


def east(km: float) -> tuple[float, float]:
    return (FUTIAN[0] + km * KM_LON, FUTIAN[1])


def add_enterprise(session, uscc: str, tier: str = "none", district: str = "440304") -> None:
    session.add(Enterprise(uscc=uscc, name=f"企业{uscc[-4:]}", district=district, tier=tier))
    session.flush()


@pytest.fixture
def offer(session):
    """A published offering on a new parcel, made through the parcel and offering services."""
    made = iter(range(1, 1000))

    def make(where=FUTIAN, side_m=100.0, mode="transfer", **changes) -> int:
        parcel, _ = parcels.create_parcel(
            session=session, geometry=shapely.geometry.mapping(square(*where, side_m)),
            properties={"code": f"WEB-{next(made):03d}", "status": "available"})
        offering, _ = offerings.create_offering(session=session, values={
            "parcel_id": parcel["id"], "supply_mode": mode} | VALID[mode] | changes)
        offerings.transition_offering(session=session, offering_id=offering["id"],
                                      action="publish")
        return offering["id"]

    return make


@pytest.fixture
def me(session, client, web_user):
    """The signed-in client of an SRDI enterprise (ME) in Futian."""
    add_enterprise(session, ME, "srdi_sme")
    name = web_user("enterprise", enterprise_uscc=ME)
    assert login(client, name).status_code == 303
    return Principal(Role.enterprise, enterprise_uscc=ME)


def demand_of(session, uscc=None, consortium_id=None, **values) -> int:
    owner = {"enterprise_uscc": uscc} if uscc else {"consortium_id": consortium_id}
    feature, _ = demands.create_demand(session=session, values={"kinds": ["land"]} | owner
                                       | values, principal=OPERATOR)
    return feature["id"]


def count_demands(session) -> int:
    return session.scalar(select(func.count()).select_from(Demand))


def hidden_within(page: str):
    raw = re.search(r'name="within" id="f-within" value="([^"]*)"', page)[1]
    return json.loads(html.unescape(raw)) if raw else None


def error_of(page: str, name: str) -> str | None:
    found = re.search(rf'<p class="error" id="e-{name}" role="alert">([^<]*)</p>', page)
    return html.unescape(found[1]) if found else None


DRAWN = shapely.geometry.mapping(square(*FUTIAN, 1000))
DRAWN = {"type": "Polygon", "coordinates": [[list(p) for p in DRAWN["coordinates"][0]]]}


# -- access -------------------------------------------------------------------------------
def test_anonymous_visitors_are_sent_to_log_in_and_bureaus_refused(client, web_user):
    r = client.get("/enterprise/demands/new", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/enterprise/demands/new"
    login(client, web_user("bureau", jurisdiction="4403"))
    r = client.get("/enterprise/demands")
    assert r.status_code == 403 and "仅供企业使用" in r.text


def test_another_enterprises_demand_is_a_404_page(session, client, me, offer):
    add_enterprise(session, OTHER)
    theirs = demand_of(session, OTHER)
    oid = offer()
    for url in (f"/enterprise/demands/{theirs}",
                f"/enterprise/demands/{theirs}/apply?offering_id={oid}"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "text/html" in r.headers["content-type"]
        assert f"用地需求 {theirs} 不存在" in r.text
    token = csrf_of(client.get("/enterprise/demands").text)
    r = client.post(f"/enterprise/demands/{theirs}/withdraw", data={"csrf_token": token})
    assert r.status_code == 404
    r = client.post(f"/enterprise/demands/{theirs}/apply?offering_id={oid}",
                    data={"csrf_token": token, "project_name": "越权申请"})
    assert r.status_code == 404
    assert session.get(Demand, theirs).status is DemandStatus.open
    assert session.scalar(select(func.count()).select_from(ApprovalCase)
                          .where(ApprovalCase.demand_id == theirs)) == 0


# -- the list -----------------------------------------------------------------------------
def test_list_shows_own_and_consortium_demands_only(session, client, me):
    add_enterprise(session, OTHER)
    add_enterprise(session, PARTNER, district="441302")
    consortium = create_consortium(session=session, name="联合体甲", lead_uscc=ME, members=[
        {"uscc": ME, "share_percent": 60}, {"uscc": PARTNER, "share_percent": 40}])
    mine = demand_of(session, ME, area_min_m2=5000, area_max_m2=8000)
    joint = demand_of(session, consortium_id=consortium["id"], districts=["4413"])
    theirs = demand_of(session, OTHER)
    page = client.get("/enterprise/demands").text
    ids = [int(i) for i in re.findall(r'href="/enterprise/demands/(\d+)"', page)]
    assert ids == [mine, joint]
    assert theirs not in ids
    assert "5,000.00 – 8,000.00 ㎡" in page
    assert f"联合竞买体 {consortium['id']}" in page
    assert "惠州市（全市）" in page
    assert 'class="badge s-open">待匹配' in page


# -- creating -----------------------------------------------------------------------------
def form_body(token: str, **changes) -> dict:
    body = {"csrf_token": token, "owner": "self", "kinds": ["land", "premises"],
            "area_min": "15", "area_max": "30", "area_unit": "mu",
            "districts": ["440304", "4403"], "within": json.dumps(DRAWN),
            "supply_modes": ["transfer", "lease"], "max_price_wan": "800",
            "max_annual_rent_yuan": "200000", "max_rent_yuan_per_m2_month": "45.5",
            "term_years": "30", "industry_code": "C3971", "power_kva": "500",
            "floor_load_kn_m2": "", "clear_height_m": "8.5", "needed_by_date": "2027-06-30"}
    return body | changes


def test_the_form_offers_districts_by_city_parks_and_the_drawing_tool(session, client, me):
    park = add_park(session, BAOAN, name="宝安<测试>园区")
    page = client.get("/enterprise/demands/new").text
    assert '<optgroup label="深圳市">' in page
    assert '<option value="440304">深圳市 福田区</option>' in page
    assert '<option value="4403">深圳市（全市）</option>' in page
    assert '<option value="441900">东莞市</option>' in page  # a city without counties
    assert f'<option value="{park}">宝安&lt;测试&gt;园区（宝安区）</option>' in page
    assert "/maps/assets/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js" in page
    assert "/maps/assets/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css" in page
    assert '<option value="mu">亩</option>' in page
    assert "http://" not in page.replace("http://www.w3.org", "")


def test_a_created_demand_is_stored_with_exactly_the_forms_values(session, client, me):
    park = add_park(session, FUTIAN)
    token = csrf_of(client.get("/enterprise/demands/new").text)
    r = client.post("/enterprise/demands/new", data=form_body(token, parks=[str(park)]),
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    demand_id = int(re.fullmatch(r"/enterprise/demands/(\d+)", r.headers["location"])[1])
    d = session.get(Demand, demand_id)
    assert d.enterprise_uscc == ME and d.consortium_id is None
    assert d.status is DemandStatus.open
    assert sorted(d.kinds) == ["land", "premises"]
    # 亩 → ㎡ (1 亩 = 2000/3 ㎡), to 0.01 m²
    assert d.area_min_m2 == Decimal("10000.00") and d.area_max_m2 == Decimal("20000.00")
    assert sorted(d.districts) == ["4403", "440304"]
    assert list(d.parks) == [park]
    assert sorted(d.supply_modes) == ["lease", "transfer"]
    assert d.max_price_wan == Decimal("800.00")
    assert d.max_annual_rent_yuan == Decimal("200000.00")
    assert d.max_rent_yuan_per_m2_month == Decimal("45.50")
    assert d.term_years == 30 and d.industry_code == "C3971"
    assert d.power_kva == Decimal("500.0") and d.clear_height_m == Decimal("8.50")
    assert d.floor_load_kn_m2 is None
    assert d.needed_by_date.isoformat() == "2027-06-30"
    assert d.near_point is None
    stored = session.scalar(select(func.ST_AsGeoJSON(Demand.within_geom))
                            .where(Demand.id == demand_id))
    assert shapely.geometry.shape(json.loads(stored)).equals_exact(
        shapely.geometry.shape(DRAWN), 1e-7)
    page = client.get(r.headers["location"]).text
    assert "10,000.00 – 20,000.00 ㎡" in page and "15.0000 – 30.0000 亩" in page
    assert "地图上绘制的区域" in page and "深圳市福田区" in page


def test_square_metres_and_a_point_with_radius(session, client, me):
    token = csrf_of(client.get("/enterprise/demands/new").text)
    r = client.post("/enterprise/demands/new", follow_redirects=False, data={
        "csrf_token": token, "kinds": "premises", "area_min": "800", "area_max": "1,200",
        "area_unit": "m2", "near_lon": str(BAOAN[0]), "near_lat": str(BAOAN[1]),
        "near_radius_km": "7.5"})
    assert r.status_code == 303, r.text
    d = session.get(Demand, int(r.headers["location"].rsplit("/", 1)[1]))
    assert (d.kinds, d.area_min_m2, d.area_max_m2) == (["premises"], Decimal("800.00"),
                                                       Decimal("1200.00"))
    assert d.near_radius_m == Decimal("7500.0")
    lon, lat = session.execute(select(func.ST_X(Demand.near_point), func.ST_Y(Demand.near_point))
                               .where(Demand.id == d.id)).one()
    assert (round(lon, 7), round(lat, 7)) == BAOAN
    assert d.within_geom is None and list(d.districts) == [] and d.scope == ["440304", "440306"]


def test_a_rule_violation_is_shown_next_to_its_field_and_nothing_is_stored(session, client, me):
    before = count_demands(session)
    token = csrf_of(client.get("/enterprise/demands/new").text)
    r = client.post("/enterprise/demands/new",
                    data=form_body(token, area_min="40", area_max="30", term_years="30"))
    assert r.status_code == 422
    # the service's own message (area_range), the bounds converted from 亩 to ㎡
    assert error_of(r.text, "area_min") == "最小面积 26666.67 ㎡ 大于最大面积 20000.00 ㎡"
    assert count_demands(session) == before
    # the input is kept, the drawn polygon too (redrawn by demand-draw.js)
    assert hidden_within(r.text) == DRAWN
    assert 'id="f-area_min" name="area_min" type="number" value="40"' in r.text
    assert '<option value="mu" selected>亩</option>' in r.text
    assert '<option value="440304" selected>' in r.text
    assert 'name="supply_modes" value="lease" checked' in r.text
    assert 'name="supply_modes" value="flexible_term_transfer">' in r.text
    assert 'value="2027-06-30"' in r.text


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"within": json.dumps({"type": "Polygon", "coordinates": [[[116.3, 39.9], [116.4, 39.9],
                                                                 [116.4, 40.0], [116.3, 39.9]]]})},
     "within", "多边形须在广东省内（其内部一点须落在省内区县）"),
    ({"kinds": []}, "kinds", "须说明需要用地（land）、厂房（premises）或两者"),
    ({"term_years": "80"}, "term_years", None),
    ({"industry_code": "Z99"}, "industry_code", None),
    ({"max_price_wan": "很多"}, "max_price_wan", "应为数字"),
    ({"within": "", "near_lon": "114.05", "near_lat": "", "near_radius_km": "3"}, "near",
     "给出半径（radius_km）须同时给出中心点经纬度（lon、lat）"),
])
def test_each_refusal_names_its_field(session, client, me, changes, field, message):
    before = count_demands(session)
    token = csrf_of(client.get("/enterprise/demands/new").text)
    r = client.post("/enterprise/demands/new", data=form_body(token, **changes))
    assert r.status_code == 422, r.text
    shown = error_of(r.text, field)
    assert shown, r.text
    if message is not None:
        assert shown == message
    assert re.search(r"[\u4e00-\u9fff]", shown), shown  # Chinese, never pydantic's English
    assert count_demands(session) == before


def test_a_form_without_its_csrf_token_is_refused_and_nothing_stored(session, client, me):
    before = count_demands(session)
    body = form_body("")
    del body["csrf_token"]
    r = client.post("/enterprise/demands/new", data=body)
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post("/enterprise/demands/new", data=form_body("x" * 43))
    assert r.status_code == 403
    assert count_demands(session) == before


# -- matches ------------------------------------------------------------------------------
def test_the_matches_are_the_matching_services_ranked_with_their_reasons(
        session, client, me, offer):
    near, mid, far = offer(where=east(0.5)), offer(where=east(2), side_m=102), offer(where=east(4))
    outside = offer(where=east(9))
    demand_id = demand_of(session, ME, near={"lon": FUTIAN[0], "lat": FUTIAN[1],
                                              "radius_km": 5},
                          area_min_m2=9000, area_max_m2=11000, industry_code="C3971")
    expected = matching.match_demand(session=session, demand_id=demand_id, kind="offerings",
                                     limit=20, principal=me)["items"]
    assert {m["id"] for m in expected} == {near, mid, far}
    page = client.get(f"/enterprise/demands/{demand_id}")
    assert page.status_code == 200
    shown = [int(i) for i in re.findall(r'<li class="panel match" id="offering-(\d+)">',
                                        page.text)]
    assert shown == [m["id"] for m in expected] and outside not in shown
    scores = re.findall(r'class="score">得分 <strong>([\d,.]+)</strong>', page.text)
    assert scores == [f"{m['score']:,.2f}" for m in expected]
    # each reason row: criterion, value, weight, contribution, note
    first = expected[0]
    block = page.text.split(f'id="offering-{first["id"]}"')[1].split("</li>")[0]
    rows = re.findall(r"<tr>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>\s*<td class=\"num\">([^<]*)"
                      r"</td>\s*<td class=\"num\">([^<]*)</td>\s*<td>([^<]*)</td>", block)
    assert [(html.unescape(a), html.unescape(b), c, d, html.unescape(e)) for a, b, c, d, e in rows] == [
        (r["criterion_label"], "—" if r["value"] is None else str(r["value"]),
         f"{r['weight']:,.2f}", f"{r['contribution']:,.2f}", r["note"])
        for r in first["reasons"]]
    assert round(sum(r["contribution"] for r in first["reasons"]), 2) == first["score"]
    # the map gets the same ranking and the demand's area
    data = json.loads(re.search(r'<script id="match-data" type="application/json">(.*?)</script>',
                                page.text, re.S)[1])
    assert [(m["rank"], m["id"], m["score"]) for m in data["matches"]] == [
        (i, m["id"], m["score"]) for i, m in enumerate(expected, 1)]
    assert data["demand"]["properties"]["near"] == {"lon": FUTIAN[0], "lat": FUTIAN[1],
                                                    "radius_km": 5.0}
    assert f'href="/enterprise/demands/{demand_id}/apply?offering_id={near}"' in page.text


def test_withdrawing_a_demand(session, client, me, offer):
    offer()
    demand_id = demand_of(session, ME)
    page = client.get(f"/enterprise/demands/{demand_id}").text
    r = client.post(f"/enterprise/demands/{demand_id}/withdraw",
                    data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/enterprise/demands/{demand_id}"
    session.expire_all()
    assert session.get(Demand, demand_id).status is DemandStatus.withdrawn
    page = client.get(f"/enterprise/demands/{demand_id}").text
    assert 'class="badge s-withdrawn">已撤回' in page
    assert "只有待匹配（open）的需求可以匹配" in page
    assert "撤回需求</button>" not in page
    # withdrawing again: the lifecycle's 409, shown on the page
    r = client.post(f"/enterprise/demands/{demand_id}/withdraw",
                    data={"csrf_token": csrf_of(page)})
    assert r.status_code == 409 and "withdraw" in r.text


# -- applying -----------------------------------------------------------------------------
@pytest.mark.parametrize(("tier", "channel"), [("srdi_sme", Channel.green),
                                               ("little_giant", Channel.green),
                                               ("none", Channel.standard)])
def test_filing_a_case_for_a_matched_offering(session, client, web_user, offer, tier, channel):
    add_enterprise(session, ME, tier)
    login(client, web_user("enterprise", enterprise_uscc=ME))
    oid = offer()
    demand_id = demand_of(session, ME, industry_code="C3971")
    page = client.get(f"/enterprise/demands/{demand_id}/apply?offering_id={oid}")
    assert page.status_code == 200
    assert "在需求" in page.text and "排第 1 位" in page.text
    assert 'name="industry_code" type="text" value="C3971"' in page.text
    r = client.post(f"/enterprise/demands/{demand_id}/apply?offering_id={oid}",
                    follow_redirects=False, data={
                        "csrf_token": csrf_of(page.text), "project_name": "智能传感器产线",
                        "investment_wan": "12,000.5", "industry_code": "C3971"})
    assert r.status_code == 303, r.text
    case_id = int(re.fullmatch(r"/enterprise/approvals/(\d+)", r.headers["location"])[1])
    case = session.get(ApprovalCase, case_id)
    assert (case.applicant_uscc, case.consortium_id, case.offering_id, case.demand_id) == (
        ME, None, oid, demand_id)
    assert case.project_name == "智能传感器产线"
    assert case.investment_wan == Decimal("12000.50") and case.industry_code == "C3971"
    assert case.channel is channel and case.applicant_tier.value == tier
    assert case.status.value == "submitted"


def test_a_consortium_demand_files_in_the_consortiums_name(session, client, me, offer):
    add_enterprise(session, PARTNER, "little_giant", district="441302")
    consortium = create_consortium(session=session, name="联合体乙", lead_uscc=ME, members=[
        {"uscc": ME, "share_percent": 51}, {"uscc": PARTNER, "share_percent": 49}])
    oid = offer(joint_bidding_allowed=True)
    demand_id = demand_of(session, consortium_id=consortium["id"])
    page = client.get(f"/enterprise/demands/{demand_id}/apply?offering_id={oid}")
    assert "联合竞买体「联合体乙」" in page.text
    r = client.post(f"/enterprise/demands/{demand_id}/apply?offering_id={oid}",
                    follow_redirects=False,
                    data={"csrf_token": csrf_of(page.text), "project_name": "联合项目"})
    assert r.status_code == 303, r.text
    case = session.get(ApprovalCase, int(r.headers["location"].rsplit("/", 1)[1]))
    assert (case.applicant_uscc, case.consortium_id, case.demand_id) == (
        None, consortium["id"], demand_id)


def test_html_in_the_project_name_is_shown_escaped_and_errors_named(session, client, me, offer):
    oid = offer()
    demand_id = demand_of(session, ME)
    url = f"/enterprise/demands/{demand_id}/apply?offering_id={oid}"
    token = csrf_of(client.get(url).text)
    name = '<script>alert("x")</script><b>厂</b>'
    r = client.post(url, data={"csrf_token": token, "project_name": name,
                               "investment_wan": "-5"})
    assert r.status_code == 422
    assert error_of(r.text, "investment_wan") == "不能小于 0"
    assert "<script>alert" not in r.text and "<b>厂</b>" not in r.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;厂&lt;/b&gt;" in r.text
    r = client.post(url, data={"csrf_token": token, "project_name": ""})
    assert r.status_code == 422 and error_of(r.text, "project_name") == "必填"
    assert session.scalar(select(func.count()).select_from(ApprovalCase)
                          .where(ApprovalCase.demand_id == demand_id)) == 0


def test_filing_without_the_csrf_token_is_refused(session, client, me, offer):
    oid = offer()
    demand_id = demand_of(session, ME)
    r = client.post(f"/enterprise/demands/{demand_id}/apply?offering_id={oid}",
                    data={"project_name": "无令牌"})
    assert r.status_code == 403
    assert session.scalar(select(func.count()).select_from(ApprovalCase)
                          .where(ApprovalCase.demand_id == demand_id)) == 0


def test_a_premises_demand_shows_its_ranked_listings(session, client, me, tokens):
    from tests.buildings.util import create_building

    building = create_building(client, tokens["admin"])["id"]   # in Bao'an
    made = []
    for floor, rent in ((2, 30), (3, 38.5), (4, 60)):
        r = client.post("/api/v1/listings", headers=tokens["admin"], json={
            "building_id": building, "kind": "factory", "floor": floor, "area_m2": 900,
            "rent_yuan_per_m2_month": rent})
        assert r.status_code == 201, r.text
        lid = r.json()["id"]
        assert client.post(f"/api/v1/listings/{lid}/transitions", json={"action": "publish"},
                           headers=tokens["admin"]).status_code == 200
        made.append(lid)
    demand_id = demand_of(session, ME, kinds=["premises"], area_min_m2=800, area_max_m2=1000,
                          max_rent_yuan_per_m2_month=40,
                          near={"lon": BAOAN[0], "lat": BAOAN[1], "radius_km": 3})
    expected = matching.match_demand(session=session, demand_id=demand_id, kind="listings",
                                     limit=20, principal=me)["items"]
    assert [m["id"] for m in expected] == [made[0], made[1]]   # 60 元 is over the budget
    page = client.get(f"/enterprise/demands/{demand_id}").text
    shown = [int(i) for i in re.findall(r'<li class="panel match" id="listing-(\d+)">', page)]
    assert shown == [m["id"] for m in expected]
    assert re.findall(r'class="score">得分 <strong>([\d,.]+)</strong>', page) == [
        f"{m['score']:,.2f}" for m in expected]
    assert "30.00 元/㎡·月" in page and "38.50 元/㎡·月" in page
    assert "匹配的供地" not in page and "申请用地审批" not in page  # no land asked for
    assert f'href="/portal/listings/{made[0]}"' in page


def test_an_unregistered_enterprise_is_sent_to_register_first(session, client, web_user):
    login(client, web_user("enterprise", enterprise_uscc=OTHER))
    page = client.get("/enterprise/demands/new").text
    assert 'id="not-registered"' in page and 'href="/enterprise/register"' in page
    token = csrf_of(page)
    r = client.post("/enterprise/demands/new", data=form_body(token))
    assert r.status_code == 422
    assert error_of(r.text, "owner") == f"企业 {OTHER} 尚未登记"
    assert session.scalar(select(func.count()).select_from(Demand)
                          .where(Demand.enterprise_uscc == OTHER)) == 0
