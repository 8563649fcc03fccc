"""A request's transaction commits before its answer: a failed COMMIT is never a success.

These tests use the real request session (no test override) and committed data, cleaned up
afterwards.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from landsvc.config import Settings
from landsvc.db import session_scope
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.builders import BAOAN, FUTIAN, feature, square

# Fails at COMMIT (a deferred constraint trigger), not at the INSERT: only a commit that
# happens before the answer can turn it into the answer.
FAIL_AT_COMMIT = """
CREATE FUNCTION txn_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'check_violation',
    CONSTRAINT = 'ck_parcel_txn_test';
END $$;
CREATE CONSTRAINT TRIGGER txn_test_refuse AFTER INSERT OR UPDATE ON parcel
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.code LIKE 'TXN-FAIL%') EXECUTE FUNCTION txn_test_refuse();
"""


@pytest.fixture
def real_client(database_url, engine):
    """A client of an app whose requests use real sessions, an admin token, cleanup after."""
    from landsvc.main import create_app

    with session_scope() as session:
        token = create_token(session=session, role=Role.admin, label="txn-test")
    with engine.begin() as conn:
        conn.execute(text(FAIL_AT_COMMIT))
    app = create_app(Settings(database_url=database_url, log_json=False, log_level="CRITICAL"))
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    yield client
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER txn_test_refuse ON parcel"))
        conn.execute(text("DROP FUNCTION txn_test_refuse()"))
        conn.execute(text("DELETE FROM parcel WHERE code LIKE 'TXN-%'"))
        conn.execute(text("DELETE FROM api_token WHERE label = 'txn-test'"))


def stored(engine, code: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM parcel WHERE code = :c"), {"c": code})


def test_failed_commit_is_the_answer(real_client, engine):
    r = real_client.post("/api/v1/parcels", json=feature(square(*FUTIAN), code="TXN-FAIL-1"))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "check_violation"
    assert stored(engine, "TXN-FAIL-1") == 0


def test_committed_write_is_readable_at_once(real_client, engine):
    r = real_client.post("/api/v1/parcels", json=feature(square(*BAOAN), code="TXN-OK-1"))
    assert r.status_code == 201, r.text
    assert stored(engine, "TXN-OK-1") == 1  # committed by the time the answer arrived
    again = real_client.get(f"/api/v1/parcels/{r.json()['id']}")
    assert again.status_code == 200 and again.json() == r.json()


def test_failed_commit_of_an_update_changes_nothing(real_client, engine):
    created = real_client.post("/api/v1/parcels", json=feature(square(*BAOAN), code="TXN-OK-2"))
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    r = real_client.patch(f"/api/v1/parcels/{pid}", json={"code": "TXN-FAIL-2"})
    assert r.status_code == 422, r.text
    assert stored(engine, "TXN-OK-2") == 1 and stored(engine, "TXN-FAIL-2") == 0
