"""Park request bodies, and the documented shape of park answers (built by the service)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.lists import PageMembers
from landsvc.schemas import Body

_CODES = ("GB/T 4754-2017 行业代码：门类字母 A–T 加 2–4 位数字，如 C39（大类）、C397（中类）、"
          "C3971（小类）")

Service = Annotated[str, Field(max_length=200)]


class ParkProperties(Body):
    """Properties of a park as written by a bureau; only what is given changes (PATCH)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="园区名称（同一区县内不重名）", max_length=200)
    district: str | None = Field(
        None, description="行政区代码；缺省时按位置（最大重叠）确定")
    leading_industries: list[str] | None = Field(None, description=f"主导产业，{_CODES}")
    featured_srdi: bool | None = Field(None, description="是否专精特新特色园区（缺省 false）")
    services: list[Service] | None = Field(None, description="配套服务，如 人才公寓、检测认证")


class NewParkProperties(ParkProperties):
    """A new park's properties: ``name`` is required."""

    name: str = Field(description="园区名称（同一区县内不重名）", max_length=200)


class ParkCreate(Body):
    """A GeoJSON Feature (Polygon or MultiPolygon, lon/lat) with the park's properties."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: dict[str, Any]
    properties: NewParkProperties


class ParkUpdate(Body):
    """A GeoJSON Feature whose geometry and properties are optional."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: dict[str, Any] | None = None
    properties: ParkProperties = ParkProperties()


# -- answers (documentation: the service builds them) -------------------------------------
class ParkRead(BaseModel):
    name: str
    district: str = Field(description="区县行政区划代码")
    district_name: str
    leading_industries: list[str] = Field(description=_CODES)
    featured_srdi: bool
    services: list[str]
    area_m2: float = Field(description="面积（㎡，椭球面积，0.01）")
    area_mu: float = Field(description="面积（亩，0.0001）")
    parcel_count: int = Field(description="园区内地块数（地块面积过半在园区内；只计调用者可见的地块）")
    created_at: str
    updated_at: str


class ParkFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any] = Field(description="GeoJSON MultiPolygon（WGS-84 经纬度）")
    properties: ParkRead


class ParkCollection(PageMembers):
    type: Literal["FeatureCollection"]
    features: list[ParkFeature]


class ParkImportRow(BaseModel):
    index: int
    name: str | None
    reason: str


class ParkImportNote(BaseModel):
    index: int
    name: str | None
    note: str


class ParkImportReport(BaseModel):
    imported: int
    rejected: list[ParkImportRow]
    rejected_count: int
    notes: list[ParkImportNote]
    features: int
    format: str
    crs: str
    ignored_columns: list[str]


class ParkImportRejectedBody(BaseModel):
    """422: the file's checks failed (``report``), or the request itself was invalid."""

    detail: str
    code: str
    report: ParkImportReport | None = None
