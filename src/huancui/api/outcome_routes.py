"""Routes under /api/outcomes (being built: issue 6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/outcomes", tags=["outcomes"])
