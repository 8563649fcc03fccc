"""Chinese working days (工作日): the statutory holidays and the make-up working days (调休).

The calendar is the ``chinesecalendar`` package's (import name ``chinese_calendar``), which
follows the State Council's yearly notice on the holiday arrangements: a weekday inside a
holiday is a rest day, a Saturday or Sunday made up for it is a working day. It knows the
years from 2004 to the last notice it was released with; for any other year nobody knows the
arrangement yet (or it is too old to matter), so Monday to Friday count as working days and
every answer that relied on such a year says it is *uncertain*.

Speed: a queue of thousands of cases asks for a few counts per case. Each year's working
days are worked out once (365 calls of the package, ~1 ms) and kept, sorted as day ordinals,
in a cache per year; a count or the n-th working day is then a binary search (:mod:`bisect`)
in one or a few such lists, independent of the length of the span within a year.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta
from functools import cache

import chinese_calendar

_ONE_DAY = timedelta(days=1)


@cache
def known(year: int) -> bool:
    """Whether the calendar package has the holiday arrangement of ``year``.

    Asked of the package itself (it refuses a day of a year outside its data with
    ``NotImplementedError``), so a newer release of the package extends the range unaided.
    """
    try:
        chinese_calendar.is_workday(date(year, 7, 1))
    except NotImplementedError:
        return False
    return True


@cache
def _working_ordinals(year: int) -> tuple[int, ...]:
    """The working days of ``year`` as sorted day ordinals (Mon–Fri for an unknown year)."""
    day = date(year, 1, 1)
    days = []
    if known(year):
        while day.year == year:
            if chinese_calendar.is_workday(day):
                days.append(day.toordinal())
            day += _ONE_DAY
    else:
        while day.year == year:
            if day.weekday() < 5:
                days.append(day.toordinal())
            day += _ONE_DAY
    return tuple(days)


def is_working_day(day: date) -> tuple[bool, bool]:
    """Whether ``day`` is a working day, and whether that is uncertain (year not known)."""
    ordinals = _working_ordinals(day.year)
    ordinal = day.toordinal()
    i = bisect_right(ordinals, ordinal)
    return (i > 0 and ordinals[i - 1] == ordinal), not known(day.year)


def working_days_after(start: date, end: date) -> tuple[int, bool]:
    """The number of working days ``d`` with ``start < d <= end`` (0 when ``end <= start``),
    and whether any year of those days is unknown to the calendar.

    ``start`` itself never counts: a step taken on some day starts the clock on the next
    working day, and the day of the closing step counts in full.
    """
    if end <= start:
        return 0, False
    first = start + _ONE_DAY
    count = 0
    uncertain = False
    for year in range(first.year, end.year + 1):
        ordinals = _working_ordinals(year)
        lo = bisect_right(ordinals, start.toordinal()) if year == start.year else 0
        hi = bisect_right(ordinals, end.toordinal()) if year == end.year else len(ordinals)
        count += hi - lo
        uncertain = uncertain or not known(year)
    return count, uncertain


def nth_working_day_after(start: date, n: int) -> tuple[date, bool]:
    """The ``n``-th working day after ``start`` (``n >= 1``), and whether it is uncertain.

    The inverse of :func:`working_days_after`: for the answer ``d``,
    ``working_days_after(start, d) == (n, uncertain)``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    year = (start + _ONE_DAY).year
    uncertain = False
    while True:
        ordinals = _working_ordinals(year)
        lo = bisect_right(ordinals, start.toordinal()) if year == start.year else 0
        uncertain = uncertain or not known(year)
        if lo + n <= len(ordinals):
            return date.fromordinal(ordinals[lo + n - 1]), uncertain
        n -= len(ordinals) - lo
        year += 1
