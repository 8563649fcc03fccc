"""The mark-up arithmetic, the tariff in force day by day and the case lifecycle, without a
database. Every expected figure is worked by hand in the comment beside it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from landsvc.errors import IllegalTransition
from landsvc.utilities.models import ComplaintStatus, Utility
from landsvc.utilities.rules import LIFECYCLE, Tariff, UtilityRules, in_force, judge, segments


def tariff(id_, district, price, day):
    return Tariff(id_, district, D(price), date.fromisoformat(day))


def one(price, start="2026-03-01", end="2026-03-31"):
    parts, gap = segments([tariff(1, "440306", price, "2026-01-01")],
                          date.fromisoformat(start), date.fromisoformat(end))
    assert gap is None
    return parts


def test_double_the_tariff_with_the_line_loss_allowance():
    # billed 1.30 元/kWh, tariff 0.65, allowance 2 %:
    # mark-up (1.30 − 0.65) / 0.65 = 100 %;
    # overcharge (1.30 − 0.65 × 1.02) × 1000 = (1.30 − 0.663) × 1000 = 637.00 元.
    v = judge(one("0.65"), D("1.30"), D("1000"), D("2"))
    assert (v.tariff_unit_price_yuan, v.markup_percent, v.overcharge_yuan, v.case_opened) == (
        D("0.6500"), D("100.00"), D("637.00"), True)


def test_exactly_at_the_allowance_opens_no_case():
    # 0.663 = 0.65 × 1.02: mark-up 0.013 / 0.65 = 2.00 %, overcharge 0.
    v = judge(one("0.65"), D("0.663"), D("5000"), D("2"))
    assert (v.markup_percent, v.overcharge_yuan, v.case_opened) == (D("2.00"), D("0.00"), False)


def test_below_the_tariff_is_a_negative_mark_up_and_no_overcharge():
    # water 4.00 billed against 5.00: (4 − 5) / 5 = −20 %; nothing overcharged.
    v = judge(one("5.00"), D("4.00"), D("100"), D("0"))
    assert (v.markup_percent, v.overcharge_yuan, v.case_opened) == (D("-20.00"), D("0.00"), False)


def test_half_a_fen_rounds_up_and_opens_a_case():
    # water 3.00, billed 3.005 for 1 m³, 0 %: overcharge 0.005 → 0.01 (half up; half-even
    # would give 0.00); mark-up 0.005 / 3 = 0.1666… % → 0.17.
    v = judge(one("3.00"), D("3.005"), D("1"), D("0"))
    assert (v.markup_percent, v.overcharge_yuan, v.case_opened) == (D("0.17"), D("0.01"), True)


def test_a_tariff_change_inside_the_period_is_weighted_by_days():
    # March 2026 (31 days): 0.60 until 20 March (20 days), 0.70 from 21 March (11 days).
    # Tariff over the period: (20 × 0.60 + 11 × 0.70) / 31 = 19.7 / 31 = 0.635483… → 0.6355.
    # 3100 kWh billed at 1.00, 2 %: overcharge 3100 × 1.00 − 3100 × 19.7 / 31 × 1.02
    #   = 3100 − 100 × 19.7 × 1.02 = 3100 − 2009.40 = 1090.60 元;
    # mark-up (1.00 − 19.7/31) / (19.7/31) = 31 / 19.7 − 1 = 11.3 / 19.7 = 57.3604… % → 57.36.
    tariffs = [tariff(1, "440306", "0.60", "2026-01-01"), tariff(2, "440306", "0.70", "2026-03-21")]
    parts, gap = segments(tariffs, date(2026, 3, 1), date(2026, 3, 31))
    assert gap is None
    assert [(p.start, p.end, p.days, p.tariff.id) for p in parts] == [
        (date(2026, 3, 1), date(2026, 3, 20), 20, 1), (date(2026, 3, 21), date(2026, 3, 31), 11, 2)]
    v = judge(parts, D("1.00"), D("3100"), D("2"))
    assert (v.tariff_unit_price_yuan, v.markup_percent, v.overcharge_yuan) == (
        D("0.6355"), D("57.36"), D("1090.60"))


def test_the_most_specific_division_wins_then_the_latest_date():
    tariffs = [tariff(1, "44", "0.80", "2026-01-01"), tariff(2, "4403", "0.70", "2026-01-01"),
               tariff(3, "440306", "0.65", "2025-01-01"), tariff(4, "4403", "0.75", "2026-06-01")]
    # Bao'an (440306): its own tariff, older than the city's, still wins.
    assert in_force([t for t in tariffs if "440306".startswith(t.district)], date(2026, 7, 1)).id == 3
    futian = [t for t in tariffs if "440304".startswith(t.district)]
    assert in_force(futian, date(2026, 3, 1)).id == 2   # the city's tariff of January
    assert in_force(futian, date(2026, 7, 1)).id == 4   # the city's newer one
    assert in_force(futian, date(2025, 12, 31)) is None  # nothing had started yet


def test_a_county_tariff_starting_mid_period_takes_over_from_the_city():
    tariffs = [tariff(1, "4403", "0.70", "2026-01-01"), tariff(2, "440306", "0.66", "2026-03-11")]
    parts, gap = segments(tariffs, date(2026, 3, 1), date(2026, 3, 31))
    assert gap is None and [(p.days, p.tariff.id) for p in parts] == [(10, 1), (21, 2)]
    # a newer city tariff no longer matters once the county has its own
    tariffs.append(tariff(3, "4403", "0.90", "2026-03-20"))
    parts, _ = segments(tariffs, date(2026, 3, 1), date(2026, 3, 31))
    assert [(p.days, p.tariff.id) for p in parts] == [(10, 1), (21, 2)]


def test_the_first_day_without_a_tariff_is_named():
    parts, gap = segments([tariff(1, "440306", "0.60", "2026-03-10")], date(2026, 3, 1),
                          date(2026, 3, 31))
    assert gap == date(2026, 3, 1)
    assert segments([], date(2026, 3, 1), date(2026, 3, 1)) == ([], date(2026, 3, 1))


def test_default_tolerances():
    rules = UtilityRules()
    assert rules.tolerance(Utility.electricity) == D("2.00")
    assert rules.tolerance(Utility.water) == D("0.00") == rules.tolerance(Utility.gas)


def test_the_case_lifecycle():
    S = ComplaintStatus
    assert LIFECYCLE.allowed(S.filed) == ["investigate", "dismiss"]
    assert LIFECYCLE.target(S.filed, "investigate") is S.investigating
    assert LIFECYCLE.target(S.investigating, "resolve") is S.resolved
    assert LIFECYCLE.target(S.investigating, "dismiss") is S.dismissed
    for closed in (S.resolved, S.dismissed):
        assert LIFECYCLE.allowed(closed) == []
    with pytest.raises(IllegalTransition) as err:
        LIFECYCLE.target(S.filed, "resolve")
    assert err.value.extra["allowed"] == ["investigate", "dismiss"]
