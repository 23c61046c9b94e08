"""Adaptive quality on a busy machine: the live dream alone and beside CPU-bound processes, in one run.

A streamer's machine is never idle (a game, OBS). For a layer dream and a class dream (a
viewer's ``!dream``), on the coffee photo panning slowly at 640x360, ``build_live`` runs as the
``live`` command does, to a null output: first alone, then beside ``--hogs`` busy processes
(``while True: pass``), with adaptive quality on (``live.target_fps``) and off (0). It prints
dreamed fps (frames through the dream stage, each carrying the dream along the flow) and the
gradient steps a second (adaptive quality's cheapest levels take them on fewer frames), output fps,
the loaded/alone ratio, the quality level chosen, and how EfficientNet-Lite1 (which DreamStream
never dreams with) ranks the class in the last frame, in colour and in grey.

    .venv/bin/python scripts/bench_adaptive.py [--seconds 20] [--hogs 2] [--target goldfish] [--keep DIR]

Run it alone on the machine (``uptime`` under 1): the hogs are the only load it should see.
"""
from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import bench  # noqa: F401 (puts the repository on sys.path)
import cv2
import numpy as np
from bench.dreams import config_and_model, live_board
from bench.flags import add_json, add_keep, add_set, add_size
from bench.machine import describe, machine_info
from bench.media import pan_clip, work_folder
from bench.tables import Table, print_json
from quality.judge import Judge

from engine.imagenet import display_name, find_class
from stream.live.build import build_live
from stream.settings.loader import load_config

WARMUP_S = 5.0
HOG = "while True: pass"


def run(clip: Path, target: int | None, target_fps: float, args: argparse.Namespace) -> dict[str, Any]:
    """One live run: dreamed and output fps and steps a second over ``args.seconds`` after the warm-up, the level,
    the last frame."""
    cfg = load_config(overrides={**dict(args.set), "live.width": args.size[0], "live.height": args.size[1],
                                 "live.stats_interval_s": 3600, "live.target_fps": target_fps})
    board = live_board(cfg, target)
    reports: list[dict[str, Any]] = []
    started: list[float] = []
    last: list[np.ndarray] = []
    levels: list[int] = []
    steps: list[int] = []

    def tick(now: float) -> None:
        if not started:
            started.append(now)
        q = live.stage.quality()
        levels.append(q.get("level", 0))
        if not reports and now - started[0] >= WARMUP_S:
            reports.append(live.pipeline.stats.report())
            steps.append(live.stage.live_dream.steps_taken)
        elif len(reports) == 1 and now - started[0] >= WARMUP_S + args.seconds:
            reports.append(live.pipeline.stats.report())
            steps.append(live.stage.live_dream.steps_taken)
            live.pipeline.stop()

    live = build_live(cfg, str(clip), ["null"], board=board, loop=True, tick=tick,
                      on_frame=lambda image: last[:1].clear() or last.append(image))
    with live:
        live.run()
    r = reports[-1]
    return {"dreamed_fps": r["dreamed_fps"], "steps_per_s": (steps[1] - steps[0]) / args.seconds,
            "output_fps": r["output_fps"], "level": levels[-1],
            "levels_seen": sorted(set(levels)), "frame": last[-1]}


def hogs(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--hogs", type=int, default=2, help="CPU-bound processes beside the loaded runs")
    ap.add_argument("--target", default="goldfish", help="the class of the class dream")
    ap.add_argument("--target-fps", type=float, default=None, help="adaptive quality's rate (default: the config's)")
    add_size(ap, "640x360")
    add_set(ap)
    add_keep(ap)
    add_json(ap)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cfg, _model, device = config_and_model(dict(args.set))
    target_fps = args.target_fps if args.target_fps is not None else cfg.section("live").target_fps
    goal = find_class(args.target)
    print(describe(machine_info(device)))
    print(f"# coffee photo panning at {args.size[0]}x{args.size[1]}, {args.seconds:g} s a run after {WARMUP_S:g} s, "
          f"loaded = beside {args.hogs} busy processes, adaptive target {target_fps:g} dreamed fps")
    judge = Judge()
    table = Table(("dream", "<10"), ("adaptive", "<8"), ("alone fps", ">9.1f"), ("loaded fps", ">10.1f"),
                  ("ratio", ">5.2f"), ("steps/s alone", ">13.1f"), ("steps/s loaded", ">14.1f"), ("out fps", ">7.1f"),
                  ("level", ">5"), ("top-1 alone", ">11"), ("top-1 loaded", ">12"), ("top-5 grey", ">10"))
    print(table.header(), flush=True)
    rows = []
    with work_folder(args.keep) as folder:
        clip = pan_clip(folder, "coffee", 30 * int(WARMUP_S + args.seconds + 5), args.size, fps=30)
        for target in (None, goal):
            for fps in (target_fps, 0.0):
                alone = run(clip, target, fps, args)
                procs = hogs(args.hogs)
                try:
                    loaded = run(clip, target, fps, args)
                finally:
                    for p in procs:
                        p.kill()
                what = "layer" if target is None else display_name(target)
                ranks = {k: judge.ranks(v["frame"], [goal]) for k, v in (("alone", alone), ("loaded", loaded))}
                row = {"dream": what, "adaptive": fps > 0, "alone_fps": alone["dreamed_fps"],
                       "loaded_fps": loaded["dreamed_fps"], "ratio": loaded["dreamed_fps"] / alone["dreamed_fps"],
                       "steps_per_s_alone": alone["steps_per_s"], "steps_per_s_loaded": loaded["steps_per_s"],
                       "output_fps_loaded": loaded["output_fps"], "level_alone": alone["levels_seen"],
                       "level_loaded": loaded["levels_seen"], "ranks": ranks if target is not None else None}
                rows.append(row)

                def rank(k: str, view: str, ranks: dict = ranks, target: int | None = target) -> str:
                    return str(ranks[k][view][0]) if target is not None else "-"

                print(
                    table.row(
                        what[:10],
                        "on" if fps > 0 else "off",
                        row["alone_fps"],
                        row["loaded_fps"],
                        row["ratio"],
                        alone["steps_per_s"],
                        loaded["steps_per_s"],
                        loaded["output_fps"],
                        f"{alone['level']}/{loaded['level']}",
                        rank("alone", "colour"),
                        rank("loaded", "colour"),
                        rank("loaded", "grey"),
                    ),
                    flush=True,
                )
                if args.keep is not None:
                    for k, v in (("alone", alone), ("loaded", loaded)):
                        name = f"{what}_{'adaptive' if fps > 0 else 'fixed'}_{k}.png".replace(" ", "_")
                        cv2.imwrite(str(args.keep / name), cv2.cvtColor(v["frame"], cv2.COLOR_RGB2BGR))
    if args.json:
        print_json(rows)


if __name__ == "__main__":
    main()
