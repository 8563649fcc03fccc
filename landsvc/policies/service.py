"""Rules configurable per jurisdiction: code defaults, overridden by stored settings.

A domain declares its rules as a frozen dataclass of defaults and registers it under a
namespace (``offerings``, ``split_transfer`` …); a setting is named ``<namespace>.<field>``.
:func:`effective` answers the rules in force in one district: the default, overridden by
the settings of each scope covering the district, from the province down.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from landsvc.errors import InvalidInput, NotFound
from landsvc.geo import adcode_prefix
from landsvc.policies.models import PolicySetting

R = TypeVar("R")

_REGISTRY: dict[str, Any] = {}


def _registry() -> dict[str, Any]:
    """Every namespace registered, once each domain's rules module has been imported."""
    import landsvc.rules  # noqa: F401  (imports register; a module-level import would cycle)

    return _REGISTRY


def register(namespace: str, defaults: R) -> R:
    """Make ``defaults`` (a frozen dataclass instance) configurable under ``namespace``."""
    _REGISTRY[namespace] = defaults
    return defaults


def _defaults_of(name: str) -> tuple[Any, dataclasses.Field]:
    namespace, _, field_name = name.partition(".")
    defaults = _registry().get(namespace)
    fields = {f.name: f for f in dataclasses.fields(defaults)} if defaults else {}
    if field_name not in fields:
        known = ", ".join(sorted(known_settings()))
        raise InvalidInput(f"name: 未知的规则 {name!r}；可设置：{known}", code="unknown_setting")
    return defaults, fields[field_name]


def known_settings() -> dict[str, Any]:
    """Every configurable rule and its default."""
    return {f"{ns}.{f.name}": getattr(d, f.name)
            for ns, d in _registry().items() for f in dataclasses.fields(d)}


def _coerce(name: str, value: Any) -> Any:
    defaults, field = _defaults_of(name)
    default = getattr(defaults, field.name)
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, str):
                value = {"true": True, "false": False}[value.strip().lower()]
            return bool(value)
        converted = kind(value)
    except (ValueError, TypeError, KeyError):
        raise InvalidInput(f"value: {name} 须为 {kind.__name__}，收到 {value!r}",
                           code="invalid_setting") from None
    if converted < 0:
        raise InvalidInput(f"value: {name} 不能为负数", code="invalid_setting")
    return converted


def effective(session: Session, namespace: str, district: str) -> Any:
    """The rules of ``namespace`` in force in ``district`` (a 6-digit adcode)."""
    defaults = _registry()[namespace]
    rows = session.execute(
        select(PolicySetting.name, PolicySetting.value)
        .where(PolicySetting.name.startswith(f"{namespace}."),
               func.strpos(district, PolicySetting.scope) == 1)
        .order_by(func.length(PolicySetting.scope))
    ).all()
    changes = {name.partition(".")[2]: value for name, value in rows}
    fields = {f.name for f in dataclasses.fields(defaults)}
    return dataclasses.replace(defaults, **{k: v for k, v in changes.items() if k in fields})


def set_setting(session: Session, scope: str, name: str, value: Any,
                note: str | None = None) -> dict:
    """Store one rule value for jurisdiction ``scope`` (an adcode or its prefix)."""
    if not scope.isdigit() or len(scope) not in (2, 4, 6):
        raise InvalidInput(f"scope: 应为 2、4 或 6 位行政区划代码（前缀），收到 {scope!r}")
    scope = adcode_prefix(scope)
    value = _coerce(name, value)
    statement = insert(PolicySetting).values(scope=scope, name=name, value=value, note=note)
    session.execute(statement.on_conflict_do_update(
        index_elements=[PolicySetting.scope, PolicySetting.name],
        set_={"value": value, "note": note, "updated_at": func.now()},
    ))
    return {"scope": scope, "name": name, "value": value, "note": note}


def unset_setting(session: Session, scope: str, name: str) -> None:
    """Remove a stored value: the next wider scope (or the default) applies again."""
    _defaults_of(name)
    deleted = session.execute(delete(PolicySetting).where(
        PolicySetting.scope == adcode_prefix(scope), PolicySetting.name == name))
    if not deleted.rowcount:
        raise NotFound(f"{scope} 未设置 {name}")


def list_settings(session: Session) -> list[dict]:
    """Every stored value, by name then scope."""
    rows = session.scalars(select(PolicySetting).order_by(PolicySetting.name, PolicySetting.scope))
    return [{"scope": r.scope, "name": r.name, "value": r.value, "note": r.note} for r in rows]
