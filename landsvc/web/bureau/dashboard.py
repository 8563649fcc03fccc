"""(being built — see /work/brief-issue10.md)"""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
