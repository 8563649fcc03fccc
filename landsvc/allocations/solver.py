"""The allocation of offerings to demands as an assignment problem (pure; no database).

One offering to at most one demand and one demand to at most one offering, over the sparse
graph of candidate pairs (those the matching hard filters let through). The objective is
lexicographic: first as many demands of the highest tier as possible, then of the next tier,
and so on down to ``none``; within that, the largest total score.

It is solved exactly as one maximum-weight matching, with integer weights. A pair weighs
``LEVEL[tier] + score in cents``, where ``LEVEL[rank] = (rank + 1) × B`` and ``B = n × 10000 +
1`` exceeds any total score of ``n`` assignments (``n``: the most assignments possible).
Additive levels suffice: two matchings differ by disjoint alternating paths and cycles, and
inside each only its two ends change who is served — at most one demand gained and one lost.
Were a path to gain a demand of a higher tier than it loses (or gain one and lose none), it
would add at least ``B``, more than any change in score, so the maximum-weight matching has
none; each path then leaves the tier counts lexicographically no better, and so does their
sum. With the counts equal, the weight is the score.

``scipy.sparse.csgraph.min_weight_full_bipartite_matching`` (LAPJVsp) solves it on the
sparse matrix directly. Every demand also gets a column of its own meaning "nothing"
(weight 1; the real pairs weigh one more than above), so that a full matching always exists
and leaving a demand out costs exactly its pair's weight. The weights stay integers below
2**53, exact in scipy's float arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

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
    """A problem too large for exact float arithmetic."""


@dataclass(frozen=True)
class Pairs:
    """Candidate pairs as parallel arrays (a demand, an offering, the score in cents)."""

    demand_id: np.ndarray
    offering_id: np.ndarray
    cents: np.ndarray

    @classmethod
    def of(cls, triples) -> Pairs:
        """From ``(demand_id, offering_id, score)`` triples, the score 0–100 to 0.01."""
        triples = list(triples)
        return cls(np.array([t[0] for t in triples], dtype=np.int64),
                   np.array([t[1] for t in triples], dtype=np.int64),
                   np.array([cents(t[2]) for t in triples], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.demand_id)


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
    """The integer weight of one assignment at each tier rank, for at most ``n`` assignments:
    each level exceeds the one under it by more than any total score."""
    step = n * 10_000 + 1
    return {rank: (rank + 1) * step for rank in ranks}


def _best_of_duplicates(pairs: Pairs, demands: dict[int, int]) -> Pairs:
    """Pairs of demands in ``demands`` only, one per (demand, offering) with its best score;
    sorted by demand, then offering."""
    keep = np.isin(pairs.demand_id, np.fromiter(demands, dtype=np.int64, count=len(demands)))
    d, o, c = pairs.demand_id[keep], pairs.offering_id[keep], pairs.cents[keep]
    order = np.lexsort((-c, o, d))
    d, o, c = d[order], o[order], c[order]
    first = np.ones(len(d), dtype=bool)
    first[1:] = (d[1:] != d[:-1]) | (o[1:] != o[:-1])
    return Pairs(d[first], o[first], c[first])


def _match(pairs: Pairs, demands: dict[int, int]) -> np.ndarray:
    """Indexes into ``pairs`` of the chosen pairs."""
    rows, row = np.unique(pairs.demand_id, return_inverse=True)
    cols, col = np.unique(pairs.offering_id, return_inverse=True)
    n = min(len(rows), len(cols))
    rank = np.array([demands[int(d)] for d in rows], dtype=np.int64)
    step = n * 10_000 + 1
    weight = (rank[row] + 1) * step + pairs.cents + 1
    if n * (int(rank.max() + 1) * step + 10_001) + len(rows) >= EXACT:
        raise TooLarge(f"{len(rows)} demands and {len(cols)} offerings")
    nothing = np.arange(len(rows))
    matrix = csr_array((np.concatenate([weight, np.ones(len(rows))]).astype(np.float64),
                        (np.concatenate([row, nothing]),
                         np.concatenate([col, len(cols) + nothing]))),
                       shape=(len(rows), len(cols) + len(rows)))
    chosen_rows, chosen_cols = min_weight_full_bipartite_matching(matrix, maximize=True)
    real = chosen_cols < len(cols)
    # back from (row, col) to the pair's index: pairs are sorted by demand, then offering
    key = row.astype(np.int64) * (len(cols) + 1) + col
    wanted = chosen_rows[real].astype(np.int64) * (len(cols) + 1) + chosen_cols[real]
    return np.searchsorted(key, wanted)


def solve(demands: dict[int, int], pairs: Pairs
          ) -> tuple[list[Assignment], list[Unassigned]]:
    """The optimal assignment of ``demands`` (id -> tier rank) over the candidate ``pairs``,
    and why each demand left out is left out. Pairs of demands not in ``demands`` are ignored;
    a duplicate pair keeps its higher score."""
    pairs = _best_of_duplicates(pairs, demands)
    chosen = _match(pairs, demands) if len(pairs) else np.array([], dtype=np.int64)
    assignments = sorted(
        (Assignment(int(pairs.demand_id[i]), int(pairs.offering_id[i]),
                    int(pairs.cents[i]) / 100, demands[int(pairs.demand_id[i])])
         for i in chosen), key=lambda a: (-a.tier_rank, -a.score, a.demand_id))
    taken_by = {a.offering_id: a.demand_id for a in assignments}
    starts = np.searchsorted(pairs.demand_id,
                             np.array(sorted(demands), dtype=np.int64), side="left")
    ends = np.searchsorted(pairs.demand_id, np.array(sorted(demands), dtype=np.int64),
                           side="right")
    options = {d: pairs.offering_id[s:e] for d, s, e in zip(sorted(demands), starts, ends,
                                                             strict=True)}
    served = set(taken_by.values())
    unassigned = []
    for d in sorted(demands, key=lambda d: (-demands[d], d)):
        if d in served:
            continue
        mine = tuple(int(o) for o in options[d])
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
