"""Two creates of an offering on one parcel at once, against a real server and committed
data: one gets the parcel, the other a 409 ``offering_exists`` — whether the parcel's row
lock orders them or, for a writer that took no lock, the partial unique index."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from landsvc.db import session_scope
from landsvc.errors import Conflict
from landsvc.offerings.service import create_offering, transition_offering
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.builders import FUTIAN, feature, square
from tests.offerings.test_rules import VALID


@pytest.fixture
def parcel(server, engine):
    """A committed parcel and an admin token; removed afterwards with their offerings."""
    with session_scope() as session:
        token = create_token(session=session, role=Role.admin, label="offering-concurrency")
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{server}/api/v1/parcels", headers=headers,
                   json=feature(square(*FUTIAN), code="OFFER-CONC-1"))
    assert r.status_code == 201, r.text
    yield r.json()["id"], headers
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM offering WHERE parcel_id = :id"), {"id": r.json()["id"]})
        conn.execute(text("DELETE FROM parcel WHERE code = 'OFFER-CONC-1'"))
        conn.execute(text("DELETE FROM api_token WHERE label = 'offering-concurrency'"))


def waiting(engine, pattern: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE :pattern"), {"pattern": pattern})


def wait_for(engine, pattern: str, n: int) -> None:
    deadline = time.monotonic() + 20
    while waiting(engine, pattern) < n:
        assert time.monotonic() < deadline, f"nothing waited on {pattern}"
        time.sleep(0.02)


def test_two_creates_at_once_one_wins(server, parcel, engine):
    pid, headers = parcel
    bodies = [{"parcel_id": pid, "supply_mode": "lease"} | VALID["lease"],
              {"parcel_id": pid, "supply_mode": "transfer"} | VALID["transfer"]]
    # Both requests arrive while another transaction holds the parcel, so both wait for it.
    with engine.connect() as holder:
        holder.begin()
        holder.execute(text("SELECT 1 FROM parcel WHERE id = :id FOR UPDATE"), {"id": pid})
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(httpx.post, f"{server}/api/v1/offerings", json=body,
                                   headers=headers, timeout=30) for body in bodies]
            wait_for(engine, "%FROM parcel%FOR UPDATE OF parcel%", 2)
            holder.rollback()
            results = [f.result() for f in futures]
    assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 201)
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["code"] == "offering_exists"
    assert loser.json()["offering_id"] == winner.json()["id"]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM offering WHERE parcel_id = :id"),
                           {"id": pid}) == 1


def test_the_unique_index_stops_a_writer_that_took_no_lock(parcel, engine):
    pid, _ = parcel
    values = {"parcel_id": pid, "supply_mode": "transfer"} | VALID["transfer"]
    with session_scope() as session:
        old_id = create_offering(session=session, values=values)[0]["id"]
        transition_offering(session=session, offering_id=old_id, action="cancel")
    outcome: dict = {}

    def create() -> None:
        try:
            with session_scope() as session:
                create_offering(session=session, values=values)
            outcome["result"] = "created"
        except Conflict as exc:
            outcome["result"] = exc

    # Another writer brings the cancelled offering back to life by hand, without locking the
    # parcel (an insert would hold it through its foreign-key check; this update does not),
    # and has not committed: the service gets the parcel, does not see the row, and its
    # insert waits on the partial unique index until the other commits.
    with engine.connect() as other:
        other.begin()
        other.execute(text("UPDATE offering SET status = 'draft' WHERE id = :id"),
                      {"id": old_id})
        thread = threading.Thread(target=create)
        thread.start()
        wait_for(engine, "INSERT INTO offering%", 1)
        other.commit()
        thread.join(20)
    error = outcome["result"]
    assert isinstance(error, Conflict) and error.code == "offering_exists", error
    assert error.extra == {"offering_id": old_id}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, status FROM offering WHERE parcel_id = :id"),
                            {"id": pid}).all() == [(old_id, "draft")]
