"""Request ids and Prometheus metrics: one :func:`install` (see docs/operations.md, Monitoring).

- Every response carries ``X-Request-ID``: a valid incoming id is echoed, anything else is
  replaced by a fresh one; the id is in :data:`landsvc.logs.request_id` for the whole request,
  so every log line of it (the access line, the 500 handler's) carries it.
- ``GET /metrics`` answers in the Prometheus text format: request counts and latencies per
  route template, method and status (starlette-exporter), the database pool in use, and
  import rows by kind and outcome (:func:`counts_import` on each importer).
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware

from landsvc import logs
from landsvc.errors import LandsvcError

F = TypeVar("F", bound=Callable)

HEADER = "X-Request-ID"
METRICS_PATH = "/metrics"
_HEADER_KEY = HEADER.lower().encode()
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

IMPORT_KINDS = ("parcels", "parks", "rent_records")
IMPORT_ROWS = Counter("landsvc_import_rows", "Rows of bulk imports by kind and outcome "
                      "(imported, or rejected by the row checks)", ["kind", "outcome"])
for _kind in IMPORT_KINDS:  # every series from 0, so rate() sees the first import
    for _outcome in ("imported", "rejected"):
        IMPORT_ROWS.labels(_kind, _outcome)


def record_import(kind: str, report: Mapping) -> None:
    """Count an import's rows from its report (``imported``, ``rejected_count``)."""
    IMPORT_ROWS.labels(kind, "imported").inc(report.get("imported", 0))
    IMPORT_ROWS.labels(kind, "rejected").inc(report.get("rejected_count", 0))


def counts_import(kind: str) -> Callable[[F], F]:
    """Decorate an importer returning a report: its rows are counted, also when the import
    is refused whole (``ImportRejected`` carries a report: 0 imported, the bad rows
    rejected)."""

    def decorate(importer: F) -> F:
        @functools.wraps(importer)
        def counted(*args, **kwargs):
            try:
                report = importer(*args, **kwargs)
            except LandsvcError as exc:
                if "report" in exc.extra:
                    record_import(kind, exc.extra["report"])
                raise
            record_import(kind, report)
            return report

        return counted  # type: ignore[return-value]

    return decorate


def valid_request_id(value: str | None) -> bool:
    """1–64 characters of ``[A-Za-z0-9._-]``: safe to echo in a header and in a log line."""
    return value is not None and _VALID_ID.fullmatch(value) is not None


class RequestId:
    """Give each request an id: echoed in ``X-Request-ID`` and set for its log lines.

    Pure ASGI (not ``BaseHTTPMiddleware``), so the id stays set while a response streams and
    while its background tasks run.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == _HEADER_KEY),
                        None)
        rid = incoming if valid_request_id(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        raw = rid.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER_KEY]
                message = {**message, "headers": [*headers, (_HEADER_KEY, raw)]}
            await send(message)

        token = logs.request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)


class PoolCollector(Collector):
    """The app's SQLAlchemy connection pool, read at each scrape."""

    def __init__(self, app: FastAPI):
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = getattr(_engine(self.app), "pool", None)
        if pool is None or not hasattr(pool, "checkedout") or not hasattr(pool, "size"):
            return  # no engine yet, or a pool without a size (NullPool, StaticPool)
        overflow = pool.overflow()  # negative while the pool has not opened `size` connections
        for name, doc, value in [
            ("size", "Connections the pool keeps open (pool_size)", pool.size()),
            ("max_overflow", "Connections allowed beyond pool_size",
             getattr(pool, "_max_overflow", 0)),
            ("checked_out", "Connections in use by requests", pool.checkedout()),
            ("overflow", "Connections open beyond pool_size", max(overflow, 0)),
            ("idle", "Open connections waiting in the pool", pool.checkedin()),
        ]:
            yield GaugeMetricFamily(f"landsvc_db_pool_{name}", doc, value=value)


def _engine(app: FastAPI) -> Engine | None:
    """The app's engine once it exists: ``app.state.engine``, else the engine of the app's
    :class:`landsvc.db.Database`, else (an app without one) the process's ``get_engine()``.

    A scrape never makes an engine: that could start the embedded cluster.
    """
    engine = getattr(app.state, "engine", None)
    if engine is not None:
        return engine
    database = getattr(app.state, "database", None)
    if database is not None:
        return database.made_engine  # made on the first request that needs it
    from landsvc import db

    cache = getattr(db.get_engine, "cache_info", None)
    if cache is not None and cache().currsize == 0:
        return None
    return db.get_engine()


class _Scrape(Collector):
    """The process's metrics and the app's pool, as one exposition."""

    def __init__(self, *sources: Collector):
        self.sources = sources

    def collect(self) -> Iterator:
        for source in self.sources:
            yield from source.collect()


async def metrics(request: Request) -> Response:
    """Prometheus text format, or OpenMetrics when asked for; all workers' request and
    import metrics in multiprocess mode, this worker's pool."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    body = encode(_Scrape(registry, request.app.state.metrics_pool))
    return Response(body, headers={"Content-Type": content_type})


def install(app: FastAPI) -> None:
    """Add request ids and Prometheus metrics to ``app``.

    Called after the access log is added, so both wrap it: its line has the request id, and
    the latency includes it.
    """
    app.state.metrics_pool = CollectorRegistry()  # per app: each app has its own pool
    app.state.metrics_pool.register(PoolCollector(app))
    app.add_middleware(PrometheusMiddleware, app_name="landsvc", prefix="landsvc_http",
                       group_paths=True, group_unhandled_paths=True, filter_unhandled_paths=False,
                       skip_paths=[METRICS_PATH])
    app.add_route(METRICS_PATH, metrics, include_in_schema=False)
    # Outside even Starlette's ServerErrorMiddleware (which add_middleware cannot reach), so
    # the 500 answer carries the id too and the 500 handler's log line has it.
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: RequestId(build())
