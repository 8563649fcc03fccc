"""Stage clocks of approval cases, against deadlines worked out by hand.

Holiday arrangements used (State Council notices, as carried by chinesecalendar 1.11.0):
- 2025 National Day + Mid-Autumn: rest Wed 1 – Wed 8 Oct; make-up working days Sun 28 Sep and
  Sat 11 Oct.
- 2026 Spring Festival: rest Sun 15 – Mon 23 Feb; make-up working days Sat 14 and Sat 28 Feb.
- March 2026 has no holiday: Mon 2, 9, 16, 23 Mar are Mondays.
- 2027 is not in the package: Monday–Friday count, uncertain.
Default limits: green acceptance 1, review 5, decision 2; standard 3, 15, 5.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import pytest

from landsvc.approvals.clock import (
    DeadlineRules,
    StageClock,
    case_clock,
    limits,
)
from landsvc.approvals.models import Channel
from landsvc.policies.service import known_settings

GREEN = {"acceptance": 1, "review": 5, "decision": 2}
STANDARD = {"acceptance": 3, "review": 15, "decision": 5}
D = date


def stage(clock, name: str) -> StageClock:
    return next(s for s in clock.stages if s.stage == name)


# --- rules ------------------------------------------------------------------------------

def test_limits_per_channel_defaults():
    assert limits(DeadlineRules(), "green") == GREEN
    assert limits(DeadlineRules(), Channel.standard) == STANDARD


def test_limits_follow_the_rules_given():
    rules = DeadlineRules(green_review=4)
    assert limits(rules, "green") == {"acceptance": 1, "review": 4, "decision": 2}


def test_limits_reject_an_unknown_channel():
    with pytest.raises(ValueError, match="channel"):
        limits(DeadlineRules(), "express")


def test_rules_are_configurable_per_jurisdiction():
    settings = known_settings()
    assert settings["approval_deadlines.green_acceptance"] == 1
    assert settings["approval_deadlines.standard_review"] == 15
    assert settings["approval_deadlines.standard_decision"] == 5


# --- deadlines across holidays and make-up days -----------------------------------------

def test_review_deadline_across_national_day_and_a_make_up_saturday():
    # accept on Tue 30 Sep 2025; green review 5 working days after it:
    # 1–8 Oct rest; Thu 9 Oct (1), Fri 10 (2), Sat 11 Oct 调休 (3), Mon 13 (4), Tue 14 (5).
    steps = [("file", D(2025, 9, 29)), ("accept", D(2025, 9, 30))]
    clock = case_clock(steps, GREEN, D(2025, 10, 11))
    review = stage(clock, "review")
    assert review.started_on == D(2025, 9, 30)
    assert review.deadline == D(2025, 10, 14)
    # as of Sat 11 Oct: 9, 10, 11 Oct used
    assert (review.working_days_used, review.working_days_left) == (3, 2)
    assert not review.overdue and not review.paused and not review.calendar_uncertain
    assert clock.stage == "review" and clock.overdue is False
    # acceptance: filed Mon 29 Sep, accepted Tue 30 Sep: 1 day used of 1
    acceptance = stage(clock, "acceptance")
    assert acceptance.deadline == D(2025, 9, 30)
    assert acceptance.closed_on == D(2025, 9, 30)
    assert (acceptance.working_days_used, acceptance.overdue) == (1, False)


def test_make_up_sunday_before_national_day_counts():
    # filed Fri 26 Sep 2025, standard acceptance 3: Sun 28 Sep 调休 (1), Mon 29 (2), Tue 30 (3)
    clock = case_clock([("file", D(2025, 9, 26))], STANDARD, D(2025, 9, 28))
    acceptance = stage(clock, "acceptance")
    assert acceptance.deadline == D(2025, 9, 30)
    assert acceptance.working_days_used == 1


def test_make_up_saturday_is_the_deadline():
    # filed Fri 10 Oct 2025, green acceptance 1: the next working day is Sat 11 Oct (调休)
    clock = case_clock([("file", D(2025, 10, 10))], GREEN, D(2025, 10, 10))
    assert stage(clock, "acceptance").deadline == D(2025, 10, 11)
    assert stage(clock, "acceptance").working_days_used == 0
    # accepted on Mon 13 Oct: Sat 11 and Mon 13 were used, 2 > 1: closed late
    clock = case_clock([("file", D(2025, 10, 10)), ("accept", D(2025, 10, 13))], GREEN,
                       D(2025, 10, 13))
    acceptance = stage(clock, "acceptance")
    assert (acceptance.working_days_used, acceptance.working_days_left) == (2, -1)
    assert acceptance.overdue is True
    # the case is judged by its open stage (review, just started), not by the late one
    assert clock.stage == "review" and clock.overdue is False


def test_acceptance_deadline_across_spring_festival_2026():
    # filed Fri 13 Feb 2026, standard acceptance 3:
    # Sat 14 Feb 调休 (1); 15–23 Feb rest; Tue 24 (2), Wed 25 (3).
    clock = case_clock([("file", D(2026, 2, 13))], STANDARD, D(2026, 2, 23))
    acceptance = stage(clock, "acceptance")
    assert acceptance.deadline == D(2026, 2, 25)
    # as of Mon 23 Feb (still the holiday): only Sat 14 used
    assert (acceptance.working_days_used, acceptance.working_days_left) == (1, 2)
    # as of Thu 26 Feb: 14, 24, 25, 26 = 4 > 3: overdue, open, so the case is overdue
    clock = case_clock([("file", D(2026, 2, 13))], STANDARD, D(2026, 2, 26))
    acceptance = stage(clock, "acceptance")
    assert (acceptance.working_days_used, acceptance.working_days_left) == (4, -1)
    assert acceptance.overdue and clock.overdue and clock.stage == "acceptance"


def test_decision_deadline_across_spring_festival_2026():
    # start_review Thu 12 Feb 2026, standard decision 5:
    # Fri 13 (1), Sat 14 调休 (2), 15–23 rest, Tue 24 (3), Wed 25 (4), Thu 26 (5).
    steps = [("file", D(2026, 2, 9)), ("accept", D(2026, 2, 10)),
             ("start_review", D(2026, 2, 12)), ("approve", D(2026, 2, 26))]
    clock = case_clock(steps, STANDARD, D(2026, 3, 31))
    decision = stage(clock, "decision")
    assert decision.deadline == D(2026, 2, 26)
    assert (decision.working_days_used, decision.working_days_left) == (5, 0)
    assert decision.overdue is False and decision.closed_on == D(2026, 2, 26)
    # review: accepted Tue 10 Feb, sent on Thu 12 Feb: Wed 11, Thu 12 = 2 of 15
    review = stage(clock, "review")
    assert (review.working_days_used, review.closed_on) == (2, D(2026, 2, 12))
    assert clock.stage is None and clock.overdue is False


def test_review_deadline_fifteen_days_over_spring_festival():
    # accepted Tue 10 Feb 2026, standard review 15 working days after it:
    # Wed 11 (1), Thu 12 (2), Fri 13 (3), Sat 14 调休 (4), 15–23 Feb rest, Tue 24 (5),
    # Wed 25 (6), Thu 26 (7), Fri 27 (8), Sat 28 调休 (9), Mon 2 Mar (10), Tue 3 (11),
    # Wed 4 (12), Thu 5 (13), Fri 6 (14), Mon 9 Mar (15).
    steps = [("file", D(2026, 2, 9)), ("accept", D(2026, 2, 10))]
    review = stage(case_clock(steps, STANDARD, D(2026, 2, 10)), "review")
    assert review.deadline == D(2026, 3, 9)


# --- 补正: return and resubmit ------------------------------------------------------------

RETURNED_IN_REVIEW = [("file", D(2026, 2, 27)), ("accept", D(2026, 3, 2)),
                      ("return", D(2026, 3, 4))]


def test_returned_case_is_paused_without_deadline():
    # accepted Mon 2 Mar 2026; Tue 3 (1), Wed 4 (2) counted; returned Wed 4 Mar.
    clock = case_clock(RETURNED_IN_REVIEW, GREEN, D(2026, 3, 6))
    review = stage(clock, "review")
    assert review.paused is True and review.deadline is None
    assert (review.working_days_used, review.working_days_left) == (2, 3)
    assert review.closed_on is None
    assert clock.stage == "review" and clock.overdue is False


def test_resubmission_resumes_and_moves_the_deadline():
    # Without the return, green review 5 after Mon 2 Mar: 3, 4, 5, 6, 9 Mar -> Mon 9 Mar.
    # Returned Wed 4, resubmitted Tue 10 Mar: paused working days Thu 5, Fri 6, Mon 9, Tue 10
    # = 4, so the deadline moves 4 working days: 10, 11, 12, 13 Mar -> Fri 13 Mar.
    steps = RETURNED_IN_REVIEW + [("resubmit", D(2026, 3, 10))]
    review = stage(case_clock(steps, GREEN, D(2026, 3, 11)), "review")
    assert review.paused is False
    assert review.deadline == D(2026, 3, 13)
    # used as of Wed 11 Mar: Tue 3, Wed 4, Wed 11 = 3
    assert (review.working_days_used, review.working_days_left) == (3, 2)


def test_stage_closed_late_after_a_pause_is_overdue():
    # sent to decision Mon 16 Mar: used 3, 4, 11, 12, 13, 16 Mar = 6 > 5: overdue, left -1.
    steps = RETURNED_IN_REVIEW + [("resubmit", D(2026, 3, 10)), ("start_review", D(2026, 3, 16))]
    clock = case_clock(steps, GREEN, D(2026, 3, 20))
    review = stage(clock, "review")
    assert review.closed_on == D(2026, 3, 16)
    assert (review.working_days_used, review.working_days_left, review.overdue) == (6, -1, True)
    assert review.deadline == D(2026, 3, 13)
    # the decision stage opened Mon 16 Mar: Tue 17 (1), Wed 18 (2) -> deadline 18 Mar;
    # as of Fri 20 Mar: 17, 18, 19, 20 = 4 used, overdue by 2
    decision = stage(clock, "decision")
    assert decision.started_on == D(2026, 3, 16) and decision.deadline == D(2026, 3, 18)
    assert (decision.working_days_used, decision.working_days_left) == (4, -2)
    assert clock.stage == "decision" and clock.overdue is True


def test_return_during_decision_pauses_the_decision_clock():
    # start_review Mon 16 Mar 2026, returned the same day (0 used), resubmitted Fri 20 Mar
    # (paused 17, 18, 19, 20 = 4); green decision 2: Mon 23 (1), Tue 24 (2) -> 24 Mar.
    base = [("file", D(2026, 3, 11)), ("accept", D(2026, 3, 12)),
            ("start_review", D(2026, 3, 16)), ("return", D(2026, 3, 16))]
    paused = stage(case_clock(base, GREEN, D(2026, 3, 19)), "decision")
    assert paused.paused and paused.deadline is None and paused.working_days_used == 0
    steps = base + [("resubmit", D(2026, 3, 20)), ("approve", D(2026, 3, 24))]
    clock = case_clock(steps, GREEN, D(2026, 4, 30))
    decision = stage(clock, "decision")
    assert decision.deadline == D(2026, 3, 24)
    assert (decision.working_days_used, decision.working_days_left, decision.overdue) == \
        (2, 0, False)
    # the review stage is untouched by that pause: Fri 13, Mon 16 = 2 of 5
    assert stage(clock, "review").working_days_used == 2
    assert clock.stage is None and clock.overdue is False
    # approved one day later (Wed 25 Mar): 3 used, overdue, left -1
    late = steps[:-1] + [("approve", D(2026, 3, 25))]
    decision = stage(case_clock(late, GREEN, D(2026, 4, 30)), "decision")
    assert (decision.working_days_used, decision.working_days_left, decision.overdue) == \
        (3, -1, True)


def test_pause_over_national_day():
    # accepted Mon 22 Sep 2025; Tue 23 (1), Wed 24 (2); returned Wed 24 Sep;
    # resubmitted Thu 9 Oct: paused 25, 26, 28 (Sun 调休), 29, 30 Sep and 9 Oct = 6 days.
    # Then Fri 10 Oct (3), Sat 11 Oct 调休 (4), Mon 13 Oct (5) -> deadline 13 Oct.
    steps = [("file", D(2025, 9, 19)), ("accept", D(2025, 9, 22)), ("return", D(2025, 9, 24)),
             ("resubmit", D(2025, 10, 9))]
    review = stage(case_clock(steps, GREEN, D(2025, 10, 11)), "review")
    assert review.deadline == D(2025, 10, 13)
    # as of Sat 11 Oct: 23, 24 Sep, 10, 11 Oct = 4
    assert (review.working_days_used, review.working_days_left) == (4, 1)


def test_pause_after_the_deadline_does_not_move_it():
    # review limit 1: accepted Mon 2 Mar 2026, deadline Tue 3 Mar. Returned Thu 5 Mar
    # (3, 4, 5 used: overdue while returned), resubmitted Mon 9 Mar (paused 6, 9).
    rules = {"acceptance": 1, "review": 1, "decision": 1}
    base = [("file", D(2026, 2, 27)), ("accept", D(2026, 3, 2)), ("return", D(2026, 3, 5))]
    clock = case_clock(base, rules, D(2026, 3, 6))
    review = stage(clock, "review")
    assert review.paused and (review.working_days_used, review.overdue) == (3, True)
    assert clock.overdue is True
    review = stage(case_clock(base + [("resubmit", D(2026, 3, 9))], rules, D(2026, 3, 10)),
                   "review")
    # as of Tue 10 Mar: 3, 4, 5, 10 = 4 used; the deadline stays Tue 3 Mar
    assert review.deadline == D(2026, 3, 3)
    assert (review.working_days_used, review.working_days_left) == (4, -3)


def test_several_pauses_add_up():
    # green review 5 after Mon 2 Mar 2026: Tue 3 (1); returned Tue 3, resubmitted Thu 5
    # (paused 4, 5); Fri 6 (2); returned Fri 6, resubmitted Tue 10 (paused 9, 10);
    # Wed 11 (3), Thu 12 (4), Fri 13 (5) -> 13 Mar.
    steps = [("file", D(2026, 2, 27)), ("accept", D(2026, 3, 2)),
             ("return", D(2026, 3, 3)), ("resubmit", D(2026, 3, 5)),
             ("return", D(2026, 3, 6)), ("resubmit", D(2026, 3, 10))]
    review = stage(case_clock(steps, GREEN, D(2026, 3, 12)), "review")
    assert review.deadline == D(2026, 3, 13)
    assert review.working_days_used == 4


# --- withdrawal, unopened stages, as_of ---------------------------------------------------

def test_withdrawal_while_returned_closes_the_stage():
    # returned Wed 4 Mar 2026 (3, 4 used), withdrawn Mon 9 Mar: the pause ends on the
    # withdrawal (paused 5, 6, 9), the stage closes: 2 used; deadline 3, 4 then 10, 11, 12.
    steps = RETURNED_IN_REVIEW + [("withdraw", D(2026, 3, 9))]
    clock = case_clock(steps, GREEN, D(2026, 4, 1))
    review = stage(clock, "review")
    assert review.closed_on == D(2026, 3, 9) and review.paused is False
    assert review.working_days_used == 2 and review.deadline == D(2026, 3, 12)
    assert clock.stage is None and clock.overdue is False
    decision = stage(clock, "decision")
    assert decision == StageClock("decision", None, None, 2, 0, 2, False, False, False, None)


def test_withdrawal_of_a_submitted_case():
    # filed Mon 2 Mar 2026, withdrawn Thu 5 Mar: acceptance closed with 3, 4, 5 = 3 used (>1)
    clock = case_clock([("file", D(2026, 3, 2)), ("withdraw", D(2026, 3, 5))], GREEN,
                       D(2026, 3, 31))
    acceptance = stage(clock, "acceptance")
    assert acceptance.closed_on == D(2026, 3, 5) and acceptance.working_days_used == 3
    assert acceptance.overdue is True
    assert clock.stage is None and clock.overdue is False
    assert stage(clock, "review").started_on is None


def test_a_new_case_lists_all_three_stages():
    clock = case_clock([("file", D(2026, 3, 2))], GREEN, D(2026, 3, 2))
    assert [s.stage for s in clock.stages] == ["acceptance", "review", "decision"]
    acceptance = asdict(clock.stages[0])
    assert acceptance == {
        "stage": "acceptance", "started_on": D(2026, 3, 2), "deadline": D(2026, 3, 3),
        "working_days_limit": 1, "working_days_used": 0, "working_days_left": 1,
        "overdue": False, "calendar_uncertain": False, "paused": False, "closed_on": None,
    }
    assert clock.stages[1] == StageClock("review", None, None, 5, 0, 5, False, False, False,
                                         None)


def test_rejected_case_has_every_stage_closed():
    steps = [("file", D(2026, 3, 2)), ("accept", D(2026, 3, 3)),
             ("start_review", D(2026, 3, 4)), ("reject", D(2026, 3, 5))]
    clock = case_clock(steps, GREEN, D(2026, 6, 1))
    assert all(s.closed_on is not None for s in clock.stages)
    assert [s.working_days_used for s in clock.stages] == [1, 1, 1]
    assert clock.stage is None and clock.overdue is False


def test_steps_after_as_of_have_not_happened_yet():
    steps = [("file", D(2026, 3, 2)), ("accept", D(2026, 3, 3)), ("return", D(2026, 3, 5))]
    clock = case_clock(steps, GREEN, D(2026, 3, 4))
    review = stage(clock, "review")
    assert review.paused is False and review.working_days_used == 1
    assert review.deadline == D(2026, 3, 10)  # 4, 5, 6, 9, 10 Mar
    before_filing = case_clock(steps, GREEN, D(2026, 3, 1))
    assert before_filing.stage is None
    assert all(s.started_on is None for s in before_filing.stages)


# --- years outside the calendar's data ------------------------------------------------------

def test_unknown_year_counts_weekdays_and_is_uncertain():
    # filed Thu 31 Dec 2026, standard acceptance 3; 2027 unknown: Fri 1 Jan (1), Mon 4 (2),
    # Tue 5 Jan (3) -> 5 Jan 2027, uncertain.
    clock = case_clock([("file", D(2026, 12, 31))], STANDARD, D(2026, 12, 31))
    acceptance = stage(clock, "acceptance")
    assert acceptance.deadline == D(2027, 1, 5)
    assert acceptance.calendar_uncertain is True
    assert acceptance.working_days_used == 0


def test_stage_within_a_known_year_is_certain_until_it_reaches_an_unknown_one():
    # filed Mon 28 Dec 2026, standard acceptance 3: 29, 30, 31 Dec -> 31 Dec, certain
    steps = [("file", D(2026, 12, 28))]
    acceptance = stage(case_clock(steps, STANDARD, D(2026, 12, 30)), "acceptance")
    assert acceptance.deadline == D(2026, 12, 31) and not acceptance.calendar_uncertain
    assert acceptance.working_days_used == 2
    # as of Mon 4 Jan 2027, the count reaches 2027: 29, 30, 31 Dec, 1 Jan, 4 Jan = 5, uncertain
    acceptance = stage(case_clock(steps, STANDARD, D(2027, 1, 4)), "acceptance")
    assert (acceptance.working_days_used, acceptance.calendar_uncertain) == (5, True)
    assert acceptance.overdue


# --- histories the workflow cannot produce --------------------------------------------------

@pytest.mark.parametrize(("steps", "message"), [
    ([("accept", D(2026, 3, 2))], "starts with the filing"),
    ([("file", D(2026, 3, 2)), ("file", D(2026, 3, 3))], "starts with the filing"),
    ([("file", D(2026, 3, 2)), ("jump", D(2026, 3, 3))], "unknown action"),
    ([("file", D(2026, 3, 2)), ("accept", D(2026, 3, 1))], "before the previous step"),
    ([("file", D(2026, 3, 2)), ("start_review", D(2026, 3, 3))], "in stage acceptance"),
    ([("file", D(2026, 3, 2)), ("resubmit", D(2026, 3, 3))], "was not returned"),
    ([("file", D(2026, 3, 2)), ("accept", D(2026, 3, 2)), ("return", D(2026, 3, 3)),
      ("start_review", D(2026, 3, 4))], "returned"),
    ([("file", D(2026, 3, 2)), ("accept", D(2026, 3, 2)), ("return", D(2026, 3, 3)),
      ("return", D(2026, 3, 4))], "already returned"),
    ([("file", D(2026, 3, 2)), ("withdraw", D(2026, 3, 3)), ("accept", D(2026, 3, 4))],
     "already closed"),
])
def test_impossible_histories_are_refused(steps, message):
    with pytest.raises(ValueError, match=message):
        case_clock(steps, GREEN, D(2026, 3, 31))


def test_limits_must_name_every_stage():
    with pytest.raises(ValueError, match="decision"):
        case_clock([("file", D(2026, 3, 2))], {"acceptance": 1, "review": 5}, D(2026, 3, 2))


def test_zero_limit_makes_the_opening_day_the_deadline():
    rules = {"acceptance": 0, "review": 5, "decision": 2}
    acceptance = stage(case_clock([("file", D(2026, 3, 2))], rules, D(2026, 3, 3)),
                       "acceptance")
    assert acceptance.deadline == D(2026, 3, 2)
    assert (acceptance.working_days_used, acceptance.overdue) == (1, True)
