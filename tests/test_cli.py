"""The CLI as the local operator runs it: exit codes, stdout/stderr, committed results."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.builders import BAOAN, FUTIAN, bowtie, feature, square, write_geojson


def landsvc(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landsvc.cli", *args], capture_output=True,
                          text=True, env=dict(os.environ), timeout=300)


@pytest.fixture
def committed(engine, database_url):
    """Yields a function counting committed parcels with a code prefix; cleans up after."""
    def count(prefix: str) -> int:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM parcel WHERE code LIKE :p"),
                               {"p": prefix + "%"})

    yield count
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM parcel WHERE code LIKE 'CLI-%'"))
        conn.execute(text("DELETE FROM api_token WHERE label = 'cli-test'"))


def test_token_create_prints_the_token_alone(committed, client):
    result = landsvc("token", "create", "--role", "bureau", "--jurisdiction", "4403",
                     "--label", "cli-test")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert re.fullmatch(r"lsv_[A-Za-z0-9_-]{43}", token) and result.stdout == token + "\n"
    body = feature(square(*FUTIAN), code="CLI-T")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/parcels", json=body, headers=headers).status_code == 201
    body = feature(square(113.26, 23.13), code="CLI-G")  # Guangzhou: outside 4403
    assert client.post("/api/v1/parcels", json=body, headers=headers).status_code == 403


@pytest.mark.parametrize("args, word", [
    (["--role", "mayor"], "--role"),
    (["--role", "bureau"], "jurisdiction"),
    (["--role", "bureau", "--jurisdiction", "4503"], "jurisdiction"),
    (["--role", "enterprise"], "enterprise"),
    (["--role", "admin", "--enterprise", "91440300MA5FXXXX1X"], "enterprise"),
])
def test_token_create_usage_errors(args, word):
    result = landsvc("token", "create", *args)
    assert result.returncode == 2 and result.stdout == "" and word in result.stderr


def test_import_exit_codes_and_all_or_nothing(committed, tmp_path):
    good = write_geojson(tmp_path / "good.geojson",
                         [feature(square(*FUTIAN), code="CLI-1"),
                          feature(square(*BAOAN), code="CLI-2")])
    result = landsvc("parcels", "import", str(good))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 2 and committed("CLI-") == 2

    bad = write_geojson(tmp_path / "bad.geojson",
                        [feature(square(FUTIAN[0] + 0.01, FUTIAN[1]), code="CLI-3"),
                         feature(bowtie(*BAOAN), code="CLI-4"),
                         feature(square(*BAOAN), code="CLI-1")])
    result = landsvc("parcels", "import", str(bad))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [r["index"] for r in report["rejected"]] == [1, 2]
    assert "错误" in result.stderr and committed("CLI-") == 2

    result = landsvc("parcels", "import", str(bad), "--partial")
    assert result.returncode == 0 and json.loads(result.stdout)["imported"] == 1
    assert committed("CLI-") == 3

    result = landsvc("parcels", "import", str(bad), "--repair", "--partial")
    assert result.returncode == 0  # CLI-3 now a duplicate, CLI-4 repaired and imported
    assert committed("CLI-4") == 1


def test_import_usage_errors(tmp_path):
    missing = landsvc("parcels", "import", str(tmp_path / "nope.gpkg"))
    assert missing.returncode == 2 and "不存在" in missing.stderr
    crs = write_geojson(tmp_path / "p.geojson", [feature(square(*FUTIAN), code="CLI-X")])
    result = landsvc("parcels", "import", str(crs), "--crs", "EPSG:0")
    assert result.returncode == 1 and "crs" in result.stderr


def test_demo_load_runs_once(engine, database_url):
    """scripts/demo calls it on every start: the second call must not fail or duplicate."""
    def stored() -> int:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM parcel"))

    assert stored() == 0
    try:
        first = landsvc("demo", "load", "--parcels", "30")
        assert first.returncode == 0, first.stderr
        assert stored() == 30
        again = landsvc("demo", "load", "--parcels", "30")
        assert again.returncode == 0 and "already stored" in again.stdout
        assert stored() == 30
    finally:
        with engine.begin() as conn:
            # CASCADE: what the demo puts on top (demands, allocations, notifications, approval
            # cases, quota...); the append-only histories refuse TRUNCATE unless their owner
            # switches the guard off for this transaction's statement.
            guarded = ("approval_event", "quota_movement")
            for table in guarded:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(text("TRUNCATE allocation, unit_transfer, building_unit, listing, building,"
                              " offering, park, parcel, enterprise, consortium, quota_pool,"
                              " rent_record, rent_guideline_version, rent_zone, utility_tariff,"
                              " utility_complaint CASCADE"))
            for table in guarded:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
