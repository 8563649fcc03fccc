"""``landsvc user create|list|disable`` on the committed database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

SECRET = "cli-secret-pass-9"


def landsvc(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landsvc.cli", *args], input=stdin,
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)


@pytest.fixture
def cleanup(engine, database_url):
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM app_user WHERE username LIKE 'cli-%'"))


def test_create_list_disable(cleanup, engine):
    made = landsvc("user", "create", "cli-li", "--role", "bureau", "--jurisdiction", "440300",
                   stdin=SECRET + "\n")
    assert made.returncode == 0, made.stderr
    assert SECRET not in made.stdout + made.stderr and "cli-li" in made.stdout
    with engine.connect() as conn:
        row = conn.execute(text("SELECT role, jurisdiction, password_hash FROM app_user "
                                "WHERE username = 'cli-li'")).one()
    assert row[:2] == ("bureau", "4403") and row[2].startswith("$argon2id$")

    again = landsvc("user", "create", "cli-li", "--role", "admin", stdin=SECRET + "\n")
    assert again.returncode == 1 and "已存在" in again.stderr

    listed = json.loads(landsvc("user", "list", "--json").stdout)
    mine = [u for u in listed if u["username"] == "cli-li"]
    assert mine and mine[0]["role"] == "bureau" and mine[0]["disabled"] is False
    assert "password_hash" not in mine[0]

    assert landsvc("user", "disable", "cli-li").returncode == 0
    listed = json.loads(landsvc("user", "list", "--json").stdout)
    assert [u["disabled"] for u in listed if u["username"] == "cli-li"] == [True]
    missing = landsvc("user", "disable", "cli-nobody")
    assert missing.returncode == 1 and "cli-nobody" in missing.stderr


@pytest.mark.parametrize("args, stdin, word", [
    (["cli-a", "--role", "mayor"], SECRET, "--role"),
    (["cli-a", "--role", "bureau"], SECRET, "jurisdiction"),
    (["cli-a", "--role", "enterprise", "--enterprise", "123"], SECRET, "enterprise"),
    (["cli-a", "--role", "admin"], "", "password"),
    (["cli-a", "--role", "admin"], "short", "password"),
    (["Bad Name", "--role", "admin"], SECRET, "username"),
])
def test_usage_errors_exit_2_and_store_nothing(cleanup, engine, args, stdin, word):
    result = landsvc("user", "create", *args, stdin=stdin + "\n")
    assert result.returncode == 2 and word in result.stderr and result.stdout == ""
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM app_user WHERE username LIKE 'cli-%'")) == 0
