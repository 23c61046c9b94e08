#!/usr/bin/env python
"""Benchmark of stable video dreams (issue 3): flicker, dream strength and speed, stable vs per-frame.

Makes a clip by panning and zooming across a real photo (scikit-image's coffee or astronaut) with
sound, dreams it through the same path as ``dreamstream video`` in stable mode (the ``video``
defaults of config/default.yaml) and per frame (``flow: none``: the full octave dream every frame),
and measures each output with ``dreamstream flicker``'s code. Then times stable mode on a 1280x720
clip. Prints a table (or ``--json``) and the goals met.

    .venv/bin/python scripts/bench_video.py [--frames 48] [--size 640x360] [--json]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.dream import Dreamer  # noqa: E402
from engine.temporal import TemporalDreamer, TemporalSettings  # noqa: E402
from stream.io.clips import write_pan_clip  # noqa: E402
from stream.io.dreaming import setup_dream  # noqa: E402
from stream.io.video import VideoReader, VideoWriter  # noqa: E402
from stream.render.video import compare_videos, dream_video  # noqa: E402
from stream.settings.loader import load_config  # noqa: E402

GOALS = {"max_warping_error": 1.0e-3, "min_change": 6.0, "max_error_ratio": 0.3, "min_speedup": 5.0, "max_hd_s": 1.0}


def size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def photo(name: str):
    from skimage import data

    return getattr(data, name)()


def dream_clip(setup, settings: TemporalSettings, clip: Path, out: Path) -> dict:
    dreamer = Dreamer(setup.model, setup.objective, setup.settings)
    with VideoReader(clip) as reader, VideoWriter(out, reader.info, crf=18, audio_from=clip) as writer:
        run = dream_video(reader, writer, TemporalDreamer(dreamer, settings))
    warm = [s for kind, s in run.frame_seconds if kind == "warm"]
    return {
        "frames": run.frames,
        "s_per_frame": run.seconds_per_frame,
        "s_median": statistics.median(s for _, s in run.frame_seconds),
        "s_per_warm_frame": statistics.median(warm) if warm else None,
        "s_first_frame": run.frame_seconds[0][1],
        "kinds": dict(run.kinds),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=48, help="frames of the benchmark clip (default %(default)s)")
    p.add_argument("--size", type=size, default=(640, 360), help="WxH of the benchmark clip (default 640x360)")
    p.add_argument("--hd-size", type=size, default=(1280, 720), help="WxH of the speed clip (default 1280x720)")
    p.add_argument("--hd-frames", type=int, default=24, help="frames of the speed clip; 0 = skip (default %(default)s)")
    p.add_argument("--photo", choices=("coffee", "astronaut", "chelsea"), default="coffee")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default %(default)s)")
    p.add_argument("--keep", type=Path, help="keep the clips and dreams in this folder")
    p.add_argument("--json", action="store_true", help="print JSON only")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    tmp = tempfile.TemporaryDirectory()
    folder = args.keep or Path(tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    w, h = args.size
    clip = Path(write_pan_clip(folder / f"pan_{w}x{h}.mp4", photo(args.photo), frames=args.frames, width=w, height=h))
    setup = setup_dream(load_config())
    stable = load_config().section("video")
    modes = {"stable": stable, "per_frame": dataclasses.replace(stable, flow="none", dream_scale=1.0)}
    result: dict = {
        "clip": {"photo": args.photo, "size": f"{w}x{h}", "frames": args.frames},
        "threads": torch.get_num_threads(),
        "settings": dataclasses.asdict(stable),
    }
    for name, settings in modes.items():
        if not args.json:
            print(f"dreaming {name} ...", file=sys.stderr, flush=True)
        out = folder / f"{name}_{w}x{h}.mp4"
        timing = dream_clip(setup, settings, clip, out)
        measured = compare_videos(clip, out)
        result[name] = {
            "warping_error": measured["warping_error"]["dreamed"],
            "change_first_quarter": measured["mean_change"]["first_quarter"],
            "change_last_quarter": measured["mean_change"]["last_quarter"],
            **timing,
        }
        result["original_warping_error"] = measured["warping_error"]["original"]
    st, pf = result["stable"], result["per_frame"]
    result["error_ratio"] = st["warping_error"] / pf["warping_error"]
    result["speedup"] = pf["s_per_frame"] / st["s_per_frame"]
    result["speedup_median"] = pf["s_median"] / st["s_median"]  # robust to a busy machine's spikes
    if args.hd_frames:
        hw, hh = args.hd_size
        if not args.json:
            print(f"dreaming stable at {hw}x{hh} ...", file=sys.stderr, flush=True)
        hd_clip = Path(write_pan_clip(folder / f"pan_{hw}x{hh}.mp4", photo(args.photo), frames=args.hd_frames, width=hw, height=hh))
        result["hd"] = {"size": f"{hw}x{hh}", **dream_clip(setup, stable, hd_clip, folder / f"stable_{hw}x{hh}.mp4")}
    g = GOALS
    result["goals"] = {
        "stable warping error <= 1e-3": st["warping_error"] <= g["max_warping_error"],
        "stable change >= 6/255 in both quarters": min(st["change_first_quarter"], st["change_last_quarter"]) >= g["min_change"],
        "error ratio <= 0.3": result["error_ratio"] <= g["max_error_ratio"],
        "speedup >= 5x": result["speedup"] >= g["min_speedup"],
    }
    if "hd" in result:
        result["goals"][f"{result['hd']['size']} <= 1 s per frame"] = result["hd"]["s_per_frame"] <= g["max_hd_s"]
    tmp.cleanup()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"clip: {args.photo} pan+zoom {w}x{h}, {args.frames} frames; torch threads {result['threads']}")
    print(f"original warping error {result['original_warping_error']:.2e}")
    print(f"{'mode':<10} {'warp err':>9} {'change Q1':>9} {'change Q4':>9} {'s/frame':>8} {'median':>7} {'first s':>7}")
    for name in modes:
        r = result[name]
        print(
            f"{name:<10} {r['warping_error']:9.2e} {r['change_first_quarter']:9.1f} {r['change_last_quarter']:9.1f} "
            f"{r['s_per_frame']:8.3f} {r['s_median']:7.3f} {r['s_first_frame']:7.2f}"
        )
    print(
        f"error ratio stable/per-frame {result['error_ratio']:.3f}; "
        f"speedup {result['speedup']:.1f}x (mean s/frame), {result['speedup_median']:.1f}x (median)"
    )
    if "hd" in result:
        r = result["hd"]
        print(f"{r['size']} stable: {r['s_per_frame']:.3f} s per frame ({r['frames']} frames, first {r['s_first_frame']:.2f} s, warm median {r['s_per_warm_frame']:.3f} s)")
    for goal, ok in result["goals"].items():
        print(f"  {'met ' if ok else 'MISSED'} {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
