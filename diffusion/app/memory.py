"""Memory the server gives back (glibc only; elsewhere these do nothing).

glibc's malloc gives each new thread an arena of its own, up to 8 per core, and keeps freed
memory in them for reuse. A UI server runs its handlers on many worker threads, so every run's
large arrays (trajectories, frames, encoded pictures) end up spread over many arenas, whose free
pieces are rarely handed back: RSS grew round after round of the same load (`make soak`). So the
served app uses at most ARENAS arenas (`limit_arenas`, before its worker threads start, like
MALLOC_ARENA_MAX), and after a run leaves memory free it asks malloc to return free pages to the
system (`trim`, at most every TRIM_EVERY seconds). What a run leaves behind in the result cache
lives in pages of its own (`own_pages`), so that it does not pin the heap around it.
"""
from __future__ import annotations

import ctypes
import mmap
import threading
import time

import numpy as np

ARENAS = 2
TRIM_EVERY = 5.0  # seconds: malloc_trim walks the whole heap
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)
_last = 0.0
_lock = threading.Lock()


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


_LIBC = _libc()


def limit_arenas(arenas: int = ARENAS) -> bool:
    """At most `arenas` malloc arenas from now on; whether it took effect."""
    return bool(_LIBC and _LIBC.mallopt(_M_ARENA_MAX, arenas) == 1)


def trim(force: bool = False) -> bool:
    """Hand free heap pages back to the system (not more often than TRIM_EVERY unless `force`);
    whether it ran."""
    global _last
    with _lock:
        if _LIBC is None or (not force and time.monotonic() - _last < TRIM_EVERY):
            return False
        _last = time.monotonic()
    _LIBC.malloc_trim(0)
    return True


def own_pages(shape: tuple, dtype) -> np.ndarray:
    """np.empty(shape, dtype) in an anonymous memory map of its own, handed back to the system
    whole when the array is freed.

    Why: a cached result's frames are made during its run, among the run's working memory in
    malloc's heap, and outlive it; there they pin the heap's free space around them (what trimming
    cannot return), and RSS grew with every round of the same load.
    """
    count = int(np.prod(shape))
    size = max(1, count * np.dtype(dtype).itemsize)
    # shared (mmap's default), not private: the kernel merges neighbouring private anonymous maps
    # into one, and the array would no longer be a mapping of its own
    return np.frombuffer(mmap.mmap(-1, size), dtype=dtype, count=count).reshape(shape)
