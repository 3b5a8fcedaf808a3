"""Checks for the contract's times: RFC 3339 strings in UTC."""

from datetime import datetime, timedelta


def parse_utc(value: object) -> datetime:
    """Parse an RFC 3339 time and check it is in UTC with a ``Z`` or ``+00:00`` suffix."""
    assert isinstance(value, str), value
    assert value.endswith(("Z", "+00:00")), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed
