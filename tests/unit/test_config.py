"""Settings: durations, environment variables and the limits on what may be configured."""

import os
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

import pytest
from pydantic import ValidationError

from gkchat.config import (
    ARGON2_MIN_MEMORY_KIB,
    ARGON2_MIN_TIME_COST,
    Settings,
    parse_duration,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No GKCHAT_* variable from the outer shell, and no .env file, leaks into a test."""
    for name in list(os.environ):
        if name.startswith("GKCHAT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", timedelta(seconds=90)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("1.5h", timedelta(minutes=90)),
        (" 15m ", timedelta(minutes=15)),
    ],
)
def test_parse_duration_reads_number_and_unit(text: str, expected: timedelta) -> None:
    """A number with an optional s/m/h/d unit is read as that many seconds/minutes/hours/days."""
    assert parse_duration(text) == expected


def test_parse_duration_leaves_iso_8601_for_pydantic() -> None:
    """An ISO 8601 duration is handed back untouched, for the settings model to read."""
    assert parse_duration("P2D") == "P2D"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P2D", timedelta(days=2)),
        ("PT15M", timedelta(minutes=15)),
        ("45m", timedelta(minutes=45)),
        ("3600", timedelta(hours=1)),
    ],
)
def test_session_ttl_accepts_short_and_iso_durations(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: timedelta
) -> None:
    """GKCHAT_SESSION_TTL accepts both the short form and ISO 8601."""
    monkeypatch.setenv("GKCHAT_SESSION_TTL", text)
    assert settings().session_ttl == expected


@pytest.mark.parametrize(
    "field",
    [
        "session_ttl",
        "session_idle_timeout",
        "login_window",
        "register_window",
        "ws_session_check_interval",
    ],
)
@pytest.mark.parametrize("text", ["0", "0s", "0d", "-5", "-P1D", "PT0S"])
def test_non_positive_durations_are_refused(
    monkeypatch: pytest.MonkeyPatch, field: str, text: str
) -> None:
    """A zero or negative duration is a configuration error naming the setting."""
    monkeypatch.setenv(f"GKCHAT_{field.upper()}", text)
    with pytest.raises(ValidationError, match=field):
        settings()


def test_unreadable_duration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A duration that is neither the short form nor ISO 8601 is refused."""
    monkeypatch.setenv("GKCHAT_LOGIN_WINDOW", "soon")
    with pytest.raises(ValidationError, match="login_window"):
        settings()


@pytest.mark.parametrize("text", ["off", "false", "0", "no", "OFF"])
def test_rate_limits_can_be_switched_off(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """GKCHAT_RATE_LIMITS=off (or false/0/no) disables rate limiting."""
    monkeypatch.setenv("GKCHAT_RATE_LIMITS", text)
    assert settings().rate_limits is False


def test_rate_limits_are_on_by_default() -> None:
    """Without configuration, rate limits apply."""
    assert settings().rate_limits is True


def test_trusted_proxies_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """GKCHAT_TRUSTED_PROXIES takes addresses and networks separated by commas and spaces."""
    monkeypatch.setenv("GKCHAT_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    assert settings().trusted_proxies == [
        IPv4Network("10.0.0.1/32"),
        IPv4Network("192.168.0.0/16"),
    ]


def test_trusted_proxies_accept_ipv6(monkeypatch: pytest.MonkeyPatch) -> None:
    """IPv6 addresses and networks are valid trusted proxies."""
    monkeypatch.setenv("GKCHAT_TRUSTED_PROXIES", "::1,fd00::/8")
    assert settings().trusted_proxies == [IPv6Network("::1/128"), IPv6Network("fd00::/8")]


def test_no_proxies_are_trusted_by_default() -> None:
    """Without configuration, X-Forwarded-For is trusted from nobody."""
    assert settings().trusted_proxies == []


def test_malformed_trusted_proxy_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trusted proxy that is not an address or network is a configuration error."""
    monkeypatch.setenv("GKCHAT_TRUSTED_PROXIES", "10.0.0.1, proxy.example.com")
    with pytest.raises(ValidationError, match="trusted_proxies"):
        settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GKCHAT_ARGON2_MEMORY_KIB", str(ARGON2_MIN_MEMORY_KIB - 1)),
        ("GKCHAT_ARGON2_MEMORY_KIB", "1024"),
        ("GKCHAT_ARGON2_TIME_COST", str(ARGON2_MIN_TIME_COST - 1)),
        ("GKCHAT_ARGON2_PARALLELISM", "0"),
    ],
)
def test_argon2_costs_below_the_minimum_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """argon2 costs weaker than OWASP's minimum are refused, not silently accepted."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("GKCHAT_").lower()):
        settings()


def test_argon2_minimum_costs_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 costs exactly at the minimum are accepted."""
    monkeypatch.setenv("GKCHAT_ARGON2_MEMORY_KIB", str(ARGON2_MIN_MEMORY_KIB))
    monkeypatch.setenv("GKCHAT_ARGON2_TIME_COST", str(ARGON2_MIN_TIME_COST))
    current = settings()
    assert (current.argon2_memory_kib, current.argon2_time_cost) == (19456, 2)


def test_argon2_defaults_meet_the_minimum() -> None:
    """The default argon2 costs are at least OWASP's minimum for argon2id."""
    current = settings()
    assert current.argon2_memory_kib >= 19456
    assert current.argon2_time_cost >= 2
    assert current.argon2_parallelism >= 1


def test_database_defaults_to_sqlite_in_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without GKCHAT_DATABASE_URL the database is <data_dir>/gkchat.db, as an absolute path."""
    monkeypatch.setenv("GKCHAT_DATA_DIR", str(tmp_path / "state"))
    expected = (tmp_path / "state" / "gkchat.db").resolve()
    assert settings().resolved_database_url == f"sqlite+aiosqlite:///{expected}"


def test_default_data_dir_is_data_under_the_working_directory(tmp_path: Path) -> None:
    """With nothing configured, the database is data/gkchat.db under the working directory."""
    expected = (tmp_path / "data" / "gkchat.db").resolve()
    assert settings().resolved_database_url == f"sqlite+aiosqlite:///{expected}"


def test_database_url_overrides_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """GKCHAT_DATABASE_URL, when set, is the database used."""
    url = "postgresql://gk@db.example/chat"
    monkeypatch.setenv("GKCHAT_DATA_DIR", "/somewhere/else")
    monkeypatch.setenv("GKCHAT_DATABASE_URL", url)
    assert settings().resolved_database_url == url


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GKCHAT_PORT", "65536"), ("GKCHAT_WORKERS", "0"), ("GKCHAT_POSTGRES_POOL_SIZE", "0")],
)
def test_out_of_range_numbers_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """A port or worker count out of range is a configuration error."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GKCHAT_SEND_RATE", "0"),
        ("GKCHAT_SEND_BURST", "0"),
        ("GKCHAT_WS_MAX_CONNECTIONS_PER_USER", "0"),
        ("GKCHAT_REGISTER_MAX_PER_ADDRESS", "0"),
    ],
)
def test_abuse_limits_must_be_positive(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """A send rate, burst, socket cap or sign-up budget of zero is a configuration error."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        settings()


def test_abuse_limit_defaults_are_generous() -> None:
    """By default a user may send 20 frames a second after a burst of 200, keep 50 sockets,
    and an address may sign up 50 times an hour; sockets' sessions are checked every 5 s."""
    defaults = settings()
    assert (defaults.send_rate, defaults.send_burst) == (20.0, 200)
    assert defaults.ws_max_connections_per_user == 50
    assert defaults.register_max_per_address == 50
    assert defaults.register_window == timedelta(hours=1)
    assert defaults.ws_session_check_interval == timedelta(seconds=5)
