"""The one access policy, asked by every domain's services.

Four rules decide everything:

- **public if published**: anonymous callers (and every role) see what a domain calls
  published — parcels that are not withdrawn, published offerings and listings …;
- **owned by the enterprise**: an enterprise also sees and acts on what carries its USCC;
- **inside the jurisdiction**: a bureau also sees, and alone may write, what lies in the
  districts its adcode prefix covers;
- **admin**: sees and writes everything (the CLI's local operator is one).

Services express a domain's rows through :func:`read_filter` (a SQL clause) and check a
write with :func:`require_manage` / :func:`require_owner`; routers never test roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, true

from landsvc.errors import Forbidden, NotAuthenticated
from landsvc.tokens.models import Role


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role; for a bureau the adcode prefix it governs, for an enterprise
    its USCC. Tokens and signed-in users (``username``) resolve to one."""

    role: Role
    jurisdiction: str | None = None
    enterprise_uscc: str | None = None
    username: str | None = None

    @property
    def actor(self) -> str:
        """Who acted, as histories record it: ``enterprise:USCC`` or ``role:jurisdiction``,
        followed by `` user:NAME`` when a signed-in person acted."""
        if self.role is Role.enterprise:
            who = f"enterprise:{self.enterprise_uscc}"
        else:
            who = f"{self.role.value}:{self.jurisdiction or ''}"
        return f"{who} user:{self.username}" if self.username else who


OPERATOR = Principal(Role.admin)
"""The local operator at the CLI: acts everywhere, needs no token."""


def read_filter(principal: Principal | None, *, public: ColumnElement | None = None,
                district: ColumnElement | None = None,
                owner: ColumnElement | None = None) -> ColumnElement:
    """The rows ``principal`` may read.

    Parameters
    ----------
    principal : Principal or None
        The caller; None is anonymous.
    public : clause, optional
        True for rows everybody may see (published); None means every row is public.
    district : column, optional
        The row's county adcode: bureaus also see unpublished rows inside their jurisdiction.
    owner : column, optional
        The row's enterprise USCC: an enterprise also sees its own unpublished rows.
    """
    if public is None or (principal is not None and principal.role is Role.admin):
        return true()
    if principal is None:
        return public
    clauses = [public]
    if principal.role is Role.bureau and district is not None:
        clauses.append(district.startswith(principal.jurisdiction))
    if principal.role is Role.enterprise and owner is not None:
        clauses.append(owner == principal.enterprise_uscc)
    return or_(*clauses)


def covers(principal: Principal | None, adcode: str) -> bool:
    """Whether ``principal`` governs something located in ``adcode``."""
    if principal is None:
        return False
    if principal.role is Role.admin:
        return True
    return (principal.role is Role.bureau and bool(principal.jurisdiction)
            and adcode.startswith(principal.jurisdiction))


def require_role(principal: Principal | None, *roles: Role) -> Principal:
    """The caller, if it has one of ``roles``; 401 anonymous, 403 another role."""
    if principal is None:
        raise NotAuthenticated("此操作需要令牌：Authorization: Bearer <token>")
    if principal.role not in roles:
        allowed = "、".join(r.label for r in roles)
        raise Forbidden(f"{principal.role.label}令牌无权执行此操作（需要：{allowed}）")
    return principal


def require_manage(principal: Principal | None, adcodes: Iterable[str | None]) -> None:
    """A write touching things located in ``adcodes``: admins, and bureaus governing all."""
    principal = require_role(principal, Role.bureau, Role.admin)
    outside = sorted({a for a in adcodes if a and not covers(principal, a)})
    if outside:
        shown = ", ".join(outside[:10]) + (" …" if len(outside) > 10 else "")
        raise Forbidden(f"超出管辖范围（{principal.jurisdiction or '无'}）：行政区 {shown}",
                        code="outside_jurisdiction")


def require_owner(principal: Principal | None, uscc: str, *, district: str | None = None) -> None:
    """A write on what enterprise ``uscc`` owns: that enterprise, a bureau governing
    ``district`` (when given), or an admin."""
    principal = require_role(principal, Role.enterprise, Role.bureau, Role.admin)
    if principal.role is Role.enterprise and principal.enterprise_uscc == uscc:
        return
    if district is not None and covers(principal, district):
        return
    if principal.role is Role.admin:
        return
    raise Forbidden(f"无权操作企业 {uscc} 的数据", code="not_owner")
