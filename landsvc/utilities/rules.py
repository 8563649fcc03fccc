"""The pure part of utility complaints: the tolerance rules, the tariff in force day by day,
the mark-up arithmetic and the case lifecycle. No database here; unit-tested on its own.

The arithmetic, for a bill of ``quantity`` units at ``billed`` 元 per unit over a period of
``D`` days, ``d_i`` of them under tariff ``p_i`` (the consumption taken as even over the days):

- tariff over the period ``T = Σ p_i · d_i / D`` (shown to 0.0001 元);
- mark-up ``(billed − T) / T × 100`` (percent, to 0.01);
- allowed unit price ``T × (1 + tolerance / 100)``;
- overcharge ``max(0, (billed − T × (1 + tolerance / 100)) × quantity)`` (元, to 0.01, half up).

A case is opened when the overcharge, rounded to the fen, is at least 0.01 元; otherwise the
complaint is kept, ``dismissed`` with the reason that the bill is within the tariff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from landsvc.lifecycle import Lifecycle, move
from landsvc.policies.service import register
from landsvc.utilities.models import ComplaintStatus, Utility

FEN = Decimal("0.01")
PERCENT = Decimal("0.01")
UNIT = Decimal("0.0001")
WITHIN_TARIFF = "未超出政府定价（在允许偏差之内）：within the tariff"
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class UtilityRules:
    """How far a billed unit price may exceed the tariff before a case is opened, in percent
    of the tariff, per utility; per jurisdiction: ``landsvc policy set 4403
    utilities.electricity_tolerance_percent 3``.

    Electricity 2 %: a landlord who resells power (转供电) behind its own meter bears the
    loss in its transformer and internal lines; we allow a small share of it. The figure is
    our choice, not a cited rule (NOTES-domain.md records that Guangdong's 转供电 text was not
    found); a bureau sets its own. Water and gas 0 %: resold at the tariff."""

    electricity_tolerance_percent: float = 2.0
    water_tolerance_percent: float = 0.0
    gas_tolerance_percent: float = 0.0

    def tolerance(self, utility: Utility) -> Decimal:
        """The tolerance of ``utility`` in percent, as a decimal to 0.01."""
        value = getattr(self, f"{Utility(utility).value}_tolerance_percent")
        return Decimal(str(value)).quantize(PERCENT, ROUND_HALF_UP)


DEFAULTS = register("utilities", UtilityRules())


S = ComplaintStatus
LIFECYCLE = Lifecycle("水电气加价投诉", {
    "investigate": move({S.filed}, S.investigating),
    "resolve": move({S.investigating}, S.resolved),
    "dismiss": move({S.filed, S.investigating}, S.dismissed),
})


@dataclass(frozen=True)
class Tariff:
    id: int
    district: str
    unit_price_yuan: Decimal
    effective_from: date


@dataclass(frozen=True)
class Segment:
    """Days ``start``–``end`` (inclusive) under one tariff."""

    start: date
    end: date
    tariff: Tariff

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def in_force(tariffs: list[Tariff], day: date) -> Tariff | None:
    """The tariff in force on ``day`` among those of one place's divisions: the most
    specific division (longest adcode prefix), and in it the latest ``effective_from`` not
    after the day."""
    started = [t for t in tariffs if t.effective_from <= day]
    if not started:
        return None
    return max(started, key=lambda t: (len(t.district), t.effective_from, t.id))


def segments(tariffs: list[Tariff], start: date, end: date) -> tuple[list[Segment], date | None]:
    """The period ``start``–``end`` cut where the tariff in force changes, and the first day
    with no tariff in force (None when every day has one)."""
    bounds = sorted({start} | {t.effective_from for t in tariffs if start < t.effective_from <= end})
    out: list[Segment] = []
    for i, first in enumerate(bounds):
        last = bounds[i + 1] - timedelta(days=1) if i + 1 < len(bounds) else end
        tariff = in_force(tariffs, first)
        if tariff is None:
            return out, first
        if out and out[-1].tariff == tariff:
            out[-1] = Segment(out[-1].start, last, tariff)
        else:
            out.append(Segment(first, last, tariff))
    return out, None


@dataclass(frozen=True)
class Judgement:
    tariff_unit_price_yuan: Decimal
    """The day-weighted tariff over the period, to 0.0001 元."""
    markup_percent: Decimal
    overcharge_yuan: Decimal
    case_opened: bool


def judge(parts: list[Segment], billed: Decimal, quantity: Decimal,
          tolerance_percent: Decimal) -> Judgement:
    """The mark-up of a bill against the tariffs of its period (see the module's formulas).

    Exact decimal arithmetic throughout; only the results are rounded (half up)."""
    with localcontext() as ctx:
        ctx.prec = 50
        total_days = sum(s.days for s in parts)
        tariff = sum(s.tariff.unit_price_yuan * s.days for s in parts) / total_days
        allowed = tariff * (1 + tolerance_percent / 100)
        markup = ((billed - tariff) / tariff * 100).quantize(PERCENT, ROUND_HALF_UP)
        over = max(Decimal(0), (billed - allowed) * quantity).quantize(FEN, ROUND_HALF_UP)
    return Judgement(tariff.quantize(UNIT, ROUND_HALF_UP), markup, over, over >= FEN)
