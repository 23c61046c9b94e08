"""Dream every layer of a model on one photo and tile the results into a contact sheet.

    .venv/bin/python scripts/layer_sheet.py [--model efficientnet_lite0] [--photo coffee] [--size 640x360] [--out out/layers.png]

Prints each layer's seconds; the sheet shows what each layer amplifies (labelled).
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from engine.dream import Dreamer
from engine.frames import to_image, to_tensor
from engine.objectives import layer
from stream.io.dreaming import load_model
from stream.io.images import write_image
from stream.settings.loader import load_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--photo", default="coffee")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--out", default="out/layers.png")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    from skimage import data

    photo = cv2.resize(getattr(data, args.photo)(), (w, h), interpolation=cv2.INTER_AREA)
    cfg = load_config(overrides={"model.name": args.model})
    model, device = load_model(cfg.model)
    tiles = []
    for info in model.spec.layers:
        start = time.perf_counter()
        out = to_image(Dreamer(model, layer(info.name), cfg.dream).octaves(to_tensor(photo, device)))
        print(f"{info.name:<14} {time.perf_counter() - start:6.1f} s  {info.note}", flush=True)
        tile = cv2.resize(out, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, info.name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 2, cv2.LINE_AA)
        tiles.append(tile)
    cols = 4
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + cols], axis=1) for i in range(0, len(tiles), cols)]
    print(write_image(args.out, np.concatenate(rows, axis=0)))


if __name__ == "__main__":
    main()
