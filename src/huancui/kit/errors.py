"""One family of business errors; each carries the exit code (and later the HTTP status) it maps to."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding in a file is: an error refuses it, a warning is reported and passes."""

    ERROR = "error"
    WARNING = "warning"


class HuancuiError(Exception):
    """A business error with a message written for the person who must act on it."""

    exit_code = 1
    http_status = 400


class InvalidInput(HuancuiError):
    """Input that does not meet its contract; nothing was stored."""

    exit_code = 2
    http_status = 422


class NotFound(HuancuiError):
    exit_code = 3
    http_status = 404


class Conflict(HuancuiError):
    """The request does not fit the record's current state (e.g. approving a rejected plan)."""

    exit_code = 4
    http_status = 409


class NotPermitted(HuancuiError):
    """The person may not do this: outside their authority, or four eyes would be broken."""

    exit_code = 5
    http_status = 403
