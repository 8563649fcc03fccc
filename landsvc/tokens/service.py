"""Issuing and resolving bearer tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from landsvc.errors import Forbidden, InvalidInput
from landsvc.tokens.models import ApiToken, Role

TOKEN_PREFIX = "lsv_"
USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and for a bureau the adcode prefix it governs."""

    role: Role
    jurisdiction: str | None = None
    enterprise_uscc: str | None = None

    def covers(self, adcode: str) -> bool:
        """Whether this caller may act on something located in ``adcode``."""
        if self.role is Role.admin:
            return True
        if self.role is Role.bureau:
            return bool(self.jurisdiction) and adcode.startswith(self.jurisdiction)
        return False

    def require_covers(self, adcodes) -> None:
        """Raise Forbidden unless this caller governs every adcode given."""
        outside = sorted({a for a in adcodes if a and not self.covers(a)})
        if outside:
            shown = ", ".join(outside[:10]) + (" …" if len(outside) > 10 else "")
            raise Forbidden(f"超出管辖范围（{self.jurisdiction or '无'}）：行政区 {shown}",
                            code="outside_jurisdiction")


OPERATOR = Principal(Role.admin)
"""The local operator at the CLI: acts everywhere, needs no token."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    *,
    session: Session,
    role: Role,
    jurisdiction: str | None = None,
    enterprise_uscc: str | None = None,
    label: str | None = None,
) -> str:
    """Issue a token and return it in clear; only its hash is kept."""
    if role is Role.bureau:
        if not jurisdiction or not re.fullmatch(r"44(\d\d){0,2}", jurisdiction):
            raise InvalidInput("jurisdiction: 主管部门令牌须指定管辖区划代码前缀，"
                               "如 44（全省）、4403（深圳）、440306（宝安）")
    elif jurisdiction:
        raise InvalidInput("jurisdiction: 仅主管部门(bureau)令牌有管辖范围")
    if role is Role.enterprise:
        if not enterprise_uscc or not USCC_PATTERN.fullmatch(enterprise_uscc):
            raise InvalidInput("enterprise: 企业令牌须指定 18 位统一社会信用代码")
    elif enterprise_uscc:
        raise InvalidInput("enterprise: 仅企业(enterprise)令牌绑定统一社会信用代码")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_hash(token), role=role, jurisdiction=jurisdiction,
                         enterprise_uscc=enterprise_uscc, label=label))
    session.flush()
    return token


def resolve_token(*, session: Session, token: str) -> Principal | None:
    """The principal a token stands for, or None if unknown or revoked."""
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        return None
    return Principal(row.role, row.jurisdiction, row.enterprise_uscc)
