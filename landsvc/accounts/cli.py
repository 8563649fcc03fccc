"""``landsvc user create|list|disable`` (registered in :mod:`landsvc.cli` as ``user``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

user_app = typer.Typer(help="网页登录账号（人用；机器用 API 令牌）", no_args_is_help=True)


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="用户名：3–40 个小写字母、数字或 _ . -")],
    role: Annotated[str, typer.Option(help="enterprise | bureau | admin")],
    jurisdiction: Annotated[str | None, typer.Option(
        help="主管部门的管辖区划：44（全省）、4403（深圳）、440306（宝安）")] = None,
    enterprise: Annotated[str | None, typer.Option(help="企业账号的统一社会信用代码")] = None,
) -> None:
    """创建账号；密码从标准输入读取一行（不回显、不打印）。"""
    from landsvc.accounts.service import create_user
    from landsvc.cli import _fail
    from landsvc.db import session_scope
    from landsvc.errors import LandsvcError
    from landsvc.tokens.models import Role

    try:
        role_ = Role(role)
    except ValueError:
        raise _fail(Exception(f"--role: 应为 enterprise、bureau 或 admin，收到 {role!r}"), 2) from None
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("密码：")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise _fail(Exception("password: 请从标准输入给出密码（一行）"), 2)
    try:
        with session_scope() as session:
            user = create_user(session=session, username=username, password=password,
                               role=role_, jurisdiction=jurisdiction, enterprise_uscc=enterprise)
            name = user.username
    except LandsvcError as exc:
        raise _fail(exc, 2 if exc.code != "username_taken" else 1) from None
    typer.echo(f"已创建账号 {name}（{role_.label}）")


@user_app.command("list")
def user_list(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（供程序读取）")] = False,
) -> None:
    """列出账号：角色、管辖、企业、创建与最近登录时间、在线会话数、是否停用。"""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from landsvc.accounts.service import list_users
    from landsvc.cli import _print_json, _when
    from landsvc.db import session_scope
    from landsvc.tokens.models import Role

    with session_scope() as session:
        users = list_users(session=session)
    if as_json:
        _print_json([{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in u.items()}
                     for u in users])
        return
    table = Table("ID", "用户名", "角色", "管辖", "企业", "创建", "最近登录", "会话", "状态")
    for u in users:
        table.add_row(str(u["id"]), Text(u["username"]), Role(u["role"]).label,
                      u["jurisdiction"] or "—", u["enterprise_uscc"] or "—",
                      _when(u["created_at"]), _when(u["last_login_at"]), str(u["sessions"]),
                      "已停用" if u["disabled"] else "正常")
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=200)
    out.print(table if users else "（尚无账号）")


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Argument(help="用户名")],
) -> None:
    """停用账号：不能再登录，已登录的会话立即失效。"""
    from landsvc.accounts.service import disable_user
    from landsvc.cli import _fail
    from landsvc.db import session_scope
    from landsvc.errors import LandsvcError

    try:
        with session_scope() as session:
            disable_user(session=session, username=username)
    except LandsvcError as exc:
        raise _fail(exc, 1) from None
    typer.echo(f"已停用账号 {username.strip().lower()}")
