"""Enterprise tiers (梯度培育) and the USCC format, shared by supply, demand and approvals."""

from __future__ import annotations

import re
from datetime import date

from landsvc.db import LabelledEnum


class Tier(LabelledEnum):
    """MIIT's cultivation tiers, lowest first: ``Tier.rank`` orders them."""

    none = "none", "无"
    innovative_sme = "innovative_sme", "创新型中小企业"
    srdi_sme = "srdi_sme", "专精特新中小企业"
    little_giant = "little_giant", "专精特新“小巨人”企业"

    @property
    def rank(self) -> int:
        return list(Tier).index(self)


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""GB 32100-2015: the 31 characters of a unified social credit code (no I, O, Z, S, V)."""

_USCC = re.compile(f"[{USCC_ALPHABET}]{{18}}")


def uscc_well_formed(code: str) -> bool:
    """18 characters from the GB 32100 alphabet (the check character is not verified)."""
    return bool(_USCC.fullmatch(code))


def uscc_check_character(code: str) -> str:
    """The check character GB 32100 computes from the first 17 characters of ``code``."""
    weights = [pow(3, i, 31) for i in range(17)]
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], weights, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_check_passes(code: str) -> bool:
    """Whether a well-formed ``code`` ends in the check character of its first 17."""
    return uscc_check_character(code) == code[17]


def effective_tier(tier: Tier | str | None, valid_from: date | None, valid_to: date | None,
                   on: date) -> Tier:
    """The tier in force on day ``on``: ``tier`` inside [valid_from, valid_to] (an open end
    counts as valid), else ``none`` — a lapsed tier is none from the day after valid_to."""
    if tier is None:
        return Tier.none
    if valid_from is not None and on < valid_from:
        return Tier.none
    if valid_to is not None and on > valid_to:
        return Tier.none
    return Tier(tier)
