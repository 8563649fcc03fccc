"""Split transfer of industrial property (分割转让): the rules and their defaults.

Defaults follow Guangdong's notice on the split and split transfer of industrial property
(《广东省自然资源厅关于明确工业物业产权分割及分割转让不动产登记有关事项的通知》,
粤自然资规字〔2019〕3号, in force since 2019-05-01) and Huizhou's operating guide to it
(惠州市自然资源局、工业和信息化局《工业物业产权分割及分割转让不动产登记操作指引》): only
completed, registered buildings of a manufacturer; units of whole buildings or whole floors
(幢、层等固定界限); buyers are industry-chain partners; the holder keeps at least 40 % of the
floor area; a unit transferred is not transferred again within 5 years. Each value may be
changed per jurisdiction: ``landsvc policy set SCOPE split_transfer.<field> VALUE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from landsvc.policies.service import register

MANUFACTURING_SECTION = "C"
"""GB/T 4754-2017 section C, 制造业 (divisions 13–43)."""


@dataclass(frozen=True)
class SplitTransferRules:
    holder_min_share_percent: float = 40.0
    """The original holder keeps at least this share of the building's floor area."""
    resale_lock_years: int = 5
    """A unit transferred may not be transferred again for this many years (0: no lock)."""
    require_completed: bool = True
    """Only a completed building (已竣工验收) may be split."""
    require_manufacturer: bool = True
    """Only a building whose holder is a manufacturer (GB/T 4754 section C) may be split."""


DEFAULTS = register("split_transfer", SplitTransferRules())


def anniversary(day: date, years: int) -> date:
    """The same day ``years`` later; 29 February falls back to 28 February.

    The Civil Code counts a period of years from the day after ``day`` (art. 201); it ends on
    the corresponding day of the last year, or on the month's last day if there is none
    (art. 202). Art. 203 (a last day on a holiday moves on) is for deadlines to act, not for
    a lock, and is not applied.
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


def lock_end(transfer_date: date, years: int) -> date:
    """The last day a unit transferred on ``transfer_date`` may not be transferred again.

    With no lock (0 years) that is the day before the transfer: nothing is locked.
    """
    if years <= 0:
        return transfer_date - timedelta(days=1)
    return anniversary(transfer_date, years)
