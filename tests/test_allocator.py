"""glibc's mmap threshold stays fixed in the gateway's process (gateway/allocator.py): a large
buffer freed does not send the next ones to the heap. Each probe runs in a fresh interpreter, whose
allocator has not yet seen a large free."""

from __future__ import annotations

import subprocess
import sys

# 4 MiB malloc'd and freed, then 1 MiB held: with glibc's dynamic threshold the first free raises
# the threshold to 4 MiB and the 1 MiB block comes from the heap (no mmapped block held); with the
# threshold fixed at 128 KiB it is mmapped (one held). mallinfo2 counts the mmapped blocks.
PROBE = """
import ctypes, sys
from gateway import allocator

class Mallinfo2(ctypes.Structure):
    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(n, ctypes.c_size_t) for n in names.split()]

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Mallinfo2
tuned = allocator.tune_malloc() if sys.argv[1] == "tuned" else None
before = libc.mallinfo2().hblks
libc.free(libc.malloc(4 << 20))
held = libc.malloc(1 << 20)
print(tuned, libc.mallinfo2().hblks - before)
"""


def probe(mode: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


def test_a_large_free_does_not_send_the_next_large_buffer_to_the_heap() -> None:
    assert probe("default") == "None 0"  # glibc's dynamic threshold: the probe can tell
    assert probe("tuned") == "True 1"


def test_the_operators_own_threshold_wins() -> None:
    import os

    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    assert probe("tuned", env) == "False 1"  # not applied by us; glibc's, from the environment
