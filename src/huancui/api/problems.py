"""Errors as RFC 9457 problem details (application/problem+json): every HuancuiError with its
http_status, validation errors, unknown routes and unexpected failures (which leak nothing)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from huancui.access.tokens import GENERIC, TokenRejected
from huancui.kit.errors import HuancuiError, InvalidInput
from huancui.strategy.service import StrategyRejected

PROBLEM_BASE = "https://huancui.example/problems/"
MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


class SignInRequired(HuancuiError):
    """No valid credentials: a refused sign-in or a missing, invalid or expired token."""

    http_status = 401


class TooLarge(InvalidInput):
    """An upload over its size limit."""

    http_status = 413


class UnsupportedMediaType(InvalidInput):
    """An upload of a type that is not accepted, or whose content is not what it claims."""

    http_status = 415


# The problem type follows the status an error carries (a VersionConflict is an InvalidInput
# that answers 409: it is a conflict). TokenRejected is a NotPermitted, but answers 401.
_BY_STATUS: dict[int, tuple[str, str]] = {
    401: ("sign-in-required", "Sign-in required"),
    403: ("not-permitted", "Not permitted"),
    404: ("not-found", "Not found"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
}
_BUSINESS = ("business-rule", "Refused by a business rule")
_HTTP_KINDS = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
}


def problem(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _business(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HuancuiError)
    status = 401 if isinstance(exc, TokenRejected) else exc.http_status
    slug, title = _BY_STATUS.get(status, _BUSINESS)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    detail = GENERIC if isinstance(exc, TokenRejected) else str(exc)
    return problem(
        request,
        status=status,
        slug=slug,
        title=title,
        detail=detail,
        headers=headers,
        **_extensions(exc),
    )


def _extensions(exc: HuancuiError) -> dict[str, Any]:
    """Members a problem carries besides the standard ones: a refused strategy file lists each
    error with the rule it concerns (`where`), its line and message."""
    if isinstance(exc, StrategyRejected):
        return {
            "errors": [
                {"rule": f.where, "line": f.line, "message": f.message} for f in exc.findings
            ]
        }
    return {}


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The submitted values are left out: they may be passwords or personal data.
    errors: list[dict[str, Any]] = [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    where = "; ".join(".".join(e["loc"]) + ": " + e["msg"] for e in errors[:5])
    return problem(
        request,
        status=422,
        slug="invalid-input",
        title="Invalid input",
        detail=f"the request does not match its schema (see /docs): {where}",
        errors=errors,
    )


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_KINDS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = (
        f"no resource at {request.method} {request.url.path}; the routes are listed at /docs"
        if exc.status_code in _HTTP_KINDS
        else str(exc.detail)
    )
    return problem(
        request,
        status=exc.status_code,
        slug=slug,
        title=title,
        detail=detail,
        headers=getattr(exc, "headers", None),
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        status=500,
        slug="internal-error",
        title="Internal error",
        detail="something went wrong on our side; nothing was saved. Try again, or report the"
        " time of the request to an administrator",
    )


def install(app: FastAPI) -> None:
    """Answer every error of `app` as problem details."""
    app.add_exception_handler(HuancuiError, _business)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
