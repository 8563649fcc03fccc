"""Domain exceptions and the one table that maps them to HTTP answers.

Services raise these; only :func:`install` knows about HTTP. Every error body is
``{"detail": "...", "code": "..."}`` (plus ``report`` for a rejected import). Errors the
database raises for bad input — a check, not-null, unique or foreign-key violation, a number
or text too large for its column, a NUL character — are turned into the same 4xx answers
naming the field, here and nowhere else (:func:`from_database`).
"""

from __future__ import annotations

import logging
import math
import re
from decimal import Decimal
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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


class IllegalTransition(Conflict):
    """A lifecycle action not allowed from the current state; ``extra["allowed"]`` lists
    the actions that are."""

    code = "illegal_transition"


class PreconditionFailed(LandsvcError):
    """An ``If-Match`` that names a version other than the current one."""

    code = "precondition_failed"


class NotAuthenticated(LandsvcError):
    code = "not_authenticated"


class Forbidden(LandsvcError):
    code = "forbidden"


class TooManyRequests(LandsvcError):
    """Refused for now; ``extra["retry_after"]`` seconds until it may be tried again."""

    code = "too_many_requests"


class PayloadTooLarge(LandsvcError):
    code = "payload_too_large"


class UnsupportedMediaType(LandsvcError):
    code = "unsupported_media_type"


class ImportRejected(InvalidInput):
    """A file import refused whole; ``extra["report"]`` names every bad row."""

    code = "import_rejected"


class ServiceUnavailable(LandsvcError):
    """The database cannot answer now: 503 with ``Retry-After`` (:attr:`retry_after`
    seconds)."""

    code = "service_unavailable"
    retry_after = 10


class DatabaseUnavailable(ServiceUnavailable):
    """PostgreSQL is down, unreachable, or dropped the connection."""

    code = "database_unavailable"


class DatabaseBusy(ServiceUnavailable):
    """Every pooled connection stayed in use for the whole pool timeout."""

    code = "database_busy"
    retry_after = 2


class StatementTimeout(ServiceUnavailable):
    """A statement ran past the statement timeout and PostgreSQL cancelled it."""

    code = "statement_timeout"
    retry_after = 5


STATUS = {
    ServiceUnavailable: 503,
    NotFound: 404,
    BadQuery: 400,
    InvalidInput: 422,
    Conflict: 409,
    PreconditionFailed: 412,
    NotAuthenticated: 401,
    Forbidden: 403,
    TooManyRequests: 429,
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


# -- the database's outages ---------------------------------------------------------------
_UNAVAILABLE = "数据库暂时无法连接，请稍后再试"
_CONNECTION_LOST = ("57P01", "57P02", "57P03")  # terminated, crashed, starting up


def from_outage(exc: Exception) -> ServiceUnavailable | None:
    """The 503 answer for a database that cannot answer now, or None for anything else.

    ``exc`` is a SQLAlchemy ``DBAPIError`` or pool timeout, or a bare psycopg error.
    """
    if isinstance(exc, PoolTimeout):
        return DatabaseBusy("数据库连接已全部占用，请稍后再试")
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(orig, psycopg.Error):
        return None
    state = orig.sqlstate or ""
    if state == "57014":
        return StatementTimeout("查询超时，已被数据库取消；请缩小查询范围或稍后再试")
    if state == "53300":  # too_many_connections: the server's limit, not ours
        return DatabaseBusy("数据库连接数已达上限，请稍后再试")
    if state.startswith("08") or state in _CONNECTION_LOST:
        return DatabaseUnavailable(_UNAVAILABLE)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailable(_UNAVAILABLE)
    if not state and isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return DatabaseUnavailable(_UNAVAILABLE)  # no answer from a server at all
    return None


# -- the database's refusals --------------------------------------------------------------
_KEY_DETAIL = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<values>.*)\)")


def from_database(exc: Exception) -> LandsvcError | None:
    """The 4xx answer for a database error caused by bad input, or None for a real fault.

    ``exc`` is a SQLAlchemy ``DBAPIError`` or a bare psycopg error (COPY runs on the driver).
    """
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(orig, psycopg.Error):
        return None
    params = exc.params if isinstance(exc, DBAPIError) else None
    state = orig.sqlstate or ""
    diag = orig.diag
    if "NUL" in str(orig) and state in ("", "22021"):
        field = _field_with(params, lambda _, v: isinstance(v, str) and "\x00" in v)
        return InvalidInput(f"{field or '文本'}: 不能含有 NUL 字符 (\\u0000)", code="nul_character")
    if state == "23505":
        columns, values = _key(diag.message_detail)
        return Conflict(f"{columns or diag.constraint_name}: 值 {values} 已存在", code="duplicate")
    if state == "23503":
        columns, values = _key(diag.message_detail)
        return InvalidInput(f"{columns or diag.constraint_name}: 引用的 {values} 不存在",
                            code="unknown_reference")
    if state == "23502":
        return InvalidInput(f"{diag.column_name}: 不能为空", code="missing_value")
    if state == "23514":
        field, rule = _check_rule(diag.table_name, diag.constraint_name)
        return InvalidInput(f"{field}: {rule}", code="check_violation")
    if state == "22003":
        field = _field_with(params, _overflows)
        return InvalidInput(f"{field or '数值'}: 超出字段允许的范围", code="out_of_range")
    if state == "22001":
        return InvalidInput("文本超出字段长度上限", code="too_long")
    if state.startswith("22"):  # other data exceptions: invalid text for a type, dates …
        return InvalidInput(f"数据格式有误：{diag.message_primary}", code="invalid_value")
    if state == "42501" and "PL/pgSQL function" in (diag.context or ""):
        # an append-only history or a published version refusing a change (our triggers);
        # a privilege missing from the database role itself is a fault, not an answer
        return Conflict(diag.message_primary or "记录不可修改", code="immutable_record")
    return None


def _key(detail: str | None) -> tuple[str | None, str | None]:
    match = _KEY_DETAIL.search(detail or "")
    return (match["columns"], match["values"]) if match else (None, None)


def _check_rule(table: str | None, constraint: str | None) -> tuple[str, str]:
    """The field and the rule of a check constraint, from its ``info`` in the models."""
    from landsvc.db import Base

    for table_obj in Base.metadata.tables.values():
        if table and table_obj.name != table:
            continue
        for item in table_obj.constraints:
            if item.name == constraint:
                info = item.info
                return info.get("field", constraint), info.get("rule", "不符合数据规则")
    return constraint or "数据", "不符合数据规则"


def _field_with(params: Any, test) -> str | None:
    """The first statement parameter for which ``test(name, value)`` holds."""
    rows = params if isinstance(params, list | tuple) else [params]
    for row in rows:
        if isinstance(row, dict):
            for name, value in row.items():
                if test(name, value):
                    return name
    return None


def _overflows(name: str, value: Any) -> bool:
    """Whether ``value`` is too large for a NUMERIC column called ``name``."""
    from landsvc.db import Base

    if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
        return False
    for table in Base.metadata.tables.values():
        column = table.columns.get(name)
        precision = getattr(getattr(column, "type", None), "precision", None)
        scale = getattr(column.type, "scale", None) if precision else None
        if precision and scale is not None:
            limit = 10 ** (precision - scale)
            if not math.isfinite(float(value)) or abs(round(float(value), scale)) >= limit:
                return True
    return False


# -- HTTP ---------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """Every error answer."""

    detail: str
    code: str


class TransitionErrorBody(BaseModel):
    """409: another write conflicts, or (``illegal_transition``) the action is not allowed
    now — ``allowed`` lists the actions that are."""

    detail: str
    code: str
    allowed: list[str] | None = None


_DESCRIPTIONS = {
    400: "查询参数或请求体无法解析", 401: "缺少令牌或令牌无效", 403: "无权执行（角色或管辖范围）",
    404: "不存在或无权查看", 409: "与现有数据冲突", 412: "If-Match 与当前版本不符",
    413: "上传内容过大", 429: "请求过于频繁，稍后再试", 415: "不支持的文件类型或请求格式", 422: "输入不符合规则（detail 指明字段）",
    503: "数据库暂时不可用（database_unavailable）、连接已满（database_busy）或查询超时"
         "（statement_timeout）；Retry-After 秒后再试",
}

RETRY_AFTER_HEADER = {"Retry-After": {"description": "多少秒后再试", "schema": {"type": "integer"}}}


def unavailable_response() -> dict[int | str, dict]:
    """The 503 every operation may answer (declared once, for the whole app)."""
    return {503: {"model": ErrorBody, "description": _DESCRIPTIONS[503],
                  "headers": RETRY_AFTER_HEADER}}


def responses(*statuses: int, html: bool = False,
              **models: type[BaseModel]) -> dict[int | str, dict]:
    """OpenAPI ``responses`` for a route's error statuses (all :class:`ErrorBody`, unless a
    model is given as ``s422=Model``). ``html``: the route answers HTML, its errors JSON."""
    if html:  # FastAPI would give a model the route's own media type, text/html
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        return {status: {"content": content, "description": _DESCRIPTIONS[status]}
                for status in statuses}
    return {status: {"model": models.get(f"s{status}", ErrorBody),
                     "description": _DESCRIPTIONS[status]} for status in statuses}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        parts.append(f"{'.'.join(loc) or '请求'}: {err.get('msg')}")
    return "; ".join(parts)


def answer_headers(exc: LandsvcError) -> dict[str, str] | None:
    if isinstance(exc, NotAuthenticated):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, ServiceUnavailable):
        return {"Retry-After": str(exc.retry_after)}
    return None


def _answer(exc: LandsvcError) -> JSONResponse:
    headers = answer_headers(exc)
    return JSONResponse(error_body(exc.detail, exc.code, **exc.extra), status_of(exc),
                        headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into ``{"detail","code"}`` answers."""

    @app.exception_handler(LandsvcError)
    def _domain(request: Request, exc: LandsvcError) -> JSONResponse:
        return _answer(exc)

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

    def _database(request: Request, exc: Exception) -> JSONResponse:
        outage = from_outage(exc)
        if outage is not None:
            log_outage(request, outage, exc)
            return _answer(outage)
        mapped = from_database(exc)
        if mapped is None:
            return _internal_error(request, exc)
        log.info("database refused input on %s %s: %s", request.method, request.url.path, exc)
        return _answer(mapped)

    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(psycopg.Error, _database)
    app.add_exception_handler(PoolTimeout, _database)
    app.add_exception_handler(Exception, _internal_error)


def log_outage(request: Request, outage: ServiceUnavailable, exc: Exception) -> None:
    log.warning("%s on %s %s: %s", outage.code, request.method, request.url.path,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("服务器内部错误", "internal_error"), 500)
