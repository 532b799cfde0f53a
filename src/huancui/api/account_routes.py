"""The account 360 view over the API, with personal data masked for the caller's role."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from huancui.api.deps import Principal, SessionDep, SettingsDep, require
from huancui.cases import service
from huancui.portfolio.repository import PortfolioRepository

router = APIRouter(prefix="/accounts", tags=["accounts"])
Reader = Annotated[Principal, require("queue:read")]


@router.get("/{account_id}")
def account_360(
    account_id: str,
    session: SessionDep,
    settings: SettingsDep,
    user: Reader,
    as_of: Annotated[
        date | None, Query(description="The as-of date (default: the latest snapshot's).")
    ] = None,
    lang: Annotated[Literal["zh-CN", "en"], Query(description="The script's language.")] = "zh-CN",
    offers: Annotated[bool, Query(description="Include the offers (slower).")] = True,
) -> dict[str, Any]:
    """Customer, accounts, balances (fen), DPD history, contacts, arrangements, 缓催
    applications, holds, the script of the open work item and the offers."""
    if as_of is None:
        latest = PortfolioRepository(session).latest_snapshot()
        as_of = latest.as_of if latest is not None else date.today()
    return service.account_360(
        session,
        settings,
        account_id=account_id,
        as_of=as_of,
        role=user.role,
        language=lang,
        with_offers=offers,
    )
