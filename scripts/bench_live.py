"""Live pipeline benchmark: testsrc (or a file) at 640x360 through the default model to a null output.

Prints dreamed fps (frames through the dream, each with fresh gradient steps: adaptive quality is
off here, ``live.target_fps`` 0, unless ``--set`` turns it on), output fps, dropped and repeated
frames and the capture-to-send latency p50/p95, for each --steps-per-frame/--dream-scale pair,
dreaming the default layer and, with --target, also that ImageNet class as chat's ``!dream`` does.

    .venv/bin/python scripts/bench_live.py [--seconds 20] [--input testsrc] [--variants 1:0.5 2:0.5] [--target goldfish]
        [--size 1280x720] [--set video.dream_max_side=384]
"""
from __future__ import annotations

import argparse
import logging
import platform

import torch
from bench.dreams import live_board
from bench.flags import add_set, add_size, parser
from bench.tables import Table, print_json

from engine.dream import resolve_device
from engine.imagenet import display_name, find_class
from engine.models.registry import get_spec
from stream.live.build import build_live
from stream.settings.loader import load_config

WARMUP_S = 3.0
TABLE = Table(
    ("dream", "<12"),
    ("steps", ">5"),
    ("scale", ">5.2f"),
    ("dreamed fps", ">11.1f"),
    ("output fps", ">10.1f"),
    ("p50 ms", ">7.1f"),
    ("p95 ms", ">7.1f"),
    ("dropped", ">7"),
    ("repeated", ">8"),
)


def run(steps: int, scale: float, target: int | None, args: argparse.Namespace) -> dict:
    """One variant through :func:`build_live` (as the ``live`` command builds it), measured after a warm-up."""
    w, h = args.size
    cfg = load_config(
        overrides={
            "live.target_fps": 0,
            **dict(args.set),
            "live.width": w,
            "live.height": h,
            "live.stats_interval_s": 3600,
            "live.steps_per_frame": steps,
            "live.dream_scale": scale,
        }
    )
    board = live_board(cfg, target)
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


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--input", default="testsrc")
    ap.add_argument("--seconds", type=float, default=20.0)
    add_size(ap, "640x360")
    ap.add_argument("--variants", nargs="*", default=None, help="STEPS:SCALE pairs (default: the config's)")
    ap.add_argument("--target", default=None, help="also dream this ImageNet class (chat's !dream), side by side")
    add_set(ap)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cfg = load_config(overrides=dict(args.set))
    spec = get_spec(cfg.model.name)
    device = resolve_device(cfg.model.device)
    live = cfg.section("live")
    variants = [(int(a), float(b)) for a, b in (v.split(":") for v in args.variants)] if args.variants else \
        [(live.steps_per_frame, live.dream_scale)]
    print(f"# {platform.machine()}, {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"input {args.input} {args.size[0]}x{args.size[1]}, {args.seconds:g} s per variant")
    targets: list[int | None] = [None] if args.target is None else [None, find_class(args.target)]
    print(TABLE.header())
    rows = []
    for steps, scale in variants:
        for target in targets:
            what = spec.default_layer if target is None else display_name(target)
            r = run(steps, scale, target, args)
            rows.append({"dream": what, "steps_per_frame": steps, "dream_scale": scale, **r})
            print(TABLE.row(what[:12], steps, scale, r["dreamed_fps"], r["output_fps"], r["latency_p50_ms"],
                            r["latency_p95_ms"], r["dropped"], r["repeated"]), flush=True)
    if args.json:
        print_json(rows, indent=None)


if __name__ == "__main__":
    main()
