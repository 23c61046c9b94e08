#!/usr/bin/env python
"""CPU contention: ``dreamstream video`` alone against the same run beside one busy process, per OpenMP wait setting.

Makes a pan clip of a real photo and runs the real CLI on it in a child process, alone and then with
one other CPU-bound process spinning on the machine, for each ``--variant`` (environment settings
for OpenMP's idle threads), side by side in one run. Prints s/frame alone, s/frame loaded and their
ratio. On a machine with N cores a fair share beside one busy process is N / (N - 0.5) .. 2x slower.

Each variant runs on each ``--checkout`` (another checkout's code, side by side). A variant is
``NAME`` or ``NAME:K=V,K=V``: ``cli`` (nothing set: what ``dreamstream`` chooses),
``passive`` (``OMP_WAIT_POLICY=PASSIVE``), ``active`` (``OMP_WAIT_POLICY=ACTIVE``), or any name with
its own settings (``spin10k:GOMP_SPINCOUNT=10000``). ``--random googlenet`` dreams that model with
random weights (its real ones are a download; the cost is the same) at its default layer.

    .venv/bin/python scripts/bench_contention.py [--frames 24] [--size 640x360] [--repeat 1]
        [--variant cli --variant passive --variant active] [--random googlenet] [--checkout /tmp/before --checkout .]
        [-- extra video args]
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from bench import ROOT
from bench.children import child_env, describe_checkout, run_cli
from bench.flags import add_json, add_size, parser
from bench.machine import cpu_model
from bench.media import pan_clip, work_folder
from bench.tables import Table, print_result

from engine.models.registry import build_model, get_spec

BUSY = "while True: pass"
NAMED = {"cli": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}, "active": {"OMP_WAIT_POLICY": "ACTIVE"}}
OPENMP_KEYS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
TABLE = Table(("variant", "<28"), ("alone s/frame", "14.3f"), ("loaded s/frame", "15.3f"), ("loaded / alone", "15.2f"))


def variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME`` or ``NAME:K=V,K=V`` as (name, environment); raises ValueError for an unknown bare name."""
    name, _, pairs = text.partition(":")
    if not pairs:
        if name not in NAMED:
            raise ValueError(f"variant {name!r}: not one of {', '.join(NAMED)}; or give NAME:K=V,...")
        return name, NAMED[name]
    return name, dict(pair.split("=", 1) for pair in pairs.split(","))


def random_weights(name: str, folder: Path) -> list[str]:
    """``video`` arguments that dream model ``name`` with random weights saved under ``folder``."""
    torch.manual_seed(0)
    path = folder / f"{name}_random.pt"
    torch.save(build_model(name, fuse=False).state_dict(), path)
    return ["--model", name, "--weights", str(path), "--layer", get_spec(name).default_layer]


def measure(args, folder: Path) -> dict:
    clip = pan_clip(folder, "coffee", args.frames, args.size)
    extra = random_weights(args.random, folder) if args.random else []
    video = ["video", str(clip), str(folder / "out.mp4"), *extra, *args.args]
    checkouts = [c.resolve() for c in args.checkout] or [ROOT]
    rows = []
    for name, settings in map(variant, args.variant or ["cli", "passive", "active"]):
        for root in checkouts:
            env = {**{k: v for k, v in child_env(root=root).items() if k not in OPENMP_KEYS}, **settings}
            alone, busy = [], []
            for _ in range(args.repeat):
                alone.append(run_cli(video, env, show_output=False, root=root))
                hog = subprocess.Popen([sys.executable, "-c", BUSY])
                try:
                    busy.append(run_cli(video, env, show_output=False, root=root))
                finally:
                    hog.kill()
                    hog.wait()
            a, b = min(alone) / args.frames, min(busy) / args.frames
            label = name + (" (" + ",".join(f"{k}={v}" for k, v in settings.items()) + ")" if settings else "")
            if len(checkouts) > 1:
                label += f" @ {describe_checkout(root)}"
            rows.append({"variant": label, "alone s/frame": a, "loaded s/frame": b, "loaded / alone": b / a})
    return {"machine": f"{os.cpu_count()} cores, {cpu_model()}", "frames": args.frames, "size": list(args.size),
            "model": args.random or "default", "rows": rows}


def report(result: dict) -> None:
    w, h = result["size"]
    print(f"{result['frames']} frames {w}x{h}, model {result['model']}, on {result['machine']} "
          "(each variant's wall time includes the CLI's start; loaded = beside one busy process)")
    print(TABLE.header())
    for row in result["rows"]:
        print(TABLE.row(*row.values()))


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--frames", type=int, default=24)
    add_size(p, "640x360")
    p.add_argument("--repeat", type=int, default=1, help="pairs to run per variant; the minimum of each side is kept")
    p.add_argument(
        "--variant", action="append", default=[], help="NAME or NAME:K=V,... (repeatable; default cli, passive, active)"
    )
    p.add_argument("--random", metavar="MODEL", help="dream this model with random weights (timing only)")
    p.add_argument("--checkout", action="append", type=Path, default=[],
                   help="run each variant on this checkout too (repeatable; default this one alone)")
    add_json(p)
    p.add_argument("args", nargs="*", help="extra arguments for `video` (after --)")
    args = p.parse_args(argv)
    with work_folder() as folder:
        result = measure(args, folder)
    print_result(result, args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
