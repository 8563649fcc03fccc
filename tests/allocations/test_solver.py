"""The allocation solver without a database: optimal against brute force on random small
cases, the tier rule, and why a demand is left out."""

from __future__ import annotations

import random

import pytest

from landsvc.allocations import solver
from landsvc.allocations.solver import HIGHER_SCORE, HIGHER_TIER, NO_CANDIDATE, Pair

LG, SRDI, INNOV, NONE = 3, 2, 1, 0


def brute_force(demands: dict[int, int], pairs: list[Pair]) -> tuple:
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
        p = pairs[i]
        if p.demand_id not in used_d and p.offering_id not in used_o:
            a = solver.Assignment(p.demand_id, p.offering_id, p.score, demands[p.demand_id])
            extend(i + 1, used_d | {p.demand_id}, used_o | {p.offering_id}, [*chosen, a])

    extend(0, frozenset(), frozenset(), [])
    return best


@pytest.mark.parametrize("seed", range(300))
def test_optimal_against_brute_force(seed):
    rnd = random.Random(seed)
    n_d, n_o = rnd.randint(1, 5), rnd.randint(1, 5)
    demands = {d: rnd.choice([LG, SRDI, INNOV, NONE]) for d in range(1, n_d + 1)}
    pairs = [Pair(d, 100 + o, rnd.choice([0.0, 0.01, 12.5, 50.0, 99.99, 100.0,
                                         round(rnd.uniform(0, 100), 2)]))
             for d in demands for o in range(n_o) if rnd.random() < 0.5]
    assignments, unassigned = solver.solve(demands, pairs)
    assert solver.objective(assignments, list(demands.values())) == brute_force(demands, pairs)
    # one-to-one, only candidate pairs, every demand accounted for once
    assert len({a.demand_id for a in assignments}) == len(assignments)
    assert len({a.offering_id for a in assignments}) == len(assignments)
    allowed = {(p.demand_id, p.offering_id) for p in pairs}
    assert all((a.demand_id, a.offering_id) in allowed for a in assignments)
    assert ({a.demand_id for a in assignments} | {u.demand_id for u in unassigned}
            == set(demands))
    assert len(assignments) + len(unassigned) == len(demands)


def test_a_little_giant_is_never_left_out_for_a_lower_tier_on_the_same_offering():
    # The SRDI SME fits offering 1 perfectly, the little giant barely; still the giant gets it.
    demands = {1: SRDI, 2: LG}
    pairs = [Pair(1, 10, 100.0), Pair(2, 10, 0.01)]
    assignments, unassigned = solver.solve(demands, pairs)
    assert [(a.demand_id, a.offering_id) for a in assignments] == [(2, 10)]
    assert [(u.demand_id, u.code, u.offering_ids) for u in unassigned] == [(1, HIGHER_TIER,
                                                                              (10,))]


def test_one_higher_tier_assignment_outweighs_any_number_of_lower_ones():
    # Giving offering 10 to the giant costs two lower-tier assignments (1 and 3 lose theirs
    # in a chain) — still the giant is served: counts are compared tier by tier.
    demands = {1: SRDI, 2: LG, 3: INNOV, 4: NONE}
    pairs = [Pair(2, 10, 1.0), Pair(1, 10, 100.0), Pair(3, 11, 100.0), Pair(4, 11, 100.0)]
    assignments, _ = solver.solve(demands, pairs)
    assert {(a.demand_id, a.offering_id) for a in assignments} == {(2, 10), (3, 11)}


def test_within_a_tier_the_total_score_is_maximised_not_greedily():
    # Greedy would give 10 to demand 1 (its best, 90) and leave demand 2 out; the optimum
    # serves both, 80 + 70 = 150.
    demands = {1: SRDI, 2: SRDI}
    pairs = [Pair(1, 10, 90.0), Pair(1, 11, 80.0), Pair(2, 10, 70.0)]
    assignments, unassigned = solver.solve(demands, pairs)
    assert {(a.demand_id, a.offering_id, a.score) for a in assignments} == {
        (1, 11, 80.0), (2, 10, 70.0)}
    assert unassigned == []


def test_more_demands_served_beats_a_higher_score_within_a_tier():
    demands = {1: NONE, 2: NONE}
    pairs = [Pair(1, 10, 100.0), Pair(1, 11, 0.0), Pair(2, 10, 0.0)]
    assignments, _ = solver.solve(demands, pairs)
    assert {(a.demand_id, a.offering_id) for a in assignments} == {(1, 11), (2, 10)}


def test_reasons_for_the_demands_left_out():
    demands = {1: LG, 2: INNOV, 3: INNOV, 4: NONE}
    pairs = [Pair(1, 10, 10.0), Pair(2, 10, 90.0),       # 2 loses 10 to the giant
             Pair(3, 11, 60.0), Pair(4, 11, 99.0)]       # 3 takes 11 over the lower tier
    pairs += [Pair(5, 11, 100.0)]                        # a demand not in scope: ignored
    demands[6] = NONE                                    # no candidate at all
    demands[7] = INNOV
    pairs += [Pair(7, 12, 40.0), Pair(8, 12, 0.0)]
    demands[8] = INNOV                                   # 8 loses 12 to 7 (score 40 > 0)
    assignments, unassigned = solver.solve(demands, pairs)
    assert {(a.demand_id, a.offering_id) for a in assignments} == {(1, 10), (3, 11), (7, 12)}
    assert [(u.demand_id, u.code) for u in unassigned] == [
        (2, HIGHER_TIER), (8, HIGHER_SCORE), (4, HIGHER_TIER), (6, NO_CANDIDATE)]
    assert all(u.reason == solver.REASONS[u.code] for u in unassigned)


def test_levels_separate_the_tiers_exactly():
    n = 3
    level = solver.levels({0, 1, 2, 3}, n)
    assert level == {0: 30_001, 1: 120_004, 2: 480_016, 3: 1_920_064}
    # one assignment at a level beats n at every lower level with full scores
    for r in (1, 2, 3):
        assert level[r] > sum(n * level[q] for q in range(r)) + n * 10_000


def test_duplicate_pairs_keep_the_higher_score_and_empty_input():
    assert solver.solve({}, []) == ([], [])
    assignments, _ = solver.solve({1: 0}, [Pair(1, 10, 20.0), Pair(1, 10, 30.0)])
    assert [a.score for a in assignments] == [30.0]


def test_a_component_too_large_for_exact_arithmetic_is_refused():
    demands = {d: d % 4 for d in range(1, 3001)}
    pairs = [Pair(d, 1, 1.0) for d in demands] + [Pair(d, 2 + d % 3000, 1.0) for d in demands]
    with pytest.raises(solver.TooLarge):
        solver.solve(demands, pairs)
