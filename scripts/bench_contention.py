#!/usr/bin/env python
"""CPU contention: a ``dreamstream video`` run alone against the same run beside one busy process.

Makes a pan clip of a real photo, runs the real CLI on it in a child process (alone, then with one
other CPU-bound process spinning on the machine) and prints both wall times and their ratio. On a
machine with N cores a fair share beside one busy process is N / (N - 0.5) .. 2x slower; the goal
is at most 2.5x. ``--env K=V`` passes extra environment to the dream (to try thread settings).

    .venv/bin/python scripts/bench_contention.py [--frames 24] [--size 640x360] [--repeat 1]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stream.io.clips import write_pan_clip

RUN = "import sys; from stream.cli import main; sys.exit(main())"
BUSY = "while True: pass"


def timed_video(clip: Path, out: Path, env: dict[str, str], extra: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN, "--quiet", "video", str(clip), str(out), *extra],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--size", default="640x360", help="WxH")
    p.add_argument("--repeat", type=int, default=1, help="pairs to run; the minimum of each side is kept")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment for the dream")
    p.add_argument("args", nargs="*", help="extra arguments for `video` (after --)")
    args = p.parse_args(argv)
    from skimage import data

    w, h = (int(v) for v in args.size.lower().split("x"))
    env = {**os.environ, **dict(kv.split("=", 1) for kv in args.env)}
    machine = subprocess.run(["sh", "-c", "lscpu | grep 'Model name'"], capture_output=True, text=True, check=False).stdout.split(":")[-1].strip()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(write_pan_clip(Path(tmp) / "pan.mp4", data.coffee(), frames=args.frames, width=w, height=h))
        out = Path(tmp) / "out.mp4"
        alone, busy = [], []
        for _ in range(args.repeat):
            alone.append(timed_video(clip, out, env, args.args))
            hog = subprocess.Popen([sys.executable, "-c", BUSY])
            try:
                busy.append(timed_video(clip, out, env, args.args))
            finally:
                hog.kill()
                hog.wait()
    a, b = min(alone), min(busy)
    print(f"{args.frames} frames {w}x{h} on {os.cpu_count()} cores ({machine}); env {' '.join(args.env) or '(none)'}")
    print(f"alone {a:.1f} s, beside one busy process {b:.1f} s: {b / a:.2f}x (goal <= 2.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
