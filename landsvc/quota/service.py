"""省级先进制造业用地指标: pools, allocations for approved cases, cancellations.

Only the province (a bureau of jurisdiction ``44``) or an admin manages pools; any bureau
reads the pools that concern its jurisdiction. An allocation draws the land area of an
approved case from a pool when the applicant is a little giant on the day and its 粤产粤优
grade is one the rules in force for the case's district admit (:class:`QuotaRules`).

Never over-allocated, whatever the concurrency: the pool row is locked (``FOR UPDATE``)
before its remainder is read, and the ``UPDATE`` of ``allocated_ha`` runs in the same
transaction as the allocation's insert, under a CHECK (0 ≤ allocated ≤ total) that the
database enforces for any writer; a violation of it is answered as the same 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from landsvc import fields
from landsvc.access import Principal, require_role
from landsvc.approvals.models import ApprovalCase, ApprovalStatus
from landsvc.districts.service import division_exists
from landsvc.enterprises.models import Consortium, Enterprise, EvaluationGrade
from landsvc.enterprises.service import consortium_tier, enterprise_tier
from landsvc.enterprises.tiers import Tier
from landsvc.errors import Conflict, Forbidden, InvalidInput, NotFound
from landsvc.geo import adcode_prefix
from landsvc.lists import Matched, Page, equals_clause, fetch_page
from landsvc.policies.service import effective, register
from landsvc.quota.models import (
    AllocationStatus,
    MovementKind,
    QuotaAllocation,
    QuotaMovement,
    QuotaPool,
)
from landsvc.tokens.models import Role

PROVINCE = "44"
REQUIRED_TIER = Tier.little_giant
_HA = Decimal("0.0001")
_M2_PER_HA = Decimal(10_000)


@dataclass(frozen=True)
class QuotaRules:
    """Which 粤产粤优 grades may draw on the quota (default A and B), per jurisdiction:
    ``landsvc policy set 44 quota.grade_c_eligible true``. One flag per grade, because the
    policy settings hold numbers and flags."""

    grade_a_eligible: bool = True
    grade_b_eligible: bool = True
    grade_c_eligible: bool = False
    grade_d_eligible: bool = False

    def eligible(self, grade: EvaluationGrade) -> bool:
        return getattr(self, f"grade_{grade.value.lower()}_eligible")

    def eligible_grades(self) -> list[str]:
        return [g.value for g in EvaluationGrade if self.eligible(g)]


DEFAULTS = register("quota", QuotaRules())


# -- who ----------------------------------------------------------------------------------
def _who(principal: Principal) -> str:
    """The actor as the token tells it: role and jurisdiction."""
    if principal.jurisdiction:
        return f"{principal.role.value}:{principal.jurisdiction}"
    return principal.role.value


def require_province(principal: Principal | None) -> Principal:
    """Pools and allocations are the province's: a bureau of jurisdiction 44, or an admin."""
    principal = require_role(principal, Role.bureau, Role.admin)
    if principal.role is Role.bureau and principal.jurisdiction != PROVINCE:
        raise Forbidden(f"省级用地指标只能由省级（{PROVINCE}）主管部门或管理员管理；"
                        f"当前令牌的管辖区为 {principal.jurisdiction}", code="province_only")
    return principal


def _readable(principal: Principal | None) -> ColumnElement:
    """The pools a bureau or admin may read: a bureau those whose scope overlaps its
    jurisdiction (the provincial pool it draws from, its own city's …)."""
    principal = require_role(principal, Role.bureau, Role.admin)
    if principal.role is Role.admin:
        return true()
    jurisdiction = principal.jurisdiction or ""
    return or_(QuotaPool.scope.startswith(jurisdiction),
               func.strpos(jurisdiction, QuotaPool.scope) == 1)


# -- numbers ------------------------------------------------------------------------------
def hectares(area_m2: Decimal) -> Decimal:
    """Square metres as hectares kept to 4 decimals (1 ㎡), half up."""
    return (Decimal(area_m2) / _M2_PER_HA).quantize(_HA, rounding=ROUND_HALF_UP)


def _remaining(pool: QuotaPool) -> Decimal:
    return Decimal(pool.total_ha) - Decimal(pool.allocated_ha)


def _text(value: Decimal) -> str:
    """Hectares for a message: no trailing zeros."""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- pools --------------------------------------------------------------------------------
def _checked_pool(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    year = fields.count_field(body, "year", "年度", 2000, 2100, required=True,
                              code="invalid_year")
    scope = fields.text_field(body, "scope", "适用范围", 24, required=True)
    if not scope.isdigit() or len(scope) not in (2, 4, 6):
        raise InvalidInput(f"scope: 应为 2、4 或 6 位行政区划代码（前缀），收到 {fields.shown(scope)!r}",
                           code="invalid_scope")
    scope = adcode_prefix(scope)
    if not scope.startswith(PROVINCE) or not division_exists(session=session, prefix=scope):
        raise InvalidInput(f"scope: 广东省没有行政区划 {scope}", code="invalid_scope")
    name = fields.text_field(body, "name", "指标名称", 200, required=True)
    total = fields.amount_field(body, "total_ha", "指标总量", precision=12, scale=4,
                                required=True, unit=" 公顷")
    return {"year": year, "scope": scope, "name": name, "total_ha": total}


def create_pool(*, session: Session, body: dict[str, Any], principal: Principal | None) -> dict:
    """A new pool, nothing allocated yet (province or admin)."""
    principal = require_province(principal)
    values = _checked_pool(session, body)
    duplicate = session.scalar(select(QuotaPool.id).where(
        QuotaPool.year == values["year"], QuotaPool.scope == values["scope"],
        QuotaPool.name == values["name"]))
    if duplicate is not None:
        raise Conflict(f"name: {values['year']} 年 {values['scope']} 已有名为“{values['name']}”"
                       f"的指标（id {duplicate}）", code="duplicate_pool")
    pool = QuotaPool(**values, allocated_ha=Decimal(0), created_by=_who(principal))
    session.add(pool)
    session.flush()
    session.refresh(pool)
    return _pool_dict(session, pool, detail=True)


def search_pools(*, session: Session, year: int | None, page: Page,
                 principal: Principal | None) -> tuple[list[dict], Matched]:
    """The pools the caller may read, newest year first."""
    where = and_(_readable(principal), equals_clause(QuotaPool.year, year))
    query = select(QuotaPool).order_by(QuotaPool.year.desc(), QuotaPool.scope, QuotaPool.id)
    rows, matched = fetch_page(session, query, where=where, page=page, count_from=QuotaPool)
    return [_pool_dict(session, row[0], detail=False) for row in rows], matched


def get_pool(*, session: Session, pool_id: int, principal: Principal | None) -> dict:
    """One pool with its figures, allocations and movements."""
    where = _readable(principal)
    pool = session.scalar(select(QuotaPool).where(QuotaPool.id == pool_id, where))
    if pool is None:
        raise NotFound(f"用地指标 {pool_id} 不存在")
    return _pool_dict(session, pool, detail=True)


def _locked_pool(session: Session, pool_id: int) -> QuotaPool:
    """The pool, its row locked until the transaction ends: allocations of one pool queue."""
    pool = session.scalar(select(QuotaPool).where(QuotaPool.id == pool_id)
                          .with_for_update().execution_options(populate_existing=True))
    if pool is None:
        raise NotFound(f"用地指标 {pool_id} 不存在")
    return pool


# -- allocations --------------------------------------------------------------------------
@dataclass(frozen=True)
class Applicant:
    """What the eligibility rules look at, on the day of the allocation."""

    label: str
    tier: Tier
    grade: EvaluationGrade | None
    grade_year: int | None
    grade_of: str
    """Whose grade: the enterprise itself, or a consortium's lead."""


def applicant_on(session: Session, case: ApprovalCase, day: date) -> Applicant:
    """The case's applicant as the rules judge it on ``day``: its tier in force, and its
    粤产粤优 grade (a consortium's: its lead's)."""
    if case.applicant_uscc is not None:
        tier = enterprise_tier(session, case.applicant_uscc, day)
        uscc, label = case.applicant_uscc, f"企业 {case.applicant_uscc}"
        grade_of = "申请企业"
    else:
        tier = consortium_tier(session, case.consortium_id, day)
        uscc = session.scalar(select(Consortium.lead_uscc)
                              .where(Consortium.id == case.consortium_id))
        label = f"联合体 {case.consortium_id}"
        grade_of = f"联合体牵头企业 {uscc}"
    row = session.execute(select(Enterprise.evaluation_grade, Enterprise.evaluation_year)
                          .where(Enterprise.uscc == uscc)).one_or_none()
    grade, year = (row.evaluation_grade, row.evaluation_year) if row else (None, None)
    return Applicant(label, tier, EvaluationGrade(grade) if grade else None, year, grade_of)


def check_eligible(applicant: Applicant, rules: QuotaRules, day: date) -> None:
    """The tier rule, then the grade rule; the first one broken is a 422 naming it and the
    value found."""
    if applicant.tier is not REQUIRED_TIER:
        raise InvalidInput(
            f"tier: {applicant.label} 在 {day.isoformat()} 的梯度为“{applicant.tier.label}”"
            f"（{applicant.tier.value}），省级先进制造业用地指标仅限有效期内的"
            f"“{REQUIRED_TIER.label}”（{REQUIRED_TIER.value}）",
            code="tier_ineligible", extra={"rule": "tier", "found": applicant.tier.value})
    allowed = rules.eligible_grades()
    if applicant.grade is None or not rules.eligible(applicant.grade):
        found = (f"{applicant.grade.label}（{applicant.grade_year} 年度）" if applicant.grade
                 else "无评价等级")
        raise InvalidInput(
            f"evaluation_grade: {applicant.grade_of}的粤产粤优评价为 {found}，"
            f"可使用指标的等级为 {'、'.join(allowed) or '（无）'}",
            code="grade_ineligible",
            extra={"rule": "evaluation_grade",
                   "found": applicant.grade.value if applicant.grade else None})


def _case(session: Session, approval_id: int) -> ApprovalCase:
    # FOR SHARE: the case may not change status while its land is being allocated.
    case = session.scalar(select(ApprovalCase).where(ApprovalCase.id == approval_id)
                          .with_for_update(read=True))
    if case is None:
        raise InvalidInput(f"approval_id: 用地审批案件 {approval_id} 不存在",
                           code="unknown_approval")
    return case


def _active_allocation(session: Session, approval_id: int) -> QuotaAllocation | None:
    return session.scalar(select(QuotaAllocation).where(
        QuotaAllocation.approval_id == approval_id,
        QuotaAllocation.status == AllocationStatus.active))


def _exceeded(pool: QuotaPool, remaining: Decimal, requested: Decimal) -> Conflict:
    return Conflict(f"用地指标 {pool.id} 剩余 {_text(remaining)} 公顷，不足本次所需 "
                    f"{_text(requested)} 公顷", code="quota_exceeded",
                    extra={"remaining_ha": float(remaining), "requested_ha": float(requested)})


def allocate(*, session: Session, pool_id: int, approval_id: int,
             principal: Principal | None) -> dict:
    """Draw an approved case's land area from a pool (province or admin).

    Raises
    ------
    NotFound
        No such pool.
    InvalidInput
        No such case; its district outside the pool's scope; its applicant not a little
        giant on the day, or of a grade the rules do not admit.
    Conflict
        The case is not approved, already holds an active allocation, or the pool has not
        enough left (``remaining_ha``).
    """
    principal = require_province(principal)
    pool = _locked_pool(session, pool_id)
    case = _case(session, approval_id)
    if case.status is not ApprovalStatus.approved:
        raise Conflict(f"approval_id: 案件 {case.id} 的状态为“{case.status.label}”，"
                       "只有已批准的案件可以使用指标", code="case_not_approved")
    held = _active_allocation(session, case.id)
    if held is not None:
        raise Conflict(f"approval_id: 案件 {case.id} 已在用地指标 {held.pool_id} 中有有效分配 "
                       f"{held.id}；须先撤销", code="already_allocated",
                       extra={"allocation_id": held.id})
    if not case.district.startswith(pool.scope):
        raise InvalidInput(f"approval_id: 案件 {case.id} 的用地位于 {case.district}，"
                           f"不在用地指标 {pool.id} 的适用范围 {pool.scope} 内",
                           code="outside_pool_scope")
    day = fields.today()
    applicant = applicant_on(session, case, day)
    check_eligible(applicant, effective(session, "quota", case.district), day)
    area = hectares(case.area_m2)
    remaining = _remaining(pool)
    if area > remaining:
        raise _exceeded(pool, remaining, area)
    allocation = QuotaAllocation(
        pool_id=pool.id, approval_id=case.id, area_ha=area, status=AllocationStatus.active,
        allocated_on=day, applicant_tier=applicant.tier, evaluation_grade=applicant.grade,
        who=_who(principal))
    try:
        with session.begin_nested():
            after = _move(session, pool.id, area)
            session.add(allocation)
            session.flush()
            _record(session, pool.id, allocation.id, MovementKind.allocate, area, after,
                    principal)
    except IntegrityError as exc:
        raise _refusal(exc, pool, remaining, area, case.id) from None
    session.refresh(allocation)
    return _allocation_dict(allocation) | {"remaining_ha": float(Decimal(pool.total_ha) - after)}


def _refusal(exc: IntegrityError, pool: QuotaPool, remaining: Decimal, area: Decimal,
             approval_id: int) -> Conflict:
    """The database's own refusals of an allocation, as the answers the checks above give:
    the pool's CHECK (over-allocation) and the one-active-allocation-per-case index."""
    constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    if constraint == "ck_quota_pool_within_total":
        return _exceeded(pool, remaining, area)
    if constraint == "uq_quota_allocation_active_case":
        return Conflict(f"approval_id: 案件 {approval_id} 已有有效的指标分配",
                        code="already_allocated")
    raise exc


def _move(session: Session, pool_id: int, delta: Decimal) -> Decimal:
    """Change the pool's allocated hectares by ``delta`` in the database (its CHECK judges
    the result); the new total."""
    return session.execute(
        update(QuotaPool).where(QuotaPool.id == pool_id)
        .values(allocated_ha=QuotaPool.allocated_ha + delta, updated_at=func.now())
        .returning(QuotaPool.allocated_ha)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def _record(session: Session, pool_id: int, allocation_id: int, kind: MovementKind,
            delta: Decimal, after: Decimal, principal: Principal) -> None:
    session.add(QuotaMovement(pool_id=pool_id, allocation_id=allocation_id, kind=kind,
                              delta_ha=delta, allocated_after_ha=after, who=_who(principal)))
    session.flush()


def cancel(*, session: Session, pool_id: int, allocation_id: int,
           principal: Principal | None) -> dict:
    """Cancel an allocation: its hectares return to the pool; the row stays, ``cancelled``."""
    principal = require_province(principal)
    pool = _locked_pool(session, pool_id)
    allocation = session.scalar(select(QuotaAllocation).where(
        QuotaAllocation.id == allocation_id, QuotaAllocation.pool_id == pool.id))
    if allocation is None:
        raise NotFound(f"用地指标 {pool_id} 中没有分配 {allocation_id}")
    if allocation.status is AllocationStatus.cancelled:
        raise Conflict(f"分配 {allocation_id} 已于 {allocation.cancelled_at:%Y-%m-%d %H:%M} 撤销",
                       code="already_cancelled", extra={"allocation_id": allocation_id})
    area = Decimal(allocation.area_ha)
    after = _move(session, pool.id, -area)
    allocation.status = AllocationStatus.cancelled
    allocation.cancelled_at = func.now()
    allocation.cancelled_by = _who(principal)
    session.flush()
    _record(session, pool.id, allocation.id, MovementKind.cancel, -area, after, principal)
    session.refresh(pool)
    return _pool_dict(session, pool, detail=True)


# -- answers ------------------------------------------------------------------------------
def _allocation_dict(a: QuotaAllocation) -> dict:
    return {
        "id": a.id, "pool_id": a.pool_id, "approval_id": a.approval_id,
        "area_ha": fields.number(a.area_ha), "status": AllocationStatus(a.status).value,
        "allocated_on": a.allocated_on, "applicant_tier": Tier(a.applicant_tier).value,
        "evaluation_grade": EvaluationGrade(a.evaluation_grade).value, "who": a.who,
        "created_at": a.created_at, "cancelled_at": a.cancelled_at,
        "cancelled_by": a.cancelled_by,
    }


def _movement_dict(m: QuotaMovement) -> dict:
    return {"id": m.id, "allocation_id": m.allocation_id, "kind": MovementKind(m.kind).value,
            "delta_ha": fields.number(m.delta_ha),
            "allocated_after_ha": fields.number(m.allocated_after_ha), "who": m.who, "at": m.at}


def _pool_dict(session: Session, pool: QuotaPool, *, detail: bool) -> dict:
    out = {
        "id": pool.id, "year": pool.year, "scope": pool.scope, "name": pool.name,
        "total_ha": fields.number(pool.total_ha),
        "allocated_ha": fields.number(pool.allocated_ha),
        "remaining_ha": fields.number(_remaining(pool)),
        "created_by": pool.created_by, "created_at": pool.created_at,
    }
    if detail:
        allocations = session.scalars(select(QuotaAllocation).where(
            QuotaAllocation.pool_id == pool.id).order_by(QuotaAllocation.id)).all()
        movements = session.scalars(select(QuotaMovement).where(
            QuotaMovement.pool_id == pool.id).order_by(QuotaMovement.id)).all()
        out |= {"allocations": [_allocation_dict(a) for a in allocations],
                "movements": [_movement_dict(m) for m in movements]}
    return out
