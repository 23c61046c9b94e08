"""Peak memory and time of one dream step on a large frame, tiled against untiled.

Each case runs in a fresh child process so its peak RSS (``ru_maxrss``) is its own.
Usage: ``python scripts/bench_tiles.py [--size 3840x2160] [--tiles 1024 512 0] [--steps 2]``.
Untiled 3840x2160 needs about 8 GB; pass ``--tiles 1024`` alone on a small machine.
"""
from __future__ import annotations

import json

from bench.children import run_python
from bench.flags import add_size, parser
from bench.machine import cpu_model

CHILD = r"""
import json, resource, sys, time
import torch
from bench.models import dream_model
from engine.dream import Dreamer, DreamSettings
from engine.objectives import layer
from stream.io.tuning import keep_freed_memory
keep_freed_memory()  # as the product does on CPU (stream.io.dreaming.load_model)
h, w, tile, steps = (int(v) for v in sys.argv[1:5])
model = dream_model("efficientnet_lite0")
x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
d = Dreamer(model, layer(model.spec.default_layer), DreamSettings(tile_size=tile))
times = []
for _ in range(steps):
    t = time.perf_counter(); x, _ = d.step(x); times.append(time.perf_counter() - t)
print(json.dumps({"tile": tile, "s_per_step": min(times), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
/ 1024}))
"""


def main() -> None:
    ap = parser(__doc__)
    add_size(ap, "3840x2160")
    ap.add_argument("--tiles", type=int, nargs="+", default=[1024, 512, 0], help="tile sizes; 0 = untiled")
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    w, h = args.size
    print(f"{w}x{h}, {args.steps} steps, efficientnet_lite0 default layer, {cpu_model()}")
    for tile in args.tiles:
        out = run_python(CHILD, [str(h), str(w), str(tile), str(args.steps)])  # passive OpenMP waits, as the CLI's
        if out.returncode != 0:
            print(f"tile {tile}: failed ({out.stderr.strip().splitlines()[-1:]})")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"tile {r['tile'] or 'off':>5}: {r['s_per_step']:.2f} s/step, peak RSS {r['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
