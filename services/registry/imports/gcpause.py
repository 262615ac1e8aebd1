"""Pause the cyclic garbage collector around CPU-bound batch work.

Validating and serialising a chunk allocates a few hundred thousand
short-lived objects; with the collector on, it rescans them (and the whole
heap on full collections) many times, which measured as a quarter of the
import's Python time. Reference counting still frees them; cycles wait for the
next collection. Counted, so overlapping pauses (thread and event loop) nest.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """Keep the cyclic collector off while any caller is inside."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
