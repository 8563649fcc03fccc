"""Forms: from posted fields to the API's own input models, and errors back to fields.

A page never re-states a rule: it builds the same Pydantic model the API route takes and
calls the same service; :func:`field_errors` turns what they raise into messages keyed by
field, shown next to each input (``_`` for what belongs to no one field).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from landsvc.errors import LandsvcError

M = TypeVar("M", bound=BaseModel)
_FIELD = re.compile(r"^(?P<field>[a-z_][a-z0-9_]*)(?:\[\d+\])?(?:\.[a-z0-9_]+)*\s*[:：]\s*")


class FormInvalid(Exception):
    """A form that does not validate: ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def field_errors(exc: Exception) -> dict[str, str]:
    """Messages keyed by field from a validation error or a service's refusal.

    Service messages follow the API's convention ``field: 说明``; one that names no field
    goes under ``_`` whole."""
    if isinstance(exc, FormInvalid):
        return exc.errors
    if isinstance(exc, ValidationError):
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "form")]
            key = loc[0] if loc else "_"
            errors.setdefault(key, err.get("msg", "无效"))
        return errors
    if isinstance(exc, LandsvcError):
        match = _FIELD.match(exc.detail)
        if match:
            return {match["field"]: exc.detail[match.end():] or exc.detail}
        return {"_": exc.detail}
    raise exc


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
