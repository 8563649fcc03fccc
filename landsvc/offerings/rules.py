"""Supply-mode rules (供地方式): which fields each mode takes and the limits they obey.

The modes come from section 九 of Guangdong's 2023 guidance on SRDI enterprises: "通过弹性年期
出让、租赁、先租后让、租让结合等多种灵活供地方式，依法依规优先保障专精特新企业用地需求".
Defaults and their basis (``docs/supply-modes.md`` explains each to a bureau officer):

- industrial land is transferred for at most 50 years (《城镇国有土地使用权出让和转让暂行条例》
  第十二条); a full-term ``transfer`` is exactly that, a shorter one is
  ``flexible_term_transfer`` (5–49 years: the 5-year floor is our default, not a rule);
- a long ``lease`` lasts 5–20 years at a yearly rent of at least 2 % of the parcel's appraised
  50-year price, reviewed at most every 5 years and by at most 10 % a time (Guangzhou,
  穗规划资源规字〔2024〕2号);
- ``lease_then_transfer`` leases first (default 5 years: Guangdong's "2+3", two years to build
  and three to produce), then transfers once the performance conditions are met; the rent
  paid counts against the price (Shenzhen's practice); lease + transfer ≤ 50 years;
- ``lease_and_transfer`` leases part of the parcel (under the lease rules, its rent floor
  pro rata) and transfers the rest (≤ 50 years).

Every limit is a field of :class:`OfferingRules`, registered under ``offerings`` so that a
jurisdiction may change it: ``landsvc policy set 4401 offerings.lease_max_years 15``. The
functions here are pure: they take the rules in force and the offering's values, and either
answer the values to store or raise :class:`~landsvc.errors.InvalidInput` naming the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from landsvc.errors import InvalidInput
from landsvc.offerings.models import SupplyMode
from landsvc.policies.service import register


@dataclass(frozen=True)
class OfferingRules:
    industrial_max_years: int = 50
    """Statutory maximum for industrial land: a ``transfer`` is exactly this long, and no
    transferred phase or lease-then-transfer total may exceed it."""
    flexible_min_years: int = 5
    flexible_max_years: int = 49
    lease_min_years: int = 5
    """Long lease, and the leased part of ``lease_and_transfer``."""
    lease_max_years: int = 20
    rent_floor_percent: float = 2.0
    """Yearly rent ≥ this share of the appraised 50-year price (of the leased share)."""
    rent_review_min_years: int = 5
    rent_review_default_years: int = 5
    rent_review_cap_max_percent: float = 10.0
    rent_review_cap_default_percent: float = 10.0
    lease_then_transfer_lease_min_years: int = 1
    lease_then_transfer_lease_max_years: int = 10
    lease_then_transfer_lease_default_years: int = 5
    transfer_phase_min_years: int = 1
    """The transferred phase of ``lease_then_transfer`` / part of ``lease_and_transfer``."""
    rent_credited_default: bool = True
    """``lease_then_transfer``: rent paid counts against the transfer price."""


DEFAULTS = register("offerings", OfferingRules())

FIELD_LABELS = {
    "term_years": "年期（年）",
    "lease_years": "租赁期（年）",
    "transfer_years": "出让期（年）",
    "lease_share_percent": "租赁部分占比（%）",
    "start_price_wan": "起始价（万元）",
    "annual_rent_yuan": "年租金（元）",
    "appraised_price_wan": "50 年出让评估价（万元）",
    "rent_review_years": "租金调整周期（年）",
    "rent_review_cap_percent": "每次调整涨幅上限（%）",
    "rent_credited": "租金抵扣出让价款",
    "conditions": "履约条件",
}
"""The fields whose presence depends on the supply mode, with their Chinese names."""

MODE_FIELDS = tuple(FIELD_LABELS)

_CONDITION_TARGETS = {
    "investment_intensity_wan_per_mu": "投资强度（万元/亩）",
    "output_per_mu_wan": "亩均产值（万元）",
    "tax_per_mu_wan": "亩均税收（万元）",
}

_LEASE_REVIEW = ("rent_review_years", "rent_review_cap_percent")


@dataclass(frozen=True)
class ModeFields:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.required + self.optional


MODES: Mapping[SupplyMode, ModeFields] = {
    SupplyMode.transfer: ModeFields(("term_years", "start_price_wan"),
                                    ("appraised_price_wan", "conditions")),
    SupplyMode.flexible_term_transfer: ModeFields(("term_years", "start_price_wan"),
                                                  ("appraised_price_wan", "conditions")),
    SupplyMode.lease: ModeFields(("term_years", "annual_rent_yuan", "appraised_price_wan"),
                                 (*_LEASE_REVIEW, "conditions")),
    SupplyMode.lease_then_transfer: ModeFields(
        ("lease_years", "transfer_years", "annual_rent_yuan", "appraised_price_wan",
         "start_price_wan", "conditions"),
        (*_LEASE_REVIEW, "rent_credited")),
    SupplyMode.lease_and_transfer: ModeFields(
        ("lease_share_percent", "lease_years", "transfer_years", "annual_rent_yuan",
         "appraised_price_wan", "start_price_wan"),
        (*_LEASE_REVIEW, "conditions")),
}
"""Per mode, the fields it must have and those it may have; any other mode field is refused."""

_MONEY = ("start_price_wan", "annual_rent_yuan", "appraised_price_wan")
_CENT = Decimal("0.01")


def _label(mode: SupplyMode) -> str:
    return f"{mode.label}（{mode.value}）"


def _decimal(value: Any, field: str) -> Decimal:
    """A number as the database stores it: to 0.01 (floats through their shortest text)."""
    try:
        return Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise _refuse(field, f"{FIELD_LABELS[field]}不是可保存的数值：{value!r}",
                      "out_of_range") from None


def _text(number: Decimal | float | int) -> str:
    """A number for a message: no trailing zeros, no exponent."""
    text = f"{Decimal(str(number)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _refuse(field: str, message: str, code: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", code=code)


# -- the check ----------------------------------------------------------------------------
def check_mode(mode: SupplyMode, values: Mapping[str, Any], rules: OfferingRules
               ) -> dict[str, Any]:
    """The mode fields of an offering in ``mode`` as stored: defaults filled in, amounts
    rounded to 0.01, the fields of other modes None.

    Raises
    ------
    InvalidInput
        At the first rule broken: a field of another mode (``field_not_for_mode``), a missing
        field (``missing_field``), a value not positive, a term, rent or share outside its
        limits — the code names the rule, the detail the field and the limit.
    """
    spec = MODES[mode]
    for field in MODE_FIELDS:
        if field not in spec.allowed and values.get(field) is not None:
            allowed = "、".join(spec.allowed)
            raise _refuse(field, f"{FIELD_LABELS[field]}不适用于{_label(mode)}；该方式可填写：{allowed}",
                          "field_not_for_mode")
    out: dict[str, Any] = dict.fromkeys(MODE_FIELDS)
    out |= {f: values.get(f) for f in spec.allowed}
    _fill_defaults(mode, out, rules)
    for field in spec.required:
        if out[field] is None:
            raise _refuse(field, f"{_label(mode)}须填写 {field}（{FIELD_LABELS[field]}）",
                          "missing_field")
    for field in _MONEY + ("lease_share_percent", "rent_review_cap_percent"):
        if out[field] is not None:
            out[field] = _decimal(out[field], field)
    for field in _MONEY:
        if out[field] is not None and out[field] <= 0:
            raise _refuse(field, f"{FIELD_LABELS[field]}须大于 0，收到 {_text(out[field])}",
                          "not_positive")
    _CHECKS[mode](out, rules)
    if out["rent_review_years"] is not None or out["rent_review_cap_percent"] is not None:
        _check_review(out, rules)
    if out["conditions"] is not None:
        out["conditions"] = check_conditions(out["conditions"], required=mode is
                                             SupplyMode.lease_then_transfer)
    return out


def _fill_defaults(mode: SupplyMode, out: dict[str, Any], rules: OfferingRules) -> None:
    if mode in (SupplyMode.lease, SupplyMode.lease_and_transfer):
        # A lease that runs five years or more meets a review: its terms are always stated.
        if out["rent_review_years"] is None:
            out["rent_review_years"] = rules.rent_review_default_years
        if out["rent_review_cap_percent"] is None:
            out["rent_review_cap_percent"] = rules.rent_review_cap_default_percent
    if mode is SupplyMode.lease_then_transfer:
        if out["lease_years"] is None:
            out["lease_years"] = rules.lease_then_transfer_lease_default_years
        if out["rent_credited"] is None:
            out["rent_credited"] = rules.rent_credited_default


def _years(out: dict[str, Any], field: str, low: int, high: int | None, what: str,
           code: str, hint: str = "") -> None:
    value = out[field]
    if value < low or (high is not None and value > high):
        span = f"在 {low}–{high} 年之间" if high is not None else f"至少 {low} 年"
        raise _refuse(field, f"{what}须{span}，收到 {value} 年{hint}", code)


def _check_transfer(out: dict[str, Any], rules: OfferingRules) -> None:
    full = rules.industrial_max_years
    if out["term_years"] != full:
        hint = (f"；短于 {full} 年的出让请选用弹性年期出让（flexible_term_transfer）"
                if out["term_years"] < full else "")
        raise _refuse("term_years", f"出让（transfer）年期须为工业用地法定最高年限 {full} 年，"
                      f"收到 {out['term_years']} 年{hint}", "term_out_of_range")


def _check_flexible(out: dict[str, Any], rules: OfferingRules) -> None:
    hint = ""
    if out["term_years"] == rules.industrial_max_years:
        hint = f"；{rules.industrial_max_years} 年的出让请选用出让（transfer）"
    _years(out, "term_years", rules.flexible_min_years, rules.flexible_max_years,
           "弹性年期出让的年期", "term_out_of_range", hint)


def _check_lease(out: dict[str, Any], rules: OfferingRules) -> None:
    _years(out, "term_years", rules.lease_min_years, rules.lease_max_years, "长期租赁的年期",
           "lease_term_out_of_range")
    _check_rent_floor(out, rules)


def _check_lease_then_transfer(out: dict[str, Any], rules: OfferingRules) -> None:
    _years(out, "lease_years", rules.lease_then_transfer_lease_min_years,
           rules.lease_then_transfer_lease_max_years, "先租后让的租赁期",
           "lease_term_out_of_range")
    _years(out, "transfer_years", rules.transfer_phase_min_years, None, "先租后让的出让期",
           "transfer_term_out_of_range")
    total = out["lease_years"] + out["transfer_years"]
    if total > rules.industrial_max_years:
        raise _refuse("transfer_years", f"先租后让的租赁期与出让期合计不得超过工业用地法定最高年限 "
                      f"{rules.industrial_max_years} 年，收到 {out['lease_years']} + "
                      f"{out['transfer_years']} = {total} 年", "lease_and_transfer_total")
    _check_rent_floor(out, rules)


def _check_lease_and_transfer(out: dict[str, Any], rules: OfferingRules) -> None:
    share = out["lease_share_percent"]
    if not 0 < share < 100:
        raise _refuse("lease_share_percent", f"租让结合中租赁部分占比须大于 0、小于 100（%），"
                      f"收到 {_text(share)}", "lease_share_out_of_range")
    _years(out, "lease_years", rules.lease_min_years, rules.lease_max_years,
           "租让结合中租赁部分的年期", "lease_term_out_of_range")
    _years(out, "transfer_years", rules.transfer_phase_min_years, rules.industrial_max_years,
           "租让结合中出让部分的年期", "transfer_term_out_of_range")
    _check_rent_floor(out, rules, share=share)


_CHECKS = {
    SupplyMode.transfer: _check_transfer,
    SupplyMode.flexible_term_transfer: _check_flexible,
    SupplyMode.lease: _check_lease,
    SupplyMode.lease_then_transfer: _check_lease_then_transfer,
    SupplyMode.lease_and_transfer: _check_lease_and_transfer,
}


def rent_floor_yuan(appraised_price_wan: Decimal, rules: OfferingRules,
                    share_percent: Decimal | None = None) -> Decimal:
    """The lowest yearly rent (元): the floor share of the appraised 50-year price (万元), of
    the leased share when part of the parcel is leased; rounded up to the cent."""
    floor = Decimal(appraised_price_wan) * 10_000 * Decimal(str(rules.rent_floor_percent)) / 100
    if share_percent is not None:
        floor = floor * Decimal(share_percent) / 100
    return floor.quantize(_CENT, rounding=ROUND_CEILING)


def _check_rent_floor(out: dict[str, Any], rules: OfferingRules, *,
                      share: Decimal | None = None) -> None:
    floor = rent_floor_yuan(out["appraised_price_wan"], rules, share)
    rent = out["annual_rent_yuan"]
    if rent < floor:
        pct = _text(rules.rent_floor_percent)
        part = f" × 租赁部分 {_text(share)}%" if share is not None else ""
        raise _refuse("annual_rent_yuan", f"年租金不得低于 50 年出让评估价的 {pct}%{part}："
                      f"{_text(out['appraised_price_wan'])} 万元 × {pct}%{part} = {_text(floor)} 元，"
                      f"收到 {_text(rent)} 元", "rent_below_floor")


def _check_review(out: dict[str, Any], rules: OfferingRules) -> None:
    years = out["rent_review_years"]
    if years is not None and years < rules.rent_review_min_years:
        raise _refuse("rent_review_years", f"租金调整周期不得少于 {rules.rent_review_min_years} 年，"
                      f"收到 {years} 年", "rent_review_too_frequent")
    cap = out["rent_review_cap_percent"]
    highest = Decimal(str(rules.rent_review_cap_max_percent))
    if cap is not None and not 0 <= cap <= highest:
        raise _refuse("rent_review_cap_percent", f"每次调整涨幅须在上期租金的 0–{_text(highest)}% "
                      f"之间，收到 {_text(cap)}%", "rent_review_cap_exceeded")


def check_conditions(conditions: Mapping[str, Any], *, required: bool) -> dict[str, Any]:
    """Performance conditions (履约条件): at least one positive target and a deadline.

    ``required``: the mode depends on them (``lease_then_transfer``: the transfer follows
    only once they are met); the wording of the message says so.
    """
    given = {k: v for k, v in conditions.items() if v is not None}
    for key, label in _CONDITION_TARGETS.items():
        if key in given and not given[key] > 0:
            raise _refuse(f"conditions.{key}", f"{label}须大于 0，收到 {given[key]}",
                          "not_positive")
    if not any(k in given for k in _CONDITION_TARGETS):
        names = "、".join(f"{k}（{v}）" for k, v in _CONDITION_TARGETS.items())
        why = "先租后让须以履约考核决定是否转为出让：" if required else ""
        raise _refuse("conditions", f"{why}履约条件须至少设定一项指标：{names}",
                      "performance_condition_required")
    if "deadline_date" not in given:
        raise _refuse("conditions.deadline_date", "履约条件须写明考核期限 deadline_date（YYYY-MM-DD）",
                      "missing_field")
    return given


BIDDING_YEARS = (1990, 2199)
"""Bidding times outside these years are typing errors (land has been sold since 1990)."""


def check_bidding_window(opens_at: datetime | None, closes_at: datetime | None) -> None:
    """The bidding window, when both ends are given, opens before it closes."""
    for field, moment in (("bidding_opens_at", opens_at), ("bidding_closes_at", closes_at)):
        if moment is not None and not BIDDING_YEARS[0] <= moment.year <= BIDDING_YEARS[1]:
            raise _refuse(field, f"竞价时间须在 {BIDDING_YEARS[0]}–{BIDDING_YEARS[1]} 年之间，"
                          f"收到 {moment.isoformat()}", "bidding_time_out_of_range")
    if opens_at is not None and closes_at is not None and not opens_at < closes_at:
        raise _refuse("bidding_closes_at", f"竞价截止时间须晚于开始时间：开始 {opens_at.isoformat()}，"
                      f"截止 {closes_at.isoformat()}", "bidding_window")
