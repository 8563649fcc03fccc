"""Issuing and resolving bearer tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import DateTime, func, select, update
from sqlalchemy.orm import Session

from landsvc.access import Principal
from landsvc.districts.service import division_exists
from landsvc.errors import InvalidInput, NotFound
from landsvc.geo import adcode_prefix
from landsvc.tokens.models import ApiToken, Role

TOKEN_PREFIX = "lsv_"
USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
LAST_USED_RESOLUTION = timedelta(seconds=60)
"""``last_used_at`` is rewritten at most this often, so a busy token costs no write per request."""
MAX_EXPIRY = timedelta(days=3650)
_DURATION = re.compile(r"(\d+)([hdw])")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now():
    # The wall clock, not now(): a token expires at its instant even inside a long transaction.
    return func.clock_timestamp(type_=DateTime(timezone=True))


def parse_duration(text: str) -> timedelta:
    """``12h``, ``90d`` or ``2w`` as a timedelta."""
    match = _DURATION.fullmatch(text)
    if not match or int(match[1]) == 0:
        raise InvalidInput("应为正整数加单位 h（小时）、d（天）或 w（周），如 12h、90d、2w；"
                           f"收到 {text!r}")
    try:
        return timedelta(**{_UNITS[match[2]]: int(match[1])})
    except OverflowError:
        raise InvalidInput(f"有效期过长：{text!r}") from None


def normalise_jurisdiction(*, session: Session, jurisdiction: str) -> str:
    """The prefix a Guangdong division governs (``440300`` -> ``4403``); refuses any other code."""
    code = jurisdiction
    if re.fullmatch(r"\d{6}", code):
        code = adcode_prefix(code)
    if not re.fullmatch(r"\d\d(\d\d){0,2}", code) or not code.startswith("44"):
        raise InvalidInput("jurisdiction: 应为广东省行政区划代码或其前缀，如 44（全省）、"
                           f"4403 或 440300（深圳）、440306（宝安）；收到 {jurisdiction!r}")
    try:
        exists = division_exists(session=session, prefix=code)
    except InvalidInput as exc:
        raise InvalidInput(f"jurisdiction: {exc.detail}", code=exc.code) from None
    if not exists:
        raise InvalidInput(f"jurisdiction: 广东省没有行政区划代码为 {jurisdiction} 的地级市或区县")
    return code


def create_token(
    *,
    session: Session,
    role: Role,
    jurisdiction: str | None = None,
    enterprise_uscc: str | None = None,
    label: str | None = None,
    expires_in: timedelta | None = None,
) -> str:
    """Issue a token and return it in clear; only its hash is kept."""
    if role is Role.bureau:
        if not jurisdiction:
            raise InvalidInput("jurisdiction: 主管部门令牌须指定管辖区划代码前缀，"
                               "如 44（全省）、4403（深圳）、440306（宝安）")
        jurisdiction = normalise_jurisdiction(session=session, jurisdiction=jurisdiction)
    elif jurisdiction:
        raise InvalidInput("jurisdiction: 仅主管部门(bureau)令牌有管辖范围")
    if role is Role.enterprise:
        if not enterprise_uscc or not USCC_PATTERN.fullmatch(enterprise_uscc):
            raise InvalidInput("enterprise: 企业令牌须指定 18 位统一社会信用代码")
    elif enterprise_uscc:
        raise InvalidInput("enterprise: 仅企业(enterprise)令牌绑定统一社会信用代码")
    if expires_in is not None and not timedelta(0) < expires_in <= MAX_EXPIRY:
        raise InvalidInput(f"expires_in: 有效期应大于 0、至多 {MAX_EXPIRY.days} 天")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(
        token_hash=_hash(token), role=role, jurisdiction=jurisdiction,
        enterprise_uscc=enterprise_uscc, label=label,
        expires_at=None if expires_in is None else _now() + expires_in,
    ))
    session.flush()
    return token


def resolve_token(*, session: Session, token: str) -> Principal | None:
    """The principal a token stands for, or None if unknown, revoked or expired; notes the use."""
    row = session.execute(
        select(ApiToken.id, ApiToken.role, ApiToken.jurisdiction, ApiToken.enterprise_uscc)
        .where(ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None),
               ApiToken.expires_at.is_(None) | (ApiToken.expires_at > _now()))
    ).one_or_none()
    if row is None:
        return None
    # At most one write a minute per token. SKIP LOCKED: if another request is already
    # noting a use (its row lock lasts until it commits), this one neither waits nor writes.
    stale = (
        select(ApiToken.id)
        .where(ApiToken.id == row.id,
               ApiToken.last_used_at.is_(None)
               | (ApiToken.last_used_at < _now() - LAST_USED_RESOLUTION))
        .with_for_update(skip_locked=True)
    )
    session.execute(
        update(ApiToken).where(ApiToken.id.in_(stale)).values(last_used_at=_now())
        .execution_options(synchronize_session=False)
    )
    return Principal(row.role, row.jurisdiction, row.enterprise_uscc)


_LISTED = (ApiToken.id, ApiToken.role, ApiToken.jurisdiction, ApiToken.enterprise_uscc,
           ApiToken.label, ApiToken.created_at, ApiToken.last_used_at, ApiToken.expires_at,
           ApiToken.revoked_at)


def list_tokens(*, session: Session) -> list[dict]:
    """Every token's particulars, oldest first; never the token or its hash."""
    expired = (ApiToken.expires_at.is_not(None) & (ApiToken.expires_at <= _now())).label("expired")
    rows = session.execute(select(*_LISTED, expired).order_by(ApiToken.id)).mappings()
    return [dict(row, role=row["role"].value, revoked=row["revoked_at"] is not None)
            for row in rows]


def revoke_token(*, session: Session, token_id: int) -> dict:
    """Revoke a token at once; ``already_revoked`` tells whether it had been revoked before."""
    if not 0 < token_id < 2**63:  # beyond BIGINT the database would refuse the query itself
        raise NotFound(f"没有编号为 {token_id} 的令牌", code="token_not_found")
    revoked_at = session.scalar(
        update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=_now()).returning(ApiToken.revoked_at)
        .execution_options(synchronize_session=False)
    )
    if revoked_at is not None:
        return {"id": token_id, "revoked_at": revoked_at, "already_revoked": False}
    revoked_at = session.scalar(select(ApiToken.revoked_at).where(ApiToken.id == token_id))
    if revoked_at is None:
        raise NotFound(f"没有编号为 {token_id} 的令牌", code="token_not_found")
    return {"id": token_id, "revoked_at": revoked_at, "already_revoked": True}
