"""The approvals' audit trail on a real PostgreSQL: an append-only table the database itself
guards, a hash chain recomputed here independently, and ``landsvc audit verify`` catching
what an owner who disabled the triggers changed behind the application's back."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import shapely
from geoalchemy2 import WKTElement
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from landsvc.approvals import audit
from landsvc.approvals.models import ApprovalCase, ApprovalEvent
from landsvc.enterprises.models import Enterprise
from landsvc.parcels.models import Parcel
from tests.builders import FUTIAN, square

USCC = "91440300MA5CHAN01X"
NO_CHANGE = "approval_event_no_change"

# One case's whole life: (action, from, to, comment). Returned from acceptance and brought
# back to it, then reviewed and approved: six steps, seq 1..6.
STEPS = [
    ("file", None, "submitted", "申请用地：“智能装备”项目"),
    ("accept", "submitted", "accepted", None),
    ("return", "accepted", "returned", "请补正规划许可材料"),
    ("resubmit", "returned", "accepted", "已补正"),
    ("start_review", "accepted", "under_review", ""),
    ("approve", "under_review", "approved", "同意"),
]


def new_case(session: Session, code: str, uscc: str = USCC) -> int:
    """An enterprise (if not there yet), a parcel in Futian and a case on it, flushed."""
    if session.get(Enterprise, uscc) is None:
        session.add(Enterprise(uscc=uscc, name="审批记录测试企业", district="440304"))
    parcel = Parcel(code=code, district="440304",
                    geom=WKTElement(shapely.MultiPolygon([square(*FUTIAN)]).wkt, srid=4326))
    session.add(parcel)
    session.flush()
    case = ApprovalCase(applicant_uscc=uscc, parcel_id=parcel.id, project_name="智能装备",
                        area_m2=10000, district="440304", channel="standard",
                        channel_reason="测试", applicant_tier="none", status="submitted",
                        filed_on=date(2026, 3, 2), last_step_on=date(2026, 3, 2))
    session.add(case)
    session.flush()
    return case.id


def walk(session: Session, case_id: int, steps=STEPS) -> list[ApprovalEvent]:
    """Append ``steps`` one working day apart, keeping the case's status in step (as the
    workflow does in the same transaction)."""
    events = []
    for i, (action, before, after, comment) in enumerate(steps):
        actor, role = ("企业甲", "enterprise") if action in ("file", "resubmit") else ("审批员乙", "bureau")
        events.append(audit.append(session, case_id=case_id, action=action, from_status=before,
                                   to_status=after, actor=actor, role=role,
                                   on=date(2026, 3, 2) + timedelta(days=i), comment=comment))
        session.execute(update(ApprovalCase).where(ApprovalCase.id == case_id)
                        .values(status=after))
    return events


def stored(session: Session, case_id: int) -> list[dict]:
    """The rows as PostgreSQL holds them, read with plain SQL (not the ORM's objects)."""
    return [dict(r) for r in session.execute(text(
        "SELECT * FROM approval_event WHERE case_id = :c ORDER BY seq"), {"c": case_id}).mappings()]


def expected_hash(row: dict) -> str:
    """The hash as the rule in landsvc/approvals/audit.py's docstring states it, written out
    here by hand: a JSON object, keys in alphabetical order, no spaces, non-ASCII kept,
    ``at`` the UTC instant with six fraction digits and a Z, ``on`` YYYY-MM-DD, SHA-256 hex
    of its UTF-8 bytes."""
    def j(value) -> str:
        return json.dumps(value, ensure_ascii=False)

    at = row["at"].astimezone(UTC)
    at_text = (f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:"
               f"{at.second:02d}.{at.microsecond:06d}Z")
    doc = (f'{{"action":{j(row["action"])},"actor":{j(row["actor"])},"at":"{at_text}",'
           f'"case_id":{row["case_id"]},"comment":{j(row["comment"])},'
           f'"from_status":{j(row["from_status"])},"on":"{row["on"].isoformat()}",'
           f'"prev_hash":{j(row["prev_hash"])},"role":{j(row["role"])},"seq":{row["seq"]},'
           f'"to_status":{j(row["to_status"])}}}')
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def tamper(session: Session, sql: str, **params) -> None:
    """What only the table's owner can do: switch the row trigger off, write, switch it on —
    inside the test's transaction, so it is rolled back with it."""
    session.execute(text(f"ALTER TABLE approval_event DISABLE TRIGGER {NO_CHANGE}"))
    session.execute(text(sql), params)
    session.execute(text(f"ALTER TABLE approval_event ENABLE TRIGGER {NO_CHANGE}"))


def found(problems) -> list[tuple[int, int, str]]:
    return [(p.case_id, p.seq, p.kind) for p in problems]


# -- appending --------------------------------------------------------------------------
def test_append_builds_a_chain_recomputable_from_the_stored_rows(session):
    case = new_case(session, "AUD-1")
    before = datetime.now(UTC)
    walk(session, case)
    after = datetime.now(UTC)
    # Read back in Beijing time: the hash must not depend on the zone the server reports in.
    session.execute(text("SET LOCAL TimeZone = 'Asia/Shanghai'"))
    rows = stored(session, case)

    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [(r["action"], r["from_status"], r["to_status"], r["comment"]) for r in rows] == STEPS
    assert rows[0]["prev_hash"] is None
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row["prev_hash"] == previous["hash"]
    for row in rows:
        assert row["at"].utcoffset() == timedelta(hours=8)
        assert before <= row["at"] <= after
        assert row["hash"] == expected_hash(row), row["seq"]
    assert len({r["hash"] for r in rows}) == 6
    assert rows[2]["on"] == date(2026, 3, 4) and rows[0]["actor"] == "企业甲"


def test_append_keeps_microseconds_and_chains_cases_apart(session):
    one, two = new_case(session, "AUD-2"), new_case(session, "AUD-3")
    walk(session, one, STEPS[:2])
    walk(session, two, STEPS[:1])
    walk(session, one, STEPS[2:3])
    # Interleaved appends: each case counts from 1 and links only to its own rows.
    assert [(r["seq"], r["action"]) for r in stored(session, one)] == [
        (1, "file"), (2, "accept"), (3, "return")]
    [first] = stored(session, two)
    assert (first["seq"], first["prev_hash"]) == (1, None)
    assert stored(session, one)[2]["prev_hash"] == stored(session, one)[1]["hash"]
    # An instant with a non-zero microsecond survives the round trip (else hashes would not
    # recompute): what PostgreSQL returns equals what Python held.
    event = session.get(ApprovalEvent, first["id"])
    assert first["at"] == event.at


@pytest.mark.parametrize("bad, message", [
    ({"action": "approve_all"}, "unknown approval action"),
    ({"on": datetime(2026, 3, 2, 9, 0, tzinfo=UTC)}, "on must be a date"),
])
def test_append_refuses_what_no_workflow_produces(session, bad, message):
    case = new_case(session, "AUD-4")
    args = dict(case_id=case, action="file", from_status=None, to_status="submitted",
                actor="企业甲", role="enterprise", on=date(2026, 3, 2), comment=None)
    with pytest.raises(ValueError, match=message):
        audit.append(session, **(args | bad))


def test_append_history_starts_with_the_filing_and_only_once(session):
    case = new_case(session, "AUD-5")
    with pytest.raises(ValueError, match="starts with the filing"):
        walk(session, case, STEPS[1:2])
    walk(session, case, STEPS[:1])
    with pytest.raises(ValueError, match="starts with the filing"):
        walk(session, case, STEPS[:1])


def test_history_in_order_with_chinese_labels(session):
    case = new_case(session, "AUD-6")
    events = walk(session, case)
    items = audit.history(session, case)
    assert [(i["seq"], i["action"], i["action_label"]) for i in items] == [
        (1, "file", "提交申请"), (2, "accept", "受理"), (3, "return", "退回补正"),
        (4, "resubmit", "补正后重新提交"), (5, "start_review", "提交决定"), (6, "approve", "批准")]
    first = items[0]
    assert first["from_status"] is None and first["to_status"] == "submitted"
    assert (first["actor"], first["role"], first["on"]) == ("企业甲", "enterprise", date(2026, 3, 2))
    assert first["comment"] == "申请用地：“智能装备”项目"
    # Beijing time, the same instant as stored.
    at = datetime.fromisoformat(first["at"])
    assert at.utcoffset() == timedelta(hours=8) and at == events[0].at
    assert set(first) == {"seq", "action", "action_label", "from_status", "to_status", "actor",
                          "role", "at", "on", "comment"}


def test_every_action_has_a_label():
    assert {"file", "accept", "start_review", "return", "resubmit", "approve", "reject",
            "withdraw"} == set(audit.ACTION_LABELS)
    assert audit.ACTION_LABELS["reject"] == "不予批准" and audit.ACTION_LABELS["withdraw"] == "撤回"


# -- the database refuses changes -------------------------------------------------------
@pytest.mark.parametrize("sql", [
    "UPDATE approval_event SET comment = '改过' WHERE case_id = :c AND seq = 2",
    "DELETE FROM approval_event WHERE case_id = :c AND seq = 2",
    "TRUNCATE approval_event",
])
def test_database_refuses_update_delete_truncate(session, sql):
    case = new_case(session, "AUD-7")
    walk(session, case, STEPS[:3])
    before = stored(session, case)
    with pytest.raises(DBAPIError, match="只能追加"), session.begin_nested():
        session.execute(text(sql), {"c": case})
    assert stored(session, case) == before


def test_orm_edit_of_an_event_is_refused_too(session):
    case = new_case(session, "AUD-8")
    [event] = walk(session, case, STEPS[:1])
    with pytest.raises(DBAPIError, match="只能追加"), session.begin_nested():
        event.comment = "改过"
        session.flush()
    session.expire(event)
    assert event.comment == STEPS[0][3]


# -- verify -----------------------------------------------------------------------------
def test_verify_finds_nothing_on_intact_chains(session):
    walk(session, new_case(session, "AUD-9"))
    walk(session, new_case(session, "AUD-10"), STEPS[:2])
    assert audit.verify(session) == []


def test_verify_catches_an_edited_comment(session):
    case = new_case(session, "AUD-11")
    walk(session, case)
    tamper(session, "UPDATE approval_event SET comment = '同意（已改）' WHERE case_id = :c AND seq = 6",
           c=case)
    problems = audit.verify(session)
    # Only row 6's content changed; its stored hash (and so the chain) are untouched.
    assert found(problems) == [(case, 6, "内容被改动")]
    assert f"案件 {case} 第 6 条：内容被改动" in str(problems[0])


def test_verify_catches_an_edit_whose_hash_was_recomputed(session):
    case = new_case(session, "AUD-12")
    walk(session, case)
    row = stored(session, case)[2] | {"comment": "无需补正"}
    tamper(session, "UPDATE approval_event SET comment = :m, hash = :h WHERE case_id = :c AND seq = 3",
           m=row["comment"], h=expected_hash(row), c=case)
    # Row 3 now hashes right, but row 4 still points at row 3's old hash.
    assert found(audit.verify(session)) == [(case, 4, "链断开")]


def test_verify_catches_a_deleted_middle_row(session):
    case = new_case(session, "AUD-13")
    walk(session, case)
    tamper(session, "DELETE FROM approval_event WHERE case_id = :c AND seq = 3", c=case)
    problems = audit.verify(session)
    # Seq jumps 2 → 4 (row 3 missing), and row 4's prev_hash was row 3's hash, not row 2's.
    assert found(problems) == [(case, 3, "序号缺失"), (case, 4, "链断开")]
    assert "缺少第 3 条" in problems[0].detail


def test_verify_catches_a_deleted_last_row_and_a_case_without_history(session):
    cut, bare, intact = (new_case(session, f"AUD-{n}") for n in (14, 15, 16))
    walk(session, cut)
    walk(session, intact, STEPS[:4])
    tamper(session, "DELETE FROM approval_event WHERE case_id = :c AND seq = 6", c=cut)
    problems = audit.verify(session)
    # A chain alone cannot see its end cut off: the case says approved, its last row (5)
    # only reaches under_review. The bare case has no filing at all.
    assert found(problems) == [(cut, 6, "序号缺失"), (bare, 1, "序号缺失")]
    assert "审查中" in problems[0].detail and "已批准" in problems[0].detail


def test_verify_streams_through_a_server_side_cursor(session, monkeypatch):
    for n in (17, 18):
        walk(session, new_case(session, f"AUD-{n}"))
    total = session.scalar(text("SELECT count(*) FROM approval_event"))
    monkeypatch.setattr(audit, "STREAM_BATCH", 4)
    calls, cursors = [], []

    def progress(done):
        calls.append(done)
        cursors.append(session.scalar(text("SELECT count(*) FROM pg_cursors")))

    assert audit.verify(session, progress=progress) == []
    # Every 4th event and once at the end: 4, 8, ... then the total.
    assert calls == list(range(4, total + 1, 4)) + [total]
    # While rows were coming, a named cursor was open on the server.
    assert cursors[0] >= 1


# -- the command ------------------------------------------------------------------------
@pytest.fixture
def committed_case(engine, database_url):
    """A committed case with its six steps (the command opens its own connection); removed
    afterwards, which the append-only triggers allow only their owner, with them off."""
    with Session(engine) as s, s.begin():
        case = new_case(s, "AUD-CLI-1")
        walk(s, case)
    yield case
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE approval_event DISABLE TRIGGER {NO_CHANGE}"))
        conn.execute(text("DELETE FROM approval_event WHERE case_id = :c"), {"c": case})
        conn.execute(text(f"ALTER TABLE approval_event ENABLE TRIGGER {NO_CHANGE}"))
        conn.execute(text("DELETE FROM approval_case WHERE id = :c"), {"c": case})
        conn.execute(text("DELETE FROM parcel WHERE code = 'AUD-CLI-1'"))
        conn.execute(text("DELETE FROM enterprise WHERE uscc = :u"), {"u": USCC})


def landsvc_audit(*args):
    """``landsvc audit ...``, as the installed command runs it."""
    from landsvc.cli import app

    return CliRunner().invoke(app, ["audit", *args])


def test_cli_verify_exit_codes(committed_case, engine):
    intact = landsvc_audit("verify")
    assert intact.exit_code == 0, intact.output
    assert "完好" in intact.stdout and f"案件 {committed_case}" not in intact.stdout
    with engine.connect() as conn:
        events = conn.scalar(text("SELECT count(*) FROM approval_event"))
    assert f"已核对 {events} 条" in intact.stdout

    with engine.begin() as conn:
        tamper(conn, "UPDATE approval_event SET actor = '他人' WHERE case_id = :c AND seq = 2",
               c=committed_case)
    broken = landsvc_audit("verify")
    assert broken.exit_code == 1, broken.output
    assert f"案件 {committed_case} 第 2 条：内容被改动" in broken.stdout
    assert "发现 1 处问题" in broken.stdout
