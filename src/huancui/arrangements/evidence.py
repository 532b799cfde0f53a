"""What evidence a 缓催 application may carry: PDF, JPEG or PNG files, recognised by their first
bytes (a declared content type and a file name are only the client's word)."""

from __future__ import annotations

from dataclasses import dataclass

EVIDENCE_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class EvidenceKind:
    media_type: str
    extension: str
    magic: bytes
    label: str


KINDS: tuple[EvidenceKind, ...] = (
    EvidenceKind("application/pdf", "pdf", b"%PDF-", "a PDF"),
    EvidenceKind("image/jpeg", "jpg", b"\xff\xd8\xff", "a JPEG image"),
    EvidenceKind("image/png", "png", b"\x89PNG\r\n\x1a\n", "a PNG image"),
)
BY_MEDIA_TYPE: dict[str, EvidenceKind] = {kind.media_type: kind for kind in KINDS}


@dataclass(frozen=True)
class EvidenceContent:
    """An evidence file already in memory (an upload), under the name it is recorded by."""

    name: str
    content: bytes


def kind_of(content: bytes) -> EvidenceKind | None:
    """The accepted kind the content really is, or None."""
    return next((kind for kind in KINDS if content.startswith(kind.magic)), None)
