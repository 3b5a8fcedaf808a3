"""The collector policy: survivors of full collections are frozen out of later ones."""

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from gkchat import collector
from gkchat.collector import freeze_survivors, stop_freezing


class Node:
    """A tracked object that can hold a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def freezing() -> Iterator[None]:
    freeze_survivors()
    yield
    stop_freezing()


def test_what_lives_at_start_is_frozen() -> None:
    """freeze_survivors moves what lives now out of the collector's generations."""
    alive = Node()
    freeze_survivors()
    try:
        assert not any(o is alive for o in gc.get_objects())
    finally:
        stop_freezing()


@pytest.mark.usefixtures("freezing")
def test_survivors_of_a_full_collection_are_frozen() -> None:
    """An object that outlives a full collection is frozen by it: later ones skip it."""
    kept = Node()
    before = gc.get_freeze_count()

    gc.collect()

    assert gc.get_freeze_count() > before
    assert not any(o is kept for o in gc.get_objects())


@pytest.mark.usefixtures("freezing")
def test_a_young_cycle_is_still_collected() -> None:
    """A reference cycle that becomes garbage before any full collection is freed by it."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second

    assert gc.collect() >= 2


def test_stop_freezing_walks_everything_again() -> None:
    """After stop_freezing nothing is frozen and full collections freeze nothing."""
    freeze_survivors()
    stop_freezing()
    gc.collect()

    assert gc.get_freeze_count() == 0


async def test_the_timer_collects_every_generation_on_its_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """collect_on_a_timer collects the young generation each tick, the middle one every
    MIDDLE_EVERY ticks and the old one every OLD_EVERY, without any allocation pressure."""
    monkeypatch.setattr(collector, "TICK_S", 0.005)
    seen: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    timer = asyncio.create_task(collector.collect_on_a_timer())
    try:
        async with asyncio.timeout(2):
            while 2 not in seen:
                await asyncio.sleep(0.005)
    finally:
        timer.cancel()
        gc.callbacks.remove(record)

    assert {0, 1, 2} <= set(seen)
