"""Split transfer of industrial property (分割转让): units of a building and their transfers.

Rules (defaults in :mod:`.rules`, configurable per jurisdiction): only a completed building
held by a manufacturer is split; units are the whole building or whole floors and add up to
no more than its floor area; the original holder keeps a minimum share; a transferred unit is
locked against resale for some years. Every write locks the building row, so two concurrent
transfers are checked one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import OPERATOR, Principal
from landsvc.buildings.models import Building, BuildingUnit, UnitTransfer
from landsvc.buildings.rules import MANUFACTURING_SECTION, SplitTransferRules, lock_end
from landsvc.buildings.service import lock_building
from landsvc.enterprises.service import registered_name
from landsvc.errors import InvalidInput, NotFound
from landsvc.fields import amount_field, flag_field, shown, text_field, today, uscc_field
from landsvc.policies.service import effective


def _rules(session: Session, building: Building) -> SplitTransferRules:
    return effective(session, "split_transfer", building.district)


def _check_splittable(building: Building, rules: SplitTransferRules) -> None:
    """Only a completed building held by a manufacturer may be split and its units sold."""
    if rules.require_completed and not building.completed:
        raise InvalidInput(f"楼栋「{building.name}」尚未竣工验收（completed=false）：只有已竣工、"
                           "已确权登记的工业物业可以分割转让", code="building_not_completed")
    if not building.holder_uscc:
        raise InvalidInput(f"楼栋「{building.name}」未登记权利人（holder_uscc），不能分割转让",
                           code="holder_unknown")
    industry = building.holder_industry_code
    if rules.require_manufacturer and not (industry or "").startswith(MANUFACTURING_SECTION):
        raise InvalidInput(
            f"楼栋权利人行业代码为 {industry or '空'}：只有制造业企业（GB/T 4754 门类 C）"
            "的工业物业可以分割转让", code="holder_not_manufacturer")


@dataclass
class _Split:
    """A building's units and their transfers (oldest first), read under the building lock."""

    building: Building
    units: list[BuildingUnit]
    transfers: dict[int, list[UnitTransfer]]

    def holder_of(self, unit: BuildingUnit) -> tuple[str | None, str | None]:
        chain = self.transfers.get(unit.id)
        if chain:
            return chain[-1].buyer_uscc, chain[-1].buyer_name
        return self.building.holder_uscc, self.building.holder_name

    def holder_area(self) -> Decimal:
        """The floor area the building's holder still holds."""
        others = sum((u.area_m2 for u in self.units
                      if self.holder_of(u)[0] != self.building.holder_uscc), Decimal(0))
        return self.building.total_floor_area_m2 - others

    def unit_dict(self, unit: BuildingUnit) -> dict[str, Any]:
        chain = self.transfers.get(unit.id, [])
        holder_uscc, holder_name = self.holder_of(unit)
        return {
            "id": unit.id,
            "building_id": unit.building_id,
            "floors": list(unit.floors) if unit.floors is not None else None,
            "whole_building": unit.whole_building,
            "area_m2": float(unit.area_m2),
            "holder_uscc": holder_uscc,
            "holder_name": holder_name,
            "locked_until": chain[-1].locked_until.isoformat() if chain else None,
            "transfers": [{
                "id": t.id,
                "seller_uscc": t.seller_uscc,
                "buyer_uscc": t.buyer_uscc,
                "buyer_name": t.buyer_name,
                "chain_partner": t.chain_partner,
                "date": t.transfer_date.isoformat(),
                "locked_until": t.locked_until.isoformat(),
            } for t in chain],
            "created_at": unit.created_at.isoformat(),
        }

    def summary(self) -> dict[str, Any]:
        total = self.building.total_floor_area_m2
        held = self.holder_area()
        return {
            "building_id": self.building.id,
            "holder_uscc": self.building.holder_uscc,
            "holder_area_m2": float(held),
            "holder_share_percent": float((held * 100 / total).quantize(Decimal("0.01"))),
        }


def _split_of(session: Session, building: Building,
              unit_ids: list[int] | None = None) -> _Split:
    """The building's units (or only ``unit_ids``) and their transfers."""
    query = select(BuildingUnit).where(BuildingUnit.building_id == building.id)
    if unit_ids is not None:
        query = query.where(BuildingUnit.id == func.any(unit_ids))
    units = list(session.scalars(query.order_by(BuildingUnit.id)))
    transfers: dict[int, list[UnitTransfer]] = {}
    if units:
        rows = session.scalars(
            select(UnitTransfer).where(UnitTransfer.unit_id == func.any([u.id for u in units]))
            .order_by(UnitTransfer.transfer_date, UnitTransfer.id))
        for t in rows:
            transfers.setdefault(t.unit_id, []).append(t)
    return _Split(building, units, transfers)


def _require_split_reader(session: Session, principal: Principal | None,
                          building: Building) -> None:
    """Property records are not public (不动产登记资料): bureaus in the jurisdiction, admins,
    the building's holder and any enterprise that bought a unit of it."""
    uscc = principal.enterprise_uscc if principal is not None else None
    if uscc and uscc == building.holder_uscc:
        return
    if uscc and session.scalar(
        select(UnitTransfer.id).join(BuildingUnit, BuildingUnit.id == UnitTransfer.unit_id)
        .where(BuildingUnit.building_id == building.id, UnitTransfer.buyer_uscc == uscc).limit(1)
    ) is not None:
        return
    access.require_manage(principal, [building.district])


def list_units(*, session: Session, building_id: int, page: lists.Page,
               principal: Principal | None) -> tuple[list[dict], lists.Matched, dict]:
    """One page of a building's units (by id), how many in all, and the holder's share."""
    building = session.get(Building, building_id)
    if building is None:
        raise NotFound(f"楼栋 {building_id} 不存在")
    _require_split_reader(session, principal, building)
    rows, matched = lists.fetch_page(
        session, select(BuildingUnit.id).order_by(BuildingUnit.id),
        where=BuildingUnit.building_id == building_id, page=page, count_from=BuildingUnit)
    whole = _split_of(session, building)
    on_page = {r.id for r in rows}
    items = [whole.unit_dict(u) for u in whole.units if u.id in on_page]
    return items, matched, whole.summary()


def get_unit(*, session: Session, unit_id: int, principal: Principal | None) -> dict:
    """One unit with its transfers."""
    building_id = session.scalar(select(BuildingUnit.building_id).where(BuildingUnit.id == unit_id))
    if building_id is None:
        raise NotFound(f"分割单元 {unit_id} 不存在")
    building = session.get(Building, building_id)
    _require_split_reader(session, principal, building)
    split = _split_of(session, building, [unit_id])
    return split.unit_dict(split.units[0])


def define_unit(*, session: Session, building_id: int, body: Mapping,
                principal: Principal = OPERATOR) -> dict:
    """Record a unit of whole floors or the whole building (分割单元)."""
    building = lock_building(session, building_id)
    access.require_manage(principal, [building.district])
    _check_splittable(building, _rules(session, building))
    floors, whole = body.get("floors"), flag_field(body, "whole_building")
    if whole == bool(floors) or (whole and floors is not None):
        raise InvalidInput("floors: 单元须为整栋（whole_building: true）或若干整层（floors: [层号…]），"
                           "二者取一", code="unit_floors_or_whole_building")
    area = amount_field(body, "area_m2", "单元建筑面积", precision=14, scale=2, required=True,
                        unit=" ㎡")
    split = _split_of(session, building)
    if whole:
        if split.units:
            raise InvalidInput(f"whole_building: 楼栋已有 {len(split.units)} 个分割单元，"
                               "整栋单元不能与其他单元并存", code="unit_overlaps_whole_building")
    else:
        floors = _checked_floors(floors, building)
        for unit in split.units:
            if unit.whole_building:
                raise InvalidInput(f"floors: 楼栋已整栋分割为单元 {unit.id}，不能再按层分割",
                                   code="unit_overlaps_whole_building")
            shared = sorted(set(floors) & set(unit.floors))
            if shared:
                raise InvalidInput(f"floors: 第 {'、'.join(map(str, shared))} 层已属于单元 {unit.id}"
                                   "：一层只能属于一个单元", code="unit_floors_overlap")
    taken = sum((u.area_m2 for u in split.units), Decimal(0))
    total = building.total_floor_area_m2
    if taken + area > total:
        raise InvalidInput(
            f"area_m2: 各单元面积合计不得超过楼栋总建筑面积 {total} ㎡：已有单元 {taken} ㎡，"
            f"本单元 {area} ㎡，最多还可 {total - taken} ㎡", code="units_exceed_building",
            extra={"total_floor_area_m2": float(total), "units_area_m2": float(taken),
                   "available_m2": float(total - taken)})
    unit_id = session.scalar(insert(BuildingUnit).values(
        building_id=building_id, floors=None if whole else floors, whole_building=whole,
        area_m2=area).returning(BuildingUnit.id))
    split = _split_of(session, building, [unit_id])
    return split.unit_dict(split.units[0])


def _checked_floors(floors: Any, building: Building) -> list[int]:
    if not isinstance(floors, list) or not all(
            isinstance(f, int) and not isinstance(f, bool) for f in floors):
        raise InvalidInput("floors: 应为楼层号（整数）列表", code="invalid_value")
    outside = sorted({f for f in floors if not 1 <= f <= building.floors})
    if outside:
        listed = "、".join(shown(f) for f in outside[:5])
        raise InvalidInput(f"floors: 楼层须在 1–{building.floors} 之间（楼栋「{building.name}」"
                           f"共 {building.floors} 层），收到 {listed}", code="unit_floor_out_of_range")
    repeated = sorted({f for f in floors if floors.count(f) > 1})
    if repeated:
        raise InvalidInput(f"floors: 第 {'、'.join(map(str, repeated))} 层重复", code="invalid_value")
    return sorted(floors)


def transfer_unit(*, session: Session, unit_id: int, body: Mapping,
                  principal: Principal = OPERATOR) -> dict:
    """Record the transfer of a unit to an industry-chain partner, under the rules in force in
    the building's district; the building stays locked while they are checked."""
    building_id = session.scalar(select(BuildingUnit.building_id).where(BuildingUnit.id == unit_id))
    if building_id is None:
        raise NotFound(f"分割单元 {unit_id} 不存在")
    building = lock_building(session, building_id)
    access.require_manage(principal, [building.district])
    rules = _rules(session, building)
    _check_splittable(building, rules)
    if body.get("chain_partner") is not True:
        raise InvalidInput("chain_partner: 受让人须为转让人的产业链合作企业（chain_partner: true）",
                           code="not_chain_partner")
    buyer = uscc_field(body, "buyer_uscc", "受让人统一社会信用代码", required=True)
    # a registered buyer's name comes from its record
    body = {**body, "buyer_name": registered_name(session, buyer, body.get("buyer_name"),
                                                  "buyer_name")}
    buyer_name = text_field(body, "buyer_name", "受让人名称", 200, required=True)
    on = body.get("date") or today()
    if on > today():
        raise InvalidInput(f"date: 转让日期 {on} 晚于今天（{today()}）", code="transfer_date_in_future")

    split = _split_of(session, building)
    unit = next(u for u in split.units if u.id == unit_id)
    seller, _ = split.holder_of(unit)
    if buyer == seller:
        raise InvalidInput(f"buyer_uscc: 受让人 {buyer} 已是单元 {unit_id} 的现权利人",
                           code="buyer_is_holder")
    chain = split.transfers.get(unit_id, [])
    if chain:
        last = chain[-1]
        if on < last.transfer_date:
            raise InvalidInput(f"date: 转让日期 {on} 早于该单元上一次转让（{last.transfer_date}）",
                               code="transfer_before_previous")
        if on <= last.locked_until:
            lifts = last.locked_until + timedelta(days=1)
            raise InvalidInput(
                f"date: 单元 {unit_id} 于 {last.transfer_date} 转让，锁定至 {last.locked_until}"
                f"（含）不得再次转让，{lifts} 起方可转让", code="resale_locked",
                extra={"locked_until": last.locked_until.isoformat(),
                       "lifts_on": lifts.isoformat()})
    if seller == building.holder_uscc:
        _check_holder_share(split, unit, rules)
    session.add(UnitTransfer(
        unit_id=unit_id, seller_uscc=seller, buyer_uscc=buyer, buyer_name=buyer_name,
        chain_partner=True, transfer_date=on,
        locked_until=lock_end(on, rules.resale_lock_years)))
    session.flush()
    split = _split_of(session, building, [unit_id])
    return split.unit_dict(split.units[0])


def _check_holder_share(split: _Split, unit: BuildingUnit, rules: SplitTransferRules) -> None:
    """The original holder keeps at least the minimum share of the floor area."""
    total = split.building.total_floor_area_m2
    after = split.holder_area() - unit.area_m2
    minimum_percent = Decimal(str(rules.holder_min_share_percent))
    if after * 100 >= minimum_percent * total:
        return
    minimum = (total * minimum_percent / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    share = (after * 100 / total).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    raise InvalidInput(
        f"转让后原权利人 {split.building.holder_uscc} 仅持有 {after} ㎡，占总建筑面积 {total} ㎡ 的 "
        f"{share} %，低于 {minimum_percent.normalize():f} % 的下限（须至少保留 {minimum} ㎡；"
        f"本单元 {unit.area_m2} ㎡）", code="holder_share_below_minimum",
        extra={"holder_area_after_m2": float(after), "holder_share_after_percent": float(share),
               "minimum_share_percent": float(minimum_percent),
               "minimum_area_m2": float(minimum)})
