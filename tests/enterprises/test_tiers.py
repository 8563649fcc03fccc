"""USCC check characters, the tier in force on a day, and a consortium's tier: pure rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from landsvc.enterprises.service import derive_consortium_tier
from landsvc.enterprises.tiers import (
    Tier,
    effective_tier,
    uscc_check_character,
    uscc_check_passes,
    uscc_well_formed,
)

# Codes published by the enterprises themselves (business licences, annual reports).
REAL = ["91350100M000100Y43", "91110108551385082Q", "914403001922038216",
        "91440300708461136T"]


@pytest.mark.parametrize("code", REAL)
def test_real_codes_pass(code):
    assert uscc_well_formed(code)
    assert uscc_check_character(code) == code[-1]
    assert uscc_check_passes(code)


@pytest.mark.parametrize("code, expected", [
    ("914403001922038217", "6"), ("91110108551385082P", "Q"), ("91350100M000100Y44", "3"),
    ("91440300708461136U", "T"),
])
def test_one_changed_character_fails_and_names_the_expected_one(code, expected):
    assert not uscc_check_passes(code)
    assert uscc_check_character(code) == expected


def test_check_character_computed_by_hand():
    # GB 32100: weights 3^i mod 31; 9,1,3,5,0,1,0,0,M(21),0,0,0,1,0,0,Y(30),4
    code = "91350100M000100Y4"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    values = [9, 1, 3, 5, 0, 1, 0, 0, 21, 0, 0, 0, 1, 0, 0, 30, 4]
    total = sum(w * v for w, v in zip(weights, values, strict=True))
    assert (31 - total % 31) % 31 == 3
    assert uscc_check_character(code + "?") == "3"


@pytest.mark.parametrize("code", ["91440300708461136", "91440300708461136TT", "9144030070846113IT",
                                  "91440300708461136t", "9144030070846113OT"])
def test_malformed_codes(code):
    assert not uscc_well_formed(code)


# -- 有进有出 -------------------------------------------------------------------------------
FROM, TO = date(2025, 1, 1), date(2027, 12, 31)


@pytest.mark.parametrize("on, expected", [
    (date(2024, 12, 31), Tier.none),           # the day before valid_from
    (FROM, Tier.little_giant),                 # first day
    (TO, Tier.little_giant),                   # last day still counts
    (date(2028, 1, 1), Tier.none),             # the day after valid_to: lapsed
])
def test_effective_tier_at_the_bounds(on, expected):
    assert effective_tier(Tier.little_giant, FROM, TO, on) is expected


def test_open_ends_count_as_valid():
    assert effective_tier("srdi_sme", None, None, date(1990, 1, 1)) is Tier.srdi_sme
    assert effective_tier(Tier.srdi_sme, None, TO, date(2000, 1, 1)) is Tier.srdi_sme
    assert effective_tier(Tier.srdi_sme, FROM, None, date(2099, 1, 1)) is Tier.srdi_sme
    assert effective_tier(None, None, None, FROM) is Tier.none


# -- a consortium's tier ------------------------------------------------------------------
LG, SRDI, INNO, NONE = Tier.little_giant, Tier.srdi_sme, Tier.innovative_sme, Tier.none


def members(*triples):
    return [(tier, Decimal(share), lead) for tier, share, lead in triples]


@pytest.mark.parametrize("given, expected", [
    # a little giant leading with 30 % beside non-SRDI partners: the loophole, closed
    (members((LG, "30", True), (NONE, "70", False)), NONE),
    # exactly half held by the little giant lead: it controls half
    (members((LG, "50", True), (NONE, "50", False)), LG),
    # just under half
    (members((LG, "49.99", True), (NONE, "50.01", False)), NONE),
    # little giant lead 40 % + SRDI partner 20 %: 60 % reach srdi_sme, 40 % reach little_giant
    (members((LG, "40", True), (SRDI, "20", False), (NONE, "40", False)), SRDI),
    # SRDI majority but a non-SRDI lead: the lead's tier caps it
    (members((NONE, "40", True), (LG, "60", False)), NONE),
    (members((INNO, "40", True), (LG, "60", False)), INNO),
    # every member a little giant
    (members((LG, "60", True), (LG, "40", False)), LG),
])
def test_consortium_tier(given, expected):
    assert derive_consortium_tier(given) is expected
