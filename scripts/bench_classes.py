"""Dream ten common ImageNet classes on a real photo and report, per class, the default
model's rank of the target on the result and the seconds taken.

    .venv/bin/python scripts/bench_classes.py [--photo coffee] [--size 640x360] [--out out/classes]

The dreamed images are written to --out so a person can judge them.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import torch

from engine.dream import Dreamer
from engine.frames import to_image, to_tensor
from engine.imagenet import display_name, find_class
from engine.objectives import klass
from stream.io.dreaming import load_model
from stream.io.images import write_image
from stream.settings.loader import load_config

CLASSES = ("goldfish", "zebra", "strawberry", "banana", "jellyfish", "daisy", "monarch butterfly", "golden retriever", "pizza", "tabby cat")


def rank_of(model: torch.nn.Module, image: torch.Tensor, index: int) -> int:
    """1-based rank of class ``index`` for ``image`` (1, 3, H, W), short side resized to 224, centre crop."""
    h, w = image.shape[-2:]
    f = 224 / min(h, w)
    x = torch.nn.functional.interpolate(image, (round(h * f), round(w * f)), mode="bilinear", antialias=True)
    top, left = (x.shape[-2] - 224) // 2, (x.shape[-1] - 224) // 2
    with torch.no_grad():
        logits = model(x[..., top:top + 224, left:left + 224])[0]
    return int((logits > logits[index]).sum()) + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photo", default="coffee", help="a scikit-image sample photo name or an image path")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--classes", nargs="*", default=list(CLASSES))
    ap.add_argument("--out", default="out/classes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    if Path(args.photo).is_file():
        from stream.io.images import read_image

        photo = read_image(args.photo)
    else:
        from skimage import data

        photo = getattr(data, args.photo)()
    photo = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
    cfg = load_config()
    model, device = load_model(cfg.model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x = to_tensor(photo, device)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, {w}x{h}, "
          f"{cfg.class_dream.octaves} octaves x {cfg.class_dream.steps} steps")
    print(f"{'class':<20} {'rank before':>11} {'rank after':>10} {'seconds':>8}")
    rows = []
    for query in args.classes:
        index = find_class(query)
        before = rank_of(model, x, index)
        start = time.perf_counter()
        y = Dreamer(model, klass(index), cfg.class_dream).octaves(x)
        seconds = time.perf_counter() - start
        after = rank_of(model, y, index)
        write_image(out / f"{index:03d}_{display_name(index).replace(' ', '_')}.png", to_image(y))
        rows.append({"class": display_name(index), "index": index, "rank_before": before, "rank_after": after, "seconds": round(seconds, 1)})
        print(f"{display_name(index):<20} {before:>11} {after:>10} {seconds:>8.1f}", flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
