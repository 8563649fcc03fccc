from fastapi import APIRouter

router = APIRouter(tags=["厂房楼栋与分割转让 buildings"])
