from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from landsvc.lists import PageMembers

Value = str | int | float | None


class RentRecordRow(BaseModel):
    """One lease as given to the import (every value is checked with the file's rules, so
    text and numbers are both accepted; the Chinese column names work as keys too)."""

    model_config = ConfigDict(extra="allow")

    contract_no: Value = Field(None, description="合同编号（唯一）")
    listing_id: Value = Field(None, description="房源编号（可代替经纬度）")
    lon: Value = Field(None, description="经度（WGS-84）")
    lat: Value = Field(None, description="纬度（WGS-84）")
    district: Value = Field(None, description="区县代码；缺省时按位置确定")
    building_type: Value = Field(None, description="single_storey | multi_storey | high_rise")
    floor: Value = None
    area_m2: Value = Field(None, description="租赁面积（㎡）")
    rent_yuan_per_m2_month: Value = Field(None, description="单位租金（元/㎡·月）")
    rent_yuan_month_total: Value = Field(None, description="月租金总额（元）")
    start_date: Value = None
    end_date: Value = None
    registered_date: Value = None


class RejectedRow(BaseModel):
    index: int
    contract_no: str | None
    reason: str


class RentImportReport(BaseModel):
    imported: int
    rejected: list[RejectedRow]
    rejected_count: int
    rows: int
    format: str
    ignored_columns: list[str]


class RentImportRejectedBody(BaseModel):
    """422: the rows' checks failed (``report``), or the request itself was invalid."""

    detail: str
    code: str
    report: RentImportReport | None = None


class RentRecordItem(BaseModel):
    id: int
    contract_no: str
    listing_id: int | None
    lon: float
    lat: float
    district: str
    building_type: str
    floor: int | None
    area_m2: float
    rent_yuan_per_m2_month: float
    rent_yuan_month_total: float
    start_date: str
    end_date: str
    registered_date: str | None
    created_at: str
    created_by: str | None


class RentRecordPage(PageMembers):
    items: list[RentRecordItem]
