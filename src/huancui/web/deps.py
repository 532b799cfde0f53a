"""What a page depends on: the signed-in staff user or customer, the permissions a page needs,
the unit of work, and `render`, which fills a template with the request's language, CSRF token,
user, navigation and flash messages."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from sqlalchemy import select
from sqlalchemy.orm import Session

from huancui.access import permissions
from huancui.access.tables import UserRow
from huancui.api.deps import Principal, SessionDep, SettingsDep
from huancui.kit.errors import NotPermitted
from huancui.kit.money import MoneyFormatError, display_yuan, parse_yuan
from huancui.portfolio.repository import PortfolioRepository
from huancui.web import csrf, i18n
from huancui.web.sessions import (
    PendingCookie,
    WebContext,
    WebContextDep,
    context_of,
    queue_cookie,
)

DbSession = SessionDep
__all__ = [
    "NAV",
    "CustomerPrincipal",
    "CustomerUser",
    "DbSession",
    "Principal",
    "SettingsDep",
    "StaffUser",
    "flash",
    "latest_as_of",
    "page_requires",
    "redirect",
    "render",
    "role_home",
]

# Times on pages are shown in the bank's zone (the case plane stores UTC).
DISPLAY_ZONE = ZoneInfo("Asia/Shanghai")
FLASH_COOKIE = "huancui_flash"


@dataclass(frozen=True)
class NavItem:
    href: str
    label_key: str
    permissions: tuple[str, ...]  # the role needs one of these to see the link


# The staff navigation, in order; a role sees the links whose page it may open. The first one
# it may open is its home (GET /).
NAV: tuple[NavItem, ...] = (
    NavItem("/work", "common.nav.work", ("case:work",)),
    NavItem("/supervise", "common.nav.approvals", ("arrangement:approve", "hardship:approve")),
    NavItem("/supervise/team", "common.nav.team", ("arrangement:approve",)),
    NavItem("/strategies", "common.nav.strategies", ("strategy:edit",)),
    NavItem("/compliance", "common.nav.compliance", ("compliance:read",)),
)
CUSTOMER_NAV: tuple[NavItem, ...] = (NavItem("/portal", "common.nav.portal", ("portal:self",)),)


def nav_for(role: str) -> list[NavItem]:
    items = CUSTOMER_NAV if role == "customer" else NAV
    return [i for i in items if any(permissions.allowed(role, p) for p in i.permissions)]


def role_home(role: str) -> str | None:
    """Where GET / sends a role: its first page, or None when it has no web page (yet).
    Those who approve start at their approvals inbox, not at the queue they may also work."""
    if permissions.allowed(role, "arrangement:approve"):
        return "/supervise"
    items = nav_for(role)
    return items[0].href if items else None


# --- who is signed in --------------------------------------------------------------------------


class SignInNeeded(Exception):
    """No signed-in user of the kind the page needs: answered with a redirect to `location`."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class PageForbidden(NotPermitted):
    """The signed-in user's role may not open this page: a translated 403 page."""


@dataclass(frozen=True)
class CustomerPrincipal:
    """The signed-in portal customer."""

    customer_id: str


def _back_to(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return quote(target, safe="")


def latest_as_of(db: Session) -> date | None:
    """The as-of date of the latest imported snapshot: the day the workbench works on (as
    `huancui portfolio summary` picks it)."""
    latest = PortfolioRepository(db).latest_snapshot()
    return latest.as_of if latest else None


def staff_user(request: Request, context: WebContextDep, db: SessionDep) -> Principal:
    """The signed-in staff user (role read from the users table, so a deactivated user or a
    changed role takes effect at once), else a redirect to /login?next=..."""
    found = context.session
    if found is None or found.kind != "staff":
        raise SignInNeeded(f"/login?next={_back_to(request)}")
    user = db.scalars(select(UserRow).where(UserRow.username == found.principal)).first()
    if user is None or not user.active:
        raise SignInNeeded(f"/login?next={_back_to(request)}")
    principal = Principal(username=user.username, role=user.role)
    request.state.user = principal
    request.state.as_of = latest_as_of(db)
    return principal


StaffUser = Annotated[Principal, Depends(staff_user)]


class _PageRequirement:
    def __init__(self, *needed: str) -> None:
        unknown = [p for p in needed if p not in permissions.PERMISSIONS]
        if not needed or unknown:
            raise ValueError(f"unknown permission(s) {unknown}: see access/permissions.py")
        self.permissions = needed

    def __call__(self, user: StaffUser) -> Principal:
        if any(permissions.allowed(user.role, p) for p in self.permissions):
            return user
        raise PageForbidden(
            f"the {user.role} role may not open this page: it needs one of"
            f" {', '.join(self.permissions)}"
        )


def page_requires(*needed: str) -> Any:
    """A dependency: the signed-in staff user holding one of `needed`, else a 403 page.
    Use as `user: Annotated[Principal, page_requires("queue:read")]`."""
    return Depends(_PageRequirement(*needed))


def customer_user(request: Request, context: WebContextDep) -> CustomerPrincipal:
    """The signed-in portal customer, else a redirect to /portal/login?next=..."""
    found = context.session
    if found is None or found.kind != "customer":
        raise SignInNeeded(f"/portal/login?next={_back_to(request)}")
    customer = CustomerPrincipal(customer_id=found.principal)
    request.state.user = customer
    return customer


CustomerUser = Annotated[CustomerPrincipal, Depends(customer_user)]


# --- flash messages ----------------------------------------------------------------------------


def flash(request: Request, key: str, **values: Any) -> None:
    """A message for the next page this browser sees (after a redirect): a message key and
    its values, kept in a short-lived cookie."""
    i18n.translate(key, i18n.DEFAULT_LANGUAGE, **values)  # an unknown key fails here, not later
    pending = [*getattr(request.state, "flashes", []), [key, values]]
    request.state.flashes = pending
    encoded = base64.urlsafe_b64encode(json.dumps(pending, default=str).encode()).decode()
    queue_cookie(request, PendingCookie(FLASH_COOKIE, encoded, 120))


def _take_flashes(request: Request, language: str) -> list[str]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or getattr(request.state, "flashes", None):
        return []
    queue_cookie(request, PendingCookie(FLASH_COOKIE, None))
    try:
        items = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, binascii.Error):
        return []
    shown: list[str] = []
    for item in items if isinstance(items, list) else []:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict)):
            continue
        key, values = item
        try:
            shown.append(i18n.translate(str(key), language, **values))
        except (i18n.MissingMessage, KeyError, IndexError, ValueError):
            continue  # a forged or stale cookie shows nothing
    return shown


# --- rendering ---------------------------------------------------------------------------------


@pass_context
def _yuan(_: Context, fen: int | None) -> str:
    return "—" if fen is None else f"¥{display_yuan(int(fen))}"


def _grouped(text: str | None) -> str:
    """A yuan amount given as a decimal string ("18468.07"), grouped as people read it
    ("18,468.07"); what is not an amount is shown as it is."""
    if text is None or text == "":
        return "—"
    try:
        return display_yuan(parse_yuan(str(text)))
    except MoneyFormatError:
        return str(text)


@pass_context
def _day(context: Context, value: date | datetime | str | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    if context.get("lang") == "en":
        return value.strftime("%d %b %Y")
    return f"{value.year}年{value.month}月{value.day}日"


@pass_context
def _moment(context: Context, value: datetime | str | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(DISPLAY_ZONE)
    return f"{_day(context, local.date())} {local:%H:%M}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("huancui.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yuan"] = _yuan
    env.filters["grouped"] = _grouped
    env.filters["day"] = _day
    env.filters["moment"] = _moment
    return env


ENVIRONMENT = _environment()


def page_globals(request: Request, context: WebContext) -> dict[str, Any]:
    """What every template sees besides its own context."""
    language = context.language
    user = getattr(request.state, "user", None)
    role = user.role if isinstance(user, Principal) else "customer" if user else None

    def t(key: str, **values: Any) -> str:
        return i18n.translate(key, language, **values)

    def t_or(key: str, fallback: str, **values: Any) -> str:
        return i18n.translate_or(key, language, fallback, **values)

    def url_for(name: str, **params: Any) -> str:
        return str(request.app.url_path_for(name, **params))

    def switch_to(language_code: str) -> str:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        query.append(("lang", language_code))
        return request.url.path + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query)

    items = nav_for(role) if role else []
    path = request.url.path
    matching = [i.href for i in items if path == i.href or path.startswith(i.href + "/")]
    return {
        "request": request,
        "t": t,
        "t_or": t_or,
        "lang": language,
        "languages": i18n.LANGUAGES,
        "switch_language": switch_to,
        "csrf_token": csrf.token_for(request),
        "current_user": user,
        "nav": items,
        "nav_current": max(matching, key=len) if matching else None,
        "current_path": path,
        "as_of": getattr(request.state, "as_of", None),
        "url_for": url_for,
        "flashes": _take_flashes(request, language),
    }


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The page `template` (under web/templates) filled with `context` and the page globals."""
    values = {**page_globals(request, context_of(request)), **context}
    html = ENVIRONMENT.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)


def redirect(url: str, *, status_code: int = 303) -> RedirectResponse:
    """After a successful POST: 303 See Other, so reloading the next page posts nothing."""
    return RedirectResponse(url, status_code=status_code)


def safe_next(target: str | None, *, default: str) -> str:
    """A ?next= target only when it is a path on this site (no open redirect), never the API."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\", "/api")):
        return default
    return target


Translator = Callable[..., str]


def translator(request: Request) -> Translator:
    """t(key, **values) in the request's language, for route code (flash, inline errors)."""
    language = context_of(request).language

    def t(key: str, **values: Any) -> str:
        return i18n.translate(key, language, **values)

    return t
