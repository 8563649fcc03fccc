"""Every page route, and the app serving this package's own CSS and JavaScript."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.staticfiles import StaticFiles

from landsvc.web import accounts, public
from landsvc.web.bureau.router import router as bureau
from landsvc.web.enterprise.router import router as enterprise
from landsvc.web.templating import STATIC

router = APIRouter(include_in_schema=False)
router.include_router(accounts.router)
router.include_router(public.router)
router.include_router(enterprise)
router.include_router(bureau)

STATIC_URL = STATIC


def static() -> StaticFiles:
    from pathlib import Path

    return StaticFiles(directory=Path(__file__).parent / "static")
