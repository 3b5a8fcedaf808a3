"""Settings from the environment (``GKCHAT_*``) or a ``.env`` file, built once and passed down."""

import re
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# OWASP's minimum for argon2id; lower costs are refused rather than silently accepted.
ARGON2_MIN_MEMORY_KIB = 19 * 1024
ARGON2_MIN_TIME_COST = 2


_DURATION_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta | str:
    """Read ``90``, ``90s``, ``15m``, ``12h`` or ``30d``; anything else is left for ISO 8601."""
    match = _DURATION_RE.match(text.lower())
    if not match:
        return text
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit])


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GKCHAT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default: SQLite at <data_dir>/gkchat.db",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    sqlite_busy_timeout: timedelta = timedelta(seconds=10)
    postgres_pool_size: int = Field(default=20, ge=1, le=1000)

    session_ttl: timedelta = timedelta(days=30)
    session_idle_timeout: timedelta = timedelta(days=7)
    max_sessions_per_user: int = Field(default=100, ge=1)

    argon2_time_cost: int = Field(default=ARGON2_MIN_TIME_COST, ge=ARGON2_MIN_TIME_COST)
    argon2_memory_kib: int = Field(default=ARGON2_MIN_MEMORY_KIB, ge=ARGON2_MIN_MEMORY_KIB)
    argon2_parallelism: int = Field(default=1, ge=1, le=16)
    password_max_length: int = Field(default=1024, ge=128, le=65536)

    rate_limits: bool = True
    login_window: timedelta = timedelta(minutes=15)
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_max_failures_per_address: int = Field(default=100, ge=1)
    register_window: timedelta = timedelta(hours=1)
    register_max_per_address: int = Field(default=50, ge=1)
    send_rate: float = Field(default=20.0, gt=0)
    send_burst: int = Field(default=200, ge=1)
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list
    )

    notification_retention: timedelta = timedelta(days=90)

    hub_url: str = "memory://"
    presence_timeout: timedelta = timedelta(seconds=30)
    maintenance_interval: timedelta = timedelta(minutes=10)
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    ws_queue_size: int = Field(default=4096, ge=16)
    ws_queue_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    ws_idle_timeout: timedelta = timedelta(minutes=5)
    ws_auth_timeout: timedelta = timedelta(seconds=10)
    typing_interval: timedelta = timedelta(seconds=2)
    ws_max_connections_per_user: int = Field(default=50, ge=1)
    ws_session_check_interval: timedelta = timedelta(seconds=5)
    ws_compression: bool = False

    diagnostics: bool = False
    gc_freeze: bool = True
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [
                ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
            ]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value:
            from gkchat.db.engine import parse_url

            parse_url(value)
        return value

    @field_validator("hub_url")
    @classmethod
    def _check_hub_url(cls, value: str) -> str:
        from gkchat.realtime.hub import check_hub_url

        check_hub_url(value)
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "session_ttl",
        "session_idle_timeout",
        "sqlite_busy_timeout",
        "login_window",
        "register_window",
        "ws_idle_timeout",
        "ws_session_check_interval",
        "ws_auth_timeout",
        "typing_interval",
        "notification_retention",
        "presence_timeout",
        "maintenance_interval",
        mode="before",
    )
    @classmethod
    def _parse_duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator(
        "session_ttl",
        "session_idle_timeout",
        "sqlite_busy_timeout",
        "login_window",
        "register_window",
        "ws_idle_timeout",
        "ws_session_check_interval",
        "ws_auth_timeout",
        "typing_interval",
        "notification_retention",
        "presence_timeout",
        "maintenance_interval",
    )
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL to use, defaulting to an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gkchat.db').resolve()}"
