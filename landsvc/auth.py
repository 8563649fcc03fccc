"""Authentication and authorisation as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from landsvc import access
from landsvc.access import Principal
from landsvc.audit import context as audit_context
from landsvc.db import SessionDep
from landsvc.errors import NotAuthenticated
from landsvc.tokens.models import Role
from landsvc.tokens.service import resolve_token

_bearer = HTTPBearer(auto_error=False, description="`landsvc token create` 签发的令牌")


async def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller, or None for anonymous; an unknown token is a 401, never anonymous.

    ``async``, like every dependency that does no I/O: each sync dependency costs a hop to
    the thread pool, a large share of a 10-feature page. The token lookup, which queries,
    goes to the thread pool itself."""
    if credentials is None:
        return None
    principal = await run_in_threadpool(_resolve, request, session, credentials.credentials)
    if principal is None:
        raise NotAuthenticated("令牌无效或已吊销")
    return principal


def _resolve(request: Request, session, token: str) -> Principal | None:
    principal = resolve_token(session=session, token=token)
    if principal is not None:  # the audit's "who" for this transaction's writes
        audit_context.tag_request(session, request, principal.actor, token=token)
    return principal


PrincipalDep = Annotated[Principal | None, Depends(current_principal)]


def require_roles(*roles: Role):
    """A dependency admitting only the given roles (401 anonymous, 403 other roles)."""

    async def dependency(principal: PrincipalDep) -> Principal:
        return access.require_role(principal, *roles)

    return dependency


LandManager = Annotated[Principal, Depends(require_roles(Role.bureau, Role.admin))]
