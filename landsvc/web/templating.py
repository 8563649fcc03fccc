"""Jinja2 templates, their filters, and :func:`render`, the one way a page is answered."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from landsvc import lists
from landsvc.config import get_settings
from landsvc.fields import CHINA
from landsvc.web import security

TEMPLATES = Path(__file__).parent / "templates"
ASSETS = "/maps/assets"
"""Where the pinned npm packages are served (``scripts/assets``, ``maps/web-vendor.txt``)."""
STATIC = "/static"
"""Where this package's own CSS and JavaScript are served."""

templates = Jinja2Templates(directory=TEMPLATES)
env = templates.env
env.trim_blocks = True
env.lstrip_blocks = True


def _number(value: Any, digits: int = 2) -> str:
    """``12345.6`` -> ``12,345.60``; None -> ``—``."""
    if value is None or value == "":
        return "—"
    return f"{float(value):,.{digits}f}"


def _date(value: date | datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value[:10]
    if isinstance(value, datetime):
        return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _tojson_safe(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>`` and ``&`` escaped,
    so that no text a user typed can close the script."""
    text = json.dumps(value, ensure_ascii=False, default=_plain)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def beijing(value: str | datetime | None) -> str | None:
    """An instant (or its ISO 8601 text) as Guangdong's wall-clock time, to the minute
    (``2026-11-30 05:27``); None when there is none. Times without a zone are taken as
    already local."""
    if not value:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHINA)
    return moment.strftime("%Y-%m-%d %H:%M")


ROLE_NAMES = {"enterprise": "企业", "bureau": "主管部门", "admin": "管理员"}


def actor(text: str) -> str:
    """A history's ``actor`` for people: ``enterprise:USCC user:NAME`` -> ``企业 USCC（NAME）``."""
    head, _, username = text.partition(" user:")
    role, _, scope = head.partition(":")
    shown = f"{ROLE_NAMES.get(role, role)} {scope}".strip()
    return f"{shown}（{username}）" if username else shown


env.filters["number"] = _number
env.filters["moment"] = lambda value: beijing(value) or "—"
env.filters["actor"] = actor
env.filters["day"] = _date
env.filters["jsonscript"] = _tojson_safe
env.globals["ASSETS"] = ASSETS
env.globals["STATIC"] = STATIC


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A page: the template with the signed-in user, the CSRF token and ``context``.

    Visitors without a session get a CSRF cookie here, the first time a page is rendered
    for them (the login form's double-submit token)."""
    user = security.signed_in(request)
    csrf, fresh_cookie = security.csrf_for(request)
    response = templates.TemplateResponse(
        request, name, {"user": user, "csrf_token": csrf, **(context or {})},
        status_code=status_code, headers=headers)
    if fresh_cookie:
        security.set_csrf_cookie(request, response, csrf)
    return response


def map_config() -> dict[str, Any]:
    """What ``map.js`` needs to draw a basemap and the credits line, from the settings."""
    from maps.common import OSM_ATTRIBUTION, OSM_TILES, TIANDITU_ATTRIBUTION, TIANDITU_TILES

    settings = get_settings()
    config: dict[str, Any] = {"basemap": "none", "review_number": settings.map_review_number
                              or "未配置", "boundary_source": settings.map_boundary_source}
    if settings.map_basemap == "osm":
        config |= {"basemap": "osm", "tiles": [[OSM_TILES, OSM_ATTRIBUTION, ""]]}
    elif settings.map_basemap == "tianditu" and settings.tianditu_key:
        config |= {"basemap": "tianditu", "tiles": [
            [TIANDITU_TILES.replace("{layer}", layer).replace("{key}", settings.tianditu_key),
             TIANDITU_ATTRIBUTION, "01234567"] for layer in ("vec", "cva")]}
    return config


env.globals["map_config"] = map_config


def pager(request: Request, page: lists.Page, matched: lists.Matched) -> dict[str, Any]:
    """What the ``pager`` macro shows: the count, and previous/next links that keep the
    page's other (non-blank) query parameters and move ``offset``."""

    def url(offset: int) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items()
                  if k != "offset" and v.strip()]
        if offset:
            params.append(("offset", str(offset)))
        return request.url.path + (f"?{urlencode(params)}" if params else "")

    return {"number_matched": matched.count, "offset": page.offset, "limit": page.limit,
            "prev_url": url(max(page.offset - page.limit, 0)) if page.offset > 0 else None,
            "next_url": url(page.offset + page.limit) if matched.has_next else None}
