"""The CLI's writes are recorded as the local operator."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys

from sqlalchemy import text


def test_a_cli_write_is_recorded_as_the_operator(engine, database_url):
    made = subprocess.run([sys.executable, "-m", "landsvc.cli", "token", "create", "--role",
                           "admin", "--label", "cli-audit-test"], capture_output=True,
                          text=True, env=dict(os.environ), timeout=300)
    assert made.returncode == 0, made.stderr
    with engine.begin() as conn:
        token_id = conn.scalar(text("SELECT id FROM api_token WHERE label = 'cli-audit-test'"))
        rows = conn.execute(text(
            "SELECT action, actor, client FROM audit_entry WHERE entity = 'token' "
            "AND entity_id = :id"), {"id": str(token_id)}).all()
        conn.execute(text("DELETE FROM api_token WHERE id = :id"), {"id": token_id})
    assert rows == [("insert", f"operator:{getpass.getuser()}", "cli")]
