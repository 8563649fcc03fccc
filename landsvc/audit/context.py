"""Who acts in this transaction, for the audit triggers (migration 0016).

The app tags the transaction where it resolves the caller (:func:`landsvc.auth.current_principal`
for tokens, :func:`landsvc.web.security.load_user` for signed-in people): three
transaction-local settings the triggers read. ``set_config(…, true)`` lasts until the
transaction ends; a request's session commits once, at the end (``landsvc.db``), and
savepoints do not end it. The CLI tags its own (``operator:<os user>``, in
``landsvc.db.session_scope``); untagged writes (plain SQL) are recorded as
``database:<role>``.
"""

from __future__ import annotations

import hashlib

from fastapi import Request
from sqlalchemy import text
from sqlalchemy.orm import Session

MAX_REQUEST_ID = 64

_TAG = text(
    "SELECT set_config('landsvc.actor', :actor, true), "
    "set_config('landsvc.client', :client, true), "
    "set_config('landsvc.request_id', :request_id, true)"
)
_TAG_TOKEN = text(
    "SELECT set_config('landsvc.actor', :actor || coalesce(' token:' || "
    "(SELECT id FROM api_token WHERE token_hash = :token_hash)::text, ''), true), "
    "set_config('landsvc.client', :client, true), "
    "set_config('landsvc.request_id', :request_id, true)"
)


def request_id(request: Request) -> str:
    """The request's id: the one the request-id middleware chose, else the ``X-Request-ID``
    header as sent (cut to 64 characters); '' when there is none."""
    rid = getattr(request.state, "request_id", None) or request.headers.get("x-request-id")
    return (rid or "")[:MAX_REQUEST_ID]


def client(request: Request) -> str:
    return request.client.host if request.client else ""


def tag(session: Session, *, actor: str, client: str = "", request_id: str = "",
        token: str | None = None) -> None:
    """Record ``actor`` (and, given the bearer ``token``, `` token:<id>``), ``client`` and
    ``request_id`` as the authors of this transaction's writes."""
    params = {"actor": actor, "client": client, "request_id": request_id}
    if token is None:
        session.execute(_TAG, params)
    else:
        digest = hashlib.sha256(token.encode()).hexdigest()
        session.execute(_TAG_TOKEN, params | {"token_hash": digest})


def tag_request(session: Session, request: Request, actor: str,
                token: str | None = None) -> None:
    tag(session, actor=actor, client=client(request), request_id=request_id(request),
        token=token)
