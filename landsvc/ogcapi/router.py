"""OGC API – Features (Part 1: Core, GeoJSON) at ``/ogcapi``, for GIS clients (QGIS, GDAL).

JSON only (``f=json`` is accepted, any other ``f`` is a 400). Query parameters are read
here, not by FastAPI, so that a bad value is the 400 OGC asks for and a too-large
``limit`` is capped instead of refused; the OpenAPI document describes them through
``openapi_extra``. Unknown query parameters are ignored, as OGC allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from landsvc import lists
from landsvc.db import SessionDep
from landsvc.errors import BadQuery, responses
from landsvc.geo import feature_collection, parse_bbox
from landsvc.ogcapi import schemas, service

PREFIX = "/ogcapi"
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI_3_0 = "application/vnd.oai.openapi+json;version=3.0"

DEFAULT_LIMIT = 10
"""Items per page when the client names none: OGC's own example value, as pygeoapi and
tipg use (GDAL and QGIS always send their page size)."""

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
"""Only what is implemented: not ``oas30`` (FastAPI's document is OpenAPI 3.1) nor
``html``."""


# -- query parameters -----------------------------------------------------------------------
async def json_only(request: Request) -> None:
    """``f`` may only ask for JSON. (``async``: no I/O, so no hop to the thread pool.)"""
    f = request.query_params.get("f")
    if f is not None and f != "json":
        raise BadQuery(f"f: 只提供 JSON / GeoJSON（f=json），收到 {f[:20]!r}",
                       code="unsupported_format")


def _whole_number(name: str, text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise BadQuery(f"{name}: 应为整数（limit ≥ 1，offset ≥ 0），收到 {text[:20]!r}",
                       code="invalid_parameter")
    return int(text) if len(text) <= 18 else 10**18  # beyond: as good as infinite


@dataclass(frozen=True)
class ItemQuery:
    bbox: tuple[float, float, float, float] | None
    page: lists.Page


async def item_query(request: Request) -> ItemQuery:
    """``bbox``, ``limit`` (capped at :data:`lists.MAX_LIMIT`) and ``offset``; bad: 400."""
    params = request.query_params
    bbox = params.get("bbox")
    if bbox is not None and bbox.count(",") == 5:  # minz and maxz: every geometry is 2D
        parts = bbox.split(",")
        bbox = ",".join(parts[:2] + parts[3:5])
    limit = params.get("limit")
    limit = DEFAULT_LIMIT if limit is None else _whole_number("limit", limit)
    if limit < 1:
        raise BadQuery("limit: 应为不小于 1 的整数，收到 0", code="invalid_parameter")
    offset = params.get("offset")
    offset = 0 if offset is None else _whole_number("offset", offset)
    # Only the first page counts the matches: clients take the count from it, then follow
    # next links, which must stay cheap however many rows match.
    page = lists.Page(lists.capped_limit(limit), offset, count=offset == 0)
    return ItemQuery(parse_bbox(bbox), page)


_F = {"name": "f", "in": "query", "required": False, "schema": {"type": "string", "enum": ["json"]},
      "description": "输出格式：只提供 json（其他值 400）"}
_ITEM_PARAMETERS = [
    {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
     "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
     "description": "minlon,minlat,maxlon,maxlat（WGS-84 经纬度，CRS84）；与之相交的要素"},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": lists.MAX_LIMIT,
                "default": DEFAULT_LIMIT},
     "description": f"每页要素数；超过 {lists.MAX_LIMIT} 按 {lists.MAX_LIMIT} 返回，不报错"},
    {"name": "offset", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 0, "default": 0},
     "description": "跳过的要素数；通常直接跟随 rel=next 链接"},
    _F,
]


def _filter_parameters() -> list[dict]:
    """The property filters, each documented with the collections that take it."""
    taking: dict[str, dict[str, list[str]]] = {}  # name -> description -> collections
    for collection in service.collections():
        for name, flt in collection.filters.items():
            taking.setdefault(name, {}).setdefault(flt.description, []).append(collection.id)
    return [{"name": name, "in": "query", "required": False, "schema": {"type": "string"},
             "description": "按要素属性筛选（" + "；".join(
                 f"{'、'.join(ids)}：{text}" for text, ids in meanings.items())
             + "）；其他集合忽略此参数"}
            for name, meanings in taking.items()]


_ITEM_PARAMETERS += _filter_parameters()

router = APIRouter(prefix=PREFIX, tags=["OGC API – Features"], dependencies=[Depends(json_only)])


# -- answers --------------------------------------------------------------------------------
class GeoJSONResponse(JSONResponse):
    """Documents a route's 200 as GeoJSON (the routes build their answer themselves)."""

    media_type = GEOJSON


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _answer(document: dict, media_type: str = JSON) -> Response:
    """The document as compact UTF-8 JSON (orjson; dates, times and enums as JSON has them):
    no per-request model validation or encoding walk."""
    return Response(orjson.dumps(document, default=_plain), media_type=media_type)


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> dict:
    link = {"href": href, "rel": rel, "type": media_type}
    return link if title is None else link | {"title": title}


def _collection_info(root: str, collection: service.Collection) -> dict:
    url = f"{root}/collections/{collection.id}"
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "links": [_link(url, "self", JSON, collection.title),
                  _link(f"{url}/items", "items", GEOJSON, collection.title)],
        "extent": {"spatial": {"bbox": [list(service.EXTENT)], "crs": service.CRS84}},
        "itemType": "feature",
        "crs": [service.CRS84],
    }


# -- routes ---------------------------------------------------------------------------------
@router.get("", summary="OGC API – Features 起始页（landing page）",
            responses={200: {"model": schemas.LandingPage}} | responses(400, 422),
            openapi_extra={"parameters": [_F]})
def landing_page(request: Request):
    root = _root(request)
    site = str(request.base_url).rstrip("/")
    links = [
        _link(root, "self", JSON, "本页"),
        _link(site + request.app.openapi_url, "service-desc", OPENAPI_3_0, "OpenAPI 接口定义"),
        _link(f"{root}/conformance", "conformance", JSON, "遵循的 OGC 标准类"),
        _link(f"{root}/collections", "data", JSON, "要素集合"),
    ]
    if request.app.docs_url:
        links.insert(2, _link(site + request.app.docs_url, "service-doc", "text/html",
                              "接口文档"))
    return _answer({
        "title": "landsvc 广东专精特新企业用地保障平台 — OGC API – Features",
        "description": "公开发布的区县、园区、地块、供地与厂房房源，供 QGIS、GDAL 等 GIS 软件"
                       "直接加载（只读，仅显示对公众公开的数据）。",
        "links": links,
    })


@router.get("/conformance", summary="遵循的 OGC 标准类（conformance）",
            responses={200: {"model": schemas.ConformanceDeclaration}} | responses(400, 422),
            openapi_extra={"parameters": [_F]})
def conformance():
    return _answer({"conformsTo": CONFORMANCE})


@router.get("/collections", summary="要素集合列表",
            responses={200: {"model": schemas.Collections}} | responses(400, 422),
            openapi_extra={"parameters": [_F]})
def list_collections(request: Request):
    root = _root(request)
    return _answer({
        "links": [_link(f"{root}/collections", "self", JSON)],
        "collections": [_collection_info(root, c) for c in service.collections()],
    })


@router.get("/collections/{collection_id}", summary="要素集合",
            responses={200: {"model": schemas.CollectionInfo}} | responses(400, 404, 422),
            openapi_extra={"parameters": [_F]})
def get_collection(request: Request, collection_id: str):
    return _answer(_collection_info(_root(request), service.collection(collection_id)))


@router.get("/collections/{collection_id}/items", summary="集合中的要素（GeoJSON，分页）",
            response_class=GeoJSONResponse,
            responses={200: {"model": schemas.FeatureCollection}}
            | responses(400, 404, 422, html=True),
            openapi_extra={"parameters": _ITEM_PARAMETERS})
def list_items(request: Request, session: SessionDep, collection_id: str,
               query: Annotated[ItemQuery, Depends(item_query)]):
    features, matched = service.search_items(session=session, collection_id=collection_id,
                                             bbox=query.bbox, page=query.page,
                                             properties=request.query_params)
    members: dict[str, Any] = {}
    if matched.exact:  # OGC: numberMatched, when given, is the exact number
        members["numberMatched"] = matched.count
    links = lists.links(request, query.page, matched, GEOJSON)
    links.append(_link(f"{_root(request)}/collections/{collection_id}", "collection", JSON))
    return _answer(feature_collection(
        features, **members, numberReturned=len(features),
        timeStamp=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        links=links,
    ), GEOJSON)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="单个要素（GeoJSON）",
            response_class=GeoJSONResponse,
            responses={200: {"model": schemas.Feature}}
            | responses(400, 404, 422, html=True),
            openapi_extra={"parameters": [_F]})
def get_item(request: Request, session: SessionDep, collection_id: str, feature_id: str):
    found = service.get_item(session=session, collection_id=collection_id,
                             feature_id=feature_id)
    url = f"{_root(request)}/collections/{collection_id}"
    return _answer(found | {"links": [_link(f"{url}/items/{feature_id}", "self", GEOJSON),
                                      _link(url, "collection", JSON)]}, GEOJSON)


# -- CORS -----------------------------------------------------------------------------------
class ReadOnlyCors:
    """Read-only CORS on the OGC API paths alone, so web maps on any site can load them.

    Any origin may ``GET``/``HEAD`` (no credentials); preflights are answered here; ``HEAD``
    is served as ``GET`` without the body. Every other path passes through untouched:
    ``/api/v1`` keeps the browser's same-origin rule.
    """

    def __init__(self, app: ASGIApp, prefix: str = PREFIX):
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.prefix
                                           or path.startswith(self.prefix + "/")):
            return await self.app(scope, receive, send)
        method = scope["method"]
        if method == "OPTIONS":
            return await self._preflight(scope, receive, send)
        if method not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        head = method == "HEAD"

        async def cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = message | {"headers": [*message.get("headers", []),
                                                 (b"access-control-allow-origin", b"*")]}
            elif head and message["type"] == "http.response.body":
                message = message | {"body": b""}
            await send(message)

        await self.app((scope | {"method": "GET"}) if head else scope, receive, cors)

    async def _preflight(self, scope: Scope, receive: Receive, send: Send) -> None:
        asked = dict(scope["headers"]).get(b"access-control-request-headers", b"")
        headers = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
            "Access-Control-Max-Age": "86400",
            "Allow": "GET, HEAD, OPTIONS",
            "Vary": "Access-Control-Request-Headers",
        }
        if asked:
            headers["Access-Control-Allow-Headers"] = asked.decode("latin-1")
        await Response(status_code=204, headers=headers)(scope, receive, send)
