"""Routes under /api/cases (being built: issue 6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/cases", tags=["cases"])
