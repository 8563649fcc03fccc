from typing import Annotated

from fastapi import APIRouter, Query, Request

from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import responses
from landsvc.lists import PageDep, item_page
from landsvc.notifications import service
from landsvc.notifications.schemas import NotificationPage, NotificationRead, ReadMark

router = APIRouter(prefix="/api/v1/notifications", tags=["精准推送 notifications"])


@router.get("", summary="我的通知（新发布的供地、房源满足我的用地需求）",
            responses={200: {"model": NotificationPage}} | responses(400, 401, 403, 422))
def list_notifications(request: Request, session: SessionDep, principal: PrincipalDep,
                       page: PageDep,
                       unread: Annotated[bool | None, Query(description="true 只看未读")] = None):
    items, matched = service.search_notifications(session=session, unread=unread, page=page,
                                                  principal=principal)
    return item_page(request, items, page, matched)


@router.get("/{notification_id}", summary="一条通知",
            responses={200: {"model": NotificationRead}} | responses(401, 403, 404, 422))
def get_notification(session: SessionDep, principal: PrincipalDep, notification_id: int):
    return service.get_notification(session=session, notification_id=notification_id,
                                    principal=principal)


@router.post("/{notification_id}/read", summary="标为已读（body 可选 {\"read\": false} 恢复未读）",
             responses={200: {"model": NotificationRead}}
             | responses(400, 401, 403, 404, 413, 422))
def mark_read(session: SessionDep, principal: PrincipalDep, notification_id: int,
              body: ReadMark | None = None):
    return service.mark_read(session=session, notification_id=notification_id,
                             read=body.read if body is not None else True, principal=principal)
