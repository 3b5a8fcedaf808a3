"""Opaque, time-ordered identifiers (ULID layout: 48-bit milliseconds + 80 random bits).

Ids are 26 characters of Crockford base32. They sort roughly by creation time, which keeps
B-tree inserts local, but nothing may rely on them for ordering: clients treat them as opaque.
"""

import re
import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def new_id() -> str:
    """Return a fresh 26-character id."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_valid_id(value: str) -> bool:
    """Tell whether ``value`` has the shape of an id (a malformed one can match nothing)."""
    return bool(_ID_RE.fullmatch(value))
