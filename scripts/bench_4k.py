#!/usr/bin/env python
"""Peak memory and speed of ``dreamstream video`` on a 3840x2160 clip dreamed at full size.

Makes a clip panning across a real photo (scikit-image's coffee) at 3840x2160 and dreams it with the
``video`` command in a child process, once per ``--checkout`` (a folder holding another checkout, e.g.
a ``git worktree`` of the code before a change: before and after side by side in one run). The dream
is at full size (``video.dream_max_side=0``, ``video.dream_scale=1``: 3840x2160, in tiles) with cheap
steps so that a run ends in minutes on 2 cores: one gradient step a frame (``video.steps_per_frame=1``)
and one settling pass on the first frame (``video.settle_frames=1``). Everything else is the
product's: the reader, the flow, the carried dream, the tiles, the encoder (libx264 veryfast, crf 18).

Peak RSS is the child's own (``ru_maxrss`` from ``wait4``), minor page faults too; s/frame is the frame
loop's, from the command's own log line. 24 frames by default: the encoder's look-ahead fills over the
first 20 or so frames (about 25 MB a 4K frame), so a shorter clip understates a real one.

    .venv/bin/python scripts/bench_4k.py [--frames 24] [--size 3840x2160] [--checkout /tmp/before --checkout .]
        [--set video.dream_scale=0.75 ...]
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench import ROOT
from bench.children import child_env, cli_argv, describe_checkout, run_measured
from bench.flags import add_json, add_keep, add_set, add_size, parser
from bench.machine import cpu_model, load_average
from bench.media import pan_clip, work_folder
from bench.tables import Table, print_result, progress

#: The cheap full-size dream every checkout runs (``--set`` adds to it or replaces it).
SETTINGS = {
    "video.dream_max_side": 0,
    "video.dream_scale": 1.0,
    "video.steps_per_frame": 1,
    "video.settle_frames": 1,
}
#: The frame loop's own figure, from ``video``'s last log line: "wrote OUT: N frames in S s (X s per frame; ...)".
LOOP_LINE = re.compile(r"(\d+) frames in ([\d.]+) s \(([\d.]+) s per frame")
TABLE = Table(("checkout", "<34"), ("frames", "6d"), ("peak RSS MB", "11.0f"), ("s/frame", "8.2f"),
              ("wall s", "7.1f"), ("minor faults", "12,d"))


def config_file(folder: Path, settings: dict[str, object]) -> Path:
    """``settings`` (``{"section.key": value}``) as a ``--config`` YAML file in ``folder``."""
    import yaml

    tree: dict[str, dict[str, object]] = {}
    for key, value in settings.items():
        section, _, name = key.partition(".")
        tree.setdefault(section, {})[name] = value
    path = folder / "bench_4k.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def measure(args: argparse.Namespace, folder: Path) -> dict:
    w, h = args.size
    say = progress(args.json)
    settings = {**SETTINGS, **dict(args.set)}
    say(f"writing a {w}x{h} pan clip of {args.frames} frames ...")
    clip = pan_clip(folder, "coffee", args.frames, args.size)
    config = config_file(folder, settings)
    rows = []
    for checkout in args.checkout:
        root = checkout.resolve()
        name = describe_checkout(root)
        say(f"{name}: dreaming ...")
        video = ["video", str(clip), str(folder / f"out_{len(rows)}.mp4"), "--config", str(config)]
        run = run_measured(cli_argv(video), cwd=root, env=child_env(root=root))
        if run.returncode != 0:
            tail = run.stderr.strip().splitlines()[-1:] or ["no output"]
            rows.append({"checkout": name, "failed": f"exit {run.returncode}: {tail[0]}"})
            continue
        loop = LOOP_LINE.search(run.stderr)
        rows.append({
            "checkout": name,
            "frames": int(loop[1]) if loop else None,
            "peak_rss_mb": run.peak_mb,
            "s_per_frame": float(loop[3]) if loop else None,
            "wall_s": run.seconds,
            "minor_faults": run.minor_faults,
        })
    return {"size": f"{w}x{h}", "frames": args.frames, "settings": settings, "cpu": cpu_model(),
            "load_average": load_average(), "runs": rows}


def report(result: dict) -> None:
    load = result["load_average"]
    print(f"video {result['size']}, {result['frames']} frames, {result['cpu']}"
          + (f", load average {load[0]:.1f} at the end" if load else ""))
    print("settings: " + " ".join(f"{k}={v}" for k, v in result["settings"].items()))
    print(TABLE.header())
    for r in result["runs"]:
        if "failed" in r:
            print(TABLE.row(r["checkout"]) + "  " + r["failed"])
        else:
            print(
                TABLE.row(
                    r["checkout"], r["frames"], r["peak_rss_mb"], r["s_per_frame"], r["wall_s"], r["minor_faults"]
                )
            )


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--frames", type=int, default=24, help="frames of the clip (default %(default)s)")
    add_size(p, "3840x2160")
    p.add_argument("--checkout", type=Path, action="append",
                   help="a checkout to run the CLI from (repeatable; default this one)")
    add_set(p)
    add_keep(p)
    add_json(p)
    args = p.parse_args(argv)
    args.checkout = args.checkout or [ROOT]
    with work_folder(args.keep) as folder:
        result = measure(args, folder)
    print_result(result, args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
