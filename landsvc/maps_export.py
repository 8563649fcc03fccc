"""``landsvc maps export``: the public map pages as static files for any web server.

The folder written holds ``rent-guide.html`` (one page, a layer per building type) and
``assets/`` with the JavaScript and CSS it links by a relative path, so the folder works
where it is copied, opened from disk or served offline.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from landsvc.errors import InvalidInput, LandsvcError

maps_app = typer.Typer(help="地图页面", no_args_is_help=True)

ASSETS = "assets"
"""The assets' folder inside the export, linked relatively by the pages."""

RENT_GUIDE = "rent-guide.html"

err = Console(stderr=True)


@maps_app.callback()
def _group() -> None:
    """地图页面：导出静态页面。"""


def copy_assets(out: Path) -> list[Path]:
    """Copy the files of ``maps/vendor.txt`` from ``maps/vendor`` to ``out/assets``."""
    import maps
    from maps.assets import vendor_packages

    missing = maps.missing_assets()
    if missing:
        raise InvalidInput("地图脚本尚未下载，无法导出：请先运行 scripts/assets（缺少 "
                           + "、".join(missing) + "）", code="assets_missing")
    copied = []
    for package in vendor_packages():
        for path in package.paths:
            source = maps.ASSETS_DIR / package.name / path
            target = out / ASSETS / package.name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
            copied.append(target)
    return copied


def _write(path: Path, text: str) -> None:
    # Whole or not at all: a web server never serves half a page.
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def export_rent_guide(*, session, out: Path, period: str | None,
                      as_of: dt.date | None = None) -> Path:
    """Write the rent-guide page of ``period`` and its assets under ``out``."""
    from landsvc.guidelines import service as guidelines
    from landsvc.webmaps.rent_guide import render_rent_guide

    found = guidelines.items_in_force(session=session, period=period, as_of=as_of)
    if not found.get("items"):
        shown = f"期间 {period} " if period else ""
        raise InvalidInput(f"{shown}没有已发布且已生效的租金指导价，不导出空地图"
                           "（先计算并发布：POST /api/v1/rent-guidelines/compute、…/publish）",
                           code="nothing_published")
    html = render_rent_guide(session=session, period=period, as_of=as_of,
                             assets_url=ASSETS)
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    page = out / RENT_GUIDE
    _write(page, html)
    return page


@maps_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="输出目录（不存在则创建）")],
    period: Annotated[str | None, typer.Option(
        "--period", help="期间：2026、2026H2 或 2026Q3；默认现行版本的期间")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="导出该日（YYYY-MM-DD）现行的版本，默认今天")] = None,
) -> None:
    """导出静态地图页面（租金指导价地图及其脚本、样式），可放在任何 Web 服务器上离线使用。"""
    from landsvc.db import session_scope

    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        err.print(f"[red]错误：[/red]--as-of: 应为 YYYY-MM-DD 日期，收到 {as_of!r}", highlight=False)
        raise typer.Exit(2) from None
    if out.exists() and not out.is_dir():
        err.print(f"[red]错误：[/red]--out: {out} 已存在且不是目录", highlight=False)
        raise typer.Exit(2)
    try:
        with session_scope() as session:
            page = export_rent_guide(session=session, out=out, period=period, as_of=day)
    except LandsvcError as exc:
        err.print(f"[red]错误：[/red]{exc}", highlight=False)
        raise typer.Exit(1) from None
    typer.echo(f"{page} ({page.stat().st_size:,} bytes), {out / ASSETS}/")
