"""Peak memory and time of one dream step on a large frame, tiled against untiled.

Each case runs in a fresh child process so its peak RSS (``ru_maxrss``) is its own.
Usage: ``python scripts/bench_tiles.py [--size 3840x2160] [--tiles 1024 512 0] [--steps 2]``.
Untiled 3840x2160 needs about 8 GB; pass ``--tiles 1024`` alone on a small machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
import torch
from engine.dream import Dreamer, DreamSettings, prepare_model
from engine.models.registry import build_model, get_spec
from engine.objectives import layer
from stream.io.weights import load_state_dict
h, w, tile, steps = (int(v) for v in sys.argv[1:5])
spec = get_spec("efficientnet_lite0")
model = prepare_model(build_model("efficientnet_lite0", load_state_dict(spec)))
x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
d = Dreamer(model, layer(spec.default_layer), DreamSettings(tile_size=tile))
times = []
for _ in range(steps):
    t = time.perf_counter(); x, _ = d.step(x); times.append(time.perf_counter() - t)
print(json.dumps({"tile": tile, "s_per_step": min(times), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="3840x2160", help="WxH")
    ap.add_argument("--tiles", type=int, nargs="+", default=[1024, 512, 0], help="tile sizes; 0 = untiled")
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    machine = subprocess.run(["sh", "-c", "lscpu | grep 'Model name'"], capture_output=True, text=True, check=False).stdout.split(":")[-1].strip()
    print(f"{w}x{h}, {args.steps} steps, efficientnet_lite0 default layer, {machine}")
    for tile in args.tiles:
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}  # as the CLI sets it
        out = subprocess.run([sys.executable, "-c", CHILD, str(h), str(w), str(tile), str(args.steps)],
                             cwd=ROOT, capture_output=True, text=True, check=False, env=env)
        if out.returncode != 0:
            print(f"tile {tile}: failed ({out.stderr.strip().splitlines()[-1:]})")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"tile {r['tile'] or 'off':>5}: {r['s_per_step']:.2f} s/step, peak RSS {r['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
