"""Bureau console: buildings and listings through their lifecycle, with the guideline flag."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from landsvc.buildings.models import Building
from landsvc.listings.models import Listing
from tests.builders import BAOAN, HAIZHU
from tests.buildings.util import HOLDER, create_building, point
from tests.listings.test_guideline_flags import _published_guideline
from tests.web.conftest import csrf_of, login

BUILDING = {"name": "宝安<b>2</b>号厂房", "building_type": "multi_storey", "floors": "6",
            "total_floor_area_m2": "6000", "completed": "true", "freight_lift": "true",
            "holder_uscc": HOLDER, "holder_name": "深圳甲精密制造有限公司",
            "holder_industry_code": "C3971", "lon": str(BAOAN[0]), "lat": str(BAOAN[1])}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def bureau(client, web_user):
    name = web_user("bureau", jurisdiction="4403")
    assert login(client, name).status_code == 303
    return client


def post_form(client, path, data, page=None):
    token = csrf_of(client.get(page or path).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def new_id(answer) -> int:
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


def test_building_form_creates_what_the_api_creates(bureau, session, tokens):
    bid = new_id(post_form(bureau, "/bureau/buildings/new", BUILDING))
    api = bureau.post("/api/v1/buildings", headers=tokens["shenzhen"], json={
        "type": "Feature", "geometry": point(BAOAN), "properties": {
            "name": "宝安<b>2</b>号厂房", "building_type": "multi_storey", "floors": 6,
            "total_floor_area_m2": 6000, "completed": True, "freight_lift": True,
            "holder_uscc": HOLDER, "holder_name": "深圳甲精密制造有限公司",
            "holder_industry_code": "C3971"}})
    assert api.status_code == 201, api.text
    mine = bureau.get(f"/api/v1/buildings/{bid}").json()
    skip = {"created_at", "updated_at"}
    assert {k: v for k, v in mine["properties"].items() if k not in skip} == \
        {k: v for k, v in api.json()["properties"].items() if k not in skip}
    assert mine["geometry"] == api.json()["geometry"]
    page = bureau.get(f"/bureau/buildings/{bid}")
    assert page.status_code == 200
    assert "<b>2</b>" not in page.text and "宝安&lt;b&gt;2&lt;/b&gt;号厂房" in page.text
    assert "宝安区（440306）" in page.text
    listed = bureau.get("/bureau/buildings?building_type=multi_storey")
    assert f'<tr data-id="{bid}">' in listed.text


def test_building_outside_jurisdiction_or_bad_place(bureau, session):
    before = count(session, Building)
    outside = post_form(bureau, "/bureau/buildings/new",
                        BUILDING | {"lon": str(HAIZHU[0]), "lat": str(HAIZHU[1])})
    assert outside.status_code == 403
    missing = post_form(bureau, "/bureau/buildings/new", BUILDING | {"lat": ""})
    assert missing.status_code == 422
    assert re.search(r'id="e-lat" role="alert">请填写纬度', missing.text)
    swapped = post_form(bureau, "/bureau/buildings/new",
                        BUILDING | {"lon": str(BAOAN[1]), "lat": str(BAOAN[0])})
    assert swapped.status_code == 422
    assert re.search(r'id="e-lon" role="alert">经纬度超出范围[^<]*是否颠倒', swapped.text)
    assert 'name="name" type="text" value="宝安&lt;b&gt;2&lt;/b&gt;号厂房"' in swapped.text
    no_csrf = bureau.post("/bureau/buildings/new", data=BUILDING)
    assert no_csrf.status_code == 403
    assert count(session, Building) == before


def test_listing_lifecycle_and_the_409(bureau, session, tokens):
    bid = create_building(bureau, tokens["admin"])["id"]
    form = {"building_id": str(bid), "kind": "factory", "floor": "3", "area_m2": "800",
            "rent_yuan_per_m2_month": "28.5"}
    lid = new_id(post_form(bureau, "/bureau/listings/new", form))
    api = bureau.post("/api/v1/listings", headers=tokens["shenzhen"], json={
        "building_id": bid, "kind": "factory", "floor": 3, "area_m2": 800,
        "rent_yuan_per_m2_month": 28.5}).json()
    mine = bureau.get(f"/api/v1/listings/{lid}", headers=tokens["shenzhen"]).json()
    skip = {"created_at", "updated_at"}
    assert {k: v for k, v in mine["properties"].items() if k not in skip} == \
        {k: v for k, v in api["properties"].items() if k not in skip}
    page = f"/bureau/listings/{lid}"
    shown = bureau.get(page).text
    assert "28.50 元/㎡·月" in shown and 'value="publish"' in shown and 'value="let"' not in shown
    assert new_id(post_form(bureau, f"{page}/transitions", {"action": "publish"}, page)) == lid
    assert session.get(Listing, lid).status.value == "published"
    refused = post_form(bureau, f"{page}/transitions", {"action": "publish"}, page)
    assert refused.status_code == 409
    alert = html.unescape(re.sub(r"<[^>]+>", "", re.search(
        r'id="transition-error">(.*?)</div>', refused.text, re.S)[1]))
    assert "标记已出租（let）、撤回（withdraw）" in alert
    assert new_id(post_form(bureau, f"{page}/transitions", {"action": "let"}, page)) == lid
    session.expire_all()
    assert session.get(Listing, lid).status.value == "let"
    assert "已是终态" in bureau.get(page).text


def test_listing_form_errors_and_jurisdiction(bureau, session, tokens):
    gz = create_building(bureau, tokens["admin"], point(HAIZHU), name="广州厂房")["id"]
    sz = create_building(bureau, tokens["admin"])["id"]
    before = count(session, Listing)
    outside = post_form(bureau, "/bureau/listings/new", {
        "building_id": str(gz), "kind": "factory", "area_m2": "100",
        "rent_yuan_per_m2_month": "20"})
    assert outside.status_code == 403
    housing = post_form(bureau, "/bureau/listings/new", {
        "building_id": str(sz), "kind": "affordable_housing", "area_m2": "100",
        "rent_yuan_per_m2_month": "20"})
    assert housing.status_code == 422
    api = bureau.post("/api/v1/listings", headers=tokens["shenzhen"], json={
        "building_id": sz, "kind": "affordable_housing", "area_m2": 100,
        "rent_yuan_per_m2_month": 20})
    assert api.status_code == 422
    detail = api.json()["detail"]  # names two fields: shown whole above the form
    shown = re.search(r'<div class="alert error" role="alert">(.*?)</div>', housing.text)
    assert shown and html.unescape(shown[1]) == detail
    assert 'name="kind"' in housing.text and '<option value="affordable_housing" selected>' \
        in housing.text
    assert count(session, Listing) == before


def test_guideline_and_above_guideline_flag(bureau, client, session, tokens):
    bid = create_building(client, tokens["admin"])["id"]  # multi-storey, Bao'an
    item = _published_guideline(client, tokens, session)
    threshold = round(item["p75"] * 1.3, 2)
    rent = round(threshold + 0.01, 2)
    lid = new_id(post_form(bureau, "/bureau/listings/new", {
        "building_id": str(bid), "kind": "factory", "area_m2": "500",
        "rent_yuan_per_m2_month": str(rent)}))
    page = f"/bureau/listings/{lid}"
    post_form(bureau, f"{page}/transitions", {"action": "publish"}, page)
    shown = bureau.get(page).text
    assert "要价高于租金指导价" in shown
    assert f"{threshold:,.2f} 元/㎡·月（P75 上浮 30%）" in shown
    assert f"{item['median']:,.2f} 元/㎡·月" in shown
    flagged = bureau.get("/bureau/listings?flag=above_guideline")
    assert re.findall(r'<tr data-id="(\d+)"', flagged.text) == [str(lid)]
