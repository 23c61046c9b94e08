#!/usr/bin/env python
"""CPU contention: a ``dreamstream video`` run alone against the same run beside one busy process.

Makes a pan clip of a real photo, runs the real CLI on it in a child process (alone, then with one
other CPU-bound process spinning on the machine) and prints both wall times and their ratio. On a
machine with N cores a fair share beside one busy process is N / (N - 0.5) .. 2x slower; the goal
is at most 2.5x. ``--env K=V`` passes extra environment to the dream (to try thread settings).

    .venv/bin/python scripts/bench_contention.py [--frames 24] [--size 640x360] [--repeat 1]
"""
from __future__ import annotations

import os
import subprocess
import sys

from bench.children import child_env, run_cli
from bench.flags import add_size, parser
from bench.machine import cpu_model
from bench.media import pan_clip, work_folder

BUSY = "while True: pass"


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--frames", type=int, default=24)
    add_size(p, "640x360")
    p.add_argument("--repeat", type=int, default=1, help="pairs to run; the minimum of each side is kept")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment for the dream")
    p.add_argument("args", nargs="*", help="extra arguments for `video` (after --)")
    args = p.parse_args(argv)

    w, h = args.size
    env = child_env(dict(kv.split("=", 1) for kv in args.env))
    with work_folder() as folder:
        clip = pan_clip(folder, "coffee", args.frames, args.size)
        video = ["video", str(clip), str(folder / "out.mp4"), *args.args]
        alone, busy = [], []
        for _ in range(args.repeat):
            alone.append(run_cli(video, env, show_output=False))
            hog = subprocess.Popen([sys.executable, "-c", BUSY])
            try:
                busy.append(run_cli(video, env, show_output=False))
            finally:
                hog.kill()
                hog.wait()
    a, b = min(alone), min(busy)
    print(f"{args.frames} frames {w}x{h} on {os.cpu_count()} cores ({cpu_model()}); env {' '.join(args.env) or '(none)'}")
    print(f"alone {a:.1f} s, beside one busy process {b:.1f} s: {b / a:.2f}x (goal <= 2.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
