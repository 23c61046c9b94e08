#!/usr/bin/env python
"""Benchmark of chunked renders (issues 10 and 18): seams, difference from a single pass, speed with 1 and 2 workers.

Makes a clip panning across a real photo (one scene, so every seam is inside a scene: the hard
case, with lead-in frames), dreams it in a single pass and in chunks with 1 worker (this process)
and with 2 Ray workers, side by side in one run. Seams: the warping error (flow and occlusions from
the original, as ``dreamstream flicker``) of each frame pair across a seam, against the mean over
the pairs inside chunks, and the worst seams as issue 18 measures them: the mean of the 3 worst pair
errors of the whole output over its median pair error (single pass and chunked side by side). The
join's time is split: what is left after the dreaming ends, and the whole join (mostly beside the
dreaming). Then an estimate, with its arithmetic, for N GPU machines.

    .venv/bin/python scripts/bench_chunks.py [--frames 240] [--size 1280x720] [--chunk-s 2.5] [--overlap 24]
        [--set video.dream_max_side=256 --set dream.octaves=2 ...]   # cheaper dreams, for a CPU
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from bench.children import run_cli
from bench.flags import add_json, add_keep, add_photo, add_set, add_size, parser
from bench.machine import cpu_model
from bench.media import pan_clip, work_folder
from bench.tables import Table, print_result, progress

from stream.io.video import VideoReader
from stream.render.chunks import chunk_frames, plan_chunks
from stream.render.job import RenderOptions, render_chunked
from stream.render.scan import Window
from stream.render.video import compare_videos
from stream.settings.loader import load_config

MAX_SEAM_RATIO = 1.5
RUNS = Table(("run", "<22"), ("wall s", "8.1f"), ("s/frame", "8.3f"), ("scan s", "7.1f"), ("dream s", "8.1f"),
             ("join after s", "12.1f"), ("join all s", "10.1f"), ("worker s/dreamed frame", "23.3f"))


def dump_overrides(overrides: dict[str, object]) -> str:
    """Dotted overrides as a YAML config file."""
    import yaml

    tree: dict[str, dict[str, object]] = {}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        tree.setdefault(section, {})[name] = value
    return yaml.safe_dump(tree)


def frames_of(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [f.image.astype(np.int16) for f in reader]


def worst_over_median(errors: np.ndarray, worst: int = 3) -> float:
    """The issue's seam measure: the mean of the ``worst`` largest consecutive-pair errors over the median pair
    error."""
    finite = np.sort(errors[np.isfinite(errors)])
    return float(np.mean(finite[-worst:]) / np.median(finite))


def seam_report(clip: Path, out: Path, seams: list[int], overlap: int) -> dict:
    """Warping error around each seam against the mean over the pairs inside chunks.

    Around a seam starting at frame ``s`` with its fade over frames ``s - overlap + overlap // 2`` to
    ``s - 1``: every pair from the one entering the fade to (s-1, s); the seam's figure is the worst of them.
    """
    errors = np.array([np.nan if e is None else e for e in compare_videos(clip, out, pairs=True)["pairs"]["dreamed"]])
    fade = overlap - overlap // 2
    around = {s: list(range(s - fade - 1, s)) for s in seams}  # pair p is frames (p, p+1)
    inside = np.delete(errors, sorted({p for ps in around.values() for p in ps}))
    inside_mean = float(np.nanmean(inside))
    window = [float(np.nanmean(errors[ps])) for ps in around.values()]  # each seam's fade, pair by pair, averaged
    worst = [float(np.nanmax(errors[ps])) for ps in around.values()]
    boundary = [float(errors[s - 1]) for s in seams]  # the pair (s-1, s) itself
    return {
        "worst3_median": worst_over_median(errors),
        "worst3_pairs": [int(p) for p in np.argsort(np.nan_to_num(errors, nan=-1.0))[-3:][::-1]],
        "inside_mean": inside_mean,
        "inside_p95": float(np.nanpercentile(inside, 95)),
        "seams": window,
        "boundary": boundary,
        "worst": worst,
        "ratio_mean": float(np.mean(window)) / inside_mean if seams else None,
        "ratio_max": max(window) / inside_mean if seams else None,
        "boundary_ratio_max": max(boundary) / inside_mean if seams else None,
        "worst_ratio_max": max(worst) / inside_mean if seams else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--frames", type=int, default=240, help="frames of the clip (default %(default)s)")
    add_size(p, "1280x720")
    p.add_argument("--fps", type=int, default=24)
    p.add_argument(
        "--chunk-s",
        type=float,
        default=2.5,
        help="video.chunk_s for the benchmark (default %(default)s: 4 chunks of 240 frames)",
    )
    p.add_argument("--overlap", type=int, default=None, help="video.chunk_overlap (default: the config's)")
    add_photo(p)
    p.add_argument("--gpu-s-per-frame", type=float, default=0.04,
                   help="assumed dream time per 1080p frame on one GPU, for the estimate (not measured here)")
    p.add_argument(
        "--film-frames", type=int, default=14_400, help="frames of the film in the estimate (10 min at 24 fps)"
    )
    p.add_argument("--film-chunk-s", type=float, default=None,
                   help="video.chunk_s of the film in the estimate (default: the config's, not --chunk-s)")
    p.add_argument(
        "--runs",
        default="single,1,2",
        help="which runs: single (one pass), 1 (chunked, 1 worker), 2 (chunked, 2 Ray workers); default %(default)s",
    )
    add_set(p)
    add_keep(p)
    add_json(p)
    args = p.parse_args(argv)
    with work_folder(args.keep) as folder:
        result = measure(args, folder)
    print_result(result, args.json, lambda r: report(r, args))
    return 0


def measure(args: argparse.Namespace, folder: Path) -> dict:
    """The runs asked for, their seams and differences, and the estimate."""
    w, h = args.size
    say = progress(args.json)
    say(f"writing a {w}x{h} pan clip of {args.frames} frames ...")
    clip = pan_clip(folder, args.photo, args.frames, args.size, fps=args.fps)
    overrides = {"video.chunk_s": args.chunk_s, **dict(args.set)}
    if args.overlap is not None:
        overrides["video.chunk_overlap"] = args.overlap
    cfg = load_config(overrides=overrides)
    user_file = folder / "bench.yaml"  # the same overrides for the single pass's command line
    user_file.write_text(dump_overrides(overrides))
    video = cfg.section("video")
    plan = plan_chunks(args.frames, [], chunk_frames(video.chunk_s, args.fps), video.chunk_overlap)
    seams = [c.start for c in plan[1:]]
    result: dict = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "clip": {"photo": args.photo, "size": f"{w}x{h}", "frames": args.frames, "fps": args.fps},
        "chunks": [[c.start, c.stop, c.lead_in] for c in plan],
        "chunk_s": video.chunk_s,
        "overlap": video.chunk_overlap,
        "settings": dict(args.set),
    }

    runs = args.runs.split(",")
    single = folder / "single.mp4"
    if "single" in runs:
        say("single pass ...")
        wall = run_cli(["video", str(clip), str(single), "--config", str(user_file)])
        result["single"] = {"wall_s": wall, "s_per_frame": wall / args.frames}

    for workers in [int(r) for r in runs if r in ("1", "2")]:
        say(f"chunked, {workers} worker{'s' * (workers > 1)} ...")
        out = folder / f"chunked_{workers}.mp4"
        began = time.monotonic()
        run = render_chunked(cfg, str(clip), str(out), Window(), RenderOptions(workers=workers))
        wall = time.monotonic() - began
        assert run.frames == args.frames, run
        dreamed = sum(r.dreamed for r in run.results)
        result[f"workers_{workers}"] = {
            "wall_s": wall,
            "s_per_frame": wall / args.frames,
            "scan_s": run.scan_seconds,
            "dream_s": run.dream_seconds,
            "join_s": run.join_seconds,  # left after the dreaming: on the critical path
            "join_total_s": run.join_total_seconds,  # most of it beside the dreaming
            "chunk_s_per_dreamed_frame": statistics.median(r.seconds / r.dreamed for r in run.results),
            "dreamed_frames": dreamed,
        }

    say("measuring seams and differences ...")
    chunked = [f"chunked_{r}" for r in runs if r in ("1", "2")]
    for name in (["single"] if "single" in runs else []) + chunked:
        result.setdefault("seams", {})[name] = seam_report(clip, folder / f"{name}.mp4", seams, video.chunk_overlap)
    if "single" in runs:
        ref = frames_of(single)
        for name in chunked:
            diff = [float(np.abs(a - b).mean()) for a, b in zip(frames_of(folder / f"{name}.mp4"), ref)]
            result.setdefault("difference", {})[name] = {
                f"chunk {c.index}": {
                    "mean": float(np.mean(diff[c.start : c.stop])),
                    "max": float(np.max(diff[c.start : c.stop])),
                }
                for c in plan
            }
            # chunk 0 up to where the next chunk's fade begins: the frames a single pass dreams the same way
            fade_from = plan[1].start - (plan[1].lead_in - plan[1].lead_in // 2) if len(plan) > 1 else plan[0].stop
            result["difference"][name]["chunk 0 before the fade"] = {
                "mean": float(np.mean(diff[:fade_from])), "max": float(np.max(diff[:fade_from])), "frames": fade_from}
    if "workers_1" in result and "workers_2" in result:
        result["speedup_2_over_1"] = result["workers_1"]["wall_s"] / result["workers_2"]["wall_s"]
    overhead = sum(c.lead_in for c in plan) / args.frames
    result["overlap_overhead"] = overhead
    result["goal_met"] = all(result["seams"][n]["worst3_median"] <= MAX_SEAM_RATIO for n in chunked)
    measured = result.get("workers_1") or result.get("workers_2")
    if measured:
        result["estimate"] = estimate(args, video, measured, overhead)
    return result


def estimate(args: argparse.Namespace, video, one: dict, overhead: float) -> dict:
    """Wall time of a film on N GPU machines: the scan here, then the dreaming split N ways with the lead-in frames
    and the join here beside it (the slower of the two), then the join of the last chunk."""
    frames = args.film_frames
    scale_1080 = (1920 * 1080) / (args.size[0] * args.size[1])
    scan = one["scan_s"] / args.frames * scale_1080  # s per 1080p frame, decode and cut detection
    join = one["join_total_s"] / args.frames * scale_1080  # s per 1080p frame, lossless decode and H.264 encode
    chunk_s = args.film_chunk_s if args.film_chunk_s is not None else load_config().section("video").chunk_s
    per_chunk = chunk_frames(chunk_s, args.fps)
    chunks = math.ceil(frames / per_chunk)
    film_overhead = (chunks - 1) * video.chunk_overlap / frames  # every seam inside a scene (no cuts: worst case)
    t = args.gpu_s_per_frame
    rows = {}
    for n in (1, 2, 4, 8, 16):
        rounds = math.ceil(chunks / n)  # chunks are dealt out whole: the slowest worker's share
        dream = rounds * per_chunk * (1 + film_overhead) * t
        rows[n] = {"dream_s": dream, "total_s": frames * scan + max(dream, frames * join) + per_chunk * join}
    return {
        "frames": frames,
        "chunks": chunks,
        "chunk_frames": per_chunk,
        "chunk_s": chunk_s,
        "overhead": film_overhead,
        "scan_s_per_frame": scan,
        "join_s_per_frame": join,
        "gpu_s_per_frame": t,
        "rows": rows,
    }


def report(r: dict, args: argparse.Namespace) -> None:
    c = r["clip"]
    print(f"machine: {r['machine']} (shared; figures taken under contention)")
    print(f"settings: {r['settings'] or 'the defaults'}; chunk_s {r['chunk_s']}, overlap {r['overlap']}")
    print(
        f"clip: {c['photo']} pan {c['size']}, {c['frames']} frames at {c['fps']} fps; chunks (start, stop, lead-in): "
        f"{r['chunks']}"
    )
    print(RUNS.header())
    if "single" in r:
        print(RUNS.row("single pass", r["single"]["wall_s"], r["single"]["s_per_frame"]))
    for n in (1, 2):
        if f"workers_{n}" not in r:
            continue
        x = r[f"workers_{n}"]
        label = "chunked, 1 worker" if n == 1 else "chunked, 2 Ray workers"
        print(RUNS.row(label, x["wall_s"], x["s_per_frame"], x["scan_s"], x["dream_s"], x["join_s"], x["join_total_s"],
                       x["chunk_s_per_dreamed_frame"]))
    print(
        "join after: the join left once the last chunk is dreamed; join all: the whole join, mostly beside the dreaming"
    )
    if "speedup_2_over_1" in r:
        print(f"2 workers / 1 worker: {r['speedup_2_over_1']:.2f}x (one process already uses both cores)")
    print(f"lead-in overhead: {r['overlap_overhead']:.1%} of the frames dreamed twice")
    print("worst seams: mean of the 3 worst consecutive-pair warping errors (pairs as dreamstream flicker) "
          "/ the median pair:")
    print("  " + "; ".join(f"{name} {s['worst3_median']:.2f}x (pairs {', '.join(map(str, s['worst3_pairs']))})"
                           for name, s in r["seams"].items()))
    print("seams: warping error through each fade (the pairs from the fade's start to the seam) "
          "/ mean over the other pairs")
    for name, s in r["seams"].items():
        seams = ", ".join(f"{e:.2e}" for e in s["seams"])
        print(
            f"  {name:<10} inside {s['inside_mean']:.2e} (p95 {s['inside_p95']:.2e}); fades {seams}; "
            f"ratio mean {s['ratio_mean']:.2f}, max {s['ratio_max']:.2f}; boundary pair max "
            f"{s['boundary_ratio_max']:.2f}; "
            f"worst single pair {s['worst_ratio_max']:.2f}"
        )
    if r.get("difference"):
        print(
            "difference from the single pass, mean |a-b| per chunk (0-255); both at --crf 18, whose look-ahead changes"
            " the encoded frames before any change in what is encoded (identical dreams then differ by up to ~2):"
        )
    for name, d in r.get("difference", {}).items():
        print(f"  {name:<10} " + "; ".join(f"{k}: {v['mean']:.2f} (max {v['max']:.2f})" for k, v in d.items()))
    print(
        f"  {'met ' if r['goal_met'] else 'MISSED'} worst seams <= {MAX_SEAM_RATIO}x the median pair (every chunked "
        "run)"
    )
    if "estimate" not in r:
        return
    e = r["estimate"]
    print(
        f"estimate for {e['frames']} frames of 1080p ({e['chunks']} chunks of {e['chunk_frames']} frames = chunk_s "
        f"{e['chunk_s']}, "
        f"lead-in overhead {e['overhead']:.1%}), at an assumed {e['gpu_s_per_frame']} s per frame per GPU:"
    )
    print(
        f"  scan {e['scan_s_per_frame'] * 1e3:.1f} ms/frame and join {e['join_s_per_frame'] * 1e3:.1f} ms/frame "
        "on the driver (measured here, the join beside this CPU's dreaming, scaled by pixels to 1080p); the join "
        "runs beside the dreaming, but for the last chunk's"
    )
    for n, row in e["rows"].items():
        print(
            f"  N={n:<3} dream "
            f"ceil({e['chunks']}/{n})*{e['chunk_frames']}*(1+{e['overhead']:.3f})*{e['gpu_s_per_frame']} "
            f"= {row['dream_s']:7.0f} s; scan + max(dream, join) + last join = {row['total_s'] / 60:6.1f} min"
        )


if __name__ == "__main__":
    sys.exit(main())
