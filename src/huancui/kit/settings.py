"""Runtime settings from the environment (HUANCUI_*), with documented defaults.

HUANCUI_HOME (default ./var) holds the SQLite database, the Parquet snapshots and scratch space;
HUANCUI_DATABASE_URL selects another database, e.g. postgresql+psycopg://user@host/db.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUANCUI_", extra="ignore")

    home: Path = Path("var")
    database_url: str | None = None
    delinquency_policy: Path | None = None
    duckdb_memory_limit: str = "3GB"
    duckdb_threads: int = 2
    # The nightly plan's DuckDB limit: below it, joins and sorts spill to scratch_dir, so a
    # 1,000,000-account collections book plans in under 2 GB (docs/benchmarks.md).
    plan_memory_limit: str = "1200MB"
    # The compliance pack every nightly run applies: a shipped name (cn, us-reg-f) or a file.
    compliance_pack: str = "cn"
    # The arrangements policy (eligibility, authority matrix, 缓催 limits); None: the shipped one.
    arrangement_policy: Path | None = None
    # What one contact attempt costs per channel (yuan), for `huancui kpi`'s cost to collect;
    # None: the shipped placeholders in monitoring/costs.yaml.
    channel_costs: Path | None = None
    # The outbox: which adapter `huancui outbox send` uses (file, log or smtp) and its settings.
    # file writes one masked JSON line per message under HUANCUI_HOME/outbox/ (a stand-in for an
    # SMS/e-mail gateway in demos); smtp sends e-mail through the server below (e-mail only).
    outbox_adapter: str = "file"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_sender: str = "collections@bank.example"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 30.0
    # What messages and call scripts name: the bank (per language), its hotline and the
    # self-service page where a customer can pay or ask for a plan.
    bank_name: str = "Huancui Bank"
    bank_name_zh: str = "缓催银行"
    hotline: str = "400-000-0000"
    self_service_url: str = "https://bank.example/repay"
    # Sign-in (docs/security.md). The HS256 key for access and refresh tokens: at least 32
    # characters; without one, only the explicit dev mode (access.tokens.ensure_secret) runs.
    jwt_secret: SecretStr | None = None
    access_token_minutes: int = 15
    refresh_token_days: int = 7
    # After this many wrong passwords in a row the account is locked for login_lock_minutes.
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    # Fernet keys for the customers' personal fields at rest, comma-separated, newest first:
    # encrypt with the first, decrypt with any (rotation in docs/security.md).
    pii_keys: SecretStr | None = None
    # Without HUANCUI_PII_KEYS, and only when HUANCUI_PII_DEV_KEY=1 asks for it (`make run`, the
    # tests): the demo key in pii_dev_key_file, created on first use with a warning. Off by
    # default, so a production server that forgets its keys refuses to start.
    pii_dev_key: bool = False

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

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def pii_dev_key_file(self) -> Path:
        return self.home / "secrets" / "pii.key"


def get_settings() -> Settings:
    return Settings()
