"""Forms: from posted fields to the API's own input models, and errors back to fields.

A page never re-states a rule: it builds the same Pydantic model the API route takes and
calls the same service; :func:`field_errors` turns what they raise into messages keyed by
field, shown next to each input (``_`` for what belongs to no one field).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from landsvc.errors import LandsvcError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
_FIELD = re.compile(r"^(?P<field>[a-z_][a-z0-9_]*)(?:\[(?P<row>\d+)\])?"
                    r"(?:\.(?P<sub>[a-z0-9_]+))*\s*[:：]\s*")
MESSAGES = {
    "missing": "必填", "string_too_short": "不能为空",
    "string_too_long": "不能超过 {max_length} 个字符",
    "greater_than": "须大于 {gt}", "greater_than_equal": "不能小于 {ge}",
    "less_than": "须小于 {lt}", "less_than_equal": "不能大于 {le}",
    "decimal_parsing": "应为数字", "float_parsing": "应为数字", "int_parsing": "应为整数",
    "int_from_float": "应为整数", "decimal_max_places": "至多 {decimal_places} 位小数",
    "decimal_max_digits": "数字位数过多", "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）", "bool_parsing": "应为是或否",
    "string_pattern_mismatch": "格式不正确", "literal_error": "取值无效", "enum": "取值无效",
    "too_long": "至多 {max_length} 项", "too_short": "至少 {min_length} 项",
    "extra_forbidden": "不能填写此项",
}
"""Pydantic's messages a form can meet, in Chinese (the API answers them in English)."""


class FormInvalid(Exception):
    """A form that does not validate: ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _message(err: dict) -> str:
    template = MESSAGES.get(err.get("type", ""))
    if template is None:
        return err.get("msg", "无效")
    ctx = {k: f"{float(v):g}" if isinstance(v, int | float | Decimal) else v
           for k, v in (err.get("ctx") or {}).items()}
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return err.get("msg", "无效")


def field_errors(exc: Exception) -> dict[str, str]:
    """Messages keyed by field from a validation error or a service's refusal.

    Service messages follow the API's convention ``field: 说明``; one that names no field
    goes under ``_`` whole. A field of a list's row (``members[1].uscc``, or pydantic's
    ``("members", 1, "uscc")``) is keyed ``members.1.uscc``; other nested places by their
    first part."""
    if isinstance(exc, FormInvalid):
        return exc.errors
    if isinstance(exc, ValidationError):
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "form")]
            row = len(loc) >= 3 and loc[1].isdigit()
            key = ".".join(loc[:3]) if row else (loc[0] if loc else "_")
            errors.setdefault(key, _message(err))
        return errors
    if isinstance(exc, LandsvcError):
        match = _FIELD.match(exc.detail)
        if not match:
            return {"_": exc.detail}
        key = match["field"]
        if match["row"] is not None and match["sub"]:
            key = f"{key}.{match['row']}.{match['sub']}"
        return {key: exc.detail[match.end():] or exc.detail}
    raise exc


def attempt(session: Session, call: Callable[[], T]) -> tuple[T | None, Exception | None]:
    """``call()`` in a savepoint: ``(its answer, None)``, or ``(None, the refusal)`` with
    nothing it wrote kept — a page that shows the refusal still commits its session."""
    try:
        with session.begin_nested():
            return call(), None
    except (ValidationError, LandsvcError) as exc:
        return None, exc


def text(form: FormData, name: str) -> str | None:
    """A text field, stripped; None when absent or blank."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def values(form: FormData, name: str) -> list[str]:
    """Every non-blank value of a repeated field (checkboxes, multi-selects)."""
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def model(cls: type[M], data: dict[str, Any]) -> M:
    """``cls`` from the form's fields (blank fields left out, so defaults apply)."""
    return cls.model_validate({k: v for k, v in data.items() if v not in (None, "", [])})
