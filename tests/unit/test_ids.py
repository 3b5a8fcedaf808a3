"""Ids: opaque 26-character strings, fresh on every call, and a shape check for input."""

import os

import pytest

from gkchat.domain.ids import is_valid_id, new_id


def test_new_id_has_26_characters() -> None:
    """A new id is 26 characters long."""
    assert len(new_id()) == 26


def test_new_ids_are_unique() -> None:
    """10,000 ids made in a tight loop (many in the same millisecond) are all different."""
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)


def test_new_id_is_valid() -> None:
    """Every id new_id makes passes is_valid_id."""
    assert all(is_valid_id(new_id()) for _ in range(1_000))


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",  # 25 characters
        "01ARZ3NDEKTSV4RRFFQ69G5FAVV",  # 27 characters
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",  # I is not Crockford base32
        "01ARZ3NDEKTSV4RRFFQ69G5FAL",  # nor L
        "01ARZ3NDEKTSV4RRFFQ69G5FAO",  # nor O
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",  # nor U
        "01ARZ3NDEKTSV4RRFFQ69G5FA-",
        "01ARZ3NDEKTSV4RRFFQ69G5FA ",
        " 01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV\n",
        "../../etc/passwd",
        "' OR 1=1 --",
        "１１ARZ3NDEKTSV4RRFFQ69G5FAV",  # full-width digits
    ],
)
def test_is_valid_id_rejects_junk(junk: str) -> None:
    """Strings of the wrong length or alphabet, or with anything around them, are not ids."""
    assert not is_valid_id(junk)


def test_is_valid_id_accepts_a_well_formed_id() -> None:
    """A 26-character Crockford base32 string is accepted."""
    assert is_valid_id("01ARZ3NDEKTSV4RRFFQ69G5FAV")


def test_a_forked_process_never_repeats_its_parents_ids() -> None:
    """Ids drawn after a fork differ between parent and child (no shared random bytes)."""
    new_id()  # the parent has random bytes buffered
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write_end, "".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write_end)
    parent = {new_id()[10:] for _ in range(50)}
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    child = {text[i + 10 : i + 26] for i in range(0, len(text), 26)}
    assert len(child) == 50
    assert parent.isdisjoint(child)
