"""The stage clocks of one approval case, computed from its history (never stored).

A case passes three stages, each with a limit in Chinese working days
(:mod:`landsvc.approvals.workdays`):

- ``acceptance`` (受理) from the filing (``file``) to ``accept``;
- ``review`` (审查) from ``accept`` to ``start_review`` (the case goes to the deciding officer);
- ``decision`` (决定) from ``start_review`` to ``approve`` or ``reject``.

Counting (DESIGN.md, "Contract — approvals and quota"):

- The working days of a stage are those *after* the day of the step that opened it, up to
  and including the day of the step that closes it, or ``as_of`` while it is open.
- A ``return`` (退回补正) pauses the open stage: the working days after the return, up to and
  including the day of the ``resubmit``, are not counted, and the deadline moves by them. The
  ``resubmit`` resumes the same stage.
- ``withdraw`` closes the open stage on its day (ending a pause, if any); no stage follows.
- The deadline is the day on which the stage's counted working days reach its limit. A pause
  that begins before that day moves it by the pause's working days; a pause that begins once
  the limit is already reached (an overdue stage returned) cannot move it. While the stage is
  paused its deadline is null. A limit of 0 makes the deadline the opening day itself.
- ``overdue`` means used > limit: for a closed stage as of its closing step, for an open
  stage as of ``as_of`` (a paused stage keeps the days it had when it was returned).
- The case is overdue when its open stage is (never when no stage is open); its ``stage`` is
  the open stage, paused or not, or null once the case is decided or withdrawn.

Choices:

- Every case lists all three stages, in order. A stage not opened (not yet, or never after a
  withdrawal) has null ``started_on``, ``deadline`` and ``closed_on``, 0 days used, all its
  days left, and is neither overdue nor paused.
- Steps dated after ``as_of`` have not happened as of that day and are ignored: the clocks are
  those at the end of ``as_of`` (a queue asked for a past day shows that day's queue). A case
  filed after ``as_of`` has no stage opened.
- The history must be one the workflow allows (it is, when read from ``approval_event``); a
  history it could not produce raises :class:`ValueError` naming the step, rather than
  yielding figures nobody could explain.

The limits are rules per jurisdiction: :class:`DeadlineRules`, registered under
``approval_deadlines`` (``landsvc policy set SCOPE approval_deadlines.green_review 4``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from landsvc.approvals.workdays import nth_working_day_after, working_days_after
from landsvc.policies.service import register

STAGES = ("acceptance", "review", "decision")

ACTIONS = ("file", "accept", "start_review", "return", "resubmit", "approve", "reject",
           "withdraw")

_CLOSES = {"accept": "acceptance", "start_review": "review",
           "approve": "decision", "reject": "decision"}
"""The stage each forward step closes; the next stage in :data:`STAGES` opens on its day."""


@dataclass(frozen=True)
class DeadlineRules:
    """Stage limits in working days, per channel (绿色通道 / 普通通道)."""

    green_acceptance: int = 1
    green_review: int = 5
    green_decision: int = 2
    standard_acceptance: int = 3
    standard_review: int = 15
    standard_decision: int = 5


DEFAULTS = register("approval_deadlines", DeadlineRules())


def limits(rules: DeadlineRules, channel: str) -> dict[str, int]:
    """The limit of each stage for ``channel`` (``green`` or ``standard``) under ``rules``."""
    channel = str(getattr(channel, "value", channel))
    if channel not in ("green", "standard"):
        raise ValueError(f"channel must be green or standard, got {channel!r}")
    return {stage: int(getattr(rules, f"{channel}_{stage}")) for stage in STAGES}


@dataclass(frozen=True)
class StageClock:
    """One stage's clock, with the field names of the contract."""

    stage: str
    started_on: date | None
    deadline: date | None
    working_days_limit: int
    working_days_used: int
    working_days_left: int
    overdue: bool
    calendar_uncertain: bool
    paused: bool
    closed_on: date | None


@dataclass(frozen=True)
class CaseClock:
    """A case's clocks: its open stage (or None), whether that is overdue, all three stages."""

    stage: str | None
    overdue: bool
    stages: list[StageClock] = field(default_factory=list)


@dataclass
class _Span:
    """A stage while the history is replayed: its opening day, pauses and closing day."""

    started_on: date
    pauses: list[tuple[date, date | None]] = field(default_factory=list)
    closed_on: date | None = None

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None


def _replay(steps: Iterable[tuple[str, date]], as_of: date) -> dict[str, _Span]:
    """The stages opened by the steps up to ``as_of``, each with its pauses and closing."""
    spans: dict[str, _Span] = {}
    open_stage: str | None = None
    previous: date | None = None
    for number, (action, on) in enumerate(steps, start=1):
        where = f"step {number} ({action} on {on})"
        if action not in ACTIONS:
            raise ValueError(f"{where}: unknown action; expected one of {', '.join(ACTIONS)}")
        if previous is not None and on < previous:
            raise ValueError(f"{where}: before the previous step ({previous})")
        previous = on
        if (action == "file") != (number == 1):
            raise ValueError(f"{where}: the history starts with the filing, and only once")
        if on > as_of:
            break
        if action == "file":
            open_stage = "acceptance"
            spans[open_stage] = _Span(on)
            continue
        if open_stage is None:
            raise ValueError(f"{where}: the case is already closed")
        span = spans[open_stage]
        if action == "return":
            if span.paused:
                raise ValueError(f"{where}: the case is already returned")
            span.pauses.append((on, None))
        elif action == "resubmit":
            if not span.paused:
                raise ValueError(f"{where}: the case was not returned")
            span.pauses[-1] = (span.pauses[-1][0], on)
        elif action == "withdraw":
            if span.paused:
                span.pauses[-1] = (span.pauses[-1][0], on)
            span.closed_on = on
            open_stage = None
        else:
            if span.paused or _CLOSES[action] != open_stage:
                state = "returned" if span.paused else f"in stage {open_stage}"
                raise ValueError(f"{where}: not allowed while the case is {state}")
            span.closed_on = on
            following = STAGES.index(open_stage) + 1
            open_stage = STAGES[following] if following < len(STAGES) else None
            if open_stage is not None:
                spans[open_stage] = _Span(on)
    return spans


def _used(span: _Span, as_of: date) -> tuple[int, bool]:
    """Working days counted in the stage: after its start, to its end, pauses left out."""
    end = span.closed_on or as_of
    used, uncertain = working_days_after(span.started_on, end)
    for returned_on, resubmitted_on in span.pauses:
        paused, paused_uncertain = working_days_after(returned_on, resubmitted_on or end)
        used -= paused
        uncertain = uncertain or paused_uncertain
    return used, uncertain


def _deadline(span: _Span, limit: int) -> tuple[date, bool]:
    """The day the counted working days reach ``limit``, past the pauses that begin before."""
    cursor, remaining, uncertain = span.started_on, limit, False
    for returned_on, resubmitted_on in span.pauses:
        before_pause, pause_uncertain = working_days_after(cursor, returned_on)
        uncertain = uncertain or pause_uncertain
        if before_pause >= remaining:
            break
        remaining -= before_pause
        cursor = resubmitted_on
    if remaining == 0:
        return cursor, uncertain
    day, day_uncertain = nth_working_day_after(cursor, remaining)
    return day, uncertain or day_uncertain


def _stage_clock(stage: str, span: _Span | None, limit: int, as_of: date) -> StageClock:
    if span is None:
        return StageClock(stage, None, None, limit, 0, limit, False, False, False, None)
    used, uncertain = _used(span, as_of)
    deadline = None
    paused = span.paused and span.closed_on is None
    if not paused:
        deadline, deadline_uncertain = _deadline(span, limit)
        uncertain = uncertain or deadline_uncertain
    return StageClock(stage=stage, started_on=span.started_on, deadline=deadline,
                      working_days_limit=limit, working_days_used=used,
                      working_days_left=limit - used, overdue=used > limit,
                      calendar_uncertain=uncertain, paused=paused, closed_on=span.closed_on)


def case_clock(steps: Iterable[tuple[str, date]], stage_limits: Mapping[str, int],
               as_of: date) -> CaseClock:
    """The clocks of a case with history ``steps`` ((action, on) in order) as of ``as_of``.

    ``stage_limits`` maps each stage name to its limit in working days (see :func:`limits`).
    """
    for stage in STAGES:
        if stage not in stage_limits or int(stage_limits[stage]) < 0:
            raise ValueError(f"stage_limits: a limit of at least 0 is needed for {stage}")
    spans = _replay(steps, as_of)
    clocks = [_stage_clock(stage, spans.get(stage), int(stage_limits[stage]), as_of)
              for stage in STAGES]
    current = next((c for c in clocks if c.started_on is not None and c.closed_on is None), None)
    return CaseClock(stage=current.stage if current else None,
                     overdue=current.overdue if current else False, stages=clocks)
