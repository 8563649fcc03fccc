"""What a page answers when something goes wrong: a Chinese HTML page, not JSON.

:func:`install` wraps the API's exception handlers: requests for a page path (``/``,
``/login``, ``/logout``, ``/account/…``, ``/enterprise/…``, ``/bureau/…``, ``/portal/…``,
and any other non-API path a browser asks for as HTML) get :file:`error.html` with the same status and message; everything else keeps its JSON.
"""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from landsvc.errors import (
    LandsvcError,
    ServiceUnavailable,
    answer_headers,
    from_database,
    from_outage,
    log_outage,
    status_of,
)
from landsvc.web import security
from landsvc.web.templating import render

log = logging.getLogger("landsvc.web")

PAGE_PREFIXES = ("/login", "/logout", "/account/", "/enterprise/", "/bureau/", "/portal/")
TITLES = {400: "请求有误", 401: "需要登录", 403: "无权访问", 404: "页面不存在",
          405: "不支持的操作", 409: "操作冲突", 413: "文件过大", 422: "输入有误",
          429: "请求过于频繁", 500: "服务器内部错误", 503: "服务暂时不可用"}


NOT_PAGES = ("/api/", "/ogcapi", "/tiles/", "/maps/", "/static/", "/metrics", "/docs",
             "/redoc", "/openapi.json")


def is_page(request: Request) -> bool:
    """A page path, or any path outside the API that a browser asked for as HTML."""
    path = request.url.path
    if path == "/" or path in ("/enterprise", "/bureau") or path.startswith(PAGE_PREFIXES):
        return True
    return not path.startswith(NOT_PAGES) and "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, message: str, *,
               headers: dict[str, str] | None = None) -> Response:
    return render(request, "error.html", {"status": status, "title": TITLES.get(status, "出错了"),
                                          "message": message},
                  status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Answer page requests' errors with HTML; call the API's handlers for the rest."""
    api = dict(app.exception_handlers)

    def wrap(kind, page_answer):
        fallback = api.get(kind) or api[Exception]

        async def handler(request: Request, exc: Exception):
            if is_page(request):
                return page_answer(request, exc)
            answer = fallback(request, exc)
            return await answer if hasattr(answer, "__await__") else answer

        app.add_exception_handler(kind, handler)

    def login(request: Request, exc: security.LoginRequired) -> Response:
        target = security.login_url(exc.next_path, expired=exc.expired)
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    def domain(request: Request, exc: LandsvcError) -> Response:
        headers = answer_headers(exc) if isinstance(exc, ServiceUnavailable) else None
        if "retry_after" in exc.extra:
            headers = {"Retry-After": str(exc.extra["retry_after"])}
        return error_page(request, status_of(exc), exc.detail, headers=headers)

    def http(request: Request, exc: StarletteHTTPException) -> Response:
        message = "找不到这个页面。" if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, message)

    def invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 422, "链接中的参数无效：" + "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()))

    def database(request: Request, exc: Exception) -> Response:
        outage = from_outage(exc)
        if outage is not None:
            log_outage(request, outage, exc)
            return domain(request, outage)
        mapped = from_database(exc)
        return domain(request, mapped) if mapped is not None else fault(request, exc)

    def fault(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on page %s %s", request.method, request.url.path,
                  exc_info=exc)
        return error_page(request, 500, "服务器出错了，请稍后再试；问题已记录。")

    app.add_exception_handler(security.LoginRequired, login)
    wrap(LandsvcError, domain)
    wrap(StarletteHTTPException, http)
    wrap(RequestValidationError, invalid)
    wrap(DBAPIError, database)
    wrap(psycopg.Error, database)
    wrap(PoolTimeout, database)
    wrap(Exception, fault)
