"""Runtime settings from the environment (HUANCUI_*), with documented defaults.

HUANCUI_HOME (default ./var) holds the SQLite database, the Parquet snapshots and scratch space;
HUANCUI_DATABASE_URL selects another database, e.g. postgresql+psycopg://user@host/db.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUANCUI_", extra="ignore")

    home: Path = Path("var")
    database_url: str | None = None
    delinquency_policy: Path | None = None
    duckdb_memory_limit: str = "3GB"
    duckdb_threads: int = 2

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'huancui.db').resolve()}"

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def scratch_dir(self) -> Path:
        return self.home / "tmp"


def get_settings() -> Settings:
    return Settings()
