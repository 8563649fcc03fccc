"""The embedded cluster through the CLI: start, reuse, status, stop — as a user runs it."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

LANDSVC = [sys.executable, "-m", "landsvc.cli"]


def run(*args, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LANDSVC_DATABASE_URL"}
    env["LANDSVC_HOME"] = str(home)
    return subprocess.run([*LANDSVC, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split()[1:])


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="landsvc-cluster-", dir="/tmp"))
    path.chmod(0o755)
    yield path / "data"
    run("db", "stop", home=path / "data")
    shutil.rmtree(path, ignore_errors=True)


def test_start_reuse_status_stop(home):
    assert run("db", "status", home=home).returncode == 3

    first = run("db", "start", home=home)
    assert first.returncode == 0, first.stderr
    started = fields(first.stdout)
    with psycopg.connect(f"host=127.0.0.1 port={started['port']} user=postgres dbname=landsvc"
                         ) as conn:
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'postgis'"
                            ).fetchone()
        assert conn.execute("SHOW fsync").fetchone()[0] == "on"  # users' data are durable
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"

    again = run("db", "start", home=home)
    assert fields(again.stdout) == started  # the running cluster is reused, not restarted
    status = run("db", "status", home=home)
    assert status.returncode == 0 and fields(status.stdout) == started
    if os.geteuid() == 0:
        assert (home / "pgdata").stat().st_uid == pwd.getpwnam("postgres").pw_uid

    assert run("db", "stop", home=home).stdout.strip() == "stopped"
    assert run("db", "status", home=home).returncode == 3
    assert run("db", "stop", home=home).stdout.strip() == "not running"

    restarted = fields(run("db", "start", home=home).stdout)
    assert restarted["port"] == started["port"] and restarted["pid"] != started["pid"]


def test_commands_start_the_cluster_on_demand(home):
    upgraded = run("db", "upgrade", home=home)
    assert upgraded.returncode == 0, upgraded.stderr
    assert run("db", "status", home=home).returncode == 0
