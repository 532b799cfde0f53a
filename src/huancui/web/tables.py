"""Case-plane table of the web app: server-side sessions behind the session cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from huancui.kit.database import Base


class WebSessionRow(Base):
    """One signed-in browser. The cookie carries a random token; only its SHA-256 is stored, so
    a copy of the table opens no session. Signing out or expiry ends it; rows are kept for
    the audit trail until purged."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_principal", "kind", "principal"),)

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # staff | customer
    principal: Mapped[str] = mapped_column(String(64))  # username or customer_id
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
