"""The README's pictures (``docs/*.jpg``): class dreams on the sky, the live layer dream on the volcano, and a
live frame before and after a viewer's ``!dream``. Made with the quality suite's cells (the product's own paths).

    .venv/bin/python scripts/readme_pictures.py [--out docs]

About 5 minutes on 2 cores. JPEG quality 85; together well under 1.5 MB.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from bench.dreams import config_and_model
from bench.flags import parser
from quality.cells import dream_live, run_cell
from quality.scenes import scene

SIZE = (640, 360)
SKY_CLASSES = ("lemon", "goldfish", "flamingo", "strawberry")


def caption(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    for colour, width in (((0, 0, 0), 4), ((255, 255, 255), 1)):
        cv2.putText(out, text, (12, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, colour, width, cv2.LINE_AA)
    return out


def save(path: Path, tiles: list[np.ndarray], cols: int = 2) -> None:
    rows = [np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)]
    sheet = np.vstack(rows)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"{path} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--out", type=Path, default=Path("docs"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cfg, model, _ = config_and_model()
    sky = [caption(run_cell(model, cfg, "still", "sky", c, SIZE, ())[0].image, c) for c in SKY_CLASSES]
    save(args.out / "sky_classes.jpg", sky)
    volcano = scene("volcano", "clip", *SIZE)
    layer = dream_live(model, cfg, volcano, None, (10.0,))[0]
    save(args.out / "layer_volcano.jpg", [caption(layer.source, "input"), caption(layer.image, "live layer dream, 10 s")])
    before, after = dream_live(model, cfg, scene("sky", "pan", *SIZE), "goldfish", (0.0, 10.0))
    save(args.out / "live_request.jpg", [caption(before.image, "live: a viewer asks for goldfish"),
                                        caption(after.image, "10 s later")])


if __name__ == "__main__":
    main()
