"""``landsvc rents import FILE [--partial]`` (registered in :mod:`landsvc.cli` as ``rents``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

rents_app = typer.Typer(help="租赁备案", no_args_is_help=True)


@rents_app.command("import")
def rents_import(
    file: Annotated[Path, typer.Argument(help="租赁备案 CSV（UTF-8 或 GBK/GB18030）")],
    partial: Annotated[bool, typer.Option(help="只导入正确的行，报告其余")] = False,
) -> None:
    """导入租赁备案 CSV：逐行校验，默认全有或全无；报告输出到标准输出。"""
    from landsvc.cli import _import_file
    from landsvc.rents.importing import import_rent_records

    _import_file("租赁备案", import_rent_records, file, partial=partial)
