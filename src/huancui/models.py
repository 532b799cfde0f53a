"""Imports every feature's tables so the metadata (and Alembic) sees the whole schema."""

from __future__ import annotations


def import_all_tables() -> None:
    import huancui.access.tables
    import huancui.api.tables
    import huancui.arrangements.tables
    import huancui.cases.tables
    import huancui.contact.tables
    import huancui.portal.tables
    import huancui.portfolio.tables
    import huancui.strategy.tables
    import huancui.web.tables  # noqa: F401
