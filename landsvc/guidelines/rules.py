"""Guideline rules: periods, the configurable thresholds, and their pure checks.

Periods are written ``2026`` (the year), ``2026H1``/``2026H2`` (halves) or ``2026Q1``–
``2026Q4`` (quarters); :func:`parse_period` answers the first and last day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from landsvc.errors import InvalidInput
from landsvc.policies.service import register


@dataclass(frozen=True)
class GuidelineRules:
    min_samples: int = 10
    """A zone or district with fewer leases (after outliers) takes the next level up."""
    iqr_factor: float = 1.5
    """Outliers: unit rents outside Q1 − f·IQR … Q3 + f·IQR of their group."""
    listing_margin_percent: float = 30.0
    """A factory listing asking more than P75 × (1 + this/100) is flagged above_guideline."""


DEFAULTS = register("guidelines", GuidelineRules())

_PERIOD = re.compile(r"(?P<year>[0-9]{4})(?:(?P<kind>[HQ])(?P<part>[1-4]))?")
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class Period:
    text: str
    start: date
    end: date


def parse_period(text: str | None) -> Period:
    """``2026`` / ``2026H2`` / ``2026Q3`` (upper or lower case) and its first and last day.

    Raises
    ------
    InvalidInput
        Naming ``period`` when the text is none of these forms or the year is out of range.
    """
    raw = (text or "").strip().upper()
    match = _PERIOD.fullmatch(raw)
    if not match or (match["kind"] == "H" and match["part"] not in ("1", "2")):
        shown = (text or "")[:20]
        raise InvalidInput(f"period: 无法识别的期间 {shown!r}；应为年度 2026、半年 2026H1/2026H2 "
                           "或季度 2026Q1–2026Q4", code="invalid_period")
    year = int(match["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"period: 年度须在 {MIN_YEAR}–{MAX_YEAR} 之间，收到 {year}",
                           code="invalid_period")
    if match["kind"] is None:
        first, last = 1, 12
    else:
        months = 6 if match["kind"] == "H" else 3
        first = (int(match["part"]) - 1) * months + 1
        last = first + months - 1
    end = date(year + 1, 1, 1) if last == 12 else date(year, last + 1, 1)
    return Period(raw, date(year, first, 1), date.fromordinal(end.toordinal() - 1))
