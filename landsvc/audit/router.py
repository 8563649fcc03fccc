"""GET /api/v1/audit: the write audit (admins; bureaus within their jurisdiction)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from landsvc.audit import service
from landsvc.audit.models import ENTITIES
from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import responses
from landsvc.lists import PageDep, PageMembers, item_page

router = APIRouter(prefix="/api/v1/audit", tags=["运维 operations"])

Entity = Literal[tuple(ENTITIES)]  # type: ignore[valid-type]


class AuditEntryRead(BaseModel):
    id: int
    entity: str
    entity_id: str
    action: Literal["insert", "update", "delete"]
    actor: str
    client: str | None
    request_id: str | None
    district: str | None
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(PageMembers):
    items: list[AuditEntryRead]


@router.get("", summary="写操作审计：谁在何时从何处改了什么（管理员；主管部门限管辖区）",
            responses={200: {"model": AuditPage}} | responses(401, 403, 422))
def list_audit(
    request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep,
    entity: Annotated[Entity | None, Query(description="对象类型：" + "、".join(ENTITIES))]
    = None,
    id: Annotated[str | None, Query(max_length=40, description="对象编号（须同时给 entity）")]
    = None,
    from_: Annotated[datetime | None, Query(alias="from",
                                            description="此时刻或之后（无时区按北京时间）")]
    = None,
    to: Annotated[datetime | None, Query(description="此时刻之前（不含）")] = None,
):
    """Each insert, update and delete of parcels, parks, offerings, buildings, listings,
    enterprises, demands, tokens, users, rent guidelines and zones, and tariffs — whichever
    way it was written (API, web pages, CLI, SQL) — newest first. ``before``/``after``: the
    row's values (an update: only the changed fields; geometries as GeoJSON; never a token
    or password hash)."""
    items, matched = service.search(session=session, principal=principal, entity=entity,
                                    entity_id=id, start=from_, end=to, page=page)
    return item_page(request, items, page, matched)
