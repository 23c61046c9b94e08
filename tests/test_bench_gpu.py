"""``scripts/bench_gpu.py --device cpu --quick``: the GPU benchmark runs where there is no GPU and writes every
figure."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_gpu_quick_on_the_cpu_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_gpu.py"), "--device", "cpu", "--quick",
                          "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["quick"] is True and result["machine"]["device"] == "cpu" and result["machine"]["cpu"]
    plan = result["plan"]
    assert plan["step_sizes"] and len(plan["live_sizes"]) == 2 and plan["video_size"]
    variants = {(v["precision"], v["layout"]): v for v in result["variants"]}
    assert {("fp32", "channels_last"), ("fp32", "nchw")} <= set(variants)  # bf16 too where the CPU has it

    def positive(x: object) -> bool:
        return isinstance(x, (int, float)) and math.isfinite(x) and x > 0

    for name, v in variants.items():
        assert not v["notes"] and v["finite"] is True, name
        for size in plan["step_sizes"]:
            assert positive(v["step"][size]["median_ms"]) and v["step"][size]["runs"] >= 3, (name, size)
        for dream in ("layer", "class"):
            for size in plan["live_sizes"]:
                assert positive(v["live"][dream][size]["fps"]), (name, dream, size)
        video = v["video"]
        assert video["size"] == plan["video_size"] and video["frames"] == plan["video_frames"], name
        assert positive(video["s_per_frame"]) and positive(video["s_per_warm_frame"]), name
    lines = run.stdout.splitlines()
    header = next(line for line in lines if line.startswith("figure"))
    assert "fp32 cl" in header and "fp32 nchw" in header
    for label in ("step ms", "layer fps", "class fps", "video s/frame", "video warm s/frame"):
        row = next(line for line in lines if line.startswith(label + " "))
        assert " - " not in f"{row} ", row  # every cell measured
