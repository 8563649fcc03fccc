from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column


class NotificationKind(LabelledEnum):
    offering_published = "offering_published", "新供地发布"
    listing_published = "listing_published", "新房源发布"


class Notification(Base):
    """通知 — one enterprise told that a published offering or listing meets one of its open
    demands (a consortium's demand tells every member: one row each)."""

    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint("(offering_id IS NULL) <> (listing_id IS NULL)", name="one_subject",
                        info={"field": "offering_id", "rule": "通知须关于一宗供地或一个房源"}),
        Index("ix_notification_enterprise_uscc_id", "enterprise_uscc", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    enterprise_uscc: Mapped[str] = mapped_column(
        ForeignKey("enterprise.uscc", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(enum_column(NotificationKind))
    offering_id: Mapped[int | None] = mapped_column(
        ForeignKey("offering.id", ondelete="CASCADE"), index=True)
    listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id", ondelete="CASCADE"),
                                           index=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """Outbox: one POST of a notification to its enterprise's ``webhook_url``.

    Due while ``delivered_at`` is NULL and ``next_attempt_at`` has passed; a delivery that used
    up its attempts keeps ``delivered_at`` and ``next_attempt_at`` NULL (given up)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "next_attempt_at",
              postgresql_where=text("delivered_at IS NULL AND next_attempt_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                             server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_status: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
