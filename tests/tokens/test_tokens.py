"""Tokens: listing and revoking, expiry, last use, jurisdictions as the prefix they govern."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from landsvc.db import Base, alembic_config
from landsvc.errors import InvalidInput, NotFound
from landsvc.tokens.models import Role
from landsvc.tokens.service import (
    _hash,
    create_token,
    list_tokens,
    parse_duration,
    resolve_token,
    revoke_token,
)
from tests.builders import FUTIAN, HAIZHU, feature, square

LISTED = {"id", "role", "jurisdiction", "enterprise_uscc", "label", "created_at", "last_used_at",
          "expires_at", "revoked_at", "revoked", "expired"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stored(session, token: str, column: str):
    return session.scalar(text(f"SELECT {column} FROM api_token WHERE token_hash = :h"),
                          {"h": _hash(token)})


def post_parcel(client, token: str, where=FUTIAN, code: str | None = None):
    body = feature(square(*where), code=code or f"T-{uuid.uuid4().hex[:8]}")
    return client.post("/api/v1/parcels", json=body, headers=bearer(token))


# -- list and revoke ------------------------------------------------------------------------
def test_list_shows_every_field_but_never_the_token(session):
    bureau = create_token(session=session, role=Role.bureau, jurisdiction="440306", label="宝安")
    firm = create_token(session=session, role=Role.enterprise, label="企业",
                        enterprise_uscc="91440300MA5FXXXX1X", expires_in=timedelta(days=90))
    resolve_token(session=session, token=bureau)

    listed = {t["label"]: t for t in list_tokens(session=session)}
    assert set(listed["宝安"]) == LISTED
    b, f = listed["宝安"], listed["企业"]
    assert (b["role"], b["jurisdiction"], b["enterprise_uscc"]) == ("bureau", "440306", None)
    assert (f["role"], f["jurisdiction"], f["enterprise_uscc"]) == \
        ("enterprise", None, "91440300MA5FXXXX1X")
    assert b["created_at"] is not None and b["last_used_at"] is not None
    assert f["last_used_at"] is None and b["expires_at"] is None
    assert f["expires_at"] - datetime.now(UTC) == pytest.approx(timedelta(days=90),
                                                                abs=timedelta(minutes=1))
    assert not any(t["revoked"] or t["expired"] or t["revoked_at"] for t in (b, f))
    shown = repr(list_tokens(session=session))
    for token in (bureau, firm):
        assert token not in shown and _hash(token) not in shown


def test_revoked_token_is_401_at_once(client, session):
    token = create_token(session=session, role=Role.bureau, jurisdiction="4403")
    assert post_parcel(client, token).status_code == 201
    token_id = stored(session, token, "id")

    result = revoke_token(session=session, token_id=token_id)
    assert result["already_revoked"] is False and result["revoked_at"] is not None
    r = post_parcel(client, token)
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert client.get("/api/v1/parcels", headers=bearer(token)).status_code == 401

    again = revoke_token(session=session, token_id=token_id)
    assert again == {"id": token_id, "revoked_at": result["revoked_at"], "already_revoked": True}
    [listed] = [t for t in list_tokens(session=session) if t["id"] == token_id]
    assert listed["revoked"] is True and listed["revoked_at"] == result["revoked_at"]
    for unknown in (token_id + 10_000, 0, -1, 2**70):
        with pytest.raises(NotFound):
            revoke_token(session=session, token_id=unknown)


def test_expired_token_is_401(client, session):
    token = create_token(session=session, role=Role.bureau, jurisdiction="4403",
                         expires_in=timedelta(hours=1))
    assert post_parcel(client, token).status_code == 201
    session.execute(text("UPDATE api_token SET expires_at = now() - interval '1 second' "
                         "WHERE token_hash = :h"), {"h": _hash(token)})
    assert post_parcel(client, token).status_code == 401
    assert client.get("/api/v1/parcels", headers=bearer(token)).status_code == 401

    brief = create_token(session=session, role=Role.admin, expires_in=timedelta(milliseconds=50))
    time.sleep(0.1)
    assert post_parcel(client, brief).status_code == 401
    assert resolve_token(session=session, token=brief) is None
    expired = {t["id"]: t["expired"] for t in list_tokens(session=session)}
    assert expired[stored(session, token, "id")] and expired[stored(session, brief, "id")]


@pytest.mark.parametrize("lifetime", [timedelta(0), timedelta(seconds=-1), timedelta(days=3651)])
def test_expiry_out_of_range_is_refused(session, lifetime):
    with pytest.raises(InvalidInput, match="expires_in"):
        create_token(session=session, role=Role.admin, expires_in=lifetime)


@pytest.mark.parametrize("text_, want", [("12h", timedelta(hours=12)), ("90d", timedelta(days=90)),
                                         ("2w", timedelta(weeks=2))])
def test_parse_duration(text_, want):
    assert parse_duration(text_) == want


@pytest.mark.parametrize("text_", ["90", "90m", "0d", "d", "1.5d", "-1d", "90D", " 90d",
                                   "99999999999999w"])
def test_parse_duration_refuses(text_):
    with pytest.raises(InvalidInput):
        parse_duration(text_)


def test_last_used_is_noted_but_not_rewritten_within_a_minute(client, session):
    token = create_token(session=session, role=Role.admin)
    assert stored(session, token, "last_used_at") is None
    assert client.get("/api/v1/parcels", headers=bearer(token)).status_code == 200
    first = stored(session, token, "last_used_at")
    assert first is not None

    assert client.get("/api/v1/parcels", headers=bearer(token)).status_code == 200
    assert stored(session, token, "last_used_at") == first  # clock_timestamp() would differ

    def age(seconds: int) -> datetime:
        return session.scalar(text(
            "UPDATE api_token SET last_used_at = clock_timestamp() - make_interval(secs => :s) "
            "WHERE token_hash = :h RETURNING last_used_at"), {"s": seconds, "h": _hash(token)})

    almost = age(59)
    assert client.get("/api/v1/parcels", headers=bearer(token)).status_code == 200
    assert stored(session, token, "last_used_at") == almost
    stale = age(61)
    assert client.get("/api/v1/parcels", headers=bearer(token)).status_code == 200
    assert stored(session, token, "last_used_at") > stale + timedelta(seconds=60)


def test_revoked_or_expired_tokens_are_not_noted(session):
    token = create_token(session=session, role=Role.admin)
    revoke_token(session=session, token_id=stored(session, token, "id"))
    assert resolve_token(session=session, token=token) is None
    assert stored(session, token, "last_used_at") is None


# -- jurisdictions --------------------------------------------------------------------------
@pytest.mark.parametrize("given, kept", [
    ("440300", "4403"), ("440000", "44"), ("441900", "4419"), ("442000", "4420"),
    ("44", "44"), ("4401", "4401"), ("440306", "440306"),
])
def test_jurisdiction_is_stored_as_its_prefix(session, given, kept):
    token = create_token(session=session, role=Role.bureau, jurisdiction=given)
    assert stored(session, token, "jurisdiction") == kept
    assert resolve_token(session=session, token=token).jurisdiction == kept


def test_city_code_governs_its_city(client, session):
    token = create_token(session=session, role=Role.bureau, jurisdiction="440300")
    r = post_parcel(client, token, FUTIAN)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["district"] == "440304"
    assert post_parcel(client, token, HAIZHU).status_code == 403

    province = create_token(session=session, role=Role.bureau, jurisdiction="440000")
    assert post_parcel(client, province, HAIZHU).status_code == 201


@pytest.mark.parametrize("code", ["449900", "4499", "45", "450000", "4403x", "440399", "4", "44030",
                                  "4403000", "", "４４"])
def test_jurisdiction_outside_guangdong_is_refused(session, code):
    with pytest.raises(InvalidInput, match="jurisdiction"):
        create_token(session=session, role=Role.bureau, jurisdiction=code)


def test_jurisdiction_needs_the_divisions_loaded(session):
    session.execute(text("DELETE FROM district_part"))
    session.execute(text("DELETE FROM district"))
    session.execute(text("DELETE FROM city"))
    with pytest.raises(InvalidInput, match="landsvc geodata load") as caught:
        create_token(session=session, role=Role.bureau, jurisdiction="4403")
    assert caught.value.code == "no_districts" and "jurisdiction" in caught.value.detail
    token = create_token(session=session, role=Role.bureau, jurisdiction="440000")
    assert stored(session, token, "jurisdiction") == "44"


# -- the CLI ----------------------------------------------------------------------------------
LABEL = "token-cli-test [/]"  # markup in a label is shown as it is


def landsvc(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landsvc.cli", *args], capture_output=True,
                          text=True, env=dict(os.environ), timeout=120)


@pytest.fixture
def cli(engine, database_url):
    """The CLI on the test database; removes the tokens it committed."""
    yield landsvc
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_token WHERE label = :l"), {"l": LABEL})


@pytest.fixture
def committed(engine):
    """How many tokens the CLI committed."""
    def count() -> int:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM api_token WHERE label = :l"),
                               {"l": LABEL})

    return count


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")


def listed(label: str = LABEL) -> list[dict]:
    result = landsvc("token", "list", "--json")
    assert result.returncode == 0, result.stderr
    return [t for t in json.loads(result.stdout) if t["label"] == label]


def test_cli_list_shows_every_field_but_never_the_token(cli):
    created = cli("token", "create", "--role", "bureau", "--jurisdiction", "440300",
                  "--label", LABEL, "--expires-in", "90d")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()

    as_json, as_table = cli("token", "list", "--json"), cli("token", "list")
    for result in (as_json, as_table):
        assert result.returncode == 0 and result.stderr == ""
        assert token not in result.stdout and _hash(token) not in result.stdout
    [row] = [t for t in json.loads(as_json.stdout) if t["label"] == LABEL]
    assert set(row) == LISTED
    assert (row["role"], row["jurisdiction"], row["revoked"], row["expired"]) == \
        ("bureau", "4403", False, False)
    assert (row["enterprise_uscc"], row["last_used_at"], row["revoked_at"]) == (None, None, None)
    expires = datetime.fromisoformat(row["expires_at"])
    assert expires - datetime.fromisoformat(row["created_at"]) == \
        pytest.approx(timedelta(days=90), abs=timedelta(minutes=1))

    line = next(s for s in as_table.stdout.splitlines() if LABEL in s)
    assert str(row["id"]) in line and "4403" in line and "主管部门" in line and "有效" in line
    assert _when(row["expires_at"]) in line and _when(row["created_at"]) in line
    for header in ("ID", "角色", "管辖", "企业", "备注", "创建", "最近使用", "到期", "状态"):
        assert header in as_table.stdout


@pytest.fixture
def live_client(database_url):
    """An app whose requests commit, as in production (the CLI must see what they write)."""
    from fastapi.testclient import TestClient

    from landsvc.config import Settings
    from landsvc.main import create_app

    app = create_app(Settings(database_url=database_url, log_json=False, log_level="WARNING"))
    return TestClient(app, raise_server_exceptions=False)


def test_cli_revoke(cli, live_client):
    token = cli("token", "create", "--role", "admin", "--label", LABEL).stdout.strip()
    assert live_client.get("/api/v1/parcels", headers=bearer(token)).status_code == 200
    [row] = listed()
    assert row["last_used_at"] is not None

    first = cli("token", "revoke", str(row["id"]))
    assert first.returncode == 0 and "已吊销" in first.stdout and first.stderr == ""
    assert live_client.get("/api/v1/parcels", headers=bearer(token)).status_code == 401
    table = cli("token", "list").stdout
    line = next(s for s in table.splitlines() if LABEL in s)
    assert "已吊销" in line and _when(row["last_used_at"]) in line

    again = cli("token", "revoke", str(row["id"]))
    assert again.returncode == 0 and "无需再次吊销" in again.stdout
    [row] = listed()
    assert row["revoked"] is True and row["revoked_at"] is not None

    unknown = cli("token", "revoke", "999999999")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert "没有编号为 999999999 的令牌" in unknown.stderr
    assert cli("token", "revoke", "seven").returncode == 2


@pytest.mark.parametrize("value", ["90", "0d", "-1d"])
def test_cli_expires_in_usage_error(cli, committed, value):
    result = cli("token", "create", "--role", "admin", "--label", LABEL, f"--expires-in={value}")
    assert result.returncode == 2 and result.stdout == "" and "--expires-in" in result.stderr
    assert committed() == 0


@pytest.mark.parametrize("code", ["449900", "4403x"])
def test_cli_jurisdiction_refused(cli, committed, code):
    result = cli("token", "create", "--role", "bureau", "--jurisdiction", code, "--label", LABEL)
    assert result.returncode == 2 and result.stdout == "" and "jurisdiction" in result.stderr
    assert committed() == 0


# -- the migration ----------------------------------------------------------------------------
@pytest.fixture
def empty_database(engine):
    name = f"tok_{uuid.uuid4().hex[:8]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(engine.url).set(database=name).render_as_string(hide_password=False)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_migration_normalises_jurisdictions_and_matches_the_model(empty_database):
    engine = create_engine(empty_database)
    try:
        with engine.connect() as conn:
            command.upgrade(alembic_config(conn), "0001")
            conn.execute(text(
                "INSERT INTO api_token (token_hash, role, jurisdiction) VALUES "
                "('a', 'bureau', '440300'), ('b', 'bureau', '440000'), ('c', 'bureau', '440306'),"
                "('d', 'bureau', '4401'), ('e', 'bureau', '44'), ('f', 'admin', NULL)"))
            conn.commit()
            command.upgrade(alembic_config(conn), "0002")
            conn.commit()
            rows = dict(conn.execute(text("SELECT token_hash, jurisdiction FROM api_token")).all())
            assert rows == {"a": "4403", "b": "44", "c": "440306", "d": "4401", "e": "44",
                            "f": None}
            columns = {c["name"]: c for c in inspect(conn).get_columns("api_token")}
            assert columns["expires_at"]["nullable"] and columns["last_used_at"]["nullable"]

            context = MigrationContext.configure(
                conn, opts={"include_object": alembic_helpers.include_object})
            drift = [d for d in compare_metadata(context, Base.metadata) if "api_token" in str(d)]
            assert drift == []

            command.downgrade(alembic_config(conn), "0001")
            conn.commit()
            names = {c["name"] for c in inspect(conn).get_columns("api_token")}
            assert not names & {"expires_at", "last_used_at"}
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0001"
    finally:
        engine.dispose()
