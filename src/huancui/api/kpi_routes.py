"""Routes under /api/kpis (being built: issue 6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/kpis", tags=["kpis"])
