"""``views.timestamp``: how times look in the contract's JSON."""

from datetime import UTC, datetime, timedelta, timezone

from gkchat.services.views import timestamp

AT = datetime(2026, 11, 24, 15, 30, 1, 123456, tzinfo=UTC)


def test_utc_times_end_in_z() -> None:
    """A UTC time is ISO 8601 with microseconds and a Z."""
    assert timestamp(AT) == "2026-11-24T15:30:01.123456Z"


def test_none_stays_none() -> None:
    """A missing time is null, not a string."""
    assert timestamp(None) is None


def test_an_equal_instant_in_another_zone_keeps_its_offset() -> None:
    """Equal instants compare equal, but one written with another offset prints that offset,
    even right after the UTC one (the formatting is cached)."""
    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    assert timestamp(AT) == "2026-11-24T15:30:01.123456Z"
    assert timestamp(plus_two) == "2026-11-24T17:30:01.123456+02:00"
