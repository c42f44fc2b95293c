"""glibc's allocator tuned for a small, long-running process (issue 19: a hall's gateway bounded
in memory).

glibc serves a request of at least `M_MMAP_THRESHOLD` bytes with its own mmap, returned to the
system on free. By default that threshold is dynamic: each freed mmapped block raises it to the
block's size (up to 32 MiB), so after the first large buffers (a batch of line protocol for
InfluxDB, a JSON page of the API) later ones come from the heap instead, where the holes they
leave keep the resident set high. A fixed threshold keeps large, short-lived buffers out of the
heap: the demo hall at 2,000 msg/s peaked at 79 MiB instead of 85 (bench/README.md).
"""

from __future__ import annotations

import ctypes
import os

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept fixed


def tune_malloc() -> bool:
    """Fix glibc's mmap threshold; False where there is no glibc (musl, macOS) or the operator
    chose one (`MALLOC_MMAP_THRESHOLD_` in the environment wins)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
