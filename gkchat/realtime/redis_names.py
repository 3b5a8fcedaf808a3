"""The names GK-Chat uses in Redis, all under one prefix per deployment.

Two deployments (or test clusters) may share a Redis server by giving their hub URLs
different prefixes: ``redis://host:6379/0?prefix=staging`` (the default is ``gkchat``).
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_PREFIX = "gkchat"
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class RedisNames:
    prefix: str = DEFAULT_PREFIX

    @property
    def user_channels(self) -> bytes:
        """What every user channel starts with."""
        return f"{self.prefix}:user:".encode()

    def user_channel(self, user_id: str) -> bytes:
        return self.user_channels + user_id.encode()

    @property
    def control_channel(self) -> bytes:
        return f"{self.prefix}:hub".encode()

    @property
    def nodes(self) -> bytes:
        return f"{self.prefix}:presence:nodes".encode()

    def alive(self, node: bytes) -> bytes:
        return f"{self.prefix}:presence:alive:".encode() + node

    def held(self, node: bytes) -> bytes:
        return f"{self.prefix}:presence:held:".encode() + node

    def holders(self, user_id: bytes) -> bytes:
        return f"{self.prefix}:presence:user:".encode() + user_id


def split_hub_url(url: str) -> tuple[str, RedisNames]:
    """The Redis URL without its ``prefix`` parameter, and the names under that prefix.

    Raises ValueError for a prefix that is not 1 to 64 letters, digits, ``_``, ``.``, ``-``.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for key, value in query if key == "prefix"]
    prefix = prefixes[-1] if prefixes else DEFAULT_PREFIX
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"hub prefix {prefix!r}: use 1 to 64 letters, digits, '_', '.' or '-'")
    rest = urlencode([(key, value) for key, value in query if key != "prefix"])
    return urlunsplit(parts._replace(query=rest)), RedisNames(prefix)
