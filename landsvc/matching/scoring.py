"""The ranking of matches: one fit in 0–1 per criterion, weighted, explained.

Everything here is pure: the matching service passes plain numbers read from the candidates
SQL returned, and gets back a score and its reasons. The weights are a policy
(``landsvc policy set 4403 matching.location 30``); whatever they are, they are scaled to sum
to 100, and each contribution (weight × fit) is rounded to 0.01 first and the score is the sum
of the rounded contributions, so the reasons always add up to the score exactly.

Each fit's formula is written once (:func:`near`, :func:`centred`, …), for numbers or, with
``xp=numpy``, for arrays: the functions below apply it to one candidate and explain it;
:mod:`landsvc.matching.pairs` applies it to millions of pairs at once, with bit-for-bit the
same result.

A criterion the demand does not state counts half (``NEUTRAL``): nothing speaks for or
against the candidate, and a demand that states nothing cannot outrank one that does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

from landsvc.policies.service import register


@dataclass(frozen=True)
class MatchingWeights:
    location: float = 25.0
    """How close the candidate lies to the point asked for (or inside the area asked for)."""
    area: float = 20.0
    """How close its area is to the middle of the range asked for."""
    price: float = 20.0
    """How far its price or rent stays under the budget."""
    term: float = 10.0
    """How close its term is to the term asked for."""
    industry: float = 15.0
    """Whether its park leads in the demand's industry."""
    servicing: float = 10.0
    """Land: the park's services; premises: the technical facts the listing states."""


DEFAULTS = register("matching", MatchingWeights())

CRITERIA = tuple(f.name for f in fields(MatchingWeights))

LABELS = {"location": "区位", "area": "面积", "price": "价格", "term": "年期",
          "industry": "园区产业", "servicing": "配套与技术条件"}

NEUTRAL = 0.5
"""The fit of a criterion the demand leaves open."""


@dataclass(frozen=True)
class Fit:
    criterion: str
    fit: float
    """0–1."""
    value: object
    """What was compared, as shown to the user (a number, a code, a short text)."""
    note: str


class Scalars:
    """The few array operations the formulas use, for plain numbers (a numpy call on one
    number costs microseconds; the formulas run for every candidate). On finite floats each
    gives exactly what numpy's gives."""

    minimum = staticmethod(min)
    maximum = staticmethod(max)
    floor = staticmethod(math.floor)


def contribution_cents(weight, fit, xp=Scalars):
    """weight × fit (the fit clipped to 0–1) in cents, rounded half up: on numbers, or on
    arrays with ``xp=numpy``."""
    return xp.floor(weight * xp.minimum(1.0, xp.maximum(0.0, fit)) * 100 + 0.5)


def scaled_weights(weights: MatchingWeights) -> dict[str, float]:
    """The weights scaled to sum to 100 (all zero: equal weights)."""
    raw = {c: max(0.0, float(getattr(weights, c))) for c in CRITERIA}
    total = sum(raw.values())
    if total <= 0:
        return {c: 100 / len(CRITERIA) for c in CRITERIA}
    return {c: w * 100 / total for c, w in raw.items()}


def explain(weights: MatchingWeights, fits: Sequence[Fit]) -> tuple[float, list[dict]]:
    """The score (0–100, to 0.01) and one reason per criterion; the score is the sum of the
    contributions exactly."""
    scaled = scaled_weights(weights)
    reasons, score = [], 0
    for f in fits:
        fit = min(1.0, max(0.0, f.fit))
        cents = contribution_cents(scaled[f.criterion], fit)
        score += cents
        reasons.append({"criterion": f.criterion, "criterion_label": LABELS[f.criterion],
                        "value": f.value, "fit": round(fit, 4),
                        "weight": contribution_cents(scaled[f.criterion], 1.0) / 100,
                        "contribution": cents / 100, "note": f.note})
    return score / 100, reasons


# -- the formulas: on numbers, or on arrays with ``xp=numpy`` --------------------------------
def near(distance_km, radius_km, xp=Scalars):
    """1 at the point, falling linearly to 0.5 at the radius."""
    return 1 - 0.5 * xp.minimum(1.0, distance_km / radius_km)


def centred(area, low, high, xp=Scalars):
    """1 at the middle of the range (low < high), 0.5 at either end."""
    middle, half = (low + high) / 2, (high - low) / 2
    return 1 - 0.5 * xp.minimum(1.0, abs(area - middle) / half)


def above(area, low, xp=Scalars):
    """Only a minimum: 1 at it, less the more the area exceeds it."""
    return xp.minimum(1.0, low / area)


def below(area, high, xp=Scalars):
    """Only a maximum: the closer to it, the better."""
    return xp.minimum(1.0, area / high)


def under_budget(price, budget, xp=Scalars):
    """1 when free, 0.5 at the budget."""
    return 1 - 0.5 * xp.minimum(1.0, price / budget)


def term_ratio(offered, wanted, xp=Scalars):
    """The shorter term over the longer."""
    return xp.minimum(offered, wanted) / xp.maximum(offered, wanted)


def services_share(count, xp=Scalars):
    """A quarter for each service, up to four."""
    return xp.minimum(1.0, count / 4)


# -- one fit per criterion ----------------------------------------------------------------
def location_fit(distance_km: float | None, radius_km: float | None, *,
                 constrained: bool) -> Fit:
    """Near a point: 1 at the point, falling linearly to 0.5 at the radius. Inside the
    districts, parks or polygon asked for: 1. No place asked for: neutral."""
    if distance_km is not None and radius_km:
        return Fit("location", near(distance_km, radius_km), round(distance_km, 2),
                   f"距需求中心 {distance_km:.2f} km（半径 {radius_km:g} km）")
    if constrained:
        return Fit("location", 1.0, None, "位于需求指定的区域内")
    return Fit("location", NEUTRAL, None, "需求未限定位置，按中性计分")


def area_fit(area: float, low: float | None, high: float | None) -> Fit:
    """Both bounds: 1 at the middle of the range, 0.5 at either end. Only a minimum: 1 at it,
    less the more land exceeds it (min/area). Only a maximum: area/max. Neither: neutral."""
    shown = round(area, 2)
    if low is not None and high is not None:
        fit = 1.0 if low == high else centred(area, low, high)
        return Fit("area", fit, shown, f"面积 {area:,.2f} ㎡，需求 {low:,.2f}–{high:,.2f} ㎡，"
                                       f"居中得满分")
    if low is not None:
        return Fit("area", above(area, low), shown,
                   f"面积 {area:,.2f} ㎡，需求至少 {low:,.2f} ㎡，超出越多得分越低")
    if high is not None:
        return Fit("area", below(area, high), shown,
                   f"面积 {area:,.2f} ㎡，需求至多 {high:,.2f} ㎡，越接近上限得分越高")
    return Fit("area", NEUTRAL, shown, f"面积 {area:,.2f} ㎡，需求未限定面积，按中性计分")


def price_fit(prices: Sequence[tuple[str, float, float]]) -> Fit:
    """Each (label, price, budget) that applies: 1 − 0.5 × price/budget (free: 1, at the
    budget: 0.5); several: their mean. None applies: neutral."""
    if not prices:
        return Fit("price", NEUTRAL, None, "需求未设与之相应的预算，按中性计分")
    parts = [under_budget(price, budget) for _, price, budget in prices]
    note = "；".join(f"{label} {price:,.2f}，预算 {budget:,.2f}（{price / budget:.0%}）"
                    for label, price, budget in prices)
    return Fit("price", sum(parts) / len(parts), round(prices[0][1], 2), note)


def term_fit(offered: int | None, wanted: int | None) -> Fit:
    """The shorter of the two terms over the longer; unknown on either side: neutral."""
    if wanted is None:
        return Fit("term", NEUTRAL, offered, "需求未说明年期，按中性计分")
    if offered is None:
        return Fit("term", NEUTRAL, None, f"需求 {wanted} 年，对方未标明年期，按中性计分")
    return Fit("term", term_ratio(offered, wanted), offered, f"提供 {offered} 年，需求 {wanted} 年")


def industry_fit(code: str | None, park_id: int | None, leading: Sequence[str] | None) -> Fit:
    """The demand's GB/T 4754 code against the leading industries of the candidate's park:
    the same division or finer (one code begins with the other, at least 3 characters): 1;
    the same section letter: 0.6; a park leading in other industries: 0.2; outside any park
    or a park without leading industries: 0.4; the demand names no industry: neutral."""
    if code is None:
        return Fit("industry", NEUTRAL, None, "需求未填行业，按中性计分")
    leading = list(leading or [])
    if park_id is None or not leading:
        where = "不在特色产业园区内" if park_id is None else f"园区 {park_id} 未列主导产业"
        return Fit("industry", 0.4, None, where)
    close = [c for c in leading if len(min(c, code, key=len)) >= 3
             and (c.startswith(code) or code.startswith(c))]
    if close:
        return Fit("industry", 1.0, close[0], f"园区 {park_id} 主导产业 {close[0]} 与需求行业 "
                                               f"{code} 一致")
    same = [c for c in leading if c[0] == code[0]]
    if same:
        return Fit("industry", 0.6, same[0], f"园区 {park_id} 主导产业 {same[0]} 与需求行业 "
                                              f"{code} 同属门类 {code[0]}")
    return Fit("industry", 0.2, leading[0], f"园区 {park_id} 主导产业为 {'、'.join(leading)}，"
                                            f"与需求行业 {code} 不同")


def land_servicing_fit(park_id: int | None, services: Sequence[str] | None) -> Fit:
    """Land: a quarter for each service the park lists (up to four); outside a park: 0."""
    if park_id is None:
        return Fit("servicing", 0.0, 0, "不在园区内，无园区配套")
    services = list(services or [])
    shown = "、".join(services[:4]) if services else "无"
    return Fit("servicing", services_share(len(services)), len(services),
               f"园区 {park_id} 配套 {len(services)} 项：{shown}")


TECHNICAL = (("power_kva", "供电容量", "kVA"), ("floor_load_kn_m2", "楼面荷载", "kN/㎡"),
             ("clear_height_m", "净高", "m"))


def premises_servicing_fit(facts: dict[str, float | None], needs: dict[str, float | None],
                           freight_lift: bool | None) -> Fit:
    """Premises: a quarter for each of power, floor load and clear height the listing states
    (SQL has already refused any below the demand's need), and a quarter for a freight lift."""
    got, said = 0, []
    for name, label, unit in TECHNICAL:
        value = facts.get(name)
        if value is None:
            said.append(f"{label}未标明")
            continue
        got += 1
        need = needs.get(name)
        said.append(f"{label} {value:g} {unit}" + (f"（需 {need:g}）" if need is not None else ""))
    if freight_lift:
        got += 1
    said.append("有货梯" if freight_lift else "无货梯")
    return Fit("servicing", got / 4, got, "；".join(said))
