"""Opaque, time-ordered identifiers (ULID layout: 48-bit milliseconds + 80 random bits).

Ids are 26 characters of Crockford base32. They sort roughly by creation time, which keeps
B-tree inserts local, but nothing may rely on them for ordering: clients treat them as opaque.
"""

import os
import re
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
# Two characters for each 10 bits: 13 lookups make an id.
_PAIRS = [_ALPHABET[i >> 5] + _ALPHABET[i & 31] for i in range(1024)]
_SHIFTS = range(120, -1, -10)


class _RandomPool:
    """Bytes from the operating system's CSPRNG, fetched 8 KiB at a time instead of with a
    system call per id. Thread-safe: ids are made on worker threads too."""

    def __init__(self, size: int = 8192) -> None:
        self._size = size
        self._buffer = b""
        self._offset = 0
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._offset + count > len(self._buffer) or self._pid != os.getpid():
                # A forked worker must not hand out its parent's bytes.
                self._buffer, self._offset, self._pid = os.urandom(self._size), 0, os.getpid()
            start = self._offset
            self._offset += count
            return self._buffer[start : self._offset]


_random = _RandomPool()


def new_id() -> str:
    """Return a fresh 26-character id."""
    randomness = int.from_bytes(_random.take(10))
    value = (time.time_ns() // 1_000_000) << 80 | randomness
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def is_valid_id(value: str) -> bool:
    """Tell whether ``value`` has the shape of an id (a malformed one can match nothing)."""
    return bool(_ID_RE.fullmatch(value))
