"""Signing in and out, and changing one's password."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from landsvc.accounts import service as accounts
from landsvc.db import SessionDep
from landsvc.errors import LandsvcError
from landsvc.tokens.models import Role
from landsvc.web import security
from landsvc.web.forms import field_errors, text
from landsvc.web.security import AnyUser, CsrfForm, OptionalUser
from landsvc.web.templating import render

router = APIRouter(include_in_schema=False)

HOME = {Role.enterprise: "/enterprise/", Role.bureau: "/bureau/", Role.admin: "/bureau/"}


def _client(request: Request) -> str | None:
    return request.client.host[:64] if request.client else None


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None,
               expired: bool = False) -> Response:
    target = security.local_path(next, "")
    if user is not None and not expired:
        return RedirectResponse(target or HOME[user.principal.role], status_code=303)
    return render(request, "login.html", {"next": target, "expired": expired, "errors": {}})


@router.post("/login")
async def login(request: Request, session: SessionDep) -> Response:
    form = await request.form()
    target = security.local_path(text(form, "next"), "")
    sent = form.get(security.CSRF_FIELD)
    expected = request.cookies.get(security.CSRF_COOKIE, "")
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent, expected)):
        raise security.CsrfFailed("登录表单已失效（CSRF 校验未通过），请刷新页面后重新登录")
    username = text(form, "username") or ""
    password = form.get("password") if isinstance(form.get("password"), str) else ""
    context = {"next": target, "username": username, "expired": bool(text(form, "expired"))}
    try:
        token, user = accounts.sign_in(session=session, username=username, password=password,
                                       client=_client(request))
    except accounts.LoginThrottled as exc:
        return render(request, "login.html", context | {"errors": {"_": exc.detail}},
                      status_code=429, headers={"Retry-After": str(exc.extra["retry_after"])})
    except accounts.LoginFailed as exc:  # recorded: the session still commits
        return render(request, "login.html", context | {"errors": {"_": exc.detail}},
                      status_code=401)
    target = target or HOME[user.principal.role]
    if text(form, "expired") and target != "/":  # app.js restores the kept form there
        target += "#kept"
    response = RedirectResponse(target, status_code=303)
    security.set_session_cookie(request, response, token)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, form: CsrfForm) -> Response:
    token = request.cookies.get(security.SESSION_COOKIE)
    if token:
        accounts.sign_out(session=session, token=token)
    response = RedirectResponse("/", status_code=303)
    security.clear_session_cookie(request, response)
    return response


@router.get("/account/password")
def password_page(request: Request, user: AnyUser) -> Response:
    return render(request, "password.html", {"errors": {}})


@router.post("/account/password")
def change_password(request: Request, session: SessionDep, user: AnyUser,
                    form: CsrfForm) -> Response:
    new = form.get("password") if isinstance(form.get("password"), str) else ""
    if new != form.get("password_repeat"):
        return render(request, "password.html",
                      {"errors": {"password_repeat": "两次输入的新密码不一致"}}, status_code=422)
    try:
        accounts.change_password(session=session, user_id=user.user_id,
                                 old=str(form.get("old_password") or ""), new=new,
                                 keep_token=request.cookies.get(security.SESSION_COOKIE))
    except LandsvcError as exc:
        return render(request, "password.html", {"errors": field_errors(exc)},
                      status_code=422)
    return render(request, "password.html", {"errors": {}, "done": True})
