"""How GK-Chat runs Python's garbage collector: what has lived long is not walked again.

A full collection walks every object the collector tracks while the event loop waits. With
10,000 sockets open that is close to a million objects and over half a second in which no
socket is served. Nearly all of them live until their socket closes, and reference counting
frees them then: a closed socket leaves no cyclic garbage (``python -m bench.socket_cost``
measures both).

So after start-up, and again after every full collection, the survivors move to the permanent
generation (``gc.freeze``). A full collection then walks only what reached the old generation
since the one before, which CPython's own schedule (one full collection per ten of the middle
generation's, and not before a quarter of the last survivors' number is pending) keeps to
tens of thousands of objects at most, whatever the number of sockets.

The price: a reference cycle among frozen objects is not freed once it becomes garbage. GK-Chat
breaks none of its long-lived structures into cycles, and ``frozen`` in the diagnostics shows
what the permanent generation holds (it falls as sockets close). ``GKCHAT_GC_FREEZE=off``
restores CPython's default.
"""

import gc
from typing import Any


def freeze_survivors() -> None:
    """Freeze what lives now, and the survivors of every full collection from now on."""
    gc.collect()
    gc.freeze()
    if _after_full_collection not in gc.callbacks:
        gc.callbacks.append(_after_full_collection)


def stop_freezing() -> None:
    """Back to CPython's default: frozen objects are walked again from the next collection."""
    if _after_full_collection in gc.callbacks:
        gc.callbacks.remove(_after_full_collection)
    gc.unfreeze()


def _after_full_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()
