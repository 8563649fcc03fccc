from typing import Annotated

from pydantic import BaseModel, Field

from landsvc.schemas import Body

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class AllocationCreate(Body):
    jurisdiction: str = Field(max_length=20, description="辖区行政区划代码前缀：44、4403、440306")
    offering_ids: list[Id] | None = Field(
        None, max_length=1000, description="只分配这些供地（须在辖区内、已发布）；省略：辖区内全部在售供地")
    demand_ids: list[Id] | None = Field(
        None, max_length=5000, description="只考虑这些待匹配的用地需求；省略：这些供地可满足的全部需求"
                                           "及辖区内的待匹配用地需求")


class AssignmentOut(BaseModel):
    demand_id: int
    offering_id: int
    score: float = Field(description="匹配得分 0–100")
    tier: str = Field(description="需求方在分配之日的有效梯度")
    tier_label: str


class UnassignedOut(BaseModel):
    demand_id: int
    code: str = Field(description="no_candidate | higher_tier | higher_total_score")
    reason: str
    tier: str
    offering_ids: list[int] = Field(description="它本可取得的供地（均已分给其他需求）")


class AllocationOut(BaseModel):
    id: int
    jurisdiction: str
    status: str = Field(description="draft | confirmed")
    status_label: str
    offering_ids: list[int]
    demand_ids: list[int]
    assignments: list[AssignmentOut]
    unassigned: list[UnassignedOut]
    created_by: str | None
    created_at: str
    confirmed_at: str | None
