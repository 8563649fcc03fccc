"""Domain exceptions and the one table that maps them to HTTP answers.

Services raise these; only :func:`install` knows about HTTP. Every error body is
``{"detail": "...", "code": "..."}`` (plus ``report`` for a rejected import).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("landsvc.errors")


class LandsvcError(Exception):
    """Base of all domain errors; ``code`` is a stable machine-readable identifier."""

    code = "error"

    def __init__(self, detail: str, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra or {}


class NotFound(LandsvcError):
    code = "not_found"


class InvalidInput(LandsvcError):
    code = "invalid_input"


class InvalidGeometry(InvalidInput):
    code = "invalid_geometry"


class BadQuery(LandsvcError):
    code = "bad_query"


class Conflict(LandsvcError):
    code = "conflict"


class NotAuthenticated(LandsvcError):
    code = "not_authenticated"


class Forbidden(LandsvcError):
    code = "forbidden"


class PayloadTooLarge(LandsvcError):
    code = "payload_too_large"


class UnsupportedMediaType(LandsvcError):
    code = "unsupported_media_type"


class ImportRejected(InvalidInput):
    """A file import refused whole; ``extra["report"]`` names every bad row."""

    code = "import_rejected"


STATUS = {
    NotFound: 404,
    BadQuery: 400,
    InvalidInput: 422,
    Conflict: 409,
    NotAuthenticated: 401,
    Forbidden: 403,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
}


HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def status_of(exc: LandsvcError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        parts.append(f"{'.'.join(loc) or '请求'}: {err.get('msg')}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into ``{"detail","code"}`` answers."""

    @app.exception_handler(LandsvcError)
    def _domain(request: Request, exc: LandsvcError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
        return JSONResponse(
            error_body(exc.detail, exc.code, **exc.extra), status_of(exc), headers=headers
        )

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(_describe_validation(exc), "validation_error"), 422)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc.detail), HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("服务器内部错误", "internal_error"), 500)
