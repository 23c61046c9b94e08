"""Live pipeline benchmark: testsrc (or a file) at 640x360 through the default model to a null output.

Prints dreamed fps (frames that got fresh gradient steps), output fps, dropped and repeated
frames and the capture-to-send latency p50/p95, for each --steps-per-frame/--dream-scale pair,
dreaming the default layer and, with --target, also that ImageNet class as chat's ``!dream`` does.

    .venv/bin/python scripts/bench_live.py [--seconds 20] [--input testsrc] [--variants 1:0.5 2:0.5] [--target goldfish]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform

import torch

from engine.imagenet import display_name, find_class
from stream.io.dreaming import load_model
from stream.io.sinks.open import open_sink
from stream.io.sources import open_source
from stream.live.pipeline import LivePipeline
from stream.live.stage import DreamStage
from stream.settings.controls import ControlBoard, LiveControls
from stream.settings.encoder import EncoderSettings
from stream.settings.live import live_class_dream, live_temporal
from stream.settings.loader import load_config


def run(model, cfg, steps: int, scale: float, target: int | None, args) -> dict:
    ls = dataclasses.replace(cfg.section("live"), width=args.width, height=args.height, stats_interval_s=1e9)
    temporal = dataclasses.replace(live_temporal(cfg.section("video"), ls), steps_per_frame=steps, dream_scale=scale)
    class_dream = live_class_dream(cfg.class_dream, cfg.dream, ls)
    controls = LiveControls(model=model.spec.name, layer=model.spec.default_layer, target=target,
                            octaves=cfg.dream.octaves)
    board = ControlBoard(controls, dataclasses.replace(cfg.section("chat"), max_octaves=cfg.dream.octaves))
    stage = DreamStage(model, cfg.dream, class_dream, temporal, board)
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
    ap.add_argument("--target", default=None, help="also dream this ImageNet class (chat's !dream), side by side")
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
    targets: list[int | None] = [None] if args.target is None else [None, find_class(args.target)]
    print(f"{'dream':<12} {'steps':>5} {'scale':>5} {'dreamed fps':>11} {'output fps':>10} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'dropped':>7} {'repeated':>8}")
    rows = []
    for steps, scale in variants:
        for target in targets:
            what = model.spec.default_layer if target is None else display_name(target)
            r = run(model, cfg, steps, scale, target, args)
            rows.append({"dream": what, "steps_per_frame": steps, "dream_scale": scale, **r})
            print(f"{what[:12]:<12} {steps:>5} {scale:>5.2f} {r['dreamed_fps']:>11.1f} {r['output_fps']:>10.1f} "
                  f"{r['latency_p50_ms']:>7} {r['latency_p95_ms']:>7} {r['dropped']:>7} {r['repeated']:>8}", flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
