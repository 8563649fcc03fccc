"""Supply-mode rules without a database: each limit just inside and just outside, the fields
each mode must have and those it may not have, defaults, and per-jurisdiction changes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from landsvc.errors import InvalidInput
from landsvc.offerings.models import SupplyMode
from landsvc.offerings.rules import (
    DEFAULTS,
    MODE_FIELDS,
    MODES,
    check_bidding_window,
    check_mode,
    rent_floor_yuan,
)

M = SupplyMode
CONDITIONS = {"investment_intensity_wan_per_mu": 500, "deadline_date": "2031-12-31"}

# Appraised 50-year price 1000 万元: the lease rent floor is 2 % of 10,000,000 元 = 200,000 元;
# with 40 % of the parcel leased, 80,000 元.
VALID = {
    M.transfer: {"term_years": 50, "start_price_wan": 800},
    M.flexible_term_transfer: {"term_years": 20, "start_price_wan": 400},
    M.lease: {"term_years": 10, "annual_rent_yuan": 200_000, "appraised_price_wan": 1000},
    M.lease_then_transfer: {"lease_years": 5, "transfer_years": 40, "annual_rent_yuan": 200_000,
                            "appraised_price_wan": 1000, "start_price_wan": 900,
                            "conditions": CONDITIONS},
    M.lease_and_transfer: {"lease_share_percent": 40, "lease_years": 20, "transfer_years": 50,
                           "annual_rent_yuan": 80_000, "appraised_price_wan": 1000,
                           "start_price_wan": 600},
}


def check(mode, rules=DEFAULTS, **changes):
    return check_mode(mode, VALID[mode] | changes, rules)


def refused(mode, rules=DEFAULTS, **changes) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check(mode, rules, **changes)
    return caught.value


# (mode, field, just inside, just outside, rule code, words the detail must hold)
BOUNDS = [
    (M.transfer, "term_years", 50, 49, "term_out_of_range", ["50 年", "flexible_term_transfer"]),
    (M.transfer, "term_years", 50, 51, "term_out_of_range", ["50 年"]),
    (M.flexible_term_transfer, "term_years", 5, 4, "term_out_of_range", ["5–49 年"]),
    (M.flexible_term_transfer, "term_years", 49, 50, "term_out_of_range", ["5–49 年", "transfer"]),
    (M.lease, "term_years", 5, 4, "lease_term_out_of_range", ["5–20 年"]),
    (M.lease, "term_years", 20, 21, "lease_term_out_of_range", ["5–20 年"]),
    (M.lease, "annual_rent_yuan", 200_000, 199_999.99, "rent_below_floor", ["2%", "200000 元"]),
    (M.lease, "rent_review_years", 5, 4, "rent_review_too_frequent", ["5 年"]),
    (M.lease, "rent_review_cap_percent", 10, 10.01, "rent_review_cap_exceeded", ["10%"]),
    (M.lease, "rent_review_cap_percent", 0, -0.01, "rent_review_cap_exceeded", ["10%"]),
    (M.lease_then_transfer, "lease_years", 1, 0, "lease_term_out_of_range", ["1–10 年"]),
    (M.lease_then_transfer, "lease_years", 10, 11, "lease_term_out_of_range", ["1–10 年"]),
    (M.lease_then_transfer, "transfer_years", 1, 0, "transfer_term_out_of_range", ["至少 1 年"]),
    (M.lease_then_transfer, "transfer_years", 45, 46, "lease_and_transfer_total",
     ["50 年", "5 + 46 = 51"]),
    (M.lease_then_transfer, "annual_rent_yuan", 200_000, 199_999.99, "rent_below_floor",
     ["200000 元"]),
    (M.lease_then_transfer, "rent_review_years", 5, 4, "rent_review_too_frequent", ["5 年"]),
    (M.lease_and_transfer, "lease_share_percent", 0.01, 0, "lease_share_out_of_range", ["100"]),
    (M.lease_and_transfer, "lease_share_percent", 99.99, 100, "lease_share_out_of_range",
     ["100"]),
    (M.lease_and_transfer, "lease_years", 5, 4, "lease_term_out_of_range", ["5–20 年"]),
    (M.lease_and_transfer, "lease_years", 20, 21, "lease_term_out_of_range", ["5–20 年"]),
    (M.lease_and_transfer, "transfer_years", 1, 0, "transfer_term_out_of_range", ["1–50 年"]),
    (M.lease_and_transfer, "transfer_years", 50, 51, "transfer_term_out_of_range", ["1–50 年"]),
    (M.lease_and_transfer, "annual_rent_yuan", 80_000, 79_999.99, "rent_below_floor",
     ["40%", "80000 元"]),
    (M.lease_and_transfer, "rent_review_cap_percent", 10, 10.01, "rent_review_cap_exceeded",
     ["10%"]),
]


def _id(case):
    return f"{case[0].value}-{case[1]}-{case[3]}"


@pytest.mark.parametrize("case", BOUNDS, ids=_id)
def test_each_limit_just_inside_and_just_outside(case):
    mode, field, inside, outside, code, words = case
    extra = {}
    if field == "lease_share_percent" and inside:  # keep the rent at the share's own floor
        extra["annual_rent_yuan"] = float(rent_floor_yuan(Decimal(1000), DEFAULTS,
                                                          Decimal(str(inside))))
    assert float(check(mode, **{field: inside}, **extra)[field]) == pytest.approx(inside)
    error = refused(mode, **{field: outside})
    assert error.code == code
    assert error.detail.startswith(f"{field}: ") or code == "lease_and_transfer_total"
    for word in words:
        assert word in error.detail, error.detail


def test_lease_and_transfer_total_names_the_transfer_field():
    error = refused(M.lease_then_transfer, lease_years=10, transfer_years=41)
    assert error.code == "lease_and_transfer_total"
    assert error.detail.startswith("transfer_years: ") and "10 + 41 = 51" in error.detail
    assert check(M.lease_then_transfer, lease_years=10, transfer_years=40)["transfer_years"] == 40


def test_rent_floor_is_rounded_up_to_the_cent():
    # 2 % of 123.46 万元 = 24,692 元; 2 % of 123.45 万元 = 24,690 元, of a 33.33 % share
    # 8,229.177 元, rounded up to 8,229.18
    assert rent_floor_yuan(Decimal("123.46"), DEFAULTS) == Decimal("24692.00")
    assert rent_floor_yuan(Decimal("123.45"), DEFAULTS, Decimal("33.33")) == Decimal("8229.18")
    values = VALID[M.lease_and_transfer] | {"appraised_price_wan": 123.45,
                                             "lease_share_percent": 33.33}
    assert check_mode(M.lease_and_transfer, values | {"annual_rent_yuan": 8229.18}, DEFAULTS)
    with pytest.raises(InvalidInput) as caught:
        check_mode(M.lease_and_transfer, values | {"annual_rent_yuan": 8229.17}, DEFAULTS)
    assert caught.value.code == "rent_below_floor" and "8229.18 元" in caught.value.detail


def test_amounts_are_checked_as_stored_to_the_cent():
    # 199,999.995 is stored as 200,000.00, which meets the floor; 199,999.994 does not
    assert check(M.lease, annual_rent_yuan=199_999.995)["annual_rent_yuan"] == Decimal("200000.00")
    assert refused(M.lease, annual_rent_yuan=199_999.994).code == "rent_below_floor"
    # a share of 99.999 % is stored as 100 %, which leaves nothing to transfer
    assert refused(M.lease_and_transfer, lease_share_percent=99.999).code == \
        "lease_share_out_of_range"


REQUIRED = [(mode, field) for mode, spec in MODES.items() for field in spec.required
            if (mode, field) != (M.lease_then_transfer, "lease_years")]


@pytest.mark.parametrize(("mode", "field"), REQUIRED, ids=lambda x: getattr(x, "value", x))
def test_every_required_field_is_named_when_missing(mode, field):
    values = {k: v for k, v in VALID[mode].items() if k != field}
    with pytest.raises(InvalidInput) as caught:
        check_mode(mode, values, DEFAULTS)
    assert caught.value.code == "missing_field"
    assert caught.value.detail.startswith(f"{field}: ") and mode.label in caught.value.detail


def test_required_fields_per_mode_are_the_issue_table():
    assert {m: set(s.required) for m, s in MODES.items()} == {
        M.transfer: {"term_years", "start_price_wan"},
        M.flexible_term_transfer: {"term_years", "start_price_wan"},
        M.lease: {"term_years", "annual_rent_yuan", "appraised_price_wan"},
        M.lease_then_transfer: {"lease_years", "transfer_years", "annual_rent_yuan",
                                "appraised_price_wan", "start_price_wan", "conditions"},
        M.lease_and_transfer: {"lease_share_percent", "lease_years", "transfer_years",
                               "annual_rent_yuan", "appraised_price_wan", "start_price_wan"},
    }


FOREIGN = [(mode, field) for mode, spec in MODES.items() for field in MODE_FIELDS
           if field not in spec.allowed]
SAMPLE = {"term_years": 10, "lease_years": 5, "transfer_years": 10, "lease_share_percent": 50,
          "start_price_wan": 100, "annual_rent_yuan": 1, "appraised_price_wan": 100,
          "rent_review_years": 5, "rent_review_cap_percent": 5, "rent_credited": False,
          "conditions": CONDITIONS}


@pytest.mark.parametrize(("mode", "field"), FOREIGN, ids=lambda x: getattr(x, "value", x))
def test_a_field_of_another_mode_is_refused_not_stored(mode, field):
    error = refused(mode, **{field: SAMPLE[field]})
    assert error.code == "field_not_for_mode"
    assert error.detail.startswith(f"{field}: ") and mode.value in error.detail


def test_foreign_fields_are_exactly_those_of_the_other_modes():
    assert {m: set(MODE_FIELDS) - set(s.allowed) for m, s in MODES.items()} == {
        M.transfer: {"lease_years", "transfer_years", "lease_share_percent", "annual_rent_yuan",
                     "rent_review_years", "rent_review_cap_percent", "rent_credited"},
        M.flexible_term_transfer: {"lease_years", "transfer_years", "lease_share_percent",
                                   "annual_rent_yuan", "rent_review_years",
                                   "rent_review_cap_percent", "rent_credited"},
        M.lease: {"lease_years", "transfer_years", "lease_share_percent", "start_price_wan",
                  "rent_credited"},
        M.lease_then_transfer: {"term_years", "lease_share_percent"},
        M.lease_and_transfer: {"term_years", "rent_credited"},
    }


def test_a_null_field_of_another_mode_is_no_field():
    out = check(M.transfer, annual_rent_yuan=None)
    assert out["annual_rent_yuan"] is None and set(out) == set(MODE_FIELDS)


def test_defaults():
    lease = check(M.lease)
    assert (lease["rent_review_years"], lease["rent_review_cap_percent"]) == (5, Decimal("10.00"))
    both = check(M.lease_and_transfer)
    assert (both["rent_review_years"], both["rent_review_cap_percent"]) == (5, Decimal("10.00"))
    values = {k: v for k, v in VALID[M.lease_then_transfer].items() if k != "lease_years"}
    then = check_mode(M.lease_then_transfer, values, DEFAULTS)
    assert then["lease_years"] == 5 and then["rent_credited"] is True
    assert then["rent_review_years"] is None  # a lease phase of 1–10 years: no default review
    assert check(M.lease_then_transfer, rent_credited=False)["rent_credited"] is False
    assert check(M.transfer)["rent_credited"] is None
    assert check(M.lease, rent_review_years=7, rent_review_cap_percent=4.5)[
        "rent_review_cap_percent"] == Decimal("4.50")


def test_conditions_of_lease_then_transfer():
    ok = check(M.lease_then_transfer, conditions={"tax_per_mu_wan": 30, "output_per_mu_wan": None,
                                                  "deadline_date": "2030-06-30"})
    assert ok["conditions"] == {"tax_per_mu_wan": 30, "deadline_date": "2030-06-30"}
    error = refused(M.lease_then_transfer, conditions={"deadline_date": "2030-06-30"})
    assert error.code == "performance_condition_required"
    assert all(k in error.detail for k in ("investment_intensity_wan_per_mu",
                                           "output_per_mu_wan", "tax_per_mu_wan"))
    error = refused(M.lease_then_transfer, conditions={"output_per_mu_wan": 100})
    assert error.code == "missing_field" and error.detail.startswith("conditions.deadline_date")
    error = refused(M.lease_then_transfer, conditions={"output_per_mu_wan": 0,
                                                       "deadline_date": "2030-06-30"})
    assert error.code == "not_positive" and error.detail.startswith("conditions.output_per_mu_wan")
    # other modes may carry conditions too, under the same rule
    assert check(M.transfer, conditions=CONDITIONS)["conditions"] == CONDITIONS
    assert refused(M.lease, conditions={"deadline_date": "2030-06-30"}).code == \
        "performance_condition_required"


@pytest.mark.parametrize("field", ["start_price_wan", "annual_rent_yuan", "appraised_price_wan"])
def test_amounts_must_be_positive(field):
    mode = M.lease_then_transfer
    error = refused(mode, **{field: 0})
    assert error.code == "not_positive" and error.detail.startswith(f"{field}: ")
    assert refused(mode, **{field: 0.004}).code == "not_positive"  # 0.00 once stored


def test_a_jurisdiction_may_change_every_limit():
    gz = dataclasses.replace(DEFAULTS, lease_max_years=15, rent_floor_percent=2.5,
                             lease_then_transfer_lease_max_years=3, industrial_max_years=40,
                             flexible_max_years=39)
    assert check(M.lease, gz, term_years=15, annual_rent_yuan=250_000)
    error = refused(M.lease, gz, term_years=16, annual_rent_yuan=250_000)
    assert error.code == "lease_term_out_of_range" and "5–15 年" in error.detail
    error = refused(M.lease, gz)
    assert error.code == "rent_below_floor" and "2.5%" in error.detail and "250000 元" in error.detail
    assert refused(M.transfer, gz).code == "term_out_of_range"
    assert check(M.transfer, gz, term_years=40)
    assert refused(M.lease_then_transfer, gz, annual_rent_yuan=250_000).code == \
        "lease_term_out_of_range"
    assert refused(M.lease_then_transfer, gz, lease_years=3, transfer_years=38,
                   annual_rent_yuan=250_000).code == "lease_and_transfer_total"


def test_bidding_window():
    t = datetime(2026, 12, 1, 9, tzinfo=UTC)
    check_bidding_window(t, t + timedelta(seconds=1))
    check_bidding_window(t, None)
    check_bidding_window(None, t)
    for closes in (t, t - timedelta(seconds=1)):
        with pytest.raises(InvalidInput) as caught:
            check_bidding_window(t, closes)
        assert caught.value.code == "bidding_window"
        assert caught.value.detail.startswith("bidding_closes_at: ")


def test_bidding_times_are_of_this_era():
    for year, ok in ((1989, False), (1990, True), (2199, True), (2200, False)):
        moment = datetime(year, 6, 1, tzinfo=UTC)
        if ok:
            check_bidding_window(moment, None)
            continue
        with pytest.raises(InvalidInput) as caught:
            check_bidding_window(None, moment)
        assert caught.value.code == "bidding_time_out_of_range"
        assert caught.value.detail.startswith("bidding_closes_at: ") and "1990–2199" in \
            caught.value.detail
