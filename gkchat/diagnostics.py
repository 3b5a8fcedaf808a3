"""What a benchmark or an operator needs to see inside a running process: event-loop stalls,
garbage-collector pauses, memory, file descriptors and connections.

Off by default (``GKCHAT_DIAGNOSTICS=on``). The loop monitor wakes every 10 ms and records how
late each wake-up was: a late wake-up is time during which no socket was served.
"""

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

STALL_MS = 50.0
_TICK_S = 0.01


@dataclass
class _Pauses:
    """The worst pause, how many pauses passed STALL_MS, and how many there were."""

    max_ms: float = 0.0
    over: int = 0
    count: int = 0
    total_ms: float = 0.0

    def add(self, ms: float) -> None:
        self.count += 1
        self.total_ms += ms
        self.max_ms = max(self.max_ms, ms)
        if ms > STALL_MS:
            self.over += 1


@dataclass
class Diagnostics:
    connections: Callable[[], int]
    loop: _Pauses = field(default_factory=_Pauses)
    gc: _Pauses = field(default_factory=_Pauses)
    gc_by_generation: list[int] = field(default_factory=lambda: [0, 0, 0])
    since: float = field(default_factory=time.monotonic)
    _task: asyncio.Task[None] | None = None
    _gc_started: float | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch_loop(), name="gkchat-loop-monitor")
        gc.callbacks.append(self._on_gc)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def reset(self) -> None:
        """Zero the counters, e.g. between the steps of a benchmark."""
        self.loop, self.gc = _Pauses(), _Pauses()
        self.gc_by_generation = [0, 0, 0]
        self.since = time.monotonic()

    def snapshot(self) -> dict[str, Any]:
        return {
            "seconds": round(time.monotonic() - self.since, 3),
            "loop_stall_max_ms": round(self.loop.max_ms, 3),
            "loop_stalls_over_50ms": self.loop.over,
            "gc_pause_max_ms": round(self.gc.max_ms, 3),
            "gc_pauses_over_50ms": self.gc.over,
            "gc_pause_total_ms": round(self.gc.total_ms, 3),
            "gc_collections": {str(g): n for g, n in enumerate(self.gc_by_generation)},
            "gc_tracked": len(gc.get_objects()),  # what a full collection walks
            "gc_frozen": gc.get_freeze_count(),
            "rss_bytes": _rss_bytes(),
            "open_fds": _open_fds(),
            "connections": self.connections(),
        }

    async def _watch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(_TICK_S)
            late = loop.time() - before - _TICK_S
            self.loop.add(max(0.0, late) * 1000)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            self.gc.add((time.perf_counter() - self._gc_started) * 1000)
            self._gc_started = None
            generation = int(info.get("generation", 0))
            if 0 <= generation < len(self.gc_by_generation):
                self.gc_by_generation[generation] += 1


def _rss_bytes() -> int:
    try:
        resident_pages = int(open("/proc/self/statm").read().split()[1])  # noqa: SIM115
    except OSError:
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0
