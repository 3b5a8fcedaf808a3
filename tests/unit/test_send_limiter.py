"""The per-user token bucket behind GKCHAT_SEND_RATE and GKCHAT_SEND_BURST."""

import pytest

from gkchat.domain.errors import RateLimited
from gkchat.services.rate import SendLimiter


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limiter(
    ticks: Ticks, *, rate: float = 2.0, burst: int = 3, enabled: bool = True
) -> SendLimiter:
    return SendLimiter(enabled=enabled, rate=rate, burst=burst, monotonic=ticks)


def test_a_full_bucket_allows_the_burst_then_refuses() -> None:
    """A new user may make `burst` frames at once; the next one is refused."""
    bucket = limiter(Ticks())
    assert [bucket.take("u") for _ in range(3)] == [None, None, None]
    assert bucket.take("u") is not None


def test_the_refusal_says_how_long_until_a_token() -> None:
    """Refused with an empty bucket at 2 tokens/s, the wait is half a second."""
    bucket = limiter(Ticks())
    for _ in range(3):
        bucket.take("u")
    assert bucket.take("u") == pytest.approx(0.5)


def test_tokens_come_back_at_the_rate() -> None:
    """After one second at 2 tokens/s, two more frames are allowed, not three."""
    ticks = Ticks()
    bucket = limiter(ticks)
    for _ in range(3):
        bucket.take("u")
    ticks.now += 1.0
    assert [bucket.take("u") is None for _ in range(3)] == [True, True, False]


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    """A long quiet spell refills the bucket to `burst`, no further."""
    ticks = Ticks()
    bucket = limiter(ticks)
    bucket.take("u")
    ticks.now += 3600
    assert [bucket.take("u") is None for _ in range(4)] == [True, True, True, False]


def test_users_have_buckets_of_their_own() -> None:
    """One user's empty bucket does not limit another user."""
    bucket = limiter(Ticks())
    for _ in range(4):
        bucket.take("alice")
    assert bucket.take("bob") is None


def test_a_disabled_limiter_allows_everything() -> None:
    """With rate limits off, no frame is ever refused."""
    bucket = limiter(Ticks(), enabled=False)
    assert all(bucket.take("u") is None for _ in range(1000))


def test_check_raises_rate_limited_with_whole_seconds() -> None:
    """check() refuses with RateLimited (code rate_limited) and Retry-After of at least 1 s."""
    bucket = limiter(Ticks(), rate=10.0, burst=1)
    bucket.check("u")
    with pytest.raises(RateLimited) as refused:
        bucket.check("u")
    assert refused.value.code == "rate_limited"
    assert refused.value.retry_after == 1


def test_full_buckets_are_forgotten() -> None:
    """Buckets that have refilled completely are dropped, so memory follows active users."""
    ticks = Ticks()
    bucket = limiter(ticks, rate=1000.0, burst=1)
    for i in range(5000):
        bucket.take(f"user{i}")
        ticks.now += 0.01
    assert len(bucket) < 5000
