"""The list module: paging links, counts (exact, or estimated beyond the limit), bounds."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import event, text

from landsvc import lists
from tests.builders import FUTIAN, feature, square


@pytest.fixture
def twelve(client, tokens):
    rows = [feature(square(FUTIAN[0] + 0.002 * i, FUTIAN[1], 60), code=f"LS-{i:02d}",
                    land_source="new_quota" if i < 8 else "stock") for i in range(12)]
    body = json.dumps({"type": "FeatureCollection", "features": rows}).encode()
    r = client.post("/api/v1/parcels/import", headers=tokens["admin"],
                    files={"file": ("l.geojson", io.BytesIO(body), "application/geo+json")})
    assert r.status_code == 200, r.text


@pytest.fixture
def statements(engine, session):
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(session.connection(), "before_cursor_execute", record)
    yield seen
    event.remove(session.connection(), "before_cursor_execute", record)


def rels(body) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in body["links"]}


def test_a_page_that_is_not_full_needs_no_count(client, twelve, statements):
    statements.clear()
    body = client.get("/api/v1/parcels", params={"land_source": "new_quota"}).json()
    assert body["numberMatched"] == body["numberReturned"] == 8 and body["numberMatchedExact"]
    assert not any("count(" in s for s in statements)
    assert "next" not in rels(body) and "prev" not in rels(body)


def test_full_pages_count_exactly_and_link_both_ways(client, twelve, statements):
    statements.clear()
    body = client.get("/api/v1/parcels", params={"land_source": "new_quota", "limit": 3,
                                                 "offset": 3}).json()
    assert body["numberMatched"] == 8 and body["numberMatchedExact"]
    assert sum("count(" in s for s in statements) == 1
    links = rels(body)
    assert links["next"].startswith("http") and "offset=6" in links["next"]
    assert "offset=0" in links["prev"] and "limit=3" in links["prev"]


def test_beyond_the_exact_limit_the_count_is_an_estimate(client, twelve, monkeypatch):
    monkeypatch.setattr(lists, "EXACT_COUNT_LIMIT", 3)
    url, codes = "/api/v1/parcels?land_source=new_quota&limit=2", []
    while url:
        body = client.get(url).json()
        if "next" in rels(body):
            assert body["numberMatched"] >= 4 and body["numberMatchedExact"] is False
        codes += [f["properties"]["code"] for f in body["features"]]
        url = rels(body).get("next")
    assert codes == [f"LS-{i:02d}" for i in range(8)]  # paging never relies on the count
    last = client.get("/api/v1/parcels", params={"land_source": "new_quota", "offset": 6})
    assert last.json()["numberMatched"] == 8 and last.json()["numberMatchedExact"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"limit": -1},
                                    {"offset": -1}, {"limit": "ten"}])
def test_page_bounds(client, params):
    for path in ("/api/v1/parcels", "/api/v1/districts"):
        r = client.get(path, params=params)
        assert r.status_code == 422 and r.json()["code"] == "validation_error"


def test_offset_past_the_end(client, twelve):
    body = client.get("/api/v1/parcels", params={"land_source": "stock", "offset": 50}).json()
    assert body["numberReturned"] == 0 and body["numberMatched"] == 4


def test_capped_limit_for_ogc_items():
    assert lists.capped_limit(5000) == lists.MAX_LIMIT and lists.capped_limit(7) == 7


def test_adcode_prefix_clause_validates(client, twelve):
    for bad in ("4", "440", "44030", "abcdef", "4403001"):
        r = client.get("/api/v1/parcels", params={"district": bad})
        assert r.status_code == 422 and r.json()["detail"].startswith("district: ")
    shown = client.get("/api/v1/parcels", params={"district": "440000", "limit": 1000}).json()
    assert shown["numberMatched"] == 12  # 440000 is the whole province (44)


def test_the_app_plans_each_search_for_its_values(database_url):
    """Generic plans of prepared statements scan a selective filter in id order."""
    from landsvc.db import get_engine

    with get_engine().connect() as conn:
        assert conn.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
