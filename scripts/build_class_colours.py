"""Build the class colour table of a model: the colour ramp of each of the 1000 ImageNet classes.

    .venv/bin/python scripts/build_class_colours.py [--model efficientnet_lite0] [--classes 954 1]

Each class's colours are probed as the live dream would (:class:`engine.colour.ColourProbe`:
TV static dreamed toward the class with the live class-dream settings, seeded by the class
index), and the table is written to ``stream/io/class_colours/MODEL.npy`` (float16, about 30 KB),
which ships with the package. About 15 minutes on 2 cores for Lite0; run it alone. The shipped
table was built with ``OMP_NUM_THREADS=1``: another thread count rounds differently and the probe,
which amplifies what it draws, finds the same hues at somewhat other strengths.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from bench import ROOT
from bench.dreams import config_and_model
from bench.flags import add_model, parser
from tqdm import tqdm

from engine.dream import Dreamer
from engine.objectives import klass
from stream.io.class_colours import table_name
from stream.settings.live import live_class_dream
from stream.settings.names import NUM_CLASSES

OUT = ROOT / "stream" / "io" / "class_colours"


def main() -> None:
    ap = parser(__doc__)
    add_model(ap)
    ap.add_argument("--classes", nargs="*", type=int, help="only these classes (a partial table, for a look)")
    ap.add_argument("--out", type=Path, default=None, help="the .npy to write (default: the package's table)")
    args = ap.parse_args()
    cfg, model, _device = config_and_model({"model.name": args.model})
    settings = live_class_dream(cfg.class_dream, cfg.dream, cfg.section("live"))
    settings = dataclasses.replace(settings, colour=max(settings.colour, 0.1))
    classes = args.classes if args.classes else range(NUM_CLASSES)
    table = np.zeros((NUM_CLASSES, 5, 3), np.float32)
    dreamer = Dreamer(model, klass(0), settings)
    for index in tqdm(classes, desc="class colours", unit="class"):
        dreamer.objective = klass(index)
        dreamer.gen.manual_seed(index)
        probe = dreamer.colour_probe()
        while not probe.done:
            probe.advance(lambda x: dreamer.step(x)[0])
        assert probe.ramp is not None
        table[index] = probe.ramp.cpu().numpy()
    out = args.out or OUT / table_name(args.model)
    np.save(out, table.astype(np.float16))
    print(out)


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    main()
