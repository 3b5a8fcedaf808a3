"""Hub URLs name a prefix that keeps deployments apart on one Redis."""

import pytest

from gkchat.realtime.redis_names import split_hub_url


def test_the_default_prefix_is_gkchat() -> None:
    """Without a prefix parameter, every name starts with gkchat."""
    url, names = split_hub_url("redis://127.0.0.1:6379/0")

    assert url == "redis://127.0.0.1:6379/0"
    assert names.user_channel("U1") == b"gkchat:user:U1"


def test_the_prefix_parameter_is_taken_out_of_the_url() -> None:
    """The prefix names the keys; the other parameters go on to Redis."""
    url, names = split_hub_url("rediss://:secret@cache:6380/2?prefix=staging&ssl_cert_reqs=none")

    assert url == "rediss://:secret@cache:6380/2?ssl_cert_reqs=none"
    assert names.nodes == b"staging:presence:nodes"


@pytest.mark.parametrize("prefix", ["", "has space", "x" * 65, "semi;colon"])
def test_a_prefix_that_is_not_a_plain_name_is_refused(prefix: str) -> None:
    """Prefixes are 1 to 64 letters, digits, '_', '.' or '-'."""
    with pytest.raises(ValueError, match="prefix"):
        split_hub_url(f"redis://127.0.0.1/0?prefix={prefix}")
