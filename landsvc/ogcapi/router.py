from fastapi import APIRouter

router = APIRouter(prefix="/ogcapi", tags=["OGC API – Features"])
