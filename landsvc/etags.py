"""Entity versions as HTTP ETags, and ``If-Match`` for optimistic concurrency.

A row's version is PostgreSQL's ``xmin`` (the transaction that last wrote it): every write
path — API, COPY, SQL by hand — changes it, with no column to keep up to date. An ETag is
``"<id>.<xmin>"``, a strong validator; ``If-Match`` compares strongly, so weak tags never
match (RFC 9110 §13.1.1).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Response

from landsvc.errors import PreconditionFailed

_TAG = re.compile(r'\s*(\*|W/"[^"]*"|"[^"]*")\s*(?:,|$)')


def etag(entity_id: int | str, version: int | str) -> str:
    return f'"{entity_id}.{version}"'


def parse_if_match(header: str | None) -> list[str] | None:
    """The entity tags of an ``If-Match`` header (None when absent); malformed parts ignored,
    which makes a malformed header match nothing."""
    if header is None:
        return None
    return [m[1] for m in _TAG.finditer(header)]


async def if_match_header(
    if_match: Annotated[str | None, Header(
        alias="If-Match", description="上次读取时的 ETag；版本已变则 412，什么也不改")] = None,
) -> list[str] | None:
    return parse_if_match(if_match)


IfMatchDep = Annotated[list[str] | None, Depends(if_match_header)]


def check_if_match(if_match: list[str] | None, current: str, what: str) -> None:
    """Raise 412 unless ``If-Match`` is absent, ``*`` or names ``current``."""
    if if_match is None or "*" in if_match or current in if_match:
        return
    raise PreconditionFailed(f"{what}已被修改（当前 ETag {current}）：请重新读取后再提交",
                             extra={"etag": current})


def with_etag(response: Response, answer: tuple[dict, str]) -> dict:
    """A service's ``(entity, etag)`` answer: the entity, its ETag set as a header."""
    entity, tag = answer
    response.headers["ETag"] = tag
    return entity
