"""Case-plane table of the API: idempotency keys, so a retried write (same key, same request)
answers with the first result instead of doing the work twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from huancui.kit.database import Base


class IdempotencyKeyRow(Base):
    """One write done under an `Idempotency-Key`, per user: what was asked (a hash of the
    method, path and body) and what was answered."""

    __tablename__ = "idempotency_keys"

    actor: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
