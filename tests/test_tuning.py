"""glibc heap tuning (stream/io/tuning.py): freed memory kept for small frames, handed back after large ones."""
from __future__ import annotations

import subprocess
import sys

import pytest

from stream.io import tuning

# A child process: the heap settings are process-wide. It keeps freed memory as the product does, frees a
# 300 MB block that sits below a live one (so it is a hole in the heap, not its top), then prints its RSS
# (MB) after the free, after a small frame and after a large one.
CHILD = r"""
import numpy as np
from stream.io.tuning import after_frame, keep_freed_memory

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

assert keep_freed_memory()
hole = np.ones(300 * 2**20, np.uint8)
kept = np.ones(2**20, np.uint8)  # allocated after the hole: the hole is not the heap's top
del hole
freed = rss_mb()
after_frame(1920 * 1080)
small = rss_mb()
after_frame(3840 * 2160)
print(freed, small, rss_mb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc are Linux's")
def test_large_frames_hand_freed_heap_back_and_small_ones_keep_it() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout
    freed, small, large = (float(v) for v in out.split())
    assert small > freed - 50  # 1920x1080 and smaller keep their freed blocks for the next frame
    assert large < freed - 250  # above it the 300 MB hole goes back to the kernel


def test_frames_up_to_1080p_do_not_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(tuning, "release_freed_memory", lambda: calls.append(1))
    tuning.after_frame(1920 * 1080)
    assert calls == []
    tuning.after_frame(1920 * 1080 + 1)
    assert calls == [1]
