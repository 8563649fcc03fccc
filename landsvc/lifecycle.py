"""Lifecycles as pure tables of allowed transitions (offerings, listings, later approvals).

A :class:`Lifecycle` maps each action to the states it may start from and the state it
leads to; it knows nothing of the database and is unit-tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from landsvc.errors import IllegalTransition

S = TypeVar("S", bound=Enum)


@dataclass(frozen=True)
class Move(Generic[S]):
    sources: frozenset[S]
    target: S


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    what: str
    """What moves through it, for messages (``供地``)."""
    moves: Mapping[str, Move[S]]

    def allowed(self, state: S) -> list[str]:
        """The actions allowed from ``state``, in the table's order."""
        return [action for action, move in self.moves.items() if state in move.sources]

    def target(self, state: S, action: str) -> S:
        """The state ``action`` leads to from ``state``.

        Raises
        ------
        IllegalTransition
            When the action is unknown or not allowed from ``state``; it lists the allowed.
        """
        allowed = self.allowed(state)
        if action not in allowed:
            label = getattr(state, "label", state.value)
            now = "、".join(allowed) if allowed else "无（已是终态）"
            raise IllegalTransition(
                f"{self.what}当前状态为「{label}」（{state.value}），不能执行 {action}；可执行：{now}",
                extra={"allowed": allowed},
            )
        return self.moves[action].target


def move(sources, target) -> Move:
    """A row of a lifecycle table: ``move({draft, published}, cancelled)``."""
    return Move(frozenset(sources), target)
