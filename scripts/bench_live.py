"""Live pipeline benchmark: testsrc (or a file) at 640x360 through the default model to a null output.

Prints dreamed fps (frames that got fresh gradient steps), output fps, dropped and repeated
frames and the capture-to-send latency p50/p95, for each --steps-per-frame/--dream-scale pair.

    .venv/bin/python scripts/bench_live.py [--seconds 20] [--input testsrc] [--variants 1:0.5 2:0.5]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform

import torch

from stream.config import load_config
from stream.dreaming import load_model
from stream.live import DreamStage, LivePipeline, live_temporal
from stream.sinks import EncoderSettings, open_sink
from stream.sources import open_source


def run(model, cfg, steps: int, scale: float, args) -> dict:
    ls = dataclasses.replace(cfg.section("live"), width=args.width, height=args.height, stats_interval_s=1e9)
    temporal = dataclasses.replace(live_temporal(cfg.section("video"), ls), steps_per_frame=steps, dream_scale=scale)
    stage = DreamStage(model, cfg.dream, cfg.class_dream, temporal, None)
    source = open_source(args.input, width=ls.width, height=ls.height, fps=ls.fps, loop=True)
    sink = open_sink("null", EncoderSettings(width=ls.width, height=ls.height, fps=ls.fps))
    try:
        # Warm up (the first frame gets the full octave dream), then measure.
        LivePipeline(source, [sink], stage, ls, duration_s=3).run()
        result = LivePipeline(source, [sink], stage, ls, duration_s=args.seconds).run()
    finally:
        source.close()
        sink.close()
    result["dreamed_fps"] = round(result["dreamed"] / args.seconds, 2)
    result["output_fps"] = round(result["output"] / args.seconds, 2)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="testsrc")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--variants", nargs="*", default=None, help="STEPS:SCALE pairs (default: the config's)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.width, args.height = (int(v) for v in args.size.split("x"))
    logging.basicConfig(level=logging.WARNING)
    cfg = load_config()
    model, device = load_model(cfg.model)
    live = cfg.section("live")
    variants = [(int(a), float(b)) for a, b in (v.split(":") for v in args.variants)] if args.variants else \
        [(live.steps_per_frame, live.dream_scale)]
    print(f"# {platform.machine()}, {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"input {args.input} {args.size}, {args.seconds:g} s per variant")
    print(f"{'steps':>5} {'scale':>5} {'dreamed fps':>11} {'output fps':>10} {'p50 ms':>7} {'p95 ms':>7} {'dropped':>7} {'repeated':>8}")
    rows = []
    for steps, scale in variants:
        r = run(model, cfg, steps, scale, args)
        rows.append({"steps_per_frame": steps, "dream_scale": scale, **r})
        print(f"{steps:>5} {scale:>5.2f} {r['dreamed_fps']:>11.1f} {r['output_fps']:>10.1f} {r['latency_p50_ms']:>7} "
              f"{r['latency_p95_ms']:>7} {r['dropped']:>7} {r['repeated']:>8}", flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
