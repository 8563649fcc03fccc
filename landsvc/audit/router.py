"""(being built for issue 11 — see /work/brief-issue11.md): GET /api/v1/audit."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/audit", tags=["运维 operations"])
