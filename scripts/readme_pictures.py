"""The README's pictures (``docs/*.jpg``), all from real photographs (``quality/scenes.py`` names them and their
licences): class dreams as ``dreamstream image --target`` makes them, the live layer dream on a panned and zoomed
photo, and a live frame before and after a viewer's ``!dream``. Made with the quality suite's cells (the product's
own paths and shipped defaults).

    .venv/bin/python scripts/readme_pictures.py [--out docs]

About 3 minutes on 2 cores. JPEG quality 85; together well under 1.5 MB.
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
#: (photo, class): one of each set's photos per row, classes fixed before looking.
CLASS_DREAMS = (("china", "goldfish"), ("coffee", "strawberry"), ("rocket", "jellyfish"),
                ("flower", "monarch butterfly"))


def caption(image: np.ndarray, text: str) -> np.ndarray:
    """``text`` once, white on a dark band in the top left corner (legible on any picture)."""
    out = image.copy()
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    cv2.rectangle(out, (0, 0), (w + 20, h + base + 16), (20, 20, 20), cv2.FILLED)
    cv2.putText(out, text, (10, h + 8), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
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
    classes = [caption(run_cell(model, cfg, "still", photo, target, SIZE, ())[0].image, f"{photo}: {target}")
               for photo, target in CLASS_DREAMS]
    save(args.out / "photo_classes.jpg", classes)
    layer = dream_live(model, cfg, scene("china", "zoom", *SIZE), None, (10.0,))[0]
    save(args.out / "layer_photo.jpg", [caption(layer.source, "input (panned and zoomed)"),
                                        caption(layer.image, "live layer dream, 10 s")])
    before, after = dream_live(model, cfg, scene("coffee", "pan", *SIZE), "goldfish", (0.0, 10.0))
    save(args.out / "live_request.jpg", [caption(before.image, "live: a viewer asks for goldfish"),
                                        caption(after.image, "10 s later")])


if __name__ == "__main__":
    main()
