"""GET /maps/demands/{id}: the demand's area and its ranked matches, for those who may read
the demand, with the token in the Authorization header."""

from __future__ import annotations

import json
import re

import pytest

from tests.matching.test_matching import ME, OTHER, bearer, demand, east, enterprise, offer  # noqa: F401
from tests.webmaps.pages import external_urls


@pytest.fixture
def setup(client, tokens, offer, session):  # noqa: F811
    enterprise(session, ME, "srdi_sme")
    near = offer(where=east(0.5))
    far = offer(where=east(3))
    outside = offer(where=east(9))
    r = demand(client, tokens["enterprise"], near={"lon": east(0)[0], "lat": east(0)[1],
                                                    "radius_km": 5})
    assert r.status_code == 201, r.text
    return r.json()["id"], near, far, outside


def matches_of(html: str) -> list[dict]:
    """The ranked matches the page hands to its matches layer."""
    return [f["properties"] for m in re.finditer(r"var data = (\{.*\});$", html, re.M)
            for f in json.loads(m.group(1))["features"]]


def test_the_owner_sees_area_and_ranked_matches(client, tokens, setup):
    did, near, far, outside = setup
    r = client.get(f"/maps/demands/{did}", headers=tokens["enterprise"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "private, no-store"
    html = r.text
    api = client.get(f"/api/v1/demands/{did}/matches?limit=10",
                     headers=tokens["enterprise"]).json()["items"]
    shown = matches_of(html)
    # Two offerings lie within 5 km; the one 9 km east does not. Ranks follow the scores.
    assert [m["rank"] for m in shown] == [1, 2]
    assert [m["score"] for m in shown] == [i["score"] for i in api]
    assert {i["id"] for i in api} == {near, far}
    assert shown[0]["score"] >= shown[1]["score"]
    assert shown[0]["label"] == f"第 1 名 · {api[0]['score']:.2f} 分"
    assert shown[0]["mode"] == "出让" and shown[0]["district"] == "福田区"
    for reason in api[0]["reasons"]:  # every criterion with its points out of its weight
        assert f"{reason['criterion_label']} {reason['contribution']:g}/{reason['weight']:g}" \
            in shown[0]["reasons"]
    for text in (f"用地需求 {did} · 匹配结果", "前 2 个匹配", "半径 5 公里", "需求范围", "图例",
                 "审图号", "数据更新", "边界来源"):
        assert text in html, text
    assert "L.circle(" in html  # the 5 km circle of interest
    assert external_urls(html) == []


def test_limit_and_kind(client, tokens, setup):
    did, *_ = setup
    html = client.get(f"/maps/demands/{did}?limit=1", headers=tokens["enterprise"]).text
    assert [m["rank"] for m in matches_of(html)] == [1]
    r = client.get(f"/maps/demands/{did}?kind=listings", headers=tokens["enterprise"])
    assert r.status_code == 422 and r.json()["code"] == "kind_not_wanted"
    for bad in ("limit=0", "limit=101", "kind=parcels"):
        r = client.get(f"/maps/demands/{did}?{bad}", headers=tokens["enterprise"])
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/json"


def test_who_may_see_it(client, tokens, session, setup):
    did, *_ = setup
    r = client.get(f"/maps/demands/{did}")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    enterprise(session, OTHER)
    assert client.get(f"/maps/demands/{did}", headers=bearer(session, OTHER)).status_code == 404
    assert client.get(f"/maps/demands/{did}", headers=tokens["admin"]).status_code == 200
    assert client.get("/maps/demands/999999", headers=tokens["enterprise"]).status_code == 404
    assert client.get(f"/maps/demands/{did}",
                      headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_closed_demand_still_shows_its_area_without_matches(client, tokens, setup):
    did, *_ = setup
    r = client.post(f"/api/v1/demands/{did}/transitions", json={"action": "withdraw"},
                    headers=tokens["enterprise"])
    if r.status_code != 200:
        pytest.fail(f"withdraw: {r.status_code} {r.text}")
    html = client.get(f"/maps/demands/{did}", headers=tokens["enterprise"]).text
    assert matches_of(html) == [] and "不再计算匹配" in html and "需求范围" in html
