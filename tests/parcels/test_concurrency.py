"""Two clients updating one parcel at once, against a real server and committed data:
no update is lost; with If-Match, a stale version gets 412 and changes nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from landsvc.db import session_scope
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.builders import FUTIAN, feature, square


@pytest.fixture
def parcel(server, engine):
    """A committed parcel and an admin token; removed afterwards."""
    with session_scope() as session:
        token = create_token(session=session, role=Role.admin, label="concurrency-test")
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{server}/api/v1/parcels", headers=headers,
                   json=feature(square(*FUTIAN), code="CONC-1", name="原名"))
    assert r.status_code == 201, r.text
    yield r.json()["id"], r.headers["ETag"], headers
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM parcel WHERE code = 'CONC-1'"))
        conn.execute(text("DELETE FROM api_token WHERE label = 'concurrency-test'"))


def patch_together(server, pid, headers, bodies, engine, if_match=None):
    """Send the PATCHes while another transaction holds the row, so that every one of them
    has arrived and waits before any may proceed; then release the row."""
    extra = {"If-Match": if_match} if if_match else {}
    with engine.connect() as holder:
        holder.begin()
        holder.execute(text("SELECT 1 FROM parcel WHERE id = :id FOR UPDATE"), {"id": pid})
        with ThreadPoolExecutor(len(bodies)) as pool:
            futures = [pool.submit(httpx.patch, f"{server}/api/v1/parcels/{pid}",
                                   json=body, headers=headers | extra, timeout=30)
                       for body in bodies]
            deadline = time.monotonic() + 20
            while waiting(engine) < len(bodies):
                assert time.monotonic() < deadline, "the PATCHes never waited for the row"
                time.sleep(0.02)
            holder.rollback()
            return [f.result() for f in futures]


def waiting(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%FOR UPDATE OF parcel%'"))


def test_concurrent_patches_both_apply(server, parcel, engine):
    pid, _, headers = parcel
    results = patch_together(server, pid, headers,
                             [{"name": "甲改的名称"}, {"status": "reserved"}], engine)
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    final = httpx.get(f"{server}/api/v1/parcels/{pid}").json()["properties"]
    assert final["name"] == "甲改的名称" and final["status"] == "reserved"


def test_concurrent_patches_with_if_match_one_wins(server, parcel, engine):
    pid, etag, headers = parcel
    bodies = [{"name": "甲"}, {"name": "乙"}]
    results = patch_together(server, pid, headers, bodies, engine, if_match=etag)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 412], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200)
    loser = next(r for r in results if r.status_code == 412)
    assert loser.json()["code"] == "precondition_failed"
    assert loser.json()["etag"] == winner.headers["ETag"] != etag
    final = httpx.get(f"{server}/api/v1/parcels/{pid}")
    assert final.json()["properties"]["name"] == winner.json()["properties"]["name"]
    assert final.headers["ETag"] == winner.headers["ETag"]
