"""Webhook delivery from the outbox to a real HTTP server on 127.0.0.1: retry after a 500,
give up at the cap, two workers never send the same row, private addresses refused unless
allowed. Data here is committed (workers use their own transactions) and removed after."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text

from landsvc.config import Settings
from landsvc.db import session_scope
from landsvc.demands.models import Demand
from landsvc.enterprises.models import Enterprise
from landsvc.notifications.delivery import (
    RefusedURL,
    WebhookSettings,
    backoff,
    check_url,
    deliver_due,
)
from landsvc.notifications.models import Notification, WebhookDelivery
from landsvc.offerings.models import Offering
from landsvc.parcels.models import Parcel
from landsvc.tokens.models import ApiToken, Role
from landsvc.tokens.service import create_token
from tests.builders import FUTIAN, feature, square
from tests.offerings.test_rules import VALID

USCC = "91440300MA5HKWEB1X"  # shape only: the enterprise row is inserted directly
LABEL = "webhook-test"


class Hook:
    """A local HTTP server answering the scripted statuses (then 200), recording each POST."""

    def __init__(self, delay_s: float = 0.0):
        self.statuses: list[int] = []
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(delay_s)
                hook.received.append({"delivery": int(self.headers["X-Landsvc-Delivery"]),
                                      "host": self.headers["Host"],
                                      "attempt": int(self.headers["X-Landsvc-Attempt"]),
                                      "body": body})
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook(delay_s=0.05)
    yield h
    h.close()


@pytest.fixture
def published(database_url, hook):
    """``make(n)``: n open demands of an enterprise whose webhook is ``hook``, then an offering
    published through the API (real transactions) — n committed outbox rows."""
    from landsvc.main import create_app

    with session_scope() as s:
        s.add(Enterprise(uscc=USCC, name="推送测试企业", district="440304",
                         webhook_url=hook.url))
        s.flush()
        admin = create_token(session=s, role=Role.admin, label=LABEL)
        mine = create_token(session=s, role=Role.enterprise, enterprise_uscc=USCC, label=LABEL)
    client = TestClient(create_app(Settings(database_url=database_url, log_json=False,
                                            log_level="CRITICAL")),
                        raise_server_exceptions=False)
    made: list[int] = []

    def make(n: int = 1) -> list[int]:
        for _ in range(n):
            r = client.post("/api/v1/demands", json={"kinds": ["land"]},
                            headers={"Authorization": f"Bearer {mine}"})
            assert r.status_code == 201, r.text
        h = {"Authorization": f"Bearer {admin}"}
        parcel = client.post("/api/v1/parcels", headers=h, json=feature(
            square(*FUTIAN), code="HOOK-1", status="available")).json()
        r = client.post("/api/v1/offerings", headers=h, json={
            "parcel_id": parcel["id"], "supply_mode": "transfer"} | VALID["transfer"])
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
        r = client.post(f"/api/v1/offerings/{made[-1]}/transitions", headers=h,
                        json={"action": "publish"})
        assert r.status_code == 200, r.text
        with session_scope() as s:
            return list(s.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)))

    yield make
    with session_scope() as s:
        s.execute(delete(Offering).where(Offering.id.in_(made)))  # notifications cascade
        s.execute(delete(Parcel).where(Parcel.code == "HOOK-1"))
        s.execute(delete(Demand).where(Demand.enterprise_uscc == USCC))
        s.execute(delete(ApiToken).where(ApiToken.label == LABEL))
        s.execute(delete(Enterprise).where(Enterprise.uscc == USCC))


def stored(delivery_id: int) -> WebhookDelivery:
    with session_scope() as s:
        return s.get(WebhookDelivery, delivery_id)


LOCAL = WebhookSettings(allow_private=True, timeout_s=5, backoff_base_s=30)


def test_a_delivery_is_retried_after_a_500_and_done_after_a_200(published, hook):
    [did] = published(1)
    hook.statuses = [500]
    report = deliver_due(settings=LOCAL)
    assert (report.delivered, report.failed, report.ids) == (0, 1, [did])
    d = stored(did)
    assert (d.attempts, d.last_status, d.last_error, d.delivered_at) == (1, 500, "HTTP 500", None)
    with session_scope() as s:  # first back-off: 30 s from the attempt
        wait = s.scalar(select(WebhookDelivery.next_attempt_at - text("now()"))
                        .where(WebhookDelivery.id == did))
    assert 25 < wait.total_seconds() <= 30
    assert deliver_due(settings=LOCAL).ids == []  # not due yet: nothing sent
    assert len(hook.received) == 1

    with session_scope() as s:  # time passes
        s.get(WebhookDelivery, did).next_attempt_at = text("now()")
    report = deliver_due(settings=LOCAL)
    assert (report.delivered, report.failed) == (1, 0)
    d = stored(did)
    assert (d.attempts, d.last_status, d.last_error, d.next_attempt_at) == (2, 200, None, None)
    assert d.delivered_at is not None
    assert [r["attempt"] for r in hook.received] == [1, 2]
    body = hook.received[-1]["body"]
    with session_scope() as s:
        n = s.scalars(select(Notification).where(Notification.enterprise_uscc == USCC)).one()
    assert body == {"id": n.id, "created_at": n.created_at.isoformat(),
                    "kind": "offering_published", "kind_label": "新供地发布",
                    "offering_id": n.offering_id, "demand_id": n.demand_id,
                    "enterprise_uscc": USCC, "read": False, "read_at": None}
    assert deliver_due(settings=LOCAL).ids == []  # delivered: never sent again


def test_a_delivery_is_given_up_after_the_last_attempt(published, hook):
    [did] = published(1)
    hook.statuses = [500, 503, 500]
    settings = WebhookSettings(allow_private=True, max_attempts=2, backoff_base_s=0)
    assert deliver_due(settings=settings).failed == 1
    report = deliver_due(settings=settings)
    assert (report.given_up, report.failed) == (1, 0)
    d = stored(did)
    assert (d.attempts, d.last_error, d.next_attempt_at, d.delivered_at) == (
        2, "HTTP 503", None, None)
    assert deliver_due(settings=settings).ids == []
    assert len(hook.received) == 2


def test_two_workers_send_each_delivery_once(published, hook):
    ids = published(6)
    assert len(ids) == 6
    reports = []
    workers = [threading.Thread(target=lambda: reports.append(deliver_due(settings=LOCAL)))
               for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert sorted(r["delivery"] for r in hook.received) == ids
    assert sorted(reports[0].ids + reports[1].ids) == ids
    assert all(r.ids for r in reports)  # both worked (each row took 50 ms at the server)
    assert all(stored(i).delivered_at is not None and stored(i).attempts == 1 for i in ids)


def test_private_addresses_are_refused_by_default(published, hook):
    [did] = published(1)
    report = deliver_due(settings=WebhookSettings())
    assert (report.failed, hook.received) == (1, [])
    d = stored(did)
    assert "127.0.0.1" in d.last_error and "LANDSVC_WEBHOOK_ALLOW_PRIVATE" in d.last_error
    assert (d.attempts, d.delivered_at, d.last_status) == (1, None, None)


@pytest.mark.parametrize("url", [
    "ftp://hooks.example.com/x", "file:///etc/passwd", "gopher://1.1.1.1/", "no-scheme",
    "http://127.0.0.1:8000/x", "http://localhost/x", "http://10.1.2.3/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/", "http://224.0.0.1/", "http://internal.example/",
])
def test_check_url_refuses(url):
    fake = {"localhost": ["127.0.0.1"], "internal.example": ["93.184.216.34", "10.0.0.7"]}
    with pytest.raises(RefusedURL):
        check_url(url, allow_private=False, resolve=lambda host, port: fake[host])


def test_check_url_allows_public_and_with_the_setting_private():
    public = {"hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1"]}
    check_url("https://hooks.example.com/landsvc", allow_private=False,
              resolve=lambda host, port: public[host])
    check_url("http://127.0.0.1:9/x", allow_private=True)
    with pytest.raises(RefusedURL):  # even allowed, multicast and 0.0.0.0 stay refused
        check_url("http://0.0.0.0/", allow_private=True)


def test_backoff_doubles_up_to_the_cap():
    s = WebhookSettings(backoff_base_s=30, backoff_cap_s=3600)
    assert [backoff(n, s).total_seconds() for n in (1, 2, 3, 7, 8, 20)] == [
        30, 60, 120, 1920, 3600, 3600]


def test_the_post_goes_to_the_address_checked_with_the_original_host(
        published, hook, monkeypatch):
    from landsvc.notifications import delivery

    [did] = published(1)
    port = hook.server.server_address[1]
    with session_scope() as s:
        s.get(Enterprise, USCC).webhook_url = f"http://hooks.landsvc.test:{port}/hook"
    looked_up = []
    monkeypatch.setattr(delivery, "_resolve",
                        lambda host, p: looked_up.append((host, p)) or ["127.0.0.1"])
    assert deliver_due(settings=LOCAL).delivered == 1  # the name exists in no real DNS
    assert looked_up == [("hooks.landsvc.test", port)]
    assert hook.received[0]["host"] == f"hooks.landsvc.test:{port}"
    assert stored(did).delivered_at is not None


def test_pinned_keeps_credentials_port_and_ipv6_brackets():
    from landsvc.notifications.delivery import pinned

    assert pinned("https://u:p@hooks.example.com:8443/a?b=1", "93.184.216.34") == (
        "https://u:p@93.184.216.34:8443/a?b=1", {"Host": "hooks.example.com:8443"},
        {"sni_hostname": "hooks.example.com"})
    assert pinned("http://hooks.example.com/a", "2606:2800:220:1::1")[0] == (
        "http://[2606:2800:220:1::1]/a")


def test_cli_deliver_once(published, hook, database_url):
    import os
    import subprocess
    import sys

    [did] = published(1)
    env = os.environ | {"LANDSVC_DATABASE_URL": database_url,
                        "LANDSVC_WEBHOOK_ALLOW_PRIVATE": "true"}
    r = subprocess.run([sys.executable, "-m", "landsvc.cli", "notifications", "deliver",
                        "--once"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "delivered 1, failed 0 (will retry), given up 0"
    assert [x["delivery"] for x in hook.received] == [did]


def test_a_row_another_worker_holds_is_skipped_not_waited_for(published, hook, engine):
    first, *others = published(3)
    with engine.connect() as held:  # another worker, in the middle of sending ``first``
        held.begin()
        held.execute(text("SELECT id FROM webhook_delivery WHERE id = :i FOR UPDATE"),
                      {"i": first})
        assert deliver_due(settings=LOCAL).ids == others
        held.rollback()
    assert deliver_due(settings=LOCAL).ids == [first]
    assert sorted(r["delivery"] for r in hook.received) == [first, *others]
