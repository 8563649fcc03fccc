"""Enterprises (企业) and consortia (联合竞买体): register, read, edit; the tier in force.

Enterprise data is not public. An enterprise sees and edits its own record only; a bureau
the enterprises of the districts it governs; an admin everything. The tier a bureau records
counts only inside its validity (:func:`effective_tier`, 有进有出); other domains ask
:func:`enterprise_tier` / :func:`consortium_tier`, or filter with :func:`effective_tier_sql`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, aliased

from landsvc import access, fields, lists
from landsvc.access import OPERATOR, Principal
from landsvc.districts.models import District
from landsvc.enterprises.models import (
    Consortium,
    ConsortiumMember,
    Enterprise,
    EvaluationGrade,
)
from landsvc.enterprises.tiers import (
    Tier,
    effective_tier,
    uscc_check_character,
    uscc_check_passes,
)
from landsvc.errors import Conflict, Forbidden, InvalidInput, NotFound
from landsvc.etags import check_if_match, etag
from landsvc.tokens.models import Role

__all__ = [
    "ConsortiumFilter", "EnterpriseFilter", "consortium_tier", "consortium_tiers",
    "create_consortium", "create_enterprise", "effective_tier", "effective_tier_sql",
    "enterprise_tier", "get_consortium", "get_enterprise", "registered_name",
    "search_consortia", "search_enterprises", "tier_rank_sql", "update_enterprise",
]

BUREAU_FIELDS = ("tier", "tier_valid_from", "tier_valid_to", "evaluation_year",
                 "evaluation_grade")
"""What only a bureau or an admin records: an enterprise may not change these."""

_READERS = (Role.enterprise, Role.bureau, Role.admin)


# -- the tier in force --------------------------------------------------------------------
def effective_tier_sql(on: date, entity: Any = Enterprise) -> ColumnElement:
    """SQL for the tier of ``entity`` (Enterprise or an alias of it) in force on ``on``."""
    valid = and_(or_(entity.tier_valid_from.is_(None), entity.tier_valid_from <= on),
                 or_(entity.tier_valid_to.is_(None), entity.tier_valid_to >= on))
    return case((valid, entity.tier), else_=literal(Tier.none.value))


def tier_rank_sql(tier_sql: ColumnElement) -> ColumnElement:
    """SQL for a tier's rank (``Tier.rank``: 0 = none … 3 = little_giant), to order by."""
    return case({t.value: t.rank for t in Tier}, value=tier_sql, else_=0)


def enterprise_tier(session: Session, uscc: str, on: date | None = None) -> Tier:
    """The tier of enterprise ``uscc`` in force on ``on`` (default today in China);
    ``none`` for an unregistered code."""
    row = session.execute(select(Enterprise.tier, Enterprise.tier_valid_from,
                                 Enterprise.tier_valid_to)
                          .where(Enterprise.uscc == uscc)).one_or_none()
    if row is None:
        return Tier.none
    return effective_tier(*row, on or fields.today())


def consortium_tiers(session: Session, consortium_ids: Iterable[int],
                     on: date | None = None) -> dict[int, Tier]:
    """The tier in force on ``on`` of each consortium (see :func:`derive_consortium_tier`)."""
    on = on or fields.today()
    rows = session.execute(
        select(ConsortiumMember.consortium_id, ConsortiumMember.uscc,
               ConsortiumMember.share_percent, Consortium.lead_uscc, Enterprise.tier,
               Enterprise.tier_valid_from, Enterprise.tier_valid_to)
        .join(Consortium, Consortium.id == ConsortiumMember.consortium_id)
        .join(Enterprise, Enterprise.uscc == ConsortiumMember.uscc)
        .where(ConsortiumMember.consortium_id.in_(list(consortium_ids)))
    ).all()
    members: dict[int, list[tuple[Tier, Decimal, bool]]] = {}
    for row in rows:
        tier = effective_tier(row.tier, row.tier_valid_from, row.tier_valid_to, on)
        members.setdefault(row.consortium_id, []).append(
            (tier, row.share_percent, row.uscc == row.lead_uscc))
    return {cid: derive_consortium_tier(m) for cid, m in members.items()}


def consortium_tier(session: Session, consortium_id: int, on: date | None = None) -> Tier:
    """The tier of consortium ``consortium_id`` in force on ``on`` (default today)."""
    return consortium_tiers(session, [consortium_id], on).get(consortium_id, Tier.none)


def derive_consortium_tier(members: Iterable[tuple[Tier, Decimal, bool]]) -> Tier:
    """A consortium's tier from its members' ``(effective tier, share %, is lead)``.

    The lower of the lead's tier and the *majority tier* — the highest tier that members
    holding together at least half of the shares all reach. A little giant leading with
    30 % beside 70 % of non-SRDI partners is ``none``: priority goes where an SRDI enterprise
    both leads and, with its SRDI partners, controls at least half.
    """
    members = list(members)
    lead = next((tier for tier, _, is_lead in members if is_lead), Tier.none)
    majority = Tier.none
    for candidate in sorted(Tier, key=lambda t: t.rank, reverse=True):
        held = sum((share for tier, share, _ in members if tier.rank >= candidate.rank),
                   Decimal(0))
        if held * 2 >= 100:
            majority = candidate
            break
    return min(lead, majority, key=lambda t: t.rank)


# -- enterprises: reading -----------------------------------------------------------------
@dataclass(frozen=True)
class EnterpriseFilter:
    district: str | None = None
    tier: Tier | None = None
    effective_tier: Tier | None = None
    industry: str | None = None

    def clauses(self, on: date) -> list[ColumnElement]:
        return [
            lists.adcode_prefix_clause(Enterprise.district, self.district),
            lists.equals_clause(Enterprise.tier, self.tier),
            true() if self.effective_tier is None
            else effective_tier_sql(on) == self.effective_tier.value,
            _industry_clause(self.industry),
        ]


_INDUSTRY_FILTER = re.compile(r"[A-T](?:[0-9]{2,4})?")


def _industry_clause(code: str | None) -> ColumnElement:
    if code is None:
        return true()
    wanted = code.strip().upper()
    if not _INDUSTRY_FILTER.fullmatch(wanted):
        raise InvalidInput(f"industry: 应为 GB/T 4754-2017 行业门类字母或代码（如 C、C39、C3971），"
                           f"收到 {code[:20]!r}", code="invalid_industry_code")
    return func.starts_with(Enterprise.industry_code, wanted)


def _enterprise_visible(principal: Principal | None) -> ColumnElement:
    """Nothing is public: bureaus see their districts, an enterprise its own record."""
    return access.read_filter(principal, public=false(), district=Enterprise.district,
                              owner=Enterprise.uscc)


def _enterprise_query():
    return (select(Enterprise, District.name.label("district_name"),
                   literal_column("enterprise.xmin::text").label("version"))
            .select_from(Enterprise)
            .outerjoin(District, District.adcode == Enterprise.district))


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()


def _labelled(name: str, value) -> dict[str, Any]:
    return {name: None if value is None else value.value,
            f"{name}_label": None if value is None else value.label}


def _enterprise_item(e: Enterprise, district_name: str | None, on: date) -> dict[str, Any]:
    tier = Tier(e.tier)
    grade = None if e.evaluation_grade is None else EvaluationGrade(e.evaluation_grade)
    return {
        "uscc": e.uscc,
        "name": e.name,
        "district": e.district,
        "district_name": district_name,
        "industry_code": e.industry_code,
        **_labelled("tier", tier),
        "tier_valid_from": _iso(e.tier_valid_from),
        "tier_valid_to": _iso(e.tier_valid_to),
        **_labelled("effective_tier",
                    effective_tier(tier, e.tier_valid_from, e.tier_valid_to, on)),
        "evaluation_year": e.evaluation_year,
        **_labelled("evaluation_grade", grade),
        "webhook_url": e.webhook_url,
        "uscc_check_override": e.uscc_check_override,
        "override_by": e.override_by,
        "override_at": _iso(e.override_at),
        "created_at": _iso(e.created_at),
        "updated_at": _iso(e.updated_at),
    }


def search_enterprises(*, session: Session, flt: EnterpriseFilter, page: lists.Page,
                       principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """One page of the enterprises the caller may see (by USCC), and how many match."""
    access.require_role(principal, *_READERS)
    on = fields.today()
    rows, matched = lists.fetch_page(
        session, _enterprise_query().order_by(Enterprise.uscc),
        where=and_(_enterprise_visible(principal), *flt.clauses(on)), page=page,
        count_from=Enterprise)
    return [_enterprise_item(row.Enterprise, row.district_name, on) for row in rows], matched


def get_enterprise(*, session: Session, uscc: str,
                   principal: Principal | None) -> tuple[dict, str]:
    """One enterprise and its ETag; 404 when missing or not the caller's to see."""
    access.require_role(principal, *_READERS)
    row = session.execute(_enterprise_query().where(
        Enterprise.uscc == uscc.strip().upper(), _enterprise_visible(principal))).one_or_none()
    if row is None:
        raise NotFound(f"企业 {uscc[:40]} 不存在")
    return (_enterprise_item(row.Enterprise, row.district_name, fields.today()),
            etag(row.Enterprise.uscc, row.version))


# -- enterprises: writing -----------------------------------------------------------------
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)


def _checked(session: Session, props: Mapping[str, Any]) -> dict[str, Any]:
    """An enterprise's writable columns from merged properties, or raise naming the field."""
    values: dict[str, Any] = {
        "name": fields.text_field(props, "name", "企业名称", 200, required=True),
        "district": fields.text_field(props, "district", "所在区县", 6 * 4, required=True),
        "industry_code": fields.industry_code_field(props, "industry_code", "行业代码"),
        "tier": fields.choice_field(props, "tier", Tier, default=Tier.none),
        "tier_valid_from": props.get("tier_valid_from"),
        "tier_valid_to": props.get("tier_valid_to"),
        "evaluation_year": props.get("evaluation_year"),
        "evaluation_grade": fields.choice_field(props, "evaluation_grade", EvaluationGrade),
        "webhook_url": fields.text_field(props, "webhook_url", "通知回调地址", 500),
    }
    district = values["district"]
    if not (re.fullmatch(r"44[0-9]{4}", district)
            and session.get(District, district) is not None):
        raise InvalidInput(f"district: {district[:24]!r} 不是广东省的区县行政区划代码"
                           "（6 位，如 440306）", code="unknown_district")
    start, end = values["tier_valid_from"], values["tier_valid_to"]
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"tier_valid_to: 梯度有效期截止日 {end} 早于起始日 {start}",
                           code="tier_validity")
    if (values["evaluation_year"] is None) != (values["evaluation_grade"] is None):
        raise InvalidInput("evaluation_grade: 粤产粤优评价年度与等级须同时填写或同时为空",
                           code="evaluation_incomplete")
    if values["webhook_url"] is not None and not _URL.fullmatch(values["webhook_url"]):
        raise InvalidInput("webhook_url: 应为 http:// 或 https:// 开头的地址",
                           code="invalid_webhook_url")
    return values


def _normalised_uscc(value: str, name: str = "uscc") -> str:
    uscc = fields.uscc_field({name: value}, name, "统一社会信用代码", required=True)
    assert uscc is not None
    return uscc


def _signature(principal: Principal) -> str:
    """Who overrode a check, as the token tells it: role and jurisdiction."""
    return f"{principal.role.value}:{principal.jurisdiction}" if principal.jurisdiction \
        else principal.role.value


def create_enterprise(*, session: Session, properties: dict[str, Any],
                      principal: Principal = OPERATOR) -> tuple[dict, str]:
    """Register an enterprise.

    A code whose check character is wrong is refused (``uscc_check_failed``) unless a bureau
    or admin sends ``uscc_check_override``; who and when is recorded. An enterprise may
    register only its own code, and its tier stays ``none`` until a bureau sets it.
    """
    principal = access.require_role(principal, *_READERS)
    uscc = _normalised_uscc(properties.get("uscc"))
    override = bool(properties.get("uscc_check_override"))
    props = dict(properties)
    if principal.role is Role.enterprise:
        if uscc != principal.enterprise_uscc:
            raise Forbidden(f"uscc: 企业令牌只能登记本企业（{principal.enterprise_uscc}），"
                            f"不能登记 {uscc}", code="not_own_enterprise")
        if override:
            raise Forbidden("uscc_check_override: 只有主管部门或管理员可以强制登记校验未通过的代码",
                            code="override_not_allowed")
        for name in BUREAU_FIELDS:  # recorded by a bureau, never self-declared
            props.pop(name, None)
    overridden = False
    if not uscc_check_passes(uscc):
        if not override:
            expected = uscc_check_character(uscc)
            raise InvalidInput(
                f"uscc: 统一社会信用代码 {uscc} 校验码错误：第 18 位应为 {expected!r}，"
                f"收到 {uscc[17]!r}（GB 32100-2015）；确属登记在册的代码，主管部门可带 "
                "\"uscc_check_override\": true 强制登记",
                code="uscc_check_failed", extra={"field": "uscc", "expected": expected})
        overridden = True
    values = _checked(session, props)
    if principal.role is not Role.enterprise:
        access.require_manage(principal, [values["district"]])
    if session.get(Enterprise, uscc) is not None:
        raise Conflict(f"uscc: 企业 {uscc} 已登记", code="duplicate_enterprise")
    if overridden:
        values |= {"uscc_check_override": True, "override_by": _signature(principal),
                   "override_at": func.now()}
    session.execute(insert(Enterprise).values(uscc=uscc, **values))
    return get_enterprise(session=session, uscc=uscc, principal=principal)


def update_enterprise(*, session: Session, uscc: str, properties: dict[str, Any],
                      principal: Principal = OPERATOR,
                      if_match: list[str] | None = None) -> tuple[dict, str]:
    """Change only the given properties; the record is checked whole.

    An enterprise edits its own record but not its tier, validity or evaluation (403); a
    bureau must govern the district before and after.
    """
    principal = access.require_role(principal, *_READERS)
    row = session.execute(
        select(Enterprise, literal_column("enterprise.xmin::text"))
        .where(Enterprise.uscc == uscc.strip().upper(), _enterprise_visible(principal))
        .with_for_update(of=Enterprise)).one_or_none()
    if row is None:
        raise NotFound(f"企业 {uscc[:40]} 不存在")
    current, version = row
    check_if_match(if_match, etag(current.uscc, version), f"企业 {current.uscc} ")
    stored = {name: getattr(current, name) for name in
              ("name", "district", "industry_code", "webhook_url", *BUREAU_FIELDS)}
    if principal.role is Role.enterprise:
        for name in BUREAU_FIELDS:
            if name in properties and properties[name] != stored[name]:
                raise Forbidden(f"{name}: 梯度、有效期和粤产粤优评价由主管部门认定，企业不能修改",
                                code="field_reserved_for_bureau")
    else:
        access.require_manage(principal, [current.district])
    values = _checked(session, stored | properties)
    if principal.role is not Role.enterprise:
        access.require_manage(principal, [values["district"]])
    session.execute(update(Enterprise).where(Enterprise.uscc == current.uscc)
                    .values(**values, updated_at=func.now()))
    session.expire(current)
    return get_enterprise(session=session, uscc=current.uscc, principal=principal)


def registered_name(session: Session, uscc: str | None, name: Any, field: str) -> Any:
    """The name to store for party ``uscc`` (an awardee, a buyer): a registered enterprise's
    own name — a given name must match it (NFKC, so （） and () agree) — else ``name`` as
    given, the free-text path kept for parties that are not registered."""
    stored = None if not uscc else session.scalar(
        select(Enterprise.name).where(Enterprise.uscc == uscc.strip().upper()))
    if stored is None or not (name is None or isinstance(name, str)):
        return name
    if name and name.strip() and _comparable(name) != _comparable(stored):
        raise InvalidInput(f"{field}: 名称 {name.strip()[:60]!r} 与已登记企业 {uscc.strip().upper()} "
                           f"的名称 {stored!r} 不符（可省略名称，按登记名称填写）",
                           code="name_mismatch")
    return stored


def _comparable(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


# -- consortia ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ConsortiumFilter:
    member: str | None = None

    def clauses(self) -> list[ColumnElement]:
        if self.member is None:
            return [true()]
        return [exists().where(ConsortiumMember.consortium_id == Consortium.id,
                               ConsortiumMember.uscc == self.member.strip().upper())]


_Lead = aliased(Enterprise, name="lead")


def _consortium_visible(principal: Principal | None) -> ColumnElement:
    """Members, bureaus governing the lead's district, admins (the query joins the lead)."""
    member = exists().where(ConsortiumMember.consortium_id == Consortium.id,
                            ConsortiumMember.uscc == principal.enterprise_uscc) \
        if principal is not None and principal.enterprise_uscc else false()
    return access.read_filter(principal, public=member, district=_Lead.district)


def _consortium_query():
    return (select(Consortium, _Lead.district.label("lead_district")).select_from(Consortium)
            .join(_Lead, _Lead.uscc == Consortium.lead_uscc))


def _consortium_items(session: Session, rows, on: date) -> list[dict]:
    ids = [row.Consortium.id for row in rows]
    members: dict[int, list[dict]] = {}
    shares: dict[int, list[tuple[Tier, Decimal, bool]]] = {}
    for m, name, tier, start, end, lead in session.execute(
        select(ConsortiumMember, Enterprise.name, Enterprise.tier, Enterprise.tier_valid_from,
               Enterprise.tier_valid_to, Consortium.lead_uscc)
        .join(Enterprise, Enterprise.uscc == ConsortiumMember.uscc)
        .join(Consortium, Consortium.id == ConsortiumMember.consortium_id)
        .where(ConsortiumMember.consortium_id.in_(ids))
        .order_by(ConsortiumMember.consortium_id, ConsortiumMember.share_percent.desc(),
                  ConsortiumMember.uscc)
    ):
        in_force = effective_tier(tier, start, end, on)
        members.setdefault(m.consortium_id, []).append({
            "uscc": m.uscc, "name": name, "share_percent": float(m.share_percent),
            **_labelled("effective_tier", in_force)})
        shares.setdefault(m.consortium_id, []).append(
            (in_force, m.share_percent, m.uscc == lead))
    items = []
    for row in rows:
        c = row.Consortium
        items.append({
            "id": c.id, "name": c.name, "lead_uscc": c.lead_uscc,
            "lead_district": row.lead_district,
            "members": members.get(c.id, []),
            **_labelled("effective_tier", derive_consortium_tier(shares.get(c.id, []))),
            "created_at": _iso(c.created_at),
        })
    return items


def search_consortia(*, session: Session, flt: ConsortiumFilter, page: lists.Page,
                     principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """One page of the consortia the caller may see (by id), and how many match."""
    access.require_role(principal, *_READERS)
    where = and_(_consortium_visible(principal), *flt.clauses())
    rows, matched = lists.fetch_page(session, _consortium_query().order_by(Consortium.id),
                                     where=where, page=page,
                                     count_from=Consortium.__table__.join(
                                         _Lead, _Lead.uscc == Consortium.lead_uscc))
    return _consortium_items(session, rows, fields.today()), matched


def get_consortium(*, session: Session, consortium_id: int,
                   principal: Principal | None) -> dict:
    """One consortium with its members; 404 when missing or not the caller's to see."""
    access.require_role(principal, *_READERS)
    row = session.execute(_consortium_query().where(
        Consortium.id == consortium_id, _consortium_visible(principal))).one_or_none()
    if row is None:
        raise NotFound(f"联合竞买体 {consortium_id} 不存在")
    return _consortium_items(session, [row], fields.today())[0]


def create_consortium(*, session: Session, name: str, lead_uscc: str,
                      members: list[dict[str, Any]],
                      principal: Principal = OPERATOR) -> dict:
    """Form a consortium of at least two registered enterprises whose shares sum to 100 %.

    A member enterprise (its own token), a bureau governing the lead's district, or an admin
    may form it.
    """
    principal = access.require_role(principal, *_READERS)
    name = fields.text_field({"name": name}, "name", "联合竞买体名称", 200, required=True)
    lead = _normalised_uscc(lead_uscc, "lead_uscc")
    shares: dict[str, Decimal] = {}
    for i, member in enumerate(members):
        uscc = _normalised_uscc(member.get("uscc"), f"members[{i}].uscc")
        share = Decimal(str(member.get("share_percent")))
        if uscc in shares:
            raise InvalidInput(f"members[{i}].uscc: 成员 {uscc} 重复", code="duplicate_member")
        if not share > 0 or share != share.quantize(Decimal("0.01")):
            raise InvalidInput(f"members[{i}].share_percent: 出资比例须大于 0、至多两位小数，"
                               f"收到 {share}", code="invalid_share")
        shares[uscc] = share
    if len(shares) < 2:
        raise InvalidInput("members: 联合竞买体至少要有两家不同的企业", code="too_few_members")
    total = sum(shares.values(), Decimal(0))
    if total != 100:
        raise InvalidInput(f"members: 各成员出资比例之和须为 100%，现为 {total}%",
                           code="shares_not_100")
    if lead not in shares:
        raise InvalidInput(f"lead_uscc: 牵头企业 {lead} 须是成员之一", code="lead_not_member")
    registered = dict(session.execute(
        select(Enterprise.uscc, Enterprise.district).where(Enterprise.uscc.in_(list(shares)))
    ).all())
    unknown = [u for u in shares if u not in registered]
    if unknown:
        raise InvalidInput(f"members: 企业 {', '.join(unknown)} 尚未登记（请先登记企业）",
                           code="unknown_enterprise")
    if principal.role is Role.enterprise:
        if principal.enterprise_uscc not in shares:
            raise Forbidden(f"企业 {principal.enterprise_uscc} 不是成员，不能组建此联合竞买体",
                            code="not_member")
    else:
        access.require_manage(principal, [registered[lead]])
    consortium_id = session.scalar(insert(Consortium).values(name=name, lead_uscc=lead)
                                   .returning(Consortium.id))
    session.execute(insert(ConsortiumMember), [
        {"consortium_id": consortium_id, "uscc": u, "share_percent": s}
        for u, s in shares.items()])
    return get_consortium(session=session, consortium_id=consortium_id, principal=principal)
