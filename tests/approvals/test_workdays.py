"""The working-day calendar, against arrangements read by hand from the State Council notices
(as the chinesecalendar package carries them):

- 2025 National Day + Mid-Autumn: rest Wed 1 Oct – Wed 8 Oct; make-up working days
  Sun 28 Sep and Sat 11 Oct.
- 2025 Spring Festival: rest Tue 28 Jan – Tue 4 Feb; make-up Sun 26 Jan and Sat 8 Feb.
- 2026 New Year: rest Thu 1 Jan – Sat 3 Jan; make-up Sun 4 Jan.
- 2026 Spring Festival: rest Sun 15 Feb – Mon 23 Feb; make-up Sat 14 Feb and Sat 28 Feb.
- 2004 New Year: Thu 1 Jan is a holiday.
The package knows 2004–2026; 2003 and 2027 are counted Monday–Friday, uncertain.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landsvc.approvals.workdays import (
    is_working_day,
    known,
    nth_working_day_after,
    working_days_after,
)


def test_known_years_are_the_packages():
    assert not known(2003)
    assert known(2004)
    assert known(2026)
    assert not known(2027)


@pytest.mark.parametrize(("day", "expected"), [
    (date(2025, 10, 11), (True, False)),   # Saturday, 调休 make-up working day
    (date(2025, 9, 28), (True, False)),    # Sunday, 调休 make-up working day
    (date(2026, 2, 14), (True, False)),    # Saturday before the Spring Festival, worked
    (date(2025, 10, 6), (False, False)),   # Monday inside the National Day holiday
    (date(2026, 2, 23), (False, False)),   # Monday, last day of the 2026 Spring Festival
    (date(2026, 3, 7), (False, False)),    # ordinary Saturday
    (date(2026, 3, 9), (True, False)),     # ordinary Monday
    (date(2027, 1, 1), (True, True)),      # Friday of an unknown year: Mon–Fri rule
    (date(2027, 1, 2), (False, True)),     # Saturday of an unknown year
    (date(2003, 12, 31), (True, True)),    # Wednesday before the package's range
])
def test_is_working_day(day, expected):
    assert is_working_day(day) == expected


def test_same_day_and_backwards_count_nothing():
    assert working_days_after(date(2026, 3, 9), date(2026, 3, 9)) == (0, False)
    assert working_days_after(date(2026, 3, 10), date(2026, 3, 9)) == (0, False)
    # the start day never counts, even a working day; the end day counts in full
    assert working_days_after(date(2026, 3, 9), date(2026, 3, 10)) == (1, False)


def test_step_on_a_holiday():
    # 1 Oct 2025 to 8 Oct 2025: every day after the 1st up to the 8th is a holiday
    assert working_days_after(date(2025, 10, 1), date(2025, 10, 8)) == (0, False)
    # from the 3rd (holiday) to Thu 9 Oct: only the 9th works
    assert working_days_after(date(2025, 10, 3), date(2025, 10, 9)) == (1, False)
    # the first working day after a step on a holiday: Thu 9 Oct
    assert nth_working_day_after(date(2025, 10, 3), 1) == (date(2025, 10, 9), False)
    # then Fri 10, Sat 11 (调休)
    assert nth_working_day_after(date(2025, 10, 3), 3) == (date(2025, 10, 11), False)


def test_step_on_a_weekend():
    # Sat 7 Mar 2026 to Mon 9 Mar: Sunday rests, Monday counts
    assert working_days_after(date(2026, 3, 7), date(2026, 3, 9)) == (1, False)
    assert working_days_after(date(2026, 3, 7), date(2026, 3, 8)) == (0, False)
    assert nth_working_day_after(date(2026, 3, 7), 1) == (date(2026, 3, 9), False)
    # a step on Friday: the next working day is Monday
    assert nth_working_day_after(date(2026, 3, 6), 1) == (date(2026, 3, 9), False)
    # a step on Sat 25 Jan 2025: Sun 26 Jan is a make-up working day, the first one after it
    assert nth_working_day_after(date(2025, 1, 25), 1) == (date(2025, 1, 26), False)


def test_spring_festival_2025():
    # after Sat 25 Jan: Sun 26 (1, 调休), Mon 27 (2), 28 Jan–4 Feb rest, Wed 5 Feb (3)
    assert nth_working_day_after(date(2025, 1, 25), 3) == (date(2025, 2, 5), False)
    # Wed 5, Thu 6, Fri 7, Sat 8 (调休) Feb: 4 working days after Tue 4 Feb up to Sun 9 Feb
    assert working_days_after(date(2025, 2, 4), date(2025, 2, 9)) == (4, False)


def test_across_new_year_2026():
    # after Wed 31 Dec 2025: 1–3 Jan rest, Sun 4 Jan (1, 调休), Mon 5 Jan (2)
    assert working_days_after(date(2025, 12, 31), date(2026, 1, 5)) == (2, False)
    assert nth_working_day_after(date(2025, 12, 31), 2) == (date(2026, 1, 5), False)


def test_unknown_year_counts_monday_to_friday_and_is_uncertain():
    # 2027 starts on a Friday and has 365 days: 52 weeks (260 weekdays) + Fri 31 Dec = 261
    assert working_days_after(date(2026, 12, 31), date(2027, 12, 31)) == (261, True)
    # after Thu 31 Dec 2026: Fri 1 Jan 2027 counts (no data, so no New Year holiday)
    assert nth_working_day_after(date(2026, 12, 31), 1) == (date(2027, 1, 1), True)
    # after Mon 28 Dec 2026, three days stay in 2026: certain
    assert nth_working_day_after(date(2026, 12, 28), 3) == (date(2026, 12, 31), False)
    assert working_days_after(date(2026, 12, 28), date(2026, 12, 31)) == (3, False)


def test_before_the_packages_range():
    # after Mon 29 Dec 2003: Tue 30, Wed 31 (Mon–Fri rule, uncertain)
    assert nth_working_day_after(date(2003, 12, 29), 2) == (date(2003, 12, 31), True)
    # after Wed 31 Dec 2003 only 2004 is counted: Thu 1 Jan 2004 is New Year's Day, Fri 2 works
    assert nth_working_day_after(date(2003, 12, 31), 1) == (date(2004, 1, 2), False)
    assert working_days_after(date(2003, 12, 31), date(2004, 1, 2)) == (1, False)


def test_n_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        nth_working_day_after(date(2026, 3, 9), 0)


def _slow_count(start: date, end: date) -> int:
    """Day by day with the package itself: the oracle for the bisect version."""
    count, day = 0, start + timedelta(days=1)
    while day <= end:
        count += chinese_calendar.is_workday(day)
        day += timedelta(days=1)
    return count


known_days = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 10, 31))


@settings(max_examples=200, deadline=None)
@given(start=known_days, span=st.integers(min_value=0, max_value=60))
def test_count_agrees_with_the_package_day_by_day(start, span):
    end = start + timedelta(days=span)
    assert working_days_after(start, end) == (_slow_count(start, end), False)


@settings(max_examples=200, deadline=None)
@given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
       n=st.integers(min_value=1, max_value=400))
def test_nth_is_the_inverse_of_the_count(start, n):
    day, uncertain = nth_working_day_after(start, n)
    assert is_working_day(day)[0]
    assert working_days_after(start, day) == (n, uncertain)
    assert working_days_after(start, day - timedelta(days=1))[0] == n - 1
