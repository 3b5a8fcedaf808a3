"""Passwords are hashed with argon2id at safe costs; new passwords must not be guessable.

Session tokens carry 256 random bits and only their SHA-256 is stored.
"""

import hashlib
import os
import re
import sys
import threading
from collections.abc import Iterator

import pytest

from gkchat.config import Settings
from gkchat.domain.errors import InvalidInput, TooLarge
from gkchat.security.passwords import HASHING_NICENESS, PasswordHasher, check_new_password
from gkchat.security.tokens import hash_token, new_token

PASSWORD = "a long and unusual passphrase"
ARGON2_PREFIX = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    """A hasher with the costs a default configuration gives the server."""
    settings = Settings(_env_file=None)
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    yield hasher
    hasher.close()


async def test_hash_is_argon2id_at_safe_costs(hasher: PasswordHasher) -> None:
    """The default hash is argon2id v1.3 with m >= 19456 KiB, t >= 2, p >= 1."""
    match = ARGON2_PREFIX.match(await hasher.hash(PASSWORD))
    assert match is not None
    memory, time_cost, parallelism = (int(group) for group in match.groups())
    assert memory >= 19456
    assert time_cost >= 2
    assert parallelism >= 1


async def test_hash_uses_the_configured_costs() -> None:
    """Costs given to the hasher are the costs written into the hash."""
    hasher = PasswordHasher(time_cost=3, memory_kib=20000, parallelism=2)
    try:
        password_hash = await hasher.hash(PASSWORD)
    finally:
        hasher.close()
    assert password_hash.startswith("$argon2id$v=19$m=20000,t=3,p=2$")


async def test_same_password_hashes_differently_each_time(hasher: PasswordHasher) -> None:
    """Each hash has its own salt."""
    assert await hasher.hash(PASSWORD) != await hasher.hash(PASSWORD)


async def test_hash_does_not_contain_the_password(hasher: PasswordHasher) -> None:
    """The stored hash does not reveal the password."""
    assert PASSWORD not in await hasher.hash(PASSWORD)


async def test_right_password_verifies(hasher: PasswordHasher) -> None:
    """The password a hash was made from verifies against it."""
    assert await hasher.verify(await hasher.hash(PASSWORD), PASSWORD) is True


@pytest.mark.parametrize(
    "wrong",
    [
        "a long and unusual passphrasE",
        "a long and unusual passphrase ",
        " a long and unusual passphrase",
        "A LONG AND UNUSUAL PASSPHRASE",
        "",
    ],
)
async def test_wrong_password_does_not_verify(hasher: PasswordHasher, wrong: str) -> None:
    """Passwords are compared exactly: case, and spaces at either end, matter."""
    assert await hasher.verify(await hasher.hash(PASSWORD), wrong) is False


async def test_missing_hash_never_verifies(hasher: PasswordHasher) -> None:
    """verify(None, password) is False (the unknown-login case)."""
    assert await hasher.verify(None, PASSWORD) is False


async def test_dummy_password_does_not_verify_against_missing_hash(
    hasher: PasswordHasher,
) -> None:
    """Not even the hasher's internal dummy password signs in to an unknown account."""
    assert await hasher.verify(None, "gkchat: no such account") is False


@pytest.mark.parametrize("garbage", ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$"])
async def test_malformed_hash_does_not_verify(hasher: PasswordHasher, garbage: str) -> None:
    """A corrupt stored hash makes verification fail instead of raising."""
    assert await hasher.verify(garbage, PASSWORD) is False


async def test_weaker_hash_needs_rehash(hasher: PasswordHasher) -> None:
    """A hash made with lower costs than configured is flagged for rehashing."""
    weaker = PasswordHasher(time_cost=1, memory_kib=8192, parallelism=1)
    try:
        old_hash = await weaker.hash(PASSWORD)
    finally:
        weaker.close()
    assert hasher.needs_rehash(old_hash) is True
    assert hasher.needs_rehash(await hasher.hash(PASSWORD)) is False


def check(password: str, *, username: str = "alice", email: str = "alice@example.com") -> None:
    check_new_password(password, max_length=128, username=username, email=email)


@pytest.mark.parametrize("password", ["Zq7#mW2x", PASSWORD, "é" * 8, "x" * 128])
def test_acceptable_passwords_pass(password: str) -> None:
    """An uncommon password of 8 to max_length characters is accepted."""
    check(password)


def test_password_shorter_than_8_characters_is_refused() -> None:
    """Seven characters are too few."""
    with pytest.raises(InvalidInput) as caught:
        check("Zq7#mW2")
    assert caught.value.code == "password_too_short"


def test_password_length_counts_characters_not_bytes() -> None:
    """Seven multi-byte characters are still too short."""
    with pytest.raises(InvalidInput) as caught:
        check("ééééééé")
    assert caught.value.code == "password_too_short"


def test_password_longer_than_the_maximum_is_refused() -> None:
    """One character over max_length is too large."""
    with pytest.raises(TooLarge) as caught:
        check("x" * 129)
    assert caught.value.code == "password_too_long"


@pytest.mark.parametrize("password", ["password123", "PASSWORD123", "12345678", "QwertyUiop"])
def test_common_password_is_refused(password: str) -> None:
    """A password from the common-passwords list is refused, whatever its case."""
    with pytest.raises(InvalidInput) as caught:
        check(password)
    assert caught.value.code == "password_too_common"


@pytest.mark.parametrize(
    ("password", "username", "email"),
    [
        ("longusername", "longusername", "someone@example.com"),
        ("LongUserName", "longusername", "someone@example.com"),
        ("someone@example.com", "carol_in_town", "someone@example.com"),
        ("Someone.Else", "carol_in_town", "someone.else@example.com"),
    ],
)
def test_password_equal_to_username_or_email_is_refused(
    password: str, username: str, email: str
) -> None:
    """The username, the email address, or its local part, in any case, is not a password."""
    with pytest.raises(InvalidInput):
        check(password, username=username, email=email)


def test_new_token_has_at_least_256_bits() -> None:
    """A session token is at least 43 URL-safe base64 characters (256 bits)."""
    token = new_token()
    assert len(token) >= 43
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)


def test_new_tokens_are_unique() -> None:
    """1,000 tokens are all different."""
    tokens = {new_token() for _ in range(1_000)}
    assert len(tokens) == 1_000


def test_hash_token_is_sha256_hex() -> None:
    """The stored form of a token is its SHA-256 as 64 lower-case hex digits."""
    token = new_token()
    digest = hash_token(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_hash_token_is_not_the_token() -> None:
    """The database never holds the token itself."""
    token = new_token()
    assert token not in hash_token(token)


def test_hash_token_tells_tokens_apart() -> None:
    """Different tokens have different hashes; the same token always has the same one."""
    first, second = new_token(), new_token()
    assert hash_token(first) == hash_token(first)
    assert hash_token(first) != hash_token(second)


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are Linux's")
async def test_hashing_threads_yield_the_cpu_to_the_event_loop(hasher: PasswordHasher) -> None:
    """The threads that hash run at the lowest CPU priority, so the loop preempts them."""
    await hasher.hash("a long enough password")

    workers = [t for t in threading.enumerate() if t.name.startswith("argon2")]
    assert workers
    for worker in workers:
        assert worker.native_id is not None
        assert os.getpriority(os.PRIO_PROCESS, worker.native_id) == HASHING_NICENESS
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < HASHING_NICENESS
