"""The FastAPI application."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from landsvc import __version__, errors, logs, observability
from landsvc.allocations.router import router as allocations_router
from landsvc.approvals.router import router as approvals_router
from landsvc.audit.router import router as audit_router
from landsvc.buildings.router import router as buildings_router
from landsvc.config import Settings, get_settings
from landsvc.db import Database, SessionDep, timed_statements
from landsvc.demands.router import router as demands_router
from landsvc.districts.router import router as districts_router
from landsvc.enterprises.router import router as enterprises_router
from landsvc.guidelines.router import router as guidelines_router
from landsvc.listings.router import router as listings_router
from landsvc.notifications.router import router as notifications_router
from landsvc.offerings.router import router as offerings_router
from landsvc.ogcapi.router import ReadOnlyCors
from landsvc.ogcapi.router import router as ogcapi_router
from landsvc.parcels.router import router as parcels_router
from landsvc.parks.router import router as parks_router
from landsvc.quota.router import router as quota_router
from landsvc.rents.router import router as rents_router
from landsvc.tiles.router import router as tiles_router
from landsvc.utilities.router import router as utilities_router
from landsvc.web import pages as web_pages
from landsvc.web.router import STATIC_URL as WEB_STATIC_URL
from landsvc.web.router import router as web_router
from landsvc.web.router import static as web_static
from landsvc.webmaps.rent_guide import router as rent_guide_router
from landsvc.webmaps.router import ASSETS_URL as MAP_ASSETS_URL
from landsvc.webmaps.router import assets as map_assets
from landsvc.webmaps.router import router as webmaps_router

log = logging.getLogger("landsvc.http")


class UploadLimit:
    """Refuse request bodies over ``max_bytes`` with 413, before they are spooled to disk."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse(self._body(), status_code=413)
            return await response(scope, receive, send)
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise StarletteHTTPException(413, self._body()["detail"])
            return message

        await self.app(scope, counted, send)

    def _body(self) -> dict:
        mib = self.max_bytes / (1 << 20)
        return errors.error_body(f"上传内容超过 {mib:g} MiB 上限（LANDSVC_MAX_UPLOAD_MIB）",
                                 "payload_too_large")


class AccessLog:
    """One structured log line per request, with the time its statements took in the
    database; a WARNING ``slow request`` line too when it took over ``slow_ms``."""

    def __init__(self, app: ASGIApp, slow_ms: float):
        self.app = app
        self.slow_ms = slow_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def record(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with timed_statements() as db:
            try:
                await self.app(scope, receive, record)
            finally:
                ms = round((time.perf_counter() - start) * 1000, 1)
                fields = {"method": scope["method"], "path": scope["path"], "status": status,
                          "ms": ms, "db_ms": db.ms, "statements": db.statements}
                log.info("request", extra={"fields": fields})
                if ms > self.slow_ms:
                    log.warning("slow request", extra={"fields": fields})


async def no_nul_parameters(request: Request) -> None:
    """Query and path parameters may not carry NUL characters (no text column can store one)."""
    for name, value in [*request.query_params.multi_items(), *request.path_params.items()]:
        if "\x00" in name or "\x00" in str(value):
            raise errors.InvalidInput(f"{name.replace(chr(0), '')}: 不能含有 NUL 字符",
                                      code="nul_character")


class Health(BaseModel):
    status: Literal["ok", "error"]
    database: Literal["ok", "unavailable"]
    postgis: str | None = Field(description="PostGIS 版本")


def health(session: SessionDep):
    """Service, database and PostGIS status; 503 naming the part that failed."""
    database = "unavailable"
    try:  # the health check reports failure, it does not raise it
        session.execute(text("SELECT 1"))
        database = "ok"
        version = session.scalar(text("SELECT postgis_lib_version()"))
    except Exception as exc:
        log.warning("health check failed (database %s): %s", database,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        session.rollback()
        return JSONResponse({"status": "error", "database": database, "postgis": None}, 503,
                            headers={"Retry-After": str(errors.DatabaseUnavailable.retry_after)})
    return {"status": "ok", "database": "ok", "postgis": version}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.database.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logs.configure(settings.log_level, json_lines=settings.log_json)
    app = FastAPI(
        dependencies=[Depends(no_nul_parameters)],
        responses=errors.unavailable_response(),
        lifespan=lifespan,
        title="landsvc 专精特新企业用地保障平台",
        version=__version__,
        description="广东省专精特新企业灵活供地、用地需求匹配、绿色通道审批与厂房租金指导价。",
    )
    app.state.settings = settings
    app.state.database = Database(settings)
    errors.install(app)
    web_pages.install(app)
    app.add_middleware(ReadOnlyCors, prefix=ogcapi_router.prefix)  # /ogcapi alone
    app.add_middleware(GZipMiddleware, minimum_size=2048)  # GeoJSON and map pages shrink ~5x
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_mib << 20)
    app.add_middleware(AccessLog, slow_ms=settings.slow_request_ms)
    observability.install(app)
    app.get("/api/v1/health", tags=["运维 operations"], summary="健康检查",
            responses={200: {"model": Health},
                       503: {"model": Health, "description": "数据库或 PostGIS 不可用（字段指明）",
                             "headers": errors.RETRY_AFTER_HEADER}}
            | errors.responses(422))(health)
    app.include_router(districts_router)
    app.include_router(parcels_router)
    app.include_router(parks_router)
    app.include_router(offerings_router)
    app.include_router(buildings_router)
    app.include_router(listings_router)
    app.include_router(enterprises_router)
    app.include_router(demands_router)
    app.include_router(allocations_router)
    app.include_router(notifications_router)
    app.include_router(approvals_router)
    app.include_router(quota_router)
    app.include_router(rents_router)
    app.include_router(guidelines_router)
    app.include_router(utilities_router)
    app.include_router(audit_router)
    app.include_router(tiles_router)
    app.include_router(ogcapi_router)
    app.include_router(webmaps_router)
    app.include_router(rent_guide_router)
    app.include_router(web_router)
    app.mount(MAP_ASSETS_URL, map_assets(), name="map_assets")
    app.mount(WEB_STATIC_URL, web_static(), name="web_static")
    return app
