"""Routes under /api/runs (being built: issue 6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/runs", tags=["runs"])
