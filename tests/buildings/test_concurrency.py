"""Two transfers of a building's units at once, against a real server and committed data:
each alone keeps the holder above 40 %, both together would not — exactly one passes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from landsvc.db import session_scope
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.buildings.util import BUYER, BUYER2, building


@pytest.fixture
def split_building(server, engine):
    """A committed 10,000 ㎡ building with two 3,500 ㎡ units; removed afterwards."""
    with session_scope() as session:
        token = create_token(session=session, role=Role.admin, label="split-concurrency-test")
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{server}/api/v1/buildings", headers=headers,
                   json=building(name="并发测试楼", total_floor_area_m2=10000))
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    units = []
    for floor in (1, 2):
        r = httpx.post(f"{server}/api/v1/buildings/{bid}/units", headers=headers,
                       json={"floors": [floor], "area_m2": 3500})
        assert r.status_code == 201, r.text
        units.append(r.json()["id"])
    yield bid, units, headers
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM unit_transfer WHERE unit_id = ANY(:u)"), {"u": units})
        conn.execute(text("DELETE FROM building_unit WHERE building_id = :b"), {"b": bid})
        conn.execute(text("DELETE FROM building WHERE id = :b"), {"b": bid})
        conn.execute(text("DELETE FROM api_token WHERE label = 'split-concurrency-test'"))


def waiting(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%FOR UPDATE OF building%'"))


def test_concurrent_transfers_cannot_both_pass_the_forty_percent_rule(server, split_building,
                                                                      engine):
    bid, units, headers = split_building
    bodies = [{"buyer_uscc": buyer, "buyer_name": "链上企业", "chain_partner": True,
               "date": "2024-05-06"} for buyer in (BUYER, BUYER2)]
    # Another transaction holds the building, so both transfers arrive and wait before either
    # may check the rule; then it lets go.
    with engine.connect() as holder:
        holder.begin()
        holder.execute(text("SELECT 1 FROM building WHERE id = :id FOR UPDATE"), {"id": bid})
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(httpx.post, f"{server}/api/v1/units/{uid}/transfers",
                                   json=body, headers=headers, timeout=30)
                       for uid, body in zip(units, bodies, strict=True)]
            deadline = time.monotonic() + 20
            while waiting(engine) < 2:
                assert time.monotonic() < deadline, "the transfers never waited for the building"
                time.sleep(0.02)
            holder.rollback()
            results = [f.result() for f in futures]

    assert sorted(r.status_code for r in results) == [201, 422], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 422).json()
    assert loser["code"] == "holder_share_below_minimum"
    assert loser["holder_area_after_m2"] == 3000.0
    page = httpx.get(f"{server}/api/v1/buildings/{bid}/units", headers=headers).json()
    assert page["holder_area_m2"] == 6500.0
    assert sum(len(u["transfers"]) for u in page["items"]) == 1
