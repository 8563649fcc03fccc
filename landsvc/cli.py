"""The ``landsvc`` command: the local operator's front door to the same services as the API.

Exit codes: 0 success, 1 input rejected, 2 usage error. Reports go to stdout, errors to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from landsvc.accounts.cli import user_app
from landsvc.config import get_settings
from landsvc.errors import LandsvcError
from landsvc.maps_export import maps_app
from landsvc.rents.cli import rents_app

app = typer.Typer(help="landsvc — 广东专精特新企业用地保障平台", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="数据库：嵌入式集群与迁移", no_args_is_help=True)
geodata_app = typer.Typer(help="参考地理数据（行政区划）", no_args_is_help=True)
token_app = typer.Typer(help="API 令牌", no_args_is_help=True)
parcels_app = typer.Typer(help="地块", no_args_is_help=True)
parks_app = typer.Typer(help="特色产业园区", no_args_is_help=True)
policy_app = typer.Typer(help="按管辖区设置的规则（供地年期、租金下限、分割转让……）",
                         no_args_is_help=True)
demo_app = typer.Typer(help="演示数据", no_args_is_help=True)
for sub, name in ((db_app, "db"), (geodata_app, "geodata"), (token_app, "token"),
                  (parcels_app, "parcels"), (parks_app, "parks"), (policy_app, "policy"),
                  (demo_app, "demo")):
    app.add_typer(sub, name=name)

err = Console(stderr=True)


@app.callback()
def _operator(ctx: typer.Context) -> None:
    # The write audit records the CLI's writes as the local operator (docs/audit.md); the
    # server, started by `serve`, records each request's own caller instead.
    if ctx.invoked_subcommand != "serve":
        import getpass

        from landsvc.db import CLI_ACTOR

        CLI_ACTOR.set(f"operator:{getpass.getuser()}")


def _fail(exc: Exception, code: int = 1) -> typer.Exit:
    err.print(f"[red]错误：[/red]{exc}", highlight=False)
    return typer.Exit(code)


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _cluster():
    from landsvc.pgcluster import PgCluster

    return PgCluster(get_settings().home)


# -- db -----------------------------------------------------------------------------------
@db_app.command("start")
def db_start() -> None:
    """初始化并启动嵌入式 PostgreSQL+PostGIS 集群（已运行则复用）。"""
    from landsvc.pgcluster import ClusterError

    if get_settings().database_url:
        raise _fail(Exception("已设置 LANDSVC_DATABASE_URL：使用外部数据库，无需启动嵌入式集群"), 2)
    try:
        status = _cluster().start()
    except ClusterError as exc:
        raise _fail(exc) from None
    typer.echo(f"running port={status.port} pid={status.pid} url={status.url}")


@db_app.command("stop")
def db_stop() -> None:
    """停止嵌入式集群。"""
    from landsvc.pgcluster import ClusterError

    try:
        stopped = _cluster().stop()
    except ClusterError as exc:
        raise _fail(exc) from None
    typer.echo("stopped" if stopped else "not running")


@db_app.command("status")
def db_status() -> None:
    """显示数据库状态（嵌入式集群或外部服务器）。"""
    settings = get_settings()
    if settings.database_url:
        typer.echo(f"external url={settings.database_url}")
        return
    from landsvc.pgcluster import ClusterError

    try:
        status = _cluster().status()
    except ClusterError as exc:
        raise _fail(exc) from None
    if status.running:
        typer.echo(f"running port={status.port} pid={status.pid} url={status.url}")
    else:
        typer.echo(f"stopped data_dir={status.data_dir}")
        raise typer.Exit(3)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """应用 Alembic 迁移（必要时启动嵌入式集群）。"""
    from landsvc.db import upgrade_database

    try:
        upgrade_database(revision)
    except Exception as exc:  # alembic, driver and cluster errors all end the command alike
        raise _fail(exc) from None
    typer.echo(f"database at {revision}")


# -- geodata ------------------------------------------------------------------------------
@db_app.command("backup")
def db_backup(file: Annotated[Path, typer.Argument(help="备份文件（pg_dump 自定义格式）")]) -> None:
    """用 pg_dump 备份数据库（自定义格式，应用运行时也一致）。"""
    from landsvc.backup import backup
    from landsvc.db import database_url

    typer.echo(f"正在备份数据库到 {file} …")
    try:
        result = backup(database_url(), file)
    except Exception as exc:  # LandsvcError, or the embedded cluster failing to start
        raise _fail(exc) from None
    typer.echo(f"备份完成：{result.path}，{result.size / 1048576:.1f} MiB，"
               f"{result.entries} 个条目，用时 {result.seconds:.1f} 秒")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="landsvc db backup 生成的备份文件")],
    force: Annotated[bool, typer.Option("--force", help="目标数据库不为空时先删除其中所有对象")] = False,
) -> None:
    """用 pg_restore 把备份恢复到空数据库（非空须加 --force）。"""
    from landsvc.backup import restore
    from landsvc.db import database_url

    typer.echo(f"正在检查并恢复备份 {file} …")
    try:
        result = restore(database_url(), file, force=force)
    except Exception as exc:  # LandsvcError, or the embedded cluster failing to start
        raise _fail(exc) from None
    dropped = f"，先删除了 {result.dropped} 个原有表/视图/序列" if result.dropped else ""
    typer.echo(f"恢复完成：{result.relations} 个表/视图/序列{dropped}，用时 {result.seconds:.1f} 秒")


@geodata_app.command("load")
def geodata_load(
    file: Annotated[Path | None, typer.Option(help="区划 GeoJSON；缺省为 geodata/ 中的广东省区划")] = None,
) -> None:
    """加载广东省 21 个地级市与 124 个县级行政区的边界。"""
    from landsvc.db import session_scope
    from landsvc.districts.service import DIVISIONS_FILE, load_divisions

    path = file or get_settings().geodata_dir / DIVISIONS_FILE
    try:
        with session_scope() as session:
            counts = load_divisions(session=session, path=path)
    except LandsvcError as exc:
        raise _fail(exc) from None
    typer.echo(f"loaded {counts['city']} cities, {counts['district']} districts from {path}")


# -- token --------------------------------------------------------------------------------
@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="enterprise | bureau | admin")],
    jurisdiction: Annotated[str | None, typer.Option(
        help="管辖区划：44（全省）、4403 或 440300（深圳）、440306（宝安）")] = None,
    enterprise: Annotated[str | None, typer.Option(help="企业统一社会信用代码")] = None,
    label: Annotated[str | None, typer.Option(help="备注（谁在用）")] = None,
    expires_in: Annotated[str | None, typer.Option(help="有效期：12h、90d、2w；缺省不过期")] = None,
) -> None:
    """签发令牌，只把令牌本身打印到 stdout。"""
    from landsvc.db import session_scope
    from landsvc.tokens.models import Role
    from landsvc.tokens.service import create_token, parse_duration

    try:
        role_ = Role(role)
    except ValueError:
        raise _fail(Exception(f"--role: 应为 enterprise、bureau 或 admin，收到 {role!r}"), 2) from None
    try:
        lifetime = None if expires_in is None else parse_duration(expires_in)
    except LandsvcError as exc:
        raise _fail(Exception(f"--expires-in: {exc}"), 2) from None
    try:
        with session_scope() as session:
            token = create_token(session=session, role=role_, jurisdiction=jurisdiction,
                                 enterprise_uscc=enterprise, label=label, expires_in=lifetime)
    except LandsvcError as exc:
        raise _fail(exc, 2) from None
    typer.echo(token)


def _when(moment) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "—"


@token_app.command("list")
def token_list(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（供程序读取）")] = False,
) -> None:
    """列出全部令牌（不显示令牌本身）：角色、管辖、企业、备注、创建/最近使用/到期时间、是否吊销。"""
    from rich.table import Table
    from rich.text import Text

    from landsvc.db import session_scope
    from landsvc.tokens.models import Role
    from landsvc.tokens.service import list_tokens

    with session_scope() as session:
        tokens = list_tokens(session=session)
    if as_json:
        _print_json([{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in t.items()}
                     for t in tokens])
        return
    table = Table("ID", "角色", "管辖", "企业", "备注", "创建", "最近使用", "到期", "状态")
    for t in tokens:
        status = ("已吊销 " + _when(t["revoked_at"]) if t["revoked"]
                  else "已过期" if t["expired"] else "有效")
        table.add_row(str(t["id"]), Role(t["role"]).label, t["jurisdiction"] or "—",
                      t["enterprise_uscc"] or "—", Text(t["label"] or ""), _when(t["created_at"]),
                      _when(t["last_used_at"]), _when(t["expires_at"]), status)
    out = Console(highlight=False)
    if not out.is_terminal:  # piped or captured: no terminal width to squeeze the table into
        out = Console(highlight=False, width=200)
    out.print(table if tokens else "（尚无令牌）")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="令牌编号（见 token list）")],
) -> None:
    """吊销令牌：立即失效。"""
    from landsvc.db import session_scope
    from landsvc.tokens.service import revoke_token

    try:
        with session_scope() as session:
            result = revoke_token(session=session, token_id=token_id)
    except LandsvcError as exc:
        raise _fail(exc) from None
    if result["already_revoked"]:
        typer.echo(f"令牌 {token_id} 已于 {_when(result['revoked_at'])} 吊销，无需再次吊销")
    else:
        typer.echo(f"已吊销令牌 {token_id}")


# -- parcels ------------------------------------------------------------------------------
FileArg = Annotated[Path, typer.Argument(help="GeoPackage、zip Shapefile、GeoJSON 或 CSV+WKT")]
CrsOption = Annotated[str | None, typer.Option(help="文件坐标系，如 EPSG:4526")]
PartialOption = Annotated[bool, typer.Option(help="只导入正确的行，报告其余")]
RepairOption = Annotated[bool, typer.Option(help="用 make_valid 修复无效多边形")]


def _import_file(what: str, importer, file: Path, **options) -> None:
    """Run one import pipeline with a progress bar on stderr; the report goes to stdout."""
    from landsvc.db import session_scope

    if not file.exists():
        raise _fail(Exception(f"文件不存在：{file}"), 2)
    columns = (TextColumn(f"导入{what}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("import", total=None)
            with session_scope() as session:
                report = importer(
                    session=session, path=file, **options,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
    except LandsvcError as exc:
        if "report" in exc.extra:
            _print_json(exc.extra["report"])
        raise _fail(exc) from None
    _print_json(report)


@parcels_app.command("import")
def parcels_import(file: FileArg, crs: CrsOption = None, partial: PartialOption = False,
                   repair: RepairOption = False) -> None:
    """导入地块文件：逐行校验，默认全有或全无。"""
    from landsvc.parcels.importing import import_parcels

    _import_file("地块", import_parcels, file, crs=crs, partial=partial, repair=repair)


# -- parks --------------------------------------------------------------------------------

@parks_app.command("import")
def parks_import(file: FileArg, crs: CrsOption = None, partial: PartialOption = False,
                 repair: RepairOption = False) -> None:
    """导入园区文件：逐行校验，默认全有或全无。"""
    from landsvc.parks.importing import import_parks

    _import_file("园区", import_parks, file, crs=crs, partial=partial, repair=repair)


# -- policy -------------------------------------------------------------------------------

def _division(session, code: str, option: str) -> str:
    """``code`` as the adcode prefix it names, or a usage error (exit 2)."""
    from landsvc.districts.service import division_exists
    from landsvc.geo import adcode_prefix

    if not code.isdigit() or len(code) not in (2, 4, 6):
        raise _fail(Exception(f"{option}: 应为 2、4 或 6 位行政区划代码，收到 {code!r}"), 2)
    try:
        known = division_exists(session=session, prefix=adcode_prefix(code))
    except LandsvcError as exc:
        raise _fail(exc) from None
    if not known:
        raise _fail(Exception(f"{option}: 广东省没有行政区划 {code}"), 2)
    return adcode_prefix(code)


def _shown(value) -> str:
    return json.dumps(value, ensure_ascii=False)


@policy_app.command("list")
def policy_list(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（供程序读取）")] = False,
) -> None:
    """列出全部可设置的规则、缺省值和各管辖区已设置的值。"""
    from rich.table import Table

    from landsvc.db import session_scope
    from landsvc.policies.service import known_settings, list_settings

    with session_scope() as session:
        stored = list_settings(session=session)
    rows = [{"name": name, "default": default,
             "settings": [{k: s[k] for k in ("scope", "value", "note")}
                          for s in stored if s["name"] == name]}
            for name, default in sorted(known_settings().items())]
    if as_json:
        _print_json(rows)
        return
    table = Table("规则", "缺省", "已设置（管辖区 = 值）")
    for row in rows:
        table.add_row(row["name"], _shown(row["default"]), "；".join(
            f"{s['scope']} = {_shown(s['value'])}" + (f"（{s['note']}）" if s["note"] else "")
            for s in row["settings"]) or "—")
    Console(highlight=False, width=200).print(table)


@policy_app.command("set")
def policy_set(
    scope: Annotated[str, typer.Argument(metavar="SCOPE",
                                         help="管辖区：44、4401（广州）、440106（天河）")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="规则名，如 offerings.lease_max_years")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="新值，如 15、2.5、true")],
    note: Annotated[str | None, typer.Option(help="依据或说明，如文件文号")] = None,
) -> None:
    """为一个管辖区设置规则值（覆盖缺省值和上级管辖区的设置）。"""
    from landsvc.db import session_scope
    from landsvc.policies.service import known_settings, set_setting

    try:
        with session_scope() as session:
            scope = _division(session, scope, "SCOPE")
            stored = set_setting(session, scope, name, value, note=note)
    except LandsvcError as exc:
        raise _fail(exc, 2) from None
    default = known_settings()[name]
    typer.echo(f"{stored['scope']} {name} = {_shown(stored['value'])}（缺省 {_shown(default)}）")


@policy_app.command("unset")
def policy_unset(
    scope: Annotated[str, typer.Argument(metavar="SCOPE", help="管辖区")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="规则名")],
) -> None:
    """删除一个管辖区的设置：上级管辖区的设置或缺省值重新适用。"""
    from landsvc.db import session_scope
    from landsvc.errors import NotFound
    from landsvc.policies.service import unset_setting

    try:
        with session_scope() as session:
            scope = _division(session, scope, "SCOPE")
            unset_setting(session, scope, name)
    except NotFound as exc:
        raise _fail(exc, 1) from None
    except LandsvcError as exc:
        raise _fail(exc, 2) from None
    typer.echo(f"已删除 {scope} 的 {name}")


@policy_app.command("show")
def policy_show(
    district: Annotated[str, typer.Option(help="行政区划代码：440105、4401 或 44")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（供程序读取）")] = False,
) -> None:
    """显示一个行政区现行的全部规则值及其来源（缺省或哪一级的设置）。"""
    import dataclasses

    from rich.table import Table

    from landsvc.db import session_scope
    from landsvc.policies.service import effective, known_settings, list_settings

    defaults = known_settings()
    with session_scope() as session:
        prefix = _division(session, district, "--district")
        stored = list_settings(session=session)
        in_force = {}
        for namespace in sorted({name.partition(".")[0] for name in defaults}):
            rules = effective(session, namespace, prefix)
            in_force |= {f"{namespace}.{k}": v for k, v in dataclasses.asdict(rules).items()}
    rows = []
    for name, value in sorted(in_force.items()):
        # the most specific stored scope covering the district is where the value comes from
        scopes = [s["scope"] for s in stored if s["name"] == name and prefix.startswith(s["scope"])]
        rows.append({"name": name, "value": value, "default": defaults[name],
                     "source": max(scopes, key=len) if scopes else "default"})
    if as_json:
        _print_json({"district": prefix, "rules": rows})
        return
    table = Table("规则", "现行值", "缺省", "来源")
    for row in rows:
        source = "缺省" if row["source"] == "default" else f"{row['source']} 的设置"
        table.add_row(row["name"], _shown(row["value"]), _shown(row["default"]), source)
    Console(highlight=False, width=200).print(f"行政区 {prefix} 现行规则")
    Console(highlight=False, width=200).print(table)


# -- demo and serve -----------------------------------------------------------------------
@demo_app.command("load")
def demo_load(
    parcels: Annotated[int, typer.Option(help="生成的地块数")] = 2000,
    seed: Annotated[int, typer.Option(help="随机种子")] = 2023,
) -> None:
    """生成并导入演示数据：地块（位于真实区县内，经正常导入流程），再加园区、各种供地方式与状态的供地、
    楼栋与房源、分割转让楼栋。"""
    import tempfile

    from landsvc.db import session_scope
    from landsvc.demo import load_supply
    from landsvc.parcels.importing import import_parcels
    from landsvc.parcels.service import count_parcels
    from landsvc.parcels.synthetic import write_parcels

    with session_scope() as session:
        existing = count_parcels(session=session)
    try:
        if existing:  # scripts/demo runs again on every start
            typer.echo(f"{existing} parcels already stored; demo parcels not loaded again")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "demo_parcels.gpkg"
                write_parcels(path, parcels, seed=seed)
                with session_scope() as session:
                    report = import_parcels(session=session, path=path)
            typer.echo(f"imported {report['imported']} demo parcels")
        with session_scope() as session:
            counts = load_supply(session=session, seed=seed)
    except LandsvcError as exc:
        raise _fail(exc) from None
    if counts:
        typer.echo("demo supply: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    else:
        typer.echo("parks already stored; demo supply not loaded again")


@demo_app.command("accounts")
def demo_accounts_command(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（供程序读取）")] = False,
) -> None:
    """创建（或重置）三个演示网页账号：企业、主管部门（全省）、管理员，打印用户名与随机密码。"""
    from landsvc.db import session_scope
    from landsvc.demo import demo_accounts

    try:
        with session_scope() as session:
            made = demo_accounts(session=session)
    except LandsvcError as exc:
        raise _fail(exc) from None
    if as_json:
        _print_json(made)
        return
    labels = {"enterprise": "企业", "bureau": "主管部门", "admin": "管理员"}
    for account in made:
        binding = account["enterprise_uscc"] or account["jurisdiction"] or "全部"
        typer.echo(f"  {labels[account['role']]:<6} 用户名 {account['username']:<16} "
                   f"密码 {account['password']}  （{binding}）")


notifications_app = typer.Typer(help="精准推送：webhook 投递", no_args_is_help=True)
app.add_typer(notifications_app, name="notifications")
audit_app = typer.Typer(help="审批记录（只追加、哈希链）", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(rents_app, name="rents")
app.add_typer(maps_app, name="maps")
app.add_typer(user_app, name="user")


@notifications_app.command("deliver")
def notifications_deliver(
    once: Annotated[bool, typer.Option("--once", help="投递当前到期的通知后退出")] = False,
) -> None:
    """投递 webhook 发件箱（到期的逐条 POST，失败按指数退避重试）。"""
    from landsvc.notifications.delivery import deliver_due, run_forever

    if not once:
        run_forever()
        return
    report = deliver_due()
    typer.echo(f"delivered {report.delivered}, failed {report.failed} (will retry), "
               f"given up {report.given_up}")


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """启动 HTTP 服务。"""
    import uvicorn

    from landsvc.db import get_engine

    get_engine()  # start the embedded cluster before the first request, not during it
    uvicorn.run("landsvc.main:create_app", factory=True, host=host, port=port,
                access_log=False)


if __name__ == "__main__":
    app()


@audit_app.command("verify")
def audit_verify() -> None:
    """核对全部审批记录：逐条重算哈希、检查哈希链与序号。完好退出 0，发现问题退出 1。"""
    from landsvc.approvals.audit import count_events, verify
    from landsvc.db import session_scope

    err = Console(stderr=True)
    read = 0

    def seen(done: int) -> None:
        nonlocal read
        read = done
        bar.update(task, completed=done)

    columns = (TextColumn("核对审批记录"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar, session_scope() as session:
        task = bar.add_task("verify", total=count_events(session))
        problems = verify(session, progress=seen)
    cases = len({p.case_id for p in problems})
    if not problems:
        typer.echo(f"已核对 {read} 条审批记录：内容、哈希链与序号完好")
        return
    typer.echo(f"已核对 {read} 条审批记录：发现 {len(problems)} 处问题，涉及 {cases} 个案件")
    for problem in problems:
        typer.echo(str(problem))
    raise typer.Exit(1)
