"""Live pipeline benchmark: testsrc (or a file) at 640x360 through the default model to a null output.

Prints dreamed fps (frames that got fresh gradient steps), output fps, dropped and repeated
frames and the capture-to-send latency p50/p95, for each --steps-per-frame/--dream-scale pair,
dreaming the default layer and, with --target, also that ImageNet class as chat's ``!dream`` does.

    .venv/bin/python scripts/bench_live.py [--seconds 20] [--input testsrc] [--variants 1:0.5 2:0.5] [--target goldfish]
        [--size 1280x720] [--set video.dream_max_side=384]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform

import torch
import yaml

from engine.dream import resolve_device
from engine.imagenet import display_name, find_class
from engine.models.registry import get_spec
from stream.live.build import build_live, initial_controls
from stream.settings.controls import ControlBoard
from stream.settings.loader import load_config

WARMUP_S = 3.0


def run(steps: int, scale: float, target: int | None, args: argparse.Namespace) -> dict:
    """One variant through :func:`build_live` (as the ``live`` command builds it), measured after a warm-up."""
    cfg = load_config(overrides={**args.overrides, "live.width": args.width, "live.height": args.height,
                                 "live.stats_interval_s": 3600, "live.steps_per_frame": steps, "live.dream_scale": scale})
    limits = dataclasses.replace(cfg.section("chat"), max_octaves=cfg.dream.octaves)
    board = ControlBoard(initial_controls(cfg), limits)
    if target is not None:
        board.replace(target=target, target_name=display_name(target))
    reports: list[dict] = []
    started: list[float] = []

    def tick(now: float) -> None:
        # The first frame gets the full octave dream: measure from 3 s on, for --seconds.
        if not started:
            started.append(now)
        if len(reports) == 0 and now - started[0] >= WARMUP_S:
            reports.append(live.pipeline.stats.report())  # starts the measured interval
        elif len(reports) == 1 and now - started[0] >= WARMUP_S + args.seconds:
            reports.append(live.pipeline.stats.report())
            live.pipeline.stop()

    live = build_live(cfg, args.input, ["null"], board=board, loop=True, tick=tick)
    with live:
        totals = live.run()
    r = reports[-1]
    return {"dreamed_fps": r["dreamed_fps"], "output_fps": r["output_fps"], "latency_p50_ms": r["latency_p50_ms"],
            "latency_p95_ms": r["latency_p95_ms"], "dropped": r["dropped"], "repeated": r["repeated"],
            "totals": totals}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="testsrc")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--variants", nargs="*", default=None, help="STEPS:SCALE pairs (default: the config's)")
    ap.add_argument("--target", default=None, help="also dream this ImageNet class (chat's !dream), side by side")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override, e.g. video.dream_max_side=384")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    args.width, args.height = (int(v) for v in args.size.split("x"))
    logging.basicConfig(level=logging.WARNING)
    cfg = load_config(overrides=args.overrides)
    spec = get_spec(cfg.model.name)
    device = resolve_device(cfg.model.device)
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
            what = spec.default_layer if target is None else display_name(target)
            r = run(steps, scale, target, args)
            rows.append({"dream": what, "steps_per_frame": steps, "dream_scale": scale, **r})
            print(f"{what[:12]:<12} {steps:>5} {scale:>5.2f} {r['dreamed_fps']:>11.1f} {r['output_fps']:>10.1f} "
                  f"{_ms(r['latency_p50_ms']):>7} {_ms(r['latency_p95_ms']):>7} {r['dropped']:>7} {r['repeated']:>8}",
                  flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
