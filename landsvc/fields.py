"""Checks of one property in a dict of merged properties, with Chinese messages naming it.

Services that check a whole entity after merging a PATCH into what is stored (buildings,
listings, split-transfer bodies) read each property through these; each answers the value to
store or raises :class:`~landsvc.errors.InvalidInput` naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from landsvc.db import LabelledEnum
from landsvc.enterprises.tiers import uscc_well_formed
from landsvc.errors import InvalidInput

CHINA = ZoneInfo("Asia/Shanghai")

INDUSTRY_CODE_PATTERN = "^[A-T][0-9]{2,4}$"
"""GB/T 4754-2017: a section letter A–T and a division, group or class of 2–4 digits."""

INDUSTRY_CODE = re.compile(INDUSTRY_CODE_PATTERN)


def today() -> date:
    """Today in China (Beijing time), whatever the server's zone."""
    return datetime.now(CHINA).date()


def text_field(props: Mapping, name: str, label: str, max_length: int, *,
               required: bool = False) -> str | None:
    """A trimmed text property, None when absent or blank."""
    value = props.get(name)
    value = value.strip() if isinstance(value, str) else value
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name}: 缺少{label}", code="missing_value")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: {label}应为文本", code="invalid_value")
    if len(value) > max_length:
        raise InvalidInput(f"{name}: {label}超过 {max_length} 个字符", code="too_long")
    return value


def choice_field(props: Mapping, name: str, enum: type[LabelledEnum], *,
                 required: bool = False, default: LabelledEnum | None = None):
    """An enum property given by its English identifier or Chinese label."""
    value = props.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name}: 缺少取值（可用：{choices(enum)}）", code="missing_value")
        return default
    lookup = enum.lookup()
    found = lookup.get(value) or lookup.get(str(value).strip().lower())
    if found is None:
        raise InvalidInput(f"{name}: 无法识别的值 {str(value)[:40]!r}（可用：{choices(enum)}）",
                           code="invalid_value")
    return enum(found)


def choices(enum: type[LabelledEnum]) -> str:
    return "、".join(f"{m.value}/{m.label}" for m in enum)


def count_field(props: Mapping, name: str, label: str, low: int, high: int, *,
                required: bool = False, code: str = "out_of_range") -> int | None:
    """A whole number property within ``low``–``high``."""
    value = props.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name}: 缺少{label}", code="missing_value")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name}: {label}应为整数", code="invalid_value")
    if not low <= value <= high:
        raise InvalidInput(f"{name}: {label}须在 {low}–{high} 之间，收到 {shown(value)}",
                           code=code)
    return value


def amount_field(props: Mapping, name: str, label: str, *, precision: int, scale: int,
                 required: bool = False, unit: str = "") -> Decimal | None:
    """A positive number property, rounded as its NUMERIC(precision, scale) column keeps it."""
    value = props.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name}: 缺少{label}", code="missing_value")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidInput(f"{name}: {label}应为数字", code="invalid_value")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{name}: {label}应为有限的数字", code="invalid_value")
    try:
        rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)
    except InvalidOperation:
        rounded = Decimal("Infinity")
    limit = Decimal(10) ** (precision - scale)
    if not rounded > 0 or not rounded < limit:
        step = Decimal(1).scaleb(-scale)
        raise InvalidInput(f"{name}: {label}保留 {scale} 位小数后须在 {step}–{limit - step}"
                           f"{unit} 之间，收到 {shown(value)}", code="out_of_range")
    return rounded


def shown(value: Any) -> str:
    text_ = str(value)
    return text_ if len(text_) <= 24 else text_[:24] + "…"


def flag_field(props: Mapping, name: str, default: bool = False) -> bool:
    value = props.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(f"{name}: 应为 true 或 false", code="invalid_value")
    return value


def uscc_field(props: Mapping, name: str, label: str, *, required: bool = False) -> str | None:
    """A USCC property in GB 32100 form (upper case)."""
    value = text_field(props, name, label, 18 * 4, required=required)
    if value is None:
        return None
    value = value.upper()
    if not uscc_well_formed(value):
        raise InvalidInput(f"{name}: {label} {shown(value)!r} 不符合 GB 32100 格式"
                           "（18 位，数字与大写字母，不含 I、O、S、V、Z）", code="invalid_uscc")
    return value


def industry_code_field(props: Mapping, name: str, label: str) -> str | None:
    """A GB/T 4754-2017 industry code property (upper case)."""
    code = text_field(props, name, label, 5 * 4)
    if code is None:
        return None
    code = code.upper()
    if not INDUSTRY_CODE.fullmatch(code):
        raise InvalidInput(f"{name}: 行业代码 {shown(code)!r} 不符合 GB/T 4754-2017"
                           "（门类字母 A–T 加 2–4 位数字，如 C39、C3971）", code="invalid_industry_code")
    return code


def number(value: Any) -> float | None:
    """A NUMERIC column's value as a JSON number (None stays None)."""
    return None if value is None else float(value)
