"""What a benchmark or an operator needs to see inside a running process: event-loop stalls,
garbage-collector pauses, memory, file descriptors and connections.

Off by default (``GKCHAT_DIAGNOSTICS=on``). The loop monitor wakes every 10 ms and records how
late each wake-up was: a late wake-up is time during which no socket was served. A watchdog
thread samples the event loop's stack whenever it has not woken for over 50 ms, so that
``stall_stacks`` says what the loop was doing instead of serving.
"""

import asyncio
import collections
import contextlib
import gc
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STALL_MS = 50.0
_TICK_S = 0.01
_STACK_DEPTH = 12
_STACKS_SHOWN = 5
_SLOW_GC_MS = 20.0
_SLOW_GC_KEPT = 10


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
    gc_max_ms_by_generation: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    gc_slow: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=_SLOW_GC_KEPT)
    )
    since: float = field(default_factory=time.monotonic)
    stall_stacks: collections.Counter[str] = field(default_factory=collections.Counter)
    _task: asyncio.Task[None] | None = None
    _gc_started: float | None = None
    _last_tick: float = field(default_factory=time.monotonic)
    _watchdog: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch_loop(), name="gkchat-loop-monitor")
        gc.callbacks.append(self._on_gc)
        loop_thread = threading.get_ident()
        self._watchdog = threading.Thread(
            target=self._sample_stalls, args=(loop_thread,), name="gkchat-stall-watchdog"
        )
        self._watchdog.daemon = True
        self._watchdog.start()

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        self._stopping.set()
        if self._watchdog is not None:
            await asyncio.to_thread(self._watchdog.join)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def reset(self) -> None:
        """Zero the counters, e.g. between the steps of a benchmark."""
        self.loop, self.gc = _Pauses(), _Pauses()
        self.gc_by_generation = [0, 0, 0]
        self.gc_max_ms_by_generation = [0.0, 0.0, 0.0]
        self.gc_slow.clear()
        self.stall_stacks = collections.Counter()
        self.since = time.monotonic()

    def snapshot(self, *, open_fds: int, frozen: bool = False) -> dict[str, Any]:
        """The figures since the last reset. ``open_fds`` is counted by the caller, off the
        loop (``count_open_fds``: a directory listing of 10,000 entries takes about 20 ms).
        With ``frozen``, also the objects in the permanent generation: CPython counts them by
        walking its list, which at 10,000 sockets (about a million objects spread over the
        heap) held the loop for 130 ms, a stall the benchmarks then reported as the server's."""
        figures = {
            "seconds": round(time.monotonic() - self.since, 3),
            "loop_stall_max_ms": round(self.loop.max_ms, 3),
            "loop_stalls_over_50ms": self.loop.over,
            "gc_pause_max_ms": round(self.gc.max_ms, 3),
            "gc_pauses_over_50ms": self.gc.over,
            "gc_pause_total_ms": round(self.gc.total_ms, 3),
            "gc_collections": {str(g): n for g, n in enumerate(self.gc_by_generation)},
            "gc_slow": list(self.gc_slow),
            "gc_pause_max_ms_by_generation": {
                str(g): round(ms, 3) for g, ms in enumerate(self.gc_max_ms_by_generation)
            },
            "rss_bytes": _rss_bytes(),
            "open_fds": open_fds,
            "connections": self.connections(),
            "stall_stacks": [
                {"samples": n, "stack": stack}
                for stack, n in self.stall_stacks.most_common(_STACKS_SHOWN)
            ],
        }
        if frozen:
            figures["gc_frozen"] = gc.get_freeze_count()
        return figures

    async def _watch_loop(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(_TICK_S)
            now = self._last_tick = time.monotonic()
            # A stall that began before a reset counts only from the reset: the request that
            # resets may run before this tick sees the stall.
            late = now - max(before, self.since) - _TICK_S
            self.loop.add(max(0.0, late) * 1000)

    def _sample_stalls(self, loop_thread: int) -> None:
        """Every 10 ms: if the loop has not ticked for STALL_MS, record where it is."""
        while not self._stopping.wait(_TICK_S):
            if (time.monotonic() - self._last_tick) * 1000 < STALL_MS:
                continue
            frame = sys._current_frames().get(loop_thread)
            if frame is not None:
                summary = traceback.extract_stack(frame, limit=_STACK_DEPTH)
                stack = " < ".join(
                    f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(summary)
                )
                self.stall_stacks[stack] += 1

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            ms = (time.perf_counter() - self._gc_started) * 1000
            self.gc.add(ms)
            self._gc_started = None
            generation = int(info.get("generation", 0))
            if 0 <= generation < len(self.gc_by_generation):
                self.gc_by_generation[generation] += 1
                worst = self.gc_max_ms_by_generation
                worst[generation] = max(worst[generation], ms)
            if ms > _SLOW_GC_MS:
                self.gc_slow.append(
                    {
                        "ms": round(ms, 3),
                        "generation": generation,
                        "collected": info.get("collected"),
                        "thread": threading.current_thread().name,
                    }
                )


def _rss_bytes() -> int:
    try:
        resident_pages = int(open("/proc/self/statm").read().split()[1])  # noqa: SIM115
    except OSError:
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def count_open_fds() -> int:
    """The process's open file descriptors (0 where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0
