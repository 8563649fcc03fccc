"""Notifications: written in the publishing transaction, read by the enterprise told.

A publication tells every open demand it satisfies (the matching service's hard
requirements) in one INSERT … SELECT; an enterprise with a ``webhook_url`` also gets one
outbox row per notification, which :mod:`landsvc.notifications.delivery` sends later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, literal, select, union_all, update
from sqlalchemy.orm import Session

from landsvc import lists
from landsvc.access import Principal, require_role
from landsvc.demands.models import Demand
from landsvc.enterprises.models import ConsortiumMember, Enterprise
from landsvc.errors import NotFound
from landsvc.notifications.models import Notification, NotificationKind, WebhookDelivery
from landsvc.tokens.models import Role

__all__ = ["as_item", "get_notification", "mark_read", "notify_published",
           "search_notifications"]


def _recipients(demand_ids):
    """(demand id, USCC) of everyone a demand's news goes to: its enterprise, or each member
    of its consortium."""
    matched = demand_ids.cte("matched")
    own = (select(Demand.id.label("demand_id"), Demand.enterprise_uscc.label("uscc"))
           .join(matched, matched.c.id == Demand.id).where(Demand.enterprise_uscc.is_not(None)))
    members = (select(Demand.id.label("demand_id"), ConsortiumMember.uscc.label("uscc"))
               .join(matched, matched.c.id == Demand.id)
               .join(ConsortiumMember, ConsortiumMember.consortium_id == Demand.consortium_id))
    return union_all(own, members).subquery("recipient")


def notify_published(session: Session, *, offering_id: int | None = None,
                     listing_id: int | None = None) -> int:
    """Tell the owners of every open demand the just-published offering or listing satisfies;
    queue a webhook delivery for those with a ``webhook_url``. Answers the notifications made.
    """
    from landsvc.matching import service as matching  # matching reads offerings and listings

    if offering_id is not None:
        kind, subject = NotificationKind.offering_published, Notification.offering_id
        demand_ids = matching.demands_taking_offering(session, offering_id)
        subject_id = offering_id
    else:
        kind, subject = NotificationKind.listing_published, Notification.listing_id
        demand_ids = matching.demands_taking_listing(session, listing_id)
        subject_id = listing_id
    to = _recipients(demand_ids)
    made = (insert(Notification)
            .from_select(["enterprise_uscc", "kind", subject.key, "demand_id"],
                         select(to.c.uscc, literal(kind.value), literal(subject_id),
                                to.c.demand_id))
            .returning(Notification.id, Notification.enterprise_uscc)
            .cte("made"))
    queued = (insert(WebhookDelivery)
              .from_select(["notification_id", "attempts"],
                           select(made.c.id, literal(0)).join(Enterprise, Enterprise.uscc
                                                              == made.c.enterprise_uscc)
                           .where(Enterprise.webhook_url.is_not(None),
                                  Enterprise.webhook_url != "")))
    # Data-modifying CTEs run whether read or not: one statement, both tables.
    return session.scalar(select(func.count()).select_from(made)
                          .add_cte(queued.cte("queued")))


def _visible(principal: Principal | None):
    principal = require_role(principal, Role.enterprise, Role.admin)
    if principal.role is Role.admin:
        return Notification.id.is_not(None)
    return Notification.enterprise_uscc == principal.enterprise_uscc


def as_item(n: Notification) -> dict[str, Any]:
    subject = ({"offering_id": n.offering_id} if n.offering_id is not None
               else {"listing_id": n.listing_id})
    return {"id": n.id, "created_at": n.created_at.isoformat(), "kind": n.kind.value,
            "kind_label": n.kind.label, **subject, "demand_id": n.demand_id,
            "enterprise_uscc": n.enterprise_uscc, "read": n.read_at is not None,
            "read_at": n.read_at.isoformat() if n.read_at else None}


def search_notifications(*, session: Session, unread: bool | None, page: lists.Page,
                         principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """The caller's notifications, newest first (an admin: everyone's; a bureau: 403)."""
    where = _visible(principal)
    if unread is not None:
        where = where & (Notification.read_at.is_(None) if unread
                         else Notification.read_at.is_not(None))
    rows, matched = lists.fetch_page(session, select(Notification).order_by(
        Notification.id.desc()), where=where, page=page, count_from=Notification)
    return [as_item(r.Notification) for r in rows], matched


def get_notification(*, session: Session, notification_id: int,
                     principal: Principal | None) -> dict[str, Any]:
    """One notification the caller may read (another enterprise's is 404)."""
    n = session.scalars(select(Notification).where(Notification.id == notification_id,
                                                   _visible(principal))).one_or_none()
    if n is None:
        raise NotFound(f"通知 {notification_id} 不存在")
    return as_item(n)


def mark_read(*, session: Session, notification_id: int, read: bool = True,
              principal: Principal | None) -> dict[str, Any]:
    """Mark the caller's own notification read (or unread again); only the enterprise told."""
    principal = require_role(principal, Role.enterprise)
    done = session.execute(
        update(Notification)
        .where(Notification.id == notification_id,
               Notification.enterprise_uscc == principal.enterprise_uscc)
        .values(read_at=func.coalesce(Notification.read_at, func.now()) if read else None)
        .returning(Notification.id)).scalar_one_or_none()
    if done is None:
        raise NotFound(f"通知 {notification_id} 不存在")
    session.expire_all()
    return get_notification(session=session, notification_id=notification_id,
                            principal=principal)
