"""Reading the write audit: entries by entity, id and time, as far as the caller may see."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select, true
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import Principal
from landsvc.audit.models import ENTITIES, AuditEntry
from landsvc.errors import InvalidInput
from landsvc.fields import CHINA
from landsvc.tokens.models import Role


def _aware(value: datetime | None) -> datetime | None:
    """A time given without an offset is Guangdong's wall-clock."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=CHINA)


def entry_dict(entry: AuditEntry) -> dict:
    return {"id": entry.id, "entity": entry.entity, "entity_id": entry.entity_id,
            "action": entry.action, "actor": entry.actor, "client": entry.client,
            "request_id": entry.request_id, "district": entry.district,
            "at": entry.at.isoformat(), "before": entry.before, "after": entry.after}


def search(*, session: Session, principal: Principal | None, entity: str | None = None,
           entity_id: str | None = None, start: datetime | None = None,
           end: datetime | None = None,
           page: lists.Page = lists.Page()) -> tuple[list[dict], lists.Matched]:
    """Entries newest first: of ``entity`` (an API name, see :data:`ENTITIES`), of its row
    ``entity_id``, at or after ``start`` and before ``end``. Admins see every entry; a bureau
    those located in its jurisdiction (entries of tokens and users are located nowhere:
    admins only); anyone else is refused (401/403)."""
    principal = access.require_role(principal, Role.bureau, Role.admin)
    if entity is not None and entity not in ENTITIES:
        raise InvalidInput(f"entity: 应为 {', '.join(ENTITIES)} 之一，收到 {entity[:30]!r}")
    if entity_id is not None and entity is None:
        raise InvalidInput("id: 须同时给出 entity")
    start, end = _aware(start), _aware(end)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("to: 应晚于 from")
    where = and_(
        lists.equals_clause(AuditEntry.entity, entity),
        lists.equals_clause(AuditEntry.entity_id, entity_id),
        true() if start is None else AuditEntry.at >= start,
        true() if end is None else AuditEntry.at < end,
        true() if principal.role is Role.admin
        else AuditEntry.district.startswith(principal.jurisdiction or "-", autoescape=True),
    )
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    rows, matched = lists.fetch_page(session, query, where=where, page=page,
                                     count_from=AuditEntry)
    return [entry_dict(r[0]) for r in rows], matched
