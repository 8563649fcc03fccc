from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column


class AllocationStatus(LabelledEnum):
    draft = "draft", "草案"
    confirmed = "confirmed", "已确认"


class Allocation(Base):
    """分配方案 — one run of the allocation solver over a jurisdiction's published offerings
    and the open demands they can serve: a draft until a bureau confirms it.

    ``assignments`` [{demand_id, offering_id, score, tier}] and ``unassigned`` [{demand_id,
    code, reason, offering_ids}] are kept as computed (JSONB): the draft is what the officer
    read, and confirming applies exactly that (or nothing, when it went stale)."""

    __tablename__ = "allocation"
    __table_args__ = (Index("ix_allocation_jurisdiction", "jurisdiction"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(String(6))
    status: Mapped[AllocationStatus] = mapped_column(enum_column(AllocationStatus),
                                                     default=AllocationStatus.draft)
    offering_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    demand_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    assignments: Mapped[list] = mapped_column(JSONB)
    unassigned: Mapped[list] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
