"""All enterprise portal pages under one router."""

from fastapi import APIRouter

from landsvc.web.enterprise import demands, home

router = APIRouter(prefix="/enterprise", include_in_schema=False)
router.include_router(home.router)
router.include_router(demands.router)
