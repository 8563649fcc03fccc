from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/parks", tags=["特色产业园区 parks"])
