"""The rules a park row must meet, for a file's batches and a single API write alike.

Geometry, CRS and location are checked as for parcels (:class:`PolygonChecker`); the park's
own fields here. Values come as text from files (``"C39、C3971"``, ``"是"``) or as JSON values
from the API (lists, booleans); both pass the same checks and leave as lists and booleans.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from landsvc.fields import INDUSTRY_CODE
from landsvc.parcels.checks import PolygonChecker

FIELDS = ("name", "district", "leading_industries", "featured_srdi", "services")
"""The writable properties of a park."""

NAME_MAX = 200
SERVICE_MAX = 200
"""Characters, as stored (``VARCHAR(200)``)."""

INDUSTRY_RULE = "须为 GB/T 4754-2017 行业代码：门类字母 A–T 加 2–4 位数字，如 C39、C3971"

INDUSTRY_SEPARATORS = re.compile(r"[,，、;；\s]+")
"""Between codes in a file's text: commas (either width), 顿号, semicolons, white space."""

SERVICE_SEPARATORS = re.compile(r"[,，、;；\r\n]+")
"""Between services in a file's text: as for codes, but a space stays inside a service."""

YES_NO = {"是": True, "否": False, "true": True, "false": False, "1": True, "0": False,
          "yes": True, "no": False, "y": True, "n": False}
"""Accepted (case-insensitive) texts for ``featured_srdi``."""


class ParkChecker(PolygonChecker):
    """Checks batches of park rows: geometry, CRS, location, name, industries, flags."""

    noun = "园区"
    fields = FIELDS

    def _check_attributes(self, rows: pd.DataFrame, reject) -> None:
        name = rows.name.map(lambda v: v.strip() if isinstance(v, str) else v)
        reject(name.map(_has_nul).to_numpy(dtype=bool), "name: 不能含有 NUL 字符")
        reject((pd.isna(name) | name.eq("")).to_numpy(dtype=bool), "name: 缺少园区名称")
        reject(name.str.len().gt(NAME_MAX).to_numpy(dtype=bool),
               f"name: 园区名称超过 {NAME_MAX} 个字符")
        rows["name"] = name
        reject(rows.district.map(_has_nul).to_numpy(dtype=bool), "district: 不能含有 NUL 字符")
        rows["district"] = rows.district.where(~rows.district.map(_has_nul), None)

        codes = rows.leading_industries.map(lambda v: _as_list(v, INDUSTRY_SEPARATORS))
        for i, values in enumerate(codes):
            bad = [c for c in values if not INDUSTRY_CODE.fullmatch(c.upper())]
            if bad:
                shown = "、".join(repr(c) for c in bad[:5]) + (" …" if len(bad) > 5 else "")
                reject([i], f"leading_industries: 行业代码 {shown} 有误（{INDUSTRY_RULE}）")
        rows["leading_industries"] = codes.map(
            lambda values: list(dict.fromkeys(c.upper() for c in values)))

        flag = rows.featured_srdi.map(_yes_no)
        for i in np.flatnonzero(flag.map(lambda v: v is _UNKNOWN).to_numpy(dtype=bool)):
            reject([i], f"featured_srdi: 应为 是/否（true/false、1/0），"
                        f"收到 {rows.featured_srdi.iat[i]!r}")
        rows["featured_srdi"] = flag.map(lambda v: v is True)

        services = rows.services.map(lambda v: _as_list(v, SERVICE_SEPARATORS))
        for i, values in enumerate(services):
            if _has_nul(values):
                reject([i], "services: 不能含有 NUL 字符")
            if any(len(s) > SERVICE_MAX for s in values):
                reject([i], f"services: 每项配套服务不超过 {SERVICE_MAX} 个字符")
        rows["services"] = services.map(lambda values: list(dict.fromkeys(values)))


_UNKNOWN = object()


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _missing(value) -> bool:
    """None, or pandas' NaN for a value a column does not have."""
    return value is None or (isinstance(value, float) and np.isnan(value))


def _as_list(value, separators: re.Pattern) -> list[str]:
    """A list of stripped, non-empty texts from a list (the API) or a text (a file)."""
    if _missing(value):
        return []
    items = separators.split(value) if isinstance(value, str) else [str(v) for v in value]
    return [s for s in (item.strip() for item in items) if s]


def _yes_no(value):
    """True/False, None when absent, ``_UNKNOWN`` when not a yes or no."""
    if _missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        return YES_NO.get(value.strip().lower(), _UNKNOWN)
    return _UNKNOWN
