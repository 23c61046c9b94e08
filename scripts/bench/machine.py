"""The machine a benchmark runs on: CPU model, load, torch's threads and device, in a dict and one line."""
from __future__ import annotations

import os
import platform
from typing import Any

import torch


def _cpuinfo(*keys: str) -> str | None:
    """The value of the first ``/proc/cpuinfo`` line that starts with one of ``keys`` (None: no such line or file)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(keys):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (falls back to ``platform``)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bf16 natively (x86 ``avx512_bf16`` or ``amx_bf16``, Arm ``bf16``); else torch emulates
    it, slowly."""
    flags = _cpuinfo("flags", "Features") or ""
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & set(flags.split()))


def load_average() -> tuple[float, float, float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def busy_note(load: tuple[float, float, float] | None, cores: int | None) -> str | None:
    """A warning when the last minute's load is above half the cores (figures then are noisy), else None."""
    if load is None or not cores or load[0] <= cores / 2:
        return None
    return (f"note: load average {load[0]:.1f} on {cores} logical CPUs: the machine is busy, "
            "so timings are noisy; compare within one run")


def set_threads(threads: int | None) -> None:
    """torch's intra-op threads (None or 0: leave torch's choice)."""
    if threads:
        torch.set_num_threads(threads)


def machine_info(device: torch.device) -> dict[str, Any]:
    """CPU model and count, torch's version and threads, the device and (CUDA) its name."""
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }


def accelerator_info(device: torch.device) -> dict[str, Any]:
    """CUDA and cuDNN versions and the device's memory and compute capability (empty off CUDA)."""
    if device.type != "cuda":
        return {}
    props = torch.cuda.get_device_properties(device)
    return {
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "capability": f"{props.major}.{props.minor}",
        "memory_gb": round(props.total_memory / 2**30, 1),
    }


def describe(info: dict[str, Any]) -> str:
    """One line from :func:`machine_info`: ``cpu: NAME (N logical CPUs), torch V, T threads, device D (NAME)``."""
    name = f" ({info['device_name']})" if info.get("device_name") else ""
    return (f"cpu: {info['cpu']} ({info['logical_cpus']} logical CPUs), torch {info['torch']}, "
            f"{info['threads']} threads, device {info['device']}{name}")
