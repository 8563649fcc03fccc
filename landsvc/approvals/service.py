"""Approval cases (用地审批): filing on the green or the standard channel, the workflow, the
bureau's queue and the figures it reports upward.

The channel is chosen once, on filing, from the applicant's tier in force that day. Every
step is appended to the case's hash-chained history (:mod:`landsvc.approvals.audit`) in the
transaction that makes it; the stage clocks are computed from that history
(:mod:`landsvc.approvals.clock`) with the working-day limits in force in the case's district,
so a case's figures are reproducible from its steps alone.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import Principal
from landsvc.approvals import audit, clock
from landsvc.approvals.models import ApprovalCase, ApprovalEvent, ApprovalStatus, Channel, Stage
from landsvc.demands.models import Demand
from landsvc.enterprises import service as enterprises
from landsvc.enterprises.models import ConsortiumMember, Enterprise
from landsvc.enterprises.tiers import Tier
from landsvc.errors import Forbidden, InvalidInput, NotFound
from landsvc.fields import number, today
from landsvc.lifecycle import Lifecycle, move
from landsvc.offerings.models import Offering
from landsvc.parcels.models import Parcel
from landsvc.policies.service import effective
from landsvc.tokens.models import Role

A = ApprovalStatus
LIFECYCLE = Lifecycle("用地审批", {
    "accept": move({A.submitted}, A.accepted),
    "start_review": move({A.accepted}, A.under_review),
    "return": move({A.accepted, A.under_review}, A.returned),
    # back to the status it left when returned (see _target)
    "resubmit": move({A.returned}, A.accepted),
    "approve": move({A.under_review}, A.approved),
    "reject": move({A.under_review}, A.rejected),
    "withdraw": move({A.submitted, A.accepted, A.under_review, A.returned}, A.withdrawn),
})
APPLICANT_ACTIONS = frozenset({"resubmit", "withdraw"})
"""The applicant's steps; every other one is the bureau's."""

GREEN_TIERS = (Tier.srdi_sme, Tier.little_giant)
CLOSED = (A.approved, A.rejected, A.withdrawn)
M2_PER_HA = 10_000


# -- who --------------------------------------------------------------------------------
def _applicant_members(session: Session, case: ApprovalCase) -> set[str]:
    if case.applicant_uscc is not None:
        return {case.applicant_uscc}
    return set(session.scalars(select(ConsortiumMember.uscc)
                               .where(ConsortiumMember.consortium_id == case.consortium_id)))


def _may_read(session: Session, case: ApprovalCase, principal: Principal | None) -> bool:
    if principal is None:
        return False
    if principal.role is Role.admin:
        return True
    if principal.role is Role.enterprise:
        return principal.enterprise_uscc in _applicant_members(session, case)
    return principal.role is Role.bureau and access.covers(principal, case.district)


def _load(session: Session, case_id: int, principal: Principal | None, *,
          lock: bool = False) -> ApprovalCase:
    """The case ``principal`` may read; 404 otherwise (its existence is not revealed). To
    act (``lock``), a bureau outside the case's district gets 403 instead: the step is
    refused for its jurisdiction."""
    access.require_role(principal, Role.enterprise, Role.bureau, Role.admin)
    query = select(ApprovalCase).where(ApprovalCase.id == case_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    case = session.scalars(query).one_or_none()
    if case is not None and lock and principal.role is Role.bureau:
        access.require_manage(principal, [case.district])
    if case is None or not _may_read(session, case, principal):
        raise NotFound(f"用地审批 {case_id} 不存在")
    return case


# -- filing -----------------------------------------------------------------------------
def _channel(tier: Tier, on: date) -> tuple[Channel, str]:
    if tier in GREEN_TIERS:
        return Channel.green, (f"申请人于申请日（{on.isoformat()}）为{tier.label}，"
                               "按绿色通道办理")
    return Channel.standard, (f"申请人于申请日（{on.isoformat()}）的梯度为「{tier.label}」，"
                              "不属专精特新中小企业或“小巨人”企业，按普通通道办理")


def _filed_on(value: Any) -> date:
    on = value if value is not None else today()
    if on > today():
        raise InvalidInput(f"filed_on: 申请日 {on.isoformat()} 不能晚于今天（{today().isoformat()}）",
                           code="date_in_future")
    return on


def _place(session: Session, parcel_id: int | None, offering_id: int | None) -> Parcel:
    if parcel_id is None and offering_id is None:
        raise InvalidInput("parcel_id: 须写明地块（parcel_id）或供地（offering_id）",
                           code="missing_field")
    if offering_id is not None:
        offered = session.scalar(select(Offering.parcel_id).where(Offering.id == offering_id))
        if offered is None:
            raise InvalidInput(f"offering_id: 供地 {offering_id} 不存在", code="offering_not_found")
        if parcel_id is not None and parcel_id != offered:
            raise InvalidInput(f"parcel_id: 供地 {offering_id} 的地块是 {offered}，"
                               f"不是 {parcel_id}", code="parcel_offering_mismatch")
        parcel_id = offered
    parcel = session.get(Parcel, parcel_id)
    if parcel is None:
        raise InvalidInput(f"parcel_id: 地块 {parcel_id} 不存在", code="parcel_not_found")
    return parcel


def _applicant(session: Session, values: dict, principal: Principal) -> tuple[str | None,
                                                                                int | None]:
    uscc, consortium_id = values.get("applicant_uscc"), values.get("consortium_id")
    if uscc is None and consortium_id is None and principal.role is Role.enterprise:
        uscc = principal.enterprise_uscc
    if (uscc is None) == (consortium_id is None):
        raise InvalidInput("applicant_uscc: 申请人须为一家企业（applicant_uscc）或一个联合体"
                           "（consortium_id），二者取一", code="one_applicant")
    if uscc is not None and session.get(Enterprise, uscc) is None:
        raise InvalidInput(f"applicant_uscc: 企业 {uscc} 未登记；请先登记企业", code="not_registered")
    members = ({uscc} if uscc is not None else set(session.scalars(
        select(ConsortiumMember.uscc).where(ConsortiumMember.consortium_id == consortium_id))))
    if not members:
        raise InvalidInput(f"consortium_id: 联合体 {consortium_id} 不存在",
                           code="consortium_not_found")
    if principal.role is Role.enterprise and principal.enterprise_uscc not in members:
        raise Forbidden("企业只能以自己（或自己所在联合体）的名义申请", code="not_applicant")
    return uscc, consortium_id


def file_case(*, session: Session, values: dict, principal: Principal | None) -> dict:
    """File a case (filing counts as submitting): the applicant itself, or a bureau entering
    a paper filing inside its jurisdiction."""
    principal = access.require_role(principal, Role.enterprise, Role.bureau, Role.admin)
    uscc, consortium_id = _applicant(session, values, principal)
    parcel = _place(session, values.get("parcel_id"), values.get("offering_id"))
    if principal.role is Role.bureau:
        access.require_manage(principal, [parcel.district])
    on = _filed_on(values.get("filed_on"))
    demand_id = values.get("demand_id")
    if demand_id is not None:
        owner = session.execute(select(Demand.enterprise_uscc, Demand.consortium_id)
                                .where(Demand.id == demand_id)).one_or_none()
        if owner is None or tuple(owner) != (uscc, consortium_id):
            raise InvalidInput(f"demand_id: 用地需求 {demand_id} 不存在或不属于申请人",
                               code="demand_not_applicants")
    tier = (enterprises.enterprise_tier(session, uscc, on) if uscc is not None
            else enterprises.consortium_tier(session, consortium_id, on))
    channel, reason = _channel(tier, on)
    case = ApprovalCase(
        applicant_uscc=uscc, consortium_id=consortium_id, parcel_id=parcel.id,
        offering_id=values.get("offering_id"), demand_id=demand_id,
        project_name=values["project_name"], investment_wan=values.get("investment_wan"),
        industry_code=values.get("industry_code"), area_m2=parcel.area_m2,
        district=parcel.district, channel=channel, channel_reason=reason, applicant_tier=tier,
        status=A.submitted, filed_on=on, last_step_on=on)
    session.add(case)
    session.flush()
    audit.append(session, case_id=case.id, action="file", from_status=None,
                 to_status=A.submitted.value, actor=principal.actor,
                 role=principal.role.value, on=on, comment=values.get("comment"))
    return get_case(session=session, case_id=case.id, principal=principal)


# -- the workflow -----------------------------------------------------------------------
def _require_actor(session: Session, case: ApprovalCase, action: str,
                   principal: Principal) -> None:
    if principal.role is Role.admin:
        return
    if action in APPLICANT_ACTIONS:
        if (principal.role is Role.enterprise
                and principal.enterprise_uscc in _applicant_members(session, case)):
            return
        raise Forbidden(f"{action}：只有申请人可以执行", code="applicant_only")
    if principal.role is Role.bureau and access.covers(principal, case.district):
        return
    raise Forbidden(f"{action}：只有辖区覆盖该地块（{case.district}）的主管部门可以执行",
                    code="bureau_only")


def _target(session: Session, case: ApprovalCase, action: str) -> ApprovalStatus:
    target = LIFECYCLE.target(case.status, action)
    if action == "resubmit":  # back to the stage it was returned from
        left = session.scalar(select(ApprovalEvent.from_status)
                              .where(ApprovalEvent.case_id == case.id,
                                     ApprovalEvent.action == "return")
                              .order_by(ApprovalEvent.seq.desc()).limit(1))
        target = ApprovalStatus(left)
    return target


def _step_on(case: ApprovalCase, on: date | None) -> date:
    on = on if on is not None else today()
    if on > today():
        raise InvalidInput(f"on: {on.isoformat()} 在将来；只能登记已经发生的步骤",
                           code="date_in_future")
    if on < case.last_step_on:
        raise InvalidInput(f"on: {on.isoformat()} 早于上一步骤的日期 "
                           f"{case.last_step_on.isoformat()}", code="date_before_last_step")
    return on


def transition(*, session: Session, case_id: int, action: str, comment: str | None = None,
               on: date | None = None, principal: Principal | None) -> dict:
    """Take a step on day ``on`` (default today): 404 unreadable, 403 wrong role or
    jurisdiction, 409 not allowed from the current status, 422 a bad day."""
    case = _load(session, case_id, principal, lock=True)
    _require_actor(session, case, action, principal)
    target = _target(session, case, action)
    day = _step_on(case, on)
    audit.append(session, case_id=case.id, action=action, from_status=case.status.value,
                 to_status=target.value, actor=principal.actor, role=principal.role.value,
                 on=day, comment=comment)
    session.execute(update(ApprovalCase).where(ApprovalCase.id == case_id)
                    .values(status=target, last_step_on=day))
    session.expire(case)
    return get_case(session=session, case_id=case_id, principal=principal)


# -- reading ----------------------------------------------------------------------------
def _steps(session: Session, case_ids: list[int]) -> dict[int, list[tuple[str, date]]]:
    steps: dict[int, list[tuple[str, date]]] = {i: [] for i in case_ids}
    for case_id, action, on in session.execute(
            select(ApprovalEvent.case_id, ApprovalEvent.action, ApprovalEvent.on)
            .where(ApprovalEvent.case_id.in_(case_ids))
            .order_by(ApprovalEvent.case_id, ApprovalEvent.seq)):
        steps[case_id].append((action, on))
    return steps


def _clocks(session: Session, cases: list[ApprovalCase], as_of: date) -> dict[int, Any]:
    steps = _steps(session, [c.id for c in cases])
    rules = {}
    out = {}
    for case in cases:
        if case.district not in rules:
            rules[case.district] = effective(session, "approval_deadlines", case.district)
        limits = clock.limits(rules[case.district], case.channel.value)
        out[case.id] = clock.case_clock(steps[case.id], limits, as_of)
    return out


def _clock_fields(clocked: clock.CaseClock) -> dict[str, Any]:
    return {"stage": clocked.stage, "overdue": clocked.overdue,
            "stages": [{k: v.isoformat() if isinstance(v, date) else v
                        for k, v in dataclasses.asdict(s).items()} for s in clocked.stages]}


def _days_left(clocked: clock.CaseClock) -> int | None:
    """The open stage's working days left (None when no stage is open)."""
    return next((s.working_days_left for s in clocked.stages if s.stage == clocked.stage),
                None)


def as_dict(case: ApprovalCase, clocked: clock.CaseClock) -> dict[str, Any]:
    area = float(case.area_m2)
    return {
        "id": case.id,
        "applicant_uscc": case.applicant_uscc, "consortium_id": case.consortium_id,
        "parcel_id": case.parcel_id, "offering_id": case.offering_id,
        "demand_id": case.demand_id, "project_name": case.project_name,
        "investment_wan": number(case.investment_wan), "industry_code": case.industry_code,
        "area_m2": area, "area_ha": round(area / M2_PER_HA, 4), "district": case.district,
        "channel": case.channel.value, "channel_label": case.channel.label,
        "channel_reason": case.channel_reason, "applicant_tier": case.applicant_tier.value,
        "status": case.status.value, "status_label": case.status.label,
        "filed_on": case.filed_on.isoformat(), "last_step_on": case.last_step_on.isoformat(),
        "allowed_actions": LIFECYCLE.allowed(case.status),
        **_clock_fields(clocked),
    }


def get_case(*, session: Session, case_id: int, principal: Principal | None,
             as_of: date | None = None) -> dict:
    case = _load(session, case_id, principal)
    return as_dict(case, _clocks(session, [case], as_of or today())[case.id])


def history(*, session: Session, case_id: int, principal: Principal | None) -> list[dict]:
    _load(session, case_id, principal)
    return audit.history(session, case_id)


def _visible(principal: Principal | None):
    principal = access.require_role(principal, Role.enterprise, Role.bureau, Role.admin)
    if principal.role is Role.admin:
        return ApprovalCase.id.is_not(None)
    if principal.role is Role.enterprise:
        mine = select(ConsortiumMember.consortium_id).where(
            ConsortiumMember.uscc == principal.enterprise_uscc)
        return ((ApprovalCase.applicant_uscc == principal.enterprise_uscc)
                | ApprovalCase.consortium_id.in_(mine))
    return lists.adcode_prefix_clause(ApprovalCase.district, principal.jurisdiction or "00")


def search_cases(*, session: Session, status: ApprovalStatus | None, channel: Channel | None,
                 overdue: bool | None, as_of: date | None, page: lists.Page,
                 principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """The caller's cases filed by ``as_of`` (default today), most urgent first: the open
    stage's working days left (fewest first, overdue ones ahead), the green channel ahead at
    equal urgency, then the oldest filing; closed cases after the open ones."""
    day = as_of or today()
    query = select(ApprovalCase).where(_visible(principal), ApprovalCase.filed_on <= day)
    if status is not None:
        query = query.where(ApprovalCase.status == status)
    if channel is not None:
        query = query.where(ApprovalCase.channel == channel)
    if overdue is not None:
        query = query.where(ApprovalCase.status.not_in(CLOSED))
    cases = list(session.scalars(query))
    clocks = _clocks(session, cases, day)
    if overdue is not None:
        cases = [c for c in cases if clocks[c.id].overdue is overdue]

    def urgency(case: ApprovalCase):
        left = _days_left(clocks[case.id])
        return (left is None, left if left is not None else 0,
                case.channel is not Channel.green, case.filed_on, case.id)

    cases.sort(key=urgency)
    matched = lists.Matched(len(cases), True, page.offset + page.limit < len(cases))
    chosen = cases[page.offset:page.offset + page.limit]
    return [as_dict(c, clocks[c.id]) for c in chosen], matched


# -- the figures a bureau reports upward ---------------------------------------------------
def stats(*, session: Session, jurisdiction: str | None, start: date | None, end: date | None,
          principal: Principal | None) -> dict:
    """Per channel, for the cases filed within ``start``–``end`` inside ``jurisdiction``:
    the number of cases; per stage and in total (paused days excluded) the median and P90 of
    the working days used, interpolated as PostgreSQL's ``percentile_cont``; and the overdue
    rate — the share of decided cases with any stage overdue."""
    principal = access.require_role(principal, Role.bureau, Role.admin)
    scope = jurisdiction or principal.jurisdiction or "44"
    access.require_manage(principal, [scope])
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"from: {start.isoformat()} 晚于 to {end.isoformat()}",
                           code="dates_in_wrong_order")
    query = select(ApprovalCase).where(lists.adcode_prefix_clause(ApprovalCase.district, scope,
                                                                  "jurisdiction"))
    if start is not None:
        query = query.where(ApprovalCase.filed_on >= start)
    if end is not None:
        query = query.where(ApprovalCase.filed_on <= end)
    cases = list(session.scalars(query))
    day = today()
    clocks = _clocks(session, cases, day)
    channels = {}
    for channel in Channel:
        mine = [c for c in cases if c.channel is channel]
        per_stage = {s.value: [] for s in Stage}
        totals, decided, late = [], 0, 0
        for case in mine:
            closed = [s for s in clocks[case.id].stages if s.closed_on is not None]
            for s in closed:
                per_stage[s.stage].append(s.working_days_used)
            if case.status in (A.approved, A.rejected):
                totals.append(sum(s.working_days_used for s in closed))
                decided += 1
                late += any(s.overdue for s in clocks[case.id].stages)
        channels[channel.value] = {
            "channel_label": channel.label, "cases": len(mine), "decided": decided,
            "stages": {stage: _spread(days) for stage, days in per_stage.items()},
            "total": _spread(totals),
            "overdue_rate": round(late / decided, 4) if decided else None,
        }
    return {"jurisdiction": scope, "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None, "channels": channels}


def _spread(days: list[int]) -> dict[str, float | int | None]:
    """Median and P90 with linear interpolation between the closest ranks (numpy's
    'linear', which is what ``percentile_cont`` computes)."""
    if not days:
        return {"cases": 0, "median": None, "p90": None}
    values = np.array(days, dtype=np.float64)
    return {"cases": len(days), "median": float(np.percentile(values, 50)),
            "p90": float(np.percentile(values, 90))}
