"""Idempotency keys on writes that money or contacts hang on: a retry with the same key and
body answers with the first result instead of doing the work twice.

A key belongs to the signed-in actor, lives IDEMPOTENCY_TTL (then it may be used afresh), and
is bound to a digest of the method, path and body: the same key with another request is a
409. Two requests racing with one key cannot both do the work: the key's row is written in
the request's own transaction, so the loser's insert fails and it answers 409 (retry to get
the winner's result).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huancui.api.tables import IdempotencyKeyRow
from huancui.kit.errors import Conflict

IDEMPOTENCY_TTL = timedelta(hours=24)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description=(
            "Retry-safe: the same key and body answer with the first result (for 24 hours)."
        ),
    ),
]


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Idempotency:
    """One write under an optional key. `replayed()` first; after the work, `remember()`."""

    session: Session
    actor: str
    key: str | None
    digest: str

    @classmethod
    def of(
        cls, session: Session, *, actor: str, key: str | None, method: str, path: str, body: Any
    ) -> Idempotency:
        payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()
        return cls(session=session, actor=actor, key=key, digest=digest)

    def replayed(self, *, now: datetime | None = None) -> JSONResponse | None:
        """The stored answer to this key, or None when the key is new (or expired); Conflict
        when it was used for a different request."""
        if self.key is None:
            return None
        done = self.session.get(IdempotencyKeyRow, (self.actor, self.key))
        if done is None:
            return None
        if _aware(done.created_at) + IDEMPOTENCY_TTL <= (now or datetime.now(UTC)):
            self.session.delete(done)
            self.session.flush()
            return None
        if done.request_hash != self.digest:
            raise Conflict(
                f"Idempotency-Key {self.key!r} was already used for a different request; send"
                " a new key for a new request, or the same body to get the first result again"
            )
        return JSONResponse(
            done.response, status_code=done.status_code, headers={"Idempotent-Replayed": "true"}
        )

    def remember(self, *, status_code: int, response: dict[str, Any]) -> None:
        """Store the answer in the request's transaction (no-op without a key)."""
        if self.key is None:
            return
        self.session.add(
            IdempotencyKeyRow(
                actor=self.actor,
                key=self.key,
                request_hash=self.digest,
                status_code=status_code,
                response=response,
                created_at=datetime.now(UTC),
            )
        )
        try:
            self.session.flush()
        except IntegrityError:
            raise Conflict(
                f"another request with Idempotency-Key {self.key!r} is in progress or has just"
                " finished; retry it to get that request's result"
            ) from None
