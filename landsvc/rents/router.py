"""``/api/v1/rent-records``: bulk upload of registered leases (CSV file or JSON rows) and
their list."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from landsvc.auth import LandManager, PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import InvalidInput, UnsupportedMediaType, responses
from landsvc.ingest.upload import saved_upload
from landsvc.lists import PageDep, item_page
from landsvc.rents import importing, service
from landsvc.rents.schemas import (
    RentImportRejectedBody,
    RentImportReport,
    RentRecordPage,
    RentRecordRow,
)

router = APIRouter(prefix="/api/v1/rent-records", tags=["租赁备案 rent records"])

_ROWS = TypeAdapter(list[RentRecordRow])

_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": "CSV（UTF-8、带 BOM 的 UTF-8 或 GB18030/GBK）"},
                "partial": {"type": "boolean", "description": "只导入正确的行，报告其余"},
            },
        }},
        "application/json": {"schema": {
            "type": "array", "maxItems": importing.MAX_JSON_ROWS,
            "items": RentRecordRow.model_json_schema(),
        }},
    },
}

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in _TRUE | _FALSE:
        raise InvalidInput(f"{name}: 应为 true 或 false，收到 {value[:20]!r}")
    return lowered in _TRUE


@router.post("", summary="批量导入租赁备案（CSV 文件或 JSON 行；默认全有或全无）",
             openapi_extra={"requestBody": _BODY},
             responses={200: {"model": RentImportReport}}
             | responses(400, 401, 403, 409, 413, 415, 422, s422=RentImportRejectedBody))
async def import_rent_records(
    request: Request,
    session: SessionDep,
    principal: LandManager,
    partial_q: Annotated[bool, Query(alias="partial", description="只导入正确的行，报告其余")]
    = False,
):
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise InvalidInput("file: 缺少上传文件（表单字段名为 file）", code="missing_file")
        given = form.get("partial")
        partial = _flag(given, "partial") if isinstance(given, str) else partial_q

        def run() -> dict:
            with saved_upload(file) as path:
                return importing.import_rent_records(session=session, path=path,
                                                     partial=partial, principal=principal)

        return await run_in_threadpool(run)
    if kind == "application/json" or kind.endswith("+json"):
        try:
            rows = _ROWS.validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise InvalidInput(f"body.{where}: {first['msg']}（应为租赁备案对象的列表）",
                               code="invalid_body") from None
        records = [r.model_dump(exclude_none=True) for r in rows]
        return await run_in_threadpool(lambda: importing.import_rent_rows(
            session=session, rows=records, partial=partial_q, principal=principal))
    raise UnsupportedMediaType("请以 multipart/form-data 上传 CSV（字段名 file），"
                               "或以 application/json 提交租赁备案对象的列表")


@router.get("", summary="租赁备案列表（管辖范围内；from/to 为租期与之重叠的租约）",
            responses={200: {"model": RentRecordPage}} | responses(400, 401, 403, 422))
def list_rent_records(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    district: Annotated[str | None, Query(description="行政区代码或前缀：440306、4403、44")]
    = None,
    from_: Annotated[date | None, Query(alias="from", description="租期在此日或之后仍有效")]
    = None,
    to: Annotated[date | None, Query(description="租期在此日或之前已开始")] = None,
    contract_no: Annotated[str | None, Query(max_length=60)] = None,
):
    items, matched = service.search_rent_records(
        session=session, flt=service.RentFilter(district, from_, to, contract_no),
        page=page, principal=principal)
    return item_page(request, items, page, matched)
