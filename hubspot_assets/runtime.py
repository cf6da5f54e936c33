"""Process-wide tuning, applied once when the code location loads (``defs``).

It lives apart from the HTTP client because it changes the whole process:
a library constructor must not do that behind its caller's back.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

# glibc raises its mmap threshold to the largest block freed so far (up to 32 MiB):
# after the first response body of a few MB, every later body (and its parse buffer)
# is carved from the malloc arenas of the worker threads, which keep the freed space.
# On the pipeline benchmark that free-but-kept memory grew with the run's length
# (object_records at 100k contacts: 362 MB free inside malloc, RSS 304 MB; at 10k
# 189 MB). Pinned at glibc's own default, large blocks stay in mmap and free()
# returns them at once (RSS 227 MB at 100k). It costs page faults, ~1 ms of CPU per
# multi-MB body; a periodic malloc_trim instead was cheaper but kept most of the
# growth (RSS 284 MB).
_M_MMAP_THRESHOLD = -3  # mallopt parameter number, from <malloc.h>
MMAP_THRESHOLD_BYTES = 128 * 1024


@functools.cache
def pin_malloc_mmap_threshold() -> bool:
    """Keep glibc from retaining freed response bodies (once per process; a no-op off
    glibc or when the environment sets the threshold). True if the threshold is pinned."""
    if platform.libc_ver()[0] != "glibc" or _threshold_set_by_environment():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def _threshold_set_by_environment() -> bool:
    """An operator's own setting of the threshold wins over ours."""
    return ("MALLOC_MMAP_THRESHOLD_" in os.environ
            or "malloc.mmap_threshold" in os.environ.get("GLIBC_TUNABLES", ""))


def tune_process() -> None:
    """Every process-wide setting the product relies on (idempotent)."""
    pin_malloc_mmap_threshold()
