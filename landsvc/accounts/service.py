"""People's accounts: creating users, signing in and out, sessions, throttling.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile);
a browser session is a random cookie whose SHA-256 alone is stored, like API tokens. A
session ends after :data:`IDLE` without a request or :data:`ABSOLUTE` after sign-in,
whichever comes first, and at once when its user is disabled or changes password.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import DateTime, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from landsvc.access import Principal
from landsvc.accounts.models import AppUser, LoginFailure, WebSession
from landsvc.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, TooManyRequests
from landsvc.tokens.models import Role
from landsvc.tokens.service import USCC_PATTERN, normalise_jurisdiction

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,39}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 200
IDLE = timedelta(hours=2)
ABSOLUTE = timedelta(hours=12)
SEEN_RESOLUTION = timedelta(seconds=60)
"""``last_seen_at`` (and so the idle expiry) moves at most this often: no write per request."""
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 30

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("landsvc-no-such-user")
"""Verified against when the username is unknown, so that both cases take the same time."""


class LoginFailed(NotAuthenticated):
    """Wrong username or password: the message never says which."""

    code = "login_failed"


class LoginThrottled(TooManyRequests):
    """Too many failures recently; ``extra["retry_after"]`` seconds until the next attempt."""

    code = "login_throttled"


@dataclass(frozen=True)
class SignedIn:
    """A resolved browser session."""

    user_id: int
    username: str
    principal: Principal
    csrf_token: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now():
    return func.clock_timestamp(type_=DateTime(timezone=True))


def check_password(password: str) -> None:
    """A new password's rules: 10–200 characters, not all of one kind."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"password: 密码长度应为 {MIN_PASSWORD}–{MAX_PASSWORD} 个字符",
                           code="weak_password")
    if password.isdigit() or password.isalpha():
        raise InvalidInput("password: 密码不能只由数字或只由字母组成", code="weak_password")


def create_user(*, session: Session, username: str, password: str, role: Role,
                jurisdiction: str | None = None, enterprise_uscc: str | None = None) -> AppUser:
    """A new account; the role's binding (jurisdiction or USCC) is checked like a token's."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise InvalidInput("username: 用户名应为 3–40 个小写字母、数字或 _ . -，以字母或数字开头；"
                           f"收到 {username!r}", code="invalid_username")
    check_password(password)
    if role is Role.bureau:
        if not jurisdiction:
            raise InvalidInput("jurisdiction: 主管部门账号须指定管辖区划，如 44、4403、440306")
        jurisdiction = normalise_jurisdiction(session=session, jurisdiction=jurisdiction)
    elif jurisdiction:
        raise InvalidInput("jurisdiction: 只有主管部门账号有管辖区划")
    if role is Role.enterprise:
        if not enterprise_uscc or not USCC_PATTERN.fullmatch(enterprise_uscc):
            raise InvalidInput("enterprise: 企业账号须指定 18 位统一社会信用代码；"
                               f"收到 {enterprise_uscc!r}")
    elif enterprise_uscc:
        raise InvalidInput("enterprise: 只有企业账号绑定统一社会信用代码")
    user = AppUser(username=name, password_hash=_hasher.hash(password), role=role,
                   jurisdiction=jurisdiction, enterprise_uscc=enterprise_uscc)
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"username: 用户名 {name} 已存在", code="username_taken") from None
    return user


def list_users(*, session: Session) -> list[dict]:
    """Every account, oldest first, without hashes; with its number of live sessions."""
    live = (select(func.count()).where(WebSession.user_id == AppUser.id,
                                       WebSession.expires_at > _now())
            .correlate(AppUser).scalar_subquery())
    rows = session.execute(select(AppUser, live).order_by(AppUser.id)).all()
    return [{"id": u.id, "username": u.username, "role": u.role.value,
             "jurisdiction": u.jurisdiction, "enterprise_uscc": u.enterprise_uscc,
             "created_at": u.created_at, "last_login_at": u.last_login_at,
             "disabled": u.disabled_at is not None, "sessions": n} for u, n in rows]


def disable_user(*, session: Session, username: str) -> None:
    """Disable an account and end its sessions at once."""
    user = session.scalar(select(AppUser).where(AppUser.username == username.strip().lower())
                          .with_for_update())
    if user is None:
        raise NotFound(f"没有用户 {username}")
    if user.disabled_at is None:
        user.disabled_at = datetime.now().astimezone()
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def _throttle(session: Session, name: str, client: str | None) -> None:
    since = func.clock_timestamp() - THROTTLE_WINDOW
    recent = select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.at > since)
    for column, value, limit in ((LoginFailure.username, name, MAX_FAILURES_PER_USER),
                                 (LoginFailure.client, client, MAX_FAILURES_PER_CLIENT)):
        if value is None:
            continue
        count, oldest = session.execute(recent.where(column == value)).one()
        if count >= limit:
            wait = session.scalar(select(func.extract(
                "epoch", oldest + THROTTLE_WINDOW - func.clock_timestamp())))
            seconds = max(1, int(wait or 1) + 1)
            raise LoginThrottled(f"登录失败次数过多，请 {(seconds + 59) // 60} 分钟后再试",
                                 extra={"retry_after": seconds})


def sign_in(*, session: Session, username: str, password: str,
            client: str | None) -> tuple[str, SignedIn]:
    """Check the password and open a session: ``(cookie value, signed-in)``.

    Raises :class:`LoginFailed` for an unknown user, a wrong password or a disabled account
    alike, and :class:`LoginThrottled` after too many failures for the name or the client.
    The failure is recorded and committed by the caller even though the sign-in fails.
    """
    name = username.strip().lower()[:40]
    _throttle(session, name, client)
    user = session.scalar(select(AppUser).where(AppUser.username == name))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:MAX_PASSWORD])
        ok = user is not None and user.disabled_at is None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        session.add(LoginFailure(username=name, client=client))
        session.flush()
        raise LoginFailed("用户名或密码错误")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = datetime.now().astimezone()
    session.execute(delete(LoginFailure).where(LoginFailure.username == name))
    session.execute(delete(WebSession).where(WebSession.user_id == user.id,
                                             WebSession.expires_at <= _now()))
    token = secrets.token_urlsafe(32)
    row = WebSession(token_hash=_hash_token(token), user_id=user.id,
                     csrf_token=secrets.token_urlsafe(32),
                     expires_at=func.least(_now() + IDLE, _now() + ABSOLUTE))
    session.add(row)
    session.flush()
    return token, _signed_in(user, row)


def _signed_in(user: AppUser, row: WebSession) -> SignedIn:
    return SignedIn(user_id=user.id, username=user.username, csrf_token=row.csrf_token,
                    principal=Principal(user.role, user.jurisdiction, user.enterprise_uscc,
                                        username=user.username))


def resolve_session(*, session: Session, token: str) -> SignedIn | None:
    """The live session behind a cookie, or None (unknown, expired, or user disabled).

    A session in use has its idle expiry moved on, never past :data:`ABSOLUTE`."""
    row = session.execute(
        select(WebSession, AppUser).join(AppUser, AppUser.id == WebSession.user_id)
        .where(WebSession.token_hash == _hash_token(token), WebSession.expires_at > _now(),
               AppUser.disabled_at.is_(None))).first()
    if row is None:
        return None
    web, user = row
    session.execute(
        update(WebSession)
        .where(WebSession.id == web.id,
               WebSession.last_seen_at < _now() - SEEN_RESOLUTION)
        .values(last_seen_at=_now(),
                expires_at=func.least(_now() + IDLE, WebSession.created_at + ABSOLUTE)))
    return _signed_in(user, web)


def sign_out(*, session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash_token(token)))


def change_password(*, session: Session, user_id: int, old: str, new: str,
                    keep_token: str | None = None) -> None:
    """Change a password after checking the old one; every other session of the user ends."""
    user = session.get(AppUser, user_id, with_for_update=True)
    if user is None or user.disabled_at is not None:
        raise NotFound("账号不存在或已停用")
    try:
        _hasher.verify(user.password_hash, old[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        raise InvalidInput("old_password: 原密码不正确", code="wrong_password") from None
    if new == old:
        raise InvalidInput("password: 新密码不能与原密码相同", code="weak_password")
    check_password(new)
    user.password_hash = _hasher.hash(new)
    user.password_changed_at = datetime.now().astimezone()
    ended = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_token:
        ended = ended.where(WebSession.token_hash != _hash_token(keep_token))
    session.execute(ended)
