"""Benchmark one DeepDream gradient step and compare it with this machine's peak FLOP/s.

One step is the full ``Dreamer.step``: jitter, forward to the objective's layer, backward to
the input, Laplacian normalisation and the update. For each size and precision it prints
the median milliseconds (after warm-up), the FLOPs of one step (counted with
``torch.utils.flop_counter.FlopCounterMode``), the achieved GFLOP/s and their share of
the peak, where the peak is a large fp32/bf16 matmul measured in the same run.

    .venv/bin/python scripts/bench_step.py
    .venv/bin/python scripts/bench_step.py --sizes 640x360 --precisions fp32 --repeat 30 --json

Sizes are WIDTHxHEIGHT. Machines shared with other work give noisy timings: compare
variants within one run, never against numbers from another run.
"""
from __future__ import annotations

import statistics
import sys
from dataclasses import asdict, dataclass

import torch
from bench.flags import add_device, add_model, add_threads, names, parser, sizes
from bench.machine import describe, machine_info, set_threads
from bench.models import dream_model
from bench.tables import Table, print_json
from bench.timing import minor_faults, timed
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from engine.dream import Dreamer, DreamSettings
from engine.errors import DreamError
from engine.models.registry import get_spec
from engine.objectives import layer
from stream.io.tuning import keep_freed_memory

DEFAULT_SIZES = "320x180,640x360,1280x720"
PEAK_SIDE = {"cpu": 2048, "cuda": 8192, "mps": 4096}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
TABLE = Table(("size", ">10"), ("prec", ">5"), ("median ms", "10.1f"), ("min ms", "8.1f"), ("runs", "5d"),
              ("GFLOP", "7.2f"), ("GFLOP/s", "8.1f"), ("% peak", ">7"), ("faults", "7.0f"))


@dataclass(frozen=True)
class Row:
    """One benchmark cell: a size (``width x height``) at a precision."""

    width: int
    height: int
    precision: str
    median_ms: float
    min_ms: float
    runs: int
    gflop: float
    gflops: float
    peak_share: float | None
    faults_per_step: float = 0.0
    note: str = ""


def peak_gflops(device: torch.device, dtype: torch.dtype, repeat: int, budget_s: float) -> float:
    """Best GFLOP/s of a square matmul (side 2048 on the CPU) in ``dtype``.

    The side starts at 256 and doubles while one product stays well inside the budget,
    so dtypes the hardware only emulates (bf16 on CPUs without it) stay quick to measure.
    """
    n = 256
    while True:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        once = min(timed(lambda a=a, b=b: a @ b, device, 2, 1, 0.0))
        if n >= PEAK_SIDE.get(device.type, 2048) or once * 8 * repeat > budget_s:
            break
        n *= 2
    times = timed(lambda: a @ b, device, repeat, 1, budget_s)
    return 2 * n**3 / min(times) / 1e9


def _pointwise_conv_flop(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
    return conv_flop_count(x_shape, w_shape, out_shape, transposed=False)


def step_flops(dreamer: Dreamer, x: torch.Tensor) -> int:
    """FLOPs of one ``Dreamer.step`` on ``x`` (every op FlopCounterMode knows)."""
    custom = {}
    if hasattr(torch.ops.mkldnn, "_convolution_pointwise"):  # oneDNN conv with fused activation
        custom[torch.ops.mkldnn._convolution_pointwise] = _pointwise_conv_flop
    with FlopCounterMode(display=False, custom_mapping=custom) as counter:
        dreamer.step(x)
    return counter.get_total_flops()


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    add_device(p, "cpu")
    p.add_argument("--repeat", type=int, default=20, help="timed steps per cell (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per cell (default 3)")
    p.add_argument("--sizes", type=lambda text: sizes(text, minimum=32), default=DEFAULT_SIZES,
                   help=f"WIDTHxHEIGHT list (default {DEFAULT_SIZES})")
    p.add_argument("--precisions", type=names(tuple(DTYPES)), default=None,
                   help="fp32,bf16,fp16 (default fp32,bf16; fp16 too on CUDA/MPS)")
    add_model(p)
    p.add_argument("--layer", default="block9", help="objective layer, mean square of its activations")
    add_threads(p, None)
    p.add_argument(
        "--budget-s", type=float, default=20.0, help="stop timing a cell after this many seconds (min 3 runs)"
    )
    p.add_argument(
        "--max-step-s",
        type=float,
        default=3.0,
        help="skip a reduced-precision cell whose first step takes longer (bf16 emulated on CPUs without it)",
    )
    p.add_argument("--no-tune-malloc", dest="tune_malloc", action="store_false",
                   help="let glibc return freed memory to the kernel (the product keeps it: see stream/tuning.py)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args(argv)

    device = args.device
    set_threads(args.threads)
    tuned = keep_freed_memory() if args.tune_malloc else False
    precisions = args.precisions or (["fp32", "bf16"] if device.type == "cpu" else ["fp32", "bf16", "fp16"])

    try:
        spec = get_spec(args.model)
        spec.layer(args.layer)
        model = dream_model(args.model, device)
    except DreamError as e:
        print(f"bench_step: {e}", file=sys.stderr)
        return 2

    peaks = {}
    for prec in precisions:
        try:
            peaks[prec] = peak_gflops(device, DTYPES[prec], max(3, args.repeat // 4), min(args.budget_s, 10.0))
        except RuntimeError:
            peaks[prec] = None

    rows: list[Row] = []
    s_per_pixel: dict[str, float] = {}
    gen = torch.Generator().manual_seed(0)
    for w, h in args.sizes:
        x = torch.rand(1, 3, h, w, generator=gen).to(device)
        flops = None
        for prec in precisions:
            try:
                dreamer = Dreamer(model, layer(args.layer), DreamSettings(precision=prec))
            except DreamError as e:
                print(f"bench_step: skipping {prec}: {e}", file=sys.stderr)
                continue
            predicted = s_per_pixel.get(prec, 0.0) * w * h
            if prec != "fp32" and predicted > args.max_step_s:
                rows.append(Row(w, h, prec, 0.0, 0.0, 0, 0.0, 0.0, None,
                                note=f"skipped: one step would take about {predicted:.0f} s (> --max-step-s)"))
                continue
            first = timed(lambda d=dreamer, x=x: d.step(x), device, 1, 0, 0.0)[0]  # includes kernel set-up
            if prec != "fp32" and first > args.max_step_s:
                s_per_pixel[prec] = first / (w * h)
                rows.append(Row(w, h, prec, first * 1e3, first * 1e3, 1, 0.0, 0.0, None,
                                note=f"skipped: the first step took {first:.1f} s (> --max-step-s)"))
                continue
            if flops is None:
                flops = step_flops(dreamer, x)
            faults0 = minor_faults()
            times = timed(lambda d=dreamer, x=x: d.step(x), device, args.repeat, max(args.warmup - 1, 0), args.budget_s)
            faults = (minor_faults() - faults0) / (len(times) + max(args.warmup - 1, 0))
            med = statistics.median(times)
            s_per_pixel[prec] = med / (w * h)
            gflops = flops / med / 1e9
            peak = peaks.get(prec)
            rows.append(Row(w, h, prec, med * 1e3, min(times) * 1e3, len(times), flops / 1e9, gflops,
                            gflops / peak if peak else None, faults))

    machine = {**machine_info(device), "model": args.model, "layer": args.layer, "malloc_tuned": tuned}
    if args.json:
        print_json({"machine": machine, "peak_gflops": peaks, "rows": [asdict(r) for r in rows]})
        return 0
    print(describe(machine) + (", malloc tuned" if tuned else ""))
    print("peak (square matmul): " + ", ".join(
        f"{k} {v:.1f} GFLOP/s" if v else f"{k} n/a" for k, v in peaks.items()))
    fp32_peak = peaks.get("fp32") or 0.0
    slow = [k for k, v in peaks.items() if k != "fp32" and v is not None and v < fp32_peak]
    if slow:
        print(f"note: {', '.join(slow)} slower than fp32 here (emulated, no native support on this device)")
    print(f"one Dreamer.step of {args.model}, objective layer({args.layer}):")
    print(TABLE.header())
    for r in rows:
        size = f"{r.width:>5}x{r.height:<4}"
        if r.note:
            print(f"{TABLE.row(size, r.precision)} {r.note}")
            continue
        share = f"{100 * r.peak_share:6.1f}%" if r.peak_share is not None else "n/a"
        print(TABLE.row(size, r.precision, r.median_ms, r.min_ms, r.runs, r.gflop, r.gflops, share, r.faults_per_step))
    return 0


if __name__ == "__main__":
    sys.exit(main())
