"""The split-transfer lock, counted as the Civil Code counts periods; the policy defaults."""

from datetime import date

import pytest

from landsvc.buildings.rules import DEFAULTS, anniversary, lock_end
from landsvc.policies.service import known_settings


@pytest.mark.parametrize("day, years, expected", [
    (date(2019, 3, 10), 5, date(2024, 3, 10)),
    (date(2016, 2, 29), 5, date(2021, 2, 28)),   # no 29 February in 2021: the month's last day
    (date(2020, 2, 29), 4, date(2024, 2, 29)),   # a leap year again: the same day
    (date(2023, 12, 31), 5, date(2028, 12, 31)),
    (date(2024, 1, 1), 1, date(2025, 1, 1)),
])
def test_anniversary(day, years, expected):
    assert anniversary(day, years) == expected


def test_the_lock_ends_on_the_fifth_anniversary():
    assert lock_end(date(2019, 3, 10), 5) == date(2024, 3, 10)
    assert lock_end(date(2024, 2, 29), 5) == date(2029, 2, 28)


def test_no_lock_years_locks_nothing():
    assert lock_end(date(2024, 3, 1), 0) == date(2024, 2, 29)


def test_defaults_are_registered_for_the_cli():
    settings = known_settings()
    assert settings["split_transfer.holder_min_share_percent"] == 40.0
    assert settings["split_transfer.resale_lock_years"] == 5
    assert settings["split_transfer.require_completed"] is True
    assert settings["split_transfer.require_manufacturer"] is True
    assert DEFAULTS.holder_min_share_percent == 40.0
