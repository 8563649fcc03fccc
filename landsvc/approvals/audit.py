"""审批记录 — the append-only, hash-chained history of approval cases.

Two defences, each against a different hand:

- the database refuses UPDATE, DELETE and TRUNCATE of ``approval_event`` (migration 0009's
  triggers), so the application and anyone connecting as an ordinary user can only append;
- each row carries the SHA-256 of its own content and of the previous row of its case
  (``prev_hash``), so an edit made by someone who disabled the triggers — the table owner —
  is found by :func:`verify` (``landsvc audit verify``).

What is hashed (:func:`event_hash`): the JSON object of ``case_id, seq, action, from_status,
to_status, actor, role, at, on, comment, prev_hash`` with sorted keys, ``ensure_ascii=False``
and the separators ``(",", ":")``, encoded as UTF-8. ``at`` is written as the UTC instant
with microseconds, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: the time is taken in Python in UTC
(timezone-aware) and PostgreSQL's ``timestamptz`` keeps it to the microsecond, so the value
read back — in whatever zone the connection reports it — renders to the same text. ``on`` is
``YYYY-MM-DD``.

The chain is not keyed: whoever can rewrite the table can also recompute every hash after
the row they edit. It detects edits made without that care; it is not a signature.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from landsvc.approvals.models import ApprovalCase, ApprovalEvent, ApprovalStatus
from landsvc.errors import NotFound
from landsvc.fields import CHINA

ACTION_LABELS: dict[str, str] = {
    "file": "提交申请",
    "accept": "受理",
    "start_review": "提交决定",
    "return": "退回补正",
    "resubmit": "补正后重新提交",
    "approve": "批准",
    "reject": "不予批准",
    "withdraw": "撤回",
}
"""Every action a history may hold, with the words a person reads."""

FILING = "file"

CONTENT_CHANGED = "内容被改动"
CHAIN_BROKEN = "链断开"
SEQ_MISSING = "序号缺失"

STREAM_BATCH = 5_000
"""Rows fetched per round trip by :func:`verify`'s server-side cursor."""

_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class Problem:
    """One thing :func:`verify` found wrong: in which case, at which step, what."""

    case_id: int
    seq: int
    kind: str
    """:data:`CONTENT_CHANGED`, :data:`CHAIN_BROKEN` or :data:`SEQ_MISSING`."""
    detail: str

    def __str__(self) -> str:
        return f"案件 {self.case_id} 第 {self.seq} 条：{self.kind}（{self.detail}）"


# -- hashing (pure) ---------------------------------------------------------------------
def at_text(at: datetime) -> str:
    """The instant as hashed: UTC, microseconds, whatever zone ``at`` is expressed in."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware: a naive time names no instant")
    return at.astimezone(UTC).strftime(_AT_FORMAT)


def canonical(row: Mapping[str, Any]) -> bytes:
    """The bytes hashed for one event: fixed keys and layout, so equal content hashes equal."""
    content = {
        "case_id": row["case_id"], "seq": row["seq"], "action": row["action"],
        "from_status": row["from_status"], "to_status": row["to_status"],
        "actor": row["actor"], "role": row["role"], "at": at_text(row["at"]),
        "on": row["on"].isoformat(), "comment": row["comment"], "prev_hash": row["prev_hash"],
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def event_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical`."""
    return hashlib.sha256(canonical(row)).hexdigest()


def _plain(value):
    """Enum members as their identifiers: the row stores, and the hash covers, plain text."""
    return value.value if isinstance(value, enum.Enum) else value


# -- appending --------------------------------------------------------------------------
def append(session: Session, *, case_id: int, action: str, from_status: str | None,
           to_status: str, actor: str, role: str, on: date,
           comment: str | None) -> ApprovalEvent:
    """Append one step to a case's history, chained to its last step, and flush.

    The case row is locked (``FOR UPDATE``; a no-op when the caller already holds it) so two
    steps of one case can never take the same ``seq`` or chain to the same predecessor.
    Raises :class:`ValueError` for a history the workflow cannot produce: an unknown action,
    a filing that is not the first step or a first step that is not the filing.
    """
    action, from_status, to_status, role = map(_plain, (action, from_status, to_status, role))
    if action not in ACTION_LABELS:
        raise ValueError(f"unknown approval action {action!r}")
    if isinstance(on, datetime) or not isinstance(on, date):
        raise ValueError(f"on must be a date, got {on!r}")  # a datetime would be cut to its day
    if session.scalar(select(ApprovalCase.id).where(ApprovalCase.id == case_id)
                      .with_for_update()) is None:
        raise NotFound(f"审批案件 {case_id} 不存在", code="approval_not_found")
    last = session.execute(select(ApprovalEvent.seq, ApprovalEvent.hash)
                           .where(ApprovalEvent.case_id == case_id)
                           .order_by(ApprovalEvent.seq.desc()).limit(1)).first()
    if (last is None) != (action == FILING):
        raise ValueError(f"case {case_id}: the history starts with the filing, and only once")
    if action == FILING and from_status is not None:
        raise ValueError("the filing comes from no status: from_status must be None")
    row = {
        "case_id": case_id, "seq": 1 if last is None else last.seq + 1, "action": action,
        "from_status": from_status, "to_status": to_status, "actor": actor, "role": role,
        "at": datetime.now(UTC), "on": on, "comment": comment,
        "prev_hash": None if last is None else last.hash,
    }
    event = ApprovalEvent(**row, hash=event_hash(row))
    session.add(event)
    session.flush()
    return event


# -- reading ----------------------------------------------------------------------------
def history(session: Session, case_id: int) -> list[dict]:
    """A case's steps in order, as the API shows them; ``at`` in Beijing time, ISO 8601.

    The caller has already found the case and checked who may read it.
    """
    rows = session.execute(select(ApprovalEvent).where(ApprovalEvent.case_id == case_id)
                           .order_by(ApprovalEvent.seq)).scalars()
    return [{"seq": e.seq, "action": e.action, "action_label": ACTION_LABELS.get(e.action, e.action),
             "from_status": e.from_status, "to_status": e.to_status, "actor": e.actor,
             "role": e.role, "at": e.at.astimezone(CHINA).isoformat(), "on": e.on,
             "comment": e.comment}
            for e in rows]


# -- verifying --------------------------------------------------------------------------
def _status_label(status: str | None) -> str:
    try:
        return ApprovalStatus(status).label
    except ValueError:
        return str(status)


def _seq_problem(case_id: int, expected: int, seq: int) -> Problem:
    if seq > expected:
        missing = f"第 {expected} 条" if seq == expected + 1 else f"第 {expected}–{seq - 1} 条"
        return Problem(case_id, expected, SEQ_MISSING, f"缺少{missing}记录")
    return Problem(case_id, seq, SEQ_MISSING, f"序号应为 {expected}，记录为 {seq}")


def _tail_problem(case_id: int, case_status: str, last_seq: int,
                  last_to: str | None) -> Problem | None:
    """A case whose history stops short: none at all, or its last step not reaching the
    case's status (the rows after it deleted — a chain alone cannot see a cut-off end)."""
    if last_seq == 0:
        return Problem(case_id, 1, SEQ_MISSING, "案件没有任何审批记录，至少应有第 1 条（提交申请）")
    if last_to != _plain(case_status):
        return Problem(case_id, last_seq + 1, SEQ_MISSING,
                       f"最后一条记录（第 {last_seq} 条）止于“{_status_label(last_to)}”，"
                       f"而案件现为“{_status_label(_plain(case_status))}”：其后的记录缺失")
    return None


def check(rows: Iterable[Mapping[str, Any]]) -> Iterator[Problem]:
    """The problems of a stream of rows ordered by case and seq (pure).

    Each row has the case's ``case_status`` and the event's columns; a case without events
    comes as one row whose ``seq`` is None. A row's own hash is recomputed from its content;
    its ``prev_hash`` is compared with the previous row's stored hash, so an edited row shows
    as 内容被改动 and a row whose hash was recomputed after an edit breaks the link of the
    next one (链断开).
    """
    case_id = case_status = last_hash = last_to = None
    last_seq = 0
    for row in rows:
        if row["case_id"] != case_id:
            if case_id is not None and (tail := _tail_problem(case_id, case_status, last_seq,
                                                              last_to)):
                yield tail
            case_id, case_status = row["case_id"], row["case_status"]
            last_seq, last_hash, last_to = 0, None, None
        seq = row["seq"]
        if seq is None:
            continue
        if seq != last_seq + 1:
            yield _seq_problem(case_id, last_seq + 1, seq)
        if row["prev_hash"] != last_hash:
            yield Problem(case_id, seq, CHAIN_BROKEN,
                          "第 1 条不应指向上一条记录" if last_seq == 0 else
                          f"本条记录的上一条哈希与第 {last_seq} 条的哈希不符")
        if event_hash(row) != row["hash"]:
            yield Problem(case_id, seq, CONTENT_CHANGED, "按记录内容重新计算的哈希与所存哈希不符")
        last_seq, last_hash, last_to = seq, row["hash"], row["to_status"]
    if case_id is not None and (tail := _tail_problem(case_id, case_status, last_seq, last_to)):
        yield tail


def _counted(rows: Iterable[Mapping[str, Any]],
             progress: Callable[[int], None] | None) -> Iterator[Mapping[str, Any]]:
    """``rows`` passed through, ``progress`` told how many events (not eventless cases) went by."""
    done = 0
    for row in rows:
        yield row
        if row["seq"] is not None:
            done += 1
            if progress is not None and done % STREAM_BATCH == 0:
                progress(done)
    if progress is not None:
        progress(done)


def count_events(session: Session) -> int:
    """How many events are stored (for a progress bar's total)."""
    return session.scalar(select(func.count()).select_from(ApprovalEvent))


def verify(session: Session, *,
           progress: Callable[[int], None] | None = None) -> list[Problem]:
    """Every case's history checked, row by row, in one consistent read streamed through a
    server-side cursor; ``progress(events_read)`` is called as it goes and once at the end."""
    e, c = ApprovalEvent, ApprovalCase
    stmt = (select(c.id.label("case_id"), c.status.label("case_status"), e.seq, e.action,
                   e.from_status, e.to_status, e.actor, e.role, e.at, e.on, e.comment,
                   e.prev_hash, e.hash)
            .outerjoin(e, e.case_id == c.id)
            .order_by(c.id, e.seq)
            .execution_options(yield_per=STREAM_BATCH))
    rows = (row._mapping for row in session.execute(stmt))
    return list(check(_counted(rows, progress)))


# -- the command ------------------------------------------------------------------------
