"""People's accounts in the browser: sign-in, cookies, CSRF, throttling, sessions ending."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from landsvc.access import Principal
from landsvc.accounts import service as accounts
from landsvc.accounts.models import AppUser, LoginFailure, WebSession
from landsvc.tokens.models import Role
from tests.web.conftest import PASSWORD, csrf_of, login

USCC = "91440300MA5FXXXX1X"


def sessions_of(session, username: str) -> int:
    return session.scalar(select(func.count()).select_from(WebSession).join(AppUser)
                          .where(AppUser.username == username))


def test_login_page_sets_a_csrf_cookie_and_carries_its_token(client):
    page = client.get("/login")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    cookie = page.headers["set-cookie"]
    token = csrf_of(page.text)
    assert cookie.startswith(f"landsvc_csrf={token};")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert '<label for="f-username">' in page.text and '<label for="f-password">' in page.text


def test_sign_in_sends_each_role_home_with_a_safe_cookie(client, web_user, session):
    for role, binding, home in (("enterprise", {"enterprise_uscc": USCC}, "/enterprise/"),
                                ("bureau", {"jurisdiction": "4403"}, "/bureau/"),
                                ("admin", {}, "/bureau/")):
        name = web_user(role, **binding)
        client.cookies.clear()
        answer = login(client, name)
        assert answer.status_code == 303 and answer.headers["location"] == home
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("landsvc_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert sessions_of(session, name) == 1
        page = client.get("/account/password")
        assert page.status_code == 200 and name in page.text


def test_secure_cookie_when_configured(make_app, web_user):
    client = TestClient(make_app(cookie_secure=True))
    name = web_user("admin")
    assert "Secure" in login(client, name).headers["set-cookie"]


def test_wrong_password_and_unknown_user_read_the_same(client, web_user, session):
    name = web_user("admin", username="carol")
    wrong = login(client, name, "not-the-password-1")
    unknown = login(client, "nobody-here", "not-the-password-1")
    assert wrong.status_code == unknown.status_code == 401
    message = re.compile(r'<div class="alert error" role="alert">([^<]*)</div>')
    assert message.search(wrong.text)[1] == message.search(unknown.text)[1] == "用户名或密码错误"
    assert "set-cookie" not in wrong.headers or "landsvc_session" not in wrong.headers["set-cookie"]
    # The name typed is kept in the form; the password never is.
    assert 'value="carol"' in wrong.text and "not-the-password-1" not in wrong.text
    assert session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.username == "carol")) == 1


def test_login_without_or_with_a_forged_csrf_token_is_403(client, web_user, session):
    name = web_user("admin")
    client.get("/login")
    for token in (None, "forged-token-forged-token-forged"):
        data = {"username": name, "password": PASSWORD}
        if token:
            data["csrf_token"] = token
        answer = client.post("/login", data=data, follow_redirects=False)
        assert answer.status_code == 403 and "CSRF" in answer.text
        assert "text/html" in answer.headers["content-type"]
    assert sessions_of(session, name) == 0


def test_repeated_failures_throttle_the_name_even_with_the_right_password(client, web_user):
    name = web_user("admin")
    for _ in range(accounts.MAX_FAILURES_PER_USER):
        assert login(client, name, "wrong-password-123").status_code == 401
    answer = login(client, name)
    assert answer.status_code == 429 and "登录失败次数过多" in answer.text
    assert 0 < int(answer.headers["retry-after"]) <= accounts.THROTTLE_WINDOW.total_seconds() + 1


def test_success_clears_earlier_failures(client, web_user, session):
    name = web_user("admin")
    for _ in range(accounts.MAX_FAILURES_PER_USER - 1):
        login(client, name, "wrong-password-123")
    assert login(client, name).status_code == 303
    assert session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.username == name)) == 0


def test_next_goes_back_to_local_pages_only(client, web_user):
    name = web_user("bureau", jurisdiction="4403")
    assert login(client, name, next_path="/account/password").headers["location"] == (
        "/account/password")
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"):
        client.cookies.clear()
        assert login(client, name, next_path=evil).headers["location"] == "/bureau/"


def test_anonymous_visits_to_protected_pages_go_to_login_and_come_back(client, web_user):
    answer = client.get("/account/password", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/account/password"
    name = web_user("admin")
    assert login(client, name, next_path="/account/password").headers["location"] == (
        "/account/password")


@pytest.mark.parametrize("path, role, binding", [
    ("/enterprise/", "bureau", {"jurisdiction": "4403"}),
    ("/enterprise/", "admin", {}),
    ("/bureau/", "enterprise", {"enterprise_uscc": USCC}),
])
def test_another_role_gets_403(client, web_user, path, role, binding):
    login(client, web_user(role, **binding))
    answer = client.get(path)
    assert answer.status_code == 403 and "无权访问" in answer.text


@pytest.mark.parametrize("path", ["/enterprise/", "/bureau/"])
def test_portals_send_anonymous_visitors_to_login(client, path):
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}"


def test_disabling_a_user_ends_its_sessions_at_once(client, web_user, session):
    name = web_user("admin")
    login(client, name)
    assert client.get("/account/password").status_code == 200
    accounts.disable_user(session=session, username=name)
    assert sessions_of(session, name) == 0
    answer = client.get("/account/password", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert login(client, name).status_code == 401  # and no new sign-in


def test_an_expired_session_is_over(client, web_user, session):
    name = web_user("admin")
    login(client, name)
    session.execute(update(WebSession).values(expires_at=func.now() - accounts.IDLE))
    answer = client.get("/account/password", follow_redirects=False)
    assert answer.headers["location"] == "/login?next=/account/password&expired=1"


def test_a_form_sent_after_the_session_lapsed_goes_to_login_and_back_kept(client, web_user,
                                                                           session):
    name = web_user("admin")
    login(client, name)
    form = client.get("/account/password")
    session.execute(update(WebSession).values(expires_at=func.now() - accounts.IDLE))
    answer = client.post("/account/password", data={"csrf_token": csrf_of(form.text),
                                                    "old_password": "x"},
                         headers={"referer": "http://testserver/account/password"},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/account/password&expired=1"
    page = client.get(answer.headers["location"])
    assert "登录已过期" in page.text and 'name="expired" value="1"' in page.text
    again = client.post("/login", data={"username": name, "password": PASSWORD,
                                        "csrf_token": csrf_of(page.text),
                                        "next": "/account/password", "expired": "1"},
                        follow_redirects=False)
    assert again.headers["location"] == "/account/password#kept"  # app.js restores the form


def test_logout_needs_the_csrf_token_and_ends_the_session(client, web_user, session):
    name = web_user("admin")
    login(client, name)
    page = client.get("/account/password")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert sessions_of(session, name) == 1
    answer = client.post("/logout", data={"csrf_token": csrf_of(page.text)},
                         follow_redirects=False)
    assert answer.status_code == 303 and sessions_of(session, name) == 0
    assert 'landsvc_session=""' in answer.headers["set-cookie"]


def test_password_change_checks_the_old_one_and_ends_other_sessions(make_app, web_user,
                                                                    session):
    name = web_user("admin")
    mine, other = TestClient(make_app()), TestClient(make_app())
    login(mine, name)
    login(other, name)
    page = mine.get("/account/password")
    wrong = mine.post("/account/password", data={
        "csrf_token": csrf_of(page.text), "old_password": "wrong-one-123",
        "password": "brand-new-pass-7", "password_repeat": "brand-new-pass-7"})
    assert wrong.status_code == 422 and "原密码不正确" in wrong.text
    weak = mine.post("/account/password", data={
        "csrf_token": csrf_of(page.text), "old_password": PASSWORD,
        "password": "1234567890123", "password_repeat": "1234567890123"})
    assert weak.status_code == 422 and "不能只由数字或只由字母组成" in weak.text
    done = mine.post("/account/password", data={
        "csrf_token": csrf_of(page.text), "old_password": PASSWORD,
        "password": "brand-new-pass-7", "password_repeat": "brand-new-pass-7"})
    assert done.status_code == 200 and "密码已修改" in done.text
    assert sessions_of(session, name) == 1
    assert mine.get("/account/password").status_code == 200
    assert other.get("/account/password", follow_redirects=False).status_code == 303
    fresh = TestClient(make_app())
    assert login(fresh, name).status_code == 401
    assert login(fresh, name, "brand-new-pass-7").status_code == 303


def test_password_hashes_are_argon2id_and_never_the_password(session, web_user):
    name = web_user("admin")
    stored = session.scalar(select(AppUser.password_hash).where(AppUser.username == name))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize("values, field", [
    ({"username": "X", "role": Role.admin}, "username"),
    ({"username": "ok-name", "role": Role.admin, "password": "short1"}, "password"),
    ({"username": "ok-name", "role": Role.bureau}, "jurisdiction"),
    ({"username": "ok-name", "role": Role.bureau, "jurisdiction": "4503"}, "jurisdiction"),
    ({"username": "ok-name", "role": Role.enterprise}, "enterprise"),
    ({"username": "ok-name", "role": Role.admin, "enterprise_uscc": USCC}, "enterprise"),
])
def test_create_user_refuses_bad_input_naming_the_field(session, values, field):
    with pytest.raises(accounts.InvalidInput) as refused:
        accounts.create_user(session=session, **({"password": PASSWORD} | values))
    assert refused.value.detail.startswith(field)
    assert session.scalar(select(func.count()).select_from(AppUser)) == 0


def test_usernames_are_unique_whatever_the_case(session, web_user):
    web_user("admin", username="dora")
    with pytest.raises(accounts.Conflict):
        accounts.create_user(session=session, username="DORA", password=PASSWORD,
                             role=Role.admin)


def test_a_signed_in_person_is_named_in_the_actor():
    assert Principal(Role.bureau, "4403", username="li").actor == "bureau:4403 user:li"
    assert Principal(Role.enterprise, enterprise_uscc=USCC).actor == f"enterprise:{USCC}"


def test_pages_answer_html_errors_and_the_api_keeps_json(client):
    page = client.get("/portal/no-such-page")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "页面不存在" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["code"] == "not_found"
