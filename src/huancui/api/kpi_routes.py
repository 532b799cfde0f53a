"""KPIs over the API: the same report as `huancui kpi --json` (monitoring/kpis.py) for a window,
per day or month, optionally sliced by one field (docs/kpis.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from huancui.api.deps import SettingsDep, require
from huancui.kit.errors import InvalidInput
from huancui.monitoring.data import FIELDS
from huancui.monitoring.kpis import compute_kpis

router = APIRouter(prefix="/kpis", tags=["kpis"], dependencies=[require("kpi:read")])

# A report reads every snapshot and event of its window: bound the work one request may ask.
MAX_WINDOW_DAYS = 5 * 366
MAX_DAILY_DAYS = 366
EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)
By = Annotated[
    str | None,
    Query(pattern=f"^({'|'.join(FIELDS)})$", description=f"Slice by one of: {', '.join(FIELDS)}"),
]


def check_request(start: date, end: date, grain: str) -> None:
    """The window a request may ask for; each refusal names its parameter."""
    for name, day in (("from", start), ("to", end)):
        if not EARLIEST <= day <= LATEST:
            raise InvalidInput(f"{name}: {day} is outside {EARLIEST} … {LATEST}")
    if end < start:
        raise InvalidInput(f"to: {end} is before from {start}; the window runs from → to")
    days = (end - start).days + 1
    if days > MAX_WINDOW_DAYS:
        raise InvalidInput(f"to: a window is at most {MAX_WINDOW_DAYS} days, not {days}")
    if grain == "day" and days > MAX_DAILY_DAYS:
        raise InvalidInput(
            f"grain: day periods cover at most {MAX_DAILY_DAYS} days, not {days}; use month"
        )


@router.get("")
def kpis(
    settings: SettingsDep,
    start: Annotated[date, Query(alias="from", description="First day of the window")],
    end: Annotated[date, Query(alias="to", description="Last day of the window")],
    grain: Literal["day", "month"] = "month",
    by: By = None,
) -> dict[str, Any]:
    """Recovery, cure, roll rates, delinquency, promises, contact, satisfaction, cost to
    collect and 缓催 over [from, to], each with its numerator and denominator; a 404 problem
    when no snapshot covers the window."""
    check_request(start, end, grain)
    report: dict[str, Any] = compute_kpis(settings, start, end, by=by, grain=grain).as_json()
    return report
