"""Who is signed in, and the CSRF check every form passes.

- The session cookie (``landsvc_session``) is HttpOnly and SameSite=Lax, Secure when
  ``LANDSVC_COOKIE_SECURE=true`` or the request came over HTTPS.
- CSRF: a signed-in page's forms carry the session's own token (synchronizer token); the
  login form, before any session exists, carries the value of the ``landsvc_csrf`` cookie
  (double submit). htmx requests send it as the ``X-CSRF-Token`` header (``app.js``).
- Declare a page's user dependency (:data:`EnterpriseUser`, :data:`BureauUser`, …) before
  its :data:`CsrfForm`: an anonymous visitor is sent to log in before the form is checked.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from landsvc.accounts.service import SignedIn, resolve_session
from landsvc.audit import context as audit_context
from landsvc.config import get_settings
from landsvc.db import SessionDep
from landsvc.errors import Forbidden
from landsvc.tokens.models import Role

SESSION_COOKIE = "landsvc_session"
CSRF_COOKIE = "landsvc_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


class LoginRequired(Exception):
    """Send the visitor to ``/login``, then back to ``next`` (a local path)."""

    def __init__(self, next_path: str, *, expired: bool = False):
        self.next_path = next_path
        self.expired = expired


class CsrfFailed(Forbidden):
    code = "csrf_failed"


def signed_in(request: Request) -> SignedIn | None:
    return getattr(request.state, "signed_in", None)


def cookie_secure(request: Request) -> bool:
    settings = getattr(request.app.state, "settings", None) or get_settings()
    return settings.cookie_secure or request.url.scheme == "https"


def _session_cookie(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    return value if value and _TOKEN.fullmatch(value) else None


def load_user(request: Request, session: SessionDep) -> SignedIn | None:
    """The signed-in user of this request (None when anonymous or the session ended)."""
    if hasattr(request.state, "signed_in"):
        return request.state.signed_in
    token = _session_cookie(request)
    user = resolve_session(session=session, token=token) if token else None
    if user is not None:  # the audit's "who" for this transaction's writes
        audit_context.tag_request(session, request, user.principal.actor)
    request.state.signed_in = user
    request.state.session_lapsed = token is not None and user is None
    return user


OptionalUser = Annotated[SignedIn | None, Depends(load_user)]


def local_path(candidate: str | None, default: str = "/") -> str:
    """``candidate`` if it is a path on this site (no scheme, no host, no ``//``)."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or "\\" in candidate or any(ord(c) < 32 for c in candidate):
        return default
    return candidate


def return_path(request: Request) -> str:
    """Where to come back after signing in: this page, or for a form the page that sent it."""
    if request.method == "GET":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return local_path(path)
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc:
        return local_path(referer.path + (f"?{referer.query}" if referer.query else ""))
    return "/"


def login_url(next_path: str, *, expired: bool = False) -> str:
    return f"/login?next={quote(next_path, safe='/')}" + ("&expired=1" if expired else "")


def require_page_role(*roles: Role):
    """A page dependency: the signed-in user if it has one of ``roles`` (admins count as
    bureaus); anonymous visitors go to log in, other roles get 403."""

    def dependency(request: Request, user: OptionalUser) -> SignedIn:
        if user is None:
            raise LoginRequired(return_path(request),
                                expired=getattr(request.state, "session_lapsed", False))
        role = user.principal.role
        if role not in roles and not (role is Role.admin and Role.bureau in roles):
            wanted = "、".join(r.label for r in roles)
            raise Forbidden(f"此页面仅供{wanted}使用，当前登录为{role.label}账号",
                            code="wrong_role")
        return user

    return dependency


EnterpriseUser = Annotated[SignedIn, Depends(require_page_role(Role.enterprise))]
BureauUser = Annotated[SignedIn, Depends(require_page_role(Role.bureau, Role.admin))]
AnyUser = Annotated[SignedIn, Depends(require_page_role(*Role))]


def csrf_for(request: Request) -> tuple[str, bool]:
    """The CSRF token this visitor's forms carry, and whether it is new (to be set as a
    cookie)."""
    user = signed_in(request)
    if user is not None:
        return user.csrf_token, False
    existing = getattr(request.state, "csrf_cookie", None) or request.cookies.get(CSRF_COOKIE)
    if existing and _TOKEN.fullmatch(existing):
        return existing, False
    fresh = secrets.token_urlsafe(32)
    request.state.csrf_cookie = fresh
    return fresh, True


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax",
                        secure=cookie_secure(request), path="/")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=cookie_secure(request), path="/", max_age=12 * 3600)


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=cookie_secure(request))


async def csrf_form(request: Request, user: OptionalUser) -> FormData:
    """The posted form, after its CSRF token checked out; a lapsed session goes to log in."""
    if user is None and getattr(request.state, "session_lapsed", False):
        raise LoginRequired(return_path(request), expired=True)
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = user.csrf_token if user else request.cookies.get(CSRF_COOKIE, "")
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent, expected)):
        raise CsrfFailed("表单已失效或来源不明（CSRF 校验未通过），请刷新页面后重试")
    return form


CsrfForm = Annotated[FormData, Depends(csrf_form)]
