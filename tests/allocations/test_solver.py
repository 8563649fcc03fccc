"""The allocation solver without a database: optimal against brute force on random small
cases, the tier rule, and why a demand is left out."""

from __future__ import annotations

import random

import numpy as np
import pytest

from landsvc.allocations import solver
from landsvc.allocations.solver import HIGHER_SCORE, HIGHER_TIER, NO_CANDIDATE, Pairs

LG, SRDI, INNOV, NONE = 3, 2, 1, 0


def solve(demands: dict[int, int], pairs: list[tuple[int, int, float]]):
    return solver.solve(demands, Pairs.of(pairs))


def brute_force(demands: dict[int, int], pairs: list[tuple[int, int, float]]) -> tuple:
    """The best objective over every matching, enumerated."""
    best = solver.objective([], list(demands.values()))
    ranks = list(demands.values())

    def extend(i, used_d, used_o, chosen):
        nonlocal best
        if i == len(pairs):
            value = solver.objective(chosen, ranks)
            best = max(best, value)
            return
        extend(i + 1, used_d, used_o, chosen)
        d, o, score = pairs[i]
        if d not in used_d and o not in used_o:
            a = solver.Assignment(d, o, score, demands[d])
            extend(i + 1, used_d | {d}, used_o | {o}, [*chosen, a])

    extend(0, frozenset(), frozenset(), [])
    return best


@pytest.mark.parametrize("seed", range(300))
def test_optimal_against_brute_force(seed):
    rnd = random.Random(seed)
    n_d, n_o = rnd.randint(1, 5), rnd.randint(1, 5)
    demands = {d: rnd.choice([LG, SRDI, INNOV, NONE]) for d in range(1, n_d + 1)}
    pairs = [(d, 100 + o, rnd.choice([0.0, 0.01, 12.5, 50.0, 99.99, 100.0,
                                     round(rnd.uniform(0, 100), 2)]))
             for d in demands for o in range(n_o) if rnd.random() < 0.5]
    assignments, unassigned = solve(demands, pairs)
    assert solver.objective(assignments, list(demands.values())) == brute_force(demands, pairs)
    # one-to-one, only candidate pairs, every demand accounted for once
    assert len({a.demand_id for a in assignments}) == len(assignments)
    assert len({a.offering_id for a in assignments}) == len(assignments)
    allowed = {(d, o) for d, o, _ in pairs}
    assert all((a.demand_id, a.offering_id) in allowed for a in assignments)
    assert ({a.demand_id for a in assignments} | {u.demand_id for u in unassigned}
            == set(demands))
    assert len(assignments) + len(unassigned) == len(demands)


def test_a_little_giant_is_never_left_out_for_a_lower_tier_on_the_same_offering():
    # The SRDI SME fits offering 1 perfectly, the little giant barely; still the giant gets it.
    demands = {1: SRDI, 2: LG}
    pairs = [(1, 10, 100.0), (2, 10, 0.01)]
    assignments, unassigned = solve(demands, pairs)
    assert [(a.demand_id, a.offering_id) for a in assignments] == [(2, 10)]
    assert [(u.demand_id, u.code, u.offering_ids) for u in unassigned] == [(1, HIGHER_TIER,
                                                                              (10,))]


def test_one_higher_tier_assignment_outweighs_any_number_of_lower_ones():
    # Giving offering 10 to the giant costs two lower-tier assignments (1 and 3 lose theirs
    # in a chain) — still the giant is served: counts are compared tier by tier.
    demands = {1: SRDI, 2: LG, 3: INNOV, 4: NONE}
    pairs = [(2, 10, 1.0), (1, 10, 100.0), (3, 11, 100.0), (4, 11, 100.0)]
    assignments, _ = solve(demands, pairs)
    assert {(a.demand_id, a.offering_id) for a in assignments} == {(2, 10), (3, 11)}


def test_within_a_tier_the_total_score_is_maximised_not_greedily():
    # Greedy would give 10 to demand 1 (its best, 90) and leave demand 2 out; the optimum
    # serves both, 80 + 70 = 150.
    demands = {1: SRDI, 2: SRDI}
    pairs = [(1, 10, 90.0), (1, 11, 80.0), (2, 10, 70.0)]
    assignments, unassigned = solve(demands, pairs)
    assert {(a.demand_id, a.offering_id, a.score) for a in assignments} == {
        (1, 11, 80.0), (2, 10, 70.0)}
    assert unassigned == []


def test_more_demands_served_beats_a_higher_score_within_a_tier():
    demands = {1: NONE, 2: NONE}
    pairs = [(1, 10, 100.0), (1, 11, 0.0), (2, 10, 0.0)]
    assignments, _ = solve(demands, pairs)
    assert {(a.demand_id, a.offering_id) for a in assignments} == {(1, 11), (2, 10)}


def test_reasons_for_the_demands_left_out():
    demands = {1: LG, 2: INNOV, 3: INNOV, 4: NONE}
    pairs = [(1, 10, 10.0), (2, 10, 90.0),       # 2 loses 10 to the giant
             (3, 11, 60.0), (4, 11, 99.0)]       # 3 takes 11 over the lower tier
    pairs += [(5, 11, 100.0)]                        # a demand not in scope: ignored
    demands[6] = NONE                                    # no candidate at all
    demands[7] = INNOV
    pairs += [(7, 12, 40.0), (8, 12, 0.0)]
    demands[8] = INNOV                                   # 8 loses 12 to 7 (score 40 > 0)
    assignments, unassigned = solve(demands, pairs)
    assert {(a.demand_id, a.offering_id) for a in assignments} == {(1, 10), (3, 11), (7, 12)}
    assert [(u.demand_id, u.code) for u in unassigned] == [
        (2, HIGHER_TIER), (8, HIGHER_SCORE), (4, HIGHER_TIER), (6, NO_CANDIDATE)]
    assert all(u.reason == solver.REASONS[u.code] for u in unassigned)


def test_levels_separate_the_tiers_exactly():
    n = 3
    level = solver.levels({0, 1, 2, 3}, n)
    assert level == {0: 30_001, 1: 60_002, 2: 90_003, 3: 120_004}
    # each level exceeds the one under it by more than n full scores
    for r in (1, 2, 3):
        assert level[r] - level[r - 1] > n * 10_000


def test_duplicate_pairs_keep_the_higher_score_and_empty_input():
    assert solve({}, []) == ([], [])
    assert solve({1: 0}, []) == ([], [solver.Unassigned(1, NO_CANDIDATE,
                                                         solver.REASONS[NO_CANDIDATE], ())])
    assignments, _ = solve({1: 0}, [(1, 10, 20.0), (1, 10, 30.0)])
    assert [a.score for a in assignments] == [30.0]


def test_a_problem_too_large_for_exact_arithmetic_is_refused():
    n = 480_000  # n × 4 levels × n × 10000 > 2**53
    ids = np.arange(1, n + 1, dtype=np.int64)
    pairs = Pairs(ids, ids + 10 * n, np.full(n, 100, dtype=np.int64))
    with pytest.raises(solver.TooLarge):
        solver.solve({int(d): 3 for d in ids}, pairs)
