"""The allocation of offerings to demands as an assignment problem (pure; no database).

One offering to at most one demand and one demand to at most one offering, over the sparse
graph of candidate pairs (those the matching hard filters let through). The objective is
lexicographic: first as many demands of the highest tier as possible, then of the next tier,
and so on down to ``none``; within that, the largest total score.

It is solved exactly as one maximum-weight matching. Each pair weighs an integer
``LEVEL[tier] + score in cents``, where one more assignment at a tier outweighs any change at
the lower tiers and in the score: with ``n`` the largest possible number of assignments,
``LEVEL[lowest] = n × 10000 + 1`` (more than any total score) and each next level is
``(n + 1)`` times the one under it. The graph is split into connected components first (each
solved alone), which keeps the integers small; they stay below 2**53 so that scipy's float
arithmetic is exact. ``scipy.optimize.linear_sum_assignment`` runs on each component's
submatrix, a missing pair weighing 0 (never chosen over "no assignment").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

EXACT = 2**53
"""Integers up to this are exact in float64."""

NO_CANDIDATE = "no_candidate"
HIGHER_TIER = "higher_tier"
HIGHER_SCORE = "higher_total_score"

REASONS = {
    NO_CANDIDATE: "没有满足该需求硬性条件的在售供地",
    HIGHER_TIER: "可选供地已分配给梯度更高的企业需求（优先保障）",
    HIGHER_SCORE: "可选供地已分配给同梯度的其他需求，以使匹配总分最高",
}


class TooLarge(ValueError):
    """A component too large for exact float arithmetic."""


@dataclass(frozen=True)
class Pair:
    demand_id: int
    offering_id: int
    score: float
    """0–100, to 0.01."""


@dataclass(frozen=True)
class Assignment:
    demand_id: int
    offering_id: int
    score: float
    tier_rank: int


@dataclass(frozen=True)
class Unassigned:
    demand_id: int
    code: str
    reason: str
    offering_ids: tuple[int, ...]
    """The offerings it could have taken (each went to another demand)."""


def cents(score: float) -> int:
    return round(score * 100)


def levels(ranks: set[int], n: int) -> dict[int, int]:
    """The integer weight of one assignment at each tier rank present, for at most ``n``
    assignments: each level exceeds everything all lower levels and the scores can add up to."""
    weight, out = n * 10_000 + 1, {}
    for rank in sorted(ranks):
        out[rank] = weight
        weight *= n + 1
    return out


def _components(pairs: list[Pair]) -> list[list[Pair]]:
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        a, b = find(("d", p.demand_id)), find(("o", p.offering_id))
        if a != b:
            parent[a] = b
    groups: dict[tuple[str, int], list[Pair]] = defaultdict(list)
    for p in pairs:
        groups[find(("d", p.demand_id))].append(p)
    return list(groups.values())


def _solve_component(pairs: list[Pair], tier: dict[int, int]) -> list[Pair]:
    demand_ids = sorted({p.demand_id for p in pairs})
    offering_ids = sorted({p.offering_id for p in pairs})
    n = min(len(demand_ids), len(offering_ids))
    level = levels({tier[d] for d in demand_ids}, n)
    top = max(level.values())
    if n * (top + 10_000) >= EXACT:
        raise TooLarge(f"{len(demand_ids)} demands and {len(offering_ids)} offerings")
    row = {d: i for i, d in enumerate(demand_ids)}
    col = {o: j for j, o in enumerate(offering_ids)}
    weight = np.zeros((len(demand_ids), len(offering_ids)))
    by_cell = {}
    for p in pairs:
        i, j = row[p.demand_id], col[p.offering_id]
        weight[i, j] = level[tier[p.demand_id]] + cents(p.score)
        by_cell[i, j] = p
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return [by_cell[i, j] for i, j in zip(rows, cols, strict=True) if (i, j) in by_cell]


def solve(demands: dict[int, int], pairs: list[Pair]
          ) -> tuple[list[Assignment], list[Unassigned]]:
    """The optimal assignment of ``demands`` (id -> tier rank) over the candidate ``pairs``,
    and why each demand left out is left out. Pairs of demands not in ``demands`` are ignored;
    a duplicate pair keeps its higher score."""
    best: dict[tuple[int, int], Pair] = {}
    for p in pairs:
        key = (p.demand_id, p.offering_id)
        if p.demand_id in demands and (key not in best or p.score > best[key].score):
            best[key] = p
    chosen: list[Pair] = []
    for component in _components(list(best.values())):
        chosen += _solve_component(component, demands)
    assignments = sorted((Assignment(p.demand_id, p.offering_id, p.score, demands[p.demand_id])
                          for p in chosen), key=lambda a: (-a.tier_rank, -a.score, a.demand_id))
    taken_by = {a.offering_id: a.demand_id for a in assignments}
    served = set(taken_by.values())
    options: dict[int, list[int]] = defaultdict(list)
    for d, o in best:
        options[d].append(o)
    unassigned = []
    for d in sorted(demands, key=lambda d: (-demands[d], d)):
        if d in served:
            continue
        mine = tuple(sorted(options.get(d, ())))
        if not mine:
            code = NO_CANDIDATE
        elif any(demands[taken_by[o]] > demands[d] for o in mine if o in taken_by):
            code = HIGHER_TIER
        else:
            code = HIGHER_SCORE
        unassigned.append(Unassigned(d, code, REASONS[code], mine))
    return assignments, unassigned


def objective(assignments: list[Assignment], ranks: list[int]) -> tuple:
    """What the allocation maximises, comparable as a tuple: the count at each rank of
    ``ranks`` (highest first), then the total score in cents."""
    counts = [sum(1 for a in assignments if a.tier_rank == r) for r in sorted(ranks, reverse=True)]
    return (*counts, sum(cents(a.score) for a in assignments))
