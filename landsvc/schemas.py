"""Base of every request body: text fields may not carry NUL characters.

PostgreSQL cannot store a NUL in text; a body holding one is refused up front as a 422
naming the field, like any other invalid value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, field_validator


def _has_nul(value: Any) -> bool:
    # Nested bodies check their own fields, so the error names the innermost one.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class Body(BaseModel):
    """A request body."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("不能含有 NUL 字符 (\\u0000)")
        return value
