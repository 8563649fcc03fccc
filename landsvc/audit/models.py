"""The write audit's one table: appended by database triggers (migration 0016), never changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base

ENTITIES = {
    "parcel": "parcel", "park": "park", "offering": "offering", "building": "building",
    "listing": "listing", "enterprise": "enterprise", "demand": "demand",
    "token": "api_token", "user": "app_user", "guideline": "rent_guideline_version",
    "rent_zone": "rent_zone", "tariff": "utility_tariff",
}
"""The audited entities, as the API and ``audit_entry.entity`` name them, and their tables."""


class AuditEntry(Base):
    """One row inserted, updated or deleted in an audited table: by whom (``actor``), from
    where (``client``, ``request_id``), when; ``before``/``after`` the row's values (for an
    update only the changed fields). Written by the triggers of migration 0016 only; the
    database refuses UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        CheckConstraint("action IN ('insert', 'update', 'delete')", name="action_kind"),
        Index("ix_audit_entry_entity", "entity", "entity_id", "at"),
        Index("ix_audit_entry_at", "at"),
        Index("ix_audit_entry_district", "district",
              postgresql_ops={"district": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    entity: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                         server_default=text("clock_timestamp()"))
    district: Mapped[str | None] = mapped_column(String(12))
    """The adcode (or jurisdiction prefix) the row lies in: a bureau sees entries in its own."""
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
