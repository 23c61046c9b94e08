#!/usr/bin/env python
"""GPU figures to compare: the dream step, the live frame and a 1080p ``video`` pass, per precision and memory layout.

On a machine with CUDA (no new column starts after ``--deadline-s``, 240 s, so a run ends within 5 minutes;
not yet run on a GPU):

    .venv/bin/python scripts/bench_gpu.py                          # --device cuda
    .venv/bin/python scripts/bench_gpu.py --json out/gpu.json      # the figures as JSON too
    .venv/bin/python scripts/bench_gpu.py --device cpu --quick     # small sizes and counts: checks the script anywhere

The figures, one column per precision and layout:

* ms per step: one ``Dreamer.step`` (jitter, forward to the model's default layer, backward to the input,
  Laplacian normalisation, the update) at 640x360 and 1280x720;
* dreamed fps: the live dream stage as ``dreamstream live`` builds it (the layer dream, and a class as
  chat's ``!dream`` asks for it), alone on a panned photo at 1280x720 and 1920x1080: no input or
  encoding, so the rate is not held at the input's 30 fps;
* s per 1080p frame: ``dreamstream video``'s frame loop (decode, dream, encode) over a 1920x1080 pan
  clip, the mean over the clip and the median carried frame.

Precisions are ``dream.precision``: fp32, bf16 and fp16 autocast (fp16 only off the CPU, bf16 only
where the GPU has it). Channels-last is the engine's own switch (:func:`engine.dream.prepare_model`
makes the model channels-last on CPU and CUDA, and ``Dreamer`` then gives it channels-last input);
the ``nchw`` columns turn the loaded model back with ``.to(memory_format=torch.contiguous_format)``.
Every figure has warm-up calls and then a fixed count, the device synchronised around each call;
a figure stops early (after 3) past its time budget. Settings are config/default.yaml's (``--set``
changes them). No GPU figures are recorded in the README yet: paste the table there with the GPU's name.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from bench.dreams import config_and_model, dream_clip, live_board
from bench.flags import add_device, add_photo, add_set, add_threads, names, parser, size_name
from bench.machine import (
    accelerator_info,
    busy_note,
    cpu_has_bf16,
    describe,
    load_average,
    machine_info,
    set_threads,
)
from bench.media import pan_clip, pan_frames, photo, work_folder
from bench.tables import Table, progress, write_json
from bench.timing import summary_ms, timed

from engine.dream import PRECISIONS, Dreamer
from engine.errors import DreamError
from engine.imagenet import display_name, find_class
from engine.models.registry import DreamModel
from engine.objectives import layer
from stream.live.build import dream_stage
from stream.settings.loader import Config, load_config

LAYOUTS = ("channels_last", "nchw")
SHORT = {"channels_last": "cl", "nchw": "nchw"}
DREAMS = ("layer", "class")


@dataclass(frozen=True)
class Plan:
    """Sizes (width, height) and counts of one run."""

    step_sizes: tuple[tuple[int, int], ...]
    live_sizes: tuple[tuple[int, int], ...]
    video_size: tuple[int, int]
    step_warmup: int
    step_count: int
    live_warmup: int
    live_count: int  # a multiple of the live dream's 5 octave scales: every scale as often
    video_frames: int
    budget_s: float  # per timed figure

    def as_dict(self) -> dict[str, Any]:
        """The plan with its sizes as ``WxH`` names (the JSON's ``plan``)."""
        sizes = {"step_sizes": [size_name(s) for s in self.step_sizes],
                 "live_sizes": [size_name(s) for s in self.live_sizes], "video_size": size_name(self.video_size)}
        return {**dataclasses.asdict(self), **sizes}


FULL = Plan(((640, 360), (1280, 720)), ((1280, 720), (1920, 1080)), (1920, 1080),
            step_warmup=5, step_count=30, live_warmup=10, live_count=50, video_frames=24, budget_s=6.0)
QUICK = Plan(((320, 180),), ((320, 180), (480, 270)), (320, 180),
             step_warmup=1, step_count=3, live_warmup=2, live_count=5, video_frames=4, budget_s=3.0)


def default_precisions(device: torch.device) -> list[str]:
    """fp32, and the reduced precisions the device runs natively."""
    if device.type == "cpu":
        return ["fp32", "bf16"] if cpu_has_bf16() else ["fp32"]
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return ["fp32", "fp16"]
    return ["fp32", "bf16", "fp16"] if device.type == "cuda" else ["fp32", "fp16"]


def set_layout(model: DreamModel, name: str) -> None:
    """Turn ``model``'s weights channels-last or plain NCHW (in place)."""
    model.to(memory_format=torch.channels_last if name == "channels_last" else torch.contiguous_format)


def measure_steps(model: DreamModel, cfg: Config, device: torch.device, plan: Plan) -> tuple[dict, bool]:
    """Milliseconds of one ``Dreamer.step`` at each step size; and whether every output was finite."""
    dreamer = Dreamer(model, layer(model.spec.default_layer), cfg.dream)
    out, finite = {}, True
    for w, h in plan.step_sizes:
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(device)
        times = timed(lambda x=x: dreamer.step(x), device, plan.step_count, plan.step_warmup, plan.budget_s)
        finite = finite and bool(torch.isfinite(dreamer.step(x)[0]).all())
        out[size_name((w, h))] = summary_ms(times)
    return out, finite


def measure_live(model: DreamModel, cfg: Config, device: torch.device, plan: Plan, frames: dict, target: int) -> dict:
    """Dreamed fps of the live stage, layer and class, at each live size (frames after the warm-up, over their time)."""
    out: dict[str, dict] = {}
    for dream in DREAMS:
        for wh in plan.live_sizes:
            stage = dream_stage(model, cfg, live_board(cfg, target if dream == "class" else None))
            source = itertools.cycle(frames[wh])
            try:
                times = timed(
                    lambda s=stage, f=source: s(next(f)), device, plan.live_count, plan.live_warmup, plan.budget_s
                )
            finally:
                stage.close()
            out.setdefault(dream, {})[size_name(wh)] = {"fps": len(times) / sum(times), **summary_ms(times)}
    return out


def measure_video(model: DreamModel, cfg: Config, clip: Path, size: tuple[int, int], out: Path) -> dict:
    """``clip`` through ``dreamstream video``'s frame loop with ``cfg``'s dream and video settings."""
    run = dream_clip(model, layer(model.spec.default_layer), cfg.dream, cfg.section("video"), clip, out)
    return {"size": size_name(size), **run}


def measure(args: argparse.Namespace, device: torch.device, plan: Plan, folder: Path, deadline: float) -> dict:
    """Every figure for every precision and layout (none started after ``deadline``, a ``perf_counter`` time);
    notes say what could not be measured."""
    say = progress(False)
    overrides = {**dict(args.set), "model.device": str(device)}
    _, model, _ = config_and_model(overrides)
    set_threads(args.threads)
    target = find_class(args.target)
    say(f"bench_gpu: a {size_name(plan.video_size)} clip of {plan.video_frames} frames, live frames ...")
    clip = pan_clip(folder, args.photo, plan.video_frames, plan.video_size)
    picture = photo(args.photo)
    frames = {wh: pan_frames(picture, wh, plan.live_warmup + plan.live_count) for wh in plan.live_sizes}
    variants = []
    for layout in args.layouts:
        set_layout(model, layout)
        for precision in args.precisions:
            began = time.perf_counter()
            row: dict[str, Any] = {"precision": precision, "layout": layout, "notes": []}
            variants.append(row)
            if began > deadline:
                row["notes"].append(f"{precision} {layout}: skipped, the run is past --deadline-s {args.deadline_s:g}")
                continue
            try:
                cfg = load_config(overrides={**overrides, "dream.precision": precision})  # class_dream follows dream
                row["step"], row["finite"] = measure_steps(model, cfg, device, plan)
                row["live"] = measure_live(model, cfg, device, plan, frames, target)
                row["video"] = measure_video(
                    model, cfg, clip, plan.video_size, folder / f"dream_{precision}_{layout}.mp4"
                )
            except (DreamError, RuntimeError) as e:  # a precision the device lacks, out of memory
                row["notes"].append(f"{precision} {layout}: {str(e).splitlines()[0]}")
            say(f"bench_gpu: {precision} {layout} in {time.perf_counter() - began:.1f} s")
    return {"model": model.spec.name, "layer": model.spec.default_layer, "target": display_name(target),
            "variants": variants}


Figure = tuple[str, str, Callable[[dict], float | None], str]


def figures(plan: dict) -> list[Figure]:
    """Every figure of a variant's row: ``(label, size, getter, format)``: steps, live layer and class, video."""
    rows: list[Figure] = [
        ("step ms", s, lambda v, s=s: v["step"][s]["median_ms"], "{:.1f}") for s in plan["step_sizes"]
    ]
    rows += [(f"{d} fps", s, lambda v, d=d, s=s: v["live"][d][s]["fps"], "{:.1f}")
             for d in DREAMS for s in plan["live_sizes"]]
    video = plan["video_size"]
    rows += [("video s/frame", video, lambda v: v["video"]["s_per_frame"], "{:.3f}"),
             ("video warm s/frame", video, lambda v: v["video"]["s_per_warm_frame"], "{:.3f}")]
    return rows


def cell(variant: dict, get: Callable[[dict], float | None], fmt: str) -> str | None:
    """One figure of a variant, formatted (None: not measured)."""
    try:
        value = get(variant)
    except KeyError:
        return None
    return None if value is None else fmt.format(value)


def report(result: dict) -> None:
    """Machine lines, then one line per figure with a column per precision and layout, then any notes."""
    m = result["machine"]
    print(f"# {describe(m)}")
    if m.get("cuda"):
        print(f"# CUDA {m['cuda']}, cuDNN {m['cudnn']}, compute capability {m['capability']}, {m['memory_gb']} GiB")
    load = m.get("load_average")
    print(f"# {result['model']}, layer {result['layer']}, class {result['target']}; "
          f"{'quick sizes and counts' if result['quick'] else 'full sizes and counts'}; {result['seconds']:.0f} s"
          + (f"; load before {' '.join(f'{v:.2f}' for v in load)}" if load else ""))
    variants = result["variants"]
    table = Table(("figure", "<18"), ("size", "<9"),
                  *[(f"{v['precision']} {SHORT[v['layout']]}", ">10") for v in variants])
    print(table.header())
    for label, size, get, fmt in figures(result["plan"]):
        print(table.row(label, size, *[cell(v, get, fmt) for v in variants]))
    print(table.row("finite output", "", *["yes" if v.get("finite") else "no" for v in variants]))
    for v in variants:
        for note in v["notes"]:
            print(f"note: {note}")


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    add_device(p, "cuda")
    p.add_argument("--quick", action="store_true", help="small sizes and counts (CPU: well under a minute on 2 cores)")
    p.add_argument("--precisions", type=names(PRECISIONS), default=None,
                   help="fp32,bf16,fp16 (default: fp32 and what the device runs natively)")
    p.add_argument(
        "--layouts", type=names(LAYOUTS), default=None, help=f"{','.join(LAYOUTS)} (default both; nchw alone on MPS)"
    )
    p.add_argument("--target", default="goldfish", help="the live class dream's ImageNet class (default goldfish)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    p.add_argument(
        "--deadline-s",
        type=float,
        default=240.0,
        help="start no new precision and layout after this many seconds (default 240: the run ends within 5 min)",
    )
    add_photo(p)
    add_threads(p, None)
    add_set(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    device = args.device
    args.precisions = args.precisions or default_precisions(device)
    args.layouts = args.layouts or (["nchw"] if device.type == "mps" else list(LAYOUTS))
    plan = QUICK if args.quick else FULL
    load = load_average()  # before this run adds its own
    note = busy_note(load, machine_info(device)["logical_cpus"])
    if note:
        print(note, file=sys.stderr)
    began = time.perf_counter()
    with work_folder() as folder:
        result = measure(args, device, plan, folder, began + args.deadline_s)
    result = {
        "machine": {**machine_info(device), **accelerator_info(device), "load_average": load},
        "quick": args.quick,
        "plan": plan.as_dict(),
        **result,
        "seconds": time.perf_counter() - began,
    }
    report(result)
    if args.json:
        write_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
