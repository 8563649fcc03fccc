"""Web test fixtures.

- :func:`demo_site`: the whole demo (``landsvc demo load`` and ``landsvc demo accounts``) in
  its own database of the test cluster, served by a real ``uvicorn`` process: the browser
  journeys run against it, and their writes never meet the other tests' data.
- :func:`login`: sign a TestClient in through the real login form.
- :func:`web_user`: an account in the test's own (rolled back) session.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from landsvc.accounts.service import create_user
from landsvc.tokens.models import Role
from tests.webmaps.conftest import browser  # noqa: F401  (the fixture, re-exported)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
LANDSVC = str(Path(sys.executable).with_name("landsvc"))
DEMO_DATABASE = "landsvc_web_demo"
PASSWORD = "test-password-42"


@dataclass(frozen=True)
class DemoSite:
    url: str
    database_url: str
    accounts: dict[str, dict[str, str]]
    """By role: ``username``, ``password``, ``jurisdiction``, ``enterprise_uscc``."""

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """``landsvc ARGS`` on the demo database."""
        return subprocess.run([LANDSVC, *args], input=stdin, capture_output=True, text=True,
                              env=_env(self.database_url), timeout=600)


def _env(database_url: str) -> dict[str, str]:
    return {**os.environ, "LANDSVC_DATABASE_URL": database_url, "LANDSVC_LOG_JSON": "false",
            "LANDSVC_LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="session")
def demo_site(database_url) -> Iterator[DemoSite]:
    """The demo, loaded once per test session into its own database and served for real."""
    url = re.sub(r"/[^/?]+(\?|$)", rf"/{DEMO_DATABASE}\1", database_url, count=1)
    admin = re.sub(r"/[^/?]+(\?|$)", r"/postgres\1", database_url, count=1)
    with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DEMO_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DEMO_DATABASE}")
    for step in (["db", "upgrade"], ["geodata", "load"], ["demo", "load", "--parcels", "800"]):
        done = subprocess.run([LANDSVC, *step], capture_output=True, text=True,
                              env=_env(url), timeout=900)
        assert done.returncode == 0, f"landsvc {' '.join(step)}: {done.stderr}"
    made = subprocess.run([LANDSVC, "demo", "accounts", "--json"], capture_output=True,
                          text=True, env=_env(url), timeout=120)
    assert made.returncode == 0, made.stderr
    accounts = {a["role"]: a for a in json.loads(made.stdout)}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "landsvc.main:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=_env(url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert server.poll() is None, f"uvicorn exited: {server.stderr.read()}"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.2)
    try:
        yield DemoSite(url=base, database_url=url, accounts=accounts)
    finally:
        server.terminate()
        server.wait(20)


def login(client, username: str, password: str = PASSWORD, *, next_path: str = ""):
    """Sign ``client`` in through the login form; the redirect answer."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token, "next": next_path},
                       follow_redirects=False)


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


@pytest.fixture
def web_user(session):
    """``web_user(role, **binding)``: a new account in the test's session; its username."""
    count = 0

    def make(role: str, username: str | None = None, **binding) -> str:
        nonlocal count
        count += 1
        name = username or f"{role}-{count}"
        create_user(session=session, username=name, password=PASSWORD, role=Role(role),
                    **binding)
        return name

    return make


def browser_login(page, base: str, username: str, password: str) -> None:
    """Sign a Playwright page in through the form."""
    page.goto(f"{base}/login", wait_until="load")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("load")


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under ``test-artifacts/web/``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
