"""Per-user token buckets: how many frames and sends a user may make, across all their sockets.

Every WebSocket frame a client sends and every ``POST /messages`` takes one token from the
user's bucket; the bucket refills at ``rate`` tokens per second up to ``burst``. The buckets
live in this process (a user on two nodes of a cluster has a bucket on each): they bound what
one process does for one user, without a round trip on the hot path.
"""

import math
import time
from collections.abc import Callable

from gkchat.domain.errors import RateLimited

# A bucket that has refilled completely is the same as no bucket; forget those now and then.
_PRUNE_EVERY = 4096


class SendLimiter:
    def __init__(
        self,
        *,
        enabled: bool,
        rate: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self._rate = rate
        self._burst = float(burst)
        self._monotonic = monotonic
        # user id -> (tokens left, when that was computed)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._takes = 0

    def take(self, user_id: str) -> float | None:
        """Use one token: None when allowed, else the seconds until a token is back."""
        if not self.enabled:
            return None
        now = self._monotonic()
        tokens, then = self._buckets.get(user_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        self._takes += 1
        if self._takes % _PRUNE_EVERY == 0:
            self._prune(now)
        if tokens < 1.0:
            self._buckets[user_id] = (tokens, now)
            return (1.0 - tokens) / self._rate
        self._buckets[user_id] = (tokens - 1.0, now)
        return None

    def check(self, user_id: str) -> None:
        """Use one token or raise RateLimited (429 with Retry-After over REST)."""
        wait = self.take(user_id)
        if wait is not None:
            raise RateLimited(
                "Too many messages; slow down.",
                retry_after=max(1, math.ceil(wait)),
                code="rate_limited",
            )

    def _prune(self, now: float) -> None:
        full_after = self._burst / self._rate
        stale = [user for user, (_, then) in self._buckets.items() if now - then >= full_after]
        for user in stale:
            del self._buckets[user]

    def __len__(self) -> int:
        return len(self._buckets)
