"""The webhook outbox, sent outside any request.

Each due row is taken under ``SELECT … FOR UPDATE SKIP LOCKED`` in a transaction of its own
and kept locked while it is POSTed: a second worker skips it, so no delivery goes out twice at
once. A failure counts an attempt and waits ``backoff_base_s · 2^(attempts-1)`` (at most
``backoff_cap_s``) before the next; after ``max_attempts`` the row is given up
(``next_attempt_at`` NULL). The URL is the enterprise's own input: before every POST it must
be http(s) and every address its host resolves to must be public, unless
``LANDSVC_WEBHOOK_ALLOW_PRIVATE`` is set (development and tests); the POST then goes to the
address checked, not to a second lookup. Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, select, true, update
from sqlalchemy.orm import Session

from landsvc import __version__
from landsvc.db import session_scope
from landsvc.enterprises.models import Enterprise
from landsvc.notifications.models import Notification, WebhookDelivery
from landsvc.notifications.service import as_item

log = logging.getLogger("landsvc.webhooks")


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANDSVC_WEBHOOK_", env_file=".env",
                                      extra="ignore")

    allow_private: bool = False
    """Allow loopback, private and link-local addresses (never in production)."""
    timeout_s: float = 10.0
    max_attempts: int = 8
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 6 * 3600.0
    poll_s: float = 5.0
    """How long the long-running worker sleeps when nothing is due."""


class RefusedURL(ValueError):
    """A webhook URL the worker will not call."""


def backoff(attempts: int, settings: WebhookSettings) -> timedelta:
    """Wait after the ``attempts``-th failure: base · 2^(attempts-1), at most the cap."""
    return timedelta(seconds=min(settings.backoff_cap_s,
                                 settings.backoff_base_s * 2 ** max(attempts - 1, 0)))


Resolver = Callable[[str, int], list[str]]


def _resolve(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def check_url(url: str | None, *, allow_private: bool,
              resolve: Resolver | None = None) -> list[str]:
    """The addresses of ``url``'s host, once each is checked; :class:`RefusedURL` unless the
    URL is http(s) and every address is public (or ``allow_private``); multicast and
    unspecified addresses are always refused."""
    if not url:
        raise RefusedURL("企业未设置 webhook_url")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedURL(f"webhook_url 无法解析：{exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedURL("webhook_url 只能是 http:// 或 https:// 地址")
    try:
        addresses = _literal(parts.hostname) or (resolve or _resolve)(parts.hostname, port)
    except OSError as exc:
        raise RefusedURL(f"无法解析主机 {parts.hostname}：{exc}") from None
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip.is_multicast or ip.is_unspecified or not (ip.is_global or allow_private):
            raise RefusedURL(f"webhook_url 指向非公网地址 {ip}，已拒绝"
                             "（LANDSVC_WEBHOOK_ALLOW_PRIVATE 未开启）")
    if not addresses:
        raise RefusedURL(f"主机 {parts.hostname} 没有地址")
    return addresses


def pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """``url`` aimed at the checked ``address`` (no second DNS lookup between the check and
    the connection), with the Host header and the TLS server name of the original host."""
    parts = urlsplit(url)
    ip = ipaddress.ip_address(address.split("%")[0])
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    userinfo, _, original = parts.netloc.rpartition("@")  # credentials stay in the URL only
    netloc = f"{userinfo}@{netloc}" if userinfo else netloc
    return (parts._replace(netloc=netloc).geturl(), {"Host": original},
            {"sni_hostname": parts.hostname})


def _literal(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return []


def payload(n: Notification) -> dict[str, Any]:
    """The JSON body POSTed: the notification as ``GET /api/v1/notifications/{id}`` gives it."""
    return as_item(n)


@dataclass
class Report:
    delivered: int = 0
    failed: int = 0
    given_up: int = 0
    ids: list[int] = field(default_factory=list)


def _due(skip: set[int]):
    return (select(WebhookDelivery, Notification, Enterprise.webhook_url)
            .join(Notification, Notification.id == WebhookDelivery.notification_id)
            .join(Enterprise, Enterprise.uscc == Notification.enterprise_uscc)
            .where(WebhookDelivery.delivered_at.is_(None),
                   WebhookDelivery.next_attempt_at <= func.now(),
                   WebhookDelivery.id.not_in(skip) if skip else true())
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(1)
            .with_for_update(of=WebhookDelivery, skip_locked=True))


def _send(client: httpx.Client, url: str | None, delivery: WebhookDelivery, n: Notification,
          settings: WebhookSettings) -> tuple[bool, int | None, str | None]:
    try:
        addresses = check_url(url, allow_private=settings.allow_private)
        target, host, extensions = pinned(url, addresses[0])
        r = client.post(target, json=payload(n), extensions=extensions, headers=host | {
            "User-Agent": f"landsvc/{__version__} webhook",
            "X-Landsvc-Delivery": str(delivery.id),
            "X-Landsvc-Attempt": str(delivery.attempts + 1)})
    except RefusedURL as exc:
        return False, None, str(exc)
    except httpx.HTTPError as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= r.status_code < 300:
        return True, r.status_code, None
    return False, r.status_code, f"HTTP {r.status_code}"


def deliver_one(session: Session, client: httpx.Client, settings: WebhookSettings,
                skip: set[int] = frozenset()) -> tuple[int, str] | None:
    """Send the first due delivery (not in ``skip``) nobody else holds: (id, "delivered" |
    "failed" | "given_up"), or None when none is due."""
    row = session.execute(_due(skip)).one_or_none()
    if row is None:
        return None
    d = row.WebhookDelivery
    ok, status, error = _send(client, row.webhook_url, d, row.Notification, settings)
    attempts = d.attempts + 1
    if ok:
        outcome = "delivered"
        values = {"delivered_at": func.now(), "next_attempt_at": None, "last_error": None}
    elif attempts >= settings.max_attempts:
        outcome = "given_up"
        values = {"next_attempt_at": None, "last_error": error}
        log.warning("webhook delivery %s given up after %s attempts: %s", d.id, attempts, error)
    else:
        outcome = "failed"
        values = {"next_attempt_at": func.now() + backoff(attempts, settings),
                  "last_error": error}
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == d.id)
                    .values(attempts=attempts, last_status=status, **values))
    return d.id, outcome


Sessions = Callable[[], AbstractContextManager[Session]]


def deliver_due(*, settings: WebhookSettings | None = None, sessions: Sessions = session_scope,
                client: httpx.Client | None = None) -> Report:
    """Send every delivery due now, each in its own transaction; stop when none is left (a
    row failing again within this run waits for the next)."""
    settings = settings or WebhookSettings()
    own = client is None
    client = client or httpx.Client(timeout=settings.timeout_s, follow_redirects=False,
                                    trust_env=False)
    report, seen = Report(), set()
    try:
        while True:
            with sessions() as session:
                done = deliver_one(session, client, settings, seen)
            if done is None:
                break
            seen.add(done[0])
            report.ids.append(done[0])
            setattr(report, done[1], getattr(report, done[1]) + 1)
    finally:
        if own:
            client.close()
    return report


def run_forever(*, settings: WebhookSettings | None = None) -> None:  # pragma: no cover
    """The long-running worker: deliver what is due, sleep ``poll_s`` when nothing is."""
    settings = settings or WebhookSettings()
    while True:
        report = deliver_due(settings=settings)
        if not report.ids:
            time.sleep(settings.poll_s)
