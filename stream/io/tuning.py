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
import functools
import logging
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_done = False
#: Frames of more pixels than this hand their freed heap back to the kernel after each frame
#: (:func:`after_frame`): a 3840x2160 frame's steps leave freed blocks that the next frame's
#: allocations do not fit, so the heap grew by fragments (0.1-0.25 GB over 24 frames).
LARGE_FRAME_PIXELS = 1920 * 1080


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, or None off Linux or without it (looked up once: ``find_library`` runs ``ldconfig``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def keep_freed_memory(threshold_bytes: int = 1 << 30) -> bool:
    """Make glibc keep freed blocks up to ``threshold_bytes`` for reuse; ``True`` if applied.

    A no-op (``False``) off Linux or without glibc. Idempotent.
    """
    global _done
    if _done:
        return True
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, threshold_bytes)) and bool(mallopt(M_TRIM_THRESHOLD, 2 * threshold_bytes))
    log.debug("glibc malloc keeps freed blocks up to %d bytes: %s", threshold_bytes, ok)
    _done = ok
    return ok


def release_freed_memory() -> bool:
    """Hand the heap's free pages back to the kernel (glibc's ``malloc_trim``); ``True`` if any were.

    For large frames only: the next step faults the pages in again (about 0.1 million page faults
    and 0.3 s a 3840x2160 frame), which is what :func:`keep_freed_memory` saves small frames.
    """
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))


def after_frame(pixels: int) -> None:
    """Called by frame loops after each frame of ``pixels`` pixels: frees the heap above 1920x1080."""
    if pixels > LARGE_FRAME_PIXELS:
        release_freed_memory()


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def heap_mb() -> tuple[float, float] | None:
    """glibc's heap: ``(in use, held)`` in MB (``mallinfo2``), or None without glibc 2.33+.

    Held minus in use is freed memory the process keeps for reuse (:func:`keep_freed_memory`): a long run whose
    RSS grows while its heap in use stays flat is holding freed blocks, not leaking.
    """
    info = getattr(_libc(), "mallinfo2", None)
    if info is None:
        return None
    info.argtypes, info.restype = [], _MallInfo2
    m = info()
    return (m.uordblks + m.hblkhd) / 2**20, (m.arena + m.hblkhd) / 2**20
