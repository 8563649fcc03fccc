from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base


class PolicySetting(Base):
    """One rule value set for a jurisdiction (``scope``, an adcode prefix: 44, 4401, 440106);
    the most specific scope covering a district wins, and the code's default where none does."""

    __tablename__ = "policy_setting"

    scope: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value = mapped_column(JSONB, nullable=False)
    note: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
