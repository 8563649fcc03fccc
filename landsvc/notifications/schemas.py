"""The documented shape of notifications, and the body that marks one read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.lists import PageMembers
from landsvc.schemas import Body


class NotificationRead(BaseModel):
    id: int
    created_at: str = Field(description="通知时间（带时区）")
    kind: Literal["offering_published", "listing_published"]
    kind_label: str
    offering_id: int | None = Field(None, description="新发布的供地（kind = offering_published）")
    listing_id: int | None = Field(None, description="新发布的房源（kind = listing_published）")
    demand_id: int = Field(description="它满足的用地需求")
    enterprise_uscc: str = Field(description="收到通知的企业")
    read: bool
    read_at: str | None


class NotificationPage(PageMembers):
    items: list[NotificationRead]


class ReadMark(Body):
    model_config = ConfigDict(extra="forbid")

    read: bool = Field(True, description="true 标为已读；false 恢复为未读")
