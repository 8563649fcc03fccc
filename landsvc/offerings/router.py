from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/offerings", tags=["供地 offerings"])
