from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/listings", tags=["房源 listings"])
