"""The write audit: written by the database for every front door, append-only, read by role."""

from __future__ import annotations

import json
import re
from datetime import timedelta, timezone

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from landsvc.audit.models import AuditEntry
from landsvc.errors import from_database, status_of
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.builders import FUTIAN, HAIZHU, feature, square
from tests.parcels.test_api import upload
from tests.web.conftest import csrf_of, login

BUILDING = {"name": "宝安审计厂房", "building_type": "multi_storey", "floors": "6",
            "total_floor_area_m2": "6000", "completed": "true", "freight_lift": "true",
            "holder_uscc": "91440300MA5FAAAA1A", "holder_name": "深圳甲精密制造有限公司",
            "holder_industry_code": "C3971", "lon": "113.8107", "lat": "22.6395"}


def entries(session, entity: str, entity_id) -> list[AuditEntry]:
    session.expire_all()
    return session.scalars(select(AuditEntry).where(
        AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id)).all()


# -- append-only --------------------------------------------------------------------------
@pytest.mark.parametrize("statement", ["UPDATE audit_entry SET actor = 'someone else'",
                                       "DELETE FROM audit_entry",
                                       "TRUNCATE audit_entry"])
def test_the_table_refuses_update_delete_truncate(engine, statement):
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO audit_entry (entity, entity_id, action, actor) "
                          "VALUES ('parcel', '0', 'insert', 'test')"))
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text(statement))
        answer = from_database(caught.value)
        assert (answer.code, status_of(answer)) == ("immutable_record", 409)
        assert answer.detail == (f"审计记录只能追加，不能修改或删除（audit_entry: "
                                 f"{statement.split()[0]} refused）")
        conn.rollback()


# -- what an API write records ------------------------------------------------------------
def test_patch_records_exactly_the_changed_fields_and_the_token(client, session, tokens):
    created = client.post("/api/v1/parcels", json=feature(square(*FUTIAN, 120), code="AU-1",
                                                          name="车公庙地块"),
                          headers=tokens["shenzhen"])
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    shenzhen_token = session.scalar(text(
        "SELECT id FROM api_token WHERE jurisdiction = '4403'"))
    r = client.patch(f"/api/v1/parcels/{pid}", json={"name": "新名", "status": "reserved"},
                     headers=tokens["shenzhen"] | {"X-Request-ID": "req-audit-1"})
    assert r.status_code == 200, r.text
    insert, update = entries(session, "parcel", pid)
    assert insert.action == "insert" and insert.before is None
    assert insert.after["code"] == "AU-1" and insert.after["name"] == "车公庙地块"
    assert "geom" not in insert.after  # kept by the row until an update or delete records it
    assert update.action == "update"
    assert update.before == {"name": "车公庙地块", "status": "available"}
    assert update.after == {"name": "新名", "status": "reserved"}
    assert update.actor == f"bureau:4403 token:{shenzhen_token}"
    assert update.client == "testclient"
    assert update.request_id == "req-audit-1"
    assert update.district == "440304"

    # the same values again: nothing changed, nothing recorded
    assert client.patch(f"/api/v1/parcels/{pid}", json={"name": "新名"},
                        headers=tokens["shenzhen"]).status_code == 200
    assert len(entries(session, "parcel", pid)) == 2


def test_a_moved_geometry_is_recorded_as_geojson(client, session, tokens):
    pid = client.post("/api/v1/parcels", json=feature(square(*FUTIAN, 100), code="AU-G"),
                      headers=tokens["admin"]).json()["id"]
    moved = feature(square(FUTIAN[0] + 0.001, FUTIAN[1], 130))
    assert client.patch(f"/api/v1/parcels/{pid}", json=moved,
                        headers=tokens["admin"]).status_code == 200
    update = entries(session, "parcel", pid)[1]
    assert set(update.before) == {"geom", "area_m2"}
    stored = session.scalar(text("SELECT ST_AsGeoJSON(geom, 7)::jsonb FROM parcel WHERE id = :id"),
                            {"id": pid})
    assert update.after["geom"] == stored
    assert update.before["geom"] != update.after["geom"]
    assert update.before["geom"]["type"] == "MultiPolygon"
    session.execute(text("DELETE FROM parcel WHERE id = :id"), {"id": pid})  # no API delete
    deleted = entries(session, "parcel", pid)[2]
    assert deleted.action == "delete" and deleted.after is None
    assert deleted.before["geom"] == stored and deleted.before["code"] == "AU-G"


def test_a_web_page_write_records_the_user(client, session, web_user):
    name = web_user("bureau", jurisdiction="4403")
    assert login(client, name).status_code == 303
    token = csrf_of(client.get("/bureau/buildings/new").text)
    answer = client.post("/bureau/buildings/new", data={"csrf_token": token, **BUILDING},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    bid = int(answer.headers["location"].rsplit("/", 1)[1])
    (insert,) = entries(session, "building", bid)
    assert insert.actor == f"bureau:4403 user:{name}"
    assert insert.client == "testclient"
    assert insert.district == "440306"
    assert insert.after["name"] == "宝安审计厂房"


def test_an_import_writes_one_entry_a_row_in_one_statement(client, session, tokens):
    session.execute(text("SET LOCAL track_functions = 'pl'"))

    def calls() -> int:
        return session.scalar(text(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions "
            "WHERE funcname = 'landsvc_audit_capture'"))

    # every authenticated request fires the api_token UPDATE trigger once (last_used_at)
    assert client.get("/api/v1/parcels", headers=tokens["admin"]).status_code == 200
    per_request = calls()
    assert client.get("/api/v1/parcels", headers=tokens["admin"]).status_code == 200
    assert calls() - per_request == 1
    before = calls()
    rows = [feature(square(FUTIAN[0] + 0.002 * i, FUTIAN[1], 50), code=f"AU-IMP-{i:02d}")
            for i in range(25)]
    r = upload(client, rows, tokens["admin"])
    assert r.status_code == 200 and r.json()["imported"] == 25, r.text
    written = session.execute(text(
        "SELECT count(*), count(DISTINCT entity_id), min(action), max(action) "
        "FROM audit_entry WHERE entity = 'parcel' AND after->>'code' LIKE 'AU-IMP-%'")).one()
    assert tuple(written) == (25, 25, "insert", "insert")
    assert calls() - before == 1 + 1  # the token's, and the COPY's once: one INSERT


# -- secrets stay out ---------------------------------------------------------------------
def test_token_entries_never_hold_the_hash(session, client, tokens):
    create_token(session=session, role=Role.bureau, jurisdiction="4401", label="审计")
    tid = session.scalar(text("SELECT max(id) FROM api_token"))
    digest = session.scalar(text("SELECT token_hash FROM api_token WHERE id = :id"),
                            {"id": tid})
    session.execute(text("UPDATE api_token SET revoked_at = now(), token_hash = "
                         "md5(token_hash) || md5(token_hash) WHERE id = :id"), {"id": tid})
    insert, revoke = entries(session, "token", tid)
    assert "token_hash" not in insert.after and insert.after["label"] == "审计"
    assert set(revoke.before) == set(revoke.after) == {"revoked_at"}
    raw = session.scalar(text("SELECT string_agg(before::text || after::text, '') "
                              "FROM audit_entry WHERE entity = 'token'"))
    assert digest[:16] not in (raw or "") and "token_hash" not in (raw or "")


def test_user_entries_never_hold_the_password_hash(session, web_user):
    name = web_user("enterprise", enterprise_uscc="91440300MA5FXXXX1X")
    uid, digest = session.execute(text(
        "SELECT id, password_hash FROM app_user WHERE username = :n"), {"n": name}).one()
    session.execute(text("UPDATE app_user SET password_hash = 'changed', "
                         "password_changed_at = now() + interval '1 s' WHERE id = :id"),
                    {"id": uid})
    insert, change = entries(session, "user", uid)
    assert insert.after["username"] == name and "password_hash" not in insert.after
    assert set(change.after) == {"password_changed_at"}
    raw = session.scalar(text("SELECT string_agg(coalesce(before::text, '') || after::text, '') "
                              "FROM audit_entry WHERE entity = 'user'"))
    assert digest not in raw and "password_hash" not in raw and "changed" not in raw.replace(
        "password_changed_at", "")


# -- GET /api/v1/audit --------------------------------------------------------------------
@pytest.fixture
def two_cities(client, tokens):
    """A parcel in Futian (Shenzhen) and one in Haizhu (Guangzhou), then a rename of each."""
    ids = {}
    for name, where in (("futian", FUTIAN), ("haizhu", HAIZHU)):
        r = client.post("/api/v1/parcels", json=feature(square(*where, 80), code=f"AU-{name}"),
                        headers=tokens["admin"])
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
        r = client.patch(f"/api/v1/parcels/{ids[name]}", json={"name": name},
                         headers=tokens["admin"])
        assert r.status_code == 200, r.text
    return ids


def test_list_filters_by_entity_and_id(client, tokens, two_cities):
    pid = two_cities["futian"]
    r = client.get("/api/v1/audit", params={"entity": "parcel", "id": pid},
                   headers=tokens["admin"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["numberMatched"] == body["numberReturned"] == 2
    assert [(i["entity"], i["entity_id"], i["action"]) for i in body["items"]] == [
        ("parcel", str(pid), "update"), ("parcel", str(pid), "insert")]
    assert body["items"][0]["before"] == {"name": None}
    assert body["items"][0]["after"] == {"name": "futian"}
    assert body["items"][0]["actor"].startswith("admin: token:")
    assert body["links"][0]["rel"] == "self"


def test_list_filters_by_time(client, session, tokens, two_cities):
    pid = two_cities["haizhu"]
    at = {e.action: e.at for e in entries(session, "parcel", pid)}
    base = {"entity": "parcel", "id": pid}

    def actions(**bounds) -> list[str]:
        r = client.get("/api/v1/audit", params=base | bounds, headers=tokens["admin"])
        assert r.status_code == 200, r.text
        return [i["action"] for i in r.json()["items"]]

    assert actions(**{"from": at["update"].isoformat()}) == ["update"]
    assert actions(to=at["update"].isoformat()) == ["insert"]  # `to` excluded
    assert actions(**{"from": at["insert"].isoformat(),
                      "to": (at["update"] + timedelta(microseconds=1)).isoformat()}) == [
        "update", "insert"]
    later = (at["update"] + timedelta(hours=1)).isoformat()
    assert actions(**{"from": later}) == []
    # without an offset: Beijing time (UTC+8)
    beijing = at["update"].astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
    assert actions(**{"from": beijing.isoformat()}) == ["update"]
    assert actions(to=beijing.isoformat()) == ["insert"]
    r = client.get("/api/v1/audit", params={"from": later, "to": later},
                   headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["detail"] == "to: 应晚于 from"


def test_a_bureau_sees_only_its_jurisdiction(client, tokens, two_cities):
    def ids(token: str) -> set[str]:
        r = client.get("/api/v1/audit", params={"entity": "parcel", "limit": 1000},
                       headers=tokens[token])
        assert r.status_code == 200, r.text
        return {i["entity_id"] for i in r.json()["items"] if i["entity_id"] in mine}

    mine = {str(v) for v in two_cities.values()}
    assert ids("shenzhen") == {str(two_cities["futian"])}
    assert ids("guangzhou") == {str(two_cities["haizhu"])}
    assert ids("province") == mine
    assert ids("admin") == mine
    r = client.get("/api/v1/audit", params={"entity": "parcel", "id": two_cities["haizhu"]},
                   headers=tokens["shenzhen"])
    assert r.json()["items"] == [] and r.json()["numberMatched"] == 0
    # tokens and accounts lie in no district: admins only
    r = client.get("/api/v1/audit", params={"entity": "token"}, headers=tokens["province"])
    assert r.json()["numberMatched"] == 0
    r = client.get("/api/v1/audit", params={"entity": "token"}, headers=tokens["admin"])
    assert r.json()["numberMatched"] >= 6


def test_enterprises_and_anonymous_are_refused(client, tokens):
    r = client.get("/api/v1/audit", headers=tokens["enterprise"])
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = client.get("/api/v1/audit")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_bad_filters_are_422(client, tokens):
    r = client.get("/api/v1/audit", params={"entity": "spaceship"}, headers=tokens["admin"])
    assert r.status_code == 422
    r = client.get("/api/v1/audit", params={"id": "1"}, headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["detail"] == "id: 须同时给出 entity"


# -- a real server: the tag lasts from resolving the token to the request's one commit -----
def test_the_actor_survives_to_the_commit_on_a_real_server(server, engine):
    with engine.begin() as conn:
        from sqlalchemy.orm import Session
        with Session(bind=conn) as s:
            secret = create_token(session=s, role=Role.bureau, jurisdiction="4403",
                                  label="audit-server")
        tid = conn.scalar(text("SELECT id FROM api_token WHERE label = 'audit-server' "
                               "ORDER BY id DESC LIMIT 1"))
    headers = {"Authorization": f"Bearer {secret}", "X-Request-ID": "real-server-1"}
    pid = None
    try:
        r = httpx.post(f"{server}/api/v1/parcels", headers=headers, timeout=30,
                       json=feature(square(FUTIAN[0] + 0.01, FUTIAN[1], 60), code="AU-REAL"))
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = httpx.patch(f"{server}/api/v1/parcels/{pid}", headers=headers, timeout=30,
                        json={"name": "真服务器"})
        assert r.status_code == 200, r.text
        with engine.connect() as conn:
            got = conn.execute(text(
                "SELECT action, actor, client, request_id FROM audit_entry "
                "WHERE entity = 'parcel' AND entity_id = :id ORDER BY id"), {"id": str(pid)}).all()
        who = f"bureau:4403 token:{tid}"
        assert [tuple(g) for g in got] == [("insert", who, "127.0.0.1", "real-server-1"),
                                           ("update", who, "127.0.0.1", "real-server-1")]
    finally:
        with engine.begin() as conn:  # leave no committed parcel or token for other tests
            if pid is not None:
                conn.execute(text("DELETE FROM parcel WHERE id = :id"), {"id": pid})
            conn.execute(text("DELETE FROM api_token WHERE id = :id"), {"id": tid})


def test_untagged_writes_fall_back_to_the_database_role(session):
    session.execute(text("SELECT set_config('landsvc.actor', '', true)"))
    session.execute(text("INSERT INTO utility_tariff (district, utility, category, "
                         "unit_price_yuan, effective_from, created_by) VALUES "
                         "('440306', 'water', '工业', 3.5, '2026-01-01', 'sql')"))
    tid = session.scalar(text("SELECT max(id) FROM utility_tariff"))
    (entry,) = entries(session, "tariff", tid)
    assert entry.actor == "database:postgres" and entry.client is None
    assert entry.district == "440306"
    assert json.loads(json.dumps(entry.after))["unit_price_yuan"] == 3.5
    assert re.fullmatch(r"\d+", entry.entity_id)
