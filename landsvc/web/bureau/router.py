"""All bureau console pages under one router."""

from fastapi import APIRouter

from landsvc.web.bureau import approvals, dashboard, market, supply

router = APIRouter(prefix="/bureau", include_in_schema=False)
router.include_router(dashboard.router)
router.include_router(supply.router)
router.include_router(approvals.router)
router.include_router(market.router)
