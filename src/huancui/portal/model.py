"""The portal's pure rules: what a phone number, an evidence file and a rating must look like.
No I/O here; the services (codes.py, service.py) apply them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from huancui.arrangements.evidence import BY_MEDIA_TYPE, EVIDENCE_MAX_BYTES, kind_of
from huancui.kit.errors import InvalidInput

# One-time sign-in codes (codes.py; docs/portal.md).
CODE_DIGITS = 6
CODE_MINUTES = 10
CODE_MAX_ATTEMPTS = 5
CODES_PER_HOUR = 5

# Evidence for a 缓催 application: these types only, recognised by their first bytes (the
# declared content type and the file name are the client's word, not evidence).
EVIDENCE_MAX_FILES = 5
EVIDENCE_TYPES = tuple(BY_MEDIA_TYPE)

CSAT_SCORES = range(1, 6)
COMMENT_MAX_CHARS = 1000

_MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")


def normalise_phone(text: str) -> str:
    """A mainland mobile number as stored (11 digits), from what a person types: spaces,
    hyphens and a +86 / 0086 prefix are allowed."""
    digits = re.sub(r"[\s\-()]", "", text or "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if not _MAINLAND_MOBILE.fullmatch(digits):
        raise InvalidInput(
            "phone: enter the 11-digit mobile number the bank has for you, e.g. 138 0013 8000"
        )
    return digits


def check_code_format(code: str) -> str:
    """The code as typed, without spaces; InvalidInput unless it is CODE_DIGITS digits."""
    cleaned = re.sub(r"\s", "", code or "")
    if not (len(cleaned) == CODE_DIGITS and cleaned.isascii() and cleaned.isdigit()):
        raise InvalidInput(f"code: enter the {CODE_DIGITS}-digit code from the SMS")
    return cleaned


@dataclass(frozen=True)
class EvidenceFile:
    """An uploaded file that passed the checks: its bytes, true media type and extension."""

    content: bytes
    media_type: str
    extension: str


def check_evidence(content: bytes, *, field: str = "evidence") -> EvidenceFile:
    """The file if it is a PDF, JPEG or PNG (by its first bytes) of at most 5 MB."""
    if not content:
        raise InvalidInput(f"{field}: the file is empty")
    if len(content) > EVIDENCE_MAX_BYTES:
        raise InvalidInput(
            f"{field}: the file has {len(content) / 1024 / 1024:.1f} MB; at most"
            f" {EVIDENCE_MAX_BYTES // 1024 // 1024} MB per file"
        )
    kind = kind_of(content)
    if kind is not None:
        return EvidenceFile(content, kind.media_type, kind.extension)
    raise InvalidInput(f"{field}: only PDF, JPEG or PNG files are accepted (a photo or a scan)")


def check_rating(score: int, comment: str | None) -> tuple[int, str | None]:
    """A CSAT score 1–5 and the comment trimmed (None when blank)."""
    if score not in CSAT_SCORES:
        raise InvalidInput(f"score: rate the service from 1 (poor) to 5 (excellent), not {score}")
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX_CHARS:
        raise InvalidInput(f"comment: at most {COMMENT_MAX_CHARS} characters ({len(text)} given)")
    return score, text or None
