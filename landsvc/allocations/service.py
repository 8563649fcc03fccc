"""Allocations (分配方案): a jurisdiction's published offerings assigned one-to-one to the
open demands they can serve — higher tiers first, then the total score — as a draft a bureau
reads, then confirms.

The candidate pairs are every pair the matching hard filters let through, found and scored
set-based by :mod:`landsvc.matching.pairs` (the offering candidates list's filters, SRDI
priority and scores); the assignment is :mod:`landsvc.allocations.solver`'s. Confirming awards each
assigned offering to its demand's owner through the offerings service (so the parcel follows
the award rule) and marks the demand ``matched``; a draft gone stale is refused whole.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, exists, func, literal, select, true, update
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import Principal
from landsvc.allocations import solver
from landsvc.allocations.models import Allocation, AllocationStatus
from landsvc.demands import service as demands
from landsvc.demands.models import Demand, DemandStatus
from landsvc.enterprises.models import Consortium
from landsvc.enterprises.tiers import Tier
from landsvc.errors import Conflict, InvalidInput, NotFound
from landsvc.fields import today
from landsvc.lifecycle import Lifecycle, move
from landsvc.matching import pairs
from landsvc.offerings import service as offerings
from landsvc.offerings.models import Offering, OfferingStatus
from landsvc.tokens.models import Role

A = AllocationStatus
LIFECYCLE = Lifecycle("分配方案", {"confirm": move({A.draft}, A.confirmed)})

_JURISDICTION = re.compile(r"\d{2}(\d{2}){0,2}")
AWARDABLE = (OfferingStatus.published, OfferingStatus.closed)


def _who(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.jurisdiction or ''}"


def _check_jurisdiction(jurisdiction: Any) -> str:
    if not isinstance(jurisdiction, str) or not _JURISDICTION.fullmatch(jurisdiction):
        raise InvalidInput(f"jurisdiction: 须为 2、4 或 6 位行政区划代码（如 44、4403、440306），"
                           f"收到 {str(jurisdiction)[:20]!r}", code="jurisdiction_invalid")
    return jurisdiction


def _offerings_in_scope(session: Session, jurisdiction: str, ids: list[int] | None,
                        principal: Principal) -> list[int]:
    if ids is None:
        return list(session.scalars(
            select(Offering.id).where(Offering.status == OfferingStatus.published,
                                      Offering.district.startswith(jurisdiction))
            .order_by(Offering.id)))
    rows = {r.id: r for r in session.execute(
        select(Offering.id, Offering.status, Offering.district)
        .where(Offering.id.in_(ids)))}
    missing = sorted(set(ids) - rows.keys())
    if missing:
        raise InvalidInput(f"offering_ids: 供地 {missing[:10]} 不存在", code="offering_not_found")
    access.require_manage(principal, [r.district for r in rows.values()])
    outside = sorted(i for i, r in rows.items() if not r.district.startswith(jurisdiction))
    if outside:
        raise InvalidInput(f"offering_ids: 供地 {outside[:10]} 不在 jurisdiction {jurisdiction} 内",
                           code="offering_outside_jurisdiction")
    unpublished = sorted(i for i, r in rows.items() if r.status is not OfferingStatus.published)
    if unpublished:
        raise InvalidInput(f"offering_ids: 供地 {unpublished[:10]} 不是「已发布」（published），"
                           "只有在售供地参加分配", code="offering_not_published")
    return sorted(rows)


def _demands_in_scope(session: Session, jurisdiction: str, ids: list[int] | None
                      ) -> list[Demand]:
    if ids is not None:
        found = {d.id: d for d in session.scalars(select(Demand).where(Demand.id.in_(ids)))}
        missing = sorted(set(ids) - found.keys())
        if missing:
            raise InvalidInput(f"demand_ids: 用地需求 {missing[:10]} 不存在",
                               code="demand_not_found")
        closed = sorted(i for i, d in found.items()
                        if d.status is not DemandStatus.open or "land" not in d.kinds)
        if closed:
            raise InvalidInput(f"demand_ids: 用地需求 {closed[:10]} 不是待匹配（open）的用地需求",
                               code="demand_not_open")
        return list(found.values())
    code = func.unnest(Demand.scope).table_valued("code").render_derived()
    return list(session.scalars(select(Demand).where(
        Demand.status == DemandStatus.open, Demand.kinds.contains(["land"]),
        exists(select(literal(1)).select_from(code)
               .where(code.c.code.startswith(jurisdiction))))))


def as_dict(a: Allocation) -> dict[str, Any]:
    return {
        "id": a.id, "jurisdiction": a.jurisdiction,
        "status": a.status.value, "status_label": a.status.label,
        "offering_ids": list(a.offering_ids), "demand_ids": list(a.demand_ids),
        "assignments": a.assignments, "unassigned": a.unassigned,
        "created_by": a.created_by,
        "created_at": a.created_at.isoformat(),
        "confirmed_at": a.confirmed_at.isoformat() if a.confirmed_at else None,
    }


def create_allocation(*, session: Session, jurisdiction: Any, offering_ids: list[int] | None,
                      demand_ids: list[int] | None, principal: Principal | None
                      ) -> dict[str, Any]:
    """Compute and store a draft for the published offerings of ``jurisdiction`` (or the
    given ones, all inside it) and the open land demands they can serve (or the given ones)."""
    jurisdiction = _check_jurisdiction(jurisdiction)
    access.require_manage(principal, [jurisdiction])
    scoped_offerings = _offerings_in_scope(session, jurisdiction, offering_ids, principal)
    given = _demands_in_scope(session, jurisdiction, demand_ids)
    found = pairs.land_pairs(session, offering_ids=scoped_offerings, demand_ids=demand_ids,
                             on=today())
    ranks = dict(zip(found.demand_id.tolist(), found.tier_rank.tolist(), strict=True))
    others = [d for d in given if d.id not in ranks]
    ranks |= {i: tier.rank for i, tier in demands.owner_tiers(session, others).items()}
    try:
        assigned, left = solver.solve(ranks, solver.Pairs(found.demand_id, found.offering_id,
                                                          found.cents))
    except solver.TooLarge as e:
        raise InvalidInput(f"供需关联过多（{e}），无法精确求解；请按更小的辖区或指定 offering_ids "
                           "分批分配", code="allocation_too_large") from e
    by_rank = {t.rank: t for t in Tier}
    allocation = Allocation(
        jurisdiction=jurisdiction, status=A.draft, offering_ids=scoped_offerings,
        demand_ids=sorted(ranks),
        assignments=[{"demand_id": a.demand_id, "offering_id": a.offering_id,
                      "score": a.score, "tier": by_rank[a.tier_rank].value,
                      "tier_label": by_rank[a.tier_rank].label} for a in assigned],
        unassigned=[{"demand_id": u.demand_id, "code": u.code, "reason": u.reason,
                     "tier": by_rank[ranks[u.demand_id]].value,
                     "offering_ids": list(u.offering_ids)} for u in left],
        created_by=_who(principal))
    session.add(allocation)
    session.flush()
    session.refresh(allocation)
    return as_dict(allocation)


def _load(session: Session, allocation_id: int, principal: Principal | None, *,
          lock: bool = False) -> Allocation:
    query = select(Allocation).where(Allocation.id == allocation_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    allocation = session.scalars(query).one_or_none()
    if allocation is None:
        access.require_role(principal, Role.bureau, Role.admin)
        raise NotFound(f"分配方案 {allocation_id} 不存在")
    access.require_manage(principal, [allocation.jurisdiction])
    return allocation


def search_allocations(*, session: Session, status: AllocationStatus | None, page: lists.Page,
                       principal: Principal | None) -> tuple[list[dict[str, Any]], lists.Matched]:
    """The allocations the caller may read (those inside its jurisdiction; admin: all),
    newest first."""
    principal = access.require_role(principal, Role.bureau, Role.admin)
    inside = (true() if principal.role is Role.admin
              else Allocation.jurisdiction.startswith(principal.jurisdiction))
    where = and_(inside, lists.equals_clause(Allocation.status, status))
    rows, matched = lists.fetch_page(session, select(Allocation).order_by(Allocation.id.desc()),
                                     where=where, page=page, count_from=Allocation)
    return [as_dict(row[0]) for row in rows], matched


def get_allocation(*, session: Session, allocation_id: int,
                   principal: Principal | None) -> dict[str, Any]:
    return as_dict(_load(session, allocation_id, principal))


def confirm_allocation(*, session: Session, allocation_id: int,
                       principal: Principal | None) -> dict[str, Any]:
    """Apply a draft: award each assigned offering to its demand's owner (closing it first
    if still published), mark the assigned demands ``matched``. A draft whose offerings or
    demands changed since is refused whole (409 naming them)."""
    allocation = _load(session, allocation_id, principal, lock=True)
    target = LIFECYCLE.target(allocation.status, "confirm")
    pairs = [(a["offering_id"], a["demand_id"]) for a in allocation.assignments]
    offering_ids = [o for o, _ in pairs]
    demand_ids = [d for _, d in pairs]
    held = dict(session.execute(select(Offering.id, Offering.status)
                                .where(Offering.id.in_(offering_ids))
                                .order_by(Offering.id).with_for_update()).all())
    wanted = {d.id: d for d in session.scalars(
        select(Demand).where(Demand.id.in_(demand_ids)).order_by(Demand.id).with_for_update()
        .execution_options(populate_existing=True))}
    stale_offerings = [{"id": o, "status": held[o].value} for o in offering_ids
                       if held[o] not in AWARDABLE]
    stale_demands = [{"id": d, "status": wanted[d].status.value} for d in demand_ids
                     if wanted[d].status is not DemandStatus.open]
    if stale_offerings or stale_demands:
        named = [f"供地 {s['id']}（现为 {OfferingStatus(s['status']).label}）"
                 for s in stale_offerings]
        named += [f"用地需求 {s['id']}（现为 {DemandStatus(s['status']).label}）"
                  for s in stale_demands]
        raise Conflict(f"分配方案 {allocation_id} 已过时，未作任何变更：{'、'.join(named)}；"
                       "请重新生成分配方案", code="allocation_stale",
                       extra={"offerings": stale_offerings, "demands": stale_demands})
    leads = _consortium_leads(session, [d for d in wanted.values() if d.consortium_id])
    for offering_id, demand_id in pairs:
        d = wanted[demand_id]
        awardee = d.enterprise_uscc or leads[d.consortium_id]
        if held[offering_id] is OfferingStatus.published:
            offerings.transition_offering(session=session, offering_id=offering_id,
                                          action="close", principal=principal)
        offerings.transition_offering(session=session, offering_id=offering_id, action="award",
                                      awardee_uscc=awardee, principal=principal)
    if demand_ids:
        session.execute(update(Demand).where(Demand.id.in_(demand_ids))
                        .values(status=DemandStatus.matched, updated_at=func.now()))
    session.execute(update(Allocation).where(Allocation.id == allocation_id)
                    .values(status=target, confirmed_at=func.now()))
    session.expire(allocation)
    return get_allocation(session=session, allocation_id=allocation_id, principal=principal)


def _consortium_leads(session: Session, owned: list[Demand]) -> dict[int, str]:
    ids = {d.consortium_id for d in owned}
    if not ids:
        return {}
    return dict(session.execute(select(Consortium.id, Consortium.lead_uscc)
                                .where(Consortium.id.in_(ids))).all())
