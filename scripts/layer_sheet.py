"""Dream every layer of a model on one photo and tile the results into a contact sheet.

    .venv/bin/python scripts/layer_sheet.py [--model efficientnet_lite0] [--photo coffee] [--size 640x360] [--out
    out/layers.png]

Prints each layer's seconds; the sheet shows what each layer amplifies (labelled).
"""
from __future__ import annotations

import time

import cv2
import numpy as np
from bench.dreams import config_and_model
from bench.flags import add_model, add_size, parser
from bench.media import photo

from engine.dream import Dreamer
from engine.frames import to_image, to_tensor
from engine.objectives import layer
from stream.io.images import write_image


def main() -> None:
    ap = parser(__doc__)
    add_model(ap)
    ap.add_argument("--photo", default="coffee", help="a photo of scikit-image's skimage.data (default coffee)")
    add_size(ap, "640x360")
    ap.add_argument("--out", default="out/layers.png")
    args = ap.parse_args()
    w, h = args.size
    picture = photo(args.photo, args.size)
    cfg, model, device = config_and_model({"model.name": args.model})
    tiles = []
    for info in model.spec.layers:
        start = time.perf_counter()
        out = to_image(Dreamer(model, layer(info.name), cfg.dream).octaves(to_tensor(picture, device)))
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
