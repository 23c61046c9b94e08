"""Timing a call: warm-up calls, then a fixed count of timed ones, with the device synchronised around each."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA, MPS; nothing to wait for on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn: Callable[[], object], device: torch.device, repeat: int, warmup: int, budget_s: float) -> list[float]:
    """Seconds of each of up to ``repeat`` calls of ``fn`` after ``warmup`` untimed calls.

    Stops early (after at least 3 calls) once ``budget_s`` seconds have been spent timing.
    """
    for _ in range(warmup):
        fn()
    synchronize(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeat and (len(times) < 3 or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def summary_ms(times: list[float]) -> dict[str, float | int]:
    """Median and minimum milliseconds of ``times`` (seconds), and how many there were."""
    return {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3, "runs": len(times)}


def minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
