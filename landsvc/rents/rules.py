"""Rent records: the sane bounds of a registered lease's unit rent.

A registered factory lease in Guangdong rents at a few 元 to a few tens of 元 per ㎡ and
month: Longgang's 2019 survey of 55,295 units found a district mean of 22.76 元/㎡·月,
repackaged "innovative" parks in Shenzhen ask up to about 80 元/㎡, and rural Guangdong
factories let for well under 10. A unit rent below 1 元 is almost always a yearly or total
figure typed into the per-㎡ column the wrong way round (or a rent-free period recorded as a
lease); one above 500 元 — six times the dearest park ever reported — is a monthly total
typed as a unit rent, or an annual figure. Both are refused rather than let into the
statistics the guideline prices are computed from. Each bound may be changed per
jurisdiction: ``landsvc policy set SCOPE rents.<field> VALUE``.
"""

from __future__ import annotations

from dataclasses import dataclass

from landsvc.policies.service import register


@dataclass(frozen=True)
class RentRules:
    min_unit_rent_yuan: float = 1.0
    """The lowest unit rent accepted, 元/㎡·月 (inclusive)."""
    max_unit_rent_yuan: float = 500.0
    """The highest unit rent accepted, 元/㎡·月 (inclusive)."""


DEFAULTS = register("rents", RentRules())
