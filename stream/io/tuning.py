"""Process-wide CPU tuning for the dream loop.

glibc's malloc returns large freed blocks (above its mmap threshold, at most 32 MiB by
default) to the kernel at once, so every dream step maps its big activations afresh and
pays a page fault per 4 KiB page: tens of thousands per step at 640x360, about 80 000
(330 MB zeroed by the kernel) at 1280x720. Raising the thresholds keeps freed memory in the
process for the next step. The cost is that the process keeps its peak heap.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_done = False


def keep_freed_memory(threshold_bytes: int = 1 << 30) -> bool:
    """Make glibc keep freed blocks up to ``threshold_bytes`` for reuse; ``True`` if applied.

    A no-op (``False``) off Linux or without glibc. Idempotent.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, threshold_bytes)) and bool(mallopt(M_TRIM_THRESHOLD, 2 * threshold_bytes))
    log.debug("glibc malloc keeps freed blocks up to %d bytes: %s", threshold_bytes, ok)
    _done = ok
    return ok
